"""The format dispatcher (qa.formats): which reader a file gets, files whose extension lies
about their content, pages joined with their offsets kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.corpus import UnreadableError
from qa.formats import PAGE_BREAK, kind_of, read_file, sniff, to_document
from qa.formats.base import READER_PDF, Extracted

pytestmark = pytest.mark.unit

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
ZIP = b"PK\x03\x04" + b"\x00" * 64
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"


def test_kind_of_extensions() -> None:
    assert kind_of("a.TXT") == kind_of("b.md") == "text"
    assert kind_of("x.Pdf") == "pdf"
    assert kind_of("s.jpeg") == kind_of("s.tif") == kind_of("s.PNG") == "image"
    assert kind_of("w.docx") == "docx" and kind_of("w.doc") == "doc"
    assert kind_of("p.htm") == kind_of("p.HTML") == "html"
    assert kind_of("sheet.xlsx") == kind_of("README") == ""


def test_sniff() -> None:
    assert sniff(PDF)[0] == "pdf"
    assert sniff(b"junk\n" + PDF)[0] == "pdf"
    assert sniff(PNG)[0] == "image" and sniff(b"\xff\xd8\xff\xe0")[0] == "image"
    assert sniff(ZIP)[0] == "zip" and sniff(OLE)[0] == "ole"
    assert sniff("广州公安".encode()) == ("", "")
    assert sniff(b"<!DOCTYPE html><html>") == ("", "")


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("report.pdf", ZIP, "zip archive"),
        ("report.pdf", "这不是PDF，是一段文字。".encode(), "not a PDF"),
        ("scan.png", PDF, "a PDF document"),
        ("scan.jpg", b"hello, I am text", "not an image"),
        ("report.docx", PDF, "a PDF document"),
        ("report.docx", PNG, "a PNG image"),
        ("notes.txt", PDF, "a PDF document"),
        ("page.html", PNG, "a PNG image"),
        ("notes.md", ZIP, "zip archive"),
    ],
)
def test_extension_that_lies_is_skipped_with_a_reason(
    tmp_path: Path, name: str, data: bytes, says: str
) -> None:
    (tmp_path / name).write_bytes(data)
    with pytest.raises(UnreadableError) as err:
        read_file(tmp_path / name, tmp_path)
    assert "does not match the content" in err.value.reason
    assert says in err.value.reason


def test_legacy_doc_and_unknown_types_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "old.doc").write_bytes(OLE)
    with pytest.raises(UnreadableError, match=r"legacy Word \.doc.*save it as \.docx"):
        read_file(tmp_path / "old.doc", tmp_path)
    (tmp_path / "sheet.xlsx").write_bytes(ZIP)
    with pytest.raises(UnreadableError, match="unsupported file type"):
        read_file(tmp_path / "sheet.xlsx", tmp_path)
    (tmp_path / "empty.pdf").write_bytes(b"")
    with pytest.raises(UnreadableError, match="empty file"):
        read_file(tmp_path / "empty.pdf", tmp_path)


def test_text_files_still_read_as_text(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes("广州公安。".encode("gbk"))
    doc = read_file(tmp_path / "a.txt", tmp_path)
    assert doc.text == "广州公安。" and doc.encoding == "gb18030"
    assert doc.page_starts == () and doc.reader == "text" and doc.meta.pages == 0


def test_pages_are_joined_and_their_starts_kept() -> None:
    pages = ("第一页。\n", "", "第三页\x00内容。", "第四页。")
    doc = to_document(Extracted(pages=pages, paged=True, reader=READER_PDF), "r.pdf", "ab", 9)
    assert doc.text == PAGE_BREAK.join(["第一页。", "", "第三页内容。", "第四页。"])
    assert len(doc.page_starts) == 4 and doc.page_starts[0] == 0
    for start, page in zip(
        doc.page_starts, ["第一页。", "", "第三页内容。", "第四页。"], strict=True
    ):
        assert doc.text[start : start + len(page)] == page
    assert doc.meta.pages == 4 and doc.meta.reader == READER_PDF


def test_unpaged_formats_have_no_page_starts_and_empty_text_is_refused() -> None:
    doc = to_document(Extracted(pages=("# T\n\n正文。",), paged=False, reader="docx"), "w", "s", 1)
    assert doc.page_starts == () and doc.text == "# T\n\n正文。"
    with pytest.raises(UnreadableError, match="no text"):
        to_document(Extracted(pages=(" \n", ""), paged=True, reader=READER_PDF), "e.pdf", "s", 1)


def test_default_extensions_are_the_supported_ones() -> None:
    from qa.formats import SUPPORTED
    from qa.settings import DEFAULTS

    assert set(DEFAULTS.extensions) == set(SUPPORTED)
