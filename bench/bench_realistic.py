"""Answers people can trust, measured on questions written the way users ask.

The questions of ``bench/data/realistic/questions.jsonl`` (see its README: reworded, yes/no,
why/how, list and keyword questions over the default corpus and two other documents, and
questions the documents do not answer: near misses, off-topic, English) are asked against one
index of ``corpus/`` plus ``bench/data/realistic/docs/``. Reported, at the threshold
(``Settings.answer_threshold``):

* ``answerable_accepted``: share of the answerable questions whose top hit holds the answer
  and is confident (>= threshold); ``answerable_confident``: top hit confident at all;
* ``unanswerable_refused``: share of the unanswerable questions whose top hit is below it,
  by kind (near miss, off-topic, English) and for the ``contradiction`` subset (the question
  names an entity the document contradicts: 深圳 for 广州, 2018 for 2019);
* ``first_highlight``: of the answerable questions whose top passage holds the answer, the
  share whose first highlight holds it (the answer label inside ``highlights[0]``);
* a reliability table of the top hits (predicted confidence against observed correctness).

With ``--model F`` the confidence of a model file other than the shipped one is reported
beside it (the same hits, so the same run). ``--examples`` saves the top-3 features of every
question for ``bench/train_confidence.py``.

    python bench/bench_realistic.py [--out bench/results/realistic.json] [--model F.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cmrc import load_cmrc
from common import DATA as CMRC_DATA
from common import WORK, write_results

from qa import highlight as hl
from qa import sentences
from qa.confidence import ConfidenceModel
from qa.index import build_index
from qa.search import Retriever, Scored, clean_question
from qa.settings import DEFAULTS, Settings

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "realistic"
QUESTIONS = DATA / "questions.jsonl"
DEFAULT_CORPUS = HERE.parent / "corpus"
K = 3


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    doc: str | None  # None: the documents do not answer it
    answer: str  # the answering text (a substring of ``doc``) or "unanswerable"
    kind: str
    lang: str
    contradiction: bool

    @property
    def answerable(self) -> bool:
        return self.doc is not None


def load_questions(path: Path = QUESTIONS) -> list[Question]:
    with open(path, encoding="utf-8") as fh:
        return [Question(**json.loads(line)) for line in fh if line.strip()]


def realistic_index(work: Path = WORK / "realistic") -> Settings:
    """Settings whose index (built or updated now) covers ``corpus/`` and the extra documents."""
    corpus = work / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    sources = [*DEFAULT_CORPUS.glob("*.txt"), *(DATA / "docs").glob("*.txt")]
    for f in sources:
        dst = corpus / f.name
        if not dst.exists() or dst.read_bytes() != f.read_bytes():
            shutil.copyfile(f, dst)
    settings = dataclasses.replace(DEFAULTS, corpus_dir=corpus, index_dir=work / "index")
    print(build_index(corpus, settings.index_dir, settings=settings).summary(), file=sys.stderr)
    return settings


def holds(s: Scored, q: Question) -> bool:
    """The passage is from the question's document and holds its answer."""
    return q.doc is not None and s.record.doc == q.doc and q.answer in s.record.text


def highlight_holds(s: Scored, q: Question) -> bool:
    """The first highlight of the passage holds the answer."""
    if not s.highlight.spans:
        return False
    a, b = s.highlight.spans[0]
    return q.answer in s.record.text[a:b]


def ask(r: Retriever, questions: list[Question]) -> list[list[Scored]]:
    return [r.score(clean_question(q.question), K) for q in questions]


def reliability(p: np.ndarray, y: np.ndarray) -> list[dict[str, object]]:
    bins = []
    for lo in np.arange(0, 1, 0.1):
        sel = (p >= lo) & (p < lo + 0.1 + (1e-9 if lo >= 0.9 else 0))
        if sel.any():
            bins.append(
                {
                    "bin": f"{lo:.1f}-{lo + 0.1:.1f}",
                    "n": int(sel.sum()),
                    "predicted": round(float(p[sel].mean()), 3),
                    "observed": round(float(y[sel].mean()), 3),
                }
            )
    return bins


def measure(
    questions: list[Question], hits: list[list[Scored]], conf: np.ndarray, t: float
) -> dict[str, object]:
    """The figures of one confidence per question (of its top hit) over the same hits."""
    ans = np.array([q.answerable for q in questions])
    right = np.array([bool(h) and holds(h[0], q) for q, h in zip(questions, hits, strict=True)])
    ok = conf >= t
    out: dict[str, object] = {
        "answerable": int(ans.sum()),
        "unanswerable": int((~ans).sum()),
        "top_passage_holds_answer": float(right[ans].mean()),
        "answerable_accepted": float((ok & right)[ans].mean()),
        "answerable_confident": float(ok[ans].mean()),
        "unanswerable_refused": float((~ok)[~ans].mean()),
    }
    by_kind: dict[str, object] = {}
    for kind in sorted({q.kind for q in questions}):
        m = np.array([q.kind == kind for q in questions])
        a, u = m & ans, m & ~ans
        by_kind[kind] = {
            "n": int(m.sum()),
            **({"accepted": round(float((ok & right)[a].mean()), 3)} if a.any() else {}),
            **({"refused": round(float((~ok)[u].mean()), 3)} if u.any() else {}),
        }
    out["by_kind"] = by_kind
    c = np.array([q.contradiction for q in questions]) & ~ans
    out["contradiction_refused"] = float((~ok)[c].mean()) if c.any() else None
    out["contradiction_n"] = int(c.sum())
    for lang in ("zh", "en"):
        m = np.array([q.lang == lang for q in questions])
        out[f"{lang}_answerable_accepted"] = (
            float((ok & right)[m & ans].mean()) if (m & ans).any() else None
        )
        out[f"{lang}_unanswerable_refused"] = (
            float((~ok)[m & ~ans].mean()) if (m & ~ans).any() else None
        )
    out["reliability_top_hit"] = reliability(conf, right.astype(float))
    wrong_accept = [
        {"id": q.id, "question": q.question, "confidence": round(float(p), 3)}
        for q, p, a in zip(questions, conf, ans, strict=True)
        if not a and p >= t
    ]
    missed = [
        {"id": q.id, "question": q.question, "confidence": round(float(p), 3), "right": bool(r)}
        for q, p, a, r in zip(questions, conf, ans, right, strict=True)
        if a and not (p >= t and r)
    ]
    out["unanswerable_accepted_list"] = wrong_accept
    out["answerable_missed_list"] = missed
    return out


def first_highlight(questions: list[Question], hits: list[list[Scored]]) -> dict[str, object]:
    n = good = 0
    misses = []
    for q, h in zip(questions, hits, strict=True):
        if h and holds(h[0], q):
            n += 1
            if highlight_holds(h[0], q):
                good += 1
            else:
                a, b = h[0].highlight.spans[0]
                misses.append({"id": q.id, "question": q.question, "shown": h[0].record.text[a:b]})
    return {"n": n, "first_highlight_holds_answer": good / n if n else 0.0, "misses": misses}


#: the highlighter's general rules: (module, switch)
RULES = ((sentences, "TOPIC_FOCUS_RULE"), (hl, "TYPED_NEIGHBOUR_RULE"))


def highlight_rules(questions: list[Question], hits: list[list[Scored]]) -> dict[str, object]:
    """The first highlight with each of the highlighter's general rules (``RULES``) switched
    off in turn and all off, over the same passages: the top passages of the realistic
    questions (same-script ones: a cross-script passage is highlighted with dense sentence
    similarities) and the CMRC 2018 trial paragraphs with their own questions (whole
    paragraphs; the sentence scorer was fitted on them, so in-sample)."""
    real = [
        (q.question, h[0].record.text, q.answer)
        for q, h in zip(questions, hits, strict=True)
        if h and holds(h[0], q) and not h[0].cross_script
    ]
    cmrc = [
        (q.question, p.context, a)
        for p in load_cmrc(CMRC_DATA)
        for q in p.questions
        if q.question.strip()
        for a in q.answers[:1]
    ]

    def rate(items: list[tuple[str, str, str]]) -> float:
        good = 0
        for question, text, answer in items:
            h = hl.highlight(question, text)
            if h.spans and answer in text[h.spans[0][0] : h.spans[0][1]]:
                good += 1
        return good / len(items)

    names = [r for _, r in RULES]
    saved = {r: getattr(m, r) for m, r in RULES}
    out: dict[str, object] = {"realistic_n": len(real), "cmrc_n": len(cmrc)}
    try:
        for name, off in [
            ("all rules", ()),
            *((f"without {r}", (r,)) for r in names),
            ("no rules", tuple(names)),
        ]:
            for m, r in RULES:
                setattr(m, r, saved[r] and r not in off)
            out[name] = {"realistic": round(rate(real), 4), "cmrc": round(rate(cmrc), 4)}
    finally:
        for m, r in RULES:
            setattr(m, r, saved[r])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="bench/results/realistic.json")
    ap.add_argument("--model", type=Path, action="append", default=[], help="another model file")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--rules", action="store_true", help="first highlight without each rule")
    args = ap.parse_args()
    questions = load_questions()
    if args.limit:
        questions = questions[:: max(1, len(questions) // args.limit)]
    settings = realistic_index()
    r = Retriever(settings.index_dir, settings)
    r.warm_up()
    hits = ask(r, questions)
    t = settings.answer_threshold
    results: dict[str, object] = {"questions": len(questions), "threshold": t}
    for name, path in [("shipped", ConfidenceModel.PATH), *((str(p), p) for p in args.model)]:
        model = ConfidenceModel(path)
        conf = np.array(
            [model.predict(h[0].features, h[0].cross_script) if h else 0.0 for h in hits]
        )
        results[name] = measure(questions, hits, conf, t)
    results["first_highlight"] = first_highlight(questions, hits)
    if args.rules:
        results["highlight_rules"] = highlight_rules(questions, hits)
    write_results(results, args.out)


if __name__ == "__main__":
    main()
