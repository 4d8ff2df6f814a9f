"""Names no dictionary holds, matched by sound: an English (Latin) word of a question that
CC-CEDICT does not translate ("Supervielle", "Partnach", "Caceres") against the Chinese
transliterations an index holds (苏佩维埃尔, 帕特纳赫, 卡塞雷斯), through the pinyin of their
characters (CC-CEDICT's). :func:`qa.search.translated_scores` adds the BM25 of the matches'
character bigrams (``Settings.phonetic_weight``; English questions over Chinese passages only).

Both sides are written in one coarse phonetic code (:func:`latin_code`, :func:`pinyin_code`):
consonant classes as capitals (``P`` b/p, ``F``, ``W`` v/w, ``M``, ``N``, ``L`` l/r and pinyin
*er*, ``T`` t/d/th, ``K`` k/g/hard c/q, ``H``, ``S`` s/z/soft c, ``J`` j/sh/ch/zh and pinyin
j/q/x, ``Y``) and vowels as lower-case letters. They are compared by a weighted edit distance
(:func:`distance`) that knows the usual transliteration correspondences: vowels come and go
cheaply (a Chinese syllable gives a final consonant its own vowel: Smith -> shi-mi-si), a
final or pre-consonantal *r* and an *h* may be dropped, and close sounds cost half
(k/h, k/j, s/j, s/t, f/w, f/p, ...).

Which Chinese strings count as possible transliterations: runs of the characters that
CC-CEDICT's own transliterations use (:func:`transliteration_chars`: characters of the
dictionary's headwords whose English key sounds like their pinyin, "smith" -> 史密斯),
two to :data:`MAX_CHARS` characters long. Each index's such strings are collected once, on its
first English question (:func:`candidates`), and keyed by their consonant skeletons and the
skeletons with one consonant left out, so that a question word looks up only the few strings
within about one consonant of it (a symmetric-deletion index) before the edit distance is
computed."""

from __future__ import annotations

import functools
import hashlib
import itertools
import marshal
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qa.settings import default_cache_dir
from qa.text import normalize

if TYPE_CHECKING:
    from qa.index import LoadedIndex

#: The version of the phonetic code (part of a cache key): change it with the code's rules.
FORMAT = "3"
#: Longest Chinese string taken for one English word (苏佩维埃尔 is 5).
MAX_CHARS = 6
#: Readings of one character tried (polyphonic characters: 卡 ka and qia).
MAX_READINGS = 2
#: An English word matches a Chinese string if their distance is at most this times the
#: number of the word's consonants (bench/phonetic_sweep.py).
MAX_RELATIVE_DISTANCE = 0.25
#: The same for a CC-CEDICT headword to count as a transliteration of its English key
#: (:func:`transliteration_chars`).
CHARS_RELATIVE_DISTANCE = 0.34
#: Fewest consonants an English word needs for a match ("Leo" has too few to tell).
MIN_CONSONANTS = 3
#: Skeletons this long are looked up with up to two consonants left out (one otherwise).
LONG_SKELETON = 5
#: Matches kept per English word, the closest first.
MAX_MATCHES = 4
#: ... within this (relative) distance of the closest.
MATCH_MARGIN = 1.0
#: How often a character must occur in CC-CEDICT's transliterations to count as one of their
#: characters.
MIN_CHAR_COUNT = 3
#: ... and in at least this share of the headwords that have it.
MIN_CHAR_SHARE = 0.05

VOWELS = frozenset("aeiou")
_HALF = 0.5
#: Substitution costs between different symbols (symmetric); others cost 1.
_SUBSTITUTE = {
    frozenset("KH"): _HALF,
    frozenset("KJ"): _HALF,
    frozenset("JS"): 0.2,
    frozenset("ST"): 0.4,
    frozenset("FW"): 0.3,
    frozenset("FP"): _HALF,
    frozenset("PW"): 0.7,
    frozenset("JY"): _HALF,
    frozenset("JH"): _HALF,
    frozenset("LR"): 0.0,
    frozenset("MN"): 0.7,
    frozenset("Wu"): 0.4,
    frozenset("Wo"): 0.5,
    frozenset("Yi"): 0.2,
    frozenset("Ye"): 0.4,
}
#: Cost of leaving out (or adding) one symbol.
_INDEL = {"H": _HALF, "Y": 0.4, "R": 0.2, "L": 0.8, "N": 0.8, "T": 0.8, "W": 0.6}
_VOWEL_COST = 0.15  # a vowel changed, left out or added

# English spelling -> code, longest spellings first
_LATIN_RULES = [
    ("tch", "J"),
    ("sch", "J"),
    ("ch", "J"),
    ("sh", "J"),
    ("zh", "J"),
    ("ph", "F"),
    ("th", "T"),
    ("gh", ""),
    ("ck", "K"),
    ("qu", "Ku"),
    ("wh", "W"),
    ("ng", "N"),
    ("x", "KS"),
    ("q", "K"),
    ("j", "J"),
    ("w", "W"),
    ("v", "W"),
    ("f", "F"),
    ("b", "P"),
    ("p", "P"),
    ("d", "T"),
    ("t", "T"),
    ("z", "S"),
    ("s", "S"),
    ("h", "H"),
    ("r", "L"),
    ("l", "L"),
    ("m", "M"),
    ("n", "N"),
    ("k", "K"),
    ("g", "K"),
]
_PINYIN_INITIALS = [
    ("zh", "J"),
    ("ch", "J"),
    ("sh", "J"),
    ("b", "P"),
    ("p", "P"),
    ("m", "M"),
    ("f", "F"),
    ("d", "T"),
    ("t", "T"),
    ("n", "N"),
    ("l", "L"),
    ("g", "K"),
    ("k", "K"),
    ("h", "H"),
    ("j", "J"),
    ("q", "J"),
    ("x", "J"),
    ("z", "S"),
    ("c", "S"),
    ("s", "S"),
    ("r", "L"),
    ("y", "Y"),
    ("w", "W"),
]


@functools.lru_cache(maxsize=65536)
def latin_code(word: str) -> str:
    """The phonetic code of an English (Latin-script) word: ``"supervielle"`` ->
    ``"SuPeLWieLe"`` (double letters count once; *c* is ``S`` before e/i/y, else ``K``;
    *y* is a vowel except before one)."""
    w = re.sub(r"[^a-z]", "", word.lower())
    w = re.sub(r"(.)\1+", r"\1", w)
    out: list[str] = []
    i = 0
    while i < len(w):
        c = w[i]
        if c in VOWELS:
            out.append(c)
            i += 1
            continue
        if c == "y":
            nxt = w[i + 1 : i + 2]
            out.append("Y" if nxt and nxt in VOWELS else "i")
            i += 1
            continue
        if c == "c" and not w.startswith(("ch", "ck"), i):
            out.append("S" if w[i + 1 : i + 2] in ("e", "i", "y") else "K")
            i += 1
            continue
        if c == "r" and not (w[i + 1 : i + 2] and w[i + 1] in VOWELS):
            out.append("R")  # an r before a consonant or at the end: often not written
            i += 1
            continue
        for spelling, code in _LATIN_RULES:
            if w.startswith(spelling, i):
                out.append(code)
                i += len(spelling)
                break
        else:
            i += 1
    return re.sub(r"([A-Z])\1+", r"\1", "".join(out))  # "cq" in acquafresca: one K


@functools.lru_cache(maxsize=4096)
def pinyin_code(syllable: str) -> str:
    """The phonetic code of a toneless pinyin syllable: ``"lei"`` -> ``"Lei"``, ``"deng"`` ->
    ``"TeN"``, ``"er"`` -> ``"eL"`` (an *-n* or *-ng* final is ``N``; *ü* is ``u``)."""
    s = syllable.lower().replace("v", "u").replace("u:", "u")
    if s == "er":
        return "eL"
    head = ""
    for spelling, code in _PINYIN_INITIALS:
        if s.startswith(spelling):
            head, s = code, s[len(spelling) :]
            break
    if s.endswith("ng"):
        s = s[:-2] + "N"
    elif s.endswith("n"):
        s = s[:-1] + "N"
    return head + s


def _indel(c: str) -> float:
    return _VOWEL_COST if c in VOWELS else _INDEL.get(c, 1.0)


def _sub(a: str, b: str) -> float:
    if a == b:
        return 0.0
    if a in VOWELS and b in VOWELS:
        return _VOWEL_COST
    return _SUBSTITUTE.get(frozenset((a, b)), 1.0)


def distance(a: str, b: str, limit: float = float("inf")) -> float:
    """Weighted edit distance between two phonetic codes (see the module's docstring); once
    it is sure to exceed ``limit``, some value above ``limit``."""
    prev = [0.0]
    for c in b:
        prev.append(prev[-1] + _indel(c))
    for x in a:
        cur = [prev[0] + _indel(x)]
        dx = _indel(x)
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + dx, cur[j - 1] + _indel(y), prev[j - 1] + _sub(x, y)))
        if min(cur) > limit:  # every path through this row costs more already
            return min(cur)
        prev = cur
    return prev[-1]


# consonant skeletons: close classes merged, glides left out
_SKELETON = str.maketrans({"F": "P", "W": "P", "J": "S", "H": "K", "Y": None, "R": None})


def skeleton(code: str) -> str:
    """The consonants of a code in broad classes (p/f/w, s/j, k/h), glides and vowels left
    out, runs of one class once: what candidate strings are looked up by."""
    cons = "".join(c for c in code if c not in VOWELS).translate(_SKELETON)
    return re.sub(r"(.)\1+", r"\1", cons)


def consonants(code: str) -> int:
    """How many consonant symbols (not glides) a code has."""
    return sum(1 for c in code if c not in VOWELS and c not in "YR")


def _deletions(sk: str) -> set[str]:
    return {sk[:i] + sk[i + 1 :] for i in range(len(sk))} if len(sk) >= 3 else set()


@functools.lru_cache(maxsize=1)
def readings() -> dict[str, tuple[str, ...]]:
    """Character -> its toneless pinyin readings (CC-CEDICT's single-character entries, in
    dictionary order), at most :data:`MAX_READINGS`."""
    from qa.translate import dictionary

    out: dict[str, list[str]] = {}
    for syl, chars in dictionary().syllables.items():
        if not syl.isalpha() or not syl.isascii():
            continue
        for c in chars:
            r = out.setdefault(c, [])
            if len(r) < MAX_READINGS and syl not in r:
                r.append(syl)
    return {c: tuple(r) for c, r in out.items()}


def codes_of(text: str, read: dict[str, tuple[str, ...]]) -> list[str]:
    """The phonetic codes a Chinese string may have (one per combination of its characters'
    readings, at most four); [] if a character has no reading."""
    per = []
    for c in text:
        r = read.get(c)
        if not r:
            return []
        per.append([pinyin_code(s) for s in r])
    return ["".join(p) for p in itertools.islice(itertools.product(*per), 4)]


def best_distance(word_code: str, codes: Iterable[str], limit: float = float("inf")) -> float:
    """The smallest :func:`distance` of a code to any of ``codes`` (exact up to ``limit``)."""
    return min((distance(word_code, c, limit) for c in codes), default=float("inf"))


def accepts(word_code: str, d: float) -> bool:
    """Whether distance ``d`` is close enough for a word of this code."""
    n = consonants(word_code)
    return n >= MIN_CONSONANTS and d <= MAX_RELATIVE_DISTANCE * n


@functools.lru_cache(maxsize=1)
def transliteration_chars() -> frozenset[str]:
    """The characters CC-CEDICT's transliterations use: of the headwords of two to
    :data:`MAX_CHARS` characters, those whose one-word English key sounds like their pinyin
    (within :data:`CHARS_RELATIVE_DISTANCE`) are transliterations; a character counts if it
    is in at least :data:`MIN_CHAR_COUNT` of them and at least :data:`MIN_CHAR_SHARE` of the
    headwords it is in are (斯 and 尔 are, 是 and 人 are not); traditional forms count with
    their simplified ones (爾 with 尔). Cached beside the dictionary's compact form."""
    from qa.translate import dictionary, save_cache

    d = dictionary()
    constants = (FORMAT, MAX_CHARS, MAX_READINGS, CHARS_RELATIVE_DISTANCE, MIN_CONSONANTS)
    settings = repr((*constants, MIN_CHAR_COUNT, MIN_CHAR_SHARE, _costs()))
    name = hashlib.sha256((d.key + settings).encode()).hexdigest()[:16]
    cached = default_cache_dir() / f"translit-{name}.marshal"
    if d.key:
        try:
            return frozenset(marshal.loads(cached.read_bytes()))
        except (OSError, ValueError, EOFError, TypeError):
            pass
    read = readings()
    heads: set[str] = set()
    sounding: set[str] = set()
    for key, entries in d.table.items():
        ok = key.isalpha() and key.isascii() and len(key) >= 4
        code = latin_code(key) if ok else ""
        ok = ok and consonants(code) >= MIN_CONSONANTS
        for head, _ in entries:
            forms = head.split()  # simplified, and traditional where it differs
            if not 2 <= len(forms[0]) <= MAX_CHARS:
                continue
            heads.update(forms)
            if not ok or forms[0] in sounding:
                continue
            codes = codes_of(forms[0], read)
            limit = CHARS_RELATIVE_DISTANCE * consonants(code)
            if codes and best_distance(code, codes, limit) <= limit:
                sounding.update(forms)
    every = Counter(c for h in heads for c in set(h))
    named = Counter(c for h in sounding for c in set(h))
    chars = frozenset(
        c for c, n in named.items() if n >= MIN_CHAR_COUNT and n >= MIN_CHAR_SHARE * every[c]
    )
    if d.key:
        save_cache(cached, "".join(sorted(chars)))
    return chars


def _costs() -> tuple[object, ...]:
    """The distance's constants (part of the cache key of :func:`transliteration_chars`)."""
    return (sorted((tuple(sorted(k)), v) for k, v in _SUBSTITUTE.items()), _INDEL, _VOWEL_COST)


@dataclass(frozen=True)
class Candidates:
    """One index's possible transliterations: each string's codes, and skeleton -> strings
    (``exact``) and skeleton with one consonant left out -> strings (``deleted``)."""

    codes: dict[str, tuple[str, ...]]
    exact: dict[str, list[str]]
    deleted: dict[str, list[str]]

    def near(self, word_code: str) -> set[str]:
        """The strings whose skeleton is within one consonant of the word's."""
        sk = skeleton(word_code)
        keys = {sk} | _deletions(sk)
        if len(sk) >= LONG_SKELETON:  # long words lose more in transliteration
            keys |= {k2 for k in _deletions(sk) for k2 in _deletions(k)}
        out: set[str] = set()
        for key in keys:
            out.update(self.exact.get(key, ()))
            out.update(self.deleted.get(key, ()))
        return out

    def match(self, word: str) -> list[tuple[str, float]]:
        """The strings an English word may be written as, closest first, with their distance
        relative to the largest accepted (0 = the same sound, 1 = just accepted)."""
        code = latin_code(word)
        n = consonants(code)
        if n < MIN_CONSONANTS:
            return []
        found = []
        limit = MAX_RELATIVE_DISTANCE * n
        for s in self.near(code):
            d = best_distance(code, self.codes[s], limit)
            if accepts(code, d):
                found.append((s, d / (MAX_RELATIVE_DISTANCE * n)))
        found.sort(key=lambda sd: (sd[1], -len(sd[0]), sd[0]))
        return [(s, d) for s, d in found[:MAX_MATCHES] if d <= found[0][1] + MATCH_MARGIN]


def build_candidates(texts: Iterable[str]) -> Candidates:
    """The :class:`Candidates` of some Chinese texts: every run of two to :data:`MAX_CHARS`
    transliteration characters (inside longer runs too)."""
    chars = transliteration_chars()
    read = readings()
    if not chars:
        return Candidates({}, {}, {})
    run = re.compile("[" + "".join(sorted(chars)) + "]{2,}")
    strings: set[str] = set()
    for text in texts:
        for m in run.finditer(normalize(text)):
            r = m.group()
            for i in range(len(r) - 1):
                for j in range(i + 2, min(i + MAX_CHARS, len(r)) + 1):
                    strings.add(r[i:j])
    codes: dict[str, tuple[str, ...]] = {}
    exact: dict[str, list[str]] = {}
    deleted: dict[str, list[str]] = {}
    for s in strings:
        cs = tuple(codes_of(s, read))
        if not cs:
            continue
        codes[s] = cs
        sks = {skeleton(c) for c in cs}
        for sk in sks:
            exact.setdefault(sk, []).append(s)
        for dk in set().union(*(_deletions(sk) for sk in sks)):
            deleted.setdefault(dk, []).append(s)
    return Candidates(codes, exact, deleted)


#: (index folder, version) -> its candidates, the last few indexes asked
_BUILT: OrderedDict[tuple[str, str], Candidates] = OrderedDict()
_KEEP = 2
_LOCK = threading.Lock()


def candidates(idx: LoadedIndex) -> Candidates:
    """The :class:`Candidates` of a loaded index, built on its first English question and
    kept for the last :data:`_KEEP` index versions asked."""
    key = (str(idx.folder), str(idx.version))
    with _LOCK:
        got = _BUILT.get(key)
        if got is None:
            got = build_candidates(idx.chunks[i].text for i in range(len(idx.chunks)))
            _BUILT[key] = got
            while len(_BUILT) > _KEEP:
                _BUILT.popitem(last=False)
        _BUILT.move_to_end(key)
        return got


def question_words(question: str) -> list[str]:
    """The words of an English question to match by sound: content words of at least four
    letters that CC-CEDICT does not translate (:func:`qa.translate.english_units`) and that
    are not pinyin names (:func:`qa.translate.name_pairs` reads those), each once."""
    from qa import translate as tr

    d = tr.dictionary()
    covered = {w for unit, _ in tr.english_units(question, d) for w in unit.split()}
    english = tr.gloss_words()
    out: list[str] = []
    for n, tok in enumerate(re.findall(r"[A-Za-z]+(?:[-'][A-Za-z]+)*", question)):
        low = tok.lower()
        if low.endswith("'s"):
            low = low[:-2]
        if low in tr.STOPWORDS or low in covered or low in out or len(low) < 4:
            continue
        if not (n and tok[:1].isupper()) and any(v in english for v in tr.variants(low)):
            continue  # an English word ("held", "born") the dictionary has in some phrase
        if tok[:1].isupper() and tr.pinyin_syllables(low.replace("-", ""), d):
            continue  # a pinyin name
        if "-" in tok and tok[:1].isupper() and tr.wade_giles(tok, d.syllables):
            continue  # a Wade-Giles one (name_pairs reads both)
        out.append(low)
    return out


def phonetic_terms(idx: LoadedIndex, question: str) -> list[tuple[float, list[str]]]:
    """The index's lexical terms that an English question's untranslated words may be
    written as (:func:`question_words`, :meth:`Candidates.match`), as (weight, terms): each
    word spreads one unit of weight over its matches by closeness (1 - distance / 2), and a
    match's weight over its character bigrams (the ``#`` terms of :func:`qa.lexical.analyze`)."""
    words = question_words(question)
    if not words:
        return []
    cands = candidates(idx)
    out: list[tuple[float, list[str]]] = []
    for w in words:
        found = cands.match(w)
        total = sum(1.0 - d / 2 for _, d in found)
        for s, d in found:
            grams = ["#" + s[i : i + 2] for i in range(len(s) - 1)]
            out.append(((1.0 - d / 2) / total / len(grams), grams))
    return out
