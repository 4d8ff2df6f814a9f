"""Answer words: a learned ranker over candidate spans of the highlighted sentence.

``qa.highlight`` picks the sentence; this module picks the words inside it, in the spirit of the
feature-based SQuAD baseline (Rajpurkar et al. 2016): every plausible span of the sentence is a
candidate, each gets a vector of general features, a linear model scores them, and a softmax over
the sentence's candidates turns the scores into probabilities. ``bench/train_answer.py`` learns
the weights (a conditional logit: per question, maximise the probability of the candidates with
the best official CMRC 2018 F1) on CMRC 2018 trial with 5-fold cross-validation by article and
writes them, with the probability threshold chosen on held-out folds, to
``qa/data/answer_weights.json``.

Candidates (offsets relative to the sentence):

* runs of one to ``MAX_RUN_TOKENS`` jieba words inside a clause (between ，。；： etc.), widened
  to a pair of brackets or quotes that encloses them exactly (《一路顺风》);
* whole clauses and runs of consecutive clauses; from any word to the end of its clause or of a
  later clause (answers to 是什么 / how / why questions are often a clause or more);
* the slot the question word leaves, the typed candidates (numbers, dates, names) and the
  words the alignment heuristic of ``qa.highlight`` picks (``_answer_candidate``);
* the whole sentence. When it wins, or when the best candidate's probability is below the
  threshold, there are no answer words (the reader sees the highlighted sentence).

Features (``FEATURES``): the alignment (inside the slot, equal to it, the method that found it,
the heuristic's own pick, distance to the nearest question piece left and right), the expected
answer type against the candidate's (numbers, dates, dictionary name tags, unknown words), how
much of the candidate repeats the question (answers rarely do), length, clause structure (whole
clause, several clauses, the clause after the one that matches the question), part of speech of
the first and last word, function words and punctuation at the edges, enclosing brackets, and
the form of the question (question word at its end or start, yes/no, how/why, English).

Pure Python + numpy over the sentence analysis ``qa.highlight`` already made.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from qa.align import (
    CLAUSE_PUNCT,
    EDGE_STOP,
    HOW_WHY,
    YES_NO,
    answer_candidate,
    find_slot,
    merge_ranges,
    refine_candidate,
    trim_slot,
)
from qa.question import CJK_RUN_RE, LATIN_WORD_RE, Token, word_frequencies, word_tags
from qa.typed import TIME_RE, ZH_NUM, entity_kind, typed_candidates

if TYPE_CHECKING:  # pragma: no cover
    from qa.question import Question
    from qa.sentences import Sentence

WEIGHTS_PATH = Path(__file__).parent / "data" / "answer_weights.json"

#: the longest run of words inside a clause that is a candidate, and its longest length
MAX_RUN_TOKENS = 12
MAX_RUN_CHARS = 40

_OPEN_CLOSE = {
    "《": "》",
    "「": "」",
    "『": "』",
    "“": "”",
    "(": ")",
    "（": "）",
    "‘": "’",
    '"': '"',
}
_ATYPES = ("number", "time", "person", "place", "org", "reason", "other")
_POS = ("name", "noun", "verb", "num", "adj", "func", "idiom", "unk", "latin")
_NAME_TAGS = frozenset({"nr", "nrt", "nrfg", "ns", "nt", "nz"})
_NOUN_TAGS = frozenset({"n", "ng", "vn", "s", "f", "j", "g"})
_VERB_TAGS = frozenset({"v", "vg", "vd", "vi", "vq"})
_NUM_TAGS = frozenset({"m", "mq", "q", "t", "tg", "mg"})
_ADJ_TAGS = frozenset({"a", "ad", "ag", "an", "b", "z", "zg"})
_IDIOM_TAGS = frozenset({"i", "l"})

FEATURES = (
    # length and shape
    "log_chars",
    "tokens_1",
    "tokens_2_3",
    "tokens_4_7",
    "tokens_8p",
    "is_sentence",
    "is_clause",
    "is_clauses",
    "to_later_clause_end",
    "starts_clause",
    "ends_clause",
    "position",
    # repeating the question
    "q_cover",
    "q_chars",
    "q_any",
    # next to a question piece
    "anchor_left_adj",
    "anchor_right_adj",
    "anchor_left_near",
    "anchor_right_near",
    "anchor_left_clause",
    "anchor_right_clause",
    # the slot the question word leaves
    "slot_in",
    "slot_cover",
    "slot_eq",
    "slot_eq_both",
    "slot_eq_left",
    "slot_eq_right",
    "slot_in_both",
    "slot_in_left",
    "slot_in_right",
    "slot_near_anchored_end",
    # the alignment heuristic's own pick
    "heur_eq_typed_in_gap",
    "heur_eq_typed_near",
    "heur_eq_gap_both",
    "heur_eq_gap_left",
    "heur_eq_gap_right",
    "heur_in",
    "heur_cover",
    # answer type
    "typed_eq",
    "typed_frac",
    "typed_eq_number",
    "typed_eq_time",
    "typed_eq_entity",
    "has_number",
    "has_time",
    "has_entity",
    "number_q_has_number",
    "time_q_has_time",
    "entity_q_has_entity",
    "entity_q_all_name",
    # question form x shape
    "q_tail_ends_clause",
    "q_head_starts_clause",
    "howwhy_is_clause",
    "howwhy_is_sentence",
    "howwhy_log_chars",
    "yesno_is_sentence",
    "other_log_chars",
    "other_is_clause",
    "other_is_sentence",
    "typed_q_log_chars",
    "no_qword_is_sentence",
    "english_q_log_chars",
    "english_q_typed_eq",
    "english_q_is_sentence",
    "capitalised",
    # clause relations
    "clause_match",
    "after_match_clause",
    "prev_clause_matched",
    # edges
    "edge_stop_first",
    "edge_stop_last",
    "enclosed",
    *(f"first_{p}" for p in _POS),
    *(f"last_{p}" for p in _POS),
)
_COL = {name: k for k, name in enumerate(FEATURES)}


class Candidates(NamedTuple):
    """The candidate spans of a sentence (relative offsets) and their feature matrix."""

    spans: list[tuple[int, int]]
    x: np.ndarray
    whole: int  # index of the whole-sentence candidate


def _pos_class(word: str) -> str:
    if LATIN_WORD_RE.match(word):
        return "num" if word[:1].isdigit() else "latin"
    tag = word_tags().get(word)
    if tag is None:
        if any(c.isdigit() or c in ZH_NUM for c in word[:1]):
            return "num"
        return "unk"
    if tag in _NAME_TAGS:
        return "name"
    if tag in _NOUN_TAGS:
        return "noun"
    if tag in _VERB_TAGS:
        return "verb"
    if tag in _NUM_TAGS:
        return "num"
    if tag in _ADJ_TAGS:
        return "adj"
    if tag in _IDIOM_TAGS:
        return "idiom"
    return "func"


def _clauses(s: str) -> list[tuple[int, int]]:
    """Clauses of the sentence (between clause punctuation), spaces and edge punctuation
    trimmed; empty ones left out."""
    out: list[tuple[int, int]] = []
    a = 0
    for i in range(len(s) + 1):
        if i == len(s) or s[i] in CLAUSE_PUNCT:
            lo, hi = a, i
            while lo < hi and not (s[lo].isalnum() or s[lo] in _OPEN_CLOSE):
                lo += 1
            while hi > lo and not (s[hi - 1].isalnum() or s[hi - 1] in _CLOSERS):
                hi -= 1
            if hi > lo:
                out.append((lo, hi))
            a = i + 1
    return out


_CLOSERS = frozenset(_OPEN_CLOSE.values()) | {"%", "％"}


def _enclose(s: str, a: int, b: int) -> tuple[int, int]:
    """Widen [a, b) to a pair of brackets or quotes that encloses it exactly."""
    if a > 0 and b < len(s) and _OPEN_CLOSE.get(s[a - 1]) == s[b]:
        return a - 1, b + 1
    return a, b


def _prefix(flags: list[bool] | np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(np.asarray(flags, dtype=float))])


def candidates(q: Question, text: str, sent: Sentence) -> Candidates:
    """Every candidate span of ``sent`` (offsets relative to it) and its features."""
    s = sent.folded
    n = len(s)
    off = sent.start
    toks = [(t.start - off, t.end - off, t.word) for t in sent.toks if t.end - off <= n]
    clauses = _clauses(s)
    spans: dict[tuple[int, int], None] = {}

    def add(a: int, b: int) -> None:
        if 0 <= a < b <= n:
            spans.setdefault((a, b), None)

    # runs of words inside a clause, and from each word to the end of a later clause
    tok_clause: list[int] = []
    for ts, te, _ in toks:
        k = next((i for i, (ca, cb) in enumerate(clauses) if ca <= ts and te <= cb), -1)
        tok_clause.append(k)
    for i, (ts, _, _) in enumerate(toks):
        k = tok_clause[i]
        if k < 0:
            continue
        for j in range(i, min(len(toks), i + MAX_RUN_TOKENS)):
            if tok_clause[j] != k or toks[j][1] - ts > MAX_RUN_CHARS:
                break
            add(*_enclose(s, ts, toks[j][1]))
        for kk in range(k, len(clauses)):
            add(ts, clauses[kk][1])
    for i, (ca, _) in enumerate(clauses):
        for j in range(i, len(clauses)):
            add(ca, clauses[j][1])
    # the alignment heuristic's slot, typed candidates and pick
    slot, method, end, anchors = find_slot(q, sent)
    trimmed_slot = None
    if slot is not None:
        ta, tb = trim_slot(s, slot[0], slot[1], sent, off)
        if tb > ta:
            trimmed_slot = (ta, tb)
            add(ta, tb)
    heur, heur_method = answer_candidate(q, text, sent, slot=(slot, method, end, anchors))
    heur_rel = (heur[0] - off, heur[1] - off) if heur else None
    if heur_rel:
        add(*heur_rel)
    typed_spans = _typed(q, text, sent) if q.atype not in ("other", "reason") else []
    for c in typed_spans:
        add(*c)
    whole = (clauses[0][0], clauses[-1][1]) if clauses else (0, n)
    add(*whole)
    span_list = list(spans)
    x = _features(
        q,
        text,
        sent,
        span_list,
        toks,
        clauses,
        whole,
        trimmed_slot,
        method,
        end,
        anchors,
        heur_rel,
        heur_method,
        typed_spans,
    )
    return Candidates(span_list, x, span_list.index(whole))


def _typed(q: Question, text: str, sent: Sentence) -> list[tuple[int, int]]:
    """The candidates of the expected answer type that the question does not already hold."""
    s = sent.folded
    off = sent.start
    raw = typed_candidates(q.atype, text[off : sent.end], s, sent.toks, off)
    if q.atype in ("number", "time"):
        raw = merge_ranges(raw, s)
    out = []
    for c in raw:
        c = refine_candidate(c, s, sent)
        if c[1] > c[0] and s[c[0] : c[1]] not in q.folded:
            out.append(c)
    return out


def _features(
    q: Question,
    text: str,
    sent: Sentence,
    spans: list[tuple[int, int]],
    toks: list[tuple[int, int, str]],
    clauses: list[tuple[int, int]],
    whole: tuple[int, int],
    slot: tuple[int, int] | None,
    method: str,
    end: str,
    anchors: list[Any],
    heur: tuple[int, int] | None,
    heur_method: str,
    typed: list[tuple[int, int]],
) -> np.ndarray:
    """The feature matrix, one row per span, computed column by column (numpy)."""
    s = sent.folded
    n = len(s)
    raw = text[sent.start : sent.end]
    c = _COL
    x = np.zeros((len(spans), len(FEATURES)))
    if not spans:
        return x
    A = np.array([a for a, _ in spans])
    B = np.array([b for _, b in spans])
    length = B - A
    # per-character tables (prefix sums: count in [a, b) = p[b] - p[a])
    is_alnum = np.array([ch.isalnum() for ch in s], dtype=bool)
    alnum = _prefix(is_alnum)
    an = np.maximum(1.0, alnum[B] - alnum[A])
    covered = np.zeros(n, dtype=bool)
    for _, ms, me in sent.matches:
        covered[ms:me] = True
    for anc in anchors:
        covered[anc.ss : anc.se] = True
    qset = set(q.masked.replace(" ", ""))
    qcov = _prefix(covered & is_alnum)
    qchr = _prefix([ch.isalnum() and ch in qset for ch in s])
    tcov = np.zeros(n, dtype=bool)
    for a, b in typed:
        tcov[a:b] = True
    tpre = _prefix(tcov)
    numpre = _prefix([ch.isdigit() or ch in ZH_NUM for ch in s])
    opener = np.array([ch in _OPEN_CLOSE for ch in s] + [False], dtype=bool)
    closer = np.array([ch in _CLOSERS for ch in s] + [False], dtype=bool)
    codes = np.array([ord(ch) for ch in s] + [0])
    want = np.array(
        [ord(_OPEN_CLOSE.get(ch, "\0")) if ch in _OPEN_CLOSE else -1 for ch in s] + [-1]
    )
    upper = np.array([ch.isupper() for ch in raw[:n]] + [False] * (n + 1 - len(raw[:n])))
    # the nearest question piece ending at or before / starting at or after each position
    last_end = np.full(n + 1, -1)
    next_start = np.full(n + 2, n + 1)
    for ps, pe in [(anc.ss, anc.se) for anc in anchors] + [(ms, me) for _, ms, me in sent.matches]:
        if pe <= n:
            last_end[pe] = max(last_end[pe], pe)
            next_start[ps] = min(next_start[ps], ps)
    last_end = np.maximum.accumulate(last_end)
    next_start = np.minimum.accumulate(next_start[::-1])[::-1]
    # clauses
    clause_of = np.full(n + 1, -1)
    for k, (ca, cb) in enumerate(clauses):
        clause_of[ca : cb + 1] = k
    cl_match = np.array([qcov[cb] - qcov[ca] for ca, cb in clauses] or [0.0])
    best_cl = int(np.argmax(cl_match)) if cl_match.max() > 0 else -1
    mx_cl = float(cl_match.max()) if cl_match.max() > 0 else 1.0
    cs = np.array([ca for ca, _ in clauses] or [-9])
    ce = np.array([cb for _, cb in clauses] or [-9])
    ka, kb = clause_of[A], clause_of[B]
    # words
    nt = len(toks)
    tstarts = np.array([ts for ts, _, _ in toks] or [0])
    tends = np.array([te for _, te, _ in toks] or [0])
    i0 = np.searchsorted(tends, A, side="right")
    i1 = np.searchsorted(tstarts, B, side="left") - 1
    ntok = np.maximum(0, i1 - i0 + 1) if nt else np.zeros(len(A), dtype=int)
    j0, j1 = np.clip(i0, 0, max(nt - 1, 0)), np.clip(i1, 0, max(nt - 1, 0))
    freq, _ = word_frequencies()
    ent = _prefix([entity_kind(Token(w, ts, te), w in freq) is not None for ts, te, w in toks])
    nent = ent[np.clip(i1 + 1, 0, nt)] - ent[np.clip(i0, 0, nt)]
    stop = np.array([w in EDGE_STOP for _, _, w in toks] or [False])
    pos = np.array([_POS.index(_pos_class(w)) for _, _, w in toks] or [0])
    # the question
    atype = q.atype
    qw = q.qword
    qword_text = q.folded[qw[0] : qw[1]] if qw else ""
    tail = bool(qw) and not q.masked[qw[1] :].strip()
    head = bool(qw) and not q.masked[: qw[0]].strip()
    howwhy = qword_text in HOW_WHY or atype == "reason"
    yesno = qword_text in YES_NO
    english = not CJK_RUN_RE.search(q.folded) and any(ch.isalpha() for ch in q.folded)
    typed_q = atype in ("number", "time", "person", "place", "org")
    entity_q = atype in ("person", "place", "org")

    lc = np.log1p(length)
    x[:, c["log_chars"]] = lc
    x[:, c["tokens_1"]] = ntok <= 1
    x[:, c["tokens_2_3"]] = (ntok >= 2) & (ntok <= 3)
    x[:, c["tokens_4_7"]] = (ntok >= 4) & (ntok <= 7)
    x[:, c["tokens_8p"]] = ntok >= 8
    is_sentence = (A == whole[0]) & (B == whole[1])
    is_clause = ((A[:, None] == cs[None, :]) & (B[:, None] == ce[None, :])).any(axis=1)
    is_clause &= ~is_sentence
    a_cs, b_ce = np.isin(A, cs), np.isin(B, ce)
    is_clauses = ~is_sentence & ~is_clause & a_cs & b_ce & (ka != kb)
    later = ~is_sentence & ~is_clause & ~is_clauses & b_ce & (ka >= 0) & (kb > ka)
    x[:, c["is_sentence"]] = is_sentence
    x[:, c["is_clause"]] = is_clause
    x[:, c["is_clauses"]] = is_clauses
    x[:, c["to_later_clause_end"]] = later
    sc = a_cs | ((A > 0) & np.isin(A - 1, cs) & opener[np.maximum(A - 1, 0)])
    ec = b_ce | ((B < n) & np.isin(B + 1, ce) & closer[B])
    x[:, c["starts_clause"]] = sc
    x[:, c["ends_clause"]] = ec
    x[:, c["position"]] = A / max(1, n)
    qc = (qcov[B] - qcov[A]) / an
    x[:, c["q_cover"]] = qc
    x[:, c["q_chars"]] = (qchr[B] - qchr[A]) / an
    x[:, c["q_any"]] = qc > 0
    le = last_end[A]
    ns = next_start[B]
    has_le, has_ns = le >= 0, ns <= n
    dl = np.where(has_le, A - le, 99)
    dr = np.where(has_ns, ns - B, 99)
    nsc = np.minimum(ns, n)
    gap_l = alnum[A] - alnum[np.maximum(le, 0)]
    gap_r = alnum[nsc] - alnum[B]
    x[:, c["anchor_left_adj"]] = (dl <= 1) | ((dl <= 3) & (gap_l == 0))
    x[:, c["anchor_right_adj"]] = (dr <= 1) | ((dr <= 3) & (gap_r == 0))
    x[:, c["anchor_left_near"]] = 1.0 / (1.0 + dl)
    x[:, c["anchor_right_near"]] = 1.0 / (1.0 + dr)
    x[:, c["anchor_left_clause"]] = has_le & (ka >= 0) & (clause_of[np.maximum(le - 1, 0)] == ka)
    x[:, c["anchor_right_clause"]] = has_ns & (kb >= 0) & (clause_of[nsc] == kb)
    if slot:
        ov = np.maximum(0, np.minimum(B, slot[1]) - np.maximum(A, slot[0]))
        s_in = ov / np.maximum(1, length)
        s_cover = ov / max(1, slot[1] - slot[0])
        eq = (A == slot[0]) & (B == slot[1])
        x[:, c["slot_in"]] = s_in
        x[:, c["slot_cover"]] = s_cover
        x[:, c["slot_eq"]] = eq
        side = {"gap_both": "both", "gap_left": "left", "gap_right": "right"}.get(method)
        if side:
            x[:, c[f"slot_eq_{side}"]] = eq
            x[:, c[f"slot_in_{side}"]] = s_in * s_cover
        if end == "a":
            d = A - slot[0]
        elif end == "b":
            d = slot[1] - B
        else:
            d = np.minimum(A - slot[0], slot[1] - B)
        x[:, c["slot_near_anchored_end"]] = np.where(ov == length, 1.0 / (1.0 + np.abs(d)), 0.0)
    if heur:
        if f"heur_eq_{heur_method}" in c:
            x[:, c[f"heur_eq_{heur_method}"]] = (A == heur[0]) & (B == heur[1])
        ov = np.maximum(0, np.minimum(B, heur[1]) - np.maximum(A, heur[0]))
        x[:, c["heur_in"]] = ov / np.maximum(1, length)
        x[:, c["heur_cover"]] = ov / max(1, heur[1] - heur[0])
    te = np.zeros(len(A), dtype=bool)
    for a, b in typed:
        te |= (A == a) & (B == b)
    x[:, c["typed_eq"]] = te
    x[:, c["typed_frac"]] = (tpre[B] - tpre[A]) / np.maximum(1, length)
    if atype == "number":
        x[:, c["typed_eq_number"]] = te
    elif atype == "time":
        x[:, c["typed_eq_time"]] = te
    elif entity_q:
        x[:, c["typed_eq_entity"]] = te
    has_num = (numpre[B] - numpre[A]) > 0
    has_time = np.zeros(len(A), dtype=bool)
    for m in TIME_RE.finditer(s):
        has_time |= (A <= m.start()) & (m.end() <= B)
    has_ent = (ntok > 0) & (nent > 0)
    x[:, c["has_number"]] = has_num
    x[:, c["has_time"]] = has_time
    x[:, c["has_entity"]] = has_ent
    x[:, c["number_q_has_number"]] = has_num & (atype == "number")
    x[:, c["time_q_has_time"]] = has_time & (atype == "time")
    x[:, c["entity_q_has_entity"]] = has_ent & entity_q
    x[:, c["entity_q_all_name"]] = (ntok > 0) & (nent == ntok) & entity_q
    x[:, c["q_tail_ends_clause"]] = ec & tail
    x[:, c["q_head_starts_clause"]] = sc & head
    if howwhy:
        x[:, c["howwhy_is_clause"]] = is_clause | is_clauses
        x[:, c["howwhy_is_sentence"]] = is_sentence
        x[:, c["howwhy_log_chars"]] = lc
    elif yesno:
        x[:, c["yesno_is_sentence"]] = is_sentence
    elif atype == "other":
        x[:, c["other_log_chars"]] = lc
        x[:, c["other_is_clause"]] = is_clause
        x[:, c["other_is_sentence"]] = is_sentence
    elif typed_q:
        x[:, c["typed_q_log_chars"]] = lc
    x[:, c["no_qword_is_sentence"]] = is_sentence & (qw is None)
    if english:
        x[:, c["english_q_log_chars"]] = lc
        x[:, c["english_q_typed_eq"]] = te
        x[:, c["english_q_is_sentence"]] = is_sentence
    x[:, c["capitalised"]] = upper[A]
    kac = np.maximum(ka, 0)
    x[:, c["clause_match"]] = np.where(
        ka >= 0, cl_match[np.minimum(kac, len(cl_match) - 1)] / mx_cl, 0
    )
    x[:, c["after_match_clause"]] = (ka >= 0) & (best_cl >= 0) & (ka == best_cl + 1)
    prev = cl_match[np.clip(ka - 1, 0, len(cl_match) - 1)]
    x[:, c["prev_clause_matched"]] = (ka > 0) & (prev > 0)
    if nt:
        has = ntok > 0
        x[:, c["edge_stop_first"]] = has & stop[j0]
        x[:, c["edge_stop_last"]] = has & stop[j1]
        rows = np.nonzero(has)[0]
        x[rows, c["first_name"] + pos[j0[rows]]] = 1
        x[rows, c["last_name"] + pos[j1[rows]]] = 1
    x[:, c["enclosed"]] = (A < n) & (want[np.minimum(A, n)] == codes[np.maximum(B - 1, 0)])
    return x


# --------------------------------------------------------------------------------------------
# weights and the decision


@lru_cache(maxsize=1)
def _weights() -> dict[str, Any] | None:
    try:
        with open(WEIGHTS_PATH, encoding="utf-8") as f:
            return json.load(f)  # type: ignore[no-any-return]
    except (OSError, ValueError) as exc:
        logging.getLogger(__name__).warning("answer weights unreadable (%s)", exc)
        return None


def _model() -> tuple[np.ndarray, float] | None:
    """Weights over ``FEATURES`` (a feature the file does not name weighs 0) and the
    probability threshold, or None when there is no weights file."""
    w = _weights()
    if not w:
        return None
    learned = dict(zip(w["features"], w["weights"], strict=True))
    return np.array([float(learned.get(f, 0.0)) for f in FEATURES]), float(w["threshold"])


def probabilities(cands: Candidates, weights: np.ndarray) -> np.ndarray:
    """Softmax of the candidates' scores."""
    if not cands.spans:
        return np.zeros(0)
    z = cands.x @ weights
    e = np.exp(z - z.max())
    return e / e.sum()  # type: ignore[no-any-return]


class Answer(NamedTuple):
    span: tuple[int, int] | None  # absolute offsets of the answer words, or None
    prob: float  # the ranker's probability of the best candidate
    best: tuple[int, int] | None  # the best candidate (absolute), even when not returned


def answer_words(q: Question, text: str, sent: Sentence) -> Answer | None:
    """The best candidate of ``sent`` and whether to show it: not when it is the whole
    sentence, nor when its probability is under the threshold. None without a weights file."""
    model = _model()
    if model is None or not sent.folded:
        return None
    w, threshold = model
    cands = candidates(q, text, sent)
    if not cands.spans:
        return Answer(None, 0.0, None)
    p = probabilities(cands, w)
    i = int(np.argmax(p))
    a, b = cands.spans[i]
    best = (a + sent.start, b + sent.start)
    if i == cands.whole or p[i] < threshold:
        return Answer(None, float(p[i]), best)
    return Answer(best, float(p[i]), best)
