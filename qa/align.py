"""Answer words by alignment: the stretch of a sentence that stands where the question word
stands in the question.

The question's pieces left and right of its question word are found in the sentence
(:func:`anchors`), the slot between them (:func:`slot`) is narrowed to a candidate of the
expected type or trimmed of function words (:func:`answer_candidate`), and the method that
found the words is named (``ANSWER_METHODS``): ``qa.highlight`` keeps the words of the
``TRUSTED_METHODS`` and otherwise asks the span ranker of ``qa.answer``."""

from __future__ import annotations

from typing import NamedTuple

from qa.question import (
    CJK_RUN_RE,
    EN_STOP_WORDS,
    LATIN_WORD_RE,
    ZH_STOP_WORDS,
    Question,
    Token,
    is_stop,
    stem,
    tokens_of,
    word_tags,
)
from qa.sentences import EDGE_CHARS, Sentence
from qa.typed import typed_candidates

# --------------------------------------------------------------------------------------------
# answer words

CLAUSE_PUNCT = set("，。；：,;:!?！？\n")
EDGE_STOP = ZH_STOP_WORDS | EN_STOP_WORDS | {"是", "为", "為", "有", "在", "了", "的", "即", "则"}


def _clause_bounds(s: str, i: int, j: int) -> tuple[int, int]:
    """Widen [i, j) to the clause (between punctuation) around it."""
    a = i
    while a > 0 and s[a - 1] not in CLAUSE_PUNCT:
        a -= 1
    b = j
    while b < len(s) and s[b] not in CLAUSE_PUNCT:
        b += 1
    return a, b


def _trim(s: str, a: int, b: int, toks: list[Token], offset: int) -> tuple[int, int]:
    """Drop spaces, punctuation and edge function words from s[a:b]."""
    inner = [t for t in toks if t.start - offset >= a and t.end - offset <= b]
    if inner and all(t.word in EDGE_STOP for t in inner):
        return a, a
    while inner and inner[0].word in EDGE_STOP:
        inner.pop(0)
    while inner and inner[-1].word in EDGE_STOP:
        inner.pop()
    if inner:
        a, b = inner[0].start - offset, inner[-1].end - offset
    while a < b and not s[a].isalnum() and s[a] not in "《「『“(（":
        a += 1
    while b > a and not s[b - 1].isalnum() and s[b - 1] not in "》」』”)）%％":
        b -= 1
    return a, b


#: The ways of finding the answer words, from the most to the least precise: a candidate of the
#: expected type in the slot the question word stands for, or the one nearest it; the slot
#: itself, aligned on both sides, on the left only or on the right only.
ANSWER_METHODS = ("typed_in_gap", "typed_near", "gap_both", "gap_left", "gap_right")

#: The methods whose words ``highlight()`` returns: the ones whose words were, on the held-out
#: folds of CMRC 2018 trial, an exact match at least as often as the whole sentence or scored
#: at least its F1 (``bench/train_highlight.py`` measures every method and says whether this set
#: still holds). The one-sided slots of untyped questions (X是什么 -> the rest of the clause)
#: stay out: CMRC's gold answers to them are mostly the whole clause or sentence. (The weights
#: file's older ``answer_methods`` list is no longer read.)
TRUSTED_METHODS = frozenset({"typed_in_gap", "typed_near", "gap_both"})

#: Question words that ask yes or no: the sentence is the answer, there are no words to pick.
YES_NO = frozenset("是否 是不是 有没有 有沒有 吗 嗎 呢 么 麼".split())

#: an anchor's weight per character (Chinese, digits; a function character counts half) or per
#: English word, the penalty per character of question content between the anchor and the
#: question word (set on CMRC trial: 0.5 and 1.0 did a little worse), and the weight an anchor
#: needs
_EN_WORD_WEIGHT = 2.5
_DIST_PENALTY = 2.0
_MIN_ANCHOR = 1.5
#: a slot up to this long that holds a name of the expected kind is returned whole
_MAX_NAME_SLOT = 30
#: question words that ask how or why: the answer is a clause, not words in a slot
HOW_WHY = frozenset(
    "为什么 為什麼 为何 為何 怎么 怎麼 怎样 怎樣 如何 怎么样 怎麼樣 how why".split()
)


class _Anchor(NamedTuple):
    """A piece of the question found in the sentence (offsets relative to the sentence)."""

    qs: int
    qe: int
    ss: int
    se: int
    score: float  # weight minus the distance penalty; set by _side_anchors


def _is_latin(ch: str) -> bool:
    return "a" <= ch <= "z"


def _anchors(q: Question, sent: Sentence) -> list[_Anchor]:
    """Every occurrence in the sentence of a maximal piece of the question: common substrings of
    two or more characters (Chinese, digits; never a run of function characters, a number only
    whole) and stemmed English content words."""
    m, s = q.masked, sent.folded
    n = len(m)
    out: list[_Anchor] = []
    prev = 0
    for i in range(n):
        if m[i] == " " or _is_latin(m[i]):
            prev = 0
            continue
        length = 0
        while i + length < n and m[i + length] != " " and not _is_latin(m[i + length]):
            if m[i : i + length + 1] not in s:
                break
            length += 1
        if length < 2 or length < prev:  # too short, or a suffix of the piece before
            prev = length
            continue
        prev = length
        piece = m[i : i + length]
        if all(c in EDGE_CHARS for c in piece) or piece in ZH_STOP_WORDS:
            continue
        # function characters (的, 是, 在, ...) count half
        weight = sum(0.5 if c in EDGE_CHARS else 1.0 for c in piece)
        pos = s.find(piece)
        while pos >= 0:
            end = pos + length
            if not (
                (piece[0].isdigit() and pos > 0 and s[pos - 1].isdigit())
                or (piece[-1].isdigit() and end < len(s) and s[end].isdigit())
            ):
                out.append(_Anchor(i, i + length, pos, end, weight))
            pos = s.find(piece, pos + 1)
    latin: dict[str, list[tuple[int, int]]] = {}
    off = sent.start
    for t in sent.toks:
        if LATIN_WORD_RE.match(t.word):
            latin.setdefault(stem(t.word), []).append((t.start - off, t.end - off))
    for t in tokens_of(q.folded):
        if not _is_latin(t.word[:1]) or is_stop(t.word) or not LATIN_WORD_RE.match(t.word):
            continue
        if m[t.start : t.end] != t.word:  # a question word
            continue
        for a, b in latin.get(stem(t.word), ()):
            out.append(_Anchor(t.start, t.end, a, b, _EN_WORD_WEIGHT))
    return out


def _content_between(q: Question, a: int, b: int) -> float:
    """Characters of question content words (an English word counts 2) inside [a, b)."""
    total = 0.0
    for t in q.terms:
        if t.start >= a and t.end <= b:
            total += 2.0 if _is_latin(t.word[:1]) else len(t.word)
    return total


def _side_anchors(q: Question, anchors: list[_Anchor]) -> tuple[list[_Anchor], list[_Anchor]]:
    """The anchors left of the question word and right of it, each scored by its weight less
    the question content that separates it from the question word."""
    assert q.qword is not None
    qa, qb = q.qword
    lefts, rights = [], []
    for an in anchors:
        if an.qe <= qa:
            sc = an.score - _DIST_PENALTY * _content_between(q, an.qe, qa)
            if an.score >= _MIN_ANCHOR:
                lefts.append(an._replace(score=sc))
        elif an.qs >= qb:
            sc = an.score - _DIST_PENALTY * _content_between(q, qb, an.qs)
            if an.score >= _MIN_ANCHOR:
                rights.append(an._replace(score=sc))
    return lefts, rights


def _head_noun(q: Question, sent: Sentence, rights: list[_Anchor], r: int) -> int:
    """The noun right after the question word names the kind of the answer and ends it
    (什么王国 -> 奇穆王国, 什么制度 -> 「一领具足」制度): when the right anchor starts with it,
    the slot takes it in."""
    assert q.qword is not None
    if not any(rt.ss == r and rt.qs == q.qword[1] for rt in rights):
        return r
    off = sent.start
    for t in sent.toks:
        if t.start - off == r:
            if CJK_RUN_RE.fullmatch(t.word) and word_tags().get(t.word, "").startswith("n"):
                return t.end - off
            break
    return r


def _snap(a: int, b: int, sent: Sentence) -> tuple[int, int]:
    """Widen [a, b) to the sentence's words it cuts (连续[几]年排名 leaves 五 of 五年)."""
    off = sent.start
    for t in sent.toks:
        ts, te = t.start - off, t.end - off
        if ts < a < te and te <= b:
            a = ts
        if ts < b < te and ts >= a:
            b = te
    return a, b


def find_slot(
    q: Question, sent: Sentence
) -> tuple[tuple[int, int] | None, str, str, list[_Anchor]]:
    """The stretch of the sentence that stands where the question word stands in the question
    (relative offsets), the way it was found, which of its ends is anchored ("a", "b" or
    "ab": the answer is nearest that end) and the anchors."""
    s = sent.folded
    qw = q.qword
    if qw is None or q.folded[qw[0] : qw[1]] in YES_NO:
        return None, "none", "", []
    if q.atype in ("other", "reason") and q.folded[qw[0] : qw[1]] in HOW_WHY:
        return None, "none", "", []
    anchors = _anchors(q, sent)
    lefts, rights = _side_anchors(q, anchors)
    off = sent.start
    pairs = [
        (lt.score + rt.score - 0.05 * (rt.ss - lt.se), -(rt.ss - lt.se), lt.se, rt.ss)
        for lt in lefts
        for rt in rights
        if rt.ss > lt.se
        and _has_word(s, lt.se, rt.ss)
        and not any(ch in CLAUSE_PUNCT for ch in s[lt.se : rt.ss])
    ]
    if pairs:
        _, _, a, r = max(pairs)
        a, r = _snap(a, r, sent)
        r = _head_noun(q, sent, rights, r)
        if not _empty(s, a, r, sent, off):
            return (a, r), "gap_both", "ab", anchors
    tail = not q.masked[qw[1] :].strip()  # the question word ends the question
    head = not q.masked[: qw[0]].strip()  # ... or starts it
    order: list[str] = []
    best_l = max((lt.score for lt in lefts), default=0.0)
    best_r = max((rt.score for rt in rights), default=0.0)
    if lefts and (tail or not rights or best_l >= best_r) and not head:
        order = ["left", "right"]
    else:
        order = ["right", "left"]
    for side in order:
        if side == "left" and lefts:
            top = max(lt.score for lt in lefts)
            cands = [lt for lt in lefts if lt.score >= top - 1e-9]
            near = max(lt.qe for lt in cands)  # a tie goes to the piece nearest the question word
            cands = [lt for lt in cands if lt.qe == near]
            # the occurrence followed by words in its clause, the first such
            ok = [lt for lt in cands if _has_word(s, lt.se, _clause_bounds(s, lt.se, lt.se)[1])]
            a = min(lt.se for lt in (ok or cands))
            b = _clause_bounds(s, a, a)[1]
            if _empty(s, a, b, sent, off) and b < len(s):  # "X是：Y" -> the next clause
                b = _clause_bounds(s, b + 1, b + 1)[1]
            a, b = _snap(a, b, sent)
            if not _empty(s, a, b, sent, off):
                return (a, b), "gap_left", "a", anchors
        if side == "right" and rights:
            top = max(rt.score for rt in rights)
            cands = [rt for rt in rights if rt.score >= top - 1e-9]
            near = min(rt.qs for rt in cands)
            cands = [rt for rt in cands if rt.qs == near]
            b = min(rt.ss for rt in cands)
            a = _clause_bounds(s, b, b)[0]
            if _empty(s, a, b, sent, off) and a > 0:  # "Y，被称为X" -> the clause before
                a = _clause_bounds(s, a - 1, a - 1)[0]
            end = "b"
            if _empty(s, a, b, sent, off) or _only_question(q, s, a, b, sent, off):
                end = "a"
                # nothing before it (English inversion: When did the museum open?): the words
                # after the last anchor of the question's words that follow
                a = max(rt.se for rt in rights if rt.ss >= b)
                last = max(rt.se for rt in rights)
                a = max(a, last) if last - a < 40 else a
                b = _clause_bounds(s, a, a)[1]
            a, b = _snap(a, b, sent)
            if not _empty(s, a, b, sent, off):
                return (a, b), "gap_right", end, anchors
    return None, "none", "", anchors


_RANGE_JOINERS = frozenset("至 到 - ~ ～ — – 或".split())
#: particles cut off the edges of a typed candidate (三年的 -> 三年); measure words stay (32个)
_EDGE_PARTICLES = frozenset("的了是在和与與及或着著过過地得之为為约約达達")


def merge_ranges(cands: list[tuple[int, int]], s: str) -> list[tuple[int, int]]:
    """Join numbers that form a range (15至20厘米, 200米至2,400米, 70-80公里)."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(cands):
        if out:
            pa, pb = out[-1]
            between = s[pb:a].strip()
            tail = s[pb - 1] if pb > pa else ""
            if a >= pb and (between in _RANGE_JOINERS or (not between and tail in _RANGE_JOINERS)):
                out[-1] = (pa, b)
                continue
        out.append((a, b))
    return out


def refine_candidate(c: tuple[int, int], s: str, sent: Sentence) -> tuple[int, int]:
    """A typed candidate cut at a word boundary and without edge particles (三年的 -> 三年,
    五年排 -> 五年)."""
    a, b = c
    off = sent.start
    ends = {t.end - off for t in sent.toks if a < t.end - off <= b}
    starts = {t.start - off for t in sent.toks}
    if b not in ends and ends and a in starts | {0}:
        b = max(ends)
    while b - a > 1 and (
        s[b - 1] in _EDGE_PARTICLES or (not s[b - 1].isalnum() and s[b - 1] not in "%％)）")
    ):
        b -= 1
    while b - a > 1 and (s[a] in _EDGE_PARTICLES or not (s[a].isalnum() or s[a] in "$€£¥￥")):
        a += 1
    return (a, b) if any(ch.isalnum() for ch in s[a:b]) else c


def answer_candidate(
    q: Question,
    text: str,
    sent: Sentence,
    slot: tuple[tuple[int, int] | None, str, str, list[_Anchor]] | None = None,
) -> tuple[tuple[int, int] | None, str]:
    """The answer words inside ``sent`` and the name of the method that found them (``slot``:
    ``find_slot(q, sent)`` when the caller already has it)."""
    s = sent.folded
    if not s:
        return None, "none"
    off = sent.start
    gap, method, end, anchors = slot if slot is not None else find_slot(q, sent)
    cands: list[tuple[int, int]] = []
    if q.atype not in ("other", "reason"):
        covered = [False] * len(s)
        for _, ms, me in sent.matches:
            for j in range(ms, me):
                covered[j] = True
        raw = typed_candidates(q.atype, text[off : sent.end], s, sent.toks, off)
        if q.atype in ("number", "time"):
            raw = merge_ranges(raw, s)
        for c in raw:
            if s[c[0] : c[1]] in q.folded or all(covered[c[0] : c[1]]):
                continue
            c = refine_candidate(c, s, sent)
            if s[c[0] : c[1]] not in q.folded:
                cands.append(c)
    if cands:
        if gap is not None:
            ga, gb = gap
            inside = [c for c in cands if min(c[1], gb) - max(c[0], ga) > 0]
            if inside:
                if end == "a":
                    pick = inside[0]
                elif end == "b":
                    pick = inside[-1]
                else:
                    pick = max(inside, key=lambda c: (min(c[1], gb) - max(c[0], ga), -c[0]))
                if q.atype in ("person", "place", "org"):
                    # a name is often more than the words the dictionary tags (湖南省长沙县东北部,
                    # 伊丽莎白·克伦贝格尔-乔西): a short slot holding it is the answer
                    ta, tb = trim_slot(s, ga, gb, sent, off)
                    if tb - ta <= _MAX_NAME_SLOT and ta <= pick[0] and pick[1] <= tb:
                        pick = (ta, tb)
                return _abs(pick, off), "typed_in_gap"
            centres = [(ga + gb) / 2]
        else:
            centres = [(an.ss + an.se) / 2 for an in anchors] or [
                (ms + me) / 2 for _, ms, me in sent.matches
            ]
        if not centres:
            return None, "none"
        best = min(cands, key=lambda c: min(abs((c[0] + c[1]) / 2 - x) for x in centres))
        return _abs(best, off), "typed_near"
    if gap is None:
        return None, "none"
    a, b = trim_slot(s, gap[0], gap[1], sent, off)
    if b <= a:
        return None, "none"
    return _abs((a, b), off), method


_OPEN_CLOSE = {"《": "》", "「": "」", "『": "』", "“": "”", "(": ")", "（": "）", "[": "]"}


def trim_slot(s: str, a: int, b: int, sent: Sentence, off: int) -> tuple[int, int]:
    """``_trim`` that keeps a pair of brackets or quotes around the words (《一路顺风》)."""
    lo, hi = a, b
    a, b = _trim(s, a, b, sent.toks, off)
    while lo < a and b < hi and _OPEN_CLOSE.get(s[a - 1]) == s[b]:
        a, b = a - 1, b + 1
    return a, b


def _empty(s: str, a: int, b: int, sent: Sentence, off: int) -> bool:
    """True when s[a:b] holds nothing but punctuation and function words."""
    if b <= a:
        return True
    ta, tb = _trim(s, a, b, sent.toks, off)
    return tb <= ta


def _only_question(q: Question, s: str, a: int, b: int, sent: Sentence, off: int) -> bool:
    """True when s[a:b] holds only words of the question (Microsoft was | founded by ...)."""
    ta, tb = _trim(s, a, b, sent.toks, off)
    return tb > ta and s[ta:tb] in q.folded


def _has_word(s: str, a: int, b: int) -> bool:
    return any(ch.isalnum() for ch in s[a:b])


def _abs(span: tuple[int, int], off: int) -> tuple[int, int]:
    return (span[0] + off, span[1] + off)
