"""What every format reader returns (:class:`Extracted`), the text layout line a page is made
of (:class:`Line`), and the progress callback readers report pages to.

Text conventions shared by all readers, so that :mod:`qa.chunk` cuts every format alike:

* paragraphs are separated by a blank line ("\\n\\n"); the lines inside one paragraph are
  separated by "\\n" (the chunker joins them: nothing between CJK characters, a space between
  words, nothing after a hyphen cut inside a word);
* headings are Markdown heading lines ("# Title", "## Part", "### Sub") on a paragraph of their
  own: the chunker turns them into the ``section`` of the chunks under them;
* a table row is one line "| cell | cell |" (rows of a table are consecutive lines); a list item
  is a line that starts with "- ".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

#: ``progress(done, total, what)``: ``done`` of ``total`` pages of the file being read are
#: finished; ``what`` says how the last one was read ("text" or "ocr").
PageProgress = Callable[[int, int, str], None]

#: How a document's text was read (shown in the Documents tab and the build summary).
READER_TEXT = "text"
READER_PDF = "pdf text layer"
READER_OCR = "ocr"
READER_PDF_OCR = "pdf text layer + ocr"
READER_WORD = "docx"
READER_HTML = "html"


@dataclass(frozen=True)
class Extracted:
    """The text of one document of any format, before chunking."""

    #: The text of each page in order (the conventions above). A format without pages (Word,
    #: HTML, text) gives exactly one.
    pages: tuple[str, ...]
    #: True when ``pages`` are real pages (PDF, multi-page TIFF, an image): chunks then carry
    #: a 1-based page number.
    paged: bool
    #: How the text was read: one of the ``READER_*`` names.
    reader: str
    #: How many of the pages were read by OCR.
    ocr_pages: int = 0
    #: The text encoding the bytes were decoded with, for formats that have one (HTML, text).
    encoding: str = ""


@dataclass(frozen=True)
class Line:
    """One line of text on a page, with its box in page units (x to the right, y downwards:
    ``top < bottom``). PDF text layers and OCR both give lines like this; :mod:`qa.formats.layout`
    turns a page's lines into paragraphs."""

    text: str
    left: float
    top: float
    right: float
    bottom: float
