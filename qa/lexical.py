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
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, NamedTuple

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
#: The files with one value per posting
POSTINGS = ("lexical_docs.npy", "lexical_weights.npy", "lexical_tf.npy")

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

    def save(self, folder: Path, postings: bool = True) -> None:
        """Write the arrays into ``folder`` (without ``postings``: all but the postings'
        ``docs``, ``weights`` and ``tfs``, which :meth:`LexicalBuilder.write` appends)."""
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
            if not postings and name in POSTINGS:
                continue
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
    of :meth:`add`). Postings are kept as integer rows in numpy buffers; only the distinct
    terms are Python strings.

    Bounded memory: the rows are grouped by the top bits of their term's hash
    (:data:`BUCKETS` buckets; the vocabulary is sorted by hash, so a bucket is a contiguous
    range of the final term ids) and, with ``spill``, a bucket's rows go to a file in that
    folder once the builder holds more than ``memory_postings`` of them. :meth:`write` then
    sorts one bucket at a time and appends it to the index files, so a build's postings cost
    about ``memory_postings`` x 12 bytes plus one bucket's sort, whatever the corpus' size.
    Before, one ``argsort`` of every posting peaked at 55-89 bytes a posting (a 200 MB text
    file: 3.8 GB; BENCHMARKS.md "One big text file")."""

    #: hash-prefix buckets (a power of two): at 700 million postings one holds ~11 million
    BUCKETS = 64
    #: rows held in memory before they are spilled (with ``spill``): 4M rows, about 50 MB (at
    #: 16M a 50 MB file's 17M postings were all held, and split by bucket doubled them: 413 MB)
    MEMORY_POSTINGS = 1 << 22
    #: :meth:`add` gathers this many rows as Python tuples before it turns them into an array
    PENDING_ROWS = 1 << 16

    def __init__(self, spill: Path | None = None, memory_postings: int | None = None) -> None:
        self._ids: dict[str, int] = {}
        self._terms: list[str] = []
        self._bucket_of = np.zeros(1024, dtype=np.int16)  # term id -> its hash bucket
        self._df = np.zeros(1024, dtype=np.int64)  # term id -> chunks that hold it
        self._parts: list[np.ndarray] = []  # (term id, chunk id, tf) rows, int32
        self._held = 0  # rows in _parts
        self._max_tf = 0
        self._pending: list[tuple[int, int, int]] = []
        self._lengths: list[int] = []
        self._source: ChunkTerms | None = None  # what add_copied copies from
        self._remap = np.zeros(0, dtype=np.int64)  # its term id -> ours (-1: not seen yet)
        self._spill = spill
        self._limit = self.MEMORY_POSTINGS if memory_postings is None else memory_postings
        self._spilled: list[Path] = []  # one file per bucket once something was spilled

    def _new_term(self, term: str) -> int:
        t = self._ids[term] = len(self._terms)
        self._terms.append(term)
        if t >= len(self._bucket_of):
            self._bucket_of = np.resize(self._bucket_of, 2 * t)
            self._df = np.concatenate([self._df, np.zeros(t, dtype=np.int64)])
        self._bucket_of[t] = term_hash(term) >> (64 - (self.BUCKETS.bit_length() - 1))
        return t

    def add(self, terms: Sequence[str]) -> None:
        """Add the next chunk's analysed terms."""
        d = len(self._lengths)
        self._lengths.append(len(terms))
        ids, pending = self._ids, self._pending
        for term, tf in Counter(terms).items():
            t = ids.get(term)
            pending.append((self._new_term(term) if t is None else t, d, tf))
        if len(pending) >= self.PENDING_ROWS:
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
            ids[j] = self._remap[old_ids[j]] = self._new_term(term) if t is None else t
        self._flush()
        d = len(self._lengths)
        self._lengths.append(source.length(chunk))
        rows = np.empty((len(ids), 3), dtype=np.int32)
        rows[:, 0], rows[:, 1], rows[:, 2] = ids, d, tfs
        self._keep(rows)

    def _flush(self) -> None:
        if self._pending:
            rows = np.asarray(self._pending, dtype=np.int32)
            self._pending = []
            self._keep(rows)

    def _keep(self, rows: np.ndarray) -> None:
        if not len(rows):
            return
        np.add.at(self._df, rows[:, 0], 1)  # a term occurs once in a chunk's rows
        self._max_tf = max(self._max_tf, int(rows[:, 2].max()))
        self._parts.append(rows)
        self._held += len(rows)
        if self._spill is not None and self._held > self._limit:
            self._spill_rows()

    def _by_bucket(self) -> list[list[np.ndarray]]:
        """The held rows split by bucket (each bucket's rows in chunk order); frees them.
        Parts are joined into batches of about a million rows first (a rebuild holds one
        small part per copied chunk)."""
        out: list[list[np.ndarray]] = [[] for _ in range(self.BUCKETS)]
        parts, self._parts, self._held = self._parts, [], 0
        i = 0
        while i < len(parts):
            j, size = i, 0
            while j < len(parts) and (size == 0 or size + len(parts[j]) <= 1 << 20):
                size += len(parts[j])
                j += 1
            rows = np.concatenate(parts[i:j]) if j - i > 1 else parts[i]
            parts[i:j] = [None] * (j - i)  # type: ignore[list-item]  # freed as we go
            i = j
            bucket = self._bucket_of[rows[:, 0]]
            order = np.argsort(bucket, kind="stable")
            starts = np.searchsorted(bucket[order], np.arange(self.BUCKETS + 1))
            for b in np.flatnonzero(np.diff(starts)):
                out[b].append(rows[order[starts[b] : starts[b + 1]]])
        return out

    def _spill_rows(self) -> None:
        assert self._spill is not None
        if not self._spilled:
            self._spilled = [
                self._spill / f"lexical-spill-{b:02d}.tmp" for b in range(self.BUCKETS)
            ]
        for path, parts in zip(self._spilled, self._by_bucket(), strict=True):
            with open(path, "ab") as f:
                for rows in parts:
                    f.write(rows.tobytes())

    def _buckets(self, k1: float, b: float) -> Iterator[_Postings]:
        """The finished postings bucket by bucket, in the final term order (and, before the
        first, the vocabulary and the arrays that do not depend on the postings)."""
        self._flush()
        self._source, self._remap = None, np.zeros(0, dtype=np.int64)  # freed before sorting
        n = len(self._lengths)
        lengths = np.asarray(self._lengths, dtype=np.int32)
        self._lengths = []
        held = self._by_bucket()
        vocab, new_id = Vocabulary.from_terms(self._terms)
        df = np.zeros(len(vocab), dtype=np.int64)
        df[new_id] = self._df[: len(self._terms)]
        self._ids, self._terms, self._df = {}, [], np.zeros(0, dtype=np.int64)
        indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(df, out=indptr[1:])
        avg = float(lengths.mean()) if n and lengths.sum() else 1.0
        idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5))
        norm_len = (k1 * (1.0 - b + b * lengths / avg)).astype(np.float64)
        yield _Postings(vocab, indptr, lengths, None, None, None)
        for bucket in range(self.BUCKETS):
            parts = held[bucket]
            held[bucket] = []
            if self._spilled:  # spilled rows come before the held ones (earlier chunks)
                path = self._spilled[bucket]
                if path.exists():
                    parts.insert(0, np.fromfile(path, dtype=np.int32).reshape(-1, 3))
                    path.unlink()
            if not parts:
                continue
            rows = np.concatenate(parts)
            del parts
            term = new_id[rows[:, 0]]
            order = np.argsort(term, kind="stable")  # stable: chunk ids stay ascending per term
            term, doc = term[order], rows[order, 1]
            tf = rows[order, 2].astype(np.float64)
            del rows, order
            weights = (idf[term] * tf * (k1 + 1.0) / (tf + norm_len[doc])).astype(np.float32)
            yield _Postings(vocab, indptr, lengths, doc, weights, tf)
        self._spilled = []

    def _tf_dtype(self) -> type:
        return np.uint16 if self._max_tf <= np.iinfo(np.uint16).max else np.int32

    def finish(self, k1: float = K1, b: float = B) -> LexicalIndex:
        """The BM25 index of every chunk added, in memory (Lucene's IDF; ``k1``, ``b`` as
        usual)."""
        tf_type = self._tf_dtype()
        parts = self._buckets(k1, b)
        head = next(parts)
        total = int(head.indptr[-1])
        docs = np.empty(total, dtype=np.int32)
        weights = np.empty(total, dtype=np.float32)
        tfs = np.empty(total, dtype=tf_type)
        at = 0
        for p in parts:
            assert p.docs is not None and p.weights is not None and p.tfs is not None
            docs[at : at + len(p.docs)], weights[at : at + len(p.docs)] = p.docs, p.weights
            tfs[at : at + len(p.docs)] = p.tfs
            at += len(p.docs)
        n = len(head.lengths)
        return LexicalIndex(head.vocab, head.indptr, docs, weights, n, head.lengths, tfs)

    def write(self, folder: Path, k1: float = K1, b: float = B) -> None:
        """Write the BM25 index of every chunk added into ``folder`` (the files
        :meth:`LexicalIndex.load` reads), a bucket at a time: the postings are never all in
        memory at once."""
        tf_type = self._tf_dtype()
        parts = self._buckets(k1, b)
        head = next(parts)
        total = int(head.indptr[-1])
        LexicalIndex(
            head.vocab,
            head.indptr,
            np.zeros(0, dtype=np.int32),
            np.zeros(0, dtype=np.float32),
            len(head.lengths),
            head.lengths,
        ).save(folder, postings=False)
        dtypes = (np.int32, np.float32, tf_type)  # in the order of POSTINGS
        outs = [_npy_appender(folder / n, t, total) for n, t in zip(POSTINGS, dtypes, strict=True)]
        try:
            ends = [
                f.tell() + total * np.dtype(t).itemsize for f, t in zip(outs, dtypes, strict=True)
            ]
            for p in parts:
                for f, arr, dtype in zip(outs, (p.docs, p.weights, p.tfs), dtypes, strict=True):
                    assert arr is not None
                    f.write(np.ascontiguousarray(arr, dtype=dtype).tobytes())
            for f, end, name in zip(outs, ends, POSTINGS, strict=True):
                if f.tell() != end:  # cannot happen unless the counts above are wrong
                    raise AssertionError(f"{name}: {f.tell()} bytes written, {end} expected")
        finally:
            for f in outs:
                f.close()

    def discard(self) -> None:
        """Remove the spilled rows (a build that stops before :meth:`write`)."""
        for path in self._spilled:
            path.unlink(missing_ok=True)
        self._spilled = []


class _Postings(NamedTuple):
    """One bucket of finished postings (the first item of :meth:`LexicalBuilder._buckets`
    carries only the arrays that do not depend on them)."""

    vocab: Vocabulary
    indptr: np.ndarray
    lengths: np.ndarray
    docs: np.ndarray | None
    weights: np.ndarray | None
    tfs: np.ndarray | None


def _npy_appender(path: Path, dtype: type, count: int) -> BinaryIO:
    """``path`` opened for appending ``count`` values of ``dtype`` behind an ``.npy`` header
    written now (np.save needs the whole array; written through a file, the postings' pages
    are not mapped into the process as a memmap's would be)."""
    f = open(path, "wb")
    descr = np.lib.format.dtype_to_descr(np.dtype(dtype))
    header = {"descr": descr, "fortran_order": False, "shape": (count,)}
    np.lib.format.write_array_header_1_0(f, header)
    return f


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
