"""The index published to Milvus (real pymilvus, real Milvus Lite, real model): the same answers
as the local files, exact BM25, incremental publishes that readers never see half-written, and
one-line messages for the faults of a store."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest
from documents import REPORT_QUESTIONS

import qa
from qa import milvus
from qa.index import build_index, load_index
from qa.lexical import analyze
from qa.milvus import MilvusProblem, MissingMilvusIndexError, parse_store, publish
from qa.search import Retriever, content_terms

pytestmark = pytest.mark.integration


def qa_cli(*args: str, cwd=None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "qa", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
        env=env,
    )


@pytest.fixture(scope="module")
def published(default_index, tmp_path_factory):
    """The default corpus' index published to a Milvus Lite file."""
    store = f"milvus:{tmp_path_factory.mktemp('milvus') / 'qa.db'}"
    report = publish(load_index(default_index.index_dir), store)
    yield dataclasses.replace(default_index, store=store), report
    milvus.close(parse_store(store))


@pytest.fixture(scope="module")
def both(published, embedder):
    settings, _ = published
    local = Retriever(settings.index_dir, dataclasses.replace(settings, store=""), embedder)
    remote = Retriever(settings.index_dir, settings, embedder)
    return local, remote


def test_publish_writes_every_chunk(published, default_index):
    _, report = published
    n = len(load_index(default_index.index_dir).chunks)
    assert report.generation == 1 and report.chunks == n and report.added == n
    assert report.removed == 0 and not report.rewritten


@pytest.mark.parametrize(("question", "answer"), REPORT_QUESTIONS)
def test_same_hits_as_the_local_index(both, question, answer):
    local, remote = both
    a, b = local.run(question, k=5), remote.run(question, k=5)
    assert answer in b[0].text
    assert [(h.doc, h.start, h.end, h.text) for h in a] == [
        (h.doc, h.start, h.end, h.text) for h in b
    ]
    assert [h.highlights for h in a] == [h.highlights for h in b]
    assert np.allclose([h.score for h in a], [h.score for h in b], atol=1e-4)
    assert np.allclose([h.confidence for h in a], [h.confidence for h in b], atol=1e-4)


def test_english_question_same_hits(both):
    local, remote = both
    q = "By how much did the number of criminal cases fall compared with 2019?"
    assert [h.text for h in local.run(q, 3)] == [h.text for h in remote.run(q, 3)]


def test_bm25_idf_and_coverage_are_the_local_ones(both):
    local, remote = both
    li, ri = local.index, remote.index
    assert [(c.doc, c.ordinal) for c in li.chunks] == [(c.doc, c.ordinal) for c in ri.chunks]
    for q, _ in REPORT_QUESTIONS:
        terms = analyze(q)
        want = li.lexical.scores(terms)
        got = ri.lexical.scores(terms, k=len(ri.chunks))
        assert np.allclose(want, got, rtol=1e-5, atol=1e-5)
        for t in terms[:5]:
            assert ri.lexical.idf(t) == pytest.approx(li.lexical.idf(t))
        ids = np.argsort(-want)[:10]
        cterms = content_terms(q)
        assert np.allclose(li.lexical.coverage(cterms, ids), ri.lexical.coverage(cterms, ids))


def test_documents_and_vectors_round_trip(both):
    local, remote = both
    assert remote.index.documents() == local.index.documents()
    assert np.allclose(remote.index.vectors(), local.index.vectors(), atol=1e-6)


def test_public_retrieve_with_store(published):
    settings, _ = published
    hits = qa.retrieve(REPORT_QUESTIONS[0][0], k=2, store=settings.store)
    assert REPORT_QUESTIONS[0][1] in hits[0].text


def test_republish_unchanged_writes_nothing(published, default_index):
    settings, _ = published
    report = publish(load_index(default_index.index_dir), settings.store)
    assert report.added == 0 and report.removed == 0 and report.generation == 2


DOCS = {
    "a.txt": "黄埔图书馆于2015年3月开放，藏书约120万册。\n\n馆内设有少儿阅览室和自习区，每天开放到晚上九点。",
    "b.md": "# 交通\n\n广州地铁三号线连接番禺与天河，全长六十多公里。\n\n地铁票价按里程计算。",
    "C/c.txt": "The museum opened in 1998 and holds about 40,000 objects.\n\nIt is closed on Mondays.",
}


@pytest.fixture()
def small(tmp_path, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in DOCS.items():
        (corpus / name).parent.mkdir(parents=True, exist_ok=True)
        (corpus / name).write_text(text, encoding="utf-8")
    st = dataclasses.replace(
        qa.DEFAULTS,
        corpus_dir=corpus,
        index_dir=tmp_path / "index",
        store=f"milvus:{tmp_path / 'm.db'}",
    )
    build_index(corpus, st.index_dir, settings=st, embedder=embedder)
    yield st
    milvus.close(parse_store(st.store))


def rows(store: str) -> tuple[int, int]:
    """(chunk rows, aux rows) in the collections, whatever their generation."""
    s = parse_store(store)
    c = milvus.client(s)
    n = [
        len(c.query(name, filter="born >= 0", output_fields=["pk"]))
        for name in (s.collection, s.aux)
    ]
    return n[0], n[1]


def test_incremental_publish(small, embedder):
    st = small
    publish(load_index(st.index_dir), st.store)
    old = load_index(st.index_dir)
    r = Retriever(st.index_dir, st, embedder)
    assert "2015年3月" in r.run("黄埔图书馆什么时候开放？", 1)[0].text
    assert [c.doc for c in r.index.chunks] == [c.doc for c in old.chunks]
    # change one word of a.txt, remove C/c.txt, add d.txt (of about the same length)
    (st.corpus_dir / "a.txt").write_text(DOCS["a.txt"].replace("九点", "十点"), encoding="utf-8")
    (st.corpus_dir / "C/c.txt").unlink()
    (st.corpus_dir / "d.txt").write_text(
        "The zoo opened in 1958 and keeps about 3,000 animals.\n\nIt is closed on Tuesdays.",
        encoding="utf-8",
    )
    build_index(st.corpus_dir, st.index_dir, settings=st, embedder=embedder)
    new = load_index(st.index_dir)
    report = publish(new, st.store)
    # only the chunks whose record changed are written, the removed ones deleted
    before = {json.dumps(dataclasses.asdict(c)) for c in old.chunks}
    after = {json.dumps(dataclasses.asdict(c)) for c in new.chunks}
    assert not report.rewritten, report
    assert (report.added, report.removed) == (len(after - before), len(before - after))
    assert 0 < report.added < len(new.chunks)
    r.refresh()
    assert r.index.generation == 2
    # the chunks in the local index's order (hit.chunk is the same number on both stores)
    assert [(c.doc, c.ordinal) for c in r.index.chunks] == [(c.doc, c.ordinal) for c in new.chunks]
    assert "1958" in r.run("When did the zoo open?", 1)[0].text
    assert "晚上十点" in r.run("图书馆每天开放到几点？", 1)[0].text
    # the removed document is gone from the lexical side as well as the dense one
    assert r.index.lexical.scores(analyze("museum objects")).max() == 0
    assert r.index.lexical.idf("museum") == pytest.approx(new.lexical.idf("museum"))
    assert r.index.lexical.idf("zoo") == pytest.approx(new.lexical.idf("zoo"))
    # BM25 as the rebuilt local index has it, up to the average length kept from the first
    # publish (within AVGDL_DRIFT)
    q = analyze("图书馆每天开放到几点？")
    got, want = r.index.lexical.scores(q, k=len(new.chunks)), new.lexical.scores(q)
    assert list(np.argsort(-got)) == list(np.argsort(-want))
    # the previous generation's rows stay for readers still on it, older ones are deleted
    again = publish(new, st.store)
    assert again.added == again.removed == 0
    assert rows(st.store)[0] == len(new.chunks)


def test_a_killed_publish_is_never_seen(small, embedder, monkeypatch):
    st = small
    publish(load_index(st.index_dir), st.store)
    r = Retriever(st.index_dir, st, embedder)
    before = [(c.doc, c.text) for c in r.index.chunks]
    (st.corpus_dir / "b.md").write_text(
        "# 交通\n\n广州地铁十八号线是最快的地铁。", encoding="utf-8"
    )
    build_index(st.corpus_dir, st.index_dir, settings=st, embedder=embedder)

    c = milvus.client(parse_store(st.store))
    real_upsert = type(c).upsert

    def dies_at_the_switch(self, name, data, *a, **kw):
        if any(row.get("pk") == "current" for row in data):
            raise KeyboardInterrupt  # killed just before the pointer moves
        return real_upsert(self, name, data, *a, **kw)

    monkeypatch.setattr(type(c), "upsert", dies_at_the_switch)
    with pytest.raises(KeyboardInterrupt):
        publish(load_index(st.index_dir), st.store)
    monkeypatch.undo()
    # the new rows are written but no reader sees them: same chunks, same answers
    r.refresh()
    assert r.index.generation == 1
    assert [(c.doc, c.text) for c in r.index.chunks] == before
    assert "十八号线" not in r.run("广州地铁哪条线最快？", 1)[0].text
    # the next publish clears the leftovers and completes
    report = publish(load_index(st.index_dir), st.store)
    assert report.generation == 2
    r.refresh()
    assert "十八号线" in r.run("广州地铁哪条线最快？", 1)[0].text
    assert rows(st.store)[0] == len(load_index(st.index_dir).chunks) + report.removed


def test_cli_build_and_ask_with_store(small, tmp_path):
    st = small
    store = f"milvus:{tmp_path / 'cli.db'}"
    b = qa_cli(
        "build", "--corpus", str(st.corpus_dir), "--index", str(st.index_dir), "--store", store
    )
    assert b.returncode == 0, b.stderr
    assert "published" in b.stdout and "generation 1" in b.stdout
    # the reader needs no local index files
    a = qa_cli(
        "ask", "黄埔图书馆什么时候开放？", "--store", store, "--json", "-k", "1", cwd=tmp_path
    )
    assert a.returncode == 0, a.stderr
    assert "2015年3月" in json.loads(a.stdout)[0]["text"]


def one_line(r: subprocess.CompletedProcess, *words: str) -> str:
    """The single line of a failed command's stderr, which has every one of ``words``."""
    assert r.returncode == 1, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert all(w in lines[0] for w in words), lines[0]
    return lines[0]


def test_cli_faults_are_one_line(small, tmp_path):
    # nothing published there yet
    one_line(
        qa_cli("ask", "问题", "--store", f"milvus:{tmp_path / 'empty.db'}"), "qa build --store"
    )
    # an unreachable server (nothing listens on port 9 of this machine)
    one_line(qa_cli("ask", "问题", "--store", "milvus:http://127.0.0.1:9"), "cannot reach")
    # not a store
    one_line(qa_cli("ask", "问题", "--store", "elastic:x"), "milvus:")
    # a second process on the same Milvus Lite file
    db = tmp_path / "held.db"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys,time; from pymilvus import MilvusClient; MilvusClient(uri=sys.argv[1]); "
            "print('open', flush=True); time.sleep(120)",
            str(db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        one_line(qa_cli("ask", "问题", "--store", f"milvus:{db}"), "another process", "server")
    finally:
        holder.kill()
        holder.wait()


def test_model_and_dimension_mismatch(published, default_index, tmp_path):
    settings, _ = published
    idx = milvus.load(settings.store)

    class OtherModel:
        fingerprint, model_name = "other", "other-model"

    with pytest.raises(qa.index.ModelMismatchError, match="qa build --store"):
        idx.check_model(OtherModel())
    local = load_index(default_index.index_dir)
    manifest = json.loads(json.dumps(local.manifest))
    manifest["model"]["dim"] = 8
    other = types.SimpleNamespace(
        manifest=manifest, chunks=local.chunks, version="v", vectors=local.vectors
    )
    with pytest.raises(MilvusProblem, match="another collection"):
        publish(other, settings.store)
    # the failed publish changed nothing
    assert milvus.read_pointer(parse_store(settings.store))["model"]["dim"] == 384


def test_missing_store_raises(tmp_path):
    with pytest.raises(MissingMilvusIndexError, match="qa build --store"):
        milvus.load(f"milvus:{tmp_path / 'nothing.db'}")
    milvus.close(parse_store(f"milvus:{tmp_path / 'nothing.db'}"))


@pytest.mark.unit
@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("", True),
        ("milvus:qa.db", True),
        ("milvus:http://host:19530#docs_2", True),
        ("milvus:", False),
        ("faiss:index", False),
        ("milvus:qa.db#2bad", False),
    ],
)
def test_parse_store(text, ok):
    if ok:
        parse_store(text)
    else:
        with pytest.raises(ValueError):
            parse_store(text)


@pytest.fixture()
def refusing_server():
    """A gRPC server on 127.0.0.1 that answers every call as a Milvus server with
    authorization on answers a wrong token: UNAUTHENTICATED, with Milvus' text (Milvus Lite
    has no users, so no real server can be run to say it)."""
    from concurrent import futures

    import grpc

    class Refuse(grpc.GenericRpcHandler):
        def service(self, details):
            def refuse(request, context):
                context.abort(
                    grpc.StatusCode.UNAUTHENTICATED,
                    "auth check failure, please check username and password is correct",
                )

            return grpc.unary_unary_rpc_method_handler(refuse)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), handlers=[Refuse()])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"milvus:http://127.0.0.1:{port}"
    server.stop(None)


def test_a_wrong_token_is_one_line_naming_the_token(refusing_server):
    """pymilvus reports a refused token at connection as "Fail connecting ... server
    unavailable"; the message must name the token, not send the user to start the server."""
    token = "wrong-user:wrong-secret-7f3a"
    r = qa_cli("ask", "问题", "--store", refusing_server, env={"QA_MILVUS_TOKEN": token})
    line = one_line(r, "refused the token in QA_MILVUS_TOKEN", "set the right one")
    assert "cannot reach" not in line
    # the token is in no output, not even the verbose log
    v = qa_cli("-v", "ask", "问题", "--store", refusing_server, env={"QA_MILVUS_TOKEN": token})
    assert v.returncode == 1 and "Traceback" not in v.stderr, v.stderr
    for out in (r.stdout, r.stderr, v.stdout, v.stderr):
        assert token not in out and "wrong-secret" not in out
    # no token at all: say that one is wanted
    env = {k: v for k, v in os.environ.items() if k != "QA_MILVUS_TOKEN"}
    bare = subprocess.run(
        [sys.executable, "-m", "qa", "ask", "问题", "--store", refusing_server],
        capture_output=True,
        text=True,
        timeout=600,
        env={**env, "HF_HUB_OFFLINE": "1"},
    )
    one_line(bare, "wants a token: set QA_MILVUS_TOKEN")


def test_credentials_in_the_uri_are_refused():
    """A password on the command line shows in the process list and shell history: refused,
    pointing to QA_MILVUS_TOKEN, without repeating it."""
    for store in ("milvus:http://root:s3cr3t@127.0.0.1:9", "milvus:https://root@db.example:19530"):
        with pytest.raises(ValueError, match="QA_MILVUS_TOKEN") as e:
            parse_store(store)
        assert "s3cr3t" not in str(e.value) and "root" not in str(e.value)
    line = one_line(
        qa_cli("ask", "问题", "--store", "milvus:http://root:s3cr3t@127.0.0.1:9#docs"),
        "export QA_MILVUS_TOKEN=user:password",
        "--store milvus:http://127.0.0.1:9#docs",
    )
    assert "s3cr3t" not in line
    assert parse_store("milvus:./a@b.db").uri == "./a@b.db"  # a Milvus Lite path may have an @


@pytest.mark.unit
def test_messages_never_show_a_password():
    s = milvus.MilvusStore("https://root:secret@db.example:19530")
    assert "secret" not in str(s) and "db.example:19530" in str(s)

    class AuthError(Exception):
        code, message = 1800, "auth check failure, please check username and password"

    msg = milvus.error_message(s, AuthError())
    assert "QA_MILVUS_TOKEN" in msg and "secret" not in msg and "\n" not in msg


@pytest.mark.unit
def test_term_ids_are_stable():
    assert milvus.term_id("图书馆") == milvus.term_id("图书馆") < milvus.TERM_SPACE
    assert len({milvus.term_id(f"t{i}") for i in range(10000)}) >= 9998


def test_publish_reads_the_saved_term_counts_as_analysing_would(default_index):
    """A publish takes each chunk's term counts from the local index's saved frequencies (no
    jieba); they must be what analysing the chunk gives, and an index without them falls back."""
    idx = load_index(default_index.index_dir)
    assert idx.lexical.tfs is not None
    terms_of = milvus.IndexTerms(idx)
    for i, c in enumerate(idx.chunks):
        assert terms_of(i) == milvus.chunk_terms(c), c.text[:40]
    older = dataclasses.replace(idx, lexical=idx.lexical._replace(tfs=None))
    assert milvus.IndexTerms(older)(0) == milvus.chunk_terms(idx.chunks[0])


def test_readers_see_whole_versions_while_publishing(small, embedder):
    """A reader that asks while publishes run sees one whole version at every moment."""
    import threading

    st = small
    versions = []
    for name in ("a.txt", "e.txt"):  # a.txt renamed to e.txt and back: two versions
        for p in st.corpus_dir.glob("[ae].txt"):
            p.unlink()
        (st.corpus_dir / name).write_text(DOCS["a.txt"], encoding="utf-8")
        build_index(st.corpus_dir, st.index_dir, settings=st, embedder=embedder)
        versions.append(load_index(st.index_dir))
    publish(versions[0], st.store)
    doc_sets = [{c.doc for c in v.chunks} for v in versions]
    r = Retriever(st.index_dir, st, embedder)
    done = threading.Event()
    seen: list[tuple[set[str], str]] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            while not done.is_set():
                r.refresh()
                hit = r.run("黄埔图书馆什么时候开放？", 1)[0]
                seen.append(({c.doc for c in r.index.chunks}, hit.doc))
        except BaseException as e:  # reported below
            errors.append(e)

    t = threading.Thread(target=ask)
    t.start()
    try:
        for i in range(4):
            publish(versions[(i + 1) % 2], st.store)
    finally:
        done.set()
        t.join()
    assert not errors, errors
    assert seen and all(docs in doc_sets and doc in docs for docs, doc in seen)


def test_web_api_answers_from_milvus_as_from_files(small, tmp_path, embedder):
    """python app.py --store: publishes the index, then the web API gives the hits that the
    local index gives."""
    import socket

    from gradio_client import Client

    st = small
    store = f"milvus:{tmp_path / 'web.db'}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    args = ["--corpus", str(st.corpus_dir), "--index", str(st.index_dir), "--store", store]
    server = subprocess.Popen(
        [sys.executable, os.path.join(root, "app.py"), *args, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"},
    )
    try:
        log = []
        for line in server.stdout:  # ends when the server exits
            log.append(line)
            if f"127.0.0.1:{port}" in line:
                break
        assert server.poll() is None, "".join(log)
        client = Client(f"http://127.0.0.1:{port}", verbose=False)
        q = "黄埔图书馆什么时候开放？"
        hits = client.predict(q, 3, api_name="/ask")
        local = Retriever(st.index_dir, dataclasses.replace(st, store=""), embedder).run(q, 3)
        assert [(h["doc"], h["start"], h["text"]) for h in hits] == [
            (h.doc, h.start, h.text) for h in local
        ]
    finally:
        server.kill()
        server.wait()
    # what the server published is there for the next reader
    pointer = milvus.read_pointer(parse_store(store))
    assert pointer is not None and pointer["chunks"] == len(load_index(st.index_dir).chunks)
    milvus.close(parse_store(store))


def test_publishing_another_chunker_or_model_over_a_store_is_refused(small, embedder, tmp_path):
    """An index built with other chunking settings or another model would replace every row
    of the collection: refused in one line, nothing changed, until --replace."""
    st = small
    publish(load_index(st.index_dir), st.store)
    store = parse_store(st.store)
    before = milvus.read_pointer(store)
    assert before["chunker"] == load_index(st.index_dir).manifest["chunker"]
    other = dataclasses.replace(st, max_chunk_chars=40, index_dir=tmp_path / "index40")
    build_index(other.corpus_dir, other.index_dir, settings=other, embedder=embedder)
    small_chunks = load_index(other.index_dir)
    with pytest.raises(MilvusProblem) as e:
        publish(small_chunks, st.store)
    assert str(e.value) == (
        f"{st.store} holds an index built with max_chunk_chars=350, this one is built with "
        f"max_chunk_chars=40: publish to another collection (--store {st.store}#NAME), or pass "
        "--replace to qa build to overwrite it"
    )
    # another model (the same name, other vectors: its fingerprint)
    local = load_index(st.index_dir)
    model = {**local.manifest["model"], "fingerprint": "another-model-fingerprint"}
    with pytest.raises(MilvusProblem, match=r"fingerprint another-model-.*--replace"):
        publish(dataclasses.replace(local, manifest={**local.manifest, "model": model}), st.store)
    assert milvus.read_pointer(store) == before
    r = Retriever(st.index_dir, st, embedder)
    assert len(r.index.chunks) == len(local.chunks) < len(small_chunks.chunks)
    # --replace: written as a new generation, readers move to it
    report = publish(small_chunks, st.store, replace=True)
    assert report.generation == 2 and report.added == len(small_chunks.chunks)
    r.refresh()
    assert [c.text for c in r.index.chunks] == [c.text for c in small_chunks.chunks]


def test_a_store_published_before_the_chunker_was_recorded_still_publishes(
    small, embedder, tmp_path
):
    """A pointer without ``chunker`` (an older qa's): unknown, not a difference."""
    st = small
    publish(load_index(st.index_dir), st.store)
    store = parse_store(st.store)
    old = {k: v for k, v in milvus.read_pointer(store).items() if k != "chunker"}
    c = milvus.client(store)
    c.upsert(store.aux, [milvus._aux_row("current", "p", 0, data=json.dumps(old))])
    other = dataclasses.replace(st, max_chunk_chars=40, index_dir=tmp_path / "index40")
    build_index(other.corpus_dir, other.index_dir, settings=other, embedder=embedder)
    assert publish(load_index(other.index_dir), st.store).generation == 2
    assert milvus.read_pointer(store)["chunker"]["max_chunk_chars"] == 40


def test_asking_a_store_built_with_other_settings_says_so(small, embedder, caplog):
    """A store answers with its own chunks and model, as a local index does; settings that
    chose other chunking hear it in one line, the defaults (qa ask has no such options) not."""
    st = small
    publish(load_index(st.index_dir), st.store)
    with caplog.at_level("WARNING", logger="qa"):
        Retriever(st.index_dir, st, embedder).index  # noqa: B018
        assert not caplog.records
        asked = dataclasses.replace(st, max_chunk_chars=40)
        hits = Retriever(st.index_dir, asked, embedder).run("黄埔图书馆什么时候开放？", 1)
    assert "2015年3月" in hits[0].text
    assert [r.getMessage() for r in caplog.records] == [
        f"{st.store} was built with max_chunk_chars=350, not max_chunk_chars=40: it answers "
        f"with its own chunks and model (to rebuild it with these settings: qa build --store "
        f"{st.store} --replace)"
    ]


def test_cli_on_a_store_of_another_chunker_version(small, embedder, monkeypatch):
    """A store published by a qa with another chunker: qa ask answers and says so in one
    line; qa build --store refuses to overwrite it in one line, then overwrites with
    --replace."""
    import qa.index

    st = small
    monkeypatch.setattr(qa.index, "CHUNKER_VERSION", qa.index.CHUNKER_VERSION - 1)
    build_index(st.corpus_dir, st.index_dir, settings=st, embedder=embedder)
    publish(load_index(st.index_dir), st.store)
    monkeypatch.undo()
    milvus.close(parse_store(st.store))  # the file is the subprocesses' now
    old, new = qa.index.CHUNKER_VERSION - 1, qa.index.CHUNKER_VERSION
    q = ("ask", "黄埔图书馆什么时候开放？", "--store", st.store, "--json", "-k", "1")
    a = qa_cli(*q)
    assert a.returncode == 0 and "2015年3月" in json.loads(a.stdout)[0]["text"]
    assert a.stderr.strip().splitlines() == [
        f"WARNING: {st.store} was built with chunker version {old}, not chunker version "
        f"{new}: it answers with its own chunks and model (to rebuild it with these settings: "
        f"qa build --store {st.store} --replace)"
    ]
    build = ("build", "--corpus", str(st.corpus_dir), "--index", str(st.index_dir))
    refused = qa_cli(*build, "--store", st.store)  # the local index is rebuilt first
    assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert refused.stderr.strip().splitlines()[-1] == (
        f"qa: error: {st.store} holds an index built with chunker version {old}, this one is "
        f"built with chunker version {new}: publish to another collection (--store "
        f"{st.store}#NAME), or pass --replace to qa build to overwrite it"
    )
    assert milvus.read_pointer(parse_store(st.store))["generation"] == 1
    milvus.close(parse_store(st.store))
    b = qa_cli(*build, "--store", st.store, "--replace")
    assert b.returncode == 0 and "generation 2" in b.stdout, b.stderr
    a = qa_cli(*q)
    assert a.returncode == 0 and not a.stderr.strip(), a.stderr


def test_a_collection_not_made_by_qa_is_left_alone(small, tmp_path):
    """Collections of the same names made by something else: one line, nothing changed."""
    st = small
    store = parse_store(f"milvus:{tmp_path / 'theirs.db'}")
    c = milvus.client(store)
    c.create_collection("qa", dimension=4)
    c.insert("qa", [{"id": i, "vector": [float(i)] * 4} for i in range(3)])
    fields = c.describe_collection("qa")["fields"]
    with pytest.raises(MilvusProblem) as e:
        publish(load_index(st.index_dir), store)
    assert str(e.value) == (
        f"the collection 'qa' of {store} was not made by qa: publish to another one with "
        f"--store {store}#NAME"
    )
    assert c.list_collections() == ["qa"] and c.describe_collection("qa")["fields"] == fields
    assert len(c.query("qa", filter="id >= 0", output_fields=["id"])) == 3
    # a foreign qa_aux (where a reader looks for the pointer first), from the command line
    c.create_collection("docs_aux", dimension=4)
    milvus.close(store)
    one_line(qa_cli("ask", "问题", "--store", f"{store}#docs"), "'docs_aux'", "not made by qa")
    c = milvus.client(store)
    assert sorted(c.list_collections()) == ["docs_aux", "qa"]
    milvus.close(store)
