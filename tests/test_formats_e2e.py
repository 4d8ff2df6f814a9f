"""The same report in every format: the default corpus's questions asked of it as .txt, as a
PDF printed by chromium (with chromium's running header and footer), as a Word file, as a saved
web page with navigation, adverts and a footer around the article, and as a scanned PDF with no
text layer (OCR). The right passage must come first, with the right page for the PDFs."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from documents import (
    REPORT_QUESTIONS,
    REPORT_TXT,
    needs_chromium,
    needs_pdftoppm,
    print_pdf,
    report_docx,
    report_html,
    scan_pdf,
)

from qa.index import build_index, load_index
from qa.search import Retriever
from qa.settings import DEFAULTS

pytestmark = [pytest.mark.integration, needs_chromium, needs_pdftoppm]

FORMATS = ("txt", "pdf", "docx", "html", "scan.pdf")


@pytest.fixture(scope="module")
def documents(tmp_path_factory) -> dict[str, Path]:
    """The report in each format, made once."""
    work = tmp_path_factory.mktemp("formats")
    pdf = print_pdf(report_html(), work / "report.pdf")
    files = {
        "txt": Path(shutil.copy(REPORT_TXT, work / "report.txt")),
        "pdf": pdf,
        "docx": report_docx(work / "report.docx"),
        "scan.pdf": scan_pdf(pdf, work / "report.scan.pdf", dpi=150),
    }
    (work / "report.html").write_text(report_html(chrome=True), encoding="utf-8")
    files["html"] = work / "report.html"
    return files


def pdf_pages(pdf: Path) -> list[str]:
    """Each page's text as poppler's pdftotext reads it (an independent reader), spaces
    removed: where a PDF really holds each answer."""
    out = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True
    ).stdout.decode()
    return ["".join(page.split()) for page in out.split("\f")]


@pytest.fixture(scope="module")
def retrievers(documents, tmp_path_factory, embedder) -> dict[str, Retriever]:
    """One index a format: each corpus holds the report in that format only."""
    out = {}
    for fmt, path in documents.items():
        work = tmp_path_factory.mktemp(fmt.replace(".", "-"))
        corpus = work / "corpus"
        corpus.mkdir()
        shutil.copy(path, corpus / path.name)
        st = dataclasses.replace(DEFAULTS, corpus_dir=corpus, index_dir=work / "index")
        report = build_index(corpus, st.index_dir, settings=st, embedder=embedder)
        assert report.files_read == 1 and not report.skipped, report.summary()
        out[fmt] = Retriever(st.index_dir, st, embedder=embedder)
    return out


@pytest.mark.parametrize("fmt", FORMATS)
def test_right_passage_first_in_every_format(retrievers, fmt) -> None:
    r = retrievers[fmt]
    found = [answer in r.run(q, k=1)[0].text for q, answer in REPORT_QUESTIONS]
    # the text formats must match the .txt; OCR may misread a figure
    need = len(REPORT_QUESTIONS) - (1 if fmt == "scan.pdf" else 0)
    assert sum(found) >= need, [
        q for (q, _), ok in zip(REPORT_QUESTIONS, found, strict=True) if not ok
    ]


@pytest.mark.parametrize("fmt", ["pdf", "scan.pdf"])
def test_pages_are_right(retrievers, documents, fmt) -> None:
    pages = pdf_pages(documents["pdf"])  # the scan has the printed PDF's pages
    for q, answer in REPORT_QUESTIONS:
        hit = retrievers[fmt].run(q, k=1)[0]
        if answer not in hit.text:
            continue  # counted by the test above
        where = {i + 1 for i, text in enumerate(pages) if answer in text}
        assert hit.page in where, (q, hit.page, where)


@pytest.mark.parametrize("fmt", ["txt", "docx", "html"])
def test_formats_without_pages_have_none(retrievers, fmt) -> None:
    assert retrievers[fmt].run(REPORT_QUESTIONS[0][0], k=1)[0].page is None


def test_documents_record_pages_and_reader(retrievers, documents) -> None:
    readers = {}
    for fmt, r in retrievers.items():
        (info,) = load_index(r.folder).documents()
        readers[fmt] = (info.reader, info.pages, info.ocr_pages)
    n = len(pdf_pages(documents["pdf"])) - 1  # pdftotext ends with a form feed
    assert readers["pdf"] == ("pdf text layer", n, 0)
    assert readers["scan.pdf"] == ("ocr", n, n)
    assert readers["docx"] == ("docx", 0, 0)
    assert readers["html"][0] == "html" and readers["txt"][0] == "text"


def test_running_headers_and_chrome_are_not_indexed(retrievers) -> None:
    for fmt in ("pdf", "html"):
        idx = load_index(retrievers[fmt].folder)
        text = "\n".join(c.text for c in idx.chunks)
        assert "file://" not in text and "/6" not in text.replace(" ", ""), fmt
        assert not re.search(r"\d{1,2}/\d{1,2}/\d{2,4},? \d{1,2}:\d{2}", text), fmt  # print date
        assert "广告" not in text and "相关阅读" not in text and "版权所有" not in text, fmt
