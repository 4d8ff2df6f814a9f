"""The highlighter: inside a retrieved passage, the sentence that answers a question and, when
it can tell, the exact answering words.

``highlight(question, text, sentence_sims=None)`` ranks every sentence of
``split_sentences(text)`` by how likely it holds the answer and returns the spans best first
with probability-like scores, plus the answer words inside the best sentence (or ``None``).

The work is split by what it does, each module importing only the public names of the ones
before it (no cycle):

* :mod:`qa.question`: question analysis (folding, jieba words with IDF and tags, question
  words, the expected answer type);
* :mod:`qa.typed`: answer-type candidates inside a sentence (numbers, dates, names, causes);
* :mod:`qa.sentences`: sentence features and their scoring (boosted trees or linear weights
  learned by ``bench/train_highlight.py``), and the block of adjacent sentences shown;
* :mod:`qa.align`: answer words by aligning the question with the best sentence;
* :mod:`qa.answer`: the learned span ranker, for what the alignment does not trust;
* here: the entry point, which puts them together.

Two general rules act on top of the learned scorer, each measured on the realistic questions
of ``bench/data/realistic`` and on CMRC 2018 (``bench/bench_realistic.py --rules``): the
opening sentence of a passage is not taken for a mere topic sentence when it holds what is
asked (``qa.sentences.TOPIC_FOCUS_RULE``), and a question asking for a number, a date or a
name whose best sentence holds none has the adjacent sentence that does joined to the highlight
(``TYPED_NEIGHBOUR_RULE``).

The names the tests and ``bench/`` use are importable from here (``__all__``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from qa import answer
from qa.align import ANSWER_METHODS, TRUSTED_METHODS, answer_candidate
from qa.question import (
    MAX_IDF,
    Question,
    answer_type,
    fold,
    idf,
    question_terms,
    word_tag,
)
from qa.sentences import (
    BLOCK_MAX,
    FEATURES_BASE,
    FEATURES_SIMS,
    TREES_PATH,
    WEIGHTS_PATH,
    Sentence,
    block,
    features,
    linear_model,
    prepare,
    sentence_probabilities,
    sims_features,
    tree_features,
    tree_models,
)
from qa.text import split_sentences

#: the names the highlighter's users (qa.search, the tests, bench/) take from here
__all__ = [
    "ANSWER_METHODS",
    "BLOCK_MAX",
    "FEATURES_BASE",
    "FEATURES_SIMS",
    "MAX_IDF",
    "TREES_PATH",
    "TRUSTED_METHODS",
    "WEIGHTS_PATH",
    "Highlight",
    "answer_candidate",
    "answer_type",
    "block",
    "features",
    "fold",
    "highlight",
    "idf",
    "linear_model",
    "prepare",
    "question_terms",
    "sentence_probabilities",
    "sims_features",
    "split_sentences",
    "tree_features",
    "tree_models",
    "word_tag",
]


class Highlight(NamedTuple):
    """Ranked sentence spans of a passage and the answer words inside the best one."""

    # spans in ``text``, best first: the best sentence (widened to the adjacent sentences that
    # score nearly as well, see ``block``), then every other sentence
    spans: list[tuple[int, int]]
    scores: list[float]  # probability-like score of each span, same order (0..1)
    answer: tuple[int, int] | None  # exact answer words inside spans[0], or None when unsure


def _answer_words(q: Question, text: str, sent: Sentence) -> tuple[int, int] | None:
    """The answer words inside ``sent``, or None when unsure. First the alignment heuristic,
    when the way it found them is one that ``bench/train_highlight.py`` measured to be at least
    as precise as the whole sentence (``TRUSTED_METHODS``); else the learned span ranker's best
    candidate (``qa.answer``: None when that is the whole sentence or under its threshold).
    ``bench/train_answer.py`` measured this order against the ranker alone and the heuristic
    alone."""
    span, method = answer_candidate(q, text, sent)
    if method in TRUSTED_METHODS:
        return span
    ranked = answer.answer_words(q, text, sent)
    return ranked.span if ranked is not None else None


#: a question that asks for a number, a date or a name, whose best sentence holds none, has
#: the adjacent sentence that holds one and shares a question word joined to its highlight
#: (香山是哪天光复的？ -> "…香山是广东第三个光复的县。" + "…于11月6日光复香山。")
TYPED_NEIGHBOUR_RULE = True
_TYPED = frozenset({"number", "time", "person", "place", "org"})


def _typed_neighbour(q: Question, x: np.ndarray, best: int) -> int | None:
    """The sentence next to ``best`` (the following one first) that holds a candidate of the
    expected answer type and a question word, when ``best`` holds no such candidate."""
    tm, lr = FEATURES_BASE.index("type_match"), FEATURES_BASE.index("local_recall")
    if q.atype not in _TYPED or x[best, tm] > 0:
        return None
    for j in (best + 1, best - 1):
        if 0 <= j < len(x) and x[j, tm] > 0 and x[j, lr] > 0:
            return j
    return None


def highlight(question: str, text: str, sentence_sims: Sequence[float] | None = None) -> Highlight:
    """Rank the sentences of ``text`` by how likely each holds the answer to ``question``.

    ``sentence_sims``, if given, is the dense cosine similarity of the question to each
    sentence of ``split_sentences(text)`` (same order). Returns every sentence span best
    first, its probability-like score, and the answer words inside the best span or ``None``.
    """
    q, spans, x, sents = prepare(question, text)
    if not spans:
        return Highlight([], [], None)
    p = sentence_probabilities(x, sentence_sims)
    order = sorted(range(len(spans)), key=lambda i: (-p[i], i))
    best = order[0]
    lo, hi = block(p, best)
    answer = _answer_words(q, text, sents[best])
    typed = _typed_neighbour(q, x, best) if TYPED_NEIGHBOUR_RULE else None
    if typed is not None and not lo <= typed <= hi:
        lo, hi = min(lo, typed), max(hi, typed)
        if answer is None:
            answer = _answer_words(q, text, sents[typed])
    rest = [i for i in order if not lo <= i <= hi]
    return Highlight(
        [(spans[lo][0], spans[hi][1])] + [spans[i] for i in rest],
        [float(p[best])] + [float(p[i]) for i in rest],
        answer,
    )
