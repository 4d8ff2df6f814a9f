"""Lexical retrieval: BM25 over analysed terms, as a flat numpy inverted index.

Terms are jieba words (which suit simplified Chinese and English) plus CJK character bigrams
(which keep traditional-script text and words jieba splits differently searchable); see
``bench/`` for the measurement behind that choice. The index is three arrays in CSR layout by
term (``indptr``, ``docs``, ``weights``, where ``weights`` already hold the BM25 term score of
each posting) and a vocabulary, so a query is a sum of a few array slices.

Everything loads with ``mmap``, the vocabulary too: it is a table of 64-bit term hashes in
sorted order (``np.searchsorted`` finds a term) beside the terms' UTF-8 text, which confirms
the match. A JSON dictionary of a 100,000-chunk corpus's two million terms took seconds and
hundreds of MB to parse at every start. Building streams (:class:`LexicalBuilder`): each chunk's
terms become integer postings in growing numpy buffers, so a build's memory is about 10 bytes a
posting instead of a Python tuple's 60+.

Each posting's term frequency is saved too (``lexical_tf.npy``), so that a rebuild copies an
unchanged chunk's terms from the previous version (:class:`ChunkTerms`) instead of analysing
its text again: jieba was 80% of a rebuild in which nothing changed (11,204 chunks: 43 of 57 s,
profiled)."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from qa.text import char_ngrams, words

FILES = (
    "lexical_indptr.npy",
    "lexical_docs.npy",
    "lexical_weights.npy",
    "lexical_terms.npy",  # sorted term hashes (uint64)
    "lexical_terms.bin",  # the terms' UTF-8 text, in the same order
    "lexical_term_offsets.npy",  # where each term's text starts in lexical_terms.bin
    "lexical_lengths.npy",  # number of terms of each chunk (BM25's document length)
    "lexical_tf.npy",  # each posting's term frequency, so a rebuild can copy a chunk's terms
)
#: Files an index built before ``lexical_tf.npy`` existed lacks (it still loads and answers)
OPTIONAL = ("lexical_tf.npy",)

#: Bump when :func:`analyze` gives other terms for the same text: a rebuild then analyses
#: every chunk again instead of copying the previous version's terms
ANALYZER_VERSION = 1

K1 = 1.2
B = 0.75


def analyze(text: str) -> list[str]:
    """The terms of ``text``: normalised words and ``#``-prefixed CJK character bigrams."""
    terms = words(text)
    terms.extend("#" + g for g in char_ngrams(text, 2))
    return terms


def term_hash(term: str) -> int:
    """A term's stable 64-bit key (the vocabulary's sort order)."""
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest(), "little")


class Vocabulary(NamedTuple):
    """Term -> term id: ``hashes`` sorted, ``text``/``offsets`` the terms in the same order.
    A term's id is its position."""

    hashes: np.ndarray  # uint64, ascending
    text: np.ndarray  # uint8: the UTF-8 terms one after the other
    offsets: np.ndarray  # int64, len(hashes) + 1

    def __len__(self) -> int:
        return int(self.hashes.shape[0])

    def get(self, term: str) -> int | None:
        """The id of ``term``, or None if no chunk has it."""
        h = np.uint64(term_hash(term))
        pos = int(np.searchsorted(self.hashes, h))
        raw = term.encode("utf-8")
        while pos < len(self) and self.hashes[pos] == h:  # equal hashes: compare the text
            lo, hi = int(self.offsets[pos]), int(self.offsets[pos + 1])
            if bytes(self.text[lo:hi]) == raw:
                return pos
            pos += 1
        return None

    def term(self, i: int) -> str:
        """The text of term ``i``."""
        return bytes(self.text[int(self.offsets[i]) : int(self.offsets[i + 1])]).decode()

    @classmethod
    def from_terms(cls, terms: Sequence[str]) -> tuple[Vocabulary, np.ndarray]:
        """The vocabulary of ``terms`` and, for each of them, its id in it."""
        hashes = np.fromiter((term_hash(t) for t in terms), dtype=np.uint64, count=len(terms))
        order = np.argsort(hashes, kind="stable")
        encoded = [terms[i].encode("utf-8") for i in order]
        offsets = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        text = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        ids = np.empty(len(terms), dtype=np.int64)
        ids[order] = np.arange(len(terms))
        return cls(hashes[order], text, offsets), ids


class LexicalIndex(NamedTuple):
    """BM25 index. ``weights[indptr[t]:indptr[t+1]]`` are the scores of term ``t`` in the
    chunks ``docs[indptr[t]:indptr[t+1]]`` (ascending chunk ids)."""

    vocab: Vocabulary
    indptr: np.ndarray
    docs: np.ndarray
    weights: np.ndarray
    n_docs: int
    lengths: np.ndarray  # terms per chunk
    tfs: np.ndarray | None = None  # each posting's term frequency (None: an older index)

    @classmethod
    def build(
        cls, token_lists: Iterable[Sequence[str]], k1: float = K1, b: float = B
    ) -> LexicalIndex:
        """Build from the analysed terms of each chunk (BM25 with Lucene's IDF)."""
        builder = LexicalBuilder()
        for toks in token_lists:
            builder.add(toks)
        return builder.finish(k1, b)

    def _posting(self, term: str) -> tuple[int, int] | None:
        t = self.vocab.get(term)
        return None if t is None else (int(self.indptr[t]), int(self.indptr[t + 1]))

    def scores(self, terms: Iterable[str]) -> np.ndarray:
        """BM25 score of every chunk for the query ``terms`` (repeated terms count once)."""
        out = np.zeros(self.n_docs, dtype=np.float32)
        for term in set(terms):
            span = self._posting(term)
            if span is not None:
                lo, hi = span
                out += np.bincount(
                    self.docs[lo:hi], weights=self.weights[lo:hi], minlength=self.n_docs
                ).astype(np.float32)
        return out

    def df(self, term: str) -> int:
        """How many chunks hold ``term``."""
        span = self._posting(term)
        return 0 if span is None else span[1] - span[0]

    def idf(self, term: str) -> float:
        """BM25 IDF of ``term`` (a term no chunk has gets the IDF of document frequency 0)."""
        df = self.df(term)
        return float(np.log(1.0 + (self.n_docs - df + 0.5) / (df + 0.5)))

    def upper_bound(self, terms: Iterable[str], k1: float = K1) -> float:
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
            span = self._posting(term)
            if span is None:
                continue
            posting = self.docs[span[0] : span[1]]  # ascending chunk ids
            pos = np.searchsorted(posting, ids)
            found = (pos < len(posting)) & (posting[np.minimum(pos, len(posting) - 1)] == ids)
            out += found * self.idf(term)
        return out / total

    def save(self, folder: Path) -> None:
        """Write the arrays into ``folder``."""
        arrays = (
            self.indptr,
            self.docs,
            self.weights,
            self.vocab.hashes,
            None,
            self.vocab.offsets,
            self.lengths,
            self.tfs,
        )
        for name, arr in zip(FILES, arrays, strict=True):
            if arr is None and name in OPTIONAL:
                continue
            if arr is None:
                with open(folder / name, "wb") as f:
                    f.write(np.ascontiguousarray(self.vocab.text).tobytes())
            else:
                np.save(folder / name, arr)

    @classmethod
    def load(cls, folder: Path, mmap: bool = True) -> LexicalIndex:
        """Load from ``folder``; the arrays are memory-mapped unless ``mmap=False``."""
        mode = "r" if mmap else None
        indptr, docs, weights, hashes, _, offsets, lengths, tfs = (
            np.load(folder / name, mmap_mode=mode)
            if name.endswith(".npy") and (name not in OPTIONAL or (folder / name).exists())
            else None
            for name in FILES
        )
        text_path = folder / FILES[4]
        text = (
            np.memmap(text_path, dtype=np.uint8, mode="r")
            if mmap and text_path.stat().st_size
            else np.fromfile(text_path, dtype=np.uint8)
        )
        vocab = Vocabulary(hashes, text, offsets)
        n = int(lengths.shape[0])
        if len(indptr) != len(vocab) + 1 or len(offsets) != len(vocab) + 1:
            raise ValueError("the lexical index's arrays disagree on the number of terms")
        if int(indptr[-1]) != len(docs) or len(docs) != len(weights):
            raise ValueError("the lexical index's postings are incomplete")
        if tfs is not None and len(tfs) != len(docs):
            raise ValueError("the lexical index's term frequencies are incomplete")
        return cls(vocab, indptr, docs, weights, n, lengths, tfs)


class LexicalBuilder:
    """Builds a :class:`LexicalIndex` one chunk at a time (chunk ids 0, 1, 2, ... in the order
    of :meth:`add`). Postings are kept as integers in numpy buffers; only the distinct terms are
    Python strings."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._terms: list[str] = []
        self._parts: list[np.ndarray] = []  # (term id, chunk id, tf) rows, int32
        self._pending: list[tuple[int, int, int]] = []
        self._lengths: list[int] = []
        self._source: ChunkTerms | None = None  # what add_copied copies from
        self._remap = np.zeros(0, dtype=np.int64)  # its term id -> ours (-1: not seen yet)

    def add(self, terms: Sequence[str]) -> None:
        """Add the next chunk's analysed terms."""
        d = len(self._lengths)
        self._lengths.append(len(terms))
        ids = self._ids
        for term, tf in Counter(terms).items():
            t = ids.get(term)
            if t is None:
                t = ids[term] = len(self._terms)
                self._terms.append(term)
            self._pending.append((t, d, tf))
        if len(self._pending) >= 1 << 16:
            self._flush()

    def add_copied(self, source: ChunkTerms, chunk: int) -> None:
        """Add the next chunk with the terms ``source`` has for its chunk ``chunk`` (a chunk of
        the same text in the previous index): the same as :meth:`add` of its analysed terms."""
        if source is not self._source:
            self._source = source
            self._remap = np.full(len(source.vocab), -1, dtype=np.int64)
        old_ids, tfs = source[chunk]
        ids = self._remap[old_ids]
        for j in np.flatnonzero(ids < 0):  # a term this build has not met yet: by its text
            term = source.vocab.term(int(old_ids[j]))
            t = self._ids.get(term)
            if t is None:
                t = self._ids[term] = len(self._terms)
                self._terms.append(term)
            ids[j] = self._remap[old_ids[j]] = t
        self._flush()
        d = len(self._lengths)
        self._lengths.append(source.length(chunk))
        rows = np.empty((len(ids), 3), dtype=np.int32)
        rows[:, 0], rows[:, 1], rows[:, 2] = ids, d, tfs
        self._parts.append(rows)

    def _flush(self) -> None:
        if self._pending:
            self._parts.append(np.asarray(self._pending, dtype=np.int32))
            self._pending = []

    def finish(self, k1: float = K1, b: float = B) -> LexicalIndex:
        """The BM25 index of every chunk added (Lucene's IDF; ``k1``, ``b`` as usual)."""
        self._flush()
        self._source, self._remap = None, np.zeros(0, dtype=np.int64)  # freed before sorting
        n = len(self._lengths)
        lengths = np.asarray(self._lengths, dtype=np.int32)
        rows = np.concatenate(self._parts) if self._parts else np.zeros((0, 3), dtype=np.int32)
        self._parts = []
        vocab, new_id = Vocabulary.from_terms(self._terms)
        self._ids, self._terms = {}, []
        term = new_id[rows[:, 0]]
        order = np.argsort(term, kind="stable")  # stable: chunk ids stay ascending per term
        term, doc, tf = term[order], rows[order, 1], rows[order, 2].astype(np.float64)
        del rows, order
        df = np.bincount(term, minlength=len(vocab))
        indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(df, out=indptr[1:])
        avg = float(lengths.mean()) if n and lengths.sum() else 1.0
        idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5))
        norm = tf + k1 * (1.0 - b + b * lengths[doc] / avg)
        weights = (idf[term] * tf * (k1 + 1.0) / norm).astype(np.float32)
        small = not tf.size or tf.max() <= np.iinfo(np.uint16).max  # always, for real chunks
        tfs = tf.astype(np.uint16 if small else np.int32)
        return LexicalIndex(vocab, indptr, doc.astype(np.int32), weights, n, lengths, tfs)


class ChunkTerms:
    """The terms of each chunk of a saved :class:`LexicalIndex` and their frequencies: its
    postings turned chunk by chunk, what :meth:`LexicalBuilder.add_copied` copies. 6 bytes a
    posting while a rebuild runs (155 MB at 100,000 chunks). The postings are regrouped by a
    counting sort in blocks (:data:`BLOCK` postings at a time), not by one ``argsort`` of them
    all, whose 8-byte indices and temporaries added 480 MB to a 100,000-chunk rebuild's peak
    (measured: 1.6 -> 2.1 GB)."""

    BLOCK = 1 << 20

    def __init__(self, index: LexicalIndex) -> None:
        if index.tfs is None:
            raise ValueError("this lexical index has no term frequencies (built by an older qa)")
        self.vocab = index.vocab
        self._lengths = index.lengths
        n, total = index.n_docs, len(index.docs)
        self._ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(index.docs, minlength=n), out=self._ptr[1:])
        self._terms = np.empty(total, dtype=np.int32)
        self._tfs = np.empty(total, dtype=index.tfs.dtype)
        fill = self._ptr[:-1].copy()  # where each chunk's next term goes
        indptr = np.asarray(index.indptr)
        for lo in range(0, total, self.BLOCK):
            hi = min(lo + self.BLOCK, total)
            docs = np.asarray(index.docs[lo:hi])
            order = np.argsort(docs, kind="stable")  # by chunk, term ids ascending within
            docs = docs[order]
            starts = np.flatnonzero(np.r_[True, docs[1:] != docs[:-1]])
            sizes = np.diff(np.r_[starts, len(docs)])
            rank = np.arange(len(docs)) - np.repeat(starts, sizes)  # place among its chunk's
            dest = fill[docs] + rank
            term = np.searchsorted(indptr, np.arange(lo, hi), side="right") - 1
            self._terms[dest] = term[order]
            self._tfs[dest] = np.asarray(index.tfs[lo:hi])[order]
            fill[docs[starts]] += sizes

    def __getitem__(self, chunk: int) -> tuple[np.ndarray, np.ndarray]:
        """Chunk ``chunk``'s term ids (in :attr:`vocab`) and how often each occurs."""
        lo, hi = int(self._ptr[chunk]), int(self._ptr[chunk + 1])
        return self._terms[lo:hi], self._tfs[lo:hi]

    def length(self, chunk: int) -> int:
        """How many terms chunk ``chunk`` has (BM25's document length)."""
        return int(self._lengths[chunk])
