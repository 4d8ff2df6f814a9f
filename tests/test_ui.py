"""The web UI: unit tests of the HTML rendering and the upload sanitiser, and browser tests of
the real app (``app.py`` in a subprocess, Debian's chromium driven by Playwright).

The browser tests save screenshots in their tmp folder (printed at the end of the module). Set
``QA_UI_SCREENSHOT=docs/screenshot.png`` to also run ``test_screenshot_default_corpus``, which
serves the default corpus and writes that picture for the README."""

from __future__ import annotations

import dataclasses
import html
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from documents import CHROMIUM as CHROMIUM_PATH
from documents import CHROMIUM_FLAGS
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.service import UploadRefused, sanitize_upload_name, save_upload
from qa.ui import (
    NO_ANSWER,
    esc,
    highlight_html,
    render_answer,
    render_documents,
    render_history,
    safe_text,
)

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(CHROMIUM_PATH)
CHROMIUM_ARGS = CHROMIUM_FLAGS


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------
def make_hit(text, highlights=(), answer=None, confidence=0.9, doc="a.txt", section="", chunk=0):
    from qa.search import Hit

    return Hit(
        text=text,
        score=1.0,
        doc=doc,
        section=section,
        start=0,
        end=len(text),
        highlights=list(highlights),
        answer=answer,
        confidence=confidence,
        chunk=chunk,
    )


_TAG_RE = re.compile(r'<mark class="sent">|</mark>|<strong class="ans">|</strong>')


def strip_tags(s: str) -> str:
    """Our own tags out, entities decoded: must give back the (safe) raw text."""
    return html.unescape(_TAG_RE.sub("", s))


def balanced(s: str) -> bool:
    stack = []
    for m in _TAG_RE.finditer(s):
        t = m.group()
        if t.startswith("</"):
            want = "mark" if t == "</mark>" else "strong"
            if not stack or stack.pop() != want:
                return False
        else:
            stack.append("mark" if t.startswith("<mark") else "strong")
    return not stack


# ------------------------------------------------------------------------------------------
# unit: rendering
# ------------------------------------------------------------------------------------------
@pytest.mark.unit
def test_highlight_marks_sentence_and_answer():
    text = "前言。黄埔图书馆于2015年3月开放，藏书约120万册。后记"
    s = text.index("黄埔")
    e = text.index("册。") + 2
    a0 = text.index("2015")
    a1 = text.index("开放")
    out = highlight_html(text, (s, e), (a0, a1))
    assert out == (
        '前言。<mark class="sent">黄埔图书馆于<strong class="ans">2015年3月</strong>'
        "开放，藏书约120万册。</mark>后记"
    )


@pytest.mark.unit
def test_highlight_escapes_every_segment():
    text = '<b>x</b> & "q" <script>alert(1)</script><img src=x onerror=alert(1)>'
    # spans cut through the middle of would-be tags and entities
    out = highlight_html(text, (1, 40), (3, 12))
    assert "<script" not in out and "<img" not in out and "<b>" not in out
    assert "&lt;script&gt;" in out and "&lt;img src=x onerror=alert(1)&gt;" in out
    assert out.count("&quot;") == 2 and "&amp;" in out
    assert strip_tags(out) == text
    assert balanced(out)


@pytest.mark.unit
def test_highlight_odd_spans():
    text = "abcdefghij"
    assert highlight_html(text) == text
    assert highlight_html(text, None, None) == text
    assert highlight_html(text, (5, 2)) == text  # reversed: ignored
    assert highlight_html(text, (3, 3)) == text  # empty: ignored
    assert highlight_html(text, (-4, 3)) == '<mark class="sent">abc</mark>defghij'
    assert highlight_html(text, (8, 100)) == 'abcdefgh<mark class="sent">ij</mark>'
    assert highlight_html(text, (0, 10)) == '<mark class="sent">abcdefghij</mark>'
    # the answer sticks out of the sentence on both sides: still properly nested
    out = highlight_html(text, (3, 6), (1, 8))
    assert out == (
        'a<strong class="ans">bc</strong><mark class="sent"><strong class="ans">def</strong>'
        '</mark><strong class="ans">gh</strong>ij'
    )
    # an answer without a sentence
    assert highlight_html(text, None, (0, 1)) == '<strong class="ans">a</strong>bcdefghij'
    assert highlight_html("", (0, 3), (0, 1)) == ""


@pytest.mark.unit
def test_highlight_emoji_and_surrogates():
    text = "👍🏽 ok 😀 yes 黄埔"
    i = text.index("😀")
    out = highlight_html(text, (i, i + 5), (i, i + 1))
    assert '<mark class="sent"><strong class="ans">😀</strong> yes</mark>' in out
    # a lone surrogate (surrogateescape'd bytes) cannot reach the page: replaced 1:1
    bad = "a\udc80b\x00c\x07d"
    out = highlight_html(bad, (1, 4), (2, 3))
    out.encode("utf-8")  # no UnicodeEncodeError
    assert strip_tags(out) == "a\ufffdb\ufffdc\ufffdd"
    assert out == 'a<mark class="sent">\ufffd<strong class="ans">b</strong>\ufffd</mark>c\ufffdd'
    assert safe_text("tab\tnew\nline\r") == "tab\tnew\nline\r"


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list("ab<>&\"' 中文😀\n\t\x00\udc80")), max_size=30),
    s=st.integers(-3, 33),
    e=st.integers(-3, 33),
    a0=st.integers(-3, 33),
    a1=st.integers(-3, 33),
)
@pytest.mark.unit
def test_highlight_property(text, s, e, a0, a1):
    out = highlight_html(text, (s, e), (a0, a1))
    assert strip_tags(out) == safe_text(text)
    assert balanced(out)
    assert "<" not in _TAG_RE.sub("", out) and ">" not in _TAG_RE.sub("", out)


@pytest.mark.unit
def test_render_answer_best_first_and_escaped():
    t1 = "黄埔图书馆于2015年3月开放，藏书约120万册。"
    t2 = "<script>alert(1)</script>另一段。"
    hits = [
        make_hit(t1, [(0, len(t1))], (6, 13), 0.9, doc="lib<1>.txt", section="概况 & 历史"),
        make_hit(t2, [(0, len(t2))], None, 0.2, doc="b.txt"),
    ]
    out = render_answer(hits, threshold=0.5)
    assert 'class="qa-answer-line"' in out and "2015年3月" in out
    assert NO_ANSWER not in out
    assert "lib&lt;1&gt;.txt" in out and "概况 &amp; 历史" in out
    assert "<script" not in out and "&lt;script&gt;" in out
    assert out.index("lib&lt;1&gt;") < out.index("b.txt")
    assert out.count('<details class="qa-more">') == 1  # the second passage is folded
    assert "90%" in out


@pytest.mark.unit
def test_render_answer_low_confidence_and_empty():
    t = "完全无关的一段话。"
    out = render_answer([make_hit(t, [(0, len(t))], None, 0.1)], threshold=0.5)
    assert esc(NO_ANSWER) in out and "文档中似乎没有" in out
    assert "qa-answer-line" not in out
    assert "完全无关" in out  # the closest passage is still shown
    assert "index is empty" in render_answer([], threshold=0.5)


@pytest.mark.unit
def test_render_answer_shows_the_page():
    t = "黄埔图书馆于2015年开放。"
    hit = dataclasses.replace(make_hit(t, [(0, len(t))], None, 0.9), doc="r.pdf", page=3)
    out = render_answer([hit], threshold=0.5)
    assert 'r.pdf</span> <span class="qa-page">p. 3</span>' in out
    assert "qa-page" not in render_answer([make_hit(t, [(0, len(t))], None, 0.9)], 0.5)


@pytest.mark.unit
def test_render_context():
    from qa.chunk import Chunk

    def chunk(text, i):
        return Chunk(doc="a.txt", section="", text=text, start=0, end=0, ordinal=i, hash=str(i))

    t = "答案在这里。"
    around = [chunk("<前一段>", 0), chunk(t, 1), chunk("后一段", 2)]
    hit = make_hit(t, [(0, len(t))], (0, 2), chunk=1)
    out = render_answer([hit], 0.5, context_for=lambda h: around)
    assert '<details class="qa-context">' in out
    assert "&lt;前一段&gt;" in out and "后一段" in out
    # a broken context never breaks the answer
    out = render_answer([hit], 0.5, context_for=lambda h: 1 / 0)
    assert "在这里" in out and "qa-context" not in out


@pytest.mark.unit
def test_render_history_escapes_question_newest_first():
    from qa.ui import Turn

    turns = [Turn("first <b>", "A1", 0.0), Turn("second", "A2", 0.0)]
    out = render_history(turns)
    assert "first &lt;b&gt;" in out
    assert out.index("second") < out.index("first")


@pytest.mark.unit
def test_render_documents_escapes():
    from qa.index import DocumentInfo

    docs = [DocumentInfo("<img src=x onerror=alert(1)>.txt", "0" * 64, 2048, "utf-8", 3, 0.0)]
    out = render_documents(docs, [{"path": "bad&.txt", "reason": "<binary>"}], stale=None)
    assert "<img" not in out and "&lt;img src=x" in out
    assert "bad&amp;.txt" in out and "&lt;binary&gt;" in out and "2.0 KB" in out
    assert "out of date" in render_documents([], stale="1 file(s) added")


@pytest.mark.unit
def test_render_documents_shows_pages_and_reader():
    from qa.index import DocumentInfo

    docs = [
        DocumentInfo("scan.pdf", "0" * 64, 9, "", 12, 0.0, pages=6, reader="ocr", ocr_pages=6),
        DocumentInfo("mixed.pdf", "1" * 64, 9, "", 5, 0.0, 4, "pdf text layer + ocr", 1),
        DocumentInfo("notes.txt", "2" * 64, 9, "utf-8", 1, 0.0),
    ]
    out = render_documents(docs)
    rows = out.split("<tr>")[2:]
    assert "<td class='num'>6</td><td>ocr</td>" in rows[0]
    assert "pdf text layer + ocr (1 of 4 pages by OCR)" in rows[1]
    assert "<td class='num'>—</td><td>text</td>" in rows[2]


# ------------------------------------------------------------------------------------------
# unit: uploads
# ------------------------------------------------------------------------------------------
@pytest.mark.unit
@pytest.mark.parametrize(
    "name",
    [
        "../x.txt",
        "/etc/passwd",
        "a\0b.txt",
        "a/b.txt",
        "a\\b.txt",
        ".hidden.txt",
        "evil.exe",
        "..",
        "",
        "   ",
        ".txt",
        "x.txt.exe",
        "a\u202eb.txt",  # right-to-left override
        "a\x07.txt",
        "a\nb.txt",
        "x" * 300 + ".txt",
    ],
)
def test_sanitize_refuses(name):
    with pytest.raises(UploadRefused):
        sanitize_upload_name(name)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("name", "saved"),
    [
        ("report.txt", "report.txt"),
        ("笔记.md", "笔记.md"),
        ("UPPER.TXT", "UPPER.TXT"),
        ("  spaced name.txt ", "spaced name.txt"),
        ("v1.2 notes.md", "v1.2 notes.md"),
        ("cafe\u0301.txt", "café.txt"),  # NFC
    ],
)
def test_sanitize_accepts(name, saved):
    assert sanitize_upload_name(name) == saved


@pytest.mark.unit
def test_save_upload_never_overwrites(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    up = tmp_path / "up" / "doc.txt"
    up.parent.mkdir()
    up.write_text("new", encoding="utf-8")
    (corpus / "doc.txt").write_text("old", encoding="utf-8")
    with pytest.raises(UploadRefused, match="already"):
        save_upload(up, corpus)
    assert (corpus / "doc.txt").read_text(encoding="utf-8") == "old"
    save_upload(up, corpus, replace=True)
    assert (corpus / "doc.txt").read_text(encoding="utf-8") == "new"
    # a symlink at the destination is replaced itself, its target is never written
    target = tmp_path / "outside.txt"
    target.write_text("keep", encoding="utf-8")
    (corpus / "link.txt").symlink_to(target)
    with pytest.raises(UploadRefused):
        save_upload(up, corpus, name="link.txt")
    save_upload(up, corpus, name="link.txt", replace=True)
    assert target.read_text(encoding="utf-8") == "keep"
    assert not (corpus / "link.txt").is_symlink()
    # too big, wrong names: refused, nothing left behind
    with pytest.raises(UploadRefused, match="limit"):
        save_upload(up, corpus, name="big.txt", max_bytes=2)
    with pytest.raises(UploadRefused):
        save_upload(up, corpus, name="../escape.txt")
    assert sorted(p.name for p in corpus.iterdir()) == ["doc.txt", "link.txt"]
    assert not (tmp_path / "escape.txt").exists()


# ------------------------------------------------------------------------------------------
# integration: the real app in a browser
# ------------------------------------------------------------------------------------------
LIBRARY = """# 黄埔区公共文化设施

黄埔区近年来持续完善公共文化服务体系，新建和改造了一批文化站、社区书屋和体育场馆，方便居民就近参加文化活动。区内各街道每年举办读书节、讲座和展览数百场。

黄埔图书馆于2015年3月开放，藏书约120万册。馆内设有少儿阅览区、电子阅览室和地方文献专区，每周开放七天，年接待读者超过一百万人次。

黄埔区还建成了二十多个城市书房，与区图书馆实行通借通还，市民凭读者证可以在任一书房借书和还书。
"""

EVIL = """# 网页安全检查

这份文档用于网页安全检查，内容里故意放了一段脚本和一张坏图片：<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"> 如果页面把它们当成代码运行，测试就会失败。模板注入 ${window.__pwned=3} 和 {{constructor}} 也只能显示为文字。
"""

NEW_DOC = """南沙天文台的建设

南沙天文台建于1998年，主望远镜口径为2.5米，是华南地区最大的公众天文观测站之一，每年举办多次观星开放日。
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, corpus: Path, index: Path, log: Path, cwd: Path = ROOT) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = log
        cmd = [sys.executable, str(ROOT / "app.py"), "--corpus", str(corpus), "--index", str(index)]
        cmd += ["--port", str(self.port)]
        env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1")
        self._out = log.open("wb")
        self.proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=self._out, stderr=subprocess.STDOUT
        )

    def wait(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app.py exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(self.url, timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(1)
        raise RuntimeError(f"app.py did not answer within {timeout} s:\n{self.tail()}")

    def tail(self) -> str:
        self._out.flush()
        return self.log.read_text(encoding="utf-8", errors="replace")[-4000:]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self._out.close()


def _start(corpus: Path, index: Path, log: Path, cwd: Path = ROOT) -> Server:
    server = Server(corpus, index, log, cwd)
    try:
        server.wait()
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ui-screenshots")
    yield folder
    print(f"\nUI screenshots: {folder}")


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    work = tmp_path_factory.mktemp("ui-app")
    corpus = work / "corpus"
    corpus.mkdir()
    (corpus / "library.txt").write_text(LIBRARY, encoding="utf-8")
    (corpus / "evil<script>.txt").write_text(EVIL, encoding="utf-8")
    server = _start(corpus, work / "index", work / "server.log")
    server.corpus = corpus  # type: ignore[attr-defined]
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, app_server):
    ctx = browser.new_context(viewport={"width": 1200, "height": 1000}, locale="zh-CN")
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("dialog", lambda d: (errors.append("dialog: " + d.message), d.dismiss()))
    pg.goto(app_server.url)
    pg.wait_for_selector("#question textarea")
    pg.errors = errors  # type: ignore[attr-defined]
    yield pg
    ctx.close()


def ask(page, question: str, turns_before: int | None = None) -> None:
    """Type a question, press Enter and wait for its answer to appear in the history."""
    n = page.locator("#history .qa-turn").count() if turns_before is None else turns_before
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        "n => document.querySelectorAll('#history .qa-turn').length > n", arg=n, timeout=120_000
    )


def latest(page):
    return page.locator("#history .qa-turn").first


@pytest.mark.integration
def test_ask_highlights_answer(page, shots):
    ask(page, "黄埔图书馆是哪一年开放的？")
    turn = latest(page)
    mark = turn.locator(".qa-best .qa-passage mark.sent").first
    mark.wait_for()
    assert "2015年3月" in mark.inner_text()
    assert "2015" in turn.locator(".qa-best .qa-passage strong.ans").first.inner_text()
    assert "library.txt" in turn.locator(".qa-best .qa-doc").inner_text()
    assert "2015" in turn.locator(".qa-answer-line").inner_text()
    # the question box was cleared, the other passages are folded
    assert page.locator("#question textarea").input_value() == ""
    assert turn.locator("details.qa-more").count() == 2
    # the context: the neighbouring paragraphs are there once expanded
    ctx = turn.locator(".qa-best details.qa-context")
    ctx.locator("summary").click()
    assert "城市书房" in ctx.inner_text() or "公共文化服务" in ctx.inner_text()
    page.screenshot(path=str(shots / "ask.png"), full_page=True)
    # the slider: one passage only
    page.locator("#k input[type=number]").fill("1")
    page.locator("#k input[type=number]").press("Enter")
    ask(page, "黄埔图书馆藏书多少册？")
    assert latest(page).locator("details.qa-more").count() == 0
    assert "120万" in latest(page).locator(".qa-best .qa-passage mark.sent").inner_text()
    assert page.locator("#history .qa-turn").count() == 2  # the history keeps both
    assert not page.errors


@pytest.mark.integration
def test_html_in_documents_is_text(page, shots):
    ask(page, "网页安全检查文档里放了什么？")
    turn = latest(page)
    text = page.locator("#history").text_content()
    assert "<script>window.__pwned=1</script>" in text
    assert '<img src=x onerror="window.__pwned=2">' in text
    assert "${window.__pwned=3}" in text and "{{constructor}}" in text
    assert "evil<script>.txt" in turn.locator(".qa-best .qa-doc").inner_text()
    assert page.locator("#history script, #history img").count() == 0
    time.sleep(0.5)  # an onerror would have fired by now
    assert page.evaluate("window.__pwned") is None
    page.screenshot(path=str(shots / "html-document.png"), full_page=True)
    assert not page.errors


@pytest.mark.integration
def test_errors_are_messages(page):
    box = page.locator("#question textarea")
    box.fill("   ")
    page.locator("#ask").click()
    page.wait_for_selector("#status .qa-error")
    assert "empty" in page.locator("#status").inner_text()
    assert "Traceback" not in page.content()
    assert page.locator("#history .qa-turn").count() == 0


@pytest.mark.integration
def test_upload_rebuild_and_ask(page, app_server, shots, tmp_path):
    page.get_by_role("tab", name="文档 / Documents").click()
    page.wait_for_selector("#documents table.qa-docs")
    docs = page.locator("#documents").inner_text()
    assert "library.txt" in docs and "evil<script>.txt" in docs and "up to date" in docs

    new = tmp_path / "南沙天文台.txt"
    new.write_text(NEW_DOC, encoding="utf-8")
    page.locator("#upload input[type=file]").set_input_files(str(new))
    page.wait_for_selector("#upload-status .qa-ok", timeout=60_000)
    assert "南沙天文台.txt" in page.locator("#upload-status").inner_text()
    assert (app_server.corpus / "南沙天文台.txt").read_text(encoding="utf-8") == NEW_DOC
    assert "out of date" in page.locator("#documents").inner_text()

    # the same name again is refused, the file is kept
    dup = tmp_path / "dup" / "library.txt"
    dup.parent.mkdir()
    dup.write_text("replaced?", encoding="utf-8")
    page.locator("#upload input[type=file]").set_input_files(str(dup))
    page.wait_for_selector("#upload-status .qa-error", timeout=60_000)
    assert "already" in page.locator("#upload-status").inner_text()
    assert (app_server.corpus / "library.txt").read_text(encoding="utf-8") == LIBRARY

    page.locator("#rebuild").click()
    page.wait_for_selector("#build-status .qa-summary", timeout=300_000)
    summary = page.locator("#build-status").inner_text()
    assert "indexed 3 file(s)" in summary, summary
    page.wait_for_function(
        "() => document.querySelector('#documents').innerText.includes('南沙天文台.txt')"
    )
    assert "up to date" in page.locator("#documents").inner_text()
    page.screenshot(path=str(shots / "documents.png"), full_page=True)

    page.get_by_role("tab", name="提问 / Ask").click()
    ask(page, "南沙天文台建于哪一年？")
    turn = latest(page)
    assert "南沙天文台.txt" in turn.locator(".qa-best .qa-doc").inner_text()
    assert "1998" in turn.locator(".qa-best .qa-passage mark.sent").inner_text()
    assert not page.errors


@pytest.mark.integration
def test_upload_pdf_and_word_rebuild_and_ask(page, app_server, shots, tmp_path):
    """A two-page PDF printed by chromium and a Word file go through the page: uploaded,
    indexed (the Documents tab says how each was read and its pages), and the answer names
    the page it comes from."""
    from documents import print_pdf

    page_two = "<div style='page-break-before:always'></div>"
    pdf = print_pdf(
        "<html><head><meta charset='utf-8'><style>body{font-family:'Noto Sans CJK SC'}"
        "</style></head><body><h1>海珠湿地公园简介</h1><p>海珠湿地公园位于广州市海珠区，"
        f"是城市中央的国家湿地公园。</p>{page_two}<p>公园的观鸟屋于2019年建成，每年冬季"
        "有上万只候鸟在此停留。</p></body></html>",
        tmp_path / "海珠湿地.pdf",
    )
    import docx

    word = docx.Document()
    word.add_heading("白云山索道", level=1)
    word.add_paragraph("白云山索道全长1600米，单程约需十分钟。")
    word.save(str(tmp_path / "索道.docx"))

    page.get_by_role("tab", name="文档 / Documents").click()
    page.locator("#upload input[type=file]").set_input_files(
        [str(pdf), str(tmp_path / "索道.docx")]
    )
    page.wait_for_selector("#upload-status .qa-ok", timeout=60_000)
    assert (app_server.corpus / "海珠湿地.pdf").read_bytes() == pdf.read_bytes()
    page.locator("#rebuild").click()
    page.wait_for_function(
        "() => document.querySelector('#build-status').innerText.includes('indexed 5 file(s)')"
        " && document.querySelector('#documents').innerText.includes('海珠湿地.pdf')",
        timeout=300_000,
    )
    rows = {
        r.split("\t")[0]: r
        for r in page.locator("#documents table.qa-docs").first.inner_text().splitlines()
    }
    assert "pdf text layer" in rows["海珠湿地.pdf"] and "\t2\t" in rows["海珠湿地.pdf"], rows
    assert "docx" in rows["索道.docx"]
    page.screenshot(path=str(shots / "documents-formats.png"), full_page=True)

    page.get_by_role("tab", name="提问 / Ask").click()
    ask(page, "海珠湿地公园的观鸟屋是哪一年建成的？")
    turn = latest(page)
    assert "海珠湿地.pdf" in turn.locator(".qa-best .qa-doc").inner_text()
    assert turn.locator(".qa-best .qa-page").inner_text() == "p. 2"
    assert "2019" in turn.locator(".qa-best .qa-passage").inner_text()
    ask(page, "白云山索道有多长？")
    turn = latest(page)
    assert "索道.docx" in turn.locator(".qa-best .qa-doc").inner_text()
    assert turn.locator(".qa-best .qa-page").count() == 0
    assert "白云山索道" in turn.locator(".qa-best").inner_text()  # the heading is the section
    page.screenshot(path=str(shots / "answer-pdf-page.png"), full_page=True)
    assert not page.errors


@pytest.mark.integration
def test_api_returns_cli_json(app_server):
    from gradio_client import Client

    client = Client(app_server.url, verbose=False)
    hits = client.predict("黄埔图书馆是哪一年开放的？", 2, api_name="/ask")
    assert isinstance(hits, list) and len(hits) == 2
    keys = {"text", "score", "doc", "section", "start", "end", "highlights", "answer"}
    keys |= {"confidence", "chunk", "chunks", "page"}
    assert all(set(h) == keys for h in hits)
    best = hits[0]
    assert best["doc"] == "library.txt"
    s, e = best["highlights"][0]
    assert "2015年3月" in best["text"][s:e]
    assert best["answer"] is None or "2015" in best["text"][best["answer"][0] : best["answer"][1]]
    assert 0.0 <= best["confidence"] <= 1.0
    assert hits[0]["score"] >= hits[1]["score"]
    with pytest.raises(Exception, match="empty"):
        client.predict("", 3, api_name="/ask")


@pytest.mark.integration
@pytest.mark.skipif(not os.environ.get("QA_UI_SCREENSHOT"), reason="set QA_UI_SCREENSHOT=path")
def test_screenshot_default_corpus(browser, tmp_path):
    """Serve the default corpus, ask an example question and save the picture."""
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    # relative folders, as a user would start it from their project folder
    server = _start(Path("corpus"), Path("index"), tmp_path / "server.log", cwd=tmp_path)
    try:
        ctx = browser.new_context(viewport={"width": 1100, "height": 1000}, locale="zh-CN")
        pg = ctx.new_page()
        pg.goto(server.url)
        ask(pg, "广州公安累计打掉涉黑组织多少个？")
        pg.get_by_role("button", name="微警认证服务平台累计提供认证服务多少次？").click()
        pg.wait_for_function(
            "() => document.querySelectorAll('#history .qa-turn').length > 1", timeout=120_000
        )
        pg.locator("#history .qa-turn").first.locator(".qa-best details.qa-context summary").click()
        out = Path(os.environ["QA_UI_SCREENSHOT"])
        out.parent.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(out), full_page=False)
        ctx.close()
    finally:
        server.stop()
