"""Question analysis for the highlighter: what a question asks and with which words.

Text is folded (NFKC, lower-case, offsets kept); jieba segments it (with offsets), its dictionary
gives each word an IDF (log inverse frequency in a general corpus) and a part-of-speech tag. A
question becomes a :class:`Question`: its content words (question words such as 什么/哪里/what
and function words left out) with their IDF weights, its Chinese character bigrams, the
question with its question words masked, where its question word stands and the kind of answer
it asks for (:func:`answer_type`: number, time, person, place, org, reason or other)."""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from functools import lru_cache
from typing import Any, NamedTuple

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


def fold(text: str) -> str:
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
    q = _REASON_FALSE_RE.sub(r"\1 ", fold(question))
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
def word_frequencies() -> tuple[dict[str, int], float]:
    dt = _jieba().dt
    return dt.FREQ, float(dt.total)


@lru_cache(maxsize=65536)
def idf(word: str) -> float:
    """Log inverse frequency of ``word`` in jieba's dictionary (a general-purpose corpus)."""
    freq, total = word_frequencies()
    f = freq.get(word, 0)
    if not f:
        return UNKNOWN_IDF
    return min(MAX_IDF, math.log(total / f))


@lru_cache(maxsize=1)
def word_tags() -> dict[str, str]:
    """Word -> part-of-speech tag from jieba's dictionary (what jieba.posseg uses, without the
    cost of its HMM: posseg.lcut is ~10x slower than lcut on a passage)."""
    _jieba()
    import jieba.posseg

    return jieba.posseg.dt.word_tag_tab  # type: ignore[no-any-return]


def word_tag(word: str) -> str | None:
    """The part-of-speech tag of ``word`` in jieba's dictionary (``ns`` a place, ``nr`` a
    person, ...), or None for a word it does not know."""
    return word_tags().get(word)


class Token(NamedTuple):
    word: str  # folded (NFKC, lower-case)
    start: int
    end: int


def tokens_of(folded: str) -> list[Token]:
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
LATIN_WORD_RE = re.compile(r"^[0-9a-z][0-9a-z.'\-]*$")
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK_RUN_RE = re.compile(f"[{_CJK}]+")


def is_stop(w: str) -> bool:
    if w in ZH_STOP_WORDS or w in EN_STOP_WORDS:
        return True
    if _QW_RE.fullmatch(w):
        return True
    return len(w) == 1 and not w.isalnum()


def stem(w: str) -> str:
    """A crude English stem (plural/tense endings off) so 'invented' meets 'invent'."""
    for suf in ("ing", "ed", "es", "s"):
        if len(w) > len(suf) + 3 and w.endswith(suf):
            return w[: -len(suf)]
    return w


class Question(NamedTuple):
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
def analyse_question(question: str) -> Question:
    """The question's analysis (jieba, IDF, answer type), once per question: every passage of
    a result list is highlighted against the same question. Callers must not mutate it."""
    folded = fold(question)
    masked, qword = _question_words_mask(folded)
    terms: list[Token] = []
    seen: set[str] = set()
    for t in tokens_of(folded):
        part = masked[t.start : t.end]
        if part != t.word:  # partly a question word (多高, 哪年): keep the rest
            stripped = part.strip()
            if not stripped or " " in stripped:
                continue
            off = t.start + part.index(stripped)
            t = Token(stripped, off, off + len(stripped))
        w = t.word
        if not w or is_stop(w) or w in seen:
            continue
        seen.add(w)
        terms.append(t)
    weights = [idf(t.word) for t in terms]
    bigrams = frozenset(cjk_bigrams(masked))
    return Question(folded, terms, weights, bigrams, masked, qword, answer_type(question))


def question_terms(question: str) -> list[str]:
    """Content words of ``question`` (folded), in order; question words and function words
    (什么, 哪里, 多少, 吗, what, which, the, of, ...) are left out since they carry no evidence."""
    return [t.word for t in analyse_question(question).terms]


def cjk_bigrams(folded: str) -> list[str]:
    out: list[str] = []
    for run in CJK_RUN_RE.findall(folded):
        if len(run) == 1:
            out.append(run)
        else:
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out
