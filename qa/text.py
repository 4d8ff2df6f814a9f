"""Small text utilities shared along the pipeline: sentence spans, script detection and the
word tokenizer used by the lexical index and the highlighter.

Everything here works on plain ``str`` and returns character offsets into it, so callers can
map results back to the original text without re-searching."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

#: Characters that end a sentence (Chinese and Western).
SENTENCE_END = "。！？!?…"
#: Characters that end a clause inside a long sentence.
CLAUSE_END = "；;"
#: Closing quotes and brackets that belong to the sentence they close.
CLOSERS = "”’」』）)】》\"'"

_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
_LATIN_RE = re.compile(r"[A-Za-z]")


def is_cjk(ch: str) -> bool:
    """True for a CJK ideograph (Chinese character)."""
    return bool(_CJK_RE.match(ch))


def script_of(text: str) -> str:
    """``"cjk"``, ``"latin"`` or ``"other"``: the script most of the letters in ``text`` use."""
    cjk = len(_CJK_RE.findall(text))
    latin = len(_LATIN_RE.findall(text))
    if cjk == 0 and latin == 0:
        return "other"
    # one Chinese character carries about as much as a short English word
    return "cjk" if cjk * 3 >= latin else "latin"


#: Abbreviations that stand before a name and so never end a sentence ("Dr. Smith").
_TITLE_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st mt ft gen col lt sgt capt rev sen rep gov pres fr no vs".split()
)


def _is_western_period(text: str, i: int) -> bool:
    """A '.' ends a sentence when followed by whitespace/end, not inside a number, and not
    after an initial ("Andrew W. Mellon", "S.G. Tallentyre", "e.g."), a title ("Dr.") or the
    number of a list item at the start of a line ("1. 使用原厂充电器": the item is the
    sentence, not "1.")."""
    if text[i] != ".":
        return False
    j = i
    while j > 0 and text[j - 1].isdigit():
        j -= 1
    if j < i and i - j <= 3 and (j == 0 or text[j - 1] == "\n") and i + 1 < len(text):
        return False
    nxt = text[i + 1] if i + 1 < len(text) else " "
    prev = text[i - 1] if i > 0 else " "
    if prev.isdigit() and nxt.isdigit():
        return False
    if not (nxt.isspace() or nxt in CLOSERS):
        return False
    j = i
    while j > 0 and text[j - 1].isascii() and text[j - 1].isalpha():
        j -= 1
    word = text[j:i]
    if i + 1 < len(text) and (len(word) == 1 or word.lower() in _TITLE_ABBREVIATIONS):
        return False
    return True


def split_sentences(text: str, clauses: bool = False) -> list[tuple[int, int]]:
    """Split ``text`` into sentence spans ``(start, end)``.

    A sentence ends after 。！？!?… (a run of them counts once), after a Western '.' followed by
    whitespace, or at a newline; closing quotes and brackets that follow the end mark stay with
    the sentence. With ``clauses=True`` the semicolons ；; also end a span. Leading and trailing
    whitespace is trimmed from each span; spans are in order and never overlap, and every
    non-space character of ``text`` lies in exactly one span.
    """
    ends = SENTENCE_END + (CLAUSE_END if clauses else "")
    spans: list[tuple[int, int]] = []
    n = len(text)
    start = 0
    i = 0
    while i < n:
        ch = text[i]
        if ch == "\n":
            _push(text, start, i, spans)
            start = i + 1
            i += 1
            continue
        if ch in ends or _is_western_period(text, i):
            j = i + 1
            while j < n and (text[j] in ends or text[j] == "."):
                j += 1
            while j < n and text[j] in CLOSERS:
                j += 1
            _push(text, start, j, spans)
            start = j
            i = j
            continue
        i += 1
    _push(text, start, n, spans)
    return spans


def _push(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


def ends_sentence(text: str) -> bool:
    """True if ``text`` (stripped) ends with sentence-final punctuation, maybe inside closers."""
    t = text.rstrip()
    while t and t[-1] in CLOSERS:
        t = t[:-1]
    return bool(t) and (t[-1] in SENTENCE_END or t[-1] == "." or t[-1] in "：:")


def normalize(text: str) -> str:
    """NFKC-fold full-width letters/digits and lowercase: used for matching, never for display."""
    return unicodedata.normalize("NFKC", text).lower()


_WORD_RE = re.compile(r"[0-9a-z]+(?:[.'-][0-9a-z]+)*|[\u3400-\u9fff\uf900-\ufaff]", re.UNICODE)


@lru_cache(maxsize=1)
def _jieba():  # type: ignore[no-untyped-def]
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def words(text: str) -> list[str]:
    """Segment ``text`` into normalised words: jieba for Chinese runs, whole tokens for Latin
    letters and digits. Punctuation and spaces are dropped."""
    jb = _jieba()
    out: list[str] = []
    for w in jb.lcut(normalize(text)):
        w = w.strip()
        if w and any(c.isalnum() for c in w):
            out.append(w)
    return out


def char_ngrams(text: str, n: int = 2) -> Iterator[str]:
    """Overlapping n-grams of the CJK characters in each CJK run of ``text`` (after normalise)."""
    for run in re.findall(r"[\u3400-\u9fff\uf900-\ufaff]+", normalize(text)):
        if len(run) < n:
            yield run
        else:
            for i in range(len(run) - n + 1):
                yield run[i : i + n]
