"""Reading Word documents (.docx) with python-docx, into the text conventions of
:mod:`qa.formats.base`.

python-docx opens the package (zip parts, relationships, styles); the body is then walked in
document order on python-docx's own XML elements, because ``Document.iter_inner_content()``
skips what sits inside content controls (``w:sdt``: cover pages, tables of contents, forms)
and ``Paragraph.text`` skips runs inside tracked insertions, content controls and simple
fields. What becomes text:

* **Paragraphs**, one paragraph each (a line break ``w:br`` is a line break inside it, a tab a
  tab); the text of tracked insertions is kept, of tracked deletions left out.
* **Headings** as "#" lines: the styles "Title" and "Heading 1..9" (their built-in English
  names, which Word keeps whatever its language, or localized names such as "标题 1"), else an
  outline level set on the paragraph or its styles (``w:outlineLvl``, how localized heading
  styles are defined), following ``basedOn``. When the document has a "Title" paragraph it is
  "#" and "Heading N" is N+1 "#" (at most six), so that sections read "Title › Part".
* **List items** (numbered or bulleted paragraphs: ``w:numPr`` on the paragraph or its style,
  or a "List Bullet/Number" style) as "- " lines; the numbers Word would draw are not kept.
* **Tables** as "| a | b |" rows: a merged cell once (the cells a vertical merge covers are
  empty), the text of a nested table flattened into its cell.
* **Text boxes** (shapes with text) as paragraphs after the paragraph that anchors them (the
  VML fallback copy of a shape is left out, so their text is not read twice).
* **Footnotes and endnotes**: "[n]" where they are referenced, and "[n] note text" as a
  paragraph after the paragraph that references them.

Left out: headers and footers (repeated page furniture), comments, deleted text, field codes
(their displayed result is kept), text inside images, charts and SmartArt (DrawingML text),
embedded objects and ``w:altChunk`` imports (HTML or RTF pasted as a part of its own).

Bad files raise :class:`qa.corpus.UnreadableError` with a short reason, checked before
python-docx reads anything: not a zip archive, a legacy binary .doc or an encrypted
(password-protected) .docx (both OLE containers), an RTF file, a zip bomb (declared unpacked
sizes over ``settings.max_file_bytes`` in all, or a large part compressed more than
:data:`MAX_RATIO` times), too many parts, encrypted zip entries, no ``word/document.xml``;
then a damaged package, and a document without text.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from qa.corpus import UnreadableError, clean_text
from qa.formats.base import READER_WORD, Extracted
from qa.settings import DEFAULTS, Settings

if TYPE_CHECKING:
    from docx.document import Document as DocxDocument
    from lxml.etree import _Element

#: A part bigger than this (unpacked bytes) may be compressed at most :data:`MAX_RATIO` times.
RATIO_MIN_BYTES = 10 * 1024 * 1024
#: Word XML compresses 5-20 times, machine-made repetitive XML up to about 90 (measured: 20,000
#: templated paragraphs by python-docx); a zip bomb about 1000 times (deflate's limit).
MAX_RATIO = 200
#: Real documents have tens of parts (hundreds with many images).
MAX_PARTS = 10_000

NOT_ZIP = "not a Word .docx file (not a zip archive)"
LEGACY_DOC = "legacy Word .doc format: save it as .docx"
OLE_OTHER = "legacy Office (OLE) file, not a Word .docx: save it as .docx"
ENCRYPTED = "encrypted (password-protected) Word file: remove the password and save it again"
RTF = "RTF document, not a Word .docx: save it as .docx"
NO_DOCUMENT = "not a Word .docx file (a zip archive without word/document.xml)"
NO_TEXT = "no text in the document (empty, or only images)"

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
_WORD_DOCUMENT = "WordDocument".encode("utf-16-le")
_SCAN_BLOCK = 1 << 20

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_P, _TBL, _TR, _TC, _SDT, _SDT_CONTENT = (
    _W + t for t in ("p", "tbl", "tr", "tc", "sdt", "sdtContent")
)
_TXBX = _W + "txbxContent"
_T, _TAB, _PTAB, _BR, _CR = (_W + t for t in ("t", "tab", "ptab", "br", "cr"))
_NO_BREAK_HYPHEN = _W + "noBreakHyphen"
_FOOTNOTE_REF, _ENDNOTE_REF = _W + "footnoteReference", _W + "endnoteReference"
_VAL, _ID = _W + "val", _W + "id"
#: Block containers whose children are read as the body's (content controls, custom XML,
#: tracked insertions and moves of whole paragraphs).
_TRANSPARENT = frozenset(_W + t for t in ("customXml", "ins", "moveTo", "smartTag"))
#: Subtrees of a paragraph whose text is not the paragraph's: deleted text, the source of a
#: move, text boxes (read on their own), the VML copy of a shape, properties.
_SKIPPED = frozenset(
    [_W + t for t in ("del", "moveFrom", "txbxContent", "pPr", "rPr", "instrText")] + [_MC_FALLBACK]
)
_HEADING_NAME = re.compile(
    r"(?:heading|标题|標題|überschrift|titre|título|titolo|kop|заголовок|見出し|제목)\s*([1-9])",
    re.IGNORECASE,
)
_LIST_NAME = re.compile(r"list (?:bullet|number)", re.IGNORECASE)
#: A heading level for the "Title" style (before the shift that puts it above "Heading 1").
_TITLE = 0


# ----------------------------------------------------------------------------- checks


def _contains(path: Path, needles: tuple[bytes, ...]) -> set[bytes]:
    """Which of ``needles`` occur in the file (read in blocks)."""
    found: set[bytes] = set()
    overlap = max(len(n) for n in needles) - 1
    tail = b""
    with open(path, "rb") as f:
        while block := f.read(_SCAN_BLOCK):
            window = tail + block
            found.update(n for n in needles if n in window)
            tail = window[-overlap:]
    return found


def _ole_reason(path: Path) -> str:
    """Why an OLE (compound file) is no .docx: an encrypted OOXML package holds the stream
    "EncryptedPackage", a Word 97-2003 document the stream "WordDocument"."""
    found = _contains(path, (_ENCRYPTED_PACKAGE, _WORD_DOCUMENT))
    if _ENCRYPTED_PACKAGE in found:
        return ENCRYPTED
    return LEGACY_DOC if _WORD_DOCUMENT in found else OLE_OTHER


def _megabytes(n: int) -> str:
    return f"{n / 2**20:.0f} MB"


def _zip_reason(archive: zipfile.ZipFile, settings: Settings) -> str | None:
    """Why the zip must not be unpacked (a zip bomb, encrypted, not Word), or None."""
    infos = archive.infolist()
    if len(infos) > MAX_PARTS:
        return f"zip archive with too many parts ({len(infos)}, more than {MAX_PARTS})"
    total = sum(info.file_size for info in infos)
    if total > settings.max_file_bytes:
        return (
            f"possible zip bomb: unpacks to {_megabytes(total)}, more than "
            f"{_megabytes(settings.max_file_bytes)} (max_file_bytes)"
        )
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_MIN_BYTES and ratio > MAX_RATIO:
            return (
                f"possible zip bomb: {info.filename} unpacks to {_megabytes(info.file_size)}, "
                f"{ratio:.0f} times its packed size"
            )
    if any(info.flag_bits & 0x1 for info in infos):
        return ENCRYPTED
    if "word/document.xml" not in {info.filename for info in infos}:
        return NO_DOCUMENT
    return None


def check_docx(path: Path, settings: Settings = DEFAULTS) -> None:
    """Raise :class:`UnreadableError` if ``path`` is no .docx that is safe to unpack (see the
    module docstring); python-docx has not read anything yet."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
        if not head:
            raise UnreadableError("empty file")
        if head.startswith(_OLE_MAGIC):
            raise UnreadableError(_ole_reason(path))
        if head.startswith(b"{\\rtf"):
            raise UnreadableError(RTF)
        if not zipfile.is_zipfile(path):
            raise UnreadableError(NOT_ZIP)
        with zipfile.ZipFile(path) as archive:
            reason = _zip_reason(archive, settings)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as err:
        raise UnreadableError(f"damaged zip archive ({err})") from err
    except OSError as err:
        raise UnreadableError(f"cannot be read: {err.strerror or err}") from err
    if reason:
        raise UnreadableError(reason)


def _open(path: Path) -> DocxDocument:
    """python-docx's Document, its errors as :class:`UnreadableError`."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from lxml.etree import LxmlError

    try:
        return docx.Document(str(path))
    except ValueError as err:  # "file ... is not a Word file, content type is ..."
        kind = str(err).rsplit("content type is", 1)[-1].strip(" '")
        raise UnreadableError(f"not a Word document (content type {kind})") from err
    except (PackageNotFoundError, KeyError, LxmlError, zipfile.BadZipFile) as err:
        raise UnreadableError(f"damaged Word file ({type(err).__name__}: {err})") from err


# ----------------------------------------------------------------------------- styles


@dataclass(frozen=True)
class _Style:
    name: str
    based_on: str | None
    outline: int | None  # 0-based outline level of the style's paragraphs
    numbered: bool


def _outline(ppr: _Element | None) -> int | None:
    if ppr is None:
        return None
    lvl = ppr.find(_W + "outlineLvl")
    value = lvl.get(_VAL) if lvl is not None else None
    return int(value) if value is not None and value.isdigit() and int(value) < 9 else None


def _numbered(ppr: _Element | None) -> bool:
    """Whether paragraph properties number the paragraph (numId 0 removes numbering)."""
    num = ppr.find(f"{_W}numPr/{_W}numId") if ppr is not None else None
    return num is not None and num.get(_VAL) not in (None, "0")


def _styles(document: DocxDocument) -> dict[str, _Style]:
    """The paragraph styles by id."""
    styles: dict[str, _Style] = {}
    for el in document.styles.element.iterfind(_W + "style"):
        if el.get(_W + "type", "paragraph") != "paragraph" or not el.get(_W + "styleId"):
            continue
        name = el.find(_W + "name")
        based = el.find(_W + "basedOn")
        ppr = el.find(_W + "pPr")
        styles[el.get(_W + "styleId")] = _Style(
            name=(name.get(_VAL) or "") if name is not None else "",
            based_on=based.get(_VAL) if based is not None else None,
            outline=_outline(ppr),
            numbered=_numbered(ppr),
        )
    return styles


def _style_chain(styles: dict[str, _Style], style_id: str | None) -> Iterator[_Style]:
    """A style and the styles it is based on (cycles and very long chains cut)."""
    seen: set[str] = set()
    while style_id and style_id in styles and style_id not in seen and len(seen) < 20:
        seen.add(style_id)
        yield styles[style_id]
        style_id = styles[style_id].based_on


def _style_level(style: _Style) -> int | None:
    name = style.name.strip().lower()
    if name == "title":
        return _TITLE
    found = _HEADING_NAME.fullmatch(name)
    if found:
        return int(found.group(1))
    return style.outline + 1 if style.outline is not None else None


# ----------------------------------------------------------------------------- reading


@dataclass
class _Block:
    """A heading (``level`` 0 for the Title, 1-9), a list item, a paragraph or a table."""

    text: str
    level: int | None = None
    item: bool = False
    rows: list[list[str]] = field(default_factory=list)


class _Reader:
    """Walks one document's body in order into :class:`_Block` s."""

    def __init__(self, document: DocxDocument) -> None:
        self.styles = _styles(document)
        self.notes = {
            _FOOTNOTE_REF: _notes(document, "footnotes", _W + "footnote"),
            _ENDNOTE_REF: _notes(document, "endnotes", _W + "endnote"),
        }
        self.numbers: dict[tuple[str, str], int] = {}
        self.pending: list[tuple[int, _Element]] = []  # notes the paragraph being read cites

    # paragraphs

    def _paragraph_style(self, p: _Element) -> tuple[int | None, bool]:
        """The heading level (None: not a heading) and whether the paragraph is a list item."""
        ppr = p.find(_W + "pPr")
        own = _outline(ppr)
        style = ppr.find(_W + "pStyle") if ppr is not None else None
        chain = list(_style_chain(self.styles, style.get(_VAL) if style is not None else None))
        level = own + 1 if own is not None else None
        for s in chain:
            if level is not None:
                break
            level = _style_level(s)
        item = _numbered(ppr) or any(s.numbered or _LIST_NAME.match(s.name) for s in chain)
        return level, item

    def _note_mark(self, ref: _Element) -> str:
        note_id = ref.get(_ID) or ""
        notes = self.notes[ref.tag]
        if note_id not in notes:
            return ""
        key = (ref.tag, note_id)
        if key not in self.numbers:
            self.numbers[key] = len(self.numbers) + 1
            self.pending.append((self.numbers[key], notes[note_id]))
        return f"[{self.numbers[key]}]"

    def _runs(self, el: _Element) -> Iterator[str]:
        for child in el:
            tag = child.tag
            if tag == _T:
                yield child.text or ""
            elif tag in (_TAB, _PTAB):
                yield "\t"
            elif tag in (_BR, _CR):
                yield "\n"
            elif tag == _NO_BREAK_HYPHEN:
                yield "-"
            elif tag in self.notes:
                yield self._note_mark(child)
            elif tag not in _SKIPPED and isinstance(tag, str):
                yield from self._runs(child)

    def _paragraph(self, p: _Element) -> Iterator[_Block]:
        self.pending = []
        lines = (line.strip() for line in "".join(self._runs(p)).split("\n"))
        text = "\n".join(line for line in lines if line)
        if text:
            level, item = self._paragraph_style(p)
            yield _Block(" ".join(text.split()) if level is not None else text, level, item)
        pending = self.pending
        for box in _text_boxes(p):
            yield from self.blocks(box)
        for number, note in pending:
            yield from self._note_blocks(note, number)

    def _note_blocks(self, note: _Element, number: int) -> Iterator[_Block]:
        first = True
        for block in self.blocks(note):
            if first and not block.rows:
                block = _Block(f"[{number}] {block.text}")
                first = False
            yield block

    # tables

    def _cell_text(self, tc: _Element) -> str:
        parts: list[str] = []
        for block in self.blocks(tc):
            parts.extend(cell for row in block.rows for cell in row if cell)
            if block.text:
                parts.append(block.text)
        return " ".join(" ".join(parts).split())

    def _table(self, tbl: _Element) -> _Block:
        rows: list[list[str]] = []
        for tr in _children(tbl, _TR):
            cells = ["" if _merged_below(tc) else self._cell_text(tc) for tc in _children(tr, _TC)]
            if any(cells):
                rows.append(cells)
        return _Block("", rows=rows)

    # body

    def blocks(self, container: _Element) -> Iterator[_Block]:
        """The blocks of a body, a table cell, a text box or a note, in order."""
        for child in container:
            tag = child.tag
            if tag == _P:
                yield from self._paragraph(child)
            elif tag == _TBL:
                table = self._table(child)
                if table.rows:
                    yield table
            elif tag == _SDT:
                content = child.find(_SDT_CONTENT)
                if content is not None:
                    yield from self.blocks(content)
            elif tag in _TRANSPARENT:
                yield from self.blocks(child)


def _notes(document: DocxDocument, kind: str, tag: str) -> dict[str, _Element]:
    """The footnotes or endnotes part's notes by id (separators left out), {} if none."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.oxml.parser import parse_xml

    reltype = RT.FOOTNOTES if kind == "footnotes" else RT.ENDNOTES
    part = document.part
    try:
        related = part.part_related_by(reltype)
    except KeyError:
        return {}
    element = getattr(related, "element", None)
    root = element if element is not None else parse_xml(related.blob)
    return {
        note.get(_ID): note
        for note in root.iterfind(tag)
        if note.get(_ID) and note.get(_W + "type") in (None, "normal")
    }


def _children(el: _Element, tag: str) -> Iterator[_Element]:
    """``el``'s children with ``tag``, looking through content controls and custom XML."""
    for child in el:
        if child.tag == tag:
            yield child
        elif child.tag == _SDT:
            content = child.find(_SDT_CONTENT)
            if content is not None:
                yield from _children(content, tag)
        elif child.tag in _TRANSPARENT:
            yield from _children(child, tag)


def _merged_below(tc: _Element) -> bool:
    """A cell that continues a vertical merge (its text is the cell above's)."""
    merge = tc.find(f"{_W}tcPr/{_W}vMerge")
    return merge is not None and merge.get(_VAL) in (None, "continue")


def _text_boxes(p: _Element) -> Iterator[_Element]:
    """The text boxes anchored in a paragraph, outermost only, without VML fallback copies."""
    for box in p.iter(_TXBX):
        parent = box.getparent()
        while parent is not None and parent is not p:
            if parent.tag in (_TXBX, _MC_FALLBACK):
                break
            parent = parent.getparent()
        else:
            yield box


# ----------------------------------------------------------------------------- layout


def _heading_shift(blocks: list[_Block]) -> int:
    return 1 if any(b.level == _TITLE for b in blocks) else 0


def _render(block: _Block, shift: int) -> str:
    if block.rows:
        return "\n".join("| " + " | ".join(row) + " |" for row in block.rows)
    if block.level is not None:
        return "#" * min(max(block.level + shift, 1), 6) + " " + block.text
    if block.item:
        return "- " + " ".join(block.text.split())
    return block.text


def _layout(blocks: list[_Block]) -> str:
    """The text: blocks separated by blank lines, consecutive list items on consecutive
    lines."""
    shift = _heading_shift(blocks)
    parts: list[str] = []
    previous_item = False
    for block in blocks:
        text = _render(block, shift)
        is_item = block.item and block.level is None and not block.rows
        if is_item and previous_item:
            parts[-1] += "\n" + text
        else:
            parts.append(text)
        previous_item = is_item
    return "\n\n".join(parts)


def read_docx(path: Path, settings: Settings = DEFAULTS) -> Extracted:
    """A Word .docx file's text (see the module docstring), as one page. Raises
    :class:`UnreadableError` for a file that is no readable .docx or holds no text."""
    path = Path(path)
    check_docx(path, settings)
    document = _open(path)
    body = document.element.body
    blocks = list(_Reader(document).blocks(body))
    text = clean_text(_layout(blocks)).strip()
    if not text:
        raise UnreadableError(NO_TEXT)
    return Extracted(pages=(text,), paged=False, reader=READER_WORD)
