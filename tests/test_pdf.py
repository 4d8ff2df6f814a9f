"""PDFs with a text layer (qa.formats.pdf) and the page layout every paged reader shares
(qa.formats.layout).

Unit tests build pages of hand-made :class:`Line` s; integration tests read real PDFs printed
by Debian's chromium (tests/documents.py): the default corpus's Chinese report with chromium's
header and footer, the same report in two columns, an English page with hyphenation, and bad
files (encrypted, truncated, empty, a text file named .pdf, no pages, blank pages, a scan)."""

from __future__ import annotations

import dataclasses
import re
import sys
import types
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path

import pytest
from documents import (
    REPORT_TITLE,
    needs_chromium,
    needs_pdftoppm,
    print_pdf,
    report_blocks,
    report_html,
    scan_pdf,
)

from qa.chunk import chunk_document
from qa.corpus import UnreadableError
from qa.formats import to_document
from qa.formats.base import READER_OCR, READER_PDF, READER_PDF_OCR, Line
from qa.formats.layout import drop_repeated_margins, iter_without_margins, page_text
from qa.settings import DEFAULTS

# ----------------------------------------------------------------------------- helpers

EM = 14.0  # line height of the hand-made pages
PITCH = 22.0  # their line pitch


def row(text: str, y: float, left: float = 50.0, right: float | None = None) -> Line:
    """A line of ``text`` whose top is ``y``; CJK characters are 1 em wide, others half."""
    if right is None:
        right = left + sum(EM if ord(ch) > 0x2E80 else EM / 2 for ch in text)
    return Line(text, left, y, right, y + EM)


def cjk_page(paragraphs: list[list[str]], gap: float = 0.0, indent: float = 0.0) -> list[Line]:
    """Lines of ``paragraphs`` (each a list of line texts) set from y=100, ``gap`` extra space
    between paragraphs, the first line of each indented by ``indent``."""
    out = []
    y = 100.0
    for para in paragraphs:
        for i, text in enumerate(para):
            out.append(row(text, y, left=50.0 + (indent if i == 0 else 0.0)))
            y += PITCH
        y += gap
    return out


def paragraphs(text: str) -> list[str]:
    return text.split("\n\n")


# ----------------------------------------------------------------------------- page_text


@pytest.mark.unit
def test_empty_page() -> None:
    assert page_text([]) == ""
    assert page_text([Line("  ", 0, 0, 10, 10)]) == ""


@pytest.mark.unit
def test_reading_order_and_pieces_of_a_row() -> None:
    lines = [
        Line("second line", 50, 122, 150, 136),
        Line("world", 120, 100, 160, 114),  # a piece set apart on the first row
        Line("Hello", 50, 100, 90, 114),
        Line("广州", 50, 144, 78, 158),
        Line("公安", 78.5, 144, 106, 158),  # touching CJK pieces: nothing between them
    ]
    assert page_text(lines) == "Hello world\nsecond line\n广州公安"


@pytest.mark.unit
def test_paragraphs_by_vertical_gap() -> None:
    full = "一" * 30  # a full line (the column's width)
    lines = cjk_page([[full, full, "一二三"], [full, "四五六"]], gap=11.0)
    assert paragraphs(page_text(lines)) == [f"{full}\n{full}\n一二三", f"{full}\n四五六"]


@pytest.mark.unit
def test_paragraphs_by_first_line_indent() -> None:
    full = "一" * 30
    lines = cjk_page([[full[:-2], full, full], [full[:-2], full]], indent=2 * EM)
    assert len(paragraphs(page_text(lines))) == 2


@pytest.mark.unit
def test_equally_indented_lines_are_one_block() -> None:
    """A quotation set in from the margin is not a paragraph per line."""
    full = "一" * 30
    lines = [row(full, 100 + i * PITCH) for i in range(3)]
    lines += [row(full[:-2], 100 + i * PITCH, left=78) for i in (3, 4, 5)]
    assert paragraphs(page_text(lines)) == ["\n".join([full] * 3), "\n".join([full[:-2]] * 3)]


@pytest.mark.unit
def test_paragraph_by_short_line_ending_a_sentence() -> None:
    full = "二" * 30
    lines = cjk_page([[full, "短句结束了。", full, full]])  # no gap, no indent
    assert paragraphs(page_text(lines)) == [f"{full}\n短句结束了。", f"{full}\n{full}"]


@pytest.mark.unit
def test_short_line_forced_by_line_breaking_rules_is_no_paragraph_end() -> None:
    """A CJK line stops a character short when the next character may not start a line
    without it ("实、"): the break was forced, the sentence goes on."""
    full = "二" * 30
    short = "二" * 27 + "充。"  # ends a sentence 1 em short of the edge...
    lines = cjk_page([[full, short, "实、" + "二" * 28]])  # ...but "实、" needs 2 em
    assert len(paragraphs(page_text(lines))) == 1
    lines = cjk_page([[full, short, "实" + "二" * 29]])  # "实" alone would have fitted
    assert len(paragraphs(page_text(lines))) == 2


@pytest.mark.unit
def test_latin_ragged_right_line_is_no_paragraph_end() -> None:
    """Ragged-right Latin lines end short when the next word is long: not a paragraph end
    unless that word would have fitted."""
    w = EM / 2

    def page(second: str) -> list[Line]:
        return [
            Line("The committee reviewed the annual", 50, 100, 281, 114),
            Line(second, 50, 122, 50 + len(second) * w, 136),
            Line("extraordinarily detailed minutes were", 50, 144, 281, 158),
            Line("kept by the secretary.", 50, 166, 50 + 22 * w, 180),
        ]

    # 13 characters of room, "extraordinarily " needs 16: the width forced the break
    assert len(paragraphs(page_text(page("the report was read.")))) == 1
    # 22 characters of room: the paragraph ended there
    assert len(paragraphs(page_text(page("the report.")))) == 2


@pytest.mark.unit
def test_a_larger_font_is_a_heading_of_its_own() -> None:
    big = [Line("Annual Report", 50, 60, 250, 88), Line("of the Board", 50, 94, 230, 122)]
    text = "The committee reviewed the annual report and"
    body_lines = [row(text, 140 + i * PITCH) for i in (0, 1)]
    assert paragraphs(page_text(big + body_lines)) == [
        "Annual Report\nof the Board",
        f"{text}\n{text}",
    ]


@pytest.mark.unit
def test_typesetter_hyphen_joins_the_word() -> None:
    lines = [row("citing un\u2010", 100), row("characteristically high costs", 122)]
    assert page_text(lines) == "citing uncharacteristically high costs"
    lines = [row("a well-", 100), row("known fact", 122)]  # a real hyphen: left to the chunker
    assert page_text(lines) == "a well-\nknown fact"


def two_column_page(spanning_title: bool = True) -> list[Line]:
    """A title across the page, then two columns of 8 full CJK lines each."""
    lines = [Line("标题横跨两栏", 50, 40, 550, 60)] if spanning_title else []
    for i in range(8):
        y = 100 + i * PITCH
        lines.append(Line(f"左栏第{i}行" + "左" * 12, 50, y, 290, y + EM))
        lines.append(Line(f"右栏第{i}行" + "右" * 12, 310, y, 550, y + EM))
    return lines


@pytest.mark.unit
def test_two_columns_are_read_left_column_first() -> None:
    lines = two_column_page()
    text = page_text(lines[::-1])  # input order does not matter
    flat = text.replace("\n", "")
    assert flat.startswith("标题横跨两栏")
    assert flat.index("左栏第7行") < flat.index("右栏第0行")
    assert "\n左栏第1行" in text and "右栏第0行" in text


@pytest.mark.unit
def test_a_table_of_short_cells_is_read_row_by_row() -> None:
    """Two columns of short cells (a table, a form) are no column layout."""
    lines = []
    for i in range(8):
        y = 100 + i * PITCH
        lines.append(Line(f"名称{i}", 50, y, 106, y + EM))
        lines.append(Line(f"数值{i}", 310, y, 366, y + EM))
    assert page_text(lines).split("\n")[:2] == ["名称0 数值0", "名称1 数值1"]


# ----------------------------------------------------------------------------- margins

H = 800.0  # page height of the hand-made pages


def body(n: int, page: int) -> list[Line]:
    return [row(f"第{page}页正文第{i}行" + "文" * 20, 100 + i * PITCH) for i in range(n)]


def with_margins(page: int, pages: int) -> list[Line]:
    return [
        Line("11/28/26, 1:01 AM", 20, 15, 120, 25),
        Line("广州公安亮五年工作「成绩单」", 250, 15, 400, 25),
        *body(5, page),
        Line("file:///tmp/x/page.html", 20, 767, 200, 777),
        Line(f"{page}/{pages}", 560, 767, 580, 777),
    ]


@pytest.mark.unit
@pytest.mark.parametrize("pages", [2, 3, 6, 30])
def test_repeated_headers_and_footers_are_dropped(pages: int) -> None:
    doc = [with_margins(p, pages) for p in range(1, pages + 1)]
    kept = drop_repeated_margins(doc, H)
    assert kept == [body(5, p) for p in range(1, pages + 1)]


@pytest.mark.unit
def test_streaming_gives_the_same_pages() -> None:
    doc = [with_margins(p, 12) for p in range(1, 13)]
    doc[0] = doc[0][2:]  # a title page without header
    streamed = list(iter_without_margins(((p, H) for p in doc), len(doc)))
    assert streamed == drop_repeated_margins(doc, [H] * len(doc))
    assert streamed[0] == body(5, 1)


@pytest.mark.unit
def test_body_text_repeated_once_is_kept() -> None:
    """A heading at the top of two pages of six is body text, not a running header."""
    doc = [body(5, p) for p in range(6)]
    for p in (1, 3):
        doc[p] = [Line("第三部分 总结", 50, 40, 200, 54), *doc[p]]
    assert drop_repeated_margins(doc, H) == doc


@pytest.mark.unit
def test_repeated_text_at_another_height_is_kept() -> None:
    doc = [[Line("摘要", 50, 20 + 30 * p, 80, 34 + 30 * p), *body(3, p)] for p in range(3)]
    assert drop_repeated_margins(doc, H) == doc


@pytest.mark.unit
@pytest.mark.parametrize(
    "number", ["3", "- 3 -", "— 3 —", "第 3 页", "第3页 共5页", "Page 3 of 5", "p. 3", "3/5", "iv"]
)
def test_page_numbers_in_the_margin_are_dropped(number: str) -> None:
    page = [*body(5, 3), Line(number, 290, 760, 310, 774)]
    assert drop_repeated_margins([page], H) == [body(5, 3)]
    top = [Line(number, 290, 20, 310, 34), *body(5, 3)]
    assert drop_repeated_margins([top], H) == [body(5, 3)]


@pytest.mark.unit
def test_numbers_in_the_body_are_kept() -> None:
    page = [*body(3, 1), Line("2023", 50, 400, 90, 414), *body(2, 2)]
    assert drop_repeated_margins([page], H) == [page]
    # a number in the bottom band with body text below it is no page number
    page = [Line("42", 50, 730, 70, 744), Line("本页最后一行正文。", 50, 752, 200, 766)]
    assert drop_repeated_margins([page], H) == [page]


# ----------------------------------------------------------------------------- real PDFs


ENGLISH = [
    "The committee reviewed the annual maintenance report for the northern water treatment "
    "plant. Engineers noted that the filtration membranes had been replaced ahead of schedule, "
    "which reduced unplanned downtime con&shy;sid&shy;er&shy;ably during the wet season.",
    "Budget discussions focused on the inter&shy;depart&shy;mental responsibilities for "
    "infra&shy;struc&shy;ture mod&shy;ern&shy;isa&shy;tion. The finance office recommended "
    "postponing the telemetry upgrade until the next fiscal year, citing "
    "un&shy;char&shy;ac&shy;ter&shy;is&shy;ti&shy;cal&shy;ly high procurement costs.",
    "Short paragraph here.",
    "Residents raised questions about water pressure in the hillside "
    "neigh&shy;bour&shy;hoods. The operations manager explained that a new pumping station "
    "would be com&shy;mis&shy;sioned in the spring.",
]


def english_html() -> str:
    """Minutes in English in a narrow column: ligatures (fi, ffi) and hyphenation at soft
    hyphens, which chromium draws as U+2010."""
    body_html = "".join(f"<p>{p}</p>" for p in ENGLISH * 4)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<title>Water Board Minutes</title><style>body{font-family:'DejaVu Serif',serif;"
        "font-size:12pt;line-height:1.4;margin:0 2em;width:18em}p{margin:0 0 0.6em}</style>"
        f"</head><body><h1>Minutes of the Water Board</h1>{body_html}</body></html>"
    )


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The real PDFs, printed once (concurrently: chromium takes seconds each)."""
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian's chromium is not installed")
    out = tmp_path_factory.mktemp("pdfs")
    two_columns = report_html().replace(
        "margin:0 2em}", "margin:0 2em;column-count:2;column-gap:2em}"
    )
    jobs = {
        "report": report_html(),
        "columns": two_columns,
        "english": english_html(),
    }
    with ThreadPoolExecutor(len(jobs)) as pool:
        done = {k: pool.submit(print_pdf, html, out / f"{k}.pdf") for k, html in jobs.items()}
        return {k: f.result() for k, f in done.items()}


def read(path: Path, **settings: object):
    from qa.formats.pdf import read_pdf

    return read_pdf(path, dataclasses.replace(DEFAULTS, **settings))


def source_paragraphs() -> list[str]:
    return [REPORT_TITLE] + [text for _, text in report_blocks()]


def flat(text: str) -> str:
    """``text`` with all whitespace removed."""
    return re.sub(r"\s+", "", text)


MARGIN = re.compile(r"file://|\d+/\d+/\d+|\d+:\d+ [AP]M|\b\d/6\b")


@pytest.mark.integration
@needs_chromium
def test_report_pages_without_headers_and_footers(pdfs: dict[str, Path]) -> None:
    seen: list[tuple[int, int, str]] = []
    extracted = read(pdfs["report"])
    assert extracted.paged and extracted.reader == READER_PDF and extracted.ocr_pages == 0
    assert len(extracted.pages) == 6
    for page in extracted.pages:
        assert page.strip() and not MARGIN.search(page), page[:200]
    # the title is where the article has it (twice on page 1), not at the top of every page
    assert sum(p.count(REPORT_TITLE) for p in extracted.pages) == 2
    assert extracted.pages[0].startswith(REPORT_TITLE + "\n\n")
    from qa.formats.pdf import read_pdf

    read_pdf(pdfs["report"], progress=lambda *a: seen.append(a))
    assert seen == [(i, 6, "text") for i in range(1, 7)]


@pytest.mark.integration
@needs_chromium
@pytest.mark.parametrize("name", ["report", "columns"])
def test_report_paragraphs_come_out_whole(pdfs: dict[str, Path], name: str) -> None:
    """Every paragraph of the source is a paragraph of the PDF's text (lines joined), or runs
    over a page break (split in two there); CJK lines join without stray spaces."""
    pages = read(pdfs[name]).pages
    # one column: lines join exactly (no line break falls on a space of the source); two
    # narrow columns break lines at spaces ("记者 鄢敏"), compared without whitespace
    join = (lambda p: p.replace("\n", "")) if name == "report" else flat
    got = [join(p) for page in pages for p in page.split("\n\n")]
    split = 0
    for para in map(join, source_paragraphs()):
        if para in got:
            continue
        # a paragraph over a page break: its two parts end one page and start the next
        assert any(a + b == para for a, b in pairwise(got)), para
        split += 1
    assert split <= len(pages) - 1
    assert len(got) == len(source_paragraphs()) + split


@pytest.mark.integration
@needs_chromium
def test_cjk_sentences_and_a_paragraph_over_a_page_break(pdfs: dict[str, Path]) -> None:
    extracted = read(pdfs["report"])
    text = "\n\n".join(extracted.pages)
    assert not re.search(r"[\u4e00-\u9fff，。] +\n|\n +[\u4e00-\u9fff]", text)
    doc = to_document(extracted, "report.pdf", "0" * 64, 1)
    chunks = [c.text for c in chunk_document(doc)]
    for sentence in [
        "殷殷期许，言犹在耳；谆谆嘱托，催人奋进。",
        "全市刑事立案数同比2019年下降15.2%，扫黑除恶成绩连续五年排名全省第一",
        # runs from page 5 onto page 6
        "据统计，五年来，全市公安机关累计有39个集体和52名个人荣获省部级以上表彰奖励",
    ]:
        assert any(sentence in c for c in chunks), sentence


@pytest.mark.integration
@needs_chromium
def test_two_column_report_reads_column_by_column(pdfs: dict[str, Path]) -> None:
    text = flat("".join(read(pdfs["columns"]).pages))
    at = 0
    for para in source_paragraphs():
        at = text.find(flat(para), at)
        assert at >= 0, para


@pytest.mark.integration
@needs_chromium
def test_english_pdf(pdfs: dict[str, Path]) -> None:
    extracted = read(pdfs["english"])
    assert extracted.reader == READER_PDF
    text = "\n\n".join(extracted.pages)
    assert "Water Board Minutes" not in text  # the running title
    doc = to_document(extracted, "minutes.pdf", "0" * 64, 1)
    joined = " ".join(c.text for c in chunk_document(doc))
    for para in ENGLISH:
        assert para.replace("&shy;", "") in joined, para
    # ligatures as letters, hyphenation undone
    assert "finance office" in joined and "filtration" in joined
    assert "uncharacteristically" in joined and "commissioned" in joined
    assert "\u2010" not in joined


@pytest.mark.integration
@needs_chromium
def test_reopening_the_document_changes_nothing(
    pdfs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Long files are reopened every few pages to bound PDFium's memory."""
    import qa.formats.pdf

    whole = read(pdfs["report"]).pages
    monkeypatch.setattr(qa.formats.pdf, "_REOPEN_EVERY", 2)
    assert read(pdfs["report"]).pages == whole


def turned(pdf: Path, out: Path, degrees: int) -> Path:
    """A copy of ``pdf`` whose content is turned ``degrees`` counterclockwise and whose pages
    carry /Rotate ``degrees``: it displays as before (a landscape scan's layout)."""
    import pypdf
    from pypdf import Transformation

    writer = pypdf.PdfWriter(clone_from=str(pdf))
    for page in writer.pages:
        w, h = float(page.mediabox.width), float(page.mediabox.height)
        shift = {90: (h, 0), 270: (0, w)}[degrees]
        page.add_transformation(Transformation().rotate(degrees).translate(*shift))
        page.mediabox = page.cropbox = pypdf.generic.RectangleObject([0, 0, h, w])
        page.rotate(degrees)
    writer.write(out)
    return out


@pytest.mark.integration
@needs_chromium
@pytest.mark.parametrize("degrees", [90, 270])
def test_rotated_pages_read_as_displayed(
    pdfs: dict[str, Path], tmp_path: Path, degrees: int
) -> None:
    rotated = turned(pdfs["report"], tmp_path / "rotated.pdf", degrees)
    assert read(rotated).pages == read(pdfs["report"]).pages


# ----------------------------------------------------------------------------- bad files


@pytest.fixture(scope="module")
def bad_files(pdfs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    import pypdf

    out = tmp_path_factory.mktemp("bad")
    good = pdfs["report"]
    writer = pypdf.PdfWriter(clone_from=str(good))
    writer.encrypt("secret")
    writer.write(out / "encrypted.pdf")
    writer = pypdf.PdfWriter(clone_from=str(good))
    writer.encrypt("", owner_password="owner")  # opens without a password: readable
    writer.write(out / "owner-only.pdf")
    data = good.read_bytes()
    (out / "truncated.pdf").write_bytes(data[: len(data) // 2])
    (out / "empty.pdf").write_bytes(b"")
    (out / "text.pdf").write_text("这不是PDF，只是一段文字。\n", encoding="utf-8")
    pypdf.PdfWriter().write(out / "no-pages.pdf")
    blank = pypdf.PdfWriter()
    blank.add_blank_page(595, 842)
    blank.add_blank_page(595, 842)
    blank.write(out / "blank.pdf")
    return out


@pytest.mark.integration
@needs_chromium
@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("encrypted.pdf", "encrypted PDF (password protected)"),
        ("truncated.pdf", "damaged PDF"),
        ("empty.pdf", "empty file"),
        ("text.pdf", "not a PDF file"),
        ("no-pages.pdf", "PDF with no pages"),
        ("blank.pdf", "PDF with no text"),
        ("missing.pdf", "cannot be read"),
    ],
)
def test_bad_files_are_unreadable_with_a_reason(bad_files: Path, name: str, reason: str) -> None:
    with pytest.raises(UnreadableError) as err:
        read(bad_files / name)
    assert err.value.reason.startswith(reason), err.value.reason


@pytest.mark.integration
@needs_chromium
def test_owner_password_only_is_read(bad_files: Path) -> None:
    assert "殷殷期许" in "".join(read(bad_files / "owner-only.pdf").pages)


@pytest.mark.integration
@needs_chromium
def test_too_many_pages(pdfs: dict[str, Path]) -> None:
    with pytest.raises(UnreadableError, match="6 pages: more than the 5 allowed"):
        read(pdfs["report"], max_pages=5)


# ----------------------------------------------------------------------------- scans


@pytest.fixture(scope="module")
def scans(pdfs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A one-page scan (the English minutes' first page at 100 dpi) and a mixed PDF: the
    report's text pages with that scan appended."""
    import pypdf

    out = tmp_path_factory.mktemp("scans")
    first = pypdf.PdfWriter()
    first.add_page(pypdf.PdfReader(pdfs["english"]).pages[0])
    first.write(out / "first.pdf")
    scan = scan_pdf(out / "first.pdf", out / "scan.pdf", dpi=100)
    mixed = pypdf.PdfWriter(clone_from=str(pdfs["report"]))
    mixed.append(str(scan))
    mixed.write(out / "mixed.pdf")
    return {"scan": scan, "mixed": out / "mixed.pdf"}


@pytest.mark.integration
@needs_chromium
@needs_pdftoppm
def test_scan_without_ocr_says_how_to_read_it(scans: dict[str, Path]) -> None:
    with pytest.raises(UnreadableError) as err:
        read(scans["scan"], ocr=False)
    assert err.value.reason.startswith("scanned PDF with no text layer")
    assert "OCR is turned off" in err.value.reason
    # a mixed PDF without OCR keeps its text pages
    extracted = read(scans["mixed"], ocr=False)
    assert extracted.reader == READER_PDF and extracted.ocr_pages == 0
    assert extracted.pages[-1] == "" and "殷殷期许" in extracted.pages[0]


@pytest.fixture
def fake_ocr(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """A stand-in qa.formats.ocr that 'reads' every page it is given as one line."""
    calls: list[object] = []
    module = types.ModuleType("qa.formats.ocr")

    def ocr_pdf_page(page: object, settings: object) -> list[Line]:
        calls.append(page)
        return [Line("扫描页的文字，由OCR读出。", 72, 100, 300, 114)]

    module.ocr_pdf_page = ocr_pdf_page  # type: ignore[attr-defined]
    module.ocr_missing = lambda: None  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "qa.formats.ocr", module)
    return calls


@pytest.mark.integration
@needs_chromium
@needs_pdftoppm
def test_scanned_pages_go_to_ocr(scans: dict[str, Path], fake_ocr: list[object]) -> None:
    from qa.formats.pdf import read_pdf

    seen: list[tuple[int, int, str]] = []
    extracted = read_pdf(scans["mixed"], progress=lambda *a: seen.append(a))
    assert len(fake_ocr) == 1  # only the page without a text layer
    assert extracted.reader == READER_PDF_OCR and extracted.ocr_pages == 1
    assert extracted.pages[-1] == "扫描页的文字，由OCR读出。"
    assert seen[-1] == (7, 7, "ocr") and seen[0] == (1, 7, "text")
    only = read_pdf(scans["scan"])
    assert only.reader == READER_OCR and only.ocr_pages == 1


@pytest.mark.integration
@needs_chromium
@needs_pdftoppm
def test_scan_read_by_real_ocr(scans: dict[str, Path]) -> None:
    ocr = pytest.importorskip("qa.formats.ocr")
    if ocr.ocr_missing():
        pytest.skip(ocr.ocr_missing())
    extracted = read(scans["scan"])
    assert extracted.reader == READER_OCR and extracted.ocr_pages == 1
    text = " ".join(extracted.pages).replace("\n", " ")
    assert "committee reviewed the annual" in text
