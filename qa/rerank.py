"""Reranking the top fused candidates by their best sentence.

A passage that answers a question usually has one sentence that holds most of the question's
words, while a neighbouring paragraph on the same subject (another paragraph of the article,
a related article) has them scattered over several. BM25 and the chunk's vector see the whole
chunk and cannot tell the two apart; the share of the question's lexical evidence that one
sentence holds can. :func:`sentence_share` is that share, with the lexical index's own
analyser (:func:`qa.lexical.analyze`) and IDF: the largest IDF-weighted share of the
question's terms (those the corpus has) held by one sentence of the chunk
(:func:`qa.text.split_sentences`). :func:`rerank` adds ``weight`` times it to the fused score
of the top :data:`SENTENCE_CANDIDATES` candidates (``Settings.sentence_weight``;
measured in ``bench/sentence_sweep.py`` and BENCHMARKS.md, "Traditional script: DRCD").

Imports only :mod:`qa.lexical` and :mod:`qa.text` (:mod:`qa.search` calls it)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from qa.lexical import analyze
from qa.text import split_sentences

#: How many of the best fused candidates are reranked (bench/sentence_sweep.py)
SENTENCE_CANDIDATES = 10


@functools.lru_cache(maxsize=4096)
def sentence_terms(text: str) -> tuple[frozenset[str], ...]:
    """The analysed terms of each sentence of ``text`` (cached: popular passages come back,
    and jieba is the cost of a candidate)."""
    return tuple(frozenset(analyze(text[s:e])) for s, e in split_sentences(text))


def sentence_share(question_terms: Mapping[str, float], text: str) -> float:
    """The largest share of ``question_terms``' weight (term -> IDF) that one sentence of
    ``text`` holds: 1.0 when a sentence has every term, 0.0 when none has any."""
    total = sum(question_terms.values())
    if total <= 0:
        return 0.0
    best = 0.0
    for terms in sentence_terms(text):
        best = max(best, sum(w for t, w in question_terms.items() if t in terms))
    return best / total


def rerank(
    scores: np.ndarray,
    texts: Callable[[int], str],
    question_terms: Mapping[str, float],
    weight: float | np.ndarray,
    top: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The new order of candidates whose fused ``scores`` are sorted best first, and their new
    scores: each of the first ``top`` gets ``weight`` (a float, or one per candidate: 0 where
    the question's words cannot occur, another script) x :func:`sentence_share` of its text
    (``texts(rank)``) added; the rest keep theirs and stay behind (a bonus is never negative,
    so none of them could pass a reranked one)."""
    scores = np.asarray(scores, dtype=np.float64)
    n = min(top, len(scores))
    w = np.asarray(weight, dtype=np.float64)
    w = np.full(n, float(w)) if w.ndim == 0 else w[:n]
    if n == 0 or not (w > 0).any():
        return np.arange(len(scores)), scores
    bonus = np.array(
        [sentence_share(question_terms, texts(r)) if w[r] > 0 else 0.0 for r in range(n)]
    )
    head = scores[:n] + w * bonus
    order = np.argsort(-head, kind="stable")
    return np.concatenate([order, np.arange(n, len(scores))]), np.concatenate(
        [head[order], scores[n:]]
    )


def question_weights(terms: Sequence[str], idf: Callable[[str], float]) -> dict[str, float]:
    """Term -> IDF of a question's distinct lexical terms that some chunk holds (``idf`` is
    the index's: a term no chunk has gets the IDF of the term "\\0" and counts against every
    candidate alike, so it is left out)."""
    absent = idf("\0")
    out = {t: idf(t) for t in set(terms)}
    return {t: w for t, w in out.items() if w < absent}
