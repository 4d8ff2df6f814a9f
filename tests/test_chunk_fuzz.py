"""Property tests: the chunker and the decoder never fail on any input and keep their promises."""

from __future__ import annotations

import dataclasses
import hashlib
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.chunk import chunk_text
from qa.corpus import UnreadableError, clean_text, decode_bytes
from qa.settings import DEFAULTS, Settings

pytestmark = pytest.mark.unit

SMALL = dataclasses.replace(DEFAULTS, max_chunk_chars=40, min_chunk_chars=10, heading_max_chars=12)


def _bare(s: str) -> str:
    return re.sub(r"[\s#›]", "", s)


def check_chunks(text: str, chunk_settings: Settings) -> None:
    """Sizes, ordinals, hashes, and coverage: the text between chunks is only white space or
    the headings that the next chunk's section carries."""
    chunks = chunk_text(text, "doc.txt", chunk_settings)
    pos = 0
    for i, c in enumerate(chunks):
        assert c.ordinal == i and c.doc == "doc.txt"
        assert 0 < len(c.text) <= chunk_settings.max_chunk_chars
        assert pos <= c.start < c.end <= len(text)
        assert _bare(c.section).endswith(_bare(text[pos : c.start]))
        assert _bare(c.text) == _bare(text[c.start : c.end])
        assert c.hash == hashlib.sha256(c.text.encode("utf-8", "surrogatepass")).hexdigest()
        pos = c.end
    assert _bare(text[pos:]) == ""


# Text that looks like documents: words, CJK runs, punctuation, markers, blank lines.
_PIECES = st.sampled_from(
    [
        "广州公安",
        "思",
        "想凝心铸魂",
        "。",
        "，",
        "；",
        "！",
        "”",
        "“",
        "……",
        "——",
        "▶",
        "A/",
        "一、",
        "第三章",
        "# ",
        "## ",
        "1. ",
        "- ",
        "图/",
        "文/",
        "Hello",
        "world",
        "well-",
        "known",
        ".",
        " ",
        "  ",
        "\t",
        "\n",
        "\n\n",
        "\r\n",
        "\u3000",
        "2023",
        "😀",
        "```",
        "\n\nIntro\n\n",  # the same heading twice makes two sections, not one
        "\n\nA/平安建设\n\n",
        "\n\n一、总则\n\n",
        "\n\n# Title\n\n",
    ]
)
_DOCLIKE = st.lists(_PIECES, max_size=120).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=400))
def test_any_unicode_text_chunks_within_limits_and_covers(text: str) -> None:
    check_chunks(text, SMALL)


@settings(max_examples=300, deadline=None)
@given(text=_DOCLIKE)
def test_document_like_text_chunks_within_limits_and_covers(text: str) -> None:
    check_chunks(text, SMALL)
    check_chunks(text, DEFAULTS)


@settings(max_examples=100, deadline=None)
@given(
    text=_DOCLIKE,
    max_chars=st.integers(min_value=1, max_value=30),
    min_chars=st.integers(min_value=0, max_value=30),
    heading=st.integers(min_value=0, max_value=30),
)
def test_any_size_settings(text: str, max_chars: int, min_chars: int, heading: int) -> None:
    custom = dataclasses.replace(
        DEFAULTS, max_chunk_chars=max_chars, min_chunk_chars=min_chars, heading_max_chars=heading
    )
    check_chunks(text, custom)


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=300))
def test_any_bytes_decode_or_raise_unreadable(data: bytes) -> None:
    try:
        text, encoding = decode_bytes(data)
    except UnreadableError as err:
        assert err.reason
        return
    assert isinstance(text, str)
    assert data.decode(encoding) == text
    cleaned = clean_text(text)
    assert not any(ch < " " and ch not in "\n\t" for ch in cleaned)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200), codec=st.sampled_from(["utf-8", "utf-16", "utf-32"]))
def test_unicode_round_trips(text: str, codec: str) -> None:
    text = text.replace("\x00", "")  # NUL is no text (and "\xff\xfe\x00\x00" is a UTF-32 BOM)
    if codec == "utf-8":  # a leading U+FEFF is read as a BOM
        text = text.lstrip("\ufeff")
    decoded, _ = decode_bytes(text.encode(codec))
    assert decoded == text
