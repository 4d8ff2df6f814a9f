"""Reliability: big files in bounded memory, builds killed or starved of disk, concurrent
questions during a rebuild, hostile questions, a damaged index and no network.

The real model and index are used where it matters (``integration``); what can be checked
without them is ``unit``. No test asserts a duration or a memory figure of the machine
(``bench/bench_memory.py`` and ``bench/bench_load.py`` measure those); the subprocess timeouts
are only guards against a hang."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
from pathlib import Path

import hypothesis
import pytest
from hypothesis import strategies as hst

import qa.chunk
import qa.corpus
import qa.index
import qa.search
from qa.chunk import (
    chunk_text,
    iter_chunks,
    iter_document_chunks,
    iter_stream_chunks,
    join_chunks,
)
from qa.corpus import CHANGED, UnreadableError, read_document, stream_document
from qa.index import CURRENT, LOCK, LoadedIndex, build_index, build_lock, load_index
from qa.search import Hit, Retriever, clean_question
from qa.settings import DEFAULTS

ROOT = Path(__file__).resolve().parents[1]
REPORT_NAME = "guangzhou-police-five-year-work-report.txt"
REPORT = (ROOT / "corpus" / REPORT_NAME).read_text(encoding="utf-8")
QUESTION = "扫黑除恶成绩连续几年排名全省第一？"
#: a guard against a hung subprocess, not a speed limit
HANG = 900

SMALL = dataclasses.replace(DEFAULTS, max_chunk_chars=40, min_chunk_chars=10, heading_max_chars=12)


def _bare(s: str) -> str:
    return re.sub(r"[\s#›]", "", s)


def _qa(*args: str | bytes) -> list[str | bytes]:
    return [sys.executable, "-m", "qa", *args]


def _run(cmd: list, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, timeout=HANG, check=False)


def _one_error_line(stderr: bytes | str, after_c_noise: bool = False) -> str:
    """The CLI's error: the last stderr line, ``qa: error: ...``, and no traceback.
    ``after_c_noise``: the line may follow what a C library printed without a newline."""
    err = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines and err.count("qa: error:") == 1, err
    last = lines[-1]
    if after_c_noise:
        last = last[last.index("qa: error:") :]
    assert last.startswith("qa: error:"), err
    return last


def _copy_index(src: Path, dst: Path) -> Path:
    """A copy of an index folder (without its lock file)."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(LOCK))
    return dst


# ==========================================================================================
# 1. big files: streaming read and chunking
# ==========================================================================================
_PIECES = [
    "广州公安", "思", "想凝心铸魂", "。", "，", "；", "！", "“", "”", "……", "——", "▶",
    "A/", "一、", "第三章", "# ", "## ", "1. ", "- ", "图/", "文/", "Hello", "world",
    "well-", "known", ".", " ", "  ", "\t", "\n", "\n\n", "\r\n", "\r", "\u3000", "2023",
    "😀", "```", "\x0b", "\u2028", "\n\nIntro\n\n", "\n\nA/平安建设\n\n", "\n\n一、总则\n\n",
    "\n\n# Title\n\n",
]  # fmt: skip


def _split(rng: random.Random, text: str) -> list[str]:
    """``text`` in pieces of random sizes (some empty), as a stream would hand it out."""
    out, i = [], 0
    while i < len(text):
        n = rng.choice([1, 2, 3, 7, 50, 1000])
        out.append(text[i : i + n])
        i += n
        if rng.random() < 0.1:
            out.append("")
    return out


@pytest.mark.unit
@pytest.mark.parametrize("seed", range(3))
def test_stream_chunks_are_the_whole_text_chunks(seed: int) -> None:
    rng = random.Random(seed)
    texts = [REPORT, REPORT.replace("\n", "\r\n"), ""]
    texts += ["".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 150))) for _ in range(200)]
    for text in texts:
        for st in (DEFAULTS, SMALL):
            want = chunk_text(text, "d.txt", st)
            assert list(iter_stream_chunks(_split(rng, text), "d.txt", st)) == want, text[:80]


@pytest.mark.unit
@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(
    text=hst.text(max_size=300) | hst.lists(hst.sampled_from(_PIECES), max_size=80).map("".join),
    cuts=hst.lists(hst.integers(min_value=0, max_value=300), max_size=12),
)
def test_stream_chunks_property(text: str, cuts: list[int]) -> None:
    bounds = sorted({min(c, len(text)) for c in cuts})
    pieces = [text[a:b] for a, b in zip([0, *bounds], [*bounds, len(text)], strict=True)]
    assert "".join(pieces) == text
    assert list(iter_stream_chunks(pieces, "d.txt", SMALL)) == chunk_text(text, "d.txt", SMALL)


_TRAD = "廣州公安堅持不懈用習近平新時代中國特色社會主義思想凝心鑄魂，五年來取得顯著成績。\n\n"
_EN = "The museum opened in 1998 and holds about 40,000 objects. Café crème, naïve façade.\r\n\r\n"
_ASCII = b"The report starts with a long English introduction. " * 4000
#: file contents bigger than the streaming prefix (128 KiB), in every supported encoding
_ENCODED = {
    "utf-8": lambda: (REPORT * 40).encode("utf-8"),
    "utf-8-sig": lambda: b"\xef\xbb\xbf" + (REPORT * 40).encode("utf-8"),
    "utf-8 crlf": lambda: (REPORT * 40).replace("\n", "\r\n").encode("utf-8"),
    "gb18030": lambda: (REPORT * 40).encode("gb18030"),
    "big5": lambda: (_TRAD * 3000).encode("big5"),
    "cp1252": lambda: (_EN * 2000).encode("cp1252"),
    "utf-16": lambda: (REPORT * 40).encode("utf-16"),
    "utf-16-le no bom": lambda: (_EN * 2000).encode("utf-16-le"),
    "utf-32": lambda: (REPORT * 12).encode("utf-32"),
    "ascii, then gb18030": lambda: _ASCII + (REPORT * 3).encode("gb18030"),
    "ascii, then NUL": lambda: _ASCII + b"\x00\x01\x02",
    "utf-8, then garbage": lambda: (REPORT * 40).encode("utf-8") + b"\xff\xfe abc",
    "white space": lambda: b" \r\n\t" * 50_000,
}


def _as_read(path: Path, block: int | None = None) -> tuple:
    """``read_document``'s result (``block`` None) or ``stream_document``'s, comparable."""
    try:
        if block is None:
            d = read_document(path, path.parent)
            return d.path, d.encoding, d.sha256, d.size, d.text
        meta, pieces = stream_document(path, path.parent, block_bytes=block)
        return meta.path, meta.encoding, meta.sha256, meta.size, "".join(pieces)
    except UnreadableError as e:
        return ("skipped", e.reason)


@pytest.mark.unit
@pytest.mark.parametrize("case", list(_ENCODED))
def test_stream_document_reads_like_read_document(tmp_path: Path, case: str) -> None:
    data = _ENCODED[case]()
    assert len(data) > qa.corpus._PREFIX_BYTES
    path = tmp_path / "f.txt"
    path.write_bytes(data)
    want = _as_read(path)
    for block in (7, 4093, 1 << 20):  # blocks cut characters, "\r\n" and BOMs
        assert _as_read(path, block) == want, block


@pytest.mark.unit
def test_stream_rechooses_an_encoding_that_fails_later(tmp_path: Path, caplog) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(_ASCII + (REPORT * 3).encode("gb18030"))
    with caplog.at_level(logging.INFO, logger="qa"):
        meta, pieces = stream_document(path, tmp_path)
    assert meta.encoding == "gb18030"
    assert "not utf-8 after all" in caplog.text  # chosen from the prefix, then ruled out
    assert "".join(pieces) == read_document(path, tmp_path).text


@pytest.mark.unit
def test_streamed_file_that_changes_while_read_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    data = (REPORT * 40).encode("utf-8")
    path.write_bytes(data)
    _, pieces = stream_document(path, tmp_path, block_bytes=4096)
    next(pieces)
    path.write_bytes(data.replace("公安".encode(), "警察".encode()))  # same size, other bytes
    with pytest.raises(UnreadableError, match=re.escape(CHANGED)):
        list(pieces)


@pytest.mark.unit
def test_iter_document_chunks_streams_only_big_files(tmp_path: Path, monkeypatch) -> None:
    streamed: list[Path] = []
    real = qa.chunk.stream_document

    def spy(path, *a, **k):
        streamed.append(Path(path))
        return real(path, *a, **k)

    monkeypatch.setattr(qa.chunk, "stream_document", spy)
    small, big = tmp_path / "small.txt", tmp_path / "big.txt"
    small.write_text(REPORT, encoding="utf-8")
    big.write_bytes((REPORT * 40).encode("gb18030"))
    for path in (small, big):
        meta, chunks = iter_document_chunks(path, tmp_path, stream_above=200_000)
        doc = read_document(path, tmp_path)
        assert (meta.path, meta.encoding, meta.sha256, meta.size) == (
            doc.path,
            doc.encoding,
            doc.sha256,
            doc.size,
        )
        assert list(chunks) == chunk_text(doc.text, doc.path)
    assert streamed == [big]
    # the reader the build uses skips a bad file with its reason, like read_corpus
    (tmp_path / "bad.txt").write_bytes(b"\x00\x01" * 100_000)
    read, skipped = qa.corpus.read_each(tmp_path, qa.chunk.read_chunks)
    assert [m.path for m, _ in read] == ["big.txt", "small.txt"]
    assert [(s.path, s.reason) for s in skipped] == [("bad.txt", qa.corpus.BINARY)]


def _generate(path: Path, mb: float, seed: int = 0) -> int:
    """A UTF-8 Chinese document of about ``mb`` MB: the report's paragraphs shuffled, with
    section headings, English lines and now and then a paragraph far above the chunk size."""
    rng = random.Random(seed)
    paras = [p.strip() for p in REPORT.split("\n") if len(p.strip()) > 20]
    target, size, section = int(mb * 1024 * 1024), 0, 0
    with path.open("w", encoding="utf-8", newline="\n") as f:
        while size < target:
            parts = []
            if rng.random() < 0.05:
                section += 1
                parts.append(f"{'一二三四五六七八九十'[section % 10]}、第{section}部分\n\n")
            if rng.random() < 0.02:
                parts.append("The English summary of this part follows the Chinese text.\n\n")
            if rng.random() < 0.01:
                parts.append("".join(rng.choice(paras) for _ in range(12)) + "\n\n")
            parts += [rng.choice(paras) + "\n" + ("\n" if rng.random() < 0.8 else "")]
            block = "".join(parts)
            f.write(block)
            size += len(block.encode("utf-8"))
    return path.stat().st_size


@pytest.mark.integration  # a 20 MB file: seconds, not milliseconds
def test_twenty_megabytes_stream_in_bounded_memory(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "big.txt"
    size = _generate(path, 20)
    streamed = []
    real = qa.chunk.stream_document
    monkeypatch.setattr(
        qa.chunk, "stream_document", lambda *a, **k: streamed.append(a[0]) or real(*a, **k)
    )

    def digest(chunks) -> tuple[int, str]:
        h, n = hashlib.sha256(), 0
        for c in chunks:
            n += 1
            h.update(f"{c.ordinal}:{c.start}:{c.end}:{c.section}:{c.hash}\n".encode())
        return n, h.hexdigest()

    tracemalloc.start()
    try:
        meta, chunks = iter_document_chunks(path, tmp_path)  # default threshold: streamed
        n, streamed_digest = digest(chunks)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert streamed == [path]
    # the whole-file path holds the bytes and the text (several times the file size)
    assert peak < size / 2, f"peak {peak / 2**20:.1f} MiB for a {size / 2**20:.1f} MiB file"

    doc = read_document(path, tmp_path)
    assert (meta.encoding, meta.sha256, meta.size) == (doc.encoding, doc.sha256, doc.size)
    text = doc.text
    # coverage and offsets: each chunk is its span of the text, the gaps are headings only
    pos = 0
    for i, c in enumerate(iter_document_chunks(path, tmp_path)[1]):
        assert c.ordinal == i and c.doc == "big.txt"
        assert 0 < len(c.text) <= DEFAULTS.max_chunk_chars
        assert pos <= c.start < c.end <= len(text)
        assert _bare(c.section).endswith(_bare(text[pos : c.start])), (i, c)
        assert _bare(c.text) == _bare(text[c.start : c.end]), (i, c)
        pos = c.end
    assert i + 1 == n > 10_000
    assert _bare(text[pos:]) == ""
    # and the same chunks as chunking the whole text
    assert digest(iter_chunks(text, doc.path)) == (n, streamed_digest)


@pytest.mark.integration
def test_build_streams_big_files(tmp_path: Path, embedder, monkeypatch) -> None:
    # every file counts as big, and the prefix is tiny so that even these are streamed
    monkeypatch.setattr(qa.chunk, "STREAM_ABOVE_BYTES", 0)
    monkeypatch.setattr(qa.corpus, "_PREFIX_BYTES", 64)
    streamed = []
    real = qa.corpus._scan
    monkeypatch.setattr(qa.corpus, "_scan", lambda p, *a: streamed.append(p.name) or real(p, *a))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("黄埔图书馆于2015年3月开放，藏书约120万册。\n\n" * 3, "utf-8")
    b = "# 交通\n\n广州地铁三号线连接番禺与天河，全长六十多公里。\r\n地铁票价按里程计算。\r\n"
    (corpus / "b.txt").write_bytes(b.encode("gb18030"))
    (corpus / "c.txt").write_bytes(b"\x00\x01\x02" * 40)
    st = dataclasses.replace(DEFAULTS, corpus_dir=corpus, index_dir=tmp_path / "index")
    report = build_index(corpus, st.index_dir, settings=st, embedder=embedder)
    assert sorted(streamed) == ["a.txt", "b.txt"]
    assert [(s.path, s.reason) for s in report.skipped] == [("c.txt", qa.corpus.BINARY)]
    idx = load_index(st.index_dir)
    for name in ("a.txt", "b.txt"):
        doc = read_document(corpus / name, corpus)
        assert [c for c in idx.chunks if c.doc == name] == chunk_text(doc.text, name)
        info = idx.manifest["files"][name]
        assert (info["encoding"], info["sha256"], info["size"]) == (
            doc.encoding,
            doc.sha256,
            doc.size,
        )


# ==========================================================================================
# 2. builds killed by SIGKILL, and two builds at once
# ==========================================================================================
NEW_DOCS = {
    f"new-{i}.txt": f"第{i}号新增文件：黄埔区第{i}座城市书房于2023年{i}月开放，藏书{i}万册，"
    f"每天开放到晚上{i % 3 + 8}点，市民凭读者证可以借书和还书。\n\n"
    f"该书房还设有少儿阅览区和自习区，共有座位{20 + i}个，周末举办读书会和讲座。"
    for i in range(1, 9)
}
# enough other text that a rebuild takes seconds to embed even with the fast int8 backend
# (about 200 chunks): the kill moments below fall inside it
NEW_DOCS.update(
    {
        f"weather-{i}.txt": "".join(
            f"{i}号气象站第{j}次记录：最高气温{20 + (i + j) % 10}度，最低气温{10 + j % 7}度，"
            f"风力{(i * j) % 5 + 1}级，相对湿度百分之{40 + (i + 3 * j) % 50}。"
            for j in range(8)
        )
        for i in range(200)
    }
)


def _corpus_with_report(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / REPORT_NAME).write_text(REPORT, encoding="utf-8")
    return folder


def _check_intact(folder: Path, embedder, versions: dict[str, set[str]]) -> str:
    """The index in ``folder`` loads completely (every checksum verified), is one of the
    known builds (``versions``: version -> its documents; a version not seen before must hold
    the new corpus) and answers; the build lock is free. Returns the current version."""
    idx = load_index(folder, verify=True)
    docs = {c.doc for c in idx.chunks}
    new_docs = {REPORT_NAME, *NEW_DOCS}
    assert docs == versions.get(idx.version, new_docs), idx.version
    versions[idx.version] = docs
    r = Retriever(folder, dataclasses.replace(DEFAULTS, index_dir=folder), embedder=embedder)
    hits = r.run(QUESTION, 3)
    assert len(hits) == 3 and hits[0].doc == REPORT_NAME
    with build_lock(folder):  # a killed build's flock is released by the kernel
        pass
    return idx.version


def _wait_until(proc: subprocess.Popen, ready, timeout: float = HANG) -> bool:
    """Poll ``ready()`` every millisecond: True when it holds while ``proc`` still runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return proc.poll() is None
        if proc.poll() is not None:
            return False
        time.sleep(0.001)
    raise AssertionError("the build neither got there nor ended")


@pytest.mark.integration
def test_sigkill_during_rebuilds_keeps_a_working_index(tmp_path: Path, embedder) -> None:
    corpus = _corpus_with_report(tmp_path / "corpus")
    folder = tmp_path / "index"
    st = dataclasses.replace(DEFAULTS, corpus_dir=corpus, index_dir=folder)
    build_index(corpus, folder, settings=st, embedder=embedder)
    versions: dict[str, set[str]] = {}
    old = load_index(folder).version
    versions[old] = {REPORT_NAME}
    for name, text in NEW_DOCS.items():  # the rebuild has to embed these
        (corpus / name).write_text(text, encoding="utf-8")

    class Build:
        """A ``qa build`` subprocess whose stderr (the progress bars) is read as it comes."""

        def __init__(self) -> None:
            self.t0 = time.monotonic()
            self.proc = subprocess.Popen(
                _qa("build", "--corpus", str(corpus), "--index", str(folder)),
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            self.err = b""
            self.reader = threading.Thread(target=self._read, daemon=True)
            self.reader.start()

        def _read(self) -> None:
            assert self.proc.stderr is not None
            while block := self.proc.stderr.read1(4096):
                self.err += block

        def lock_taken(self) -> bool:
            try:
                return (folder / LOCK).read_text().strip() == str(self.proc.pid)
            except OSError:
                return False

        def embedding(self) -> bool:  # tqdm's bar has started (plus a little)
            if b"embedding" not in self.err:
                return False
            time.sleep(0.5)
            return True

    def has(prefix: str, known: dict[str, set[str]] | None = None):  # known: read live
        return lambda b: any(
            p.name.startswith(prefix) and p.name not in (known or ()) for p in folder.iterdir()
        )

    moments = [
        ("after 0.5 s", lambda b: time.monotonic() - b.t0 >= 0.5),
        ("after 1.5 s", lambda b: time.monotonic() - b.t0 >= 1.5),
        ("after 3 s", lambda b: time.monotonic() - b.t0 >= 3.0),
        ("lock just taken", Build.lock_taken),
        ("while embedding", Build.embedding),
        ("tmp folder being written", has("tmp-")),
        ("version renamed, pointer not yet replaced", has("v-", versions)),
    ]
    killed = []
    for label, when in moments:
        b = Build()
        try:
            if _wait_until(b.proc, lambda: when(b)):  # noqa: B023
                b.proc.send_signal(signal.SIGKILL)
                killed.append(label)
        finally:
            if b.proc.poll() is None:
                b.proc.kill()
            rc = b.proc.wait(HANG)
            b.reader.join(HANG)
        assert rc in (0, -signal.SIGKILL), (label, rc, b.err[-2000:])
        _check_intact(folder, embedder, versions)
    print(f"killed: {killed}")  # shown with pytest -rP
    # the time-based and lock moments cannot be missed; the write phase can be too short
    assert set(killed) >= {m for m, _ in moments[:5]}, killed

    report = build_index(corpus, folder, settings=st, embedder=embedder)  # a normal build
    assert report.files_read == 1 + len(NEW_DOCS)
    current = _check_intact(folder, embedder, versions)
    assert versions[current] == {REPORT_NAME, *NEW_DOCS}
    assert not [p for p in folder.iterdir() if p.name.startswith("tmp-")]
    hits = Retriever(folder, st, embedder=embedder).run("第3座城市书房有多少个座位？", 1)
    assert hits[0].doc == "new-3.txt"


@pytest.mark.integration
def test_a_new_version_that_fails_to_load_keeps_the_old_one_serving(
    tmp_path: Path, default_index, embedder, monkeypatch, caplog
) -> None:
    """A rebuilt index that cannot be loaded: questions keep being answered from the loaded
    version, the broken one is read once (not at every question), and a later good build is
    picked up."""
    folder = tmp_path / "index"
    shutil.copytree(default_index.index_dir, folder)
    st = dataclasses.replace(default_index, index_dir=folder)
    r = Retriever(folder, st, embedder=embedder)
    assert r.run(QUESTION, 1)[0].doc == REPORT_NAME
    good = (folder / CURRENT).read_bytes()
    version = json.loads(good)["version"]
    broken = folder / "v-broken"
    shutil.copytree(folder / version, broken)
    (broken / qa.index.CHUNKS).write_text("damaged", encoding="utf-8")
    pointer = json.loads(good)
    pointer["version"] = "v-broken"
    (folder / CURRENT).write_text(json.dumps(pointer), encoding="utf-8")
    loads = []
    real_load = qa.search.load_index
    monkeypatch.setattr(
        qa.search, "load_index", lambda *a, **k: loads.append(1) or real_load(*a, **k)
    )
    with caplog.at_level(logging.WARNING, logger="qa"):
        for _ in range(3):
            r.refresh()
            assert r.run(QUESTION, 1)[0].doc == REPORT_NAME
    assert len(loads) == 1 and "keeping the loaded index" in caplog.text
    (folder / CURRENT).write_bytes(good)  # a good version again: picked up
    r.refresh()
    assert r.index.version == version
    # with nothing loaded, the problem is raised
    (folder / CURRENT).write_text(json.dumps(pointer), encoding="utf-8")
    with pytest.raises(qa.index.IndexProblem):
        Retriever(folder, st, embedder=embedder).refresh()


@pytest.mark.integration
def test_two_builds_at_once_one_refuses(tmp_path: Path) -> None:
    corpus = _corpus_with_report(tmp_path / "corpus")
    folder = tmp_path / "index"
    cmd = _qa("build", "--corpus", str(corpus), "--index", str(folder))
    procs = [
        subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=HANG) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 1], [o[1][-2000:] for o in outs]
    loser = next(o for p, o in zip(procs, outs, strict=True) if p.returncode == 1)
    line = _one_error_line(loser[1])
    assert "another build is running" in line and str(folder) in line
    idx = load_index(folder)
    assert {c.doc for c in idx.chunks} == {REPORT_NAME}


# ==========================================================================================
# 3. a full disk in the middle of a build
# ==========================================================================================
_FSIZE_SCRIPT = textwrap.dedent(
    """
    import resource, signal, sys
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    from qa.cli import main
    limit = int(sys.argv[1])
    hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    sys.exit(main(sys.argv[2:]))
    """
)


def _bigger_vocab_corpus(folder: Path) -> None:
    """Few chunks with many distinct words: the lexical files outgrow dense.faiss."""
    rng = random.Random(7)
    chars = sorted({c for c in REPORT if "\u4e00" <= c <= "\u9fff"})
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(3):
        text = "".join(rng.choice(chars) for _ in range(300)) + "。"
        (folder / f"words-{i}.txt").write_text(text, encoding="utf-8")


@pytest.mark.integration
@pytest.mark.parametrize("where", ["lexical save", "dense.faiss (last flush)"])
def test_full_disk_keeps_the_previous_index(tmp_path: Path, embedder, where: str) -> None:
    """A real write failure (``RLIMIT_FSIZE``: EFBIG, as a full disk gives ENOSPC) in a
    ``qa build`` subprocess: one error line, and the previous index stays current."""
    from qa.lexical import FILES, LexicalIndex, analyze

    corpus = _corpus_with_report(tmp_path / "corpus")
    folder = tmp_path / "index"
    st = dataclasses.replace(DEFAULTS, corpus_dir=corpus, index_dir=folder)
    build_index(corpus, folder, settings=st, embedder=embedder)
    before = load_index(folder)
    (corpus / REPORT_NAME).unlink()
    if where == "lexical save":
        _bigger_vocab_corpus(corpus)
    else:  # one short chunk: dense.faiss fits faiss's buffer and fails at its last flush
        (corpus / "one.txt").write_text("只有一句话的新文件。", encoding="utf-8")
    # the file sizes this build will write, to put the limit between them
    chunks = [c for p in sorted(corpus.iterdir()) for c in chunk_text(p.read_text("utf-8"), p.name)]
    dense = 45 + 4 * embedder.dim * len(chunks)
    if where == "lexical save":
        lex = LexicalIndex.build([analyze(c.section + "\n" + c.text) for c in chunks])
        indptr = 128 + 8 * len(lex.indptr)  # np.save: header + int64 data
        assert dense + 512 < indptr, (dense, indptr)
        limit, victim = dense + 256, FILES[0]
    else:
        limit, victim = dense - 200, qa.index.DENSE
    build = ["build", "--corpus", str(corpus), "--index", str(folder)]
    out = _run([sys.executable, "-c", _FSIZE_SCRIPT, str(limit), *build], cwd=tmp_path)
    assert out.returncode == 1, out.stderr.decode()[-3000:]
    # faiss prints its own "close error" (without a newline) before the CLI's line
    line = _one_error_line(out.stderr, after_c_noise=True)
    want = "lexical index" if where == "lexical save" else "incomplete (is the disk full?)"
    assert "cannot write" in line and want in line, line
    tmp = [p for p in folder.iterdir() if p.name.startswith("tmp-")]
    assert len(tmp) == 1 and (tmp[0] / victim).exists()  # it failed where it was meant to
    after = load_index(folder)
    assert after.version == before.version and after.chunks == before.chunks
    assert json.loads((folder / CURRENT).read_text())["version"] == before.version
    # with room again, the next build succeeds and collects the failed one
    report = build_index(corpus, folder, settings=st, embedder=embedder)
    assert report.chunks == len(chunks)
    assert not [p for p in folder.iterdir() if p.name.startswith("tmp-")]


@pytest.mark.integration
@pytest.mark.parametrize("victim", [qa.index.CHUNKS, qa.index.MANIFEST, CURRENT + ".tmp"])
def test_failed_write_keeps_the_previous_index(tmp_path, embedder, monkeypatch, victim) -> None:
    """No space left while streaming the chunks to disk, or writing the manifest or the new
    pointer."""
    import qa.chunkstore

    corpus = _corpus_with_report(tmp_path / "corpus")
    folder = tmp_path / "index"
    st = dataclasses.replace(DEFAULTS, corpus_dir=corpus, index_dir=folder)
    build_index(corpus, folder, settings=st, embedder=embedder)
    before = load_index(folder)
    (corpus / "new-1.txt").write_text(NEW_DOCS["new-1.txt"], encoding="utf-8")
    real = qa.index._write_file
    real_put = qa.chunkstore.ChunkWriter._put
    calls = []

    def full(path: Path, data: bytes) -> None:
        if path.name == victim:
            with path.open("wb") as f:
                f.write(data[: len(data) // 2])
            raise OSError(28, "No space left on device")
        real(path, data)

    def full_put(self, text: str):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) > 10:  # some chunks written, then the disk is full
            raise OSError(28, "No space left on device")
        return real_put(self, text)

    monkeypatch.setattr(qa.index, "_write_file", full)
    if victim == qa.index.CHUNKS:
        monkeypatch.setattr(qa.chunkstore.ChunkWriter, "_put", full_put)
    with pytest.raises(OSError, match="No space left"):
        build_index(corpus, folder, settings=st, embedder=embedder)
    after = load_index(folder)
    assert after.version == before.version and after.chunks == before.chunks
    monkeypatch.setattr(qa.index, "_write_file", real)
    monkeypatch.setattr(qa.chunkstore.ChunkWriter, "_put", real_put)
    build_index(corpus, folder, settings=st, embedder=embedder)
    assert {c.doc for c in load_index(folder).chunks} == {REPORT_NAME, "new-1.txt"}
    leftovers = [p.name for p in folder.iterdir() if p.is_dir()]
    assert len(leftovers) <= 2 and not [n for n in leftovers if n.startswith("tmp-")]


# ==========================================================================================
# 4. questions while a rebuild runs
# ==========================================================================================
def _from(idx: LoadedIndex, hits: list[Hit]) -> bool:
    """True if every hit is the passage its chunk id names in ``idx``."""
    return all(
        all(j < len(idx.chunks) for j in h.chunks)
        and join_chunks([idx.chunks[j] for j in h.chunks]) == h.text
        and idx.chunks[h.chunk].doc == h.doc
        for h in hits
    )


@pytest.mark.integration
def test_questions_during_a_rebuild_are_answered(tmp_path: Path, default_index, embedder):
    corpus = tmp_path / "corpus"
    shutil.copytree(default_index.corpus_dir, corpus)
    folder = _copy_index(default_index.index_dir, tmp_path / "index")
    st = dataclasses.replace(DEFAULTS, corpus_dir=corpus, index_dir=folder)
    r = Retriever(folder, st, embedder=embedder)
    r.warm_up()
    old = r.index
    for name, text in list(NEW_DOCS.items())[:3]:
        (corpus / name).write_text(text, encoding="utf-8")
    questions = [
        QUESTION,
        "第2座城市书房有多少个座位？",
        "微警认证服务平台累计提供认证服务多少次？",
    ]

    built = threading.Event()
    answers: list[tuple[str, float, float, list[Hit]]] = []  # question, asked, answered, hits
    errors: list[BaseException] = []
    times: dict[float, float] = {}  # build progress fraction -> when it was reported

    def slow(fraction: float, message: str) -> None:
        times.setdefault(fraction, time.monotonic())
        time.sleep(0.3)  # widen the window in which questions meet the build

    def rebuild() -> None:
        try:
            build_index(corpus, folder, settings=st, embedder=embedder, progress=slow)
        except BaseException as e:
            errors.append(e)
        finally:
            built.set()

    def asker(n: int) -> None:
        i, after_build = n, 0
        try:
            while after_build < 3:
                q = questions[i % len(questions)]
                i += 1
                done = built.is_set()
                t0 = time.monotonic()
                r.refresh()  # what qa.retrieve and the web UI do before each question
                hits = r.run(q, 3)
                answers.append((q, t0, time.monotonic(), hits))
                after_build += done
        except BaseException as e:
            errors.append(e)

    builder = threading.Thread(target=rebuild)
    askers = [threading.Thread(target=asker, args=(n,)) for n in range(3)]
    for t in [*askers, builder]:
        t.start()
    for t in [builder, *askers]:
        t.join(HANG)
    assert not errors, errors
    assert not builder.is_alive() and not any(t.is_alive() for t in askers)

    new = load_index(folder)
    assert new.version != old.version
    start, writing, done = times[0.0], times[0.9], times[1.0]  # 0.9: no new version yet
    for q, _, _, hits in answers:
        assert len(hits) == 3, q
        assert _from(old, hits) or _from(new, hits), q  # one index or the other, never a mix
    during = [a for a in answers if start < a[1] and a[2] < writing]
    assert during, "no question was answered while the index was being rebuilt"
    assert all(_from(old, hits) for _, t0, t1, hits in answers if t1 < writing)
    later = [hits for _, t0, _, hits in answers if t0 > done]
    assert later and all(_from(new, hits) for hits in later)
    # after the swap, a refreshed retriever and qa.retrieve answer from the new index
    r.refresh()
    assert r.index.version == new.version
    assert r.run(questions[1], 1)[0].doc == "new-2.txt"
    assert qa.retrieve(questions[1], k=1, index=folder)[0].doc == "new-2.txt"


# ==========================================================================================
# 5. bad questions
# ==========================================================================================
BAD_QUESTIONS = {
    "empty": "",
    "blank": " \t\n\u3000 \r\n",
    "100,000 characters": "广州公安扫黑除恶成绩" * 10_000,
    "punctuation only": "？！。，、；：“”……——.,;:!?()[]{}<>/\\|'\"",
    "emoji only": "😀🎉👍🏽🇨🇳🤔🧑‍🚒",
    "control characters": "\x01\x02\x1b[31m扫黑除恶\x7f\x9f\x1b[0m\x08",
    "mixed scripts": "扫黑除恶 ranking как دولة 한국어 ไทย Ελλάδα",
    "lone surrogate": "\ud800",
    "surrogates inside": "扫黑\udcff除恶\ud83d成绩",
    "right-to-left override": "\u202e扫黑除恶成绩排名\u202c",
    "NUL bytes": "扫黑\x00除恶\x00",
    "NUL only": "\x00\x00\x00",
    "zero-width only": "\u200b\u200d\ufeff",
}
#: the questions with nothing left to search for: a ValueError, not hits
EMPTY = {"empty", "blank", "lone surrogate", "NUL only"}


@pytest.mark.unit
@pytest.mark.parametrize("name", list(BAD_QUESTIONS))
def test_clean_question(name: str) -> None:
    if name in EMPTY:
        with pytest.raises(ValueError, match="empty"):
            clean_question(BAD_QUESTIONS[name])
        return
    q = clean_question(BAD_QUESTIONS[name])
    assert q and q == q.strip() and len(q) <= DEFAULTS.max_question_chars
    assert not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 or 0xD800 <= ord(c) < 0xE000 for c in q)
    q.encode("utf-8")  # encodable: the tokenizer and the JSON output take it


def _guarded(fn, *args):
    """``fn(*args)`` in a thread: its result, or the exception it raised (a hang fails)."""
    out: list = []

    def run() -> None:
        try:
            out.append(fn(*args))
        except BaseException as e:
            out.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(HANG)
    assert not t.is_alive(), f"{fn.__name__} hung"
    return out[0]


@pytest.mark.integration
def test_bad_questions_through_retriever(default_index, embedder) -> None:
    r = Retriever(default_index.index_dir, default_index, embedder=embedder)
    for name, question in BAD_QUESTIONS.items():
        result = _guarded(r.run, question, 3)
        if name in EMPTY:
            assert isinstance(result, ValueError), (name, result)
            assert "empty" in str(result)
        else:
            assert isinstance(result, list) and len(result) == 3, (name, result)
            assert all(0.0 <= h.confidence <= 1.0 for h in result)
            json.dumps([h.to_dict() for h in result], ensure_ascii=False).encode("utf-8")


@pytest.mark.integration
def test_bad_questions_through_cli(default_index, capsys) -> None:
    from qa.cli import main

    for name, question in BAD_QUESTIONS.items():
        args = ["ask", question, "--index", str(default_index.index_dir), "-k", "2"]
        rc = _guarded(main, args)
        out, err = capsys.readouterr()
        if name in EMPTY:
            assert rc == 1, name
            assert _one_error_line(err) == (
                "qa: error: the question is empty: type a question about the documents"
            )
        else:
            assert rc == 0 and not err, (name, err)
            assert "[1]" in out and "[2]" in out, name


@pytest.mark.integration
def test_bad_questions_as_real_command_lines(tmp_path: Path, default_index) -> None:
    """Arguments as the shell gives them: undecodable bytes (Python reads them as lone
    surrogates), a right-to-left override, control characters, 100,000 characters."""
    index = str(default_index.index_dir)
    out = _run(_qa("ask", b"\xff\xfe\x80", "--index", index), cwd=tmp_path)
    assert out.returncode == 1
    assert "the question is empty" in _one_error_line(out.stderr)

    # 100,000 characters: undecodable bytes, an override and a control character among words
    long_q = "扫黑除恶".encode() + b"\xff" + "\u202e成绩\x01".encode() + b" police" * 14_284
    out = _run(_qa("ask", long_q, "--index", index, "--json", "-k", "2"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    assert b"Traceback" not in out.stderr
    hits = json.loads(out.stdout)
    assert len(hits) == 2 and hits[0]["doc"] == REPORT_NAME


# ==========================================================================================
# 6. a missing or damaged index, through the CLI
# ==========================================================================================
@pytest.mark.integration
def test_cli_missing_and_truncated_index(tmp_path: Path, default_index) -> None:
    out = _run(_qa("ask", QUESTION, "--index", str(tmp_path / "nothing")), cwd=tmp_path)
    assert out.returncode == 1
    line = _one_error_line(out.stderr)
    assert "no index" in line and "qa build" in line, line

    folder = _copy_index(default_index.index_dir, tmp_path / "index")
    version = json.loads((folder / CURRENT).read_text())["version"]
    dense = folder / version / qa.index.DENSE
    dense.write_bytes(dense.read_bytes()[: dense.stat().st_size // 3])
    out = _run(_qa("ask", QUESTION, "--index", str(folder)), cwd=tmp_path)
    assert out.returncode == 1
    line = _one_error_line(out.stderr)
    assert "dense.faiss" in line and "qa build" in line, line


# ==========================================================================================
# 8. no network
# ==========================================================================================
@pytest.mark.integration
def test_ask_works_with_the_network_unreachable(tmp_path: Path, default_index) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")
    }
    dead = "http://127.0.0.1:9"  # the discard port: nothing listens, connections fail at once
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        env[var] = dead
    env["NO_PROXY"] = env["no_proxy"] = ""
    index = _copy_index(default_index.index_dir, tmp_path / "index")
    out = _run(_qa("ask", QUESTION, "--index", str(index), "--json", "-k", "3"), tmp_path, env)
    assert out.returncode == 0, out.stderr.decode()[-3000:]
    hits = json.loads(out.stdout)
    assert len(hits) == 3 and hits[0]["doc"] == REPORT_NAME
    assert "五年" in hits[0]["text"]
