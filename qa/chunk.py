"""Cutting documents into paragraph chunks: the passages that are embedded, indexed and shown.

The text is read as blocks separated by blank lines and turned into paragraphs, headings and
chunks by these rules:

* **Lines** of a paragraph are joined with nothing between CJK (wide) characters, a single space
  between Latin words, and nothing after a hyphen that ends a line inside a word ("well-" +
  "known" -> "well-known": the hyphen is kept as it is).
* **Units.** A line that starts with a marker begins a paragraph of its own even inside a block:
  list and caption markers ("——", "▶", "▲", "•", "- ", "1)"), section markers ("A/", "一、",
  "（一）", "第三章", "Chapter 2"), numbers ("1.", "2.3") and Markdown headings ("# Title").
* **Headings** never become chunks: they become the ``section`` of the chunks under them.
  A heading is a Markdown heading (outside code fences), or a short line
  (<= ``heading_max_chars``) that does not end open (no sentence-final or clause punctuation,
  no opening bracket) and either carries a section marker ("A/", "一、", "第三章": it may head
  the block it starts) or a number ("1.", "2.3": it must be a block of its own), or has no
  punctuation inside at all, is a block of its own and is followed by a paragraph that starts
  a new sentence. Headings that follow each other form one section path joined by " › " (a
  title, a subtitle, then "A/..."); Markdown levels nest ("Guide › Install"); a heading after
  body text replaces the headings of the same or a deeper level. Lines that looked like
  headings stay ordinary paragraphs when they are: all but the last of a run of more than
  three (a table of contents, a column of names), numbered lines that follow each other (a
  list), or at the very end of a document with nothing under them.
* **Layout breaks.** A paragraph that does not end a sentence (ends_sentence) is continued by
  the next block when that block is plain text (no marker, not a heading, not a credit) and,
  for Latin text, does not start with a capital letter after a word: page layout cut it
  ("...社会主义思" + "想凝心铸魂..."). Caption text set one short line per row is one block,
  so its lines are simply joined.
* **Table rows** ("| cell | cell |", as Markdown writes them and as the Word and HTML readers
  give tables): each row is a paragraph of its own, never a heading and never joined to the
  next line or block; short rows are merged into chunks like other short paragraphs, so a table
  is cut into chunks of whole rows.
* **Credits** ("图/通讯员提供", "文/羊城晚报记者 …", "来源：…", "Photo: …"): each credit line
  is a short paragraph of its own, never a heading and never continued by the next block; like
  every short paragraph it is merged into a neighbouring chunk of its section, so its text is
  kept in a chunk (not in a section name).
* **Sizes.** A paragraph longer than ``max_chunk_chars`` is split at sentence ends
  (split_sentences), a sentence that is still too long at clause marks (，；：、,;:), and a clause
  that is still too long at the last space before the limit or else hard at the limit. The
  pieces are packed greedily up to the limit. A piece shorter than ``min_chunk_chars`` is
  merged with the previous or next paragraph of the same section (joined by "\\n") when the
  result stays within the limit and, in a document with pages, both start on the same page
  (so that a chunk's page is the page of each of its paragraphs' starts).

Every non-space character of the text lies, in order, in exactly one chunk, except the
heading lines that are carried by ``section``. Each chunk records its ``[start, end)`` span
in the document text. The work is one pass of generators over the lines (``iter_chunks``),
linear in the size of the text. A text that arrives in pieces (a big file read as a stream:
``iter_document_chunks``) goes through the same pipeline holding only the lines of the
paragraphs being cut (``iter_stream_chunks``).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from qa.corpus import Document, DocumentMeta, stream_document
from qa.formats import kind_of, read_file
from qa.formats.base import PageProgress
from qa.settings import DEFAULTS, Settings
from qa.text import SENTENCE_END, ends_sentence, is_cjk, split_sentences

#: Bumped whenever the rules change the chunks of the same text (an index can store it).
#: 2: chunks record whether they continue the previous chunk's paragraph (``continues``).
#: 3: table rows ("| a | b |") are paragraphs of their own; chunks record their page.
CHUNKER_VERSION = 3
#: Joins the headings of a section path, e.g. "Guide › Install".
SECTION_SEPARATOR = " › "
#: Joins two paragraphs merged into one chunk.
PARAGRAPH_SEPARATOR = "\n"
#: Markdown heading levels are 1-6; headings without a level sit below every Markdown level.
_UNKNOWN_LEVEL = 7
#: The longest run of consecutive headings kept as one section path.
_MAX_HEADING_RUN = 3
#: Files bigger than this (bytes) are read and chunked as a stream (``iter_document_chunks``).
STREAM_ABOVE_BYTES = 8 * 1024 * 1024

_LINE_BREAK = re.compile(r"\r\n|[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_MARKDOWN = re.compile(r"#{1,6}(?=\s|$)")
_TABLE_ROW = re.compile(r"\|.*\|")
_FENCES = ("```", "~~~")
_SECTION = re.compile(
    r"[A-Z][/／](?=\S)"  # A/政治建警
    r"|第[一二三四五六七八九十百千零〇两\d]+[章节篇部卷回集讲课條節]"  # 第三章
    r"|[一二三四五六七八九十百]+[、．.]"  # 一、
    r"|[（(][一二三四五六七八九十百\d]{1,3}[）)]"  # （一） (1)
    r"|(?:Chapter|Part|Section|Appendix)\s+[\dIVXLCivxlc]+\b"  # Chapter 3
)
_NUMBERED = re.compile(r"\d{1,3}(?:\.\d{1,3})*[、．.](?!\d)|\d{1,3}(?:\.\d{1,3})+(?=\s)")
_ITEM = re.compile(r"——|[—▶►▷▸▲△▼▽◆◇■□●○•◦·★☆※→◎]|[-*+>](?=\s)|\d{1,3}[)）]")
_CREDIT = re.compile(
    r"(?:图文|图片|图|文字|文|摄影|摄|记者|通讯员|编辑|责编|责任编辑|校对|审核|监制|统筹|出品|来源|作者|撰文"
    r"|圖文|圖片|圖|攝影|攝|記者|通訊員|編輯|責編|來源)\s*[/／:：|｜]"
    r"|(?:photos?|images?|text|source|credits?|editor|reporter|author)\s*[:/]",
    re.IGNORECASE,
)
#: Punctuation inside a line that a heading without a marker does not have.
_INNER_PUNCT = re.compile(r"[。！？!?；;，,]")
#: Characters a line ends with when it is continued (clauses, dashes, opening brackets).
_OPEN_END = "，,、；;—–-/（(［[【《〈「『“‘{<"
_SENTENCE_MARK = re.compile("[" + re.escape(SENTENCE_END) + ".]")
_CLAUSE = re.compile(r"[，,；;：:、]+[”’」』）)】》\"']*")


@dataclass(frozen=True)
class Chunk:
    """One passage of a document: the unit that is embedded, indexed and shown."""

    doc: str  # Document.path
    section: str  # the heading (path) this chunk falls under ("" if none)
    text: str  # the chunk text (the lines of its paragraphs joined)
    start: int  # offset of the first character of the chunk in Document.text
    end: int  # offset just past the last character in Document.text
    ordinal: int  # 0-based position of the chunk in its document
    hash: str  # sha256 hex of the text (content hash: decides what is re-embedded)
    # True when the chunk starts inside a long paragraph that the previous chunk began: the
    # two join without a paragraph break (search shows such neighbours as one passage)
    continues: bool = False
    # the 1-based page the chunk starts on, for documents with pages (PDF, scans); else None
    page: int | None = None
    # offsets in ``text`` where a later page starts (repeated for a blank page between):
    # a paragraph that runs over a page break is one chunk on two pages
    page_breaks: tuple[int, ...] = ()

    def page_at(self, offset: int) -> int | None:
        """The page of the character at ``offset`` in ``text`` (None without pages)."""
        if self.page is None:
            return None
        return self.page + bisect_right(self.page_breaks, offset)


@dataclass(frozen=True)
class _Unit:
    """Lines that start together: a block, or the part of it from one marker to the next."""

    kind: str  # "markdown", "section", "numbered", "item", "row", "credit", "code" or "plain"
    lines: tuple[tuple[int, int], ...]  # (start, end) of each line's text, spaces stripped
    title: str  # the heading text if this unit can be a heading, else ""
    level: int = _UNKNOWN_LEVEL


@dataclass(frozen=True)
class _Heading:
    title: str
    level: int


@dataclass(frozen=True)
class _Para:
    lines: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class _Piece:
    """A paragraph, or a part of a long one, ready to become (part of) a chunk."""

    section: str
    section_id: int  # counts headings: two sections with the same name are still two
    text: str
    start: int
    end: int
    continues: bool = False  # a later part of a paragraph split at the size limit
    page_breaks: tuple[int, ...] = ()  # offsets in ``text`` where a later page starts


# ----------------------------------------------------------------------------- lines and units


def _lines(text: str) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each line's text with surrounding spaces stripped (empty if blank)."""
    if isinstance(text, _StreamText):
        yield from text.lines()
        return
    pos = 0
    for m in _LINE_BREAK.finditer(text):
        yield _strip_span(text, pos, m.start())
        pos = m.end()
    yield _strip_span(text, pos, len(text))


def _strip_span(text: str, a: int, b: int) -> tuple[int, int]:
    seg = text[a:b]
    core = seg.strip()
    if not core:
        return (a, a)
    lead = len(seg) - len(seg.lstrip())
    return (a + lead, a + lead + len(core))


def _blocks(text: str) -> Iterator[list[tuple[int, int]]]:
    """The non-blank lines of each block (blocks are separated by blank lines)."""
    block: list[tuple[int, int]] = []
    for a, b in _lines(text):
        if a == b:
            if block:
                yield block
                block = []
        else:
            block.append((a, b))
    if block:
        yield block


def _ends_open(line: str) -> bool:
    """True if ``line`` ends a sentence or is cut after a clause mark, dash or opening bracket:
    either way it is no heading."""
    return ends_sentence(line) or line[-1] in _OPEN_END


def _markdown_title(rest: str) -> str:
    """The title of a Markdown heading line after its leading #s (closing #s dropped)."""
    title = rest.strip()
    bare = title.rstrip("#")
    if bare != title and (not bare or bare[-1].isspace()):
        title = bare.strip()
    return title


def _classify(line: str, settings: Settings) -> tuple[str, str, int]:
    """``(kind, heading title or "", level)`` of one stripped line."""
    m = _MARKDOWN.match(line)
    if m:
        title = _markdown_title(line[m.end() :])
        if title:
            return "markdown", title, m.end()
    if _TABLE_ROW.fullmatch(line):
        return "row", "", _UNKNOWN_LEVEL
    short = len(line) <= settings.heading_max_chars and not _ends_open(line)
    if _SECTION.match(line):
        return "section", line if short else "", _UNKNOWN_LEVEL
    if _NUMBERED.match(line):
        return "numbered", line if short else "", _UNKNOWN_LEVEL
    if _ITEM.match(line):
        return "item", "", _UNKNOWN_LEVEL
    if _CREDIT.match(line) and len(line) <= 2 * settings.heading_max_chars:
        return "credit", "", _UNKNOWN_LEVEL
    plain_title = short and not _INNER_PUNCT.search(line)
    return "plain", line if plain_title else "", _UNKNOWN_LEVEL


def _units(text: str, settings: Settings) -> Iterator[_Unit]:
    """Split each block where a line starts with a marker. Markdown headings, short section
    headings and credits are units of one line; other marked lines take the plain lines that
    follow them in the block. Only a block of one line can be a plain or numbered heading
    ("stands alone"). Lines inside Markdown code fences are code: never headings or markers."""
    fenced = False
    for block in _blocks(text):
        current: list[tuple[int, int]] = []
        kind, title, level = "plain", "", _UNKNOWN_LEVEL
        for span in block:
            line = text[span[0] : span[1]]
            if fenced or line.startswith(_FENCES):
                fenced ^= line.startswith(_FENCES)
                k, t, lv = "code", "", _UNKNOWN_LEVEL
            else:
                k, t, lv = _classify(line, settings)
                if k in ("plain", "numbered") and len(block) > 1:
                    t = ""
            if current and k == ("code" if kind == "code" else "plain"):
                current.append(span)
                continue
            if current:
                yield _unit(kind, current, title, level)
            current, kind, title, level = [span], k, t, lv
            if k in ("markdown", "credit", "row") or (k == "section" and t):
                yield _unit(kind, current, title, level)
                current = []
        if current:
            yield _unit(kind, current, title, level)


def _unit(kind: str, lines: list[tuple[int, int]], title: str, level: int) -> _Unit:
    return _Unit(kind, tuple(lines), title if len(lines) == 1 else "", level)


# ----------------------------------------------------------------------------- paragraphs


def _continues(text: str, para: list[tuple[int, int]], kind: str, unit: _Unit) -> bool:
    """True if ``unit`` carries on the sentence that ``para`` (of ``kind``) leaves unfinished."""
    if kind in ("credit", "code", "row") or unit.kind != "plain":
        return False
    a, b = para[-1]
    if ends_sentence(text[a:b]):
        return False
    last, first = text[b - 1], text[unit.lines[0][0]]
    # Latin: a capital after a word without a full stop starts a new paragraph
    return not (last.isascii() and last.isalnum() and first.isascii() and first.isupper())


def _is_heading_candidate(unit: _Unit) -> bool:
    return bool(unit.title)


def _starts_continuation(text: str, heading: _Unit, unit: _Unit) -> bool:
    """A Latin line without a marker, continued by a lower-case block, is a layout break."""
    if heading.kind != "plain" or unit.kind != "plain":
        return False
    end = heading.lines[-1][1]
    first = text[unit.lines[0][0]]
    return text[end - 1].isascii() and first.isascii() and first.islower()


def _structure(text: str, settings: Settings) -> Iterator[_Heading | _Para]:
    """Headings and paragraphs in document order (see the module docstring for the rules)."""
    para: list[tuple[int, int]] | None = None
    para_kind = "plain"
    pending: list[_Unit] = []  # heading candidates waiting for the paragraph they head
    for unit in _units(text, settings):
        if para is not None and _continues(text, para, para_kind, unit):
            para.extend(unit.lines)
            continue
        if _is_heading_candidate(unit):
            if para is not None:
                yield _Para(tuple(para))
                para = None
            pending.append(unit)
            continue
        if pending and _starts_continuation(text, pending[-1], unit):
            para, para_kind = [*pending.pop().lines, *unit.lines], "plain"
            yield from _confirm(pending)
            pending = []
            continue
        if para is not None:
            yield _Para(tuple(para))
        yield from _confirm(pending)
        pending = []
        para, para_kind = list(unit.lines), unit.kind
    if para is not None:
        yield _Para(tuple(para))
    for unit in pending:  # nothing under them: keep their text as paragraphs
        yield _Para(unit.lines)


def _confirm(run: list[_Unit]) -> Iterator[_Heading | _Para]:
    """A run of heading candidates followed by a paragraph, in order: the headings, and as
    paragraphs the lines that are no headings after all: all but the last of a run too long to
    be a title/subtitle/section path, and numbered lines when several follow each other (a
    list: "1. Download", "2. Install")."""
    numbered = sum(1 for u in run if u.kind == "numbered")
    for i, unit in enumerate(run):
        too_long = len(run) > _MAX_HEADING_RUN and i < len(run) - 1
        if too_long or (unit.kind == "numbered" and numbered > 1):
            yield _Para(unit.lines)
        else:
            yield _Heading(unit.title, unit.level)


def _sections(items: Iterable[_Heading | _Para]) -> Iterator[tuple[str, int, _Para]]:
    """Each paragraph with the section path it falls under and the number of headings seen."""
    stack: list[_Heading] = []
    fresh = 0  # headings pushed since the last paragraph: they form one path
    section = ""
    seen = 0
    for item in items:
        if isinstance(item, _Heading):
            if fresh == 0:
                while stack and stack[-1].level >= item.level:
                    stack.pop()
            stack.append(item)
            fresh += 1
            seen += 1
            section = SECTION_SEPARATOR.join(h.title for h in stack)
        else:
            fresh = 0
            yield section, seen, item


# ----------------------------------------------------------------------------- joining


def _wide(ch: str) -> bool:
    return is_cjk(ch) or unicodedata.east_asian_width(ch) in ("W", "F")


def _separator(left: str, right: str) -> str:
    """What goes between two joined lines: ``left`` ends the first, ``right`` starts the next."""
    if left.endswith("-") and len(left) > 1 and left[-2].isalpha() and right[:1].isalpha():
        return ""  # a hyphenated line end: joined as it is
    if _wide(left[-1]) or _wide(right[0]):
        return ""
    return " "


def _join(text: str, lines: tuple[tuple[int, int], ...]) -> tuple[str, list[int], list[int]]:
    """The paragraph text, and for each line its offset in that text and in ``text``."""
    parts: list[str] = []
    in_para: list[int] = []
    in_doc: list[int] = []
    pos = 0
    prev_end = -1
    for a, b in lines:
        if parts:
            sep = _separator(text[max(prev_end - 2, 0) : prev_end], text[a])
            parts.append(sep)
            pos += len(sep)
        in_para.append(pos)
        in_doc.append(a)
        parts.append(text[a:b])
        pos += b - a
        prev_end = b
    return "".join(parts), in_para, in_doc


# ----------------------------------------------------------------------------- splitting


def _trim(text: str, a: int, b: int) -> tuple[int, int] | None:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return (a, b) if a < b else None


def _sentences(text: str) -> list[tuple[int, int]]:
    if not _SENTENCE_MARK.search(text):  # one sentence: skip the character-by-character scan
        span = _trim(text, 0, len(text))
        return [span] if span else []
    return split_sentences(text)


def _clauses(text: str, a: int, b: int) -> Iterator[tuple[int, int]]:
    start = a
    for m in _CLAUSE.finditer(text, a, b):
        span = _trim(text, start, m.end())
        if span:
            yield span
        start = m.end()
    span = _trim(text, start, b)
    if span:
        yield span


def _hard(text: str, a: int, b: int, limit: int) -> Iterator[tuple[int, int]]:
    """Cut ``text[a:b]`` into pieces of at most ``limit``: at the last space in the second half
    of the window if there is one, else exactly at the limit."""
    while b - a > limit:
        cut = a + limit
        window = (a + limit // 2, cut + 1)
        space = max(text.rfind(" ", *window), text.rfind("\t", *window))
        if space > a:
            cut = space
        span = _trim(text, a, cut)
        if span:
            yield span
        a = cut
        while a < b and text[a].isspace():
            a += 1
    span = _trim(text, a, b)
    if span:
        yield span


def _small_spans(text: str, limit: int) -> Iterator[tuple[int, int]]:
    """Sentences, clauses of long sentences and hard cuts of long clauses: all <= ``limit``."""
    for a, b in _sentences(text):
        if b - a <= limit:
            yield a, b
            continue
        for c, d in _clauses(text, a, b):
            if d - c <= limit:
                yield c, d
            else:
                yield from _hard(text, c, d, limit)


def _pack(spans: Iterable[tuple[int, int]], limit: int) -> Iterator[tuple[int, int]]:
    """Greedily join consecutive spans while the joined span stays within ``limit``."""
    cur: tuple[int, int] | None = None
    for a, b in spans:
        if cur is None:
            cur = (a, b)
        elif b - cur[0] <= limit:
            cur = (cur[0], b)
        else:
            yield cur
            cur = (a, b)
    if cur is not None:
        yield cur


def _breaks(
    pages: Sequence[int], start: int, end: int, a: int, in_para: list[int], in_doc: list[int]
) -> tuple[int, ...]:
    """The offsets, in a piece that starts at offset ``a`` of its paragraph's text and covers
    ``[start, end)`` of the document, where the pages starting inside it begin."""
    out = []
    for page_start in pages[bisect_right(pages, start) : bisect_right(pages, end - 1)]:
        k = bisect_left(in_doc, page_start)  # the page's first line
        out.append(in_para[k] - a if k < len(in_doc) else in_para[-1] - a)
    return tuple(out)


def _pieces(
    text: str, sectioned: Iterable[tuple[str, int, _Para]], limit: int, pages: Sequence[int] = ()
) -> Iterator[_Piece]:
    """Each paragraph as one piece, or split into pieces of at most ``limit`` characters."""
    for section, section_id, para in sectioned:
        ptext, in_para, in_doc = _join(text, para.lines)
        if len(ptext) <= limit:
            start, end = para.lines[0][0], para.lines[-1][1]
            breaks = _breaks(pages, start, end, 0, in_para, in_doc) if pages else ()
            yield _Piece(section, section_id, ptext, start, end, page_breaks=breaks)
            continue
        for n, (a, b) in enumerate(_pack(_small_spans(ptext, limit), limit)):
            i = bisect_right(in_para, a) - 1
            j = bisect_right(in_para, b - 1) - 1
            start = in_doc[i] + a - in_para[i]
            end = in_doc[j] + b - in_para[j]
            breaks = _breaks(pages, start, end, a, in_para, in_doc) if pages else ()
            yield _Piece(section, section_id, ptext[a:b], start, end, n > 0, breaks)


def _merged(
    pieces: Iterable[_Piece], settings: Settings, pages: Sequence[int] = ()
) -> Iterator[list[_Piece]]:
    """Group pieces into chunks: a piece shorter than ``min_chunk_chars`` joins its neighbour
    in the same section and on the same page when the result stays within
    ``max_chunk_chars``."""
    group: list[_Piece] = []
    size = 0
    for p in pieces:
        n = len(p.text)
        if (
            group
            and p.section_id == group[0].section_id
            and (not pages or bisect_right(pages, p.start) == bisect_right(pages, group[0].start))
            and (size < settings.min_chunk_chars or n < settings.min_chunk_chars)
            and size + len(PARAGRAPH_SEPARATOR) + n <= settings.max_chunk_chars
        ):
            group.append(p)
            size += len(PARAGRAPH_SEPARATOR) + n
            continue
        if group:
            yield group
        group, size = [p], n
    if group:
        yield group


# ----------------------------------------------------------------------------- public API


def iter_chunks(
    text: str, doc: str = "", settings: Settings = DEFAULTS, pages: Sequence[int] = ()
) -> Iterator[Chunk]:
    """The chunks of ``text`` one by one, in order (a pipeline of generators, linear time).
    ``pages`` are the offsets where the pages of a paged document start (the first is 0): each
    chunk then records the page it starts on."""
    if settings.max_chunk_chars < 1:
        raise ValueError("max_chunk_chars must be at least 1")
    sectioned = _sections(_structure(text, settings))
    if isinstance(text, _StreamText):  # forget each paragraph's lines once it is cut
        sectioned = text.releasing(sectioned)
    pieces = _pieces(text, sectioned, settings.max_chunk_chars, pages)
    for ordinal, group in enumerate(_merged(pieces, settings, pages)):
        body = PARAGRAPH_SEPARATOR.join(p.text for p in group)
        breaks: list[int] = []
        offset = 0
        for p in group:
            breaks += [offset + b for b in p.page_breaks]
            offset += len(p.text) + len(PARAGRAPH_SEPARATOR)
        yield Chunk(
            doc=doc,
            section=group[0].section,
            text=body,
            start=group[0].start,
            end=group[-1].end,
            ordinal=ordinal,
            hash=hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest(),
            continues=group[0].continues,
            page=bisect_right(pages, group[0].start) if pages else None,
            page_breaks=tuple(breaks),
        )


def join_chunks(chunks: Sequence[Chunk]) -> str:
    """The text of consecutive chunks of one document as one passage: a chunk that continues
    its predecessor's paragraph joins it as the paragraph had it (nothing between CJK text, a
    space between words), otherwise a paragraph break."""
    parts: list[str] = []
    for prev, cur in zip([None, *chunks], chunks, strict=False):
        if prev is not None:
            if not cur.continues:
                parts.append(PARAGRAPH_SEPARATOR)
            elif cur.start > prev.end and prev.text and cur.text:
                parts.append(_separator(prev.text, cur.text))
        parts.append(cur.text)
    return "".join(parts)


def chunk_text(
    text: str, doc: str = "", settings: Settings = DEFAULTS, pages: Sequence[int] = ()
) -> list[Chunk]:
    """Cut ``text`` into chunks (see the module docstring for the rules); ``doc`` names the
    document in each chunk, ``pages`` are the offsets where its pages start (if it has pages)."""
    return list(iter_chunks(text, doc, settings, pages))


def chunk_document(doc: Document, settings: Settings = DEFAULTS) -> list[Chunk]:
    """The chunks of a document read by :mod:`qa.corpus`."""
    return chunk_text(doc.text, doc.path, settings, doc.page_starts)


# ----------------------------------------------------------------------------- streaming


class _StreamText:
    """A text that arrives in pieces, standing in for the ``str`` the pipeline reads:
    ``text[i]`` and ``text[a:b]`` take offsets in the whole text and work on the lines still
    held. :meth:`lines` reads the pieces and yields the line spans (what :func:`_lines` yields
    for a string); :meth:`releasing` forgets the lines up to each paragraph the chunker has cut.
    The pipeline only reads lines at or after the last paragraph it received (its generators
    work in document order), so what is forgotten is never read again."""

    def __init__(self, pieces: Iterable[str]) -> None:
        self._pieces = iter(pieces)
        self._starts: list[int] = []  # offset of each held segment (a line and its break)
        self._segs: list[str] = []
        self._head = 0  # segments before this one are released

    def lines(self) -> Iterator[tuple[int, int]]:
        """Read the pieces: the ``(start, end)`` of each line, as :func:`_lines` gives them."""
        offset = 0
        open_line: list[str] = []  # the start of a line that a later piece ends
        carry = ""

        def segment(seg: str, brk: int) -> tuple[int, int]:
            nonlocal offset
            self._starts.append(offset)
            self._segs.append(seg)
            a, b = _strip_span(seg, 0, len(seg) - brk)
            span = (offset + a, offset + b)
            offset += len(seg)
            return span

        for piece in self._pieces:
            piece = carry + piece
            carry = ""
            if piece.endswith("\r"):  # may be the first half of "\r\n"
                piece, carry = piece[:-1], "\r"
            pos = 0
            for m in _LINE_BREAK.finditer(piece):
                open_line.append(piece[pos : m.end()])
                seg = "".join(open_line)
                open_line.clear()
                yield segment(seg, m.end() - m.start())
                pos = m.end()
            if pos < len(piece):
                open_line.append(piece[pos:])
        if carry:
            open_line.append(carry)
            yield segment("".join(open_line), 1)
            open_line = []
        yield segment("".join(open_line), 0)

    def release(self, upto: int) -> None:
        """Forget the segments that end at or before offset ``upto``."""
        head, starts, segs = self._head, self._starts, self._segs
        while head < len(segs) and starts[head] + len(segs[head]) <= upto:
            segs[head] = ""
            head += 1
        if head > 1024 and 2 * head > len(segs):
            del starts[:head], segs[:head]
            head = 0
        self._head = head

    def releasing(
        self, sectioned: Iterable[tuple[str, int, _Para]]
    ) -> Iterator[tuple[str, int, _Para]]:
        """Pass the paragraphs on, releasing each one's lines when the next is asked for."""
        for item in sectioned:
            yield item
            self.release(item[2].lines[-1][1])

    def __getitem__(self, key: int | slice) -> str:
        if isinstance(key, slice):
            a, b = key.start or 0, key.stop
        else:
            a, b = key, key + 1
        i = bisect_right(self._starts, a, self._head) - 1
        if a < 0 or i < self._head:
            raise IndexError(f"offset {a} is not held (released or negative)")
        start, seg = self._starts[i], self._segs[i]
        if b is not None and b - start <= len(seg):
            return seg[a - start : max(b - start, a - start)]
        parts = [seg[a - start :]]
        end = start + len(seg)
        for j in range(i + 1, len(self._segs)):
            if b is not None and end >= b:
                break
            parts.append(self._segs[j])
            end += len(self._segs[j])
        out = "".join(parts)
        out = out if b is None else out[: max(b - a, 0)]
        if not isinstance(key, slice) and not out:
            raise IndexError(f"offset {a} is past the text read")
        return out


def iter_stream_chunks(
    pieces: Iterable[str], doc: str = "", settings: Settings = DEFAULTS
) -> Iterator[Chunk]:
    """:func:`iter_chunks` of the text whose pieces are ``pieces``, read lazily: the same
    chunks (offsets in the joined text), holding only the lines of the paragraphs being cut."""
    return iter_chunks(cast(str, _StreamText(pieces)), doc, settings)


def iter_document_chunks(
    path: Path | str,
    root: Path | str,
    settings: Settings = DEFAULTS,
    stream_above: int | None = None,
    progress: PageProgress | None = None,
) -> tuple[DocumentMeta, Iterator[Chunk]]:
    """A corpus file's fields and its chunks (lazily), as :func:`qa.formats.read_file` and
    :func:`chunk_document` give them, for every format (``progress`` hears of each page of a
    PDF or scan). A text file bigger than ``stream_above`` bytes (default
    :data:`STREAM_ABOVE_BYTES`) is read and chunked as a stream
    (:func:`qa.corpus.stream_document`, :func:`iter_stream_chunks`), so memory does not grow
    with its size beyond its chunks. Raises :class:`qa.corpus.UnreadableError` as
    ``read_file`` does; the chunks of a streamed file raise it if the file changes while
    they are read."""
    path, root = Path(path), Path(root)
    try:
        size = path.stat().st_size
    except OSError:
        size = 0  # read_file says why it cannot be read
    limit = STREAM_ABOVE_BYTES if stream_above is None else stream_above
    if kind_of(path.name) == "text" and size > limit:
        meta, pieces = stream_document(path, root, settings)
        return meta, iter_stream_chunks(pieces, meta.path, settings)
    d = read_file(path, root, settings, progress)
    return d.meta, iter_chunks(d.text, d.path, settings, d.page_starts)


def read_chunks(
    path: Path, root: Path, settings: Settings = DEFAULTS, progress: PageProgress | None = None
) -> tuple[DocumentMeta, list[Chunk]]:
    """A file's fields and all its chunks (:func:`iter_document_chunks`): the reader that
    :func:`qa.corpus.read_each` calls to read and chunk a whole corpus."""
    meta, chunks = iter_document_chunks(path, root, settings, progress=progress)
    return meta, list(chunks)
