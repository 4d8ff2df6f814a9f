"""How sure a hit is: the confidence model and the evidence it reads about a passage.

:class:`ConfidenceModel` is a logistic model over :data:`CONFIDENCE_FEATURES` (fitted by
``bench/train_confidence.py``, shipped in ``qa/data/confidence.json``); :mod:`qa.search`
assembles a hit's features (``qa.search.confidence_features``: the ranking's cosines and margins
with the functions here) and asks :func:`confidence_model` for the probability that the passage
answers the question. What the passage's wording says:

* :func:`sentence_coverage`: the largest share of the question's content *characters* (of its
  content words; a Latin word or a number counts whole) that one sentence of the passage holds.
  Users reword (电动车 for 电动自行车, 牌子 for 品牌): a reworded question keeps most of its
  characters where it loses its words; a near miss (深圳 for 广州, 电动汽车 for 电动自行车) loses
  characters in the very sentence that would answer. On the realistic questions
  (``bench/data/realistic``) it separates answered from unanswerable top hits better than the
  word coverage (ROC AUC 0.82 against 0.77; near misses 0.75 against 0.66;
  ``bench/confidence_sets.py auc``).
* :func:`factoid`: the question asks for a number, a time, a person, a place or an
  organisation (:func:`qa.question.answer_type`). Such an answer sits next to the question's
  words; an answer to a why/how, yes/no or list question is told in other words, so the same
  evidence means more for it.
* :func:`missing_name`: what the question names (a city, a year) that the passage lacks;
  :func:`chunk_chars`: how much the chunk says (captions and bylines are hubs);
  :func:`translated_coverage`: an English question's translated evidence in a Chinese passage.

Measured in ``bench/train_confidence.py`` and ``bench/confidence_sets.py`` (BENCHMARKS.md,
"Realistic questions").
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np

from qa.index import LoadedIndex
from qa.lexical import analyze
from qa.question import analyse_question, fold, question_terms, stem, word_tag
from qa.text import split_sentences

CONFIDENCE_FEATURES = (
    "dense",
    "lexical_coverage",
    "margin",
    "sentence",
    "top",
    "dense_z",
    "dense_gap",
    "chunk_chars",
    "missing_name",
    "translated_coverage",
    "sentence_coverage",
    "factoid",
)
#: The features of the model for a passage in another script than the question: those that
#: do not depend on the question's own words or on the level of cosines (which is lower across
#: languages), with the lexical evidence of the dictionary bridge (:mod:`qa.translate`): the
#: translated coverage (bench/train_confidence.py compares sets; the fused-score margin added
#: little and grows on a small corpus, where off-topic questions then get more confidence).
DENSE_ONLY = (5, 6, 4, 7, 8, 9)

#: ``chunk_chars`` is the log of the retrieved chunk's letters and digits over the log of this
#: (a full chunk, ``Settings.max_chunk_chars``, is about 1)
FULL_CHUNK = 350
#: jieba dictionary tags of names: person, place, organisation
NAME_TAGS = frozenset({"nr", "nrt", "nrfg", "ns", "nt"})
#: the administrative suffix a name may be written with or without (深圳市 / 深圳)
PLACE_SUFFIX = re.compile(r"(?<=..)[市省县縣区區镇鎮村]$")
DIGITS = re.compile(r"\d+(?:\.\d+)?")


def chunk_chars(text: str) -> float:
    """How much a chunk says: log(1 + its letters and digits) / log(1 + ``FULL_CHUNK``).
    A caption, a byline or a photo credit ("图/通讯员提供") is short, and a short chunk's
    vector is close to that of many unrelated questions: its cosine and its standing among
    the candidates (``dense_z``) overstate the evidence."""
    n = sum(1 for c in text if c.isalnum())
    return math.log1p(n) / math.log1p(FULL_CHUNK)


@functools.lru_cache(maxsize=1024)
def question_names(question: str) -> tuple[str, ...]:
    """The words of ``question`` that name one thing, which a passage must hold to answer it:
    numbers (2018, 15.2) and the content words jieba's dictionary tags as a person, a place or
    an organisation (深圳, 东莞市; the place suffix is dropped: 深圳市 -> 深圳). A one-character
    word is not taken for a name: jieba tags 连 (in 连电池) as a person. Measured in
    bench/train_confidence.py (BENCHMARKS.md, "Realistic questions")."""
    out: list[str] = [m.group() for m in DIGITS.finditer(question)]
    for w in question_terms(question):
        if any(c.isdigit() for c in w) or word_tag(w) not in NAME_TAGS:
            continue
        name = PLACE_SUFFIX.sub("", w)
        if len(name) >= 2:
            out.append(name)
    return tuple(dict.fromkeys(out))


def names_in_document(idx: LoadedIndex, doc: str, names: Sequence[str]) -> set[str]:
    """The ``names`` that some chunk of ``doc`` holds (every lexical term of the name in one
    chunk): a passage that does not name the city its document is about (the report on 广州
    says 广州 in other passages) still answers a question about it."""
    ids = np.asarray(idx.chunk_ids(doc), dtype=np.int64)
    if not ids.size:
        return set()
    return {n for n in names if float(idx.lexical.coverage(analyze(n), ids).max()) >= 0.999}


def missing_name(
    question: str, passage: str, cross_script: bool, in_document: Collection[str] = ()
) -> float:
    """The share of what the question names (:func:`question_names`) that the passage lacks: a
    name its document (``in_document``: :func:`names_in_document`) does not hold either (深圳
    asked of the report on 广州), a number the passage itself does not hold (2018 of a passage
    on 2019: a figure belongs to the statement that gives it, not to the document). Across
    scripts only numbers are looked for."""
    names = question_names(question)
    if cross_script:
        names = tuple(n for n in names if n[0].isdigit())
    if not names:
        return 0.0
    text = fold(passage)
    missing = [n for n in names if fold(n) not in text]
    return sum(1 for n in missing if n[0].isdigit() or n not in in_document) / len(names)


def translated_coverage(idx: LoadedIndex, question: str, ids: np.ndarray) -> np.ndarray:
    """For each chunk in ``ids``: the share of an English question's translated lexical
    evidence that the chunk holds, as :meth:`translated_scores` weighs it: each Chinese
    translation's terms (:func:`qa.translate.translate`) count by the translation's weight
    times their IDF, the pinyin-name bigrams the corpus has by theirs, and the question's
    numbers (which a Chinese passage writes the same) by their IDF. The cross-script
    counterpart of the lexical coverage (an English word never occurs in a Chinese passage)."""
    from qa.translate import NAME_WEIGHT, name_pairs, translate

    groups: list[tuple[float, list[str]]] = [
        (w, analyze(word)) for word, w in translate(question).items()
    ]
    absent = idx.lexical.idf("\0")
    for pair in name_pairs(question):
        present = [t for t in ("#" + b for b in pair) if idx.lexical.idf(t) < absent]
        groups += [(NAME_WEIGHT / len(present), [t]) for t in present]
    groups += [(1.0, [m.group()]) for m in DIGITS.finditer(question)]
    held = np.zeros(len(ids), dtype=np.float64)
    total = 0.0
    for w, terms in groups:
        mass = sum(idx.lexical.idf(t) for t in set(terms))
        if not terms or mass <= 0:
            continue
        total += w * mass
        held += w * mass * idx.lexical.coverage(terms, ids)
    return held / total if total > 0 else held


#: answer types whose answer is a short name or figure (see :func:`qa.question.answer_type`)
FACTOID_TYPES = frozenset({"number", "time", "person", "place", "org"})
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[0-9a-z]+")


@functools.lru_cache(maxsize=1024)
def question_units(question: str) -> tuple[str, ...]:
    """The units :func:`sentence_coverage` looks for: each Chinese character of the question's
    content words (:func:`qa.question.question_terms`: question words and particles left out)
    and each of its Latin words and numbers whole (stemmed), in order, without repeats."""
    out: list[str] = []
    for t in analyse_question(question).terms:
        out.extend(_CJK.findall(t.word))
        out.extend(stem(w) for w in _LATIN.findall(t.word))
    return tuple(dict.fromkeys(out))


def _held(units: tuple[str, ...], sentence: str) -> float:
    words = {stem(w) for w in _LATIN.findall(sentence)}
    return sum(1 for u in units if (u in sentence if _CJK.match(u) else u in words)) / len(units)


def sentence_coverage(question: str, passage: str) -> float:
    """The largest share of :func:`question_units` that one sentence of ``passage`` holds
    (:func:`qa.text.split_sentences`, folded text); 0.0 for a question without content."""
    units = question_units(question)
    if not units:
        return 0.0
    text = fold(passage)
    return max((_held(units, text[a:b]) for a, b in split_sentences(text)), default=0.0)


def factoid(question: str) -> float:
    """1.0 if the question asks for a number, a time, a person, a place or an organisation."""
    return float(analyse_question(question).atype in FACTOID_TYPES)


class ConfidenceModel:
    """Logistic model: P(passage answers the question) from ``qa.search.confidence_features``.

    Weights are learned by ``bench/train_confidence.py`` on CMRC 2018 (answerable questions
    against the full corpus, unanswerable ones against the corpus without their paragraph)
    together with the realistic questions of ``bench/data/realistic/`` (questions asked the
    way users ask, near misses, off-topic and English ones), and shipped in
    ``qa/data/confidence.json``. A passage in another script than the question cannot match
    its words; it is scored by the cross-script weights (``dense_only`` in the file) over
    :data:`DENSE_ONLY`, which read the translated words' evidence instead. A model file
    names its features: one trained on a subset of :data:`CONFIDENCE_FEATURES` (an older
    file) reads just those."""

    PATH = Path(__file__).parent / "data" / "confidence.json"

    def __init__(self, path: Path = PATH) -> None:
        with path.open(encoding="utf-8") as fh:
            data = json.load(fh)
        unknown = set(data["features"]) - set(CONFIDENCE_FEATURES)
        if unknown:
            raise RuntimeError(f"{path} was trained for other features: {sorted(unknown)}")
        self.columns = [CONFIDENCE_FEATURES.index(n) for n in data["features"]]
        self.bias = float(data["bias"])
        self.weights = np.asarray(data["weights"], dtype=np.float64)
        dense = data["dense_only"]
        self.dense_columns = [CONFIDENCE_FEATURES.index(n) for n in dense["features"]]
        self.dense_bias = float(dense["bias"])
        self.dense_weights = np.asarray(dense["weights"], dtype=np.float64)

    def predict(self, features: np.ndarray, cross_script: bool = False) -> float:
        """Probability in [0, 1]."""
        if cross_script:
            x = self.dense_bias + float(self.dense_weights @ features[self.dense_columns])
        else:
            x = self.bias + float(self.weights @ features[self.columns])
        return 1.0 / (1.0 + math.exp(-max(min(x, 50.0), -50.0)))


@functools.lru_cache(maxsize=1)
def confidence_model() -> ConfidenceModel:
    """The shipped confidence model, loaded once."""
    return ConfidenceModel()
