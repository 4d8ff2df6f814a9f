"""Reading saved web pages (.html, .htm): the article's main text, without the page's chrome.

``read_html`` works in three steps:

1. **Decoding** (:func:`decode_html`): a byte-order mark decides; else the charset the page
   declares in its first bytes (``<meta charset>``, ``<meta http-equiv="Content-Type">`` or an
   XML declaration), its label read as browsers read it (WHATWG: "gb2312" and "gbk" mean
   GB18030, "iso-8859-1" and "ascii" mean cp1252, "shift_jis" cp932, "euc-kr" cp949, a
   UTF-16 label in an ASCII-readable page UTF-8); else, or when the declared charset is unknown
   or does not decode the bytes strictly, :func:`qa.corpus.decode_bytes` detects it. A
   declaration that decodes but is clearly wrong (a page in GBK or UTF-8 declared Latin-1,
   or in Big5 declared GBK) loses to the detected encoding when the detected text is clearly
   more plausible (:func:`qa.corpus.plausibility`). A strict UTF-8 decoding of a page declared
   UTF-8 is always believed. A page no encoding decodes strictly is read in its declared
   charset (else UTF-8) if at most :data:`MAX_REPLACED` of it is bad bytes (a damaged or cut
   page, shown as a browser shows it, with U+FFFD).
2. **Main text** with trafilatura on a tree parsed by lxml: ``<script>``, ``<style>``,
   ``<noscript>`` and ``<template>`` elements are removed before extraction (nothing of the
   page is ever executed; their text never reaches the output). Navigation, adverts,
   related-links lists, comments and footers are left out by trafilatura. For a short article
   (under :data:`MIN_ARTICLE_CHARS`) trafilatura's default replaces its own extraction by a flat
   dump of the whole page, navigation included: there the same extraction is run without a
   minimum size, then its recall-oriented one, then its baseline extraction.
3. **Layout** (the conventions of :mod:`qa.formats.base`): ``<h1>``–``<h6>`` become "#" lines
   by level, list items "- " lines, table rows "| a | b |" lines (a merged cell is given once,
   the cells it covers are left empty), other blocks paragraphs (``<br>`` a line break inside
   one). The page ``<title>`` is the top "#" heading unless the article has a heading equal to
   it (or an ``<h1>`` the title starts with: "Headline - Site name"); when it is added above
   an article that has ``<h1>`` headings of its own, the article's headings move one level
   down.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator
from configparser import ConfigParser
from functools import lru_cache
from typing import TYPE_CHECKING

from qa.corpus import BOMS, UnreadableError, clean_text, decode_bytes, plausibility
from qa.formats.base import READER_HTML, Extracted
from qa.settings import DEFAULTS, Settings

if TYPE_CHECKING:
    from lxml.etree import _Element
    from lxml.html import HtmlElement

EMPTY = "empty file"
NO_TEXT = "no text in the page"
#: How many bytes from the page's start are searched for a charset declaration.
DECLARATION_BYTES = 8192
#: How much more plausible the detected decoding must be to override a declared charset.
OVERRIDE_MARGIN = 0.1
#: trafilatura's own minimum extracted size: a shorter extraction is a small page's (or a miss).
MIN_ARTICLE_CHARS = 250
#: The share of a page's characters that may be undecodable bytes in its charset (replaced).
MAX_REPLACED = 0.001

_META = re.compile(rb"<meta\b[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9._:-]+)", re.IGNORECASE)
_XML_DECLARATION = re.compile(
    rb"^\s*<\?xml\b[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)", re.IGNORECASE
)
_XML_DECLARATION_TEXT = re.compile(r"^\s*<\?xml\b[^>]*\?>", re.IGNORECASE)
#: Charset labels read as browsers read them (WHATWG Encoding), each group with the codecs
#: tried in order (strictly). Other labels go to :func:`codecs.lookup`.
_LABEL_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("utf8 utf-8 unicode-1-1-utf-8 unicode11utf8 unicode20utf8 x-unicode20utf8", ("utf-8",)),
    # a UTF-16 or UTF-32 label read from ASCII bytes cannot be right: browsers read UTF-8
    (
        "utf-16 utf-16le utf-16be utf-32 utf-32le utf-32be unicode unicodefeff unicodefffe "
        "ucs-2 csunicode iso-10646-ucs-2",
        ("utf-8",),
    ),
    (
        "gb2312 gbk x-gbk gb_2312 gb_2312-80 chinese csgb2312 csiso58gb231280 iso-ir-58 cp936 "
        "ms936 windows-936 gb18030 euc-cn",
        ("gb18030",),
    ),
    ("big5 big5-hkscs cn-big5 csbig5 x-x-big5 cp950 ms950", ("big5", "cp950", "big5hkscs")),
    (
        "shift_jis shift-jis sjis ms_kanji x-sjis csshiftjis windows-31j ms932 cp932",
        ("shift_jis", "cp932"),
    ),
    (
        "euc-kr ks_c_5601-1987 ks_c_5601-1989 ksc5601 ksc_5601 korean csksc56011987 iso-ir-149 "
        "windows-949 cp949",
        ("euc-kr", "cp949"),
    ),
    (
        "iso-8859-1 iso8859-1 iso_8859-1 latin1 l1 ascii us-ascii ansi_x3.4-1968 cp819 ibm819 "
        "iso-ir-100 csisolatin1 windows-1252 cp1252 x-cp1252",
        ("cp1252",),
    ),
    ("iso-8859-9 latin5 l5 windows-1254 cp1254", ("cp1254",)),
    ("tis-620 iso-8859-11 windows-874 dos-874", ("cp874",)),
)
_LABELS = {label: codecs_ for labels, codecs_ in _LABEL_GROUPS for label in labels.split()}
#: Elements whose content is never text of the page (removed before extraction).
_NOT_TEXT_TAGS = ("script", "style", "noscript", "template")
#: Separators between a headline and a site name in a ``<title>``.
_TITLE_SEPARATORS = " -|_–—:·•»｜"
_SPACES = re.compile(r"[ \t\r\f\v]+")
_HEADING_REND = re.compile(r"h([1-6])")


# ----------------------------------------------------------------------------- decoding


def _bom_codec(data: bytes) -> str | None:
    for bom, codec in BOMS:
        if data.startswith(bom):
            return codec
    return None


def declared_charset(data: bytes) -> str | None:
    """The charset label the page declares in its first :data:`DECLARATION_BYTES` (an XML
    declaration, ``<meta charset>`` or ``<meta http-equiv="Content-Type" content="...;
    charset=...">``), lower-cased, or None."""
    head = data[:DECLARATION_BYTES]
    found = _XML_DECLARATION.match(head) or _META.search(head)
    return found.group(1).decode("ascii").lower() if found else None


def _candidate_codecs(label: str) -> tuple[str, ...]:
    """The codecs a charset label means (tried in order), ``()`` for an unknown label."""
    if label in _LABELS:
        return _LABELS[label]
    try:
        return (codecs.lookup(label).name,)
    except LookupError:
        return ()


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _decode_declared(data: bytes, label: str) -> tuple[str, str] | None:
    """The page decoded strictly in the charset it declares, or None."""
    for codec in _candidate_codecs(label):
        text = _strict(data, codec)
        if text is not None:
            return text, codec
    return None


def _decode_lenient(data: bytes, label: str | None) -> tuple[str, str] | None:
    """The page in its declared charset (else UTF-8) with the few bytes that do not decode
    replaced (a damaged or cut page, as a browser shows it), or None if more than
    :data:`MAX_REPLACED` of its characters would be."""
    codecs_ = _candidate_codecs(label) if label else ("utf-8",)
    if not codecs_:
        return None
    text = data.decode(codecs_[0], "replace")
    bad = text.count("\ufffd")
    return (text, codecs_[0]) if bad <= max(1, len(text) * MAX_REPLACED) else None


def _detected(data: bytes) -> tuple[str, str] | None:
    try:
        return decode_bytes(data)
    except UnreadableError:
        return None


def decode_html(data: bytes) -> tuple[str, str]:
    """A page's text and the codec it was decoded with (see the module docstring), or
    :class:`UnreadableError` when no encoding reads it (binary data)."""
    if not data.strip():
        raise UnreadableError(EMPTY)
    bom = _bom_codec(data)
    if bom is not None:
        text = _strict(data, bom)
        if text is not None:
            return text, bom
    label = declared_charset(data) if b"\x00" not in data else None
    declared = _decode_declared(data, label) if label else None
    if declared is None:
        try:
            return decode_bytes(data)
        except UnreadableError:
            lenient = _decode_lenient(data, label) if b"\x00" not in data else None
            if lenient is None:
                raise
            return lenient
    text, codec = declared
    if codec == "utf-8" or data.isascii():
        return declared
    detected = _detected(data)
    if detected is None or detected[0] == text:
        return declared
    if plausibility(detected[0]) > plausibility(text) + OVERRIDE_MARGIN:
        return detected
    return declared


# ----------------------------------------------------------------------------- parsing


def _parse(text: str) -> HtmlElement:
    """The page as an lxml tree without scripts, styles, comments and processing
    instructions."""
    import lxml.html
    from lxml import etree

    text = _XML_DECLARATION_TEXT.sub("", clean_text(text), count=1)
    if not text.strip():
        raise UnreadableError(EMPTY)
    parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, no_network=True)
    try:
        tree = lxml.html.document_fromstring(text, parser=parser)
    except (etree.ParserError, ValueError) as err:
        raise UnreadableError(NO_TEXT) from err
    etree.strip_elements(tree, *_NOT_TEXT_TAGS, with_tail=False)
    return tree


def _page_title(tree: HtmlElement) -> str:
    title = tree.find(".//title")
    return _one_line(title.text_content()) if title is not None else ""


def _text_length(body: _Element | None) -> int:
    return 0 if body is None else len("".join(body.itertext()).strip())


@lru_cache(maxsize=1)
def _small_page_config() -> ConfigParser:
    """trafilatura's configuration with no minimum extracted size: its own (structured)
    extraction is kept for a short article, where the default replaces it by a flat dump of
    the whole page, navigation included."""
    from trafilatura.settings import use_config

    config = use_config()
    config.set("DEFAULT", "MIN_EXTRACTED_SIZE", "1")
    return config


def _extract(tree: HtmlElement, recall: bool = False, small: bool = False) -> _Element | None:
    import trafilatura

    found = trafilatura.bare_extraction(
        tree,
        favor_recall=recall,
        include_comments=False,
        include_tables=True,
        include_formatting=False,
        include_images=False,
        include_links=False,
        with_metadata=False,
        **({"config": _small_page_config()} if small else {}),
    )
    return None if found is None else found.body


def _main_content(tree: HtmlElement) -> _Element | None:
    """The article's body as trafilatura's XML (``head``, ``p``, ``list``, ``table``...).

    trafilatura's default extraction when it finds a real article (:data:`MIN_ARTICLE_CHARS`);
    else, for a short page, the same extraction without a minimum size, then its
    recall-oriented one, then whatever the default found, then its baseline extraction."""
    import trafilatura

    found = _extract(tree)
    if _text_length(found) >= MIN_ARTICLE_CHARS:
        return found
    for recall in (False, True):
        small = _extract(tree, recall=recall, small=True)
        if _text_length(small):
            return small
    if _text_length(found):
        return found
    body = trafilatura.baseline(tree)[0]
    return body if _text_length(body) else None


# ----------------------------------------------------------------------------- layout


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _inline(el: _Element) -> str:
    """The text of an element, ``<lb/>`` as line breaks."""
    parts: list[str] = [el.text or ""]
    for child in el:
        parts.append("\n" if child.tag == "lb" else _inline(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _paragraph(text: str) -> str:
    """Lines trimmed, spaces collapsed, empty lines dropped."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _heading_level(el: _Element) -> int:
    found = _HEADING_REND.fullmatch(el.get("rend") or "")
    return int(found.group(1)) if found else 2


def _list_lines(el: _Element) -> Iterator[str]:
    """A list's items as "- " lines; nested lists flattened after their item's text."""
    for item in el:
        if item.tag != "item":
            continue
        nested = [child for child in item if child.tag == "list"]
        for child in nested:
            item.remove(child)  # the tree is trafilatura's copy
        text = _one_line(_inline(item))
        if text:
            yield f"- {text}"
        for child in nested:
            yield from _list_lines(child)


def _table_rows(el: _Element) -> Iterator[str]:
    for row in el.iter("row"):
        cells = [_one_line(" ".join(cell.itertext())) for cell in row.iter("cell")]
        if any(cells):
            yield "| " + " | ".join(cells) + " |"


_CONTAINERS = frozenset({"body", "div", "main", "article", "section"})


def _blocks(el: _Element) -> Iterator[tuple[str, str | int]]:
    """The blocks of trafilatura's body in order: ``("h", level)`` then its text as
    ``("t", text)``, or ``("t", text)`` for a paragraph, a list or a table."""
    for child in el:
        tag = child.tag
        if tag == "head":
            text = _one_line(_inline(child))
            if text:
                yield "h", _heading_level(child)
                yield "t", text
        elif tag == "list":
            yield "t", "\n".join(_list_lines(child))
        elif tag == "table":
            yield "t", "\n".join(_table_rows(child))
        elif tag in _CONTAINERS:
            if child.text and child.text.strip():
                yield "t", _paragraph(child.text)
            yield from _blocks(child)
        elif tag != "graphic":
            yield "t", _paragraph(_inline(child))
        if child.tail and child.tail.strip():
            yield "t", _paragraph(child.tail)


def _structured(body: _Element) -> list[tuple[int, str]]:
    """``(level, text)`` per block: level 1-6 for a heading, 0 for other text."""
    out: list[tuple[int, str]] = []
    if body.tag not in _CONTAINERS:  # a lone element (trafilatura may return a <p> or <span>)
        text = _paragraph(_inline(body))
        return [(0, text)] if text else []
    if body.text and body.text.strip():
        out.append((0, _paragraph(body.text)))
    level = 0
    for kind, value in _blocks(body):
        if kind == "h":
            level = int(value)
        elif value:
            out.append((level, str(value)))
            level = 0
    return out


def _title_matches(title: str, blocks: Iterable[tuple[int, str]]) -> bool:
    """Whether the article already carries the page title: a heading equal to it, or an
    ``<h1>`` it starts with, followed by a separator ("Headline - Site")."""
    for level, text in blocks:
        if not level:
            continue
        if text == title:
            return True
        if level == 1 and title.startswith(text) and title[len(text)] in _TITLE_SEPARATORS:
            return True
    return False


def _with_title(title: str, blocks: list[tuple[int, str]]) -> list[tuple[int, str]]:
    if not title or _title_matches(title, blocks):
        return blocks
    shift = 1 if any(level == 1 for level, _ in blocks) else 0
    moved = [(min(level + shift, 6) if level else 0, text) for level, text in blocks]
    return [(1, title), *moved]


def _layout(blocks: Iterable[tuple[int, str]]) -> str:
    return "\n\n".join(f"{'#' * level} {text}" if level else text for level, text in blocks)


# ----------------------------------------------------------------------------- reader


def read_html(data: bytes, settings: Settings = DEFAULTS) -> Extracted:
    """A web page's main text (see the module docstring), as one page; ``encoding`` is the
    codec the bytes were decoded with. Raises :class:`UnreadableError` for an empty page,
    binary data or a page without text."""
    if len(data) > settings.max_file_bytes:
        raise UnreadableError(f"page larger than {settings.max_file_bytes // 2**20} MB")
    text, encoding = decode_html(data)
    tree = _parse(text)
    title = _page_title(tree)
    body = _main_content(tree)
    blocks = _structured(body) if body is not None else []
    blocks = _with_title(title, blocks) if blocks else []
    page = clean_text(_layout(blocks)).strip()
    if not page:
        raise UnreadableError(NO_TEXT)
    return Extracted(pages=(page,), paged=False, reader=READER_HTML, encoding=encoding)
