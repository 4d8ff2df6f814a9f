"""Building an index of a folder of mixed real documents: bad files of every format are
skipped with a clear reason and never stop or corrupt a build, and rebuilds stay incremental
(an unchanged file is not read again, a changed PDF re-embeds only its own chunks)."""

from __future__ import annotations

import dataclasses
import io
import shutil
import zipfile
from pathlib import Path

import pytest
from documents import needs_chromium, print_pdf, report_docx, report_html

from qa.index import build_index, load_index
from qa.search import Retriever
from qa.settings import DEFAULTS

pytestmark = [pytest.mark.integration, needs_chromium]


def short_html(title: str, paragraphs: list[str]) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>"
        "<style>body{font-family:'Noto Sans CJK SC',sans-serif;font-size:14pt}</style></head>"
        f"<body><h1>{title}</h1>{body}</body></html>"
    )


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    """Good and bad documents, made once."""
    work = tmp_path_factory.mktemp("made")
    good_pdf = print_pdf(report_html(), work / "report.pdf")
    small_pdf = print_pdf(
        short_html("图书馆通知", ["黄埔图书馆于2015年正式开放，馆藏图书五十万册。"]),
        work / "library.pdf",
    )
    # encrypted with a user password (pypdf), truncated, and an image with no text
    import pypdf

    writer = pypdf.PdfWriter(clone_from=str(small_pdf))
    writer.encrypt(user_password="secret", owner_password="owner")
    buf = io.BytesIO()
    writer.write(buf)
    (work / "locked.pdf").write_bytes(buf.getvalue())
    (work / "truncated.pdf").write_bytes(good_pdf.read_bytes()[: good_pdf.stat().st_size // 3])
    # a zip bomb named .docx: one entry that declares gigabytes of zeros
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("word/document.xml", "w", force_zip64=True) as f:
            block = b"\0" * (1 << 20)
            for _ in range(1200):  # 1.2 GB uncompressed, about 1.2 MB on disk
                f.write(block)
    (work / "bomb.docx").write_bytes(bomb.getvalue())
    (work / "notzip.docx").write_bytes("这是一个文本文件，不是Word文件。".encode())
    (work / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 2048)
    (work / "lies.pdf").write_bytes((work / "notzip.docx").read_bytes())
    gbk = "<html><head><meta charset='utf-8'><title>通知</title></head><body><article>"
    gbk += "<p>越秀区派出所将于下周一起调整户籍窗口的办公时间，请市民留意。</p></article></body></html>"
    (work / "wrong-charset.html").write_bytes(gbk.encode("gbk"))
    # one page that is one huge image (121 million pixels, a decompression bomb for a reader
    # that would decode it whole) and a truncated PNG
    from PIL import Image

    Image.new("L", (11000, 11000), 255).save(work / "huge.pdf", "PDF", resolution=300.0)
    png = io.BytesIO()
    Image.new("L", (800, 600), 200).save(png, "PNG")
    (work / "cut.png").write_bytes(png.getvalue()[:200])
    report_docx(work / "report.docx")
    return {p.name: p for p in work.iterdir()}


def corpus_of(tmp_path: Path, made: dict[str, Path], names: list[str]) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir(exist_ok=True)
    for n in names:
        shutil.copy(made[n], corpus / n)
    return corpus


def test_bad_documents_are_skipped_with_reasons(tmp_path, made, embedder) -> None:
    good = ["library.pdf", "wrong-charset.html"]
    bad = ["locked.pdf", "truncated.pdf", "bomb.docx", "notzip.docx", "old.doc", "lies.pdf"]
    bad += ["huge.pdf", "cut.png"]
    corpus = corpus_of(tmp_path, made, good + bad)
    st = dataclasses.replace(DEFAULTS, corpus_dir=corpus, index_dir=tmp_path / "index")
    report = build_index(corpus, st.index_dir, settings=st, embedder=embedder)
    reasons = {s.path: s.reason for s in report.skipped}
    assert set(reasons) == set(bad), report.summary()
    assert "encrypted" in reasons["locked.pdf"] or "password" in reasons["locked.pdf"]
    assert "damaged" in reasons["truncated.pdf"] or "truncated" in reasons["truncated.pdf"]
    assert "zip" in reasons["bomb.docx"] or "large" in reasons["bomb.docx"]
    assert "zip" in reasons["notzip.docx"] or "not a Word" in reasons["notzip.docx"]
    assert ".docx" in reasons["old.doc"]
    assert "does not match the content" in reasons["lies.pdf"]
    assert "too large" in reasons["huge.pdf"] and "max_image_pixels" in reasons["huge.pdf"]
    assert "truncated" in reasons["cut.png"] or "damaged" in reasons["cut.png"]
    # the good files are indexed and answer
    assert report.files_read == 2
    r = Retriever(st.index_dir, st, embedder=embedder)
    hit = r.run("黄埔图书馆是哪一年开放的？", k=1)[0]
    assert hit.doc == "library.pdf" and "2015" in hit.text and hit.page == 1
    hit = r.run("越秀区派出所什么时候调整户籍窗口办公时间？", k=1)[0]
    assert hit.doc == "wrong-charset.html" and "下周一" in hit.text
    # the summary lists every skip, as the CLI prints it
    summary = report.summary()
    assert all(n in summary for n in reasons)


def test_mixed_corpus_rebuilds_incrementally(tmp_path, made, embedder) -> None:
    corpus = corpus_of(tmp_path, made, ["report.pdf", "report.docx", "library.pdf"])
    (corpus / "notes.txt").write_text("派出所的值班电话是12345678。\n", encoding="utf-8")
    st = dataclasses.replace(DEFAULTS, corpus_dir=corpus, index_dir=tmp_path / "index")
    first = build_index(corpus, st.index_dir, settings=st, embedder=embedder)
    assert first.files_read == 4 and first.files_reused == 0 and first.pages > 1
    # nothing changed: no file is read again, nothing embedded
    again = build_index(corpus, st.index_dir, settings=st, embedder=embedder)
    assert again.files_reused == 4 and again.embedded == 0 and again.chunks == first.chunks
    # one PDF changes: only it is read again, and only its new chunks are embedded
    shutil.copy(
        print_pdf(
            short_html("图书馆通知", ["黄埔图书馆于2016年正式开放，馆藏图书六十万册。"]),
            tmp_path / "library2.pdf",
        ),
        corpus / "library.pdf",
    )
    third = build_index(corpus, st.index_dir, settings=st, embedder=embedder)
    assert third.files_reused == 3
    assert 1 <= third.embedded <= 2, third.summary()
    idx = load_index(st.index_dir)
    pdf_chunks = [idx.chunks[i] for i in idx.chunk_ids("report.pdf")]
    assert pdf_chunks and all(c.page is not None for c in pdf_chunks)
    assert [c.page for c in pdf_chunks] == sorted(c.page for c in pdf_chunks)
    r = Retriever(st.index_dir, st, embedder=embedder)
    assert "2016" in r.run("黄埔图书馆是哪一年开放的？", k=1)[0].text
