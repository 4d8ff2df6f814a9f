"""Answer-type candidates inside a sentence: the numbers, dates, causal connectives and names
(jieba dictionary tags, unknown name-like words, English capitalised runs) that could answer a
question of a given :func:`qa.question.answer_type`. Used by the sentence features
(``type_match``), the alignment of the answer words and the span ranker."""

from __future__ import annotations

import re

from qa.question import CJK_RUN_RE, EN_STOP_WORDS, Token, word_frequencies, word_tags

# --------------------------------------------------------------------------------------------
# answer-type candidates inside a sentence

ZH_NUM = "零〇一二两兩三四五六七八九十百千万萬亿億"
_NUM_RE = re.compile(
    rf"(?:\d+(?:[.,]\d+)*|[{ZH_NUM}]+)(?:\s?(?:多|余|餘|几|幾|万|萬|亿|億))?"
    rf"(?:\s?(?:%|％|‰|[a-zμ°]+\b|[^\s\d{ZH_NUM}，。、；：,.;:!?！？（）()「」“”《》]{{1,2}}))?"
)
TIME_RE = re.compile(
    rf"(?:公元前|公元|西元前|西元|前)?(?:\d{{1,4}}|[{ZH_NUM}元]{{1,5}})\s?(?:年代|年|世纪|世紀)"
    rf"(?:\d{{1,2}}月(?:\d{{1,2}}[日号號])?)?|\d{{1,2}}月(?:\d{{1,2}}[日号號])?|"
    rf"[{ZH_NUM}]{{1,3}}月(?:[{ZH_NUM}]{{1,3}}[日号號])?|"
    r"(?:早|中|晚|末|初)期|(?:春|夏|秋|冬)[季天]|"
    r"\b(?:1[0-9]{3}|20[0-9]{2})\b|\b(?:january|february|march|april|may|june|july|august|"
    r"september|october|november|december)\b(?:\s\d{1,2})?(?:,?\s\d{4})?|\b\d{1,2}(?:st|nd|rd|th)\b"
)
_CAUSE_RE = re.compile(
    r"因为|因為|由于|由於|因此|所以|原因|为了|為了|导致|導致|以致|以免|因而|鉴于|鑒於|基于|基於|"
    r"\bbecause\b|\bdue to\b|\bsince\b|\bso that\b|\bin order to\b|\breason\b|\bcaused?\b"
)
_PERSON_TAGS = frozenset({"nr", "nrt", "nrfg"})
_PLACE_TAGS = frozenset({"ns"})
_ORG_TAGS = frozenset({"nt"})
_ORG_SUFFIX = re.compile(
    r"(?:公司|集团|集團|大学|大學|学院|學院|协会|協會|委员会|委員會|组织|組織|银行|銀行|俱乐部|"
    r"俱樂部|队|隊|党|黨|部|局|署|社|所|院|会|會)$"
)
_EN_CAP_RE = re.compile(r"(?:[A-Z][\w'\-]*(?:\s+(?:of|de|von|van|the|and)?\s*[A-Z][\w'\-]*)*)")


def entity_kind(tok: Token, known: bool) -> str | None:
    """person/place/org for a token from jieba's dictionary tags; unknown CJK words of 2-4
    characters and words with a middle dot are guessed to be names."""
    w = tok.word
    tag = word_tags().get(w)
    if tag in _PERSON_TAGS or "·" in w:
        return "person"
    if tag in _PLACE_TAGS:
        return "place"
    if tag in _ORG_TAGS or (len(w) >= 3 and _ORG_SUFFIX.search(w)):
        return "org"
    if not known and 2 <= len(w) <= 4 and CJK_RUN_RE.fullmatch(w):
        return "name"
    return None


def typed_candidates(
    atype: str, sent: str, folded: str, toks: list[Token], offset: int
) -> list[tuple[int, int]]:
    """Spans (relative to the sentence) of candidates of the expected answer type."""
    if atype == "number":
        return [
            m.span()
            for m in _NUM_RE.finditer(folded)
            if any(c.isdigit() or c in ZH_NUM for c in m.group())
        ]
    if atype == "time":
        return [m.span() for m in TIME_RE.finditer(folded)]
    if atype == "reason":
        return [m.span() for m in _CAUSE_RE.finditer(folded)]
    if atype in ("person", "place", "org"):
        freq, _ = word_frequencies()
        out: list[tuple[int, int]] = []
        for t in toks:
            kind = entity_kind(t, t.word in freq)
            if kind == atype or (kind == "name" and atype != "org"):
                out.append((t.start - offset, t.end - offset))
        out.extend(_english_names(sent))
        return _merge_adjacent(out, folded)
    return []


_JOINERS = frozenset(["·", " ", "・", "•", "、", "和", "与", "與", "及", "跟", " and ", ", "])


def _english_names(sent: str) -> list[tuple[int, int]]:
    """Runs of capitalised words. At the start of a sentence a capital proves nothing, so
    there a run must hold two words once a leading function word is dropped (The Eiffel
    Tower -> Eiffel Tower; Alexander Graham Bell)."""
    out = []
    for m in _EN_CAP_RE.finditer(sent):
        a, b = m.span()
        if a == 0 or not sent[:a].strip(" \"'“‘(（"):
            first = m.group().split()[0]
            if first.lower() in EN_STOP_WORDS:
                a += len(first)
                while a < b and sent[a] == " ":
                    a += 1
            elif " " not in m.group():
                continue
        if b - a > 1:
            out.append((a, b))
    return out


def _merge_adjacent(spans: list[tuple[int, int]], text: str) -> list[tuple[int, int]]:
    """Join candidate spans that touch or are separated only by '·', a space or a list joiner
    (约翰·麦克阿瑟; 邓廷桢和林则徐; Paris and Lyon): a list of names answers as a whole."""
    spans = sorted(set(spans))
    out: list[tuple[int, int]] = []
    for s, e in spans:
        if out and (s <= out[-1][1] or text[out[-1][1] : s] in _JOINERS):
            out[-1] = (out[-1][0], max(e, out[-1][1]))
        else:
            out.append((s, e))
    return out
