"""Retrieval: ``retrieve(question)`` -> the passages that answer it, best first.

Dense (FAISS inner product over e5 vectors) and lexical (BM25) candidates are fused by a
weighted sum of per-query normalised scores (measured against reciprocal-rank fusion in
``bench/``). An English question over Chinese passages reaches them lexically through the
dictionary translations of its words and pinyin names (:mod:`qa.translate`, weight
``Settings.cross_lexical_weight``), and its dense side searches with its vector averaged with
that of its word-for-word Chinese rendering.
Each hit is then highlighted (:mod:`qa.highlight`) and given a confidence.

A :class:`Retriever` holds one loaded index and the model; it loads lazily (``warm_up``) and
picks up a rebuilt index (``reload``) without ever serving a half-loaded one."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from qa.chunk import Chunk, join_chunks
from qa.confidence import (
    chunk_chars,
    confidence_model,
    factoid,
    missing_name,
    names_in_document,
    question_names,
    sentence_coverage,
    translated_coverage,
)
from qa.embed import Embedder, ModelError, get_embedder
from qa.highlight import Highlight, highlight
from qa.index import CURRENT, IndexProblem, LoadedIndex, check_model, load_index
from qa.lexical import analyze
from qa.milvus import load as load_milvus
from qa.milvus import parse_store, pointer_bytes
from qa.question import question_terms
from qa.rerank import SENTENCE_CANDIDATES, question_weights, rerank
from qa.settings import DEFAULTS, Settings
from qa.text import char_ngrams, script_of, split_sentences

log = logging.getLogger("qa")


@dataclass(frozen=True)
class Hit:
    """One retrieved passage.

    ``text`` is the retrieved chunk together with the chunks of the same paragraph around it
    (``Settings.window``); ``start``/``end`` are its offsets in the source document's cleaned
    text; ``highlights`` and ``answer`` are ``(start, end)`` spans inside ``text``:
    ``highlights[0]`` is the sentence that best answers the question, ``answer`` the exact
    answering words (or ``None``). ``chunk`` is the retrieved chunk's position in the index,
    ``chunks`` the positions of all the chunks ``text`` joins. ``page`` is the 1-based page of
    a paged document (PDF, scan) that holds the answer words (or, without them, the start of
    the highlighted sentence), ``None`` for a format without pages."""

    text: str
    score: float
    doc: str
    section: str
    start: int
    end: int
    highlights: list[tuple[int, int]]
    answer: tuple[int, int] | None
    confidence: float
    chunk: int  # position of the retrieved chunk in the index (for neighbours/context)
    chunks: tuple[int, ...] = ()  # the chunks ``text`` is made of, in order
    page: int | None = None  # 1-based page (PDF, scans), None for formats without pages

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (spans as lists)."""
        d = asdict(self)
        d["highlights"] = [list(s) for s in self.highlights]
        d["answer"] = list(self.answer) if self.answer else None
        d["chunks"] = list(self.chunks)
        return d

    @property
    def answer_text(self) -> str | None:
        """The answer words, if any."""
        return self.text[self.answer[0] : self.answer[1]] if self.answer else None

    @property
    def sentence(self) -> str:
        """The best answering sentence (the whole text if there is no highlight)."""
        if not self.highlights:
            return self.text
        s, e = self.highlights[0]
        return self.text[s:e]


def clean_question(question: str, settings: Settings = DEFAULTS) -> str:
    """Validate and normalise a question: control characters and lone surrogates (no text:
    e.g. undecodable bytes of a command line, which the tokenizer refuses) become spaces, runs
    of spaces collapse, and it is cut to ``settings.max_question_chars``. Raises
    ``ValueError`` if nothing is left."""
    if not isinstance(question, str):
        raise ValueError("the question must be text")
    q = "".join(
        " " if (ord(c) < 32 or 0x7F <= ord(c) < 0xA0 or 0xD800 <= ord(c) < 0xE000) else c
        for c in question
    )
    q = " ".join(q.split())[: settings.max_question_chars]
    if not q:
        raise ValueError("the question is empty: type a question about the documents")
    return q


def content_terms(question: str) -> list[str]:
    """The lexical terms of the question's content words (question words such as 什么/哪/who
    and particles left out): each word and the character bigrams inside it. What the
    confidence model's lexical coverage counts, so that it does not depend on how many of
    the question's function words happen to occur in the corpus."""
    terms: list[str] = []
    for w in question_terms(question):
        terms.append(w)
        terms.extend("#" + g for g in char_ngrams(w, 2) if len(g) == 2)
    return terms


_FOLLOWUP_ZH = re.compile(r"^(那|那么|还有|另外|然后)|呢[\s？?。]*$|^(它|他|她|其|该|这|此)|它")
#: An English question that starts like a continuation: "and …", "what about …".
_CONTINUATION_EN = re.compile(r"^(and|also|what about|how about|what of)\b", re.IGNORECASE)
_PRONOUN_EN = re.compile(r"^(it|its|they|their|them|he|him|his|she|her|this|these|that|those)$")
_WH_EN = frozenset("what which who whom whose when where why how".split())
_AUX_EN = frozenset("is are was were do does did has have had can could will would should".split())
#: Words that may close a question after its pronoun ("who owns it now").
_TRAILING_EN = frozenset("now today then there first again later still too".split())
#: Words that can stand before a pronoun that refers back to an earlier question ("when was
#: it built", "in which year did he …", "how tall is she"): question words, auxiliaries,
#: prepositions and the words of "how many/long/…". A question word followed by a content word
#: gives the pronoun an antecedent inside the question ("when did the club change its name").
_LEAD_EN = frozenset(
    "what which who whom whose when where why how is are was were do does did has have had "
    "can could will would should may might must in on at for from to of by with about during "
    "many much long old far big large tall high deep wide often soon kind sort type year "
    "else and also then".split()
)
#: "it" with no referent: "why is it difficult to …", "is it true that …".
_EXPLETIVE_EN = re.compile(
    r"\bit\s+(?:\w+\s+)?(?:difficult|easy|hard|possible|impossible|necessary|important|"
    r"said|believed|thought|known|inferred|true|likely|unlikely|common|rare|worth|too)\b",
    re.IGNORECASE,
)
_OBJECT_EN = frozenset(("it", "them", "him", "her", "this", "these", "that", "those"))
_TOKEN_EN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|\d+|[^\sA-Za-z\d]")


def _english_followup(question: str) -> bool:
    """The English rule of :func:`is_followup`: a continuation ("what about …", "and …"), or
    a pronoun (it, its, he, his, they, this, …) that has no antecedent in the question: it
    comes before any content word ("when was it founded", "what is its population"), or it
    closes a question that names nothing ("who designed it"). "this"/"these"/"its" and the
    other possessives also need a question without a proper name ("where is this fish found"
    but not "when was this club promoted to the English Football League": there the name
    usually is the subject)."""
    q = question.strip()
    if _CONTINUATION_EN.search(q):
        return True
    if _EXPLETIVE_EN.search(q):
        return False
    tokens = _TOKEN_EN.findall(q)
    words = [t for t in tokens if t[0].isalpha()]
    # a proper name: a capitalised word other than the first word (and "I")
    named = any(w[0].isupper() and w != "I" for w in words[1:])
    if 0 < len(words) <= 2 and not named:  # "Why?", "When exactly?"
        return True
    while len(words) > 2 and words[-1].lower() in _TRAILING_EN:  # "who owns it now"
        words = words[:-1]
    for i, w in enumerate(words):
        low = w.lower()
        if i and w[0].isupper():  # "He Fani", "This Is Where I Came In": names
            continue
        if _PRONOUN_EN.match(low):
            determiner = low in ("this", "these", "that", "those", "its", "his", "her", "their")
            if determiner and named:
                return False
            last = i == len(words) - 1 and low in _OBJECT_EN and not named  # "who designed it"
            # "which team did he join": a question word, its noun, an auxiliary, the subject
            subject = (
                low in ("it", "he", "she", "they")
                and 2 <= i <= 4
                and words[0].lower() in _WH_EN
                and words[i - 1].lower() in _AUX_EN
            )
            return last or subject or all(x.lower() in _LEAD_EN for x in words[:i])
    return False


def is_followup(question: str) -> bool:
    """True if ``question`` leans on an earlier one: it starts like a continuation (那…呢,
    what about …) or refers back with a pronoun that has no antecedent in it (它, 其, 该; "when
    was it founded", "what is its population", but not "when did Ted Kord change his name").
    Measured in ``bench/bench_followup.py``."""
    q = question.strip()
    if script_of(q) == "cjk":
        return bool(_FOLLOWUP_ZH.search(q))
    return _english_followup(q)


def contextualize(question: str, previous: Sequence[str] = ()) -> str:
    """The question to retrieve with in a conversation: a follow-up question is prefixed with
    the previous question, so "它是哪一年成立的？" after a question about a subject searches
    for that subject too (measured in ``bench/bench_followup.py``)."""
    if previous and is_followup(question):
        return f"{previous[-1].strip()} {question.strip()}"
    return question


def chinese_gloss(question: str) -> str:
    """:func:`qa.translate.gloss`, imported on first use (the dictionary loads then)."""
    from qa.translate import gloss

    return gloss(question)


def translated_scores(idx: LoadedIndex, question: str) -> np.ndarray | None:
    """BM25 scores of every chunk for the Chinese translations of an English question's words
    (:func:`qa.translate.translate`), each translation's terms weighted by its probability
    (rounded to tenths, so that the index is read once per weight); ``None`` if no word has a
    translation."""
    # the dictionary loads on the first English question
    from qa.translate import NAME_WEIGHT, name_pairs, translate

    by_weight: dict[float, list[str]] = {}
    for word, w in translate(question).items():
        by_weight.setdefault(max(round(w, 1), 0.1), []).extend(analyze(word))
    # a Chinese name in pinyin: the character bigrams it may stand for that the corpus has,
    # sharing one unit of weight per pair of syllables
    absent = idx.lexical.idf("\0")  # the IDF of a term no chunk has
    for pair in name_pairs(question):
        present = [t for t in ("#" + b for b in pair) if idx.lexical.idf(t) < absent]
        if present:
            w = max(round(NAME_WEIGHT / len(present), 1), 0.1)
            by_weight.setdefault(w, []).extend(present)
    if not by_weight:
        return None
    return sum(w * idx.lexical.scores(terms) for w, terms in by_weight.items())


def _normalise(scores: np.ndarray) -> np.ndarray:
    """Scale candidate scores to [0, 1] by the best score of the query (0 stays 0)."""
    top = float(scores.max()) if scores.size else 0.0
    return scores / top if top > 0 else np.zeros_like(scores)


@dataclass(frozen=True)
class Fused:
    """Candidate scores before highlighting."""

    ids: np.ndarray  # chunk ids, best first
    fused: np.ndarray
    dense: np.ndarray  # cosine similarity
    lexical: np.ndarray  # BM25 normalised by the query's best BM25 score
    dense_z: np.ndarray  # cosine standardised over the dense side's candidates
    query: np.ndarray | None = None  # the question's vector, when the caller has it
    # the fused scores before the best-sentence rerank (qa/rerank.py), in the new order; the
    # confidence model's margin reads these (it was fitted on them), None without a rerank
    base: np.ndarray | None = None


def fuse(
    dense_ids: np.ndarray,
    dense_scores: np.ndarray,
    lex_scores: np.ndarray,
    lex_weight: np.ndarray | float,
    dense_weight: float = 1.0,
    candidates: int = 50,
    method: str = "score",
    lex_scale: float | None = None,
) -> Fused:
    """Fuse the dense and lexical rankings over the union of both sides' candidates.

    ``method="score"``: weighted sum of per-query normalised scores; ``"rrf"``: weighted
    reciprocal-rank fusion (k=60). ``lex_weight`` may be per chunk (0 where scripts differ).
    ``lex_scale``: divide BM25 scores by this (e.g. the question's best possible score)
    instead of by the best candidate's score."""
    n = lex_scores.shape[0]
    k = min(candidates, n)
    lex_top = np.argpartition(-lex_scores, k - 1)[:k] if k else np.zeros(0, dtype=np.int64)
    ids = np.union1d(dense_ids[dense_ids >= 0], lex_top[lex_scores[lex_top] > 0])
    dense_full = np.full(n, np.nan, dtype=np.float32)
    dense_full[dense_ids[dense_ids >= 0]] = dense_scores[dense_ids >= 0]
    d = dense_full[ids]
    # a candidate the dense side did not rank gets the lowest dense score it did rank
    floor = float(np.nanmin(dense_full)) if np.isfinite(dense_full).any() else 0.0
    d = np.where(np.isnan(d), floor, d)
    lex = (lex_scores / lex_scale if lex_scale else _normalise(lex_scores))[ids]
    # dense: distance from the worst candidate, relative to the spread of the top candidates
    spread = max(float(d.max()) - floor, 1e-6)
    dn = (d - floor) / spread
    w = lex_weight[ids] if isinstance(lex_weight, np.ndarray) else lex_weight
    if method == "rrf":
        drank = np.argsort(np.argsort(-d, kind="stable"), kind="stable")
        lrank = np.argsort(np.argsort(-lex, kind="stable"), kind="stable")
        lex_rrf = np.where(lex > 0, 1.0 / (60.0 + lrank + 1), 0.0)
        fused = dense_weight / (60.0 + drank + 1) + w * lex_rrf
    else:
        fused = dense_weight * dn + w * lex
    order = np.argsort(-fused, kind="stable")
    valid = dense_scores[dense_ids >= 0]
    mu = float(valid.mean()) if valid.size else 0.0
    sd = max(float(valid.std()) if valid.size else 0.0, 0.01)
    return Fused(ids[order], fused[order], d[order], lex[order], (d[order] - mu) / sd)


def rerank_fused(
    idx: LoadedIndex, f: Fused, terms: Sequence[str], weight: np.ndarray | float
) -> Fused:
    """``f`` with its top :data:`qa.rerank.SENTENCE_CANDIDATES` candidates reranked by their
    best sentence (:func:`qa.rerank.rerank`); ``weight`` is per chunk (0 where the scripts of
    question and chunk differ) or one for all."""
    top = min(SENTENCE_CANDIDATES, len(f.ids))
    w = weight[f.ids[:top]] if isinstance(weight, np.ndarray) else weight
    qw = question_weights(terms, idx.lexical.idf)
    order, scores = rerank(f.fused, lambda r: idx.chunks[int(f.ids[r])].text, qw, w, top)
    return Fused(
        f.ids[order],
        scores,
        f.dense[order],
        f.lexical[order],
        f.dense_z[order],
        base=np.asarray(f.fused, dtype=np.float64)[order],
    )


def confidence_features(
    f: Fused,
    rank: int,
    coverage: float,
    sentence: float,
    chunk: float = 1.0,
    missing: float = 0.0,
    translated: float = 0.0,
    sentence_cov: float = 0.0,
    factoid_question: float = 0.0,
) -> np.ndarray:
    """The features the confidence model reads for the candidate at ``rank``: its dense
    cosine, the share of the question's lexical IDF mass it contains, its fused-score margin
    over the next candidate, the highlighter's best-sentence score, whether it ranks first,
    its cosine standardised over the dense candidates, its standardised lead over the best
    other candidate, how much the retrieved chunk says (:func:`chunk_chars`) and the share of
    what the question names that the passage and its document lack (:func:`missing_name`)
    and, for an English question over a Chinese passage, the share of its translated
    evidence the passage holds (:func:`translated_coverage`; 0 otherwise); the share of the
    question's content characters its best sentence holds
    (:func:`qa.confidence.sentence_coverage`) and whether the question asks for a name or a
    figure (:func:`qa.confidence.factoid`)."""
    fused = f.fused if f.base is None else f.base  # the margin of the fusion itself
    nxt = float(fused[rank + 1]) if rank + 1 < len(fused) else 0.0
    others = np.delete(f.dense_z, rank)
    gap = float(f.dense_z[rank] - others.max()) if others.size else 0.0
    return np.array(
        [
            float(f.dense[rank]),
            coverage,
            float(fused[rank]) - nxt,
            sentence,
            float(rank == 0),
            float(f.dense_z[rank]),
            gap,
            chunk,
            missing,
            translated,
            sentence_cov,
            factoid_question,
        ],
        dtype=np.float64,
    )


#: How many passages' sentence vectors a Retriever keeps (about 8 KB each).
SENTENCE_CACHE_SIZE = 2048


class Scored(NamedTuple):
    """A candidate before it becomes a :class:`Hit`: ``record`` is the passage shown (the
    retrieved chunk widened to its paragraph window), ``chunks`` the index ids it joins."""

    chunk: int
    record: Chunk
    score: float
    features: np.ndarray
    highlight: Highlight
    cross_script: bool
    chunks: tuple[int, ...]


def _page_at(parts: list[Chunk], text: str, at: int) -> int | None:
    """The page of the character at offset ``at`` of the passage ``text`` that joins the
    chunks ``parts``."""
    page, pos = parts[0].page, 0
    for c in parts:
        found = text.find(c.text, pos)
        if found < 0 or found > at:
            break
        page, pos = c.page_at(at - found), found + len(c.text)
    return page


def _unshown_run(ids: list[int], i: int, shown: set[int]) -> list[int]:
    """The run of consecutive ``ids`` around ``i`` that holds no chunk already shown."""
    lo = hi = ids.index(i)
    while lo > 0 and ids[lo - 1] not in shown:
        lo -= 1
    while hi + 1 < len(ids) and ids[hi + 1] not in shown:
        hi += 1
    return ids[lo : hi + 1]


class Retriever:
    """Question -> hits over one index folder. Thread-safe; loads once, reloads on demand."""

    def __init__(
        self,
        index: Path | str = DEFAULTS.index_dir,
        settings: Settings = DEFAULTS,
        embedder: Embedder | None = None,
    ) -> None:
        self.folder = Path(index)
        self.settings = settings
        self.store = parse_store(settings.store)  # None: the folder's files
        self._embedder = embedder
        self._fixed_embedder = embedder is not None  # else each loaded index picks its own
        # the loaded index and the script of each chunk, replaced together as one tuple so
        # that a question never sees parts of two versions
        self._state: tuple[LoadedIndex, np.ndarray] | None = None
        self._failed_pointer: bytes | None = None  # a version that failed to load
        self._pointer: bytes | None = None
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._sentence_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        """The embedder matching the index's model."""
        if self._embedder is None:
            self._snapshot()  # loading the index picks the embedder that matches it
        assert self._embedder is not None
        return self._embedder

    @property
    def index(self) -> LoadedIndex:
        """The loaded index (loading it on first use)."""
        return self._snapshot()[0]

    def _snapshot(self) -> tuple[LoadedIndex, np.ndarray]:
        state = self._state
        if state is None:
            self.reload()
            state = self._state
        assert state is not None
        return state

    def _read_pointer(self) -> bytes | None:
        if self.store is not None:
            return pointer_bytes(self.store)
        try:
            return (self.folder / CURRENT).read_bytes()
        except OSError:
            return None

    def warm_up(self) -> None:
        """Load the index and the model now rather than on the first question."""
        self.index  # noqa: B018
        self.embedder.warm_up()

    def reload(self, force: bool = False) -> bool:
        """Load the folder's current index version if it changed (or ``force``). The new index
        replaces the old one only once fully loaded and checked. Returns True if it changed."""
        with self._lock:
            pointer = self._read_pointer()
            if not force and self._state is not None and pointer == self._pointer:
                return False
            new: Any = (
                load_milvus(self.store, self.settings)
                if self.store
                else load_index(self.folder, verify=None, settings=self.settings)
            )
            fingerprint = new.manifest["model"]["fingerprint"]
            emb = (
                self._embedder
                if self._fixed_embedder
                else get_embedder(new.model, self.settings, fingerprint)
            )
            if self.store:
                new.check_model(emb)
            else:
                check_model(new, emb)
            if not self._fixed_embedder and self.settings.query_threads:
                # Short queries run best on one thread: measured on 2 cores with the other one
                # busy, 440 ms median / 980 ms p95 on torch's default 2 threads against 36 / 63
                # ms on one. torch's setting is process-wide; query_threads=0 leaves it alone.
                emb.use_query_threads(self.settings.query_threads)
            if self.settings.query_threads and not self.store:
                # the same for FAISS' exact search (OpenMP, process-wide): at 107,000 chunks,
                # 13 ms a question on one thread against 43 ms on two with the cores busy
                # (BENCHMARKS.md, big corpora); qa.dense builds an HNSW graph on all cores
                import faiss

                faiss.omp_set_num_threads(self.settings.query_threads)
            self._embedder = emb
            # the script of every chunk: a column of the local chunk store (computed at build
            # time); a store that keeps chunks as a list (Milvus) has them computed here
            scripts = getattr(new.chunks, "scripts", None)
            if scripts is None:
                scripts = np.array([script_of(c.text) for c in new.chunks])
            self._state, self._pointer = (new, scripts), pointer
            return True

    def refresh(self) -> None:
        """Reload if a build has swapped in a new version since the last load (cheap check).
        If the new version cannot be loaded while one is loaded, whatever the reason (damaged
        files, a model that cannot be loaded: :class:`qa.embed.ModelError`), keep answering
        from the loaded one (one warning says why) and try again only when the folder's
        pointer changes again; with none loaded, raise the error."""
        if self._is_current(self._read_pointer()):
            return
        with self._refresh_lock:  # one thread tries a new version; the others then see it
            pointer = self._read_pointer()
            if self._is_current(pointer):
                return
            try:
                self.reload()
            except Exception as e:  # the loaded index is sound: it must keep answering
                if self._state is None:
                    raise
                self._failed_pointer = pointer
                why = str(e) if isinstance(e, (IndexProblem, ModelError)) else repr(e)
                log.warning("keeping the loaded index of %s: %s", self.folder, why)

    def _is_current(self, pointer: bytes | None) -> bool:
        """True if an index is loaded and ``pointer`` names it or the version that failed."""
        return self._state is not None and pointer in (self._pointer, self._failed_pointer)

    def rank(
        self,
        question: str,
        exclude_docs: Collection[str] = (),
        state: tuple[LoadedIndex, np.ndarray] | None = None,
    ) -> Fused:
        """Fused candidate scores for a cleaned question (no highlighting), leaving out the
        chunks of ``exclude_docs`` (as if those documents were not in the corpus)."""
        idx, scripts = state or self._snapshot()
        n = len(idx.chunks)
        qscript = script_of(question)
        across = (
            qscript == "latin" and self.settings.cross_lexical_weight and (scripts == "cjk").any()
        )
        rendering = chinese_gloss(question) if across else ""
        if rendering:
            # an English question over Chinese passages: search with the mean of its vector
            # and its word-for-word Chinese rendering's (bench/bench_english.py)
            both = self.embedder.embed_queries([question, rendering])
            mean = both.mean(axis=0, keepdims=True)
            qvec = (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(both.dtype)
        else:
            qvec = self.embedder.embed_queries([question])
        cand = min(self.settings.candidates, n)
        dscores, dids = idx.dense.search(qvec, cand)
        terms = analyze(question)
        if self.store:  # Milvus ranks the lexical side's own candidates; add the dense side's
            lex_scores = idx.lexical.scores(terms, include=dids[0])
        else:
            lex_scores = idx.lexical.scores(terms)
        cross_weight = 0.0
        if across:
            # an English question over Chinese passages: BM25 of its words' Chinese
            # translations (qa.translate), weighted by how likely each translation is
            translated = translated_scores(idx, question)
            if translated is not None:
                lex_scores = lex_scores + translated
                cross_weight = self.settings.cross_lexical_weight
        if exclude_docs:
            gone = np.array([i for d in exclude_docs for i in idx.chunk_ids(d)], dtype=np.int64)
            dids[np.isin(dids, gone)] = -1
            lex_scores[gone] = 0.0
        same = (scripts == qscript) | (qscript == "other")
        lex_weight = np.where(same, self.settings.lexical_weight, cross_weight)
        f = fuse(
            dids[0],
            dscores[0],
            lex_scores,
            lex_weight,
            dense_weight=self.settings.dense_weight,
            candidates=cand,
            method=self.settings.fusion,
        )
        if self.settings.sentence_weight > 0:
            f = rerank_fused(idx, f, terms, self.settings.sentence_weight * same)
        return dataclasses.replace(f, query=qvec[0])

    def score(self, question: str, k: int, exclude_docs: Collection[str] = ()) -> list[Scored]:
        """The top ``k`` passages of a cleaned question with their highlight and the features
        the confidence model reads (what :meth:`run` turns into hits). A candidate already
        shown inside a better one's paragraph window is skipped, so passages never repeat."""
        idx, scripts = state = self._snapshot()
        if not idx.chunks:
            return []
        f = self.rank(question, exclude_docs, state)
        coverage = idx.lexical.coverage(content_terms(question), f.ids)  # once per question
        qscript = script_of(question)
        translated: np.ndarray | None = None  # an English question's, over Chinese passages
        names = question_names(question)
        in_doc: dict[str, set[str]] = {}  # document -> the question's names it holds
        out: list[Scored] = []
        shown: set[int] = set()
        for rank, i in enumerate(int(j) for j in f.ids):
            if len(out) >= k:
                break
            if i in shown:
                continue
            ids = _unshown_run(idx.paragraph_window(i, self.settings.window), i, shown)
            shown.update(ids)
            passage = self._passage(idx, i, ids)
            cross = qscript != "other" and scripts[i] != qscript
            sims = None
            if f.query is not None and (len(out) < self.settings.dense_highlight or cross):
                sims = self._sentence_sims(f.query, passage.text)
            h = highlight(question, passage.text, sims)
            if passage.page is not None and h.spans:  # where the answer is, if it spans pages
                at = h.answer[0] if h.answer else h.spans[0][0]
                page = _page_at([idx.chunks[j] for j in ids], passage.text, at)
                passage = dataclasses.replace(passage, page=page)
            if names and passage.doc not in in_doc:
                in_doc[passage.doc] = names_in_document(idx, passage.doc, names)
            if cross and qscript == "latin" and translated is None:
                translated = translated_coverage(idx, question, f.ids)
            feats = confidence_features(
                f,
                rank,
                float(coverage[rank]),
                h.scores[0] if h.scores else 0.0,
                chunk_chars(idx.chunks[i].text),
                missing_name(question, passage.text, bool(cross), in_doc.get(passage.doc, ())),
                float(translated[rank]) if cross and translated is not None else 0.0,
                sentence_coverage(question, passage.text),
                factoid(question),
            )
            out.append(Scored(i, passage, float(f.fused[rank]), feats, h, bool(cross), tuple(ids)))
        return out

    @staticmethod
    def _passage(idx: LoadedIndex, i: int, ids: list[int]) -> Chunk:
        """Chunk ``i`` widened to the chunks ``ids`` (consecutive, same document)."""
        core = idx.chunks[i]
        if ids == [i]:
            return core
        parts = [idx.chunks[j] for j in ids]
        text = join_chunks(parts)
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        return dataclasses.replace(
            core, text=text, start=parts[0].start, end=parts[-1].end, hash=digest
        )

    def _sentence_sims(self, qvec: np.ndarray, text: str) -> list[float]:
        """Cosine of the question to each sentence of ``text`` (the highlighter's dense
        feature; the only evidence it has when question and passage differ in script)."""
        vecs = self._sentence_vectors(text)
        return [float(x) for x in vecs @ qvec] if len(vecs) else []

    def _sentence_vectors(self, text: str) -> np.ndarray:
        """The sentence vectors of a passage, kept in a small LRU cache: embedding them is the
        most expensive step of a question, and popular passages come back."""
        with self._cache_lock:
            vecs = self._sentence_cache.get(text)
            if vecs is not None:
                self._sentence_cache.move_to_end(text)
                return vecs
        sentences = [text[s:e] for s, e in split_sentences(text)]
        vecs = (
            self.embedder.embed_passages(sentences)
            if sentences
            else np.zeros((0, 0), dtype=np.float32)
        )
        with self._cache_lock:
            self._sentence_cache[text] = vecs
            while len(self._sentence_cache) > SENTENCE_CACHE_SIZE:
                self._sentence_cache.popitem(last=False)
        return vecs

    def run(
        self, question: str, k: int | None = None, exclude_docs: Collection[str] = ()
    ) -> list[Hit]:
        """The ``k`` passages that best answer ``question``, best first, highlighted."""
        q = clean_question(question, self.settings)
        k = k or self.settings.top_k
        if k < 1:
            raise ValueError("k must be at least 1")
        hits = []
        for s in self.score(q, k, exclude_docs):
            c = s.record
            hits.append(
                Hit(
                    text=c.text,
                    score=s.score,
                    doc=c.doc,
                    section=c.section,
                    start=c.start,
                    end=c.end,
                    highlights=list(s.highlight.spans),
                    answer=s.highlight.answer,
                    confidence=confidence_model().predict(s.features, s.cross_script),
                    chunk=s.chunk,
                    chunks=s.chunks,
                    page=c.page,
                )
            )
        return hits


_RETRIEVERS: dict[tuple[Path, Settings], Retriever] = {}
_RLOCK = threading.Lock()


def get_retriever(index: Path | str | None = None, settings: Settings = DEFAULTS) -> Retriever:
    """The process-wide retriever of an index folder, or of ``settings.store`` when set, with
    these settings (loaded once, refreshed after rebuilds): a call with other settings gets
    its own retriever, never one that answers with the first call's settings."""
    folder = Path(index if index is not None else settings.index_dir).resolve()
    with _RLOCK:
        r = _RETRIEVERS.get((folder, settings))
        if r is None:
            r = _RETRIEVERS[(folder, settings)] = Retriever(folder, settings)
    return r


def retrieve(
    question: str, k: int = 5, index: Path | str | None = None, store: str | None = None
) -> list[Hit]:
    """The ``k`` passages of the index in ``index`` (default ``index/``), or of the Milvus
    ``store`` (``"milvus:URI"``: see :mod:`qa.milvus`), that best answer ``question``, best
    first. Raises ``ValueError`` for an empty question and :class:`qa.index.IndexProblem` (with
    how to rebuild) for a missing or damaged index."""
    settings = dataclasses.replace(DEFAULTS, store=store) if store else DEFAULTS
    r = get_retriever(index, settings)
    r.refresh()
    return r.run(question, k)


def hits_to_json(hits: list[Hit]) -> str:
    """The JSON form of hits shared by ``qa ask --json`` and the web API."""
    return json.dumps([h.to_dict() for h in hits], ensure_ascii=False, indent=1)
