"""Reading a corpus file of any supported format into a :class:`qa.corpus.Document`: the step
between finding the files (:mod:`qa.corpus`) and cutting them into chunks (:mod:`qa.chunk`).

One reader a format, each in its own module, each returning :class:`~qa.formats.base.Extracted`:

* text (``.txt``, ``.md``): :func:`qa.corpus.read_document` (encoding detection);
* PDF (``.pdf``): :mod:`qa.formats.pdf` (pypdfium2's text layer, page by page; pages without
  one by OCR);
* images (``.png``, ``.jpg``, ``.jpeg``, ``.tif``, ``.tiff``): :mod:`qa.formats.ocr`;
* Word (``.docx``): :mod:`qa.formats.word` (python-docx); legacy ``.doc`` is skipped;
* web pages (``.html``, ``.htm``): :mod:`qa.formats.html` (trafilatura's main text).

The extension chooses the reader, and the file's first bytes must agree with it: a file whose
extension lies about its content (a PDF named ``.docx``, a zip named ``.pdf``) is skipped with a
reason that names what it really is. The pages of a paged document are joined with a blank
line and their start offsets kept, so each chunk knows its page.
"""

from __future__ import annotations

from pathlib import Path

from qa.corpus import (
    Document,
    UnreadableError,
    checked_path,
    clean_text,
    file_sha256,
    read_document,
)
from qa.formats.base import READER_TEXT, Extracted, PageProgress
from qa.settings import DEFAULTS, Settings

#: Bumped whenever a reader changes the text it gives for the same file: an index built by
#: other readers is stale (it is part of :func:`qa.index.chunker_settings`).
READERS_VERSION = 1

TEXT = (".txt", ".md")
PDF = (".pdf",)
IMAGES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
WORD = (".docx",)
LEGACY_WORD = (".doc",)
HTML = (".html", ".htm")
#: Every extension some reader takes (``Settings.extensions`` chooses among them).
SUPPORTED = TEXT + PDF + IMAGES + WORD + LEGACY_WORD + HTML

#: Page texts are joined with this: a paragraph that runs over a page break is joined again by
#: the chunker (a block that does not end a sentence is continued by the next one).
PAGE_BREAK = "\n\n"

#: What a file's first bytes say it is: ``(magic, kind, description)``.
_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "pdf", "a PDF document"),
    (b"PK\x03\x04", "zip", "a zip archive (e.g. a Word .docx)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole", "an old Office file (e.g. a Word .doc)"),
    (b"\x89PNG\r\n\x1a\n", "image", "a PNG image"),
    (b"\xff\xd8\xff", "image", "a JPEG image"),
    (b"II*\x00", "image", "a TIFF image"),
    (b"MM\x00*", "image", "a TIFF image"),
    (b"GIF87a", "image", "a GIF image"),
    (b"GIF89a", "image", "a GIF image"),
)
#: The kinds of content each format's extension may hold.
_ACCEPTS = {
    "text": {""},
    "html": {""},
    "pdf": {"pdf"},
    "image": {"image"},
    "docx": {"zip", "ole"},  # an encrypted .docx is an OLE container: word.py says so
    "doc": {"ole", "zip"},
}


#: What a file is not when its first bytes match no known type.
_NOT_A = {
    "pdf": "not a PDF",
    "image": "not an image",
    "docx": "not a Word .docx file: not a zip archive",
    "doc": "not a Word file",
}


def kind_of(name: str) -> str:
    """The format a file name's extension selects: ``"text"``, ``"pdf"``, ``"image"``,
    ``"docx"``, ``"doc"``, ``"html"``, or ``""`` for an extension no reader takes."""
    lower = name.lower()
    for kind, exts in (
        ("text", TEXT),
        ("pdf", PDF),
        ("image", IMAGES),
        ("docx", WORD),
        ("doc", LEGACY_WORD),
        ("html", HTML),
    ):
        if lower.endswith(exts):
            return kind
    return ""


def sniff(head: bytes) -> tuple[str, str]:
    """``(kind, description)`` of what the first bytes of a file are: ``"pdf"``, ``"zip"``,
    ``"ole"``, ``"image"``, or ``("", "")`` for anything else (text, HTML, unknown)."""
    for magic, kind, description in _MAGIC:
        if head.startswith(magic):
            return kind, description
    if b"%PDF-" in head[:1024]:  # PDF readers accept junk before the header
        return "pdf", "a PDF document"
    return "", ""


def _check_content(path: Path, kind: str) -> None:
    """Skip a file whose first bytes say it is something else than its extension says."""
    try:
        with path.open("rb") as f:
            head = f.read(1024)
    except OSError as err:
        raise UnreadableError(f"cannot be read: {(err.strerror or str(err)).lower()}") from err
    if not head:
        raise UnreadableError("empty file")
    found, description = sniff(head)
    if found not in _ACCEPTS[kind]:
        what = description or _NOT_A[kind]
        raise UnreadableError(
            f"the extension {path.suffix!r} does not match the content ({what}); "
            "rename the file or save it in the right format"
        )


def _extract(path: Path, kind: str, settings: Settings, progress: PageProgress | None) -> Extracted:
    if kind == "pdf":
        from qa.formats.pdf import read_pdf

        return read_pdf(path, settings, progress)
    if kind == "image":
        from qa.formats.ocr import read_image

        return read_image(path, settings, progress)
    if kind == "docx":
        from qa.formats.word import read_docx

        return read_docx(path, settings)
    if kind == "doc":
        raise UnreadableError("legacy Word .doc format is not supported: save it as .docx")
    from qa.formats.html import read_html

    with path.open("rb") as f:
        data = f.read(settings.max_file_bytes + 1)
    return read_html(data, settings)


def to_document(extracted: Extracted, path: str, sha256: str, size: int) -> Document:
    """The :class:`Document` of an extracted file: its pages cleaned and joined with
    :data:`PAGE_BREAK`, their start offsets kept for a paged format."""
    parts: list[str] = []
    starts: list[int] = []
    offset = 0
    for page in extracted.pages:
        text = clean_text(page).strip("\n")
        if parts:
            parts.append(PAGE_BREAK)
            offset += len(PAGE_BREAK)
        starts.append(offset)
        parts.append(text)
        offset += len(text)
    text = "".join(parts)
    if not text.strip():
        raise UnreadableError("no text found in the document")
    return Document(
        path=path,
        text=text,
        encoding=extracted.encoding,
        sha256=sha256,
        size=size,
        page_starts=tuple(starts) if extracted.paged else (),
        reader=extracted.reader,
        ocr_pages=extracted.ocr_pages,
    )


def read_file(
    path: Path | str,
    root: Path | str,
    settings: Settings = DEFAULTS,
    progress: PageProgress | None = None,
) -> Document:
    """Read one corpus file of any supported format (see the module docstring). Raises
    :class:`qa.corpus.UnreadableError` with a human reason for a file that cannot be read:
    the reasons of :func:`qa.corpus.read_document`, an extension that lies about the content,
    an encrypted, damaged or empty document, a scan without OCR, and each reader's own."""
    path, root = Path(path), Path(root)
    kind = kind_of(path.name)
    if not kind:
        raise UnreadableError(f"unsupported file type {path.suffix!r}")
    rel = checked_path(path, root, settings)
    _check_content(path, kind)
    if kind == "text":
        return read_document(path, root, settings)
    sha256, size = file_sha256(path), path.stat().st_size
    extracted = _extract(path, kind, settings, progress)
    return to_document(extracted, rel, sha256, size)


__all__ = [
    "READERS_VERSION",
    "READER_TEXT",
    "SUPPORTED",
    "Extracted",
    "PageProgress",
    "kind_of",
    "read_file",
    "sniff",
    "to_document",
]
