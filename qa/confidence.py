"""What the confidence model reads about the question and the passage's wording.

:mod:`qa.search` scores each hit with features of the ranking (cosines, fused margin) and of
the lexical evidence the index counts (IDF-weighted words and bigrams). Two more come from
here, because users reword (电动车 for 电动自行车, 牌子 for 品牌) and ask questions whose answer is
not a name or a number:

* :func:`sentence_coverage`: the largest share of the question's content *characters* (of its
  content words; a Latin word or a number counts whole) that one sentence of the passage holds.
  A reworded question keeps most of its characters where it loses its words; a near miss (深圳
  for 广州, 电动汽车 for 电动自行车) loses characters in the very sentence that would answer. On the
  realistic questions (``bench/data/realistic``) it separates answered from unanswerable top
  hits better than the word coverage (ROC AUC 0.80 against 0.76; near misses 0.71 against 0.66).
* :func:`factoid`: the question asks for a number, a time, a person, a place or an
  organisation (:func:`qa.question.answer_type`). Such an answer sits next to the question's
  words; an answer to a why/how, yes/no or list question is told in other words, so the same
  evidence means more for it.

Measured in ``bench/train_confidence.py`` (BENCHMARKS.md, "Realistic questions").
"""

from __future__ import annotations

import functools
import re

from qa.question import analyse_question, fold, stem
from qa.text import split_sentences

#: answer types whose answer is a short name or figure (see :func:`qa.question.answer_type`)
FACTOID_TYPES = frozenset({"number", "time", "person", "place", "org"})
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[0-9a-z]+")


@functools.lru_cache(maxsize=1024)
def question_units(question: str) -> tuple[str, ...]:
    """The units :func:`sentence_coverage` looks for: each Chinese character of the question's
    content words (:func:`qa.question.question_terms`: question words and particles left out)
    and each of its Latin words and numbers whole (stemmed), in order, without repeats."""
    out: list[str] = []
    for t in analyse_question(question).terms:
        out.extend(_CJK.findall(t.word))
        out.extend(stem(w) for w in _LATIN.findall(t.word))
    return tuple(dict.fromkeys(out))


def _held(units: tuple[str, ...], sentence: str) -> float:
    words = {stem(w) for w in _LATIN.findall(sentence)}
    return sum(1 for u in units if (u in sentence if _CJK.match(u) else u in words)) / len(units)


def sentence_coverage(question: str, passage: str) -> float:
    """The largest share of :func:`question_units` that one sentence of ``passage`` holds
    (:func:`qa.text.split_sentences`, folded text); 0.0 for a question without content."""
    units = question_units(question)
    if not units:
        return 0.0
    text = fold(passage)
    return max((_held(units, text[a:b]) for a, b in split_sentences(text)), default=0.0)


def factoid(question: str) -> float:
    """1.0 if the question asks for a number, a time, a person, a place or an organisation."""
    return float(analyse_question(question).atype in FACTOID_TYPES)
