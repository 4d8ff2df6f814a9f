"""Reading a PDF's text with pypdfium2 (PDFium, the PDF engine of Chrome), page by page.

Each page's text layer is turned into :class:`~qa.formats.base.Line` s: PDFium's characters
in content order, cut where the text jumps to another height or back to the left, or where a
gap wider than a character sets two pieces of a row apart (a column gutter, a table cell).
PDFium's own line breaks are not used: it also breaks before ligatures and hyphen glyphs drawn
apart. Each line's box is made of the characters' loose boxes (font ascent to descent), its
top and bottom taken as the medians over the characters so that one tall quote mark does not
make a line look taller. Boxes are in PDF points from the top-left of the page as displayed
(crop box and /Rotate applied). The running headers and footers are dropped
(:func:`~qa.formats.layout.iter_without_margins`) and each page becomes text with
:func:`~qa.formats.layout.page_text`.

Pages with no text layer (a scan) are read by OCR (:mod:`qa.formats.ocr`) when
``Settings.ocr`` is on and OCR can run. A file that cannot be read (encrypted, damaged, not a
PDF, too many pages, no text at all) raises :class:`~qa.corpus.UnreadableError` with a reason.

Pages are read one at a time and closed at once; only a few pages' lines are held (the margin
window), so memory grows with the text only.
"""

from __future__ import annotations

import ctypes
import logging
import statistics
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from qa.corpus import UnreadableError
from qa.formats.base import READER_OCR, READER_PDF, READER_PDF_OCR, Extracted, Line, PageProgress
from qa.formats.layout import iter_without_margins, page_text
from qa.settings import DEFAULTS, Settings

log = logging.getLogger("qa")

#: A page with fewer visible characters than this in its text layer (a scan with a page
#: number or a stamp, or nothing) is read by OCR when it has something drawn on it.
MIN_TEXT_CHARS = 16
#: Two characters of one line further apart than this many line heights are two pieces (a
#: column gutter, a table cell, a header's left and right parts): justified word spaces stay
#: well under one em.
_PIECE_GAP = 1.0
#: A page whose characters mostly have no Unicode mapping (a font without a ToUnicode map)
#: has a text layer of garbage: it is read like a scan.
_MAX_UNMAPPED = 0.5

#: The document is closed and opened again after this many pages (see _Document).
_REOPEN_EVERY = 100
#: How PDFium gives a hyphen that ends a line (U+0002, shown as U+FFFE by its text API).
_PDFIUM_HYPHENS = "\x02\ufffe"
#: Ligature characters of fonts whose ToUnicode maps a ligature glyph to one code point.
_LIGATURES = {c: unicodedata.normalize("NFKC", chr(c)) for c in range(0xFB00, 0xFB07)}

_PASSWORD = "encrypted PDF (password protected): it cannot be read without its password"
_SECURITY = "encrypted PDF with an unsupported security handler"
_NOT_PDF = "not a PDF file (no PDF header)"
_DAMAGED = "damaged PDF: {}"
_NO_PAGES = "PDF with no pages"
_NO_TEXT = "PDF with no text (blank pages)"
_SCANNED = "scanned PDF with no text layer; {}"
_OCR_OFF = "OCR is turned off (--no-ocr, Settings.ocr): build without it to read the scan"


def read_pdf(
    path: Path, settings: Settings = DEFAULTS, progress: PageProgress | None = None
) -> Extracted:
    """The text of each page of the PDF ``path`` (see the module docstring). Calls
    ``progress(done, total, "text" or "ocr")`` after each page. Raises
    :class:`~qa.corpus.UnreadableError` for a file that cannot be read."""
    pdf = _Document(Path(path))
    try:
        total = len(pdf)
        if total < 1:
            raise UnreadableError(_NO_PAGES)
        if total > settings.max_pages:
            raise UnreadableError(
                f"PDF of {total} pages: more than the {settings.max_pages} allowed"
            )
        state = _State(settings)
        pages = _page_lines(pdf, total, state, progress)
        texts = tuple(page_text(lines) for lines in iter_without_margins(pages, total))
    finally:
        pdf.close()
    if not any(t.strip() for t in texts):
        raise UnreadableError(state.empty_reason())
    unread = state.scanned_pages - state.ocr_pages
    if unread and state.ocr_reason() is not None:
        log.warning("%s: %d scanned page(s) left empty: %s", path, unread, state.ocr_reason())
    if state.ocr_pages == 0:
        reader = READER_PDF
    else:
        reader = READER_OCR if state.ocr_pages == total else READER_PDF_OCR
    return Extracted(pages=texts, paged=True, reader=reader, ocr_pages=state.ocr_pages)


class _Document:
    """An open PDF whose pages are read in order. PDFium keeps what it parsed of a document
    (objects, fonts) until the document is closed, so it is reopened every
    :data:`_REOPEN_EVERY` pages: memory stays bounded over long files instead of growing by
    ~50 KB a page (bench/results/pdf/cmrc.pdf, 294 pages: peak RSS 63.2 MB and 1.07 s without
    reopening; 59.5 MB / 1.19 s every 200 pages, 55.0 MB / 1.32 s every 100, 50.8 MB / 1.58 s
    every 50: each reopening parses the fonts again)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.doc = _open(path)
        self.read = 0  # pages loaded since the document was opened

    def __len__(self) -> int:
        return len(self.doc)

    def page(self, index: int) -> pdfium.PdfPage:
        if self.read >= _REOPEN_EVERY:
            self.doc.close()
            self.doc = _open(self.path)
            self.read = 0
        self.read += 1
        return self.doc[index]

    def close(self) -> None:
        self.doc.close()


def _open(path: Path) -> pdfium.PdfDocument:
    """Open ``path`` with PDFium (it reads the file itself, in pieces, as pages need them)."""
    head = _head(path)
    if not head:
        raise UnreadableError("empty file")
    if b"%PDF-" not in head:
        raise UnreadableError(_NOT_PDF)
    # the raw call (pypdfium2's PdfDocument would not close a document of no pages)
    raw = pdfium_c.FPDF_LoadDocument(str(path).encode("utf-8", "surrogateescape") + b"\0", None)
    if not raw:
        code = pdfium_c.FPDF_GetLastError()
        if code == pdfium_c.FPDF_ERR_PASSWORD:
            raise UnreadableError(_PASSWORD)
        if code == pdfium_c.FPDF_ERR_SECURITY:
            raise UnreadableError(_SECURITY)
        if code == pdfium_c.FPDF_ERR_FILE:
            raise UnreadableError("cannot be opened")
        raise UnreadableError(_DAMAGED.format("truncated or corrupt, PDFium cannot open it"))
    return pdfium.PdfDocument(raw)


def _head(path: Path) -> bytes:
    """The first KiB of ``path`` (a PDF header may follow some junk)."""
    try:
        with path.open("rb") as f:
            return f.read(1024)
    except OSError as err:
        raise UnreadableError(f"cannot be read: {(err.strerror or str(err)).lower()}") from err


class _State:
    """What the pages read so far tell: how many were read by OCR, and why the ones without a
    text layer were not."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ocr_pages = 0
        self.scanned_pages = 0  # pages that needed OCR
        self.bad_pages = 0  # pages PDFium could not load
        self.ocr_refused = ""  # why OCR refused a page (an image over the pixel limit...)
        self._ocr_missing: str | None = None
        self._ocr_checked = False

    def ocr_reason(self) -> str | None:
        """None if OCR can run, else why not (checked once per file)."""
        if not self.settings.ocr:
            return _OCR_OFF
        if not self._ocr_checked:
            from qa.formats.ocr import ocr_missing

            self._ocr_missing = ocr_missing()
            self._ocr_checked = True
        return self._ocr_missing

    def empty_reason(self) -> str:
        if self.scanned_pages:
            why = self.ocr_reason() or self.ocr_refused or "OCR found no text in it"
            return _SCANNED.format(why)
        return _NO_TEXT


def _page_lines(
    pdf: _Document, total: int, state: _State, progress: PageProgress | None
) -> Iterator[tuple[list[Line], float]]:
    """``(lines, height)`` of each page, in order, each page closed once read."""
    for index in range(total):
        try:
            page = pdf.page(index)
        except pdfium.PdfiumError:
            # one broken page does not lose the others; a file of nothing but is damaged
            log.warning("PDF page %d of %d cannot be loaded: skipped", index + 1, total)
            state.bad_pages += 1
            if state.bad_pages == total:
                raise UnreadableError(_DAMAGED.format("no page can be loaded")) from None
            lines, height, how = [], 0.0, "text"
        else:
            try:
                lines, height, how = _read_page(page, state)
            finally:
                page.close()
        if progress is not None:
            progress(index + 1, total, how)
        yield lines, height


def _read_page(page: pdfium.PdfPage, state: _State) -> tuple[list[Line], float, str]:
    """A page's lines, its height and how it was read ("text" or "ocr")."""
    frame = _Frame(page)
    textpage = page.get_textpage()
    try:
        lines, visible, unmapped = _text_lines(textpage, frame)
    finally:
        textpage.close()
    garbage = unmapped > _MAX_UNMAPPED * visible
    if garbage or (visible < MIN_TEXT_CHARS and _has_drawing(page)):
        state.scanned_pages += 1
        if state.ocr_reason() is None:
            ocr_lines = _ocr(page, state)
            if sum(len(ln.text.strip()) for ln in ocr_lines) > (0 if garbage else visible):
                state.ocr_pages += 1
                return ocr_lines, frame.height, "ocr"
    return lines, frame.height, "text"


def _ocr(page: pdfium.PdfPage, state: _State) -> list[Line]:
    """The page's lines read by OCR; none if OCR refuses the page (too many pixels...)."""
    from qa.formats.ocr import ocr_pdf_page

    try:
        return ocr_pdf_page(page, state.settings)
    except UnreadableError as err:
        log.warning("OCR of a PDF page skipped: %s", err.reason)
        state.ocr_refused = err.reason
        return []


def _has_drawing(page: pdfium.PdfPage) -> bool:
    """True if the page draws anything besides text (an image, vector paths): a scan or text
    drawn as outlines, worth OCR; a blank page is not."""
    count = pdfium_c.FPDFPage_CountObjects(page.raw)
    for i in range(count):
        obj = pdfium_c.FPDFPage_GetObject(page.raw, i)
        if pdfium_c.FPDFPageObj_GetType(obj) != pdfium_c.FPDF_PAGEOBJ_TEXT:
            return True
    return False


class _Frame:
    """Maps PDF user space (y up, origin anywhere) to the displayed page: points from the
    top-left corner of the crop box, y downwards, /Rotate applied."""

    def __init__(self, page: pdfium.PdfPage) -> None:
        self.x0, self.y0, self.x1, self.y1 = page.get_cropbox()
        self.rotation = page.get_rotation() % 360
        w, h = self.x1 - self.x0, self.y1 - self.y0
        self.width, self.height = (h, w) if self.rotation in (90, 270) else (w, h)

    def box(self, left: float, bottom: float, right: float, top: float) -> tuple[float, ...]:
        """``(left, top, right, bottom)`` on the displayed page of a user-space box."""
        x0, y0, x1, y1 = self.x0, self.y0, self.x1, self.y1
        # /Rotate turns the page clockwise for display
        if self.rotation == 90:  # the bottom edge is on the left, the left edge on top
            return (bottom - y0, left - x0, top - y0, right - x0)
        if self.rotation == 180:
            return (x1 - right, bottom - y0, x1 - left, top - y0)
        if self.rotation == 270:  # the top edge is on the left, the right edge on top
            return (y1 - top, x1 - right, y1 - bottom, x1 - left)
        return (left - x0, y1 - top, right - x0, y1 - bottom)


def _text_lines(textpage: pdfium.PdfTextPage, frame: _Frame) -> tuple[list[Line], int, int]:
    """The page's lines, how many visible characters it has and how many of them have no
    Unicode mapping."""
    count = textpage.count_chars()
    if count <= 0:
        return [], 0, 0
    chars, unmapped = _boxed_chars(textpage, count, frame)
    heights = [b[3] - b[1] for _, b in chars if b]
    if not heights:
        return [], 0, 0
    usual = statistics.median(heights)
    lines: list[Line] = []
    text: list[str] = []  # the characters of the line being read
    boxes: list[tuple[float, ...]] = []  # and their boxes (spaces have none)
    for ch, box in chars:
        if box:
            box = _full_height(box, usual)
            if boxes and _apart(boxes[-1], box):
                _flush(text, boxes, lines)
            boxes.append(box)
        if text or box:
            text.append(ch)
    _flush(text, boxes, lines)
    return lines, len(heights), unmapped


def _boxed_chars(
    textpage: pdfium.PdfTextPage, count: int, frame: _Frame
) -> tuple[list[tuple[str, tuple[float, ...]]], int]:
    """The page's characters in content order with their boxes on the displayed page (``()``
    for a space or a mark without extent), and how many have no Unicode mapping."""
    rect = pdfium_c.FS_RECTF()
    raw = textpage.raw
    out: list[tuple[str, tuple[float, ...]]] = []
    unmapped = 0
    for i, ch in _chars(textpage, count):
        if ch in "\r\n":
            # PDFium's own line breaks are not trusted: it also breaks lines before a ligature
            # or a hyphen glyph drawn on their own ("finance o" / "ffice"); heights decide
            continue
        if ch.isspace():
            out.append((" ", ()))
            continue
        if not ch.isprintable() and ch != "\u00ad":
            continue
        pdfium_c.FPDFText_GetLooseCharBox(raw, i, ctypes.byref(rect))
        box = frame.box(rect.left, rect.bottom, rect.right, rect.top)
        if box[2] <= box[0] or box[3] <= box[1]:  # no extent (a combining mark): text only
            out.append((ch, ()))
            continue
        unmapped += bool(pdfium_c.FPDFText_HasUnicodeMapError(raw, i))
        out.append((ch, box))
    return out, unmapped


def _full_height(box: tuple[float, ...], usual: float) -> tuple[float, ...]:
    """``box``, made ``usual`` high around its middle if it is much flatter: PDFium gives some
    glyphs ("—") a loose box under a point high, which would share no height with its line."""
    if box[3] - box[1] >= usual / 2:
        return box
    middle = (box[1] + box[3]) / 2
    return (box[0], middle - usual / 2, box[2], middle + usual / 2)


def _chars(textpage: pdfium.PdfTextPage, count: int) -> Iterator[tuple[int, str]]:
    """``(index, character)`` of the page's characters. A character outside the BMP takes two
    indices (a UTF-16 surrogate pair): it comes once, with the index of its first half. A
    hyphen that ends a line, which PDFium marks as U+0002 (U+FFFE in its text), comes as "-"."""
    text = textpage.get_text_range(0, count)
    if len(text) == count:
        pairs: Iterable[tuple[int, str]] = enumerate(text)
    else:
        pairs = _surrogates_joined(textpage, count)
    for i, ch in pairs:
        yield i, "-" if ch in _PDFIUM_HYPHENS else ch


def _surrogates_joined(textpage: pdfium.PdfTextPage, count: int) -> Iterator[tuple[int, str]]:
    units = [pdfium_c.FPDFText_GetUnicode(textpage.raw, i) for i in range(count)]
    i = 0
    while i < count:
        u = units[i]
        if 0xD800 <= u < 0xDC00 and i + 1 < count and 0xDC00 <= units[i + 1] < 0xE000:
            yield i, chr(0x10000 + ((u - 0xD800) << 10) + (units[i + 1] - 0xDC00))
            i += 2
            continue
        if u and not 0xD800 <= u < 0xE000:  # 0: no Unicode at all; a lone surrogate
            yield i, chr(u)
        i += 1


def _apart(last: tuple[float, ...], box: tuple[float, ...]) -> bool:
    """True if a character with ``box`` does not continue the line whose last character has
    ``last``: it lies at another height, or left of it, or far right of it."""
    h1, h2 = last[3] - last[1], box[3] - box[1]
    # less than 30% of the smaller height in common: another line (a superscript shares more)
    if min(last[3], box[3]) - max(last[1], box[1]) <= 0.3 * min(h1, h2):
        return True
    height = max(h1, h2)
    # far right of it, or starting left of its start (overlapping glyphs, "·“", do not)
    return box[0] - last[2] > _PIECE_GAP * height or box[0] < last[0] - height / 2


def _flush(chars: list[str], boxes: list[tuple[float, ...]], lines: list[Line]) -> None:
    """Turn the characters read into a :class:`Line` (if there are any) and empty the lists."""
    text = "".join(chars).strip().translate(_LIGATURES)
    # a soft hyphen is drawn only where a line breaks: it is kept there for page_text to join
    # the word, and dropped inside a line
    text = text[:-1].replace("\u00ad", "") + text[-1:]
    if text and boxes:
        lines.append(
            Line(
                text=text,
                left=min(b[0] for b in boxes),
                top=statistics.median(b[1] for b in boxes),
                right=max(b[2] for b in boxes),
                bottom=statistics.median(b[3] for b in boxes),
            )
        )
    chars.clear()
    boxes.clear()
