"""The index's on-disk parts for big corpora: the memory-mapped chunk store (qa/chunkstore.py),
the streaming lexical index with its mmap'd vocabulary (qa/lexical.py), compared against
reference implementations, and the dense index's exact/approximate switch (qa/dense.py)."""

from __future__ import annotations

import dataclasses
import math
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qa.lexical
from qa.chunk import Chunk, chunk_text
from qa.chunkstore import SCRIPTS, ChunkStore, ChunkWriter
from qa.dense import FLAT, HNSW, build_dense, load_dense, write_dense
from qa.lexical import ChunkTerms, LexicalBuilder, LexicalIndex, Vocabulary, analyze
from qa.settings import DEFAULTS
from qa.text import script_of

pytestmark = pytest.mark.unit

TEXTS = {
    "a.txt": "# 交通\n\n广州地铁三号线连接番禺与天河，全长六十多公里。\n\n地铁票价按里程计算。",
    "b/c.md": "The museum opened in 1998.\n\nIt is closed on Mondays.\n\n" + "长句子。" * 200,
    "空.txt": "",
    "d.txt": "😀 surrogate-free emoji, full-width Ｈｅｌｌｏ, and 繁體字。\n\n……",
}


def _chunks() -> dict[str, list[Chunk]]:
    out = {name: chunk_text(text, name) for name, text in TEXTS.items()}
    # a chunk with pages and page breaks, as a PDF gives
    paged = dataclasses.replace(out["a.txt"][0], page=3, page_breaks=(4, 4, 9))
    out["a.txt"][0] = paged
    return out


def _write(folder: Path, docs: dict[str, list[Chunk]]) -> ChunkStore:
    w = ChunkWriter(folder)
    for name, chunks in docs.items():
        assert w.add(name, chunks) == len(chunks)
    w.close()
    return ChunkStore(folder)


def test_chunk_store_gives_back_every_chunk(tmp_path: Path) -> None:
    docs = _chunks()
    store = _write(tmp_path, docs)
    flat = [c for chunks in docs.values() for c in chunks]
    assert len(store) == len(flat) and list(store) == flat and store == flat
    assert store[-1] == flat[-1] and store[1:3] == flat[1:3]
    assert store[0].page == 3 and store[0].page_breaks == (4, 4, 9)
    assert [store.text(i) for i in range(len(store))] == [c.text for c in flat]
    first = 0
    for name, chunks in docs.items():
        assert list(store.chunk_range(name)) == list(range(first, first + len(chunks)))
        first += len(chunks)
    assert store.chunk_range("no such file") == range(0)
    assert list(store.scripts) == [script_of(c.text) for c in flat]
    assert set(store.scripts) <= set(SCRIPTS)
    assert [bytes(h).hex() for h in store.hashes] == [c.hash for c in flat]
    with pytest.raises(IndexError):
        store[len(flat)]


def test_hashes_ending_in_zero_bytes_survive(tmp_path: Path) -> None:
    """A content hash whose last bytes are 0 (one in 256) keeps all 32 bytes."""
    base = chunk_text("一句话。", "x.txt")[0]
    hashes = ["ab" * 31 + "00", "00" * 32, "cd" * 30 + "0000"]
    chunks = [dataclasses.replace(base, hash=h, ordinal=i) for i, h in enumerate(hashes)]
    store = _write(tmp_path, {"x.txt": chunks})
    assert [c.hash for c in store] == hashes
    assert [bytes(h).hex() for h in store.hashes] == hashes


def test_empty_chunk_store(tmp_path: Path) -> None:
    store = _write(tmp_path, {})
    assert len(store) == 0 and list(store) == [] and store == []


def test_chunk_store_streams_past_its_buffer(tmp_path: Path) -> None:
    """More rows than one buffer (4096): the file is appended to, not held in memory."""
    base = chunk_text("一句话。", "x.txt")[0]
    chunks = [dataclasses.replace(base, text=f"第{i}句。", ordinal=i) for i in range(10_000)]
    store = _write(tmp_path, {"x.txt": chunks})
    assert (
        len(store) == 10_000 and store[9_999].text == "第9999句。" and store[4_096] == chunks[4_096]
    )


def test_damaged_chunk_store_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, _chunks())
    (tmp_path / "chunks.bin").write_bytes(b"short")
    with pytest.raises(ValueError, match="points past"):
        ChunkStore(tmp_path)


# ----------------------------------------------------------------------------- lexical


def reference_bm25(
    docs: list[list[str]], query: list[str], k1: float = 1.2, b: float = 0.75
) -> np.ndarray:
    """Textbook BM25 with Lucene's IDF, one document at a time."""
    n = len(docs)
    avg = sum(map(len, docs)) / n if n and sum(map(len, docs)) else 1.0
    df = Counter(t for d in docs for t in set(d))
    out = np.zeros(n)
    for i, d in enumerate(docs):
        tf = Counter(d)
        for t in set(query):
            if tf[t]:
                idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
                out[i] += idf * tf[t] * (k1 + 1) / (tf[t] + k1 * (1 - b + b * len(d) / avg))
    return out


words = st.lists(
    st.sampled_from(["广州", "#广州", "地铁", "a", "b", "museum", "é", "#长句"]), max_size=30
)


@given(st.lists(words, min_size=1, max_size=20), words)
@settings(max_examples=60, deadline=None)
def test_bm25_equals_the_reference(docs: list[list[str]], query: list[str]) -> None:
    idx = LexicalIndex.build(docs)
    assert np.allclose(idx.scores(query), reference_bm25(docs, query), rtol=1e-5, atol=1e-5)
    for t in set(query):
        assert idx.df(t) == sum(t in d for d in docs)


def test_lexical_index_saves_and_loads_mmapped(tmp_path: Path) -> None:
    docs = [analyze(c.section + "\n" + c.text) for cs in _chunks().values() for c in cs]
    idx = LexicalIndex.build(docs)
    idx.save(tmp_path)
    back = LexicalIndex.load(tmp_path)
    assert isinstance(back.docs, np.memmap) and isinstance(back.vocab.hashes, np.memmap)
    for q in (analyze("广州地铁票价"), analyze("museum Mondays"), ["unknown"], []):
        assert np.array_equal(back.scores(q), idx.scores(q))
        ids = np.arange(len(docs))
        assert np.array_equal(back.coverage(q, ids), idx.coverage(q, ids))
    assert back.n_docs == len(docs) and back.idf("#地铁") == idx.idf("#地铁")


@given(st.lists(words, min_size=1, max_size=12), st.lists(words, max_size=6), st.data())
@settings(max_examples=60, deadline=None)
def test_copying_a_chunks_terms_equals_analysing_it_again(
    old_docs: list[list[str]], new_docs: list[list[str]], data: st.DataObject
) -> None:
    """A rebuild copies an unchanged chunk's terms from the previous index (ChunkTerms) and
    analyses only new text: the index must be the one a build from nothing gives."""
    old = LexicalIndex.build(old_docs)
    source = ChunkTerms(old)
    for i, d in enumerate(old_docs):
        ids, tfs = source[i]
        assert Counter(
            {old.vocab.term(int(t)): int(n) for t, n in zip(ids, tfs, strict=True)}
        ) == Counter(d)
    # the next corpus: some old chunks (in any order, some twice) mixed with new ones
    plan = data.draw(
        st.lists(st.one_of(st.integers(0, len(old_docs) - 1), st.sampled_from(new_docs or [[]])))
    )
    builder = LexicalBuilder()
    for step in plan:
        if isinstance(step, int):
            builder.add_copied(source, step)
        else:
            builder.add(step)
    got = builder.finish()
    want = LexicalIndex.build([old_docs[x] if isinstance(x, int) else x for x in plan])
    assert got.n_docs == want.n_docs
    assert np.array_equal(got.lengths, want.lengths)
    assert np.array_equal(got.vocab.hashes, want.vocab.hashes)
    assert np.array_equal(got.vocab.text, want.vocab.text)
    for a, b in ((got.indptr, want.indptr), (got.docs, want.docs), (got.tfs, want.tfs)):
        assert np.array_equal(a, b)
    assert np.allclose(got.weights, want.weights, rtol=1e-6)


@pytest.mark.parametrize("buckets", [1, 4, 64])
@pytest.mark.parametrize("memory_postings", [0, 50, 1 << 30])
def test_written_index_with_spilled_postings_equals_the_in_memory_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, buckets: int, memory_postings: int
) -> None:
    """A build's words go to disk a bucket at a time (``LexicalBuilder.write``), spilling held
    postings past ``memory_postings``: the files load as the index a single in-memory sort
    gives (the reference BM25 test covers that one), copied chunks included."""
    monkeypatch.setattr(LexicalBuilder, "BUCKETS", buckets)
    rng = random.Random(buckets * 7 + memory_postings)
    vocab = [f"w{i}" for i in range(300)] + ["#广州", "地铁", "é"]
    docs = [[rng.choice(vocab) for _ in range(rng.randrange(0, 40))] for _ in range(120)]
    old = LexicalIndex.build(docs[:40])
    source = ChunkTerms(old)
    plan: list[int | list[str]] = [i if i % 3 == 0 else docs[i] for i in range(40)] + docs[40:]
    builder = LexicalBuilder(spill=tmp_path, memory_postings=memory_postings)
    for step in plan:
        if isinstance(step, int):
            builder.add_copied(source, step)
        else:
            builder.add(step)
    spilled = sorted(p.name for p in tmp_path.iterdir())
    assert bool(spilled) == (memory_postings < 1 << 30)
    out = tmp_path / "index"
    out.mkdir()
    builder.write(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]  # spill files removed
    got = LexicalIndex.load(out)
    want = LexicalIndex.build([docs[x] if isinstance(x, int) else x for x in plan])
    assert got.n_docs == want.n_docs
    for a, b in (
        (got.lengths, want.lengths),
        (got.vocab.hashes, want.vocab.hashes),
        (got.vocab.text, want.vocab.text),
        (got.vocab.offsets, want.vocab.offsets),
        (got.indptr, want.indptr),
        (got.docs, want.docs),
        (got.tfs, want.tfs),
    ):
        assert np.array_equal(a, b)
    assert got.tfs is not None and got.tfs.dtype == np.uint16
    assert np.allclose(got.weights, want.weights, rtol=1e-6)
    for q in (["w1", "w2", "#广州"], ["unknown"], []):
        assert np.allclose(got.scores(q), want.scores(q), rtol=1e-5)


def test_a_stopped_build_leaves_no_spilled_postings(tmp_path: Path) -> None:
    builder = LexicalBuilder(spill=tmp_path, memory_postings=10)
    for i in range(25_000):  # add() hands its rows on every 65,536 postings
        builder.add([f"t{i}", f"t{i + 1}", "common"])
    assert any(tmp_path.iterdir())
    builder.discard()
    assert not any(tmp_path.iterdir())


def test_chunk_terms_regroups_postings_in_blocks_as_one_sort_would(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The blockwise counting sort equals a single stable argsort of all postings by chunk,
    with blocks that split chunks' and terms' postings anywhere."""
    rng = random.Random(5)
    docs = [[f"t{rng.randrange(40)}" for _ in range(rng.randrange(0, 30))] for _ in range(200)]
    idx = LexicalIndex.build(docs)
    order = np.argsort(idx.docs, kind="stable")
    terms = np.repeat(np.arange(len(idx.vocab)), np.diff(idx.indptr))[order]
    tfs = idx.tfs[order]
    ptr = np.r_[0, np.cumsum(np.bincount(idx.docs, minlength=idx.n_docs))]
    for block in (1, 7, 64, 1 << 20):
        monkeypatch.setattr(ChunkTerms, "BLOCK", block)
        view = ChunkTerms(idx)
        for i in range(idx.n_docs):
            got_terms, got_tfs = view[i]
            assert np.array_equal(got_terms, terms[ptr[i] : ptr[i + 1]])
            assert np.array_equal(got_tfs, tfs[ptr[i] : ptr[i + 1]])
            assert view.length(i) == len(docs[i])


def test_an_index_without_term_frequencies_still_loads(tmp_path: Path) -> None:
    """Indexes built before lexical_tf.npy answer as before; only copying needs the file."""
    docs = [analyze(c.section + "\n" + c.text) for cs in _chunks().values() for c in cs]
    LexicalIndex.build(docs).save(tmp_path)
    (tmp_path / "lexical_tf.npy").unlink()
    back = LexicalIndex.load(tmp_path)
    assert back.tfs is None and back.n_docs == len(docs)
    assert back.scores(analyze("广州地铁票价")).max() > 0
    with pytest.raises(ValueError, match="older qa"):
        ChunkTerms(back)


def test_vocabulary_is_exact_even_when_hashes_collide(monkeypatch: pytest.MonkeyPatch) -> None:
    """Terms are found by a 64-bit hash and confirmed by their text: forced collisions (every
    term the same hash) still find each term and only it."""
    terms = ["广州", "地铁", "museum", "#广州", "é"]
    monkeypatch.setattr(qa.lexical, "term_hash", lambda t: 7)
    vocab, ids = Vocabulary.from_terms(terms)
    assert [vocab.get(t) for t in terms] == list(ids)
    assert [vocab.term(int(i)) for i in ids] == terms
    assert vocab.get("深圳") is None


# ----------------------------------------------------------------------------- dense


def test_dense_index_is_exact_then_hnsw_past_the_threshold(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(3000, 32)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    queries = vecs[rng.choice(3000, 50, replace=False)] + rng.normal(0, 0.05, (50, 32)).astype(
        np.float32
    )
    exact = np.argsort(-(queries @ vecs.T), axis=1)[:, :10]
    for above, kind in ((0, FLAT), (5000, FLAT), (1000, HNSW)):
        s = dataclasses.replace(DEFAULTS, ann_above=above)
        index, info = build_dense(vecs, s)
        assert info["kind"] == kind
        path = tmp_path / f"{kind}-{above}.faiss"
        write_dense(index, path)
        loaded = load_dense(path, s)
        assert loaded.ntotal == 3000
        _, found = loaded.search(queries, 10)
        recall = np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact, strict=True)])
        assert recall == 1.0 if kind == FLAT else recall > 0.9, (kind, recall)
        assert np.allclose(loaded.reconstruct(17), vecs[17])


def test_dense_write_fails_like_python_on_a_cut_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import faiss

    vecs = np.eye(8, dtype=np.float32)
    index, _ = build_dense(vecs, DEFAULTS)
    real = faiss.write_index

    def cut(ix, path, *flags) -> None:  # type: ignore[no-untyped-def]
        real(ix, path, *flags)
        if isinstance(path, str):  # the file, not serialize_index's in-memory writer
            with open(path, "r+b") as f:
                f.truncate(20)

    monkeypatch.setattr(faiss, "write_index", cut)
    with pytest.raises(OSError, match="incomplete"):
        write_dense(index, tmp_path / "d.faiss")


def test_random_documents_round_trip(tmp_path: Path) -> None:
    rng = random.Random(1)
    alphabet = "广州地铁三号线连接番禺与天河abc XYZ。\n\n，😀é"
    docs = {
        f"{i}.txt": chunk_text(
            "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 900))), f"{i}.txt"
        )
        for i in range(30)
    }
    store = _write(tmp_path, docs)
    assert list(store) == [c for cs in docs.values() for c in cs]
