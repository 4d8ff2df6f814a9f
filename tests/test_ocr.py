"""OCR (qa.formats.ocr): real scans of the default corpus's report (printed by chromium,
rasterised by pdftoppm) read back as PNG, JPEG, multi-page TIFF and scanned PDF pages; an
English image; bad inputs. The inputs are made once per module and kept to a few small
pages: OCR takes a few seconds a page on two cores."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import threading
from pathlib import Path

import pytest
from documents import needs_chromium, needs_pdftoppm, print_pdf, report_blocks, report_html

from qa.corpus import UnreadableError
from qa.formats import ocr
from qa.formats.base import READER_OCR, Line
from qa.settings import DEFAULTS

FONTS = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
)
#: Per-sentence character error rate allowed. Measured (bench/bench_ocr.py): the whole report
#: scanned at 150 or 300 dpi reads with CER 0.5-0.7%, nearly all of it dashes and full-width
#: marks ("—" dropped, "！" read "!"); the sentences checked here read with 0 or 1 error each.
#: 5% leaves room for another onnxruntime build's rounding without letting a wrong model pass.
MAX_SENTENCE_CER = 0.05
#: The sentences of the report's first paragraphs (on its first page).
PAGE1_SENTENCES = [
    s
    for _, block in report_blocks()[:4]
    for s in re.split(r"(?<=[。；！？])", block)
    if len(s) >= 10
]

needs_ocr = pytest.mark.skipif(ocr.ocr_missing() is not None, reason=str(ocr.ocr_missing()))


def _squash(text: str) -> str:
    return re.sub(r"\s", "", text)


def substring_distance(needle: str, haystack: str) -> int:
    """The fewest edits that turn ``needle`` into some substring of ``haystack``."""
    prev = [0] * (len(haystack) + 1)  # free start anywhere in the haystack
    for i, c in enumerate(needle, 1):
        cur = [i] + [0] * len(haystack)
        for j, h in enumerate(haystack, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (c != h))
        prev = cur
    return min(prev)  # free end


def assert_holds(text: str, sentences: list[str]) -> None:
    """Each sentence is in ``text`` (whitespace removed) with at most MAX_SENTENCE_CER."""
    flat = _squash(text)
    for s in sentences:
        errors = substring_distance(_squash(s), flat)
        assert errors <= MAX_SENTENCE_CER * len(s), f"{s!r}: {errors} errors in\n{text}"


# ----------------------------------------------------------------------------- inputs


@pytest.fixture(scope="module")
def report_pdf(tmp_path_factory) -> Path:
    """The report printed by chromium (6 pages, text layer)."""
    return print_pdf(report_html(), tmp_path_factory.mktemp("ocr") / "report.pdf")


@pytest.fixture(scope="module")
def page1_png(report_pdf: Path) -> Path:
    """Page 1 "scanned": rasterised by pdftoppm at 150 dpi, grey, no text layer."""
    out = report_pdf.with_name("page1")
    cmd = ["pdftoppm", "-r", "150", "-gray", "-png", "-f", "1", "-l", "1", "-singlefile"]
    subprocess.run([*cmd, str(report_pdf), str(out)], check=True, timeout=120)
    return out.with_suffix(".png")


@pytest.fixture(scope="module")
def page1(page1_png: Path):
    from PIL import Image

    with Image.open(page1_png) as im:
        im.load()
        return im


def _band(page, top: float, bottom: float):
    """A horizontal band of a page image (fractions of its height): a few lines of text."""
    w, h = page.size
    return page.crop((0, int(top * h), w, int(bottom * h)))


def _text_image(lines: list[str], size: int = 28, width: int = 1100):
    from PIL import Image, ImageDraw, ImageFont

    font_path = next((f for f in FONTS if f.exists()), None)
    if font_path is None:
        pytest.skip("no TrueType font (fonts-noto-cjk or fonts-dejavu-core)")
    font = ImageFont.truetype(str(font_path), size)
    img = Image.new("L", (width, 60 + len(lines) * size * 2), 255)
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((40, 30 + i * size * 2), line, fill=0, font=font)
    return img


# ----------------------------------------------------------------------------- unit


@pytest.mark.unit
def test_reading_order_rows_top_to_bottom_each_left_to_right():
    lines = [
        Line("c", 0, 40, 50, 60),
        Line("b", 60, 2, 100, 21),
        Line("a", 0, 0, 50, 20),
        Line("d", 60, 41, 90, 59),
    ]
    assert [ln.text for ln in ocr.reading_order(lines)] == ["a", "b", "c", "d"]


@pytest.mark.unit
def test_render_scale_keeps_to_the_pixel_budgets():
    letter = (612.0, 792.0)
    assert ocr.render_scale(*letter, DEFAULTS.max_image_pixels) == pytest.approx(ocr.OCR_DPI / 72)
    small = ocr.render_scale(*letter, 100_000)
    assert letter[0] * letter[1] * small * small == pytest.approx(100_000)
    poster = ocr.render_scale(2384.0, 3370.0, DEFAULTS.max_image_pixels)  # A0
    assert 2384 * 3370 * poster * poster == pytest.approx(ocr.OCR_MAX_PIXELS)


@pytest.mark.unit
def test_eight_bit_lays_transparency_on_white_and_stretches_16_bit():
    import numpy as np
    from PIL import Image

    rgba = Image.new("RGBA", (4, 4), (0, 0, 0, 0))  # transparent "black"
    assert ocr._eight_bit(rgba).getpixel((0, 0)) == (255, 255, 255)
    deep = Image.fromarray(np.array([[0, 1000], [2000, 4000]], dtype=np.uint16))
    grey = ocr._eight_bit(deep)
    assert grey.mode == "L" and grey.getpixel((0, 0)) == 0 and grey.getpixel((1, 1)) == 255


@pytest.mark.unit
def test_ocr_missing_names_the_install_command(monkeypatch):
    monkeypatch.setattr(ocr, "_MODULES", ("no_such_ocr_module",))
    ocr.ocr_missing.cache_clear()
    try:
        reason = ocr.ocr_missing()
        assert reason is not None and "pip install rapidocr" in reason and "\n" not in reason
    finally:
        monkeypatch.undo()
        ocr.ocr_missing.cache_clear()


@pytest.mark.unit
def test_not_an_image(tmp_path):
    fake = tmp_path / "notes.png"
    fake.write_text("just some text, not a picture\n", encoding="utf-8")
    with pytest.raises(UnreadableError, match="not an image"):
        ocr.read_image(fake)


@pytest.mark.unit
def test_truncated_png(tmp_path):
    from PIL import Image

    whole = tmp_path / "whole.png"
    Image.effect_noise((400, 300), 60).save(whole)  # noise does not compress: a long file
    cut = tmp_path / "cut.png"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(UnreadableError, match="truncated or damaged"):
        ocr.read_image(cut)


@pytest.mark.unit
def test_image_over_the_pixel_limit(tmp_path):
    from PIL import Image

    img = tmp_path / "big.png"
    Image.new("L", (300, 200), 255).save(img)
    guard = Image.MAX_IMAGE_PIXELS
    for limit in (50_000, 20_000):  # Pillow warns past the limit, raises past twice it
        small = dataclasses.replace(DEFAULTS, max_image_pixels=limit)
        with pytest.raises(UnreadableError, match="too large"):
            ocr.read_image(img, small)
    assert guard == Image.MAX_IMAGE_PIXELS  # Pillow's global guard is put back


@pytest.mark.unit
def test_tiff_with_too_many_pages(tmp_path):
    from PIL import Image

    tif = tmp_path / "many.tif"
    frames = [Image.new("L", (40, 40), 255) for _ in range(3)]
    frames[0].save(tif, save_all=True, append_images=frames[1:])
    with pytest.raises(UnreadableError, match="3 pages"):
        ocr.read_image(tif, dataclasses.replace(DEFAULTS, max_pages=2))


@pytest.mark.unit
def test_ocr_turned_off(tmp_path):
    from PIL import Image

    img = tmp_path / "a.png"
    Image.new("L", (40, 40), 255).save(img)
    with pytest.raises(UnreadableError, match="OCR is turned off"):
        ocr.read_image(img, dataclasses.replace(DEFAULTS, ocr=False))


@pytest.mark.unit
def test_pdf_page_with_an_image_over_the_pixel_limit(tmp_path):
    import pypdfium2 as pdfium
    from PIL import Image

    pdf = tmp_path / "scan.pdf"
    Image.new("L", (1000, 400), 255).save(pdf, "PDF", resolution=100.0)
    doc = pdfium.PdfDocument(pdf)
    try:
        small = dataclasses.replace(DEFAULTS, max_image_pixels=100_000)
        with pytest.raises(UnreadableError, match="1000 x 400 pixels"):
            ocr.ocr_pdf_page(doc[0], small)
    finally:
        doc.close()


# ----------------------------------------------------------------------------- real OCR


@pytest.mark.integration
@needs_ocr
def test_ocr_is_installed():
    assert ocr.ocr_missing() is None


@pytest.mark.integration
@needs_ocr
@needs_chromium
@needs_pdftoppm
def test_scanned_report_page_png(page1_png):
    calls = []
    got = ocr.read_image(page1_png, progress=lambda *a: calls.append(a))
    assert got.paged and got.reader == READER_OCR and got.ocr_pages == 1
    assert len(got.pages) == 1 and calls == [(1, 1, "ocr")]
    assert_holds(got.pages[0], PAGE1_SENTENCES)
    assert "\n\n" in got.pages[0]  # paragraphs found


@pytest.mark.integration
@needs_ocr
@needs_chromium
@needs_pdftoppm
def test_jpeg_with_exif_orientation(page1, tmp_path):
    """A camera JPEG stored sideways with EXIF "rotate 90 CW to view" is read upright."""
    from PIL import Image

    band = _band(page1, 0.17, 0.30)  # the 殷殷期许 and 五年来 paragraphs
    stored = band.transpose(Image.Transpose.ROTATE_90)  # counter-clockwise: stored sideways
    exif = Image.Exif()
    exif[0x0112] = 6  # the viewer turns it 90 degrees clockwise
    jpg = tmp_path / "photo.jpg"
    stored.convert("RGB").save(jpg, quality=85, exif=exif)
    got = ocr.read_image(jpg)
    assert_holds(got.pages[0], ["殷殷期许，言犹在耳；谆谆嘱托，催人奋进。"])


@pytest.mark.integration
@needs_ocr
@needs_chromium
@needs_pdftoppm
def test_upside_down_scan_is_turned_round(page1):
    from PIL import Image

    band = _band(page1, 0.17, 0.26).transpose(Image.Transpose.ROTATE_180)
    lines = ocr.ocr_lines(band)
    text = "\n".join(ln.text for ln in lines)
    assert_holds(text, ["殷殷期许，言犹在耳；谆谆嘱托，催人奋进。"])
    assert text.index("殷殷期许") < text.index("五年来")  # top to bottom of the upright page


@pytest.mark.integration
@needs_ocr
@needs_chromium
@needs_pdftoppm
def test_two_page_tiff(page1, tmp_path):
    bands = [_band(page1, 0.17, 0.22), _band(page1, 0.22, 0.31)]
    tif = tmp_path / "scan.tif"
    bands[0].save(tif, save_all=True, append_images=bands[1:], compression="tiff_lzw")
    calls = []
    got = ocr.read_image(tif, progress=lambda *a: calls.append(a))
    assert got.ocr_pages == 2 and len(got.pages) == 2
    assert calls == [(1, 2, "ocr"), (2, 2, "ocr")]
    assert_holds(got.pages[0], ["殷殷期许，言犹在耳；谆谆嘱托，催人奋进。"])
    assert_holds(got.pages[1], ["五年来，广州市公安机关深入学习贯彻习近平总书记重要讲话精神"])
    assert "殷殷期许" not in got.pages[1]


@pytest.mark.integration
@needs_ocr
@needs_chromium
@needs_pdftoppm
def test_scanned_pdf_page_boxes_in_points(page1, tmp_path):
    """A scanned PDF (the upper part of page 1 as an image-only page at 150 dpi) reads like a
    text layer: boxes in points on the page, lines of the body's 14 pt size."""
    import pypdfium2 as pdfium

    from qa.formats.layout import page_text

    scan = tmp_path / "scan.pdf"
    _band(page1, 0.0, 0.358).save(scan, "PDF", resolution=150.0)  # to 现代化。
    doc = pdfium.PdfDocument(scan)
    try:
        page = doc[0]
        width, height = page.get_size()
        assert page.get_textpage().count_chars() == 0  # no text layer: only OCR can read it
        lines = ocr.ocr_pdf_page(page, DEFAULTS)
    finally:
        doc.close()
    assert (width, height) == pytest.approx((612, 792 * 0.358), abs=1)
    assert all(0 <= ln.left < ln.right <= width + 1 for ln in lines)
    assert all(0 <= ln.top < ln.bottom <= height + 1 for ln in lines)
    heights = sorted(ln.bottom - ln.top for ln in lines)
    assert 12 < heights[len(heights) // 2] < 18  # 14 pt text: a line box of 14-16 pt
    assert_holds(page_text(lines), PAGE1_SENTENCES[:4])


@pytest.mark.integration
@needs_ocr
def test_english_image(tmp_path):
    img = _text_image(
        ["Quarterly report: revenue grew 12% to $4.5 million.", "The board meets on 3 May 2024."]
    )
    png = tmp_path / "english.png"
    img.save(png)
    text = ocr.read_image(png).pages[0]
    words = re.findall(r"[\w$.%]+", text)
    for w in ["Quarterly", "report", "revenue", "grew", "12%", "$4.5", "million.", "board"]:
        assert w in words, text


@pytest.mark.integration
@needs_ocr
def test_blank_image_has_no_text(tmp_path):
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (600, 400), (235, 240, 250))
    ImageDraw.Draw(img).ellipse((100, 80, 400, 300), outline=(40, 60, 160), width=6)
    png = tmp_path / "drawing.png"
    img.save(png)
    with pytest.raises(UnreadableError, match="no text found by OCR"):
        ocr.read_image(png)


@pytest.mark.integration
@needs_ocr
def test_one_engine_shared_by_threads(monkeypatch):
    """The engine is made once even when threads ask for it together; parallel calls give the
    same lines as one call."""
    img = _text_image(["Threads 42"], size=24, width=300)
    expected = ocr.ocr_lines(img)
    monkeypatch.setattr(ocr, "_engine", None)  # made anew by the first of the threads
    engines, results = [], []

    def work():
        engines.append(ocr._get_engine())
        results.append(ocr.ocr_lines(img))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(e) for e in engines}) == 1
    assert results == [expected] * 3
    assert "42" in " ".join(ln.text for ln in expected)
