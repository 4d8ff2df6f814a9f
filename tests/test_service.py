"""The service core (qa/service.py): validation and the answer decision (unit), and with the
real model and index: many threads asking at once, a broken rebuilt index that keeps the
loaded one serving, an index rebuilt with another backend picked up without a restart, the
cached comparison of the corpus with the index, and one rebuild at a time."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from qa.service import (
    MAX_K,
    QAService,
    ReadOnlyError,
    RebuildRunning,
    ShownAnswer,
    check_k,
    check_question,
    shown_answer,
)
from qa.settings import DEFAULTS


def make_hit(text, highlights=(), answer=None, confidence=0.9):
    from qa.search import Hit

    return Hit(text, 1.0, "a.txt", "", 0, len(text), list(highlights), answer, confidence, 0)


# ------------------------------------------------------------------------------------------
# unit
# ------------------------------------------------------------------------------------------
@pytest.mark.unit
@pytest.mark.parametrize("k", [0, -1, 10**9, MAX_K + 1, True, "3", 2.5, None, [3]])
def test_bad_k_is_refused(k):
    with pytest.raises(ValueError, match="k must"):
        check_k(k)


@pytest.mark.unit
def test_good_k():
    assert check_k(1) == 1 and check_k(MAX_K) == MAX_K and check_k(3.0) == 3


@pytest.mark.unit
def test_bad_questions_are_refused():
    with pytest.raises(ValueError, match="empty"):
        check_question(" \t\x00 ")
    with pytest.raises(ValueError, match="text"):
        check_question(42)
    with pytest.raises(ValueError, match="too long: 2001"):
        check_question("问" * 2001)
    assert check_question("问" * 2000 + "   ") == "问" * 2000 + "   "
    assert check_question("问" * 2001, whole=False) == "问" * 2001  # cut later, as before


@pytest.mark.unit
def test_shown_answer_is_one_decision():
    t = "黄埔图书馆于2015年3月开放。"
    words = make_hit(t, [(0, len(t))], (6, 13), 0.9)
    assert shown_answer([words], 0.5) == ShownAnswer(True, "2015年3月", True)
    sentence = make_hit(t, [(0, len(t))], None, 0.9)  # confident, no answer words
    assert shown_answer([sentence], 0.5) == ShownAnswer(True, t, False)
    weak = make_hit(t, [(0, len(t))], (6, 13), 0.2)
    assert shown_answer([weak], 0.5) == ShownAnswer(False, None, False)
    assert shown_answer([], 0.5) == ShownAnswer(False, None, False)


@pytest.mark.unit
def test_retrievers_are_keyed_by_settings(tmp_path):
    from qa.search import get_retriever

    a = get_retriever(tmp_path, DEFAULTS)
    assert get_retriever(tmp_path, DEFAULTS) is a
    other = dataclasses.replace(DEFAULTS, window=0)
    b = get_retriever(tmp_path, other)
    assert b is not a and b.settings.window == 0
    assert get_retriever(str(tmp_path / "." / ""), DEFAULTS) is a  # the same folder


@pytest.mark.unit
def test_read_only_service_refuses_writes(tmp_path):
    st = dataclasses.replace(DEFAULTS, corpus_dir=tmp_path / "c", index_dir=tmp_path / "i")
    svc = QAService(st, writable=False)
    up = tmp_path / "x.txt"
    up.write_text("x", encoding="utf-8")
    with pytest.raises(ReadOnlyError):
        svc.save_uploads([up])
    with pytest.raises(ReadOnlyError):
        svc.rebuild()
    with pytest.raises(ReadOnlyError):
        svc.start_rebuild()
    assert not (tmp_path / "c").exists()
    assert svc.rebuild_status().state == "idle"


# ------------------------------------------------------------------------------------------
# integration: the real model and index
# ------------------------------------------------------------------------------------------
ENGLISH = [
    "How much did the number of criminal cases fall compared with 2019?",
    "How many years in a row did Guangzhou rank first in the province against organised crime?",
    "How many registered users does the WeChat police authentication platform have?",
    "How many public services can be handled in the Sui Hao Ban app?",
    "Which district bureau's case handling centre became a national model?",
    "What did the Guangzhou police do to keep night-time crowds safe?",
    "How did the police improve the public's sense of security?",
    "What political education campaigns did the police carry out?",
    "How many gang organisations were broken up?",
    "How many police officers received awards?",
    "What is the traffic police doing about road safety?",
    "How does the police service help companies?",
    "What happened to telecom fraud cases?",
    "How many people were arrested for drug crimes?",
    "What new technology did the police use?",
    "How did the police handle the pandemic?",
]


@pytest.fixture
def index_copy(default_index, tmp_path):
    """The default corpus's index, copied (tests change it)."""
    shutil.copytree(default_index.index_dir, tmp_path / "index")
    shutil.copytree(default_index.corpus_dir, tmp_path / "corpus")
    return dataclasses.replace(
        default_index, index_dir=tmp_path / "index", corpus_dir=tmp_path / "corpus"
    )


def _key(answer):
    return [(h.doc, h.chunk, h.highlights, h.answer, round(h.confidence, 6)) for h in answer.hits]


@pytest.mark.integration
def test_sixteen_threads_asking_at_once(default_index):
    """16 distinct English questions at once (English over Chinese text embeds sentences for
    highlighting: the most encoding per question) give the answers they get one at a time."""
    assert len(set(ENGLISH)) == 16
    one = QAService(default_index)
    alone = {q: _key(one.ask(q, 3)) for q in ENGLISH}
    # a fresh retriever (its caches cold), all 16 answered at once (not 4 at a time)
    svc = QAService(dataclasses.replace(default_index, concurrent_questions=16))
    barrier = threading.Barrier(16)

    def ask(q):
        barrier.wait()
        return q, _key(svc.ask(q, 3))

    with ThreadPoolExecutor(16) as pool:
        together = dict(pool.map(ask, ENGLISH))
    assert together == alone


@pytest.mark.integration
def test_broken_rebuilt_index_keeps_the_old_one_serving(index_copy, caplog):
    svc = QAService(index_copy)
    q = "扫黑除恶成绩连续几年排名全省第一？"
    before = _key(svc.ask(q, 2))
    version = svc.retriever.index.version
    # a "rebuild" whose files are damaged becomes current
    folder = index_copy.index_dir
    broken = folder / "v-broken"
    shutil.copytree(folder / version, broken)
    (broken / "dense.faiss").write_bytes(b"not a faiss index")
    pointer = json.loads((folder / "CURRENT").read_text(encoding="utf-8"))
    (folder / "CURRENT").write_text(
        json.dumps({**pointer, "version": "v-broken"}), encoding="utf-8"
    )
    with caplog.at_level("WARNING", logger="qa"):
        assert _key(svc.ask(q, 2)) == before
        assert _key(svc.ask(q, 2)) == before
    assert svc.retriever.index.version == version
    assert sum("keeping the loaded index" in r.message for r in caplog.records) == 1
    assert svc.documents().version == version
    # a good rebuild afterwards is picked up
    report = svc.rebuild()
    assert svc.retriever.index.version == report.version != version
    assert _key(svc.ask(q, 2))[0][0] == before[0][0]


def _point_at(folder: Path, version: str) -> None:
    """Make ``version`` (a folder with a sound manifest) the index's current one."""
    raw = (folder / version / "manifest.json").read_bytes()
    pointer = {"version": version, "manifest_sha256": hashlib.sha256(raw).hexdigest()}
    (folder / "CURRENT").write_text(json.dumps(pointer), encoding="utf-8")


@pytest.mark.integration
def test_rebuilt_index_whose_model_cannot_load_keeps_the_old_one_serving(
    index_copy, caplog, monkeypatch
):
    """A new version whose manifest (valid checksums) names a model that does not exist: the
    loaded index keeps answering, the version is tried once (not at every question, not by
    every thread asking at once) and one warning says why."""
    import qa.search

    svc = QAService(index_copy)
    q = "扫黑除恶成绩连续几年排名全省第一？"
    before = _key(svc.ask(q, 2))
    version = svc.retriever.index.version
    folder = index_copy.index_dir
    shutil.copytree(folder / version, folder / "v-nomodel")
    manifest = json.loads((folder / "v-nomodel" / "manifest.json").read_text(encoding="utf-8"))
    manifest["model"]["name"] = "no-such-org/no-such-model"
    (folder / "v-nomodel" / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    _point_at(folder, "v-nomodel")
    tries = []
    real_load = qa.search.load_index
    monkeypatch.setattr(
        qa.search, "load_index", lambda *a, **k: tries.append(1) or real_load(*a, **k)
    )
    barrier = threading.Barrier(4)

    def ask(_):
        barrier.wait()
        return _key(svc.ask(q, 2))

    with caplog.at_level("WARNING", logger="qa"):
        with ThreadPoolExecutor(4) as pool:
            assert list(pool.map(ask, range(4))) == [before] * 4
        assert _key(svc.ask(q, 2)) == before
        assert svc.documents().version == version
    assert svc.retriever.index.version == version and len(tries) == 1
    warnings = [r.getMessage() for r in caplog.records if "keeping the loaded index" in r.message]
    assert len(warnings) == 1 and "no-such-org/no-such-model" in warnings[0], warnings
    # a good rebuild afterwards is picked up
    report = svc.rebuild()
    assert svc.retriever.index.version == report.version != version
    assert _key(svc.ask(q, 2))[0][0] == before[0][0]


@pytest.mark.integration
def test_index_rebuilt_with_another_backend_is_picked_up(index_copy):
    """An index rebuilt by another process with other vectors (fp32 ONNX instead of int8: a
    different fingerprint) is queried with the matching embedder, no restart."""
    from qa.index import build_index

    svc = QAService(index_copy)
    q = "微警认证服务平台累计提供认证服务多少次？"
    first = svc.ask(q, 1)
    assert svc.retriever.embedder.backend == "onnx-int8"
    fp32 = dataclasses.replace(index_copy, backend="onnx")
    build_index(index_copy.corpus_dir, index_copy.index_dir, settings=fp32)
    again = svc.ask(q, 1)
    assert svc.retriever.embedder.backend == "onnx"
    assert "+onnx-int8" not in svc.retriever.index.manifest["model"]["fingerprint"]
    assert again.hits[0].doc == first.hits[0].doc and again.hits[0].text == first.hits[0].text


@pytest.mark.integration
def test_documents_compare_with_the_corpus_only_after_changes(index_copy, monkeypatch):
    import qa.index

    calls = []
    real = qa.index.stale_reason
    monkeypatch.setattr(qa.index, "stale_reason", lambda *a: calls.append(1) or real(*a))
    svc = QAService(index_copy)
    view = svc.documents()
    assert view.stale is None and view.error is None and len(view.documents) == 1
    assert svc.documents().stale is None
    assert len(calls) == 1  # the second listing read no file
    (index_copy.corpus_dir / "new.txt").write_text("新的文档。", encoding="utf-8")
    assert "1 file(s) added" in svc.documents().stale
    assert len(calls) == 2


@pytest.mark.integration
def test_documents_hash_only_the_files_that_changed(tmp_path, embedder, monkeypatch):
    """The comparison with the corpus hashes a file only when its state (size, times, inode)
    changed since the last one, and not at all when its size differs from the manifest's;
    the start-up check (prepare_index) leaves the first listing nothing to hash."""
    import qa.index
    from qa.index import build_index
    from qa.service import prepare_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    names = [f"doc-{i}.txt" for i in range(5)]
    for i, name in enumerate(names):
        (corpus / name).write_text(f"第{i}份文档：南沙天文台每年举办观星开放日。", encoding="utf-8")
    (corpus / "blank.txt").write_text("  \n", encoding="utf-8")  # skipped: no text
    st = dataclasses.replace(DEFAULTS, corpus_dir=corpus, index_dir=tmp_path / "index")
    assert build_index(corpus, st.index_dir, settings=st, embedder=embedder).skipped
    everything = sorted([*names, "blank.txt"])
    hashed: list[str] = []
    real = qa.index.file_sha256

    def counting(path):
        if Path(path).parent == corpus:  # not the index's own files, checked when it loads
            hashed.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(qa.index, "file_sha256", counting)

    def listing(svc):
        hashed.clear()
        return svc.documents().stale

    assert listing(QAService(st)) is None and sorted(hashed) == everything  # nothing known yet
    svc = QAService(st)
    hashed.clear()
    prepare_index(st, io.StringIO(), hashes=svc.file_hashes)
    assert sorted(hashed) == everything
    assert listing(svc) is None and hashed == []
    doc = corpus / "doc-2.txt"
    original = doc.read_bytes()
    doc.write_text(original.decode().replace("南沙", "北沙"), encoding="utf-8")  # same size
    assert "1 changed" in listing(svc) and hashed == ["doc-2.txt"]
    (corpus / "doc-3.txt").write_text("另一个长度。", encoding="utf-8")
    assert "2 changed" in listing(svc) and hashed == []  # another size: not read
    (corpus / "new.txt").write_text("新的文档。", encoding="utf-8")
    assert "1 file(s) added" in listing(svc) and hashed == []
    mtime = doc.stat().st_mtime_ns
    doc.write_bytes(original)  # back as built, same size, its time set back: ctime moved
    os.utime(doc, ns=(mtime, mtime))
    assert "1 changed" in listing(svc) and hashed == ["doc-2.txt"]
    (corpus / "blank.txt").write_text("\t\n", encoding="utf-8")  # a skipped file, same size
    assert "2 changed" in listing(svc) and hashed == ["blank.txt"]


@pytest.mark.integration
def test_one_rebuild_at_a_time(index_copy):
    svc = QAService(index_copy)
    for i in range(12):  # something to embed, so that the rebuild takes a while
        (index_copy.corpus_dir / f"extra-{i}.txt").write_text(
            f"第{i}号补充材料。" + "南沙天文台每年举办观星开放日，市民可以预约参观。" * 20,
            encoding="utf-8",
        )
    started = threading.Event()
    release = threading.Event()
    done: list = []

    def progress(_f, _m):
        started.set()
        release.wait(60)

    t = threading.Thread(target=lambda: done.append(svc.rebuild(progress)))
    t.start()
    assert started.wait(120)
    with pytest.raises(RebuildRunning) as e:
        svc.start_rebuild()
    assert e.value.status.state == "running" and e.value.status.started is not None
    release.set()
    t.join(600)
    status = svc.rebuild_status()
    assert status.state == "done" and "indexed 13 file(s)" in status.summary
    assert done and svc.retriever.index.version == done[0].version
    assert Path(svc.settings.index_dir / done[0].version).is_dir()


@pytest.mark.unit
def test_cli_and_page_show_the_same_answer_line(monkeypatch, capsys):
    """A confident passage without answer words: both show its sentence as the answer (the
    CLI used to show no answer line where the page showed the sentence)."""
    import qa.search
    from qa.cli import main
    from qa.service import Answer
    from qa.ui import render_answer

    t = "黄埔图书馆每周开放七天。馆内设有少儿阅览区。"
    hits = [make_hit(t, [(0, 12)], None, 0.9)]
    shown = shown_answer(hits, DEFAULTS.answer_threshold)
    monkeypatch.setattr(qa.search, "get_retriever", lambda *a: None)
    monkeypatch.setattr(QAService, "__init__", lambda self, *a, **k: None)
    monkeypatch.setattr(QAService, "ask", lambda self, q, k: Answer(q, q, hits, shown))
    assert main(["ask", "黄埔图书馆开放几天？"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Answer: 黄埔图书馆每周开放七天。\n")
    page = render_answer(hits, DEFAULTS.answer_threshold)
    assert '答案 / Answer: <strong class="ans">黄埔图书馆每周开放七天。</strong>' in page
