"""The highlighter: inside a retrieved passage, the sentence that answers a question and, when
it can tell, the exact answering words.

``highlight(question, text, sentence_sims=None)`` ranks every sentence of
``split_sentences(text)`` by how likely it holds the answer and returns the spans best first
with probability-like scores, plus the answer words inside the best sentence (or ``None``).

A sentence's score is ``sigmoid(features . weights + bias)``, a linear model over a few general
features. ``bench/train_highlight.py`` learns the weights (a conditional logit over the sentences
of each paragraph, then a one-parameter calibration) on CMRC 2018 trial with 5-fold
cross-validation by article and writes them to ``qa/data/highlight_weights.json``. The features:

* ``local_recall``: the share of the question's content words the sentence holds, each word
  weighted by its IDF (the log inverse frequency in jieba's own dictionary, a general corpus)
  times the square of its *passage-local* IDF (log of sentences over sentences holding it), so
  that the passage's topic, named in most sentences, counts less than the words that tell the
  sentences apart; question words (什么, 哪里, 多少, what, who, ...) carry no evidence;
  also relative to the best sentence of the passage (``local_recall_rel``);
* ``bigram_rel``/``local_bigram_rel``: overlap of the question's Chinese character bigrams
  (robust to jieba's segmentation and to traditional script), plain and passage-local weighted;
* ``lcs``/``lcs_rel``: the longest substring shared with the question;
* ``focus``: whether the sentence holds the word next to the question word (软枝黄蝉的**盛花期**
  是什么时候), what is asked about;
* ``beyond_first``: the share of the question words missing from the passage's opening
  sentence (which usually names the topic) that this sentence holds;
* ``type_match``: the sentence holds a candidate of the expected answer type that the
  question does not (a number, a date, a person/place/organisation from jieba's dictionary
  tags or an unknown name-like word, an English capitalised name, a causal connective for why);
* ``position`` in the passage; and, when the caller passes ``sentence_sims`` (dense cosine
  similarities), ``sim_rel`` and ``sim_z`` (relative to the passage, so the embedder's scale
  offset does not matter) with a second weight vector.

Further features are computed (``FEATURES_BASE``) but weigh nothing: they added nothing under
cross-validation.

The answer words come from an alignment of the question with the best sentence. The question
word (什么, 哪里, 多少, 几, 谁, 何时, what, who, when, ...) leaves a slot; the question's pieces
left and right of it are found in the sentence (maximal common substrings of two or more
characters, so robust to jieba's segmentation and to traditional script, and stemmed English
words), each scored by its length less the question content between it and the question word.
The slot is the sentence text between the best left and right pieces (no clause punctuation
inside; widened to the sentence words it cuts, 连续[几]年排名 -> 连续[五年]排名; taking in the
noun that follows the question word, 什么王国 -> 奇穆王国), else after the left piece to the end
of its clause (…是什么), else before the right piece back to the clause start (谁发明了X; in
English, when nothing precedes it, after the pieces: When did the museum open? -> opened in
1998). Typed questions then take the candidate of the expected type (a number or range, a date,
a name) that lies in the slot, nearest its anchored end (a short slot holding a name is returned
whole: names run longer than the dictionary's tags), else the candidate nearest the slot. Edge
function words and punctuation are trimmed (brackets around a title kept). Yes/no, how and why
questions get no slot. Slots of untyped questions aligned on one side only were, on CMRC, less
precise than the whole sentence (``TRUSTED_METHODS``); for those, and where the alignment finds
nothing, the learned span ranker of ``qa.answer`` picks the words, or ``None`` when its best
candidate is the whole sentence (``bench/train_answer.py`` measures both and the combination).

Pure Python + numpy; jieba segments the passage once; ~2.5 ms for a 350-character passage.
"""

from __future__ import annotations

import json
import logging
import math
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from qa.text import split_sentences

WEIGHTS_PATH = Path(__file__).parent / "data" / "highlight_weights.json"
TREES_PATH = Path(__file__).parent / "data" / "highlight_trees.json"


class Highlight(NamedTuple):
    """Ranked sentence spans of a passage and the answer words inside the best one."""

    # spans in ``text``, best first: the best sentence (widened to the adjacent sentences that
    # score nearly as well, see ``block``), then every other sentence
    spans: list[tuple[int, int]]
    scores: list[float]  # probability-like score of each span, same order (0..1)
    answer: tuple[int, int] | None  # exact answer words inside spans[0], or None when unsure


# --------------------------------------------------------------------------------------------
# question words, stop words, answer types

#: Chinese question words (simplified and traditional), longest first when matched.
ZH_QUESTION_WORDS = (
    "什么时候 什麼時候 甚麼時候 什么地方 什麼地方 什么人 什麼人 "
    "为什么 為什麼 为何 為何 什么样 什麼樣 什么 什麼 甚么 甚麼 怎么样 怎麼樣 怎么 怎麼 怎样 怎樣 "
    "如何 多少 多久 哪里 哪裡 哪裏 哪儿 "
    "哪兒 哪个 哪個 哪些 哪一 哪位 哪年 哪天 哪种 哪種 哪家 哪所 哪国 哪國 哪 谁 誰 几 幾 何时 "
    "何時 何地 何处 何處 何人 何种 何種 何 是否 是不是 有没有 有沒有 吗 嗎 呢 啥 么 麼"
).split()

#: Chinese function words that carry no evidence on their own.
ZH_STOP_WORDS = frozenset(
    "的 了 是 在 有 和 与 與 及 或 被 把 对 對 于 於 其 该 該 这 這 那 个 個 也 都 而 就 并 並 "
    "以 为 為 所 之 等 中 上 下 从 從 到 向 将 將 由 让 讓 给 給 又 还 還 更 很 最 则 則 即 "
    "着 著 过 過 地 得 我 你 他 她 它 们 們 此 其中 以及 这个 這個 那个 那個 一个 一個 "
    "请问 請問 问 問 呀 啊 吧 么 麼 曾 会 會 能 可以 要 做".split()
)

#: English question words and function words.
EN_STOP_WORDS = frozenset(
    """what which who whom whose when where why how many much does do did done is are was were
    be been being am the a an of in on at to for by with from as that this these those it its
    and or not no nor but if then than so such there their they them he she his her him we our
    you your i me my can could would should will shall may might must has have had having into
    onto about over under after before during between through also very any some all each
    other both either neither one ones own same than too s t just kind type sort name named
    called call""".split()
)

_TYPE_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "time",
        re.compile(
            r"哪一年|哪年|哪一天|哪天|何年|何时|何時|几月|幾月|几号|幾號|几日|幾日|几点|幾點|"
            r"哪个月|哪個月|哪一月|什么时候|什麼時候|甚麼時候|什么时间|什麼時間|什么年代|什麼年代|"
            r"哪个年代|哪個年代|哪个朝代|哪個朝代|哪一朝|哪个世纪|哪個世紀|哪一世纪|哪一世紀|"
            r"什么日期|什麼日期|哪个时期|哪個時期|什么时期|什麼時期|哪一时期|哪一時期|"
            r"\bwhen\b|\bwhat (?:year|time|date|day|month|century|decade|period|era)\b|"
            r"\bwhich (?:year|date|day|month|century|decade|period|era)\b|\bhow long ago\b"
        ),
    ),
    (
        "number",
        re.compile(
            r"多少|几|幾|多大|多高|多长|多長|多远|多遠|多重|多深|多宽|多寬|多久|多老|百分之|"
            r"\bhow (?:many|much|long|far|old|big|large|tall|high|deep|wide|heavy|often)\b|"
            r"\bwhat (?:percentage|percent|number|amount|size|proportion)\b"
        ),
    ),
    (
        "person",
        re.compile(
            r"谁|誰|哪位|哪一位|何人|什么人|什麼人|哪个人|哪個人|哪些人|"
            r"\bwho\b|\bwhom\b|\bwhose\b|\bwhich (?:person|man|woman|king|emperor|author|writer)\b"
        ),
    ),
    (
        "place",
        re.compile(
            r"哪里|哪裡|哪裏|哪儿|哪兒|什么地方|什麼地方|何地|何处|何處|在哪|哪国|哪國|"
            r"哪个国家|哪個國家|哪一个国家|哪个城市|哪個城市|哪座城市|哪个省|哪個省|哪个地区|哪個地區|"
            r"哪些地区|哪些地區|哪些国家|哪些國家|哪个州|哪個州|"
            r"\bwhere\b|\bwhich (?:country|city|town|state|province|region|place|continent)\b|"
            r"\bwhat (?:country|city|town|state|province|region|place|continent)\b"
        ),
    ),
    (
        "org",
        re.compile(
            r"哪[个個家所支]?(?:公司|企业|企業|组织|組織|机构|機構|大学|大學|学校|學校|球队|球隊|"
            r"团队|團隊|乐队|樂隊|政党|政黨|银行|銀行|俱乐部|俱樂部)|"
            r"什[么麼](?:公司|企业|企業|组织|組織|机构|機構|大学|大學|学校|學校|球队|球隊|政党|政黨)|"
            r"哪家|\b(?:which|what) (?:company|organization|organisation|university|school|"
            r"team|club|party|band|bank|agency|firm)\b"
        ),
    ),
    (
        "reason",
        re.compile(r"为什么|為什麼|为何|為何|什么原因|什麼原因|原因是|\bwhy\b|\bwhat caused\b"),
    ),
]

#: 称为什么 / 成为什么 / 算为什么 ... are 称为 + 什么 ("called what"), not 为什么 ("why").
_REASON_FALSE_RE = re.compile(
    r"([称稱成作认認改分算视視名列译譯定转轉变變选選被划劃][为為])(?=什[么麼])"
)

ANSWER_TYPES = ("number", "time", "person", "place", "org", "reason", "other")


def _fold(text: str) -> str:
    """NFKC + lower-case one character at a time, keeping the length (offsets stay valid)."""
    return "".join(_fold_char(ch) for ch in text)


@lru_cache(maxsize=8192)
def _fold_char(ch: str) -> str:
    n = unicodedata.normalize("NFKC", ch).lower()
    return n if len(n) == 1 else ch


def answer_type(question: str) -> str:
    """The kind of answer a question asks for, from its question words (Chinese or English):
    ``"number"``, ``"time"``, ``"person"``, ``"place"``, ``"org"``, ``"reason"`` or ``"other"``.
    """
    q = _REASON_FALSE_RE.sub(r"\1 ", _fold(question))
    found = []
    for rank, (name, pat) in enumerate(_TYPE_PATTERNS):
        m = pat.search(q)
        if m:
            found.append((m.start(), m.end(), rank, name))
    if not found:
        return "other"
    # the earliest question word decides; among the ones overlapping it the longest (在哪一年:
    # 哪一年 over 在哪), then the pattern listed first
    first = min(found)
    near = [f for f in found if f[0] < first[1]]
    best = min(near, key=lambda f: (-(f[1] - f[0]), f[2]))
    if best[3] == "number" and re.search(r"(?:多少|几|幾)(?:年|世纪|世紀)(?!来|來|间|間)", q):
        # 多少年/几年 asks for a duration (a number), 哪一年 for a date: keep "number"
        return "number"
    return best[3]


# --------------------------------------------------------------------------------------------
# jieba: segmentation with offsets, IDF and dictionary tags


@lru_cache(maxsize=1)
def _jieba() -> Any:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


#: IDF of a word that jieba's dictionary does not know (names, traditional script, English).
UNKNOWN_IDF = 12.0
MAX_IDF = 14.0


@lru_cache(maxsize=1)
def _freq() -> tuple[dict[str, int], float]:
    dt = _jieba().dt
    return dt.FREQ, float(dt.total)


@lru_cache(maxsize=65536)
def idf(word: str) -> float:
    """Log inverse frequency of ``word`` in jieba's dictionary (a general-purpose corpus)."""
    freq, total = _freq()
    f = freq.get(word, 0)
    if not f:
        return UNKNOWN_IDF
    return min(MAX_IDF, math.log(total / f))


@lru_cache(maxsize=1)
def _tags() -> dict[str, str]:
    """Word -> part-of-speech tag from jieba's dictionary (what jieba.posseg uses, without the
    cost of its HMM: posseg.lcut is ~10x slower than lcut on a passage)."""
    _jieba()
    import jieba.posseg

    return jieba.posseg.dt.word_tag_tab  # type: ignore[no-any-return]


class Token(NamedTuple):
    word: str  # folded (NFKC, lower-case)
    start: int
    end: int


def _tokens(folded: str) -> list[Token]:
    """jieba words of folded text with offsets; spaces and punctuation dropped."""
    jb = _jieba()
    out: list[Token] = []
    for w, s, e in jb.tokenize(folded):
        if any(c.isalnum() for c in w):
            out.append(Token(w.strip(), s, e))
    return out


_QW_RE = re.compile(
    # 多高/多长/多重...: only 多 asks, the adjective (高 height, 长 length) is evidence
    r"多(?=[长長高大远遠重深宽寬老])|"
    + "|".join(re.escape(w) for w in sorted(ZH_QUESTION_WORDS, key=len, reverse=True))
    + r"|\b(?:what|which|who|whom|whose|when|where|why|how)\b"
)
_LATIN_WORD_RE = re.compile(r"^[0-9a-z][0-9a-z.'\-]*$")
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RUN_RE = re.compile(f"[{_CJK}]+")


def _is_stop(w: str) -> bool:
    if w in ZH_STOP_WORDS or w in EN_STOP_WORDS:
        return True
    if _QW_RE.fullmatch(w):
        return True
    return len(w) == 1 and not w.isalnum()


def _stem(w: str) -> str:
    """A crude English stem (plural/tense endings off) so 'invented' meets 'invent'."""
    for suf in ("ing", "ed", "es", "s"):
        if len(w) > len(suf) + 3 and w.endswith(suf):
            return w[: -len(suf)]
    return w


class _Question(NamedTuple):
    folded: str
    terms: list[Token]  # content words with their offsets in the question
    weights: list[float]
    bigrams: frozenset[str]
    masked: str  # question with question words and punctuation replaced by spaces
    qword: tuple[int, int] | None  # span of the question word in the question
    atype: str


def _question_words_mask(folded: str) -> tuple[str, tuple[int, int] | None]:
    chars = list(folded)
    first: tuple[int, int] | None = None
    for m in _QW_RE.finditer(folded):
        a = m.start()
        if _REASON_FALSE_RE.match(folded, max(0, a - 1)) and a > 0:
            a += 1  # 称为什么: 称为 + 什么
        for i in range(a, m.end()):
            chars[i] = " "
        if first is None:
            first = (a, m.end())
    for i, c in enumerate(chars):
        if not c.isalnum():
            chars[i] = " "
    return "".join(chars), first


@lru_cache(maxsize=1024)
def _analyse_question(question: str) -> _Question:
    """The question's analysis (jieba, IDF, answer type), once per question: every passage of
    a result list is highlighted against the same question. Callers must not mutate it."""
    folded = _fold(question)
    masked, qword = _question_words_mask(folded)
    terms: list[Token] = []
    seen: set[str] = set()
    for t in _tokens(folded):
        part = masked[t.start : t.end]
        if part != t.word:  # partly a question word (多高, 哪年): keep the rest
            stripped = part.strip()
            if not stripped or " " in stripped:
                continue
            off = t.start + part.index(stripped)
            t = Token(stripped, off, off + len(stripped))
        w = t.word
        if not w or _is_stop(w) or w in seen:
            continue
        seen.add(w)
        terms.append(t)
    weights = [idf(t.word) for t in terms]
    bigrams = frozenset(_bigrams(masked))
    return _Question(folded, terms, weights, bigrams, masked, qword, answer_type(question))


def question_terms(question: str) -> list[str]:
    """Content words of ``question`` (folded), in order; question words and function words
    (什么, 哪里, 多少, 吗, what, which, the, of, ...) are left out since they carry no evidence."""
    return [t.word for t in _analyse_question(question).terms]


def _bigrams(folded: str) -> list[str]:
    out: list[str] = []
    for run in _CJK_RUN_RE.findall(folded):
        if len(run) == 1:
            out.append(run)
        else:
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


# --------------------------------------------------------------------------------------------
# answer-type candidates inside a sentence

_ZH_NUM = "零〇一二两兩三四五六七八九十百千万萬亿億"
_NUM_RE = re.compile(
    rf"(?:\d+(?:[.,]\d+)*|[{_ZH_NUM}]+)(?:\s?(?:多|余|餘|几|幾|万|萬|亿|億))?"
    rf"(?:\s?(?:%|％|‰|[a-zμ°]+\b|[^\s\d{_ZH_NUM}，。、；：,.;:!?！？（）()「」“”《》]{{1,2}}))?"
)
_TIME_RE = re.compile(
    rf"(?:公元前|公元|西元前|西元|前)?(?:\d{{1,4}}|[{_ZH_NUM}元]{{1,5}})\s?(?:年代|年|世纪|世紀)"
    rf"(?:\d{{1,2}}月(?:\d{{1,2}}[日号號])?)?|\d{{1,2}}月(?:\d{{1,2}}[日号號])?|"
    rf"[{_ZH_NUM}]{{1,3}}月(?:[{_ZH_NUM}]{{1,3}}[日号號])?|"
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


def _entity_kind(tok: Token, known: bool) -> str | None:
    """person/place/org for a token from jieba's dictionary tags; unknown CJK words of 2-4
    characters and words with a middle dot are guessed to be names."""
    w = tok.word
    tag = _tags().get(w)
    if tag in _PERSON_TAGS or "·" in w:
        return "person"
    if tag in _PLACE_TAGS:
        return "place"
    if tag in _ORG_TAGS or (len(w) >= 3 and _ORG_SUFFIX.search(w)):
        return "org"
    if not known and 2 <= len(w) <= 4 and _CJK_RUN_RE.fullmatch(w):
        return "name"
    return None


def _typed_candidates(
    atype: str, sent: str, folded: str, toks: list[Token], offset: int
) -> list[tuple[int, int]]:
    """Spans (relative to the sentence) of candidates of the expected answer type."""
    if atype == "number":
        return [
            m.span()
            for m in _NUM_RE.finditer(folded)
            if any(c.isdigit() or c in _ZH_NUM for c in m.group())
        ]
    if atype == "time":
        return [m.span() for m in _TIME_RE.finditer(folded)]
    if atype == "reason":
        return [m.span() for m in _CAUSE_RE.finditer(folded)]
    if atype in ("person", "place", "org"):
        freq, _ = _freq()
        out: list[tuple[int, int]] = []
        for t in toks:
            kind = _entity_kind(t, t.word in freq)
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


# --------------------------------------------------------------------------------------------
# sentence features

FEATURES_BASE = (
    "idf_recall",
    "idf_recall_rel",
    "local_recall",
    "local_recall_rel",
    "bigram_recall",
    "bigram_rel",
    "local_bigram_rel",
    "lcs",
    "lcs_rel",
    "focus",
    "beyond_first",
    "proximity",
    "type_match",
    "novel_chars",
    "log_len",
    "position",
    "is_first",
    "prev_local_rel",
    "next_local_rel",
)
FEATURES_SIMS = ("sim_rel", "sim_z")


def _matches(
    q: _Question, sfold: str, stoks_latin: dict[str, list[int]]
) -> list[tuple[int, int, int]]:
    """(term index, start, end) of every occurrence of a question term in the folded sentence."""
    out: list[tuple[int, int, int]] = []
    for k, t in enumerate(q.terms):
        w = t.word
        if _LATIN_WORD_RE.match(w):
            for pos in stoks_latin.get(_stem(w), ()):
                out.append((k, pos, pos + len(w)))
            continue
        start = sfold.find(w)
        while start >= 0:
            out.append((k, start, start + len(w)))
            start = sfold.find(w, start + len(w))
    return out


def _lcs(masked_q: str, s: str) -> int:
    """Longest substring of the (masked) question that occurs in ``s``."""
    best = 0
    n = len(masked_q)
    for i in range(n):
        if masked_q[i] == " ":
            continue
        length = best + 1
        while i + length <= n and masked_q[i : i + length] in s:
            best = length
            length += 1
    return best


class _Sentence(NamedTuple):
    start: int
    end: int
    folded: str
    toks: list[Token]
    matches: list[tuple[int, int, int]]


_EDGE_CHARS = frozenset(
    "的了是在有和与與及或被把对對于於其该該这這那个個也都而就并並以为為所之等中上下从從到向将將由"
)


def _fit_terms(q: _Question, folded: str) -> _Question:
    """A question word the passage never contains, but does once a function character is
    cut off its edge (jieba's 慧是 in 王法慧是谁 -> 慧), is replaced by the shorter form."""
    terms, weights, changed = list(q.terms), list(q.weights), False
    for k, t in enumerate(terms):
        w = t.word
        if len(w) < 2 or _LATIN_WORD_RE.match(w) or w in folded:
            continue
        a, b = 0, len(w)
        while b - a > 1 and w[a] in _EDGE_CHARS:
            a += 1
        while b - a > 1 and w[b - 1] in _EDGE_CHARS:
            b -= 1
        if (a, b) != (0, len(w)) and w[a:b] in folded:
            terms[k] = Token(w[a:b], t.start + a, t.start + b)
            weights[k] = idf(w[a:b])
            changed = True
    return q._replace(terms=terms, weights=weights) if changed else q


#: local weight of a question word = idf * log((n + 1) / (sentences holding it + 0.5)) ** 2
LOCAL_POWER = 2.0


def _sentence_features(
    q: _Question, text: str, folded: str, spans: list[tuple[int, int]], toks: list[Token]
) -> tuple[np.ndarray, list[_Sentence]]:
    n = len(spans)
    qlen = max(1, sum(1 for c in q.masked if c != " "))
    col = {name: k for k, name in enumerate(FEATURES_BASE)}
    feats = np.zeros((n, len(FEATURES_BASE)))
    focus = _focus(q)
    sents: list[_Sentence] = []
    matched_sets: list[set[int]] = []
    bigram_sets: list[set[str]] = []
    ti = 0
    for i, (s, e) in enumerate(spans):
        while ti < len(toks) and toks[ti].end <= s:
            ti += 1
        tj = ti
        while tj < len(toks) and toks[tj].start < e:
            tj += 1
        stoks = toks[ti:tj]
        sfold = folded[s:e]
        latin: dict[str, list[int]] = {}
        for t in stoks:
            if _LATIN_WORD_RE.match(t.word):
                latin.setdefault(_stem(t.word), []).append(t.start - s)
        m = _matches(q, sfold, latin)
        sents.append(_Sentence(s, e, sfold, stoks, m))
        matched = {k for k, _, _ in m}
        matched_sets.append(matched)
        bigram_sets.append(q.bigrams.intersection(_bigrams(sfold)))
        row = feats[i]
        row[col["lcs"]] = min(1.0, _lcs(q.masked, sfold) / qlen)
        row[col["proximity"]] = _proximity(m)
        row[col["focus"]] = _focus_match(focus, sfold, latin)
        cands = _typed_candidates(q.atype, text[s:e], sfold, stoks, s)
        row[col["type_match"]] = float(any(sfold[a:b] not in q.folded for a, b in cands))
        covered = np.zeros(e - s, dtype=bool)
        for _, ms, me in m:
            covered[ms:me] = True
        novel = sum(1 for j, c in enumerate(sfold) if c.isalnum() and not covered[j])
        row[col["novel_chars"]] = math.log1p(novel)
        row[col["log_len"]] = math.log1p(e - s)
        row[col["position"]] = i / (n - 1) if n > 1 else 0.0
        row[col["is_first"]] = 1.0 if i == 0 else 0.0
    # a question word that occurs in many sentences of the passage (its topic) tells the
    # sentences apart less than one that occurs in a single sentence
    sf = [sum(1 for ms in matched_sets if k in ms) for k in range(len(q.terms))]
    local = [
        w * math.log((n + 1) / (f + 0.5)) ** LOCAL_POWER for w, f in zip(q.weights, sf, strict=True)
    ]
    bsf: dict[str, int] = {}
    for bs in bigram_sets:
        for bg in bs:
            bsf[bg] = bsf.get(bg, 0) + 1
    total_w = sum(q.weights) or 1.0
    total_local = sum(local) or 1.0
    nb = len(q.bigrams) or 1
    for i in range(n):
        row = feats[i]
        row[col["idf_recall"]] = sum(q.weights[k] for k in matched_sets[i]) / total_w
        row[col["local_recall"]] = sum(local[k] for k in matched_sets[i]) / total_local
        row[col["bigram_recall"]] = len(bigram_sets[i]) / nb
        row[col["local_bigram_rel"]] = sum(
            math.log((n + 1) / (bsf[b] + 0.5)) for b in bigram_sets[i]
        )
    # the opening sentence usually names the topic; the question words it does not hold say
    # what is asked about the topic, and the sentences that hold them are the candidates
    rest = [k for k in range(len(q.terms)) if n and k not in matched_sets[0]]
    rest_w = sum(local[k] for k in rest)
    if rest_w > 0:
        for i in range(1, n):
            feats[i, col["beyond_first"]] = (
                sum(local[k] for k in rest if k in matched_sets[i]) / rest_w
            )
    for base, rel in (
        ("idf_recall", "idf_recall_rel"),
        ("local_recall", "local_recall_rel"),
        ("bigram_recall", "bigram_rel"),
        ("local_bigram_rel", "local_bigram_rel"),
        ("lcs", "lcs_rel"),
    ):
        mx = feats[:, col[base]].max() if n else 0.0
        if mx > 0:
            feats[:, col[rel]] = feats[:, col[base]] / mx
    if n > 1:
        feats[1:, col["prev_local_rel"]] = feats[:-1, col["local_recall_rel"]]
        feats[:-1, col["next_local_rel"]] = feats[1:, col["local_recall_rel"]]
    return feats, sents


def _focus(q: _Question) -> str | None:
    """The content word next to the question word: what is asked about (盛花期 in
    软枝黄蝉的盛花期是什么时候, capital in what is the capital of France)."""
    if not q.terms:
        return None
    if q.qword is None:
        return q.terms[-1].word
    a, b = q.qword
    words = [t for t in q.terms if len(t.word) > 1] or q.terms
    return min(words, key=lambda t: a - t.end if t.end <= a else t.start - b + 0.5).word


def _focus_match(focus: str | None, sfold: str, latin: dict[str, list[int]]) -> float:
    """How much of the focus word the sentence holds: whole, or the share of its bigrams."""
    if not focus:
        return 0.0
    if _LATIN_WORD_RE.match(focus):
        return float(_stem(focus) in latin)
    if focus in sfold:
        return 1.0
    grams = _bigrams(focus)
    if len(grams) <= 1:
        return 0.0
    return sum(1 for g in grams if g in sfold) / len(grams) * 0.5


def _proximity(m: list[tuple[int, int, int]]) -> float:
    """Matched characters over the width of the window that holds one match of each term."""
    first: dict[int, tuple[int, int]] = {}
    for k, ms, me in m:
        first.setdefault(k, (ms, me))
    if len(first) < 2:
        return float(len(first))
    lo = min(v[0] for v in first.values())
    hi = max(v[1] for v in first.values())
    covered = sum(v[1] - v[0] for v in first.values())
    return min(1.0, covered / max(1, hi - lo))


def _sims_features(sims: Sequence[float], n: int) -> np.ndarray:
    """``sim_rel`` (similarity minus the passage's best) and ``sim_z`` (standardised within
    the passage): both ignore the embedder's offset, so another model's cosine scale does not
    shift the scores. Missing values (a list too short) get the passage's minimum."""
    arr = np.nan_to_num(np.asarray(list(sims), dtype=float)[:n])
    if n == 0:
        return np.zeros((0, len(FEATURES_SIMS)))
    if len(arr) < n:
        arr = np.concatenate([arr, np.full(n - len(arr), arr.min() if len(arr) else 0.0)])
    sd = float(arr.std())
    z = (arr - arr.mean()) / sd if sd > 1e-9 else np.zeros(n)
    return np.stack([arr - arr.max(), z], axis=1)


# --------------------------------------------------------------------------------------------
# weights


@lru_cache(maxsize=1)
def _weights() -> dict[str, Any]:
    try:
        with open(WEIGHTS_PATH, encoding="utf-8") as f:
            return json.load(f)  # type: ignore[no-any-return]
    except (OSError, ValueError) as exc:  # pragma: no cover - fall back to hand-set weights
        logging.getLogger(__name__).warning(
            "highlight weights unreadable (%s): using defaults", exc
        )
        return {
            "base": {
                "features": ["local_recall_rel", "bigram_rel", "type_match"],
                "weights": [4.0, 2.0, 0.5],
                "bias": -5.0,
            }
        }


def tree_features(x: np.ndarray, sims: Sequence[float] | None = None) -> np.ndarray:
    """The tree scorer's columns for a passage's feature rows ``x`` (``FEATURES_BASE``):
    every column, its gap to the passage's best value of it, the number of sentences, and the
    ``FEATURES_SIMS`` columns when dense similarities are given."""
    if not len(x):
        return np.zeros((0, 2 * x.shape[1] + 1 + (len(FEATURES_SIMS) if sims is not None else 0)))
    cols = [x, x - x.max(axis=0, keepdims=True), np.full((len(x), 1), float(len(x)))]
    if sims is not None:
        cols.append(_sims_features(sims, len(x)))
    return np.hstack(cols)


@lru_cache(maxsize=1)
def _trees() -> dict[str, Any]:
    """The boosted-tree sentence scorers (``base``, ``sims``) from ``TREES_PATH``; empty when
    the file is missing (the linear weights are used then)."""
    from qa.trees import TreeEnsemble

    try:
        with open(TREES_PATH, encoding="utf-8") as f:
            data = json.load(f)
        return {k: TreeEnsemble(v) for k, v in data["models"].items()}
    except (OSError, ValueError, KeyError) as exc:
        logging.getLogger(__name__).warning("highlight trees unreadable (%s): linear model", exc)
        return {}


def sentence_probabilities(
    x: np.ndarray, sentence_sims: Sequence[float] | None = None
) -> np.ndarray:
    """P(sentence holds the answer) for each feature row of a passage: the boosted trees
    (``bench/train_highlight.py``), or the linear model if they are not shipped."""
    with_sims = sentence_sims is not None and len(sentence_sims) > 0
    trees = _trees().get("sims" if with_sims else "base")
    if trees is not None:
        return np.asarray(trees.predict(tree_features(x, sentence_sims if with_sims else None)))
    if with_sims:
        x = np.hstack([x, _sims_features(sentence_sims, len(x))])  # type: ignore[arg-type]
    w, b = _model(with_sims)
    return np.asarray(1.0 / (1.0 + np.exp(-(x @ w + b))))


#: Adjacent sentences that score at least this share of the best sentence's probability join
#: its highlight (an answer told over several sentences: a list, a description, a reason).
BLOCK_RATIO = 0.5
#: ... up to this many sentences in all.
BLOCK_MAX = 3


def block(
    p: Sequence[float], best: int, ratio: float = BLOCK_RATIO, most: int = BLOCK_MAX
) -> tuple[int, int]:
    """The run of sentence indices ``[lo, hi]`` around ``best`` (sentences in text order,
    ``p`` their probabilities) whose neighbours score at least ``ratio`` times the best; the
    stronger neighbour joins first."""
    lo = hi = best
    floor = ratio * p[best]
    while hi - lo + 1 < most:
        left = p[lo - 1] if lo > 0 else -1.0
        right = p[hi + 1] if hi + 1 < len(p) else -1.0
        if max(left, right) < floor:
            break
        if left >= right:
            lo -= 1
        else:
            hi += 1
    return lo, hi


def _model(with_sims: bool) -> tuple[np.ndarray, float]:
    """Weights and bias for the feature columns (``FEATURES_BASE`` [+ ``FEATURES_SIMS``]);
    a feature the weights file does not name gets weight 0."""
    names = list(FEATURES_BASE) + (list(FEATURES_SIMS) if with_sims else [])
    w = _weights()
    m = w["sims"] if with_sims and "sims" in w else w["base"]
    learned = dict(zip(m["features"], m["weights"], strict=True))
    return np.array([float(learned.get(n, 0.0)) for n in names]), float(m["bias"])


def _prepare(
    question: str, text: str
) -> tuple[_Question, list[tuple[int, int]], np.ndarray, list[_Sentence]]:
    q = _analyse_question(question)
    spans = split_sentences(text)
    if not spans:
        return q, spans, np.zeros((0, len(FEATURES_BASE))), []
    folded = _fold(text)
    q = _fit_terms(q, folded)
    x, sents = _sentence_features(q, text, folded, spans, _tokens(folded))
    return q, spans, x, sents


def features(
    question: str, text: str, sentence_sims: Sequence[float] | None = None
) -> tuple[np.ndarray, list[str]]:
    """The feature matrix (one row per sentence of ``split_sentences(text)``) and its column
    names; exposed for training and inspection."""
    _, spans, x, _ = _prepare(question, text)
    names = list(FEATURES_BASE)
    if sentence_sims is not None:
        x = np.hstack([x, _sims_features(sentence_sims, len(spans))])
        names += list(FEATURES_SIMS)
    return x, names


# --------------------------------------------------------------------------------------------
# answer words

_CLAUSE_PUNCT = set("，。；：,;:!?！？\n")
_EDGE_STOP = ZH_STOP_WORDS | EN_STOP_WORDS | {"是", "为", "為", "有", "在", "了", "的", "即", "则"}


def _clause_bounds(s: str, i: int, j: int) -> tuple[int, int]:
    """Widen [i, j) to the clause (between punctuation) around it."""
    a = i
    while a > 0 and s[a - 1] not in _CLAUSE_PUNCT:
        a -= 1
    b = j
    while b < len(s) and s[b] not in _CLAUSE_PUNCT:
        b += 1
    return a, b


def _trim(s: str, a: int, b: int, toks: list[Token], offset: int) -> tuple[int, int]:
    """Drop spaces, punctuation and edge function words from s[a:b]."""
    inner = [t for t in toks if t.start - offset >= a and t.end - offset <= b]
    if inner and all(t.word in _EDGE_STOP for t in inner):
        return a, a
    while inner and inner[0].word in _EDGE_STOP:
        inner.pop(0)
    while inner and inner[-1].word in _EDGE_STOP:
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
_YES_NO = frozenset("是否 是不是 有没有 有沒有 吗 嗎 呢 么 麼".split())

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
_HOW_WHY = frozenset(
    "为什么 為什麼 为何 為何 怎么 怎麼 怎样 怎樣 如何 怎么样 怎麼樣 how why".split()
)


class _Anchor(NamedTuple):
    """A piece of the question found in the sentence (offsets relative to the sentence)."""

    qs: int
    qe: int
    ss: int
    se: int
    score: float  # weight minus the distance penalty; set by _side_anchors


def _answer_words(q: _Question, text: str, sent: _Sentence) -> tuple[int, int] | None:
    """The answer words inside ``sent``, or None when unsure. First the alignment heuristic,
    when the way it found them is one that ``bench/train_highlight.py`` measured to be at least
    as precise as the whole sentence (``TRUSTED_METHODS``); else the learned span ranker's best
    candidate (``qa.answer``: None when that is the whole sentence or under its threshold).
    ``bench/train_answer.py`` measured this order against the ranker alone and the heuristic
    alone."""
    span, method = _answer_candidate(q, text, sent)
    if method in TRUSTED_METHODS:
        return span
    from qa import answer  # imports this module

    ranked = answer.answer_words(q, text, sent)
    return ranked.span if ranked is not None else None


def _is_latin(ch: str) -> bool:
    return "a" <= ch <= "z"


def _anchors(q: _Question, sent: _Sentence) -> list[_Anchor]:
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
        if all(c in _EDGE_CHARS for c in piece) or piece in ZH_STOP_WORDS:
            continue
        # function characters (的, 是, 在, ...) count half
        weight = sum(0.5 if c in _EDGE_CHARS else 1.0 for c in piece)
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
        if _LATIN_WORD_RE.match(t.word):
            latin.setdefault(_stem(t.word), []).append((t.start - off, t.end - off))
    for t in _tokens(q.folded):
        if not _is_latin(t.word[:1]) or _is_stop(t.word) or not _LATIN_WORD_RE.match(t.word):
            continue
        if m[t.start : t.end] != t.word:  # a question word
            continue
        for a, b in latin.get(_stem(t.word), ()):
            out.append(_Anchor(t.start, t.end, a, b, _EN_WORD_WEIGHT))
    return out


def _content_between(q: _Question, a: int, b: int) -> float:
    """Characters of question content words (an English word counts 2) inside [a, b)."""
    total = 0.0
    for t in q.terms:
        if t.start >= a and t.end <= b:
            total += 2.0 if _is_latin(t.word[:1]) else len(t.word)
    return total


def _side_anchors(q: _Question, anchors: list[_Anchor]) -> tuple[list[_Anchor], list[_Anchor]]:
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


def _head_noun(q: _Question, sent: _Sentence, rights: list[_Anchor], r: int) -> int:
    """The noun right after the question word names the kind of the answer and ends it
    (什么王国 -> 奇穆王国, 什么制度 -> 「一领具足」制度): when the right anchor starts with it,
    the slot takes it in."""
    assert q.qword is not None
    if not any(rt.ss == r and rt.qs == q.qword[1] for rt in rights):
        return r
    off = sent.start
    for t in sent.toks:
        if t.start - off == r:
            if _CJK_RUN_RE.fullmatch(t.word) and _tags().get(t.word, "").startswith("n"):
                return t.end - off
            break
    return r


def _snap(a: int, b: int, sent: _Sentence) -> tuple[int, int]:
    """Widen [a, b) to the sentence's words it cuts (连续[几]年排名 leaves 五 of 五年)."""
    off = sent.start
    for t in sent.toks:
        ts, te = t.start - off, t.end - off
        if ts < a < te and te <= b:
            a = ts
        if ts < b < te and ts >= a:
            b = te
    return a, b


def _slot(q: _Question, sent: _Sentence) -> tuple[tuple[int, int] | None, str, str, list[_Anchor]]:
    """The stretch of the sentence that stands where the question word stands in the question
    (relative offsets), the way it was found, which of its ends is anchored ("a", "b" or
    "ab": the answer is nearest that end) and the anchors."""
    s = sent.folded
    qw = q.qword
    if qw is None or q.folded[qw[0] : qw[1]] in _YES_NO:
        return None, "none", "", []
    if q.atype in ("other", "reason") and q.folded[qw[0] : qw[1]] in _HOW_WHY:
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
        and not any(ch in _CLAUSE_PUNCT for ch in s[lt.se : rt.ss])
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


def _merge_ranges(cands: list[tuple[int, int]], s: str) -> list[tuple[int, int]]:
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


def _refine(c: tuple[int, int], s: str, sent: _Sentence) -> tuple[int, int]:
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


def _answer_candidate(
    q: _Question,
    text: str,
    sent: _Sentence,
    slot: tuple[tuple[int, int] | None, str, str, list[_Anchor]] | None = None,
) -> tuple[tuple[int, int] | None, str]:
    """The answer words inside ``sent`` and the name of the method that found them (``slot``:
    ``_slot(q, sent)`` when the caller already has it)."""
    s = sent.folded
    if not s:
        return None, "none"
    off = sent.start
    gap, method, end, anchors = slot if slot is not None else _slot(q, sent)
    cands: list[tuple[int, int]] = []
    if q.atype not in ("other", "reason"):
        covered = [False] * len(s)
        for _, ms, me in sent.matches:
            for j in range(ms, me):
                covered[j] = True
        raw = _typed_candidates(q.atype, text[off : sent.end], s, sent.toks, off)
        if q.atype in ("number", "time"):
            raw = _merge_ranges(raw, s)
        for c in raw:
            if s[c[0] : c[1]] in q.folded or all(covered[c[0] : c[1]]):
                continue
            c = _refine(c, s, sent)
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
                    ta, tb = _trim_slot(s, ga, gb, sent, off)
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
    a, b = _trim_slot(s, gap[0], gap[1], sent, off)
    if b <= a:
        return None, "none"
    return _abs((a, b), off), method


_OPEN_CLOSE = {"《": "》", "「": "」", "『": "』", "“": "”", "(": ")", "（": "）", "[": "]"}


def _trim_slot(s: str, a: int, b: int, sent: _Sentence, off: int) -> tuple[int, int]:
    """``_trim`` that keeps a pair of brackets or quotes around the words (《一路顺风》)."""
    lo, hi = a, b
    a, b = _trim(s, a, b, sent.toks, off)
    while lo < a and b < hi and _OPEN_CLOSE.get(s[a - 1]) == s[b]:
        a, b = a - 1, b + 1
    return a, b


def _empty(s: str, a: int, b: int, sent: _Sentence, off: int) -> bool:
    """True when s[a:b] holds nothing but punctuation and function words."""
    if b <= a:
        return True
    ta, tb = _trim(s, a, b, sent.toks, off)
    return tb <= ta


def _only_question(q: _Question, s: str, a: int, b: int, sent: _Sentence, off: int) -> bool:
    """True when s[a:b] holds only words of the question (Microsoft was | founded by ...)."""
    ta, tb = _trim(s, a, b, sent.toks, off)
    return tb > ta and s[ta:tb] in q.folded


def _has_word(s: str, a: int, b: int) -> bool:
    return any(ch.isalnum() for ch in s[a:b])


def _abs(span: tuple[int, int], off: int) -> tuple[int, int]:
    return (span[0] + off, span[1] + off)


# --------------------------------------------------------------------------------------------
# the entry point


def highlight(question: str, text: str, sentence_sims: Sequence[float] | None = None) -> Highlight:
    """Rank the sentences of ``text`` by how likely each holds the answer to ``question``.

    ``sentence_sims``, if given, is the dense cosine similarity of the question to each
    sentence of ``split_sentences(text)`` (same order). Returns every sentence span best
    first, its probability-like score, and the answer words inside the best span or ``None``.
    """
    q, spans, x, sents = _prepare(question, text)
    if not spans:
        return Highlight([], [], None)
    p = sentence_probabilities(x, sentence_sims)
    order = sorted(range(len(spans)), key=lambda i: (-p[i], i))
    best = order[0]
    lo, hi = block(p, best)
    answer = _answer_words(q, text, sents[best])
    rest = [i for i in order if not lo <= i <= hi]
    return Highlight(
        [(spans[lo][0], spans[hi][1])] + [spans[i] for i in rest],
        [float(p[best])] + [float(p[i]) for i in rest],
        answer,
    )
