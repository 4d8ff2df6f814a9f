"""Page layout: the text lines of a page (a PDF text layer or OCR boxes, as :class:`Line` s) put
into reading order and cut into paragraphs, and the running headers and footers of a document
removed. Every paged reader goes through here, so PDF text and OCR come out alike.

``page_text`` follows the text conventions of :mod:`qa.formats.base`: paragraphs separated by
a blank line, the lines of a paragraph by "\\n". It works in steps:

1. **Columns.** A page whose lines leave a clear vertical gutter near the middle, with full
   lines side by side on both sides of it, is read as two columns: within each horizontal band
   between the lines that span the gutter (a title, a figure caption), the left column first.
   Anything else is one column.
2. **Rows.** Lines that overlap vertically in a column are one row, joined left to right (a
   space between pieces set apart; nothing between CJK pieces that touch).
3. **Paragraphs.** A new paragraph starts before a row when the gap above it is clearly larger
   than the page's usual line pitch (scaled up for a larger font), when its height differs
   from the row above's (another font size: a heading), when it is indented from the column's
   left edge while the row above is not, or when the row above ends a sentence and stops
   short of the column's right edge by at least what the first word of this row needs (the
   line break was not forced by the width; a CJK "word" is a character with the punctuation
   that may not be parted from it, "实、").
4. **Hyphenation.** A line ending in a typesetter's hyphen (soft hyphen, U+2010) inside a word
   is joined with the next line of its paragraph; a plain "-" is left to the chunker.

The thresholds are in units of the page's median line height, so PDF points and OCR pixels
behave alike; each has its reason beside it. ``bench/bench_pdf_extract.py`` measures the
result against the source text of PDFs printed by chromium.

``drop_repeated_margins`` removes, from the top and bottom bands of each page, lines whose text
(digits normalised) recurs at the same height on nearby pages (a title, a date, a URL, "2/6")
and page-number lines ("3", "- 3 -", "第 3 页", "Page 3 of 5"). ``iter_without_margins`` does
the same page by page, holding only a few pages, for long documents.
"""

from __future__ import annotations

import math
import re
import statistics
import unicodedata
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise

from qa.formats.base import Line
from qa.text import ends_sentence

# ----------------------------------------------------------------------------- tunables
# Lengths are in units of the page's median line height ("em").

#: Pieces of one row further apart than this are separated by a space (word spacing is about
#: 0.25-0.33 em; CJK characters of one run touch).
_SPACE_GAP = 0.25
#: A row starts a paragraph when its pitch (top to top) exceeds the usual pitch by this
#: fraction: paragraph spacing is usually half a line or more (0.8 em of 1.6 em lines in
#: chromium's report: pitch 33.8 vs 22.5 pt, +50%), while box noise stays under ~10%.
_PARAGRAPH_PITCH = 0.3
#: Rows whose heights differ by more than this factor are set in different font sizes (a
#: title and body text): a paragraph break. Lines of one size differ by under 15% in PDF
#: loose boxes, but by up to 45% in OCR boxes (a short line's box is padded more: "主线。"
#: 20.6 pt high under lines of 14.4 in the report scanned at 150 dpi).
_SIZE_CHANGE = 1.6
#: A row indented from the column's left edge by at least this (and at most _MAX_INDENT) is a
#: first line: indents are 1-2 em (2 characters in Chinese), box noise is a tenth of that.
_MIN_INDENT = 0.5
#: Further in than this it is a centred or right-aligned line, not an indent.
_MAX_INDENT = 4.0
#: The first word of a row "would have fitted" on the row above if the room left there is at
#: least its width less this (a CJK character that exactly fits, with box noise).
_FIT_SLACK = 0.15
#: Edges within this of each other are the same edge (column edges, equal indents).
_EDGE_TOLERANCE = 0.5
#: A column's edge is one that at least this share of its rows start (or end) at.
_EDGE_SHARE = 0.2
#: Two columns need at least this many lines on each side of the gutter...
_MIN_COLUMN_LINES = 4
#: ...at most this share of the lines may cross it (titles, captions spanning both)...
_MAX_SPANNING = 0.25
#: ...the gutter must be at least this wide...
_MIN_GUTTER = 0.8
#: ...and a column's lines must mostly fill it (median width / column width): a table of
#: short cells or a list of short lines is no column layout.
_MIN_FILL = 0.6
#: Where the gutter may be, as fractions of the text's width.
_GUTTER_RANGE = (0.25, 0.75)
#: Closing punctuation that cannot start a line (it goes with the character before it) and
#: opening punctuation that cannot end one: the first "word" of a CJK line includes them.
_NO_START = "、。，．,.：:；;！!？?）)」』】》〉”’…—%％"
_NO_END = "（(「『【《〈“‘"
_CJK_WORD = re.compile(f"[{re.escape(_NO_END)}]*.[{re.escape(_NO_START)}]*")
#: Hyphens that only hyphenation draws: soft hyphen, and U+2010 (chromium draws it for one).
_SOFT_HYPHENS = "\u00ad\u2010"

# margins
#: The top and bottom bands of a page where headers and footers live (fraction of its height;
#: chromium prints them within 4%, Word within 6%, books within 8%).
_MARGIN_BAND = 0.12
#: A header recurs within this many pages before or after (odd/even headers recur every
#: other page: still twice on each side).
_MARGIN_WINDOW = 4
#: ...at the same height, within this many of its line heights.
_MARGIN_ALIGN = 0.5
#: It must be seen on this many pages of the window (itself included), fewer in documents of
#: fewer pages (see _needed_repeats): a line of body text repeated once is kept.
_MARGIN_REPEATS = 3

_DIGITS = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")
_ROMAN = r"(?=[ivx])x{0,3}(?:ix|iv|v?i{0,3})"  # front-matter page numbers: i to xxxix
_CN_NUM = r"[一二三四五六七八九十百千零〇两\d]+"
_PAGE_NUMBER = re.compile(
    r"[-–—~·•|\[(（]*\s*(?:\d{1,5}|" + _ROMAN + r")\s*[-–—~·•|\])）]*"  # 3  - 3 -  [iv]
    r"|\d{1,5}\s*/\s*\d{1,5}"  # 2/5
    r"|(?:page|p\.|pg\.?|seite|página|pagina)\s*\d{1,5}(?:\s*(?:of|/|von|de|di)\s*\d{1,5})?"
    r"|第\s*" + _CN_NUM + r"\s*[页頁](?:\s*[/，,、]?\s*共\s*" + _CN_NUM + r"\s*[页頁])?"
    r"|共\s*" + _CN_NUM + r"\s*[页頁]\s*第\s*" + _CN_NUM + r"\s*[页頁]"
    r"|" + _CN_NUM + r"\s*/\s*" + _CN_NUM + r"\s*[页頁]",
    re.IGNORECASE,
)


# ----------------------------------------------------------------------------- page text


@dataclass
class _Row:
    """Lines of one column sharing a baseline, joined left to right."""

    text: str
    left: float
    top: float
    right: float
    bottom: float


@dataclass(frozen=True)
class _Column:
    """The left and right edges most lines of a column start and end at."""

    left: float
    right: float


def page_text(lines: Sequence[Line]) -> str:
    """The text of one page from its lines (in any order): reading order, lines of a paragraph
    separated by "\\n", paragraphs by "\\n\\n" (see the module docstring)."""
    lines = [ln for ln in lines if ln.text.strip() and ln.bottom > ln.top]
    if not lines:
        return ""
    em = statistics.median(ln.bottom - ln.top for ln in lines)
    blocks = [_rows(block, em) for block in _column_blocks(lines, em)]
    pitch = _usual_pitch(blocks, em)
    paragraphs: list[list[str]] = []
    prev: tuple[_Row, _Column] | None = None
    for rows in blocks:
        column = _column(rows, em)
        for row in rows:
            if prev is None or _breaks(prev, (row, column), pitch, em):
                paragraphs.append([])
            paragraphs[-1].append(row.text)
            prev = (row, column)
    return "\n\n".join("\n".join(_dehyphenate(p)) for p in paragraphs)


def _dehyphenate(lines: list[str]) -> list[str]:
    """Join a line that ends in a typesetter's hyphen (a soft hyphen, or U+2010 that
    hyphenation draws) inside a word with the next line: "un‐" + "characteristic" is one word.
    A plain "-" may be a real hyphen ("well-" + "known"): the chunker keeps it."""
    out: list[str] = []
    for line in lines:
        prev = out[-1] if out else ""
        if (
            len(prev) > 1
            and prev[-1] in _SOFT_HYPHENS
            and prev[-2].isalpha()
            and line[:1].islower()
        ):
            out[-1] = prev[:-1] + line
        else:
            out.append(line)
    return out


def rows_of(lines: Sequence[Line]) -> list[list[Line]]:
    """The lines grouped into rows, top to bottom (lines that overlap vertically by more than
    half the smaller height are one row), each row left to right."""
    rows: list[list[Line]] = []
    for ln in sorted(lines, key=lambda ln: (ln.top + ln.bottom) / 2):
        if rows and _same_row(rows[-1], ln):
            rows[-1].append(ln)
        else:
            rows.append([ln])
    return [sorted(r, key=lambda ln: ln.left) for r in rows]


def _rows(lines: list[Line], em: float) -> list[_Row]:
    """:func:`rows_of`, each row joined into one."""
    return [_join_row(r, em) for r in rows_of(lines)]


def _same_row(row: list[Line], ln: Line) -> bool:
    top = min(x.top for x in row)
    bottom = max(x.bottom for x in row)
    overlap = min(bottom, ln.bottom) - max(top, ln.top)
    smaller = min(ln.bottom - ln.top, min(x.bottom - x.top for x in row))
    return overlap > smaller / 2


def _join_row(row: list[Line], em: float) -> _Row:
    text = row[0].text.strip()
    for a, b in pairwise(row):
        piece = b.text.strip()
        touching = b.left - a.right < _SPACE_GAP * em
        both_words = text[-1:].isalnum() and piece[:1].isalnum() and text[-1:].isascii()
        text += ("" if touching and not both_words else " ") + piece
    return _Row(
        text,
        min(x.left for x in row),
        min(x.top for x in row),
        max(x.right for x in row),
        max(x.bottom for x in row),
    )


def _usual_pitch(blocks: list[list[_Row]], em: float) -> float:
    """The page's usual line pitch (top to top of consecutive rows of a column): the median of
    the pitches that can be line spacing (below 3 em: larger ones are gaps around figures)."""
    pitches = [
        b.top - a.top for rows in blocks for a, b in pairwise(rows) if 0 < b.top - a.top < 3 * em
    ]
    # a page of one line says nothing: assume 1.2 em, the usual default leading
    return statistics.median(pitches) if pitches else 1.2 * em


def _column(rows: list[_Row], em: float) -> _Column:
    """The edges of a column: the leftmost left edge and the rightmost right edge that a fifth
    of its rows (at least two) share, so that a few stray lines (a running header, a page
    number, a URL at the foot of a single page) do not move them."""
    need = max(2, math.ceil(_EDGE_SHARE * len(rows)))
    return _Column(
        _shared_edge(sorted(r.left for r in rows), em, need),
        -_shared_edge(sorted(-r.right for r in rows), em, need),
    )


def _shared_edge(edges: list[float], em: float, need: int) -> float:
    """The first of ``edges`` (sorted) that ``need`` edges lie within tolerance after (the
    first edge if none)."""
    tol = _EDGE_TOLERANCE * em
    end = 0
    for i, a in enumerate(edges):
        end = max(end, i)
        while end + 1 < len(edges) and edges[end + 1] - a <= tol:
            end += 1
        if end - i + 1 >= need:
            return a
    return edges[0]


def _breaks(
    prev: tuple[_Row, _Column],
    cur: tuple[_Row, _Column],
    pitch: float,
    em: float,
) -> bool:
    """True if a paragraph starts at ``cur``'s row, ``prev`` being the row read before it
    (the row above, or the foot of the previous column: no vertical gap to judge then)."""
    (p, p_col), (row, col) = prev, cur
    above = p if p.bottom <= row.top else None
    if above is not None:
        tall = max(row.bottom - row.top, above.bottom - above.top)
        short = min(row.bottom - row.top, above.bottom - above.top)
        if tall > _SIZE_CHANGE * short:
            return True  # another font size: a heading begins or ends
        # lines of a larger font (a heading on two lines) are further apart
        usual = pitch * max(1.0, short / em)
        if row.top - above.top > usual * (1 + _PARAGRAPH_PITCH):
            return True
    if _indented(row, col, em) and not _indented(p, p_col, em, like=row):
        return True
    room = _room_left(p, p_col)
    return ends_sentence(p.text) and room >= _first_word_width(row) - _FIT_SLACK * em


def _indented(row: _Row, col: _Column, em: float, like: _Row | None = None) -> bool:
    """True if ``row`` starts an indent in from its column's left edge (with ``like``: by
    the same amount as ``like``, so that equally indented rows form one block)."""
    indent = row.left - col.left
    if not _MIN_INDENT * em <= indent <= _MAX_INDENT * em:
        return False
    return like is None or abs(row.left - like.left) <= _EDGE_TOLERANCE * em


def _room_left(row: _Row, col: _Column) -> float:
    return col.right - row.right


def _first_word_width(row: _Row) -> float:
    """How wide the first word of ``row`` is, estimated from the row's width per character
    (a wide CJK character counting two): a Latin word up to its space, a CJK character with
    the punctuation that may not be parted from it."""
    text = row.text
    if not text:
        return 0.0
    first = text.lstrip(_NO_END + "\"'[")[:1]
    if first.isascii() and first.isalnum():
        word = text.split(" ", 1)[0] + " "
    else:
        m = _CJK_WORD.match(text)
        word = m.group(0) if m else text[:1]
    return (row.right - row.left) * _width(word) / max(_width(text), 1)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


# ----------------------------------------------------------------------------- columns


def _column_blocks(lines: list[Line], em: float) -> list[list[Line]]:
    """The lines in reading order of columns: one block for a one-column page; for a two-column
    page, top to bottom, each line spanning the gutter as a block of its own and, between them,
    the left column's lines then the right column's."""
    gutter = _gutter(lines, em)
    if gutter is None:
        return [lines]
    blocks: list[list[Line]] = []
    left: list[Line] = []
    right: list[Line] = []
    for ln in sorted(lines, key=lambda ln: ln.top):
        if ln.right <= gutter:
            left.append(ln)
        elif ln.left >= gutter:
            right.append(ln)
        else:
            blocks += [b for b in (left, right) if b]
            blocks.append([ln])
            left, right = [], []
    blocks += [b for b in (left, right) if b]
    return blocks


def _gutter(lines: list[Line], em: float) -> float | None:
    """The x of a two-column page's gutter, or None (see the thresholds above)."""
    x0 = min(ln.left for ln in lines)
    x1 = max(ln.right for ln in lines)
    lo, hi = (x0 + f * (x1 - x0) for f in _GUTTER_RANGE)
    candidates = sorted({ln.right for ln in lines if lo <= ln.right <= hi})
    best: tuple[int, float] | None = None
    for x in candidates:
        crossing = sum(1 for ln in lines if ln.left < x + _MIN_GUTTER * em and ln.right > x)
        if best is None or crossing < best[0]:
            best = (crossing, x)
    if best is None or best[0] > _MAX_SPANNING * len(lines):
        return None
    x = best[1] + _MIN_GUTTER * em / 2
    left = [ln for ln in lines if ln.right <= x]
    right = [ln for ln in lines if ln.left >= x]
    if min(len(left), len(right)) < _MIN_COLUMN_LINES:
        return None
    if not (_fills(left) and _fills(right) and _side_by_side(left, right)):
        return None
    return x


def _fills(lines: list[Line]) -> bool:
    width = max(ln.right for ln in lines) - min(ln.left for ln in lines)
    return statistics.median(ln.right - ln.left for ln in lines) >= _MIN_FILL * width


def _side_by_side(left: list[Line], right: list[Line]) -> bool:
    """True if the two sides share most of their height (columns), not one above the other."""
    overlap = min(max(ln.bottom for ln in left), max(ln.bottom for ln in right)) - max(
        min(ln.top for ln in left), min(ln.top for ln in right)
    )
    shorter = min(
        max(ln.bottom for ln in side) - min(ln.top for ln in side) for side in (left, right)
    )
    return overlap > shorter / 2


# ----------------------------------------------------------------------------- margins


def drop_repeated_margins(
    pages: Sequence[Sequence[Line]], page_heights: Sequence[float] | float
) -> list[list[Line]]:
    """The lines of each page without its running headers and footers: lines in the top or
    bottom band of the page whose text (digits normalised) recurs at the same height on nearby
    pages, and page numbers outermost in a band. ``page_heights``: each page's height (or one
    for all) in the units of the lines' boxes."""
    heights = (
        [float(page_heights)] * len(pages)
        if isinstance(page_heights, (int, float))
        else list(page_heights)
    )
    return list(iter_without_margins(zip(pages, heights, strict=True), len(pages)))


def iter_without_margins(
    pages: Iterable[tuple[Sequence[Line], float]], total: int
) -> Iterator[list[Line]]:
    """:func:`drop_repeated_margins` one page at a time: ``pages`` gives ``(lines, height)``
    of each of the ``total`` pages in order; each page comes out once the pages it is compared
    with are read, so only a few pages are held at once."""
    needed = _needed_repeats(total)
    window: deque[_Page] = deque()
    first = 0  # the page number of window[0]
    done = 0  # pages given out
    for lines, height in pages:
        window.append(_Page(list(lines), height))
        while done + _MARGIN_WINDOW < first + len(window):
            yield _without_margins(window, done - first, needed)
            done += 1
            if done - first > _MARGIN_WINDOW:
                window.popleft()
                first += 1
    while done < first + len(window):
        yield _without_margins(window, done - first, needed)
        done += 1


class _Page:
    """A page's lines with the margin key of each (see _margin_key) and, for each key, the
    tops of the lines that have it."""

    def __init__(self, lines: list[Line], height: float) -> None:
        self.lines = lines
        self.keys = [_margin_key(ln, height) for ln in lines]
        self.tops: dict[str, list[float]] = {}
        for ln, key in zip(lines, self.keys, strict=True):
            if key:
                self.tops.setdefault(key, []).append(ln.top)


def _needed_repeats(total: int) -> int:
    """On how many pages a margin line must be seen: 3, or 2 in documents of 2-4 pages (their
    title page often has no header)."""
    return max(2, min(_MARGIN_REPEATS, math.ceil(total / 2)))


def _margin_key(ln: Line, height: float) -> str:
    """``"top:text"`` / ``"bottom:text"`` for a line in a margin band (digits as "#", spaces
    removed, case folded), "" for a line of the body."""
    if ln.bottom <= height * _MARGIN_BAND:
        side = "top"
    elif ln.top >= height * (1 - _MARGIN_BAND):
        side = "bottom"
    else:
        return ""
    return side + ":" + _DIGITS.sub("#", _SPACES.sub("", ln.text)).casefold()


def _without_margins(window: Sequence[_Page], i: int, needed: int) -> list[Line]:
    page = window[i]
    drop = [
        bool(key) and _repeats(ln, key, window, i) >= needed
        for ln, key in zip(page.lines, page.keys, strict=True)
    ]
    _drop_page_numbers(page.lines, page.keys, drop)
    return [ln for ln, d in zip(page.lines, drop, strict=True) if not d]


def _repeats(ln: Line, key: str, window: Sequence[_Page], i: int) -> int:
    """On how many pages of the window (``i`` itself included) ``key`` is seen at ``ln``'s
    height."""
    tolerance = _MARGIN_ALIGN * (ln.bottom - ln.top)
    seen = 0
    for j, other in enumerate(window):
        if abs(j - i) <= _MARGIN_WINDOW and any(
            abs(top - ln.top) <= tolerance for top in other.tops.get(key, ())
        ):
            seen += 1
    return seen


def _drop_page_numbers(lines: list[Line], keys: list[str], drop: list[bool]) -> None:
    """Mark page-number lines of the margin bands that no kept line lies beyond."""
    for idx, (ln, key) in enumerate(zip(lines, keys, strict=True)):
        if not key or drop[idx] or not _PAGE_NUMBER.fullmatch(ln.text.strip()):
            continue
        top = key.startswith("top:")
        beyond = (
            o.bottom <= ln.top if top else o.top >= ln.bottom
            for o, d in zip(lines, drop, strict=True)
            if not d and o is not ln
        )
        if not any(beyond):
            drop[idx] = True
