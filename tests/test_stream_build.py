"""Builds that stream: a big text file's chunks go to the new index as they are cut (the chunk
store flushing many times within the file) and give the same index as reading it whole; a file
that fails midway is taken out of the store again and skipped; a build stopped midway through a
big file leaves the previous index serving and the next one completes; a folder of thousands of
tiny files builds, lists and answers. ``bench/bench_stream.py`` measures time and memory."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pytest

import qa.chunk
import qa.chunkstore
import qa.corpus
import qa.index
from qa.chunk import Chunk, chunk_text
from qa.chunkstore import FILES, ChunkStore, ChunkWriter
from qa.corpus import CHANGED, UnreadableError
from qa.index import build_index, load_index
from qa.lexical import FILES as LEXICAL_FILES
from qa.lexical import LexicalBuilder
from qa.search import Retriever
from qa.settings import DEFAULTS

ROOT = Path(__file__).resolve().parents[1]
REPORT = (ROOT / "corpus" / "guangzhou-police-five-year-work-report.txt").read_text("utf-8")
PARAS = [p.strip() for p in REPORT.split("\n") if len(p.strip()) > 20]


def _big_text(n: int) -> str:
    """``n`` paragraphs of the report, each numbered (every chunk differs), with headings."""
    out = []
    for i in range(n):
        if i % 25 == 0:
            out.append(f"{'一二三四五六七八九十'[i // 25 % 10]}、第{i // 25 + 1}部分\n\n")
        p = PARAS[i % len(PARAS)]
        out.append(f"第{i}段：{p}\n\n")
    return "".join(out)


def _failing(chunks: Iterable[Chunk], at: int) -> Iterator[Chunk]:
    """``chunks`` up to number ``at``, then the error a file that changed gives."""
    for i, c in enumerate(chunks):
        if i == at:
            raise UnreadableError(CHANGED)
        yield c


@pytest.mark.unit
def test_a_document_that_fails_midway_is_taken_out_of_the_store(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(qa.chunkstore, "_FLUSH_ROWS", 3)  # rows reach the file within a doc
    a = chunk_text(_big_text(8), "a.txt")
    text_b = _big_text(20)
    b = chunk_text(text_b, "b.txt", pages=range(0, len(text_b), 300))  # page breaks too
    c = chunk_text(_big_text(5), "c.txt")
    assert len(b) > 10 and any(ch.page_breaks for ch in b)

    for name in ("mixed", "clean"):
        (tmp_path / name).mkdir()
    mixed = ChunkWriter(tmp_path / "mixed")
    assert mixed.add("a.txt", iter(a)) == len(a)
    for at in (9, 1):  # after rows were flushed to the file, and within the buffer
        with pytest.raises(UnreadableError):
            mixed.add("b.txt", _failing(b, at))
    assert mixed.add("c.txt", iter(c)) == len(c)
    mixed.close()
    clean = ChunkWriter(tmp_path / "clean")
    clean.add("a.txt", a)
    clean.add("c.txt", c)
    clean.close()
    for name in FILES:
        assert (tmp_path / "mixed" / name).read_bytes() == (tmp_path / "clean" / name).read_bytes()
    assert list(ChunkStore(tmp_path / "mixed")) == a + c


def _build(corpus: Path, index: Path, embedder, **kw):  # type: ignore[no-untyped-def]
    st = dataclasses.replace(DEFAULTS, corpus_dir=corpus, index_dir=index)
    return build_index(corpus, index, settings=st, embedder=embedder, **kw)


def _stream_everything(monkeypatch) -> None:
    """Every text file is streamed (tiny prefix), the store flushes every 5 rows, a file
    being read reports every 20 chunks and the lexical postings spill to disk every 200."""
    monkeypatch.setattr(qa.chunk, "STREAM_ABOVE_BYTES", 0)
    monkeypatch.setattr(qa.corpus, "_PREFIX_BYTES", 64)
    monkeypatch.setattr(qa.chunkstore, "_FLUSH_ROWS", 5)
    monkeypatch.setattr(qa.index, "REPORT_CHUNKS", 20)
    monkeypatch.setattr(LexicalBuilder, "PENDING_ROWS", 64)
    monkeypatch.setattr(LexicalBuilder, "MEMORY_POSTINGS", 200)


@pytest.mark.integration
def test_a_big_file_streamed_in_pieces_builds_the_same_index(
    tmp_path, embedder, monkeypatch
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "big.txt").write_text(_big_text(100), encoding="utf-8")
    (corpus / "small.txt").write_text("黄埔图书馆于2015年3月开放，藏书约120万册。\n", "utf-8")
    _build(corpus, tmp_path / "whole", embedder)  # below STREAM_ABOVE_BYTES: read whole
    _stream_everything(monkeypatch)
    messages: list[str] = []
    _build(corpus, tmp_path / "streamed", embedder, progress=lambda f, m: messages.append(m))
    assert "reading big.txt (1/2): 40 chunks" in messages
    whole, streamed = load_index(tmp_path / "whole"), load_index(tmp_path / "streamed")
    assert len(whole.chunks) > 60 and streamed.chunks == whole.chunks
    for name in [*FILES, *LEXICAL_FILES]:
        a, b = (whole.folder / whole.version / name), (streamed.folder / streamed.version / name)
        assert a.read_bytes() == b.read_bytes(), name
    assert np.allclose(streamed.vectors(), whole.vectors(), atol=1e-6)

    def files(idx):  # type: ignore[no-untyped-def]
        return {p: {**d, "indexed_at": 0} for p, d in idx.manifest["files"].items()}

    assert files(streamed) == files(whole)


@pytest.mark.integration
def test_a_build_stopped_or_failing_midway_through_a_big_file(
    tmp_path, embedder, monkeypatch
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "small.txt").write_text("黄埔图书馆于2015年3月开放，藏书约120万册。\n", "utf-8")
    folder = tmp_path / "index"
    _build(corpus, folder, embedder)
    before = load_index(folder)
    big = corpus / "big.txt"
    big.write_text(_big_text(100), encoding="utf-8")
    _stream_everything(monkeypatch)

    class Stopped(Exception):  # as a kill or a MemoryError would stop it
        pass

    def stop(fraction: float, message: str) -> None:
        if message.startswith("reading big.txt") and message.endswith(" 40 chunks"):
            raise Stopped

    with pytest.raises(Stopped):
        _build(corpus, folder, embedder, progress=stop)
    after = load_index(folder)
    assert after.version == before.version and after.chunks == before.chunks
    assert json.loads((folder / "CURRENT").read_text())["version"] == before.version

    # the file changes while it is read: skipped with the reason, the rest is indexed
    def change(fraction: float, message: str) -> None:
        if message.startswith("reading big.txt") and message.endswith(" 20 chunks"):
            with big.open("a", encoding="utf-8") as f:
                f.write("新加的一段。\n")

    report = _build(corpus, folder, embedder, progress=change)
    assert [(s.path, s.reason) for s in report.skipped] == [("big.txt", CHANGED)]
    idx = load_index(folder)
    assert idx.version != before.version and idx.chunks == before.chunks
    assert [d.path for d in idx.documents()] == ["small.txt"]
    assert not list(folder.glob("tmp-*"))  # the stopped build's folder was collected

    report = _build(corpus, folder, embedder)
    assert not report.skipped and report.files_reused == 1
    idx = load_index(folder)
    assert len(idx.chunk_ids("big.txt")) == report.chunks - 1 > 60
    assert [c for c in idx.chunks if c.doc == "big.txt"] == chunk_text(big.read_text(), "big.txt")


FILLER = [
    f"{PARAS[i][:80]}" for i in range(0, 40, 2)
]  # 20 texts shared by most files: embedded once each
FACTS = {
    "07/f0705.txt": "第三号仓库的钥匙由保安科的周立新保管，每天早上七点交接。",
    "13/f1311.txt": "员工食堂的早餐供应时间是六点半到八点半，周末不供应。",
}


@pytest.mark.integration
def test_two_thousand_tiny_files_build_list_and_answer(tmp_path, embedder) -> None:
    corpus = tmp_path / "corpus"
    for i in range(2000):
        rel = f"{i // 100:02d}/f{i:04d}.txt"
        path = corpus / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(FACTS.get(rel, FILLER[i % len(FILLER)]) + "\n", encoding="utf-8")
    folder = tmp_path / "index"
    report = _build(corpus, folder, embedder)
    assert (report.files_read, report.chunks, report.skipped) == (2000, 2000, [])
    assert report.embedded == len(FILLER) + len(FACTS)  # each distinct text once
    idx = load_index(folder)
    docs = idx.documents()
    assert [d.path for d in docs] == sorted(d.path for d in docs) and len(docs) == 2000
    assert idx.chunk_ids("13/f1311.txt") == [1311] and idx.chunks[1311].doc == "13/f1311.txt"
    st = dataclasses.replace(DEFAULTS, corpus_dir=corpus, index_dir=folder)
    hits = Retriever(folder, st, embedder=embedder).run("第三号仓库的钥匙由谁保管？", 3)
    assert hits and hits[0].doc == "07/f0705.txt"
    # one file changed: the other 1999 are taken from the previous version, not read
    (corpus / "00" / "f0000.txt").write_text("会议室的投影仪坏了，已经报修。\n", "utf-8")
    again = _build(corpus, folder, embedder)
    assert (again.files_reused, again.embedded, again.chunks) == (1999, 1, 2000)


@pytest.mark.integration
def test_a_build_out_of_memory_says_so_and_keeps_the_previous_index(
    tmp_path, embedder, monkeypatch, capsys
) -> None:
    import qa.cli
    import qa.lexical

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "small.txt").write_text("黄埔图书馆于2015年3月开放，藏书约120万册。\n", "utf-8")
    folder = tmp_path / "index"
    _build(corpus, folder, embedder)
    before = load_index(folder)
    (corpus / "big.txt").write_text(_big_text(30), encoding="utf-8")

    def no_memory(self, folder):  # type: ignore[no-untyped-def]
        raise MemoryError  # numpy's, when the postings' arrays do not fit

    monkeypatch.setattr(qa.lexical.LexicalBuilder, "write", no_memory)
    with pytest.raises(qa.index.BuildMemoryError, match="previous index stays in use"):
        _build(corpus, folder, embedder)
    code = qa.cli.main(["build", "--corpus", str(corpus), "--index", str(folder)])
    err = capsys.readouterr().err  # progress bars, then one line
    assert code == 1 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("qa: error: not enough memory"), err
    after = load_index(folder)
    assert after.version == before.version and after.chunks == before.chunks


@pytest.mark.integration
def test_a_text_file_past_max_file_bytes_is_streamed_up_to_max_text_bytes(
    tmp_path, embedder, monkeypatch
) -> None:
    """Formats read whole stop at ``max_file_bytes``; a text file is streamed, so only
    ``max_text_bytes`` limits it."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "big.txt").write_text(_big_text(40), encoding="utf-8")
    (corpus / "page.html").write_text("<p>" + "广州" * 5000 + "</p>", encoding="utf-8")
    _stream_everything(monkeypatch)
    small = 8 * 1024  # both files are bigger
    st = dataclasses.replace(DEFAULTS, max_file_bytes=small)
    report = build_index(corpus, tmp_path / "index", settings=st, embedder=embedder)
    assert [(s.path, s.reason) for s in report.skipped] == [("page.html", "larger than 8192 bytes")]
    assert report.files_read == 1 and report.chunks > 20
    st = dataclasses.replace(st, max_text_bytes=small)
    report = build_index(corpus, tmp_path / "index", settings=st, embedder=embedder)
    assert sorted(s.path for s in report.skipped) == ["big.txt", "page.html"]
    assert all(s.reason == "larger than 8192 bytes" for s in report.skipped)
