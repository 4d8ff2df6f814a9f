"""Sentence features and scoring: how likely each sentence of a passage holds the answer.

:func:`prepare` analyses a question against a passage (one row of ``FEATURES_BASE`` per
sentence of ``split_sentences(text)``: IDF and passage-local recall of the question's words,
bigram overlap, longest common substring, the focus word, the answer type, position, ...);
:func:`sentence_probabilities` turns the rows into probabilities with the boosted trees of
``qa/data/highlight_trees.json`` (or the linear weights of ``highlight_weights.json``), both
written by ``bench/train_highlight.py``; :func:`block` widens the best sentence to the adjacent
ones that score nearly as well."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from qa.question import (
    LATIN_WORD_RE,
    Question,
    Token,
    analyse_question,
    cjk_bigrams,
    fold,
    idf,
    stem,
    tokens_of,
)
from qa.text import split_sentences
from qa.typed import typed_candidates

WEIGHTS_PATH = Path(__file__).parent / "data" / "highlight_weights.json"
TREES_PATH = Path(__file__).parent / "data" / "highlight_trees.json"

# --------------------------------------------------------------------------------------------
# sentence features

FEATURES_BASE = (
    "idf_recall",
    "idf_recall_rel",
    "local_recall",
    "local_recall_rel",
    "bigram_recall",
    "bigram_rel",
    "local_bigram_rel",
    "lcs",
    "lcs_rel",
    "focus",
    "beyond_first",
    "proximity",
    "type_match",
    "novel_chars",
    "log_len",
    "position",
    "is_first",
    "prev_local_rel",
    "next_local_rel",
)
FEATURES_SIMS = ("sim_rel", "sim_z")


def _matches(
    q: Question, sfold: str, stoks_latin: dict[str, list[int]]
) -> list[tuple[int, int, int]]:
    """(term index, start, end) of every occurrence of a question term in the folded sentence."""
    out: list[tuple[int, int, int]] = []
    for k, t in enumerate(q.terms):
        w = t.word
        if LATIN_WORD_RE.match(w):
            for pos in stoks_latin.get(stem(w), ()):
                out.append((k, pos, pos + len(w)))
            continue
        start = sfold.find(w)
        while start >= 0:
            out.append((k, start, start + len(w)))
            start = sfold.find(w, start + len(w))
    return out


def _lcs(masked_q: str, s: str) -> int:
    """Longest substring of the (masked) question that occurs in ``s``."""
    best = 0
    n = len(masked_q)
    for i in range(n):
        if masked_q[i] == " ":
            continue
        length = best + 1
        while i + length <= n and masked_q[i : i + length] in s:
            best = length
            length += 1
    return best


class Sentence(NamedTuple):
    start: int
    end: int
    folded: str
    toks: list[Token]
    matches: list[tuple[int, int, int]]


EDGE_CHARS = frozenset(
    "的了是在有和与與及或被把对對于於其该該这這那个個也都而就并並以为為所之等中上下从從到向将將由"
)


def _fit_terms(q: Question, folded: str) -> Question:
    """A question word the passage never contains, but does once a function character is
    cut off its edge (jieba's 慧是 in 王法慧是谁 -> 慧), is replaced by the shorter form."""
    terms, weights, changed = list(q.terms), list(q.weights), False
    for k, t in enumerate(terms):
        w = t.word
        if len(w) < 2 or LATIN_WORD_RE.match(w) or w in folded:
            continue
        a, b = 0, len(w)
        while b - a > 1 and w[a] in EDGE_CHARS:
            a += 1
        while b - a > 1 and w[b - 1] in EDGE_CHARS:
            b -= 1
        if (a, b) != (0, len(w)) and w[a:b] in folded:
            terms[k] = Token(w[a:b], t.start + a, t.start + b)
            weights[k] = idf(w[a:b])
            changed = True
    return q._replace(terms=terms, weights=weights) if changed else q


#: local weight of a question word = idf * log((n + 1) / (sentences holding it + 0.5)) ** 2
LOCAL_POWER = 2.0
#: ``beyond_first`` is 0 when the opening sentence holds the question's focus word and more
#: of its passage-local weight than any other sentence (measured
#: in ``bench/bench_realistic.py``; a switch so that the benchmark can compare)
TOPIC_FOCUS_RULE = True


def _sentence_features(
    q: Question, text: str, folded: str, spans: list[tuple[int, int]], toks: list[Token]
) -> tuple[np.ndarray, list[Sentence]]:
    n = len(spans)
    qlen = max(1, sum(1 for c in q.masked if c != " "))
    col = {name: k for k, name in enumerate(FEATURES_BASE)}
    feats = np.zeros((n, len(FEATURES_BASE)))
    focus = _focus(q)
    sents: list[Sentence] = []
    matched_sets: list[set[int]] = []
    bigram_sets: list[set[str]] = []
    ti = 0
    for i, (s, e) in enumerate(spans):
        while ti < len(toks) and toks[ti].end <= s:
            ti += 1
        tj = ti
        while tj < len(toks) and toks[tj].start < e:
            tj += 1
        stoks = toks[ti:tj]
        sfold = folded[s:e]
        latin: dict[str, list[int]] = {}
        for t in stoks:
            if LATIN_WORD_RE.match(t.word):
                latin.setdefault(stem(t.word), []).append(t.start - s)
        m = _matches(q, sfold, latin)
        sents.append(Sentence(s, e, sfold, stoks, m))
        matched = {k for k, _, _ in m}
        matched_sets.append(matched)
        bigram_sets.append(q.bigrams.intersection(cjk_bigrams(sfold)))
        row = feats[i]
        row[col["lcs"]] = min(1.0, _lcs(q.masked, sfold) / qlen)
        row[col["proximity"]] = _proximity(m)
        row[col["focus"]] = _focus_match(focus, sfold, latin)
        cands = typed_candidates(q.atype, text[s:e], sfold, stoks, s)
        row[col["type_match"]] = float(any(sfold[a:b] not in q.folded for a, b in cands))
        covered = np.zeros(e - s, dtype=bool)
        for _, ms, me in m:
            covered[ms:me] = True
        novel = sum(1 for j, c in enumerate(sfold) if c.isalnum() and not covered[j])
        row[col["novel_chars"]] = math.log1p(novel)
        row[col["log_len"]] = math.log1p(e - s)
        row[col["position"]] = i / (n - 1) if n > 1 else 0.0
        row[col["is_first"]] = 1.0 if i == 0 else 0.0
    # a question word that occurs in many sentences of the passage (its topic) tells the
    # sentences apart less than one that occurs in a single sentence
    sf = [sum(1 for ms in matched_sets if k in ms) for k in range(len(q.terms))]
    local = [
        w * math.log((n + 1) / (f + 0.5)) ** LOCAL_POWER for w, f in zip(q.weights, sf, strict=True)
    ]
    bsf: dict[str, int] = {}
    for bs in bigram_sets:
        for bg in bs:
            bsf[bg] = bsf.get(bg, 0) + 1
    total_w = sum(q.weights) or 1.0
    total_local = sum(local) or 1.0
    nb = len(q.bigrams) or 1
    for i in range(n):
        row = feats[i]
        row[col["idf_recall"]] = sum(q.weights[k] for k in matched_sets[i]) / total_w
        row[col["local_recall"]] = sum(local[k] for k in matched_sets[i]) / total_local
        row[col["bigram_recall"]] = len(bigram_sets[i]) / nb
        row[col["local_bigram_rel"]] = sum(
            math.log((n + 1) / (bsf[b] + 0.5)) for b in bigram_sets[i]
        )
    # the opening sentence usually names the topic; the question words it does not hold say
    # what is asked about the topic, and the sentences that hold them are the candidates
    # ... unless the opening sentence holds what is asked (the focus word) and matches the
    # question better than any other: a passage cut from the middle of a document opens with
    # any sentence
    rest = [k for k in range(len(q.terms)) if n and k not in matched_sets[0]]
    rest_w = sum(local[k] for k in rest)
    opens_with_answer = (
        TOPIC_FOCUS_RULE
        and n > 1
        and feats[0, col["focus"]] >= 1.0
        and sum(local[k] for k in matched_sets[0])
        > max(sum(local[k] for k in ms) for ms in matched_sets[1:])
    )
    if rest_w > 0 and not opens_with_answer:
        for i in range(1, n):
            feats[i, col["beyond_first"]] = (
                sum(local[k] for k in rest if k in matched_sets[i]) / rest_w
            )
    for base, rel in (
        ("idf_recall", "idf_recall_rel"),
        ("local_recall", "local_recall_rel"),
        ("bigram_recall", "bigram_rel"),
        ("local_bigram_rel", "local_bigram_rel"),
        ("lcs", "lcs_rel"),
    ):
        mx = feats[:, col[base]].max() if n else 0.0
        if mx > 0:
            feats[:, col[rel]] = feats[:, col[base]] / mx
    if n > 1:
        feats[1:, col["prev_local_rel"]] = feats[:-1, col["local_recall_rel"]]
        feats[:-1, col["next_local_rel"]] = feats[1:, col["local_recall_rel"]]
    return feats, sents


def _focus(q: Question) -> str | None:
    """The content word next to the question word: what is asked about (盛花期 in
    软枝黄蝉的盛花期是什么时候, capital in what is the capital of France)."""
    if not q.terms:
        return None
    if q.qword is None:
        return q.terms[-1].word
    a, b = q.qword
    words = [t for t in q.terms if len(t.word) > 1] or q.terms
    return min(words, key=lambda t: a - t.end if t.end <= a else t.start - b + 0.5).word


def _focus_match(focus: str | None, sfold: str, latin: dict[str, list[int]]) -> float:
    """How much of the focus word the sentence holds: whole, or the share of its bigrams."""
    if not focus:
        return 0.0
    if LATIN_WORD_RE.match(focus):
        return float(stem(focus) in latin)
    if focus in sfold:
        return 1.0
    grams = cjk_bigrams(focus)
    if len(grams) <= 1:
        return 0.0
    return sum(1 for g in grams if g in sfold) / len(grams) * 0.5


def _proximity(m: list[tuple[int, int, int]]) -> float:
    """Matched characters over the width of the window that holds one match of each term."""
    first: dict[int, tuple[int, int]] = {}
    for k, ms, me in m:
        first.setdefault(k, (ms, me))
    if len(first) < 2:
        return float(len(first))
    lo = min(v[0] for v in first.values())
    hi = max(v[1] for v in first.values())
    covered = sum(v[1] - v[0] for v in first.values())
    return min(1.0, covered / max(1, hi - lo))


def sims_features(sims: Sequence[float], n: int) -> np.ndarray:
    """``sim_rel`` (similarity minus the passage's best) and ``sim_z`` (standardised within
    the passage): both ignore the embedder's offset, so another model's cosine scale does not
    shift the scores. Missing values (a list too short) get the passage's minimum."""
    arr = np.nan_to_num(np.asarray(list(sims), dtype=float)[:n])
    if n == 0:
        return np.zeros((0, len(FEATURES_SIMS)))
    if len(arr) < n:
        arr = np.concatenate([arr, np.full(n - len(arr), arr.min() if len(arr) else 0.0)])
    sd = float(arr.std())
    z = (arr - arr.mean()) / sd if sd > 1e-9 else np.zeros(n)
    return np.stack([arr - arr.max(), z], axis=1)


# --------------------------------------------------------------------------------------------
# weights


@lru_cache(maxsize=1)
def _weights() -> dict[str, Any]:
    try:
        with open(WEIGHTS_PATH, encoding="utf-8") as f:
            return json.load(f)  # type: ignore[no-any-return]
    except (OSError, ValueError) as exc:  # pragma: no cover - fall back to hand-set weights
        logging.getLogger(__name__).warning(
            "highlight weights unreadable (%s): using defaults", exc
        )
        return {
            "base": {
                "features": ["local_recall_rel", "bigram_rel", "type_match"],
                "weights": [4.0, 2.0, 0.5],
                "bias": -5.0,
            }
        }


def tree_features(x: np.ndarray, sims: Sequence[float] | None = None) -> np.ndarray:
    """The tree scorer's columns for a passage's feature rows ``x`` (``FEATURES_BASE``):
    every column, its gap to the passage's best value of it, the number of sentences, and the
    ``FEATURES_SIMS`` columns when dense similarities are given."""
    if not len(x):
        return np.zeros((0, 2 * x.shape[1] + 1 + (len(FEATURES_SIMS) if sims is not None else 0)))
    cols = [x, x - x.max(axis=0, keepdims=True), np.full((len(x), 1), float(len(x)))]
    if sims is not None:
        cols.append(sims_features(sims, len(x)))
    return np.hstack(cols)


@lru_cache(maxsize=1)
def tree_models() -> dict[str, Any]:
    """The boosted-tree sentence scorers (``base``, ``sims``) from ``TREES_PATH``; empty when
    the file is missing (the linear weights are used then)."""
    from qa.trees import TreeEnsemble

    try:
        with open(TREES_PATH, encoding="utf-8") as f:
            data = json.load(f)
        return {k: TreeEnsemble(v) for k, v in data["models"].items()}
    except (OSError, ValueError, KeyError) as exc:
        logging.getLogger(__name__).warning("highlight trees unreadable (%s): linear model", exc)
        return {}


def sentence_probabilities(
    x: np.ndarray, sentence_sims: Sequence[float] | None = None
) -> np.ndarray:
    """P(sentence holds the answer) for each feature row of a passage: the boosted trees
    (``bench/train_highlight.py``), or the linear model if they are not shipped."""
    with_sims = sentence_sims is not None and len(sentence_sims) > 0
    trees = tree_models().get("sims" if with_sims else "base")
    if trees is not None:
        return np.asarray(trees.predict(tree_features(x, sentence_sims if with_sims else None)))
    if with_sims:
        x = np.hstack([x, sims_features(sentence_sims, len(x))])  # type: ignore[arg-type]
    w, b = linear_model(with_sims)
    return np.asarray(1.0 / (1.0 + np.exp(-(x @ w + b))))


#: Adjacent sentences that score at least this share of the best sentence's probability join
#: its highlight (an answer told over several sentences: a list, a description, a reason).
BLOCK_RATIO = 0.5
#: ... up to this many sentences in all.
BLOCK_MAX = 3


def block(
    p: Sequence[float], best: int, ratio: float = BLOCK_RATIO, most: int = BLOCK_MAX
) -> tuple[int, int]:
    """The run of sentence indices ``[lo, hi]`` around ``best`` (sentences in text order,
    ``p`` their probabilities) whose neighbours score at least ``ratio`` times the best; the
    stronger neighbour joins first."""
    lo = hi = best
    floor = ratio * p[best]
    while hi - lo + 1 < most:
        left = p[lo - 1] if lo > 0 else -1.0
        right = p[hi + 1] if hi + 1 < len(p) else -1.0
        if max(left, right) < floor:
            break
        if left >= right:
            lo -= 1
        else:
            hi += 1
    return lo, hi


def linear_model(with_sims: bool) -> tuple[np.ndarray, float]:
    """Weights and bias for the feature columns (``FEATURES_BASE`` [+ ``FEATURES_SIMS``]);
    a feature the weights file does not name gets weight 0."""
    names = list(FEATURES_BASE) + (list(FEATURES_SIMS) if with_sims else [])
    w = _weights()
    m = w["sims"] if with_sims and "sims" in w else w["base"]
    learned = dict(zip(m["features"], m["weights"], strict=True))
    return np.array([float(learned.get(n, 0.0)) for n in names]), float(m["bias"])


def prepare(
    question: str, text: str
) -> tuple[Question, list[tuple[int, int]], np.ndarray, list[Sentence]]:
    q = analyse_question(question)
    spans = split_sentences(text)
    if not spans:
        return q, spans, np.zeros((0, len(FEATURES_BASE))), []
    folded = fold(text)
    q = _fit_terms(q, folded)
    x, sents = _sentence_features(q, text, folded, spans, tokens_of(folded))
    return q, spans, x, sents


def features(
    question: str, text: str, sentence_sims: Sequence[float] | None = None
) -> tuple[np.ndarray, list[str]]:
    """The feature matrix (one row per sentence of ``split_sentences(text)``) and its column
    names; exposed for training and inspection."""
    _, spans, x, _ = prepare(question, text)
    names = list(FEATURES_BASE)
    if sentence_sims is not None:
        x = np.hstack([x, sims_features(sentence_sims, len(spans))])
        names += list(FEATURES_SIMS)
    return x, names
