"""Lexical retrieval: BM25 over analysed terms, as a flat numpy inverted index.

Terms are jieba words (which suit simplified Chinese and English) plus CJK character bigrams
(which keep traditional-script text and words jieba splits differently searchable); see
``bench/`` for the measurement behind that choice. The index is three arrays in CSR layout by
term (``indptr``, ``doc_ids``, ``weights``, where ``weights`` already hold the BM25 term score of
each posting) and a vocabulary, so a query is a sum of a few array slices, and the arrays load
with ``mmap``."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from qa.text import char_ngrams, words

FILES = ("lexical_indptr.npy", "lexical_docs.npy", "lexical_weights.npy", "lexical_vocab.json")


def analyze(text: str) -> list[str]:
    """The terms of ``text``: normalised words and ``#``-prefixed CJK character bigrams."""
    terms = words(text)
    terms.extend("#" + g for g in char_ngrams(text, 2))
    return terms


class LexicalIndex(NamedTuple):
    """BM25 index. ``weights[indptr[t]:indptr[t+1]]`` are the scores of term ``t`` in the
    chunks ``docs[indptr[t]:indptr[t+1]]``."""

    vocab: dict[str, int]
    indptr: np.ndarray
    docs: np.ndarray
    weights: np.ndarray
    n_docs: int

    @classmethod
    def build(
        cls, token_lists: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75
    ) -> LexicalIndex:
        """Build from the analysed terms of each chunk (BM25 with Lucene's IDF)."""
        n = len(token_lists)
        lengths = np.array([len(t) for t in token_lists], dtype=np.float64)
        avg = float(lengths.mean()) if n and lengths.sum() else 1.0
        postings: dict[str, list[tuple[int, int]]] = {}
        for d, toks in enumerate(token_lists):
            for term, tf in Counter(toks).items():
                postings.setdefault(term, []).append((d, tf))
        vocab: dict[str, int] = {}
        indptr = [0]
        doc_ids: list[int] = []
        weights: list[float] = []
        for t, term in enumerate(sorted(postings)):
            plist = postings[term]
            vocab[term] = t
            df = len(plist)
            idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5))
            for d, tf in plist:
                norm = tf + k1 * (1.0 - b + b * lengths[d] / avg)
                doc_ids.append(d)
                weights.append(idf * tf * (k1 + 1.0) / norm)
            indptr.append(len(doc_ids))
        return cls(
            vocab,
            np.asarray(indptr, dtype=np.int64),
            np.asarray(doc_ids, dtype=np.int32),
            np.asarray(weights, dtype=np.float32),
            n,
        )

    def scores(self, terms: Iterable[str]) -> np.ndarray:
        """BM25 score of every chunk for the query ``terms`` (repeated terms count once)."""
        out = np.zeros(self.n_docs, dtype=np.float32)
        for term in set(terms):
            t = self.vocab.get(term)
            if t is None:
                continue
            lo, hi = int(self.indptr[t]), int(self.indptr[t + 1])
            np.add.at(out, self.docs[lo:hi], self.weights[lo:hi])
        return out

    def idf(self, term: str) -> float:
        """BM25 IDF of ``term`` (a term no chunk has gets the IDF of document frequency 0)."""
        t = self.vocab.get(term)
        df = 0 if t is None else int(self.indptr[t + 1] - self.indptr[t])
        return float(np.log(1.0 + (self.n_docs - df + 0.5) / (df + 0.5)))

    def upper_bound(self, terms: Iterable[str], k1: float = 1.2) -> float:
        """The most a chunk could score for ``terms``: every term at saturation."""
        return sum(self.idf(t) * (k1 + 1.0) for t in set(terms))

    def coverage(self, terms: Iterable[str], ids: np.ndarray) -> np.ndarray:
        """For each chunk in ``ids``: the share of the query terms' IDF mass that the chunk
        contains (1.0: every query term occurs in it; unknown terms count against it)."""
        uniq = set(terms)
        total = sum(self.idf(t) for t in uniq)
        out = np.zeros(len(ids), dtype=np.float32)
        if total <= 0:
            return out
        for term in uniq:
            t = self.vocab.get(term)
            if t is None:
                continue
            lo, hi = int(self.indptr[t]), int(self.indptr[t + 1])
            posting = self.docs[lo:hi]  # ascending chunk ids
            pos = np.searchsorted(posting, ids)
            found = (pos < len(posting)) & (posting[np.minimum(pos, len(posting) - 1)] == ids)
            out += found * self.idf(term)
        return out / total

    def save(self, folder: Path) -> None:
        """Write the arrays and vocabulary into ``folder``."""
        np.save(folder / FILES[0], self.indptr)
        np.save(folder / FILES[1], self.docs)
        np.save(folder / FILES[2], self.weights)
        with open(folder / FILES[3], "w", encoding="utf-8") as f:
            json.dump({"n_docs": self.n_docs, "vocab": self.vocab}, f, ensure_ascii=False)

    @classmethod
    def load(cls, folder: Path, mmap: bool = True) -> LexicalIndex:
        """Load from ``folder``; the arrays are memory-mapped unless ``mmap=False``."""
        mode = "r" if mmap else None
        with open(folder / FILES[3], encoding="utf-8") as f:
            meta = json.load(f)
        return cls(
            meta["vocab"],
            np.load(folder / FILES[0], mmap_mode=mode),
            np.load(folder / FILES[1], mmap_mode=mode),
            np.load(folder / FILES[2], mmap_mode=mode),
            int(meta["n_docs"]),
        )
