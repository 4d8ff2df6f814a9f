"""The ``qa`` command line, run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from documents import needs_chromium, print_pdf

pytestmark = pytest.mark.integration


def qa(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "qa", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
        env=env,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    work = tmp_path_factory.mktemp("cli")
    corpus = work / "corpus"
    corpus.mkdir()
    (corpus / "library.txt").write_text(
        "黄埔图书馆\n\n黄埔图书馆于2015年3月开放，藏书约120万册。\n\n馆内设有少儿阅览室。",
        encoding="utf-8",
    )
    (corpus / "gbk.txt").write_bytes("番禺区的地铁站有十二个。".encode("gbk"))
    (corpus / "junk.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00binary")
    r = qa("build", "--corpus", str(corpus), "--index", str(work / "index"))
    return work, r


def test_build_prints_summary(built):
    _, r = built
    assert r.returncode == 0, r.stderr
    assert "indexed 2 file(s)" in r.stdout
    assert "skipped 1 file(s)" in r.stdout and "junk.txt" in r.stdout
    assert "embedded" in r.stdout


def test_ask_json(built):
    work, _ = built
    r = qa("ask", "黄埔图书馆什么时候开放？", "--index", str(work / "index"), "-k", "2", "--json")
    assert r.returncode == 0, r.stderr
    hits = json.loads(r.stdout)
    assert len(hits) == 2
    top = hits[0]
    assert top["doc"] == "library.txt" and top["section"] == "黄埔图书馆"
    s, e = top["highlights"][0]
    assert "2015年3月" in top["text"][s:e]
    assert 0 <= top["confidence"] <= 1


def test_ask_readable_marks_sentence(built):
    work, _ = built
    r = qa("ask", "番禺区有几个地铁站？", "--index", str(work / "index"), "-k", "1")
    assert r.returncode == 0, r.stderr
    assert "gbk.txt" in r.stdout and "[[" in r.stdout and "]]" in r.stdout


def test_errors_are_one_line(built, tmp_path):
    work, _ = built
    r = qa("ask", "   ", "--index", str(work / "index"))
    assert r.returncode == 1 and r.stderr.startswith("qa: error:") and "Traceback" not in r.stderr
    r = qa("ask", "问题", "--index", str(tmp_path / "none"))
    assert r.returncode == 1 and "qa build" in r.stderr and "Traceback" not in r.stderr
    r = qa("build", "--corpus", str(tmp_path / "missing"), "--index", str(tmp_path / "i"))
    assert r.returncode == 1 and "does not exist" in r.stderr
    for k in ("0", "-1", "1000000000"):  # 0 no longer means "the default"
        r = qa("ask", "问题", "--index", str(work / "index"), "-k", k)
        assert r.returncode == 1 and "k must be from 1 to 20" in r.stderr, r.stderr
    r = qa("serve", "--auth", "nopassword", "--index", str(work / "index"))
    assert r.returncode == 1 and "USER:PASSWORD" in r.stderr and "Traceback" not in r.stderr
    r = qa("serve", "--auth-file", str(tmp_path / "none"), "--index", str(work / "index"))
    assert r.returncode == 1 and "cannot read the users file" in r.stderr


@needs_chromium
def test_pdf_pages_and_no_ocr(tmp_path):
    """A PDF's answer names its page in the text and JSON output; with --no-ocr an image is
    skipped with a reason that names the flag."""
    from PIL import Image

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    print_pdf(
        "<html><head><meta charset='utf-8'></head><body style=\"font-family:'Noto Sans CJK SC'\">"
        "<p>第一页：海珠湿地公园位于广州市海珠区。</p>"
        "<p style='page-break-before:always'>第二页：公园的观鸟屋于2019年建成。</p></body></html>",
        corpus / "park.pdf",
    )
    Image.new("L", (400, 300), 255).save(corpus / "scan.png")
    index = str(tmp_path / "index")
    r = qa("build", "--corpus", str(corpus), "--index", index, "--no-ocr")
    assert r.returncode == 0, r.stderr
    assert "indexed 1 file(s)" in r.stdout and "scan.png: OCR is turned off (--no-ocr" in r.stdout
    r = qa("ask", "观鸟屋是哪一年建成的？", "--index", index, "-k", "1")
    assert r.returncode == 0, r.stderr
    assert "park.pdf, p. 2" in r.stdout
    r = qa("ask", "观鸟屋是哪一年建成的？", "--index", index, "-k", "1", "--json")
    assert json.loads(r.stdout)[0]["page"] == 2
