"""The HTTP server (qa/api.py): fast unit tests of the access rules, the sign-in throttle and
the Basic credentials check, then the real server (``app.py`` in a subprocess) driven with
``httpx``, ``gradio_client``, raw sockets and Debian's chromium: sign-in for the page and the
API, bad requests, repeated wrong passwords, a rebuild asked for twice, clients that
disconnect mid-answer, and a non-loopback server without sign-in that answers questions
only."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from documents import CHROMIUM, CHROMIUM_FLAGS

from qa.api import LoginThrottle, check_basic, decide_access, is_loopback, read_users

ROOT = Path(__file__).resolve().parents[1]
ALICE = ("alice", "s3cret:with:colons")
BOB = ("bob", "hunter2")

LIBRARY = """# 黄埔区公共文化设施

黄埔图书馆于2015年3月开放，藏书约120万册。馆内设有少儿阅览区、电子阅览室和地方文献专区，每周开放七天，年接待读者超过一百万人次。

黄埔区还建成了二十多个城市书房，与区图书馆实行通借通还，市民凭读者证可以在任一书房借书和还书。
"""
MUSEUM = """# 广州博物馆

广州博物馆位于越秀山镇海楼，1929年开馆，是中国最早建立的城市博物馆之一。馆内陈列广州两千多年的城市历史文物。
"""
PARK = """# 海珠湿地公园

海珠湿地公园位于广州市海珠区，是城市中央的国家湿地公园。公园的观鸟屋于2019年建成，每年冬季有上万只候鸟在此停留。
"""


# ------------------------------------------------------------------------------------------
# unit
# ------------------------------------------------------------------------------------------
@pytest.mark.unit
def test_access_rules():
    users = {"a": "b"}
    assert decide_access("127.0.0.1", {}).writable
    assert decide_access("localhost", {}).notice == ""
    public = decide_access("0.0.0.0", {})
    assert not public.writable and "questions only" in public.notice and "--auth" in public.notice
    assert decide_access("0.0.0.0", {}, allow_write=True).writable
    assert "anyone" in decide_access("0.0.0.0", {}, allow_write=True).notice
    assert decide_access("0.0.0.0", users).writable
    assert not decide_access("127.0.0.1", users, read_only=True).writable
    assert not decide_access("0.0.0.0", {}, read_only=True, allow_write=True).writable
    assert is_loopback("::1") and not is_loopback("::") and not is_loopback("example.org")


@pytest.mark.unit
def test_read_users(tmp_path):
    f = tmp_path / "users"
    f.write_text("# team\ncarol:pw one\n\n dave : x:y \n", encoding="utf-8")
    users = read_users(["alice:a:b"], env={"QA_AUTH": "bob:pw"}, file=f)
    assert users == {"alice": "a:b", "bob": "pw", "carol": "pw one", "dave": " x:y"}
    assert read_users([], env={}) == {}
    for bad in ("alice", "alice:", ":pw"):
        with pytest.raises(ValueError, match="USER:PASSWORD"):
            read_users([bad], env={})
    f.write_text("ok:1\nnot a user\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2"):
        read_users([], env={}, file=f)
    with pytest.raises(ValueError, match="cannot read"):
        read_users([], env={}, file=tmp_path / "missing")


@pytest.mark.unit
def test_basic_credentials():
    users = dict([ALICE, BOB])

    def basic(user, pw):
        return "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()

    assert check_basic(basic(*ALICE), users) == "alice"
    assert check_basic(basic(*BOB), users) == "bob"
    assert check_basic(basic("alice", "hunter2"), users) is None  # bob's password
    assert check_basic(basic("alice", ""), users) is None
    assert check_basic("Basic !!!", users) is None
    assert check_basic("Bearer x", users) is None
    assert check_basic(None, users) is None


@pytest.mark.unit
def test_throttle_slows_down_repeated_failures():
    now = [1000.0]
    t = LoginThrottle(free=3, base=1.0, cap=8.0, forget=100.0, clock=lambda: now[0])
    for _ in range(3):
        assert t.wait_time("a") == 0
        t.failed("a")
    assert t.wait_time("a") == 1.0 and t.wait_time("b") == 0  # per address
    t.failed("a")
    assert t.wait_time("a") == 2.0
    now[0] += 1.5
    assert t.wait_time("a") == 0.5
    for _ in range(10):
        t.failed("a")
    assert t.wait_time("a") == 8.0  # capped
    now[0] += 101
    assert t.wait_time("a") == 0  # forgotten after a quiet while
    t.failed("a")
    t.succeeded("a")
    assert t.wait_time("a") == 0


# ------------------------------------------------------------------------------------------
# integration: the real server
# ------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``app.py`` with ``args`` in a subprocess, its output in ``log``."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = log
        self._out = log.open("wb")
        cmd = [sys.executable, str(ROOT / "app.py"), *args, "--port", str(self.port)]
        full_env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1")
        full_env.pop("QA_AUTH", None)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=full_env, stdout=self._out, stderr=subprocess.STDOUT
        )
        try:
            self._wait()
        except BaseException:
            self.stop()
            raise

    def _wait(self, timeout: float = 600) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app.py exited with {self.proc.returncode}:\n{self.text()}")
            try:
                if httpx.get(self.url + "api/openapi.json", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise RuntimeError(f"app.py did not answer within {timeout} s:\n{self.text()}")

    def text(self) -> str:
        if not self._out.closed:
            self._out.flush()
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self._out.close()


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    work = tmp_path_factory.mktemp("api-auth")
    corpus = work / "corpus"
    corpus.mkdir()
    (corpus / "library.txt").write_text(LIBRARY, encoding="utf-8")
    (corpus / "museum.txt").write_text(MUSEUM, encoding="utf-8")
    args = ["--corpus", str(corpus), "--index", str(work / "index"), "--auth", ":".join(ALICE)]
    server = Server(args, work / "server.log", env={"QA_AUTH": ":".join(BOB)})
    server.corpus, server.index = corpus, work / "index"  # type: ignore[attr-defined]
    yield server
    server.stop()
    assert "Traceback" not in server.text()


@pytest.fixture(scope="module")
def open_server(tmp_path_factory):
    """On every address, no sign-in: questions only."""
    work = tmp_path_factory.mktemp("api-open")
    corpus = work / "corpus"
    corpus.mkdir()
    (corpus / "park.txt").write_text(PARK, encoding="utf-8")
    args = ["--corpus", str(corpus), "--index", str(work / "index"), "--host", "0.0.0.0"]
    server = Server(args, work / "server.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def read_only_server(tmp_path_factory, embedder):
    """``--read-only`` on loopback, no sign-in, over an index built beforehand (a read-only
    server builds none)."""
    from qa.index import build_index
    from qa.settings import DEFAULTS

    work = tmp_path_factory.mktemp("api-read-only")
    corpus, index = work / "corpus", work / "index"
    corpus.mkdir()
    (corpus / "museum.txt").write_text(MUSEUM, encoding="utf-8")
    (corpus / "park.txt").write_text(PARK, encoding="utf-8")
    st = dataclasses.replace(DEFAULTS, corpus_dir=corpus, index_dir=index)
    build_index(corpus, index, settings=st, embedder=embedder)
    server = Server(["--corpus", str(corpus), "--index", str(index), "--read-only"], work / "log")
    server.corpus, server.index = corpus, index  # type: ignore[attr-defined]
    yield server
    server.stop()
    assert "Traceback" not in server.text()


def _client(server, auth=ALICE):
    import httpx

    return httpx.Client(base_url=server.url, auth=auth, timeout=120)


@pytest.mark.integration
def test_api_needs_the_same_users(auth_server):
    import httpx

    body = {"question": "黄埔图书馆是哪一年开放的？", "k": 1}
    r = httpx.post(auth_server.url + "api/ask", json=body, timeout=60)
    assert r.status_code == 401 and "Basic" in r.headers["www-authenticate"]
    assert "sign in" in r.json()["error"]
    r = httpx.post(auth_server.url + "api/ask", json=body, auth=("alice", "wrong"), timeout=60)
    assert r.status_code == 401 and r.json() == {"error": "wrong user or password"}
    for user in (ALICE, BOB):  # --auth and $QA_AUTH
        with _client(auth_server, user) as c:
            r = c.post("api/ask", json=body)
            assert r.status_code == 200, r.text
            assert r.json()[0]["doc"] == "library.txt"
    for path in ("api/documents", "api/rebuild/status"):
        assert httpx.get(auth_server.url + path, timeout=60).status_code == 401


@pytest.mark.integration
def test_ask_gives_the_cli_json(auth_server):
    q = "黄埔图书馆藏书多少册？"
    with _client(auth_server) as c:
        r = c.post("api/ask", json={"question": q, "k": 2})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    cmd = [sys.executable, "-m", "qa", "ask", q, "--index", str(auth_server.index), "--json"]
    cli = subprocess.run(
        [*cmd, "-k", "2"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert cli.returncode == 0, cli.stderr
    assert r.json() == json.loads(cli.stdout)
    assert len(r.json()) == 2


@pytest.mark.integration
@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b'{"question": "', 400, "malformed JSON"),
        (b"", 400, "empty"),
        (b"[1, 2]", 400, "JSON object"),
        (b'{"question": "   "}', 400, "empty"),
        (b'{"k": 3}', 400, "question: missing"),
        (b'{"question": 5}', 400, "must be text"),
        (b'{"question": "q", "k": -1}', 400, "k must be from 1 to 20"),
        (b'{"question": "q", "k": 0}', 400, "k must be from 1 to 20"),
        (b'{"question": "q", "k": 1000000000}', 400, "k must be from 1 to 20"),
        (b'{"question": "q", "k": "3"}', 400, "whole number"),
        (b'{"question": "q", "questions": "x"}', 400, "unknown field(s) questions"),
        (b"\xff\xfe", 400, "UTF-8"),
        (json.dumps({"question": "问" * 3000}).encode(), 400, "too long: 3000"),
        (json.dumps({"question": "问" * 1_000_000}).encode(), 413, "larger than 64 KB"),
    ],
)
def test_bad_requests_get_json_errors(auth_server, body, status, says):
    with _client(auth_server) as c:
        r = c.post("api/ask", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    assert says in r.json()["error"] and "Traceback" not in r.text


@pytest.mark.integration
def test_oversized_body_without_length_and_wrong_method(auth_server):
    import httpx

    def chunks():
        for _ in range(40):
            yield b"x" * 4096

    with _client(auth_server) as c:
        r = c.post("api/ask", content=chunks())  # chunked: no Content-Length
        assert r.status_code == 413 and "larger than" in r.json()["error"]
        r = c.get("api/ask")
        assert r.status_code == 405 and "error" in r.json()
        r = c.get("api/nothing-here")
        assert r.status_code == 404
    assert httpx.get(auth_server.url + "api/docs", timeout=60).status_code == 200
    paths = httpx.get(auth_server.url + "api/openapi.json", timeout=60).json()["paths"]
    assert {"/api/ask", "/api/documents", "/api/rebuild", "/api/rebuild/status"} <= set(paths)


@pytest.mark.integration
def test_clients_that_disconnect_mid_answer(auth_server):
    auth = base64.b64encode(":".join(ALICE).encode()).decode()
    for i in range(12):
        body = json.dumps({"question": f"黄埔区有多少个城市书房？第{i}次", "k": 5}).encode()
        head = (
            f"POST /api/ask HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", auth_server.port)) as s:
            s.sendall(head + (body if i % 2 else body[:10]))  # half of them mid-body
    with _client(auth_server) as c:
        r = c.post("api/ask", json={"question": "黄埔图书馆是哪一年开放的？", "k": 1})
    assert r.status_code == 200 and "2015" in r.json()[0]["text"]


@pytest.mark.integration
def test_sixteen_clients_at_once(auth_server):
    """16 distinct English questions (over Chinese text: the sentence-embedding path) sent at
    once: all answered, each as when asked alone."""
    from concurrent.futures import ThreadPoolExecutor

    subjects = ["the library", "the museum", "the city study rooms", "the reading area"]
    asks = ["When did {} open?", "How many books does {} hold?", "Where is {}?", "Who runs {}?"]
    questions = [a.format(s) for a in asks for s in subjects]
    assert len(set(questions)) == 16
    with _client(auth_server) as c:
        alone = {q: c.post("api/ask", json={"question": q, "k": 2}).json() for q in questions}

    def ask(q):
        with _client(auth_server) as c:
            r = c.post("api/ask", json={"question": q, "k": 2})
        return q, r.status_code, r.json()

    with ThreadPoolExecutor(16) as pool:
        together = list(pool.map(ask, questions))
    assert all(status == 200 for _, status, _ in together)
    assert {q: hits for q, _, hits in together} == alone


@pytest.mark.integration
def test_rebuild_twice_conflicts_then_picks_up_new_documents(auth_server):
    for i in range(12):  # enough to embed that the rebuild takes a while
        (auth_server.corpus / f"park-{i}.txt").write_text(
            PARK.replace("海珠湿地公园", f"第{i}号湿地公园") * 6, encoding="utf-8"
        )
    with _client(auth_server) as c:
        docs = c.get("api/documents").json()
        assert "12 file(s) added" in docs["stale"] and len(docs["documents"]) == 2
        first = c.post("api/rebuild")
        assert first.status_code == 202 and first.json()["state"] == "running"
        second = c.post("api/rebuild")
        assert second.status_code == 409, second.text
        assert "already running" in second.json()["error"]
        assert second.json()["status"]["state"] == "running"
        deadline = time.monotonic() + 600
        while (status := c.get("api/rebuild/status").json())["state"] == "running":
            assert time.monotonic() < deadline, status
            time.sleep(0.5)
        assert status["state"] == "done", status
        assert "indexed 14 file(s)" in status["summary"] and status["fraction"] == 1.0
        docs = c.get("api/documents").json()
        assert docs["stale"] is None and len(docs["documents"]) == 14
        hits = c.post("api/ask", json={"question": "第7号湿地公园的观鸟屋是哪一年建成的？"}).json()
        assert hits[0]["doc"] == "park-7.txt"


@pytest.mark.integration
def test_gradio_api_takes_the_same_users(auth_server):
    from gradio_client import Client

    hits = Client(auth_server.url, auth=ALICE, verbose=False).predict(
        "黄埔图书馆是哪一年开放的？", 2, api_name="/ask"
    )
    assert hits[0]["doc"] == "library.txt" and len(hits) == 2
    with pytest.raises(Exception):  # noqa: B017 (gradio_client raises several kinds)
        Client(auth_server.url, verbose=False).predict("问题", 1, api_name="/ask")


@pytest.mark.integration
@pytest.mark.parametrize(("k", "says"), [(0, "k must be from 1 to 20"), (21, "not 21")])
def test_bad_gradio_requests_log_no_traceback(auth_server, k, says):
    """A user's mistake sent through Gradio's ``/ask`` (``k`` out of range, an empty
    question) gets its one-line message; the server's log gets at most a line, no traceback
    (gradio prints one for every ``gr.Error`` unless told not to)."""
    from gradio_client import Client

    client = Client(auth_server.url, auth=ALICE, verbose=False)
    before = len(auth_server.text())
    with pytest.raises(Exception, match=says):  # gradio_client raises AppError
        client.predict("黄埔图书馆是哪一年开放的？", k, api_name="/ask")
    with pytest.raises(Exception, match="empty"):
        client.predict(" ", 3, api_name="/ask")
    time.sleep(0.5)  # the server's output of the requests
    logged = auth_server.text()[before:]
    assert "Traceback" not in logged and logged.count("\n") <= 2, logged


@pytest.mark.integration
def test_repeated_wrong_passwords_are_slowed_down(auth_server):
    import httpx

    body = {"question": "黄埔图书馆是哪一年开放的？", "k": 1}
    for _ in range(5):  # five free tries
        r = httpx.post(auth_server.url + "api/ask", json=body, auth=("alice", "guess"), timeout=60)
        assert r.status_code == 401
    # the page's sign-in form counts too, and is refused as well now
    r = httpx.post(auth_server.url + "login", data={"username": "alice", "password": "x"})
    assert r.status_code == 429 and "too many failed sign-ins" in r.json()["error"]
    r = httpx.post(auth_server.url + "api/ask", json=body, auth=ALICE, timeout=60)
    assert r.status_code == 429 and "too many failed sign-ins" in r.json()["error"]
    wait = int(r.headers["retry-after"])
    assert 1 <= wait <= 60
    time.sleep(wait)
    r = httpx.post(auth_server.url + "api/ask", json=body, auth=ALICE, timeout=60)
    assert r.status_code == 200  # and the address is cleared
    r = httpx.post(auth_server.url + "api/ask", json=body, auth=("alice", "guess"), timeout=60)
    assert r.status_code == 401


@pytest.mark.integration
def test_open_server_answers_questions_only(open_server):
    import httpx

    assert "questions only (no upload, no rebuild)" in open_server.text()
    r = httpx.post(open_server.url + "api/ask", json={"question": "观鸟屋是哪一年建成的？"})
    assert r.status_code == 200 and r.json()[0]["doc"] == "park.txt"
    r = httpx.post(open_server.url + "api/rebuild")
    assert r.status_code == 403 and "read-only" in r.json()["error"]
    r = httpx.post(open_server.url + "gradio_api/upload", files={"files": ("a.txt", b"x")})
    assert r.status_code == 403
    assert httpx.get(open_server.url + "api/rebuild/status").json()["state"] == "idle"


@pytest.mark.integration
def test_read_only_server_answers_and_refuses_writes(read_only_server):
    import httpx
    from gradio_client import Client

    server = read_only_server
    assert "read-only (no sign-in): questions only" in server.text()
    r = httpx.post(server.url + "api/ask", json={"question": "观鸟屋是哪一年建成的？", "k": 1})
    assert r.status_code == 200 and r.json()[0]["doc"] == "park.txt"
    assert "2019" in r.json()[0]["text"]
    r = httpx.post(server.url + "api/rebuild")
    assert r.status_code == 403 and r.headers["content-type"] == "application/json"
    assert "read-only" in r.json()["error"]
    r = httpx.post(
        server.url + "gradio_api/upload", files={"files": ("a.txt", "新文档。".encode())}
    )
    assert r.status_code == 403 and "read-only" in r.json()["error"]
    client = Client(server.url, verbose=False)
    with pytest.raises(ValueError, match="upload"):  # the page's upload event does not exist
        client.predict(None, False, api_name="/upload")
    hits = client.predict("广州博物馆哪一年开馆？", 1, api_name="/ask")
    assert hits[0]["doc"] == "museum.txt"
    assert sorted(p.name for p in server.corpus.iterdir()) == ["museum.txt", "park.txt"]
    assert httpx.get(server.url + "api/rebuild/status").json()["state"] == "idle"
    docs = httpx.get(server.url + "api/documents").json()
    assert docs["stale"] is None and len(docs["documents"]) == 2


# ------------------------------------------------------------------------------------------
# integration: the pages in a browser
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = tmp_path_factory.mktemp("api-screenshots")
    yield folder
    print(f"\nscreenshots: {folder}")


@pytest.mark.integration
def test_sign_in_page(browser, auth_server, shots):
    # gradio's sign-in form speaks the browser's language: English here
    ctx = browser.new_context(viewport={"width": 1100, "height": 800}, locale="en-US")
    page = ctx.new_page()
    page.goto(auth_server.url)
    page.wait_for_selector("input[type=password]")
    assert page.locator("#question").count() == 0  # nothing of the app before signing in
    page.screenshot(path=str(shots / "sign-in.png"))
    page.locator("input[type=text]").first.fill("alice")
    page.locator("input[type=password]").fill("not it")
    page.get_by_role("button", name="Login").click()
    page.get_by_text("Incorrect Credentials").wait_for()
    page.screenshot(path=str(shots / "sign-in-wrong.png"))
    page.locator("input[type=text]").first.fill("alice")  # the form cleared it
    page.locator("input[type=password]").fill(ALICE[1])
    page.get_by_role("button", name="Login").click()
    page.wait_for_selector("#question textarea", timeout=60_000)
    box = page.locator("#question textarea")
    box.fill("黄埔图书馆是哪一年开放的？")
    box.press("Enter")
    page.wait_for_selector("#history .qa-turn .qa-best", timeout=120_000)
    assert "2015" in page.locator("#history .qa-turn .qa-best .qa-passage").first.inner_text()
    page.get_by_role("tab", name="文档 / Documents").click()
    page.wait_for_selector("#rebuild")  # signed-in users may upload and rebuild
    assert page.locator("#upload").count() == 1
    page.screenshot(path=str(shots / "signed-in.png"), full_page=True)
    ctx.close()


@pytest.mark.integration
def test_questions_only_page(browser, open_server, shots):
    ctx = browser.new_context(viewport={"width": 1100, "height": 800}, locale="zh-CN")
    page = ctx.new_page()
    page.goto(open_server.url)
    page.wait_for_selector("#question textarea", timeout=60_000)
    assert "read-only" in page.locator(".qa-meta").first.inner_text()
    page.get_by_role("tab", name="文档 / Documents").click()
    page.wait_for_selector("#documents table.qa-docs")
    assert "park.txt" in page.locator("#documents").inner_text()
    assert "read-only" in page.locator("#read-only").inner_text()
    assert page.locator("#upload").count() == 0 and page.locator("#rebuild").count() == 0
    page.screenshot(path=str(shots / "questions-only.png"), full_page=True)
    ctx.close()


@pytest.mark.integration
def test_read_only_page(browser, read_only_server, shots):
    """The page of a ``--read-only`` server: questions are answered, the Documents tab lists
    the index and says it is read-only, with no upload and no rebuild controls."""
    ctx = browser.new_context(viewport={"width": 1100, "height": 800}, locale="zh-CN")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(read_only_server.url)
    page.wait_for_selector("#question textarea", timeout=60_000)
    assert "只读 / read-only" in page.locator(".qa-meta").first.inner_text()
    box = page.locator("#question textarea")
    box.fill("广州博物馆位于哪里？")
    box.press("Enter")
    page.wait_for_selector("#history .qa-turn .qa-best", timeout=120_000)
    assert "museum.txt" in page.locator("#history .qa-best .qa-doc").first.inner_text()
    page.screenshot(path=str(shots / "read-only-ask.png"), full_page=True)
    page.get_by_role("tab", name="文档 / Documents").click()
    page.wait_for_selector("#documents table.qa-docs")
    listing = page.locator("#documents").inner_text()
    assert "museum.txt" in listing and "park.txt" in listing and "up to date" in listing
    assert "read-only" in page.locator("#read-only").inner_text()
    assert page.locator("#upload, #rebuild, input[type=file]").count() == 0
    assert page.get_by_role("button", name="重建索引 / Rebuild the index").count() == 0
    page.screenshot(path=str(shots / "read-only-documents.png"), full_page=True)
    assert not errors
    ctx.close()
