"""Index build, save/load, incremental rebuilds, damage and lock handling (real model, FAISS)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.index import (
    CURRENT,
    BuildLockedError,
    CorruptIndexError,
    MissingIndexError,
    ModelMismatchError,
    build_index,
    build_lock,
    check_model,
    load_index,
    stale_reason,
)
from qa.settings import DEFAULTS

pytestmark = pytest.mark.integration

DOCS = {
    "a.txt": "黄埔图书馆于2015年3月开放，藏书约120万册。\n\n馆内设有少儿阅览室和自习区，每天开放到晚上九点。",
    "b.md": "# 交通\n\n广州地铁三号线连接番禺与天河，全长六十多公里。\n\n地铁票价按里程计算。",
    "sub/c.txt": "The museum opened in 1998 and holds about 40,000 objects.\n\nIt is closed on Mondays.",
}


@pytest.fixture()
def small(tmp_path, embedder):
    corpus = tmp_path / "corpus"
    for name, text in DOCS.items():
        p = corpus / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    st = dataclasses.replace(DEFAULTS, corpus_dir=corpus, index_dir=tmp_path / "index")
    return st


def build(st, embedder, **kw):
    return build_index(st.corpus_dir, st.index_dir, settings=st, embedder=embedder, **kw)


def test_round_trip(small, embedder):
    report = build(small, embedder)
    assert report.files_read == 3 and report.chunks >= 3 and report.embedded == report.chunks
    idx = load_index(small.index_dir)
    assert len(idx.chunks) == report.chunks
    assert {c.doc for c in idx.chunks} == set(DOCS)
    vecs = idx.vectors()
    assert vecs.shape == (report.chunks, embedder.dim)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-3)
    # the stored vectors are the model's: re-embedding a chunk gives the same vector
    again = embedder.embed_passages([idx.chunks[0].text])[0]
    assert float(again @ vecs[0]) > 0.999
    assert idx.lexical.n_docs == report.chunks
    docs = {d.path: d for d in idx.documents()}
    assert docs["a.txt"].chunks >= 1 and docs["a.txt"].encoding.startswith("utf-8")
    check_model(idx, embedder)
    assert stale_reason(small.index_dir, small.corpus_dir, small) is None


def test_incremental_rebuild_embeds_only_changes(small, embedder):
    first = build(small, embedder)
    (small.corpus_dir / "a.txt").write_text(
        DOCS["a.txt"].replace("120万册", "150万册"), encoding="utf-8"
    )
    assert "changed" in (stale_reason(small.index_dir, small.corpus_dir, small) or "")
    second = build(small, embedder)
    a_chunks = sum(1 for c in load_index(small.index_dir).chunks if c.doc == "a.txt")
    assert 1 <= second.embedded <= a_chunks
    assert second.reused == first.chunks - second.embedded
    (small.corpus_dir / "d.txt").write_text("新的文件，只有一段。", encoding="utf-8")
    third = build(small, embedder)
    assert third.embedded == 1 and third.files_read == 4
    # unchanged corpus: nothing is embedded
    assert build(small, embedder).embedded == 0


def test_a_rebuild_copies_unchanged_chunks_terms_and_equals_a_fresh_build(
    small, embedder, tmp_path, monkeypatch
):
    """Unchanged files' terms come from the previous version (jieba is not run on them), and
    the lexical index is the one a build from nothing gives; an older index without term
    frequencies, or one whose analyser differs, is analysed again."""
    import qa.index
    import qa.lexical

    build(small, embedder)
    (small.corpus_dir / "a.txt").write_text(DOCS["a.txt"] + "\n\n新增的一段：周一闭馆。", "utf-8")
    analysed: list[str] = []
    real = qa.index.analyze
    monkeypatch.setattr(qa.index, "analyze", lambda t: analysed.append(t) or real(t))
    build(small, embedder)
    idx = load_index(small.index_dir)
    assert analysed and all(
        c.doc == "a.txt" for c in idx.chunks if c.section + "\n" + c.text in analysed
    )
    assert len(analysed) == sum(1 for c in idx.chunks if c.doc == "a.txt")
    assert idx.manifest["lexical"] == {"analyzer": qa.lexical.ANALYZER_VERSION}
    fresh = dataclasses.replace(small, index_dir=tmp_path / "fresh")
    build(fresh, embedder)
    ref = load_index(fresh.index_dir).lexical
    for name in ("indptr", "docs", "weights", "lengths", "tfs"):
        assert np.array_equal(getattr(idx.lexical, name), getattr(ref, name)), name
    assert np.array_equal(idx.lexical.vocab.hashes, ref.vocab.hashes)
    # another analyser version: every chunk is analysed again
    analysed.clear()
    monkeypatch.setattr(qa.index, "ANALYZER_VERSION", qa.lexical.ANALYZER_VERSION + 1)
    (small.corpus_dir / "b.md").write_text(DOCS["b.md"] + "\n\n末班车十一点。", "utf-8")
    build(small, embedder)
    assert len(analysed) == len(load_index(small.index_dir).chunks)


def test_missing_index_says_how_to_rebuild(tmp_path):
    with pytest.raises(MissingIndexError, match="qa build"):
        load_index(tmp_path / "nothing")


@pytest.mark.parametrize(
    "victim",
    [
        "dense.faiss",
        "chunks.bin",
        "chunks_meta.npy",
        "chunks_docs.json",
        "lexical_docs.npy",
        "lexical_terms.bin",
        "manifest.json",
    ],
)
def test_corrupt_file_is_detected(small, embedder, victim):
    build(small, embedder)
    version = json.loads((small.index_dir / CURRENT).read_text())["version"]
    path = small.index_dir / version / victim
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptIndexError, match="qa build"):
        load_index(small.index_dir)


def test_garbage_pointer_is_detected(small, embedder):
    build(small, embedder)
    (small.index_dir / CURRENT).write_text("{not json")
    with pytest.raises(CorruptIndexError, match="damaged"):
        load_index(small.index_dir)


def test_model_mismatch(small, embedder):
    build(small, embedder)
    idx = load_index(small.index_dir)

    class Other:
        model_name = "some/other-model"
        fingerprint = "0" * 64

    with pytest.raises(ModelMismatchError, match="other-model"):
        check_model(idx, Other())  # type: ignore[arg-type]


def test_second_build_is_refused_while_locked(small, embedder):
    with build_lock(small.index_dir), pytest.raises(BuildLockedError, match="another build"):
        build(small, embedder)


def test_failed_build_keeps_previous_index(small, embedder, monkeypatch):
    build(small, embedder)
    before = load_index(small.index_dir)
    (small.corpus_dir / "a.txt").write_text("完全不同的内容。", encoding="utf-8")

    import faiss

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(faiss, "write_index", boom)
    with pytest.raises(OSError):
        build(small, embedder)
    after = load_index(small.index_dir)
    assert after.version == before.version
    assert [c.text for c in after.chunks] == [c.text for c in before.chunks]


def test_progress_is_reported(small, embedder):
    seen: list[float] = []
    build(small, embedder, progress=lambda f, msg: seen.append(f))
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)


def test_empty_corpus_builds_empty_index(tmp_path, embedder):
    corpus = tmp_path / "empty"
    corpus.mkdir()
    st = dataclasses.replace(DEFAULTS, corpus_dir=corpus, index_dir=tmp_path / "idx")
    report = build(st, embedder)
    assert report.chunks == 0
    assert load_index(st.index_dir).chunks == []


def test_old_versions_are_collected(small, embedder):
    for i in range(3):
        (small.corpus_dir / "a.txt").write_text(f"版本{i}。", encoding="utf-8")
        build(small, embedder)
    versions = [p for p in Path(small.index_dir).iterdir() if p.is_dir()]
    assert len(versions) <= 2


@pytest.mark.integration
def test_a_killed_build_resumes_without_embedding_again(tmp_path, embedder, monkeypatch):
    """A build that dies while embedding keeps what it embedded (saved every SAVE_EVERY
    chunks); the next build embeds only the rest, and a complete build removes the file."""
    import qa.index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(6):
        paras = [
            f"第{i}号文件第{j}段：越秀区第{j}个社区的图书角有{i * 10 + j}本书，"
            f"每周{j % 7 + 1}开放，由{i + j}名志愿者轮流值班，居民可以凭身份证借阅和归还。"
            for j in range(6)
        ]
        (corpus / f"d{i}.txt").write_text("\n\n".join(paras), encoding="utf-8")
    st = dataclasses.replace(DEFAULTS, corpus_dir=corpus, index_dir=tmp_path / "index")
    monkeypatch.setattr(qa.index, "SAVE_EVERY", 4)

    class Killed(Exception):
        pass

    def die_midway(fraction: float, message: str) -> None:
        if message.startswith("embedding 8/"):
            raise Killed

    with pytest.raises(Killed):
        build_index(corpus, st.index_dir, settings=st, embedder=embedder, progress=die_midway)
    assert not (st.index_dir / "CURRENT").exists()
    assert list(st.index_dir.glob("partial-*.bin"))
    report = build_index(corpus, st.index_dir, settings=st, embedder=embedder)
    # killed while its second group of 4 was embedded: the first group was saved
    assert report.chunks > 8 and report.embedded == report.chunks - 4, report.summary()
    assert not list(st.index_dir.glob("partial-*.bin"))
    # the resumed vectors are the ones a clean build computes
    clean = build_index(corpus, tmp_path / "clean", settings=st, embedder=embedder)
    assert clean.embedded == report.chunks
    a, b = load_index(st.index_dir), load_index(tmp_path / "clean")
    assert [c.hash for c in a.chunks] == [c.hash for c in b.chunks]
    assert np.allclose(a.vectors(), b.vectors(), atol=1e-6)


@pytest.mark.integration
def test_damaged_saved_vectors_are_taken_only_up_to_the_damage(small, embedder):
    """A partial-vectors file with a damaged record (a crash mid-write on a bad disk, an older
    bug): the records before it are taken, the rest is embedded again, and every vector of the
    index is the model's."""
    import qa.index

    first = build(small, embedder)
    idx = load_index(small.index_dir)
    saved = qa.index._SavedVectors(small.index_dir, embedder.fingerprint, embedder.dim)
    hashes = [bytes.fromhex(c.hash) for c in idx.chunks]
    saved.append(hashes[:2], idx.vectors()[:2])
    with saved.path.open("ab") as f:  # a record whose vector is garbage, then a good one
        f.write(hashes[2] + b"\xff" * (4 * embedder.dim))
    saved.append(hashes[3:4], idx.vectors()[3:4])
    shutil.rmtree(small.index_dir / json.loads((small.index_dir / CURRENT).read_text())["version"])
    (small.index_dir / CURRENT).unlink()
    report = build(small, embedder)
    assert report.embedded == first.chunks - 2
    again = load_index(small.index_dir)
    assert np.allclose(again.vectors(), idx.vectors(), atol=1e-6)


@pytest.mark.integration
def test_a_format_1_index_is_upgraded_without_embedding_again(small, embedder):
    """qa before the chunk store wrote chunks.jsonl; rebuilding such an index (same model)
    takes its vectors instead of embedding every chunk again."""
    from dataclasses import asdict

    import faiss

    build(small, embedder)
    new = load_index(small.index_dir)
    old_dir = small.index_dir / "v-format1"
    old_dir.mkdir()
    (old_dir / "chunks.jsonl").write_text(
        "".join(json.dumps(asdict(c), ensure_ascii=False) + "\n" for c in new.chunks), "utf-8"
    )
    flat = faiss.IndexFlatIP(embedder.dim)
    flat.add(new.vectors())
    faiss.write_index(flat, str(old_dir / "dense.faiss"))
    from qa.corpus import file_sha256

    manifest = dict(new.manifest, format_version=1)
    manifest["checksums"] = {n: file_sha256(old_dir / n) for n in ("chunks.jsonl", "dense.faiss")}
    raw = json.dumps(manifest).encode()
    (old_dir / "manifest.json").write_bytes(raw)
    import hashlib

    pointer = {"version": "v-format1", "manifest_sha256": hashlib.sha256(raw).hexdigest()}
    (small.index_dir / CURRENT).write_text(json.dumps(pointer))
    with pytest.raises(CorruptIndexError, match="format 1"):
        load_index(small.index_dir)
    report = build(small, embedder)
    assert report.embedded == 0 and report.chunks == len(new.chunks)
    assert np.allclose(load_index(small.index_dir).vectors(), new.vectors())


def test_a_big_index_opens_checking_sizes_not_contents(small, embedder, monkeypatch):
    """Past VERIFY_FULL_BELOW bytes a served index is opened without reading every file
    (``verify=None``, what the Retriever does): a cut file is still refused, a changed byte is
    only caught by a full check (``verify=True``, what a build does before reusing it)."""
    import qa.index

    build(small, embedder)
    version = json.loads((small.index_dir / CURRENT).read_text())["version"]
    path = small.index_dir / version / "chunks.bin"
    data = bytearray(path.read_bytes())
    data[0] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptIndexError, match="checksum"):
        load_index(small.index_dir, verify=None)  # small: checked in full
    monkeypatch.setattr(qa.index, "VERIFY_FULL_BELOW", 0)
    assert len(load_index(small.index_dir, verify=None).chunks) > 0
    with pytest.raises(CorruptIndexError, match="checksum"):
        load_index(small.index_dir, verify=True)
    path.write_bytes(bytes(data[:-5]))
    with pytest.raises(CorruptIndexError, match="size"):
        load_index(small.index_dir, verify=None)
