"""Train and cross-validate the answer-span ranker (``qa/answer.py``).

For every question of CMRC 2018 trial the sentence is the one the highlighter's sentence scorer
picks, held out (the fold model of ``bench/train_highlight.py`` that did not see the article).
Every candidate span of that sentence (``qa.answer.candidates``) gets its features and its
official CMRC 2018 F1 against the gold answers. A conditional logit (softmax over the question's
candidates, L2 penalty) learns one weight per feature by maximising the probability of the
candidates with the best F1 (questions whose best candidate scores under ``--min-f1`` are left
out of training: the sentence is wrong). 5-fold cross-validation splits by article, with the same
folds as the sentence scorer.

The answer words are the best candidate, unless it is the whole sentence or its probability is
under a threshold; then ``answer`` is None and the reader sees the highlighted sentence. The
threshold is chosen to maximise the F1 of what the reader sees (the words, else the sentence);
for each fold it is chosen on the other folds' held-out predictions, so the figures printed are
held out twice over.

Printed (held-out, %): the alignment heuristic (``qa.highlight._answer_candidate`` with
``TRUSTED_METHODS``) and the ranker at the chosen threshold: coverage (questions given words),
EM/F1 over all questions (no words = 0), over the answered ones, and of what the reader sees
(words, else the sentence); the whole-sentence and oracle ceilings; the trade-off curve over
thresholds; the same on the text and questions converted to traditional script (OpenCC s2t).
Then the model is refitted on everything and written to ``qa/data/answer_weights.json``.

    python bench/train_answer.py              # CV, then write the weights
    python bench/train_answer.py --no-write   # CV only
"""

from __future__ import annotations

import argparse
import json
import pickle
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import train_highlight as th  # noqa: E402
from cmrc import cmrc_em, cmrc_f1, load_cmrc  # noqa: E402

from qa import answer as qa_answer  # noqa: E402
from qa import highlight as hl  # noqa: E402

THRESHOLDS = [round(t, 2) for t in np.arange(0.0, 0.96, 0.05)]


@dataclass
class Case:
    """One question: its chosen sentence's candidates with features and labels."""

    group: str
    answers: list[str]
    sentence: str
    cands: list[str]  # candidate texts
    x: np.ndarray
    f1: np.ndarray
    em: np.ndarray
    whole: int
    heur: str | None  # the alignment heuristic's words (TRUSTED_METHODS), or None
    sent_em: float = 0.0
    sent_f1: float = 0.0


def make_case(it: th.Item, best: int) -> Case:
    q, spans, _, sents = hl.prepare(it.question, it.context)
    sent = sents[best]
    c = qa_answer.candidates(q, it.context, sent)
    off = sent.start
    texts = [it.context[a + off : b + off] for a, b in c.spans]
    raw, method = hl.answer_candidate(q, it.context, sent)
    heur = it.context[raw[0] : raw[1]] if raw and method in hl.TRUSTED_METHODS else None
    s, e = spans[best]
    return Case(
        it.group,
        it.answers,
        it.context[s:e],
        texts,
        c.x,
        np.array([cmrc_f1(t, it.answers) for t in texts]),
        np.array([cmrc_em(t, it.answers) for t in texts]),
        c.whole,
        heur,
        cmrc_em(it.context[s:e], it.answers),
        cmrc_f1(it.context[s:e], it.answers),
    )


def fit(cases: list[Case], c: float, min_f1: float) -> np.ndarray:
    """Conditional logit over each question's candidates; returns raw-scale weights (a
    constant shift of the features changes nothing in a softmax, so no bias)."""
    from scipy.optimize import minimize

    use = [k for k in cases if len(k.f1) and k.f1.max() >= min_f1]
    allx = np.vstack([k.x for k in use])
    mean = allx.mean(axis=0)
    scale = allx.std(axis=0)
    scale[scale == 0] = 1.0
    big = (allx - mean) / scale
    lens = np.array([len(k.x) for k in use])
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    seg = np.repeat(np.arange(len(use)), lens)
    pos = np.concatenate([k.f1 >= k.f1.max() - 1e-9 for k in use]).astype(float)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = big @ w
        e = np.exp(z - np.maximum.reduceat(z, starts)[seg])
        p = e / np.add.reduceat(e, starts)[seg]
        ppos = np.add.reduceat(p * pos, starts)
        total = -float(np.sum(np.log(ppos + 1e-12)))
        grad_z = p - pos * p / (ppos[seg] + 1e-12)
        return total + 0.5 * float(w @ w) / c, big.T @ grad_z + w / c

    res = minimize(
        loss, np.zeros(big.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 300}
    )
    return res.x / scale  # type: ignore[no-any-return]


def predict(case: Case, w: np.ndarray) -> tuple[int, float]:
    z = case.x @ w
    e = np.exp(z - z.max())
    p = e / e.sum()
    i = int(np.argmax(p))
    return i, float(p[i])


#: "ranker": the ranker alone; "combined" (what highlight() does): the heuristic's trusted
#: words first, else the ranker's
MODE = "combined"


def outcome(case: Case, i: int, p: float, threshold: float) -> dict[str, float]:
    give = i != case.whole and p >= threshold
    pred = case.cands[i] if give else None
    em, f1 = (float(case.em[i]), float(case.f1[i])) if give else (0.0, 0.0)
    if MODE == "combined" and case.heur is not None:
        give, pred = True, case.heur
        em, f1 = cmrc_em(pred, case.answers), cmrc_f1(pred, case.answers)
    out = {
        "answered": float(give),
        "em": em,
        "f1": f1,
        "em_or_sentence": em if give else case.sent_em,
        "f1_or_sentence": f1 if give else case.sent_f1,
    }
    if pred is not None:
        out["em_if_answered"] = em
        out["f1_if_answered"] = f1
    return out


def heuristic_outcome(case: Case) -> dict[str, float]:
    pred = case.heur
    out = {
        "answered": float(pred is not None),
        "em": cmrc_em(pred, case.answers),
        "f1": cmrc_f1(pred, case.answers),
        "em_or_sentence": cmrc_em(pred or case.sentence, case.answers),
        "f1_or_sentence": cmrc_f1(pred or case.sentence, case.answers),
    }
    if pred is not None:
        out["em_if_answered"] = out["em"]
        out["f1_if_answered"] = out["f1"]
    return out


def p_f1(case: Case, i: int, p: float, t: float) -> float:
    if MODE == "combined" and case.heur is not None:
        return cmrc_f1(case.heur, case.answers)
    return float(case.f1[i]) if i != case.whole and p >= t else case.sent_f1


def choose_threshold(preds: list[tuple[Case, int, float]]) -> float:
    """The threshold that maximises the F1 of what the reader sees (ties: the higher)."""
    best_t, best_v = 0.0, -1.0
    for t in THRESHOLDS:
        v = float(np.mean([p_f1(c, i, p, t) for c, i, p in preds]))
        if v >= best_v - 1e-12:
            best_t, best_v = t, v
    return best_t


KEYS = ["answered", "em", "f1", "em_if_answered", "f1_if_answered", "em_or_sentence"]
KEYS += ["f1_or_sentence"]


def fmt(d: dict[str, float]) -> str:
    return "  ".join(f"{k} {100 * d[k]:5.1f}" for k in KEYS if k in d)


def oof_sentences(items: list[th.Item], folds: int) -> tuple[list[int], list[tuple]]:
    """The sentence each question gets from the sentence-scorer fold that did not see it."""
    _, models, fold_of, _ = th.cross_validate(items, folds, False, answers=False)
    best = []
    for it, f in zip(items, fold_of, strict=True):
        w, b = models[f]
        z = th.matrix(it, False) @ w + b
        best.append(min(range(len(z)), key=lambda j: (-z[j], j)))
    return best, models


def timing(paragraphs: list, n: int = 200) -> tuple[float, float]:
    """Mean and p95 ms of the answer ranker alone (candidates, features, scores) on the best
    sentence of ~350-character passages."""
    cases = []
    for p in paragraphs[:n]:
        if p.questions:
            q, t = p.questions[0].question, p.context[:350]
            qq, _, x, sents = hl.prepare(q, t)
            if sents:
                w, b = hl.linear_model(False)
                cases.append((qq, t, sents[int(np.argmax(x @ w + b))]))
    for qq, t, s in cases[:5]:
        qa_answer.answer_words(qq, t, s)
    times = []
    for qq, t, s in cases:
        t0 = time.perf_counter()
        qa_answer.answer_words(qq, t, s)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.mean(times), times[int(0.95 * (len(times) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=th.DEFAULT_DATA)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--c", type=float, default=1.0, help="inverse L2 penalty")
    ap.add_argument("--min-f1", type=float, default=0.5, help="train on questions reaching it")
    ap.add_argument("--trad", type=int, default=400, help="questions in traditional script")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--cache", type=Path, help="pickle of the candidates (experiments only)")
    args = ap.parse_args()

    t0 = time.time()
    paragraphs = load_cmrc(args.data)
    items = th.make_items(paragraphs)
    best, sent_models = oof_sentences(items, args.folds)
    if args.cache and args.cache.exists():
        cases = pickle.loads(args.cache.read_bytes())
    else:
        cases = [make_case(it, b) for it, b in zip(items, best, strict=True)]
        if args.cache:
            args.cache.write_bytes(pickle.dumps(cases))
    ncand = np.mean([len(c.cands) for c in cases])
    print(
        f"{len(items)} questions, {ncand:.0f} candidates per sentence; "
        f"set up in {time.time() - t0:.0f} s"
    )
    sent_f1 = np.mean([cmrc_f1(c.sentence, c.answers) for c in cases])
    sent_em = np.mean([cmrc_em(c.sentence, c.answers) for c in cases])
    print(
        f"ceilings in the chosen sentence: best candidate EM "
        f"{100 * np.mean([c.em.max() for c in cases]):.1f} F1 "
        f"{100 * np.mean([c.f1.max() for c in cases]):.1f}; whole sentence EM "
        f"{100 * sent_em:.1f} F1 {100 * sent_f1:.1f}"
    )

    folds = th.folds_by_group(items, args.folds)
    fold_of = [0] * len(items)
    for f, idx in enumerate(folds):
        for i in idx:
            fold_of[i] = f
    models = []
    oof: list[tuple[Case, int, float]] = [None] * len(cases)  # type: ignore[list-item]
    for test in folds:
        test_set = set(test)
        w = fit([cases[i] for i in range(len(cases)) if i not in test_set], args.c, args.min_f1)
        models.append(w)
        for i in test:
            oof[i] = (cases[i], *predict(cases[i], w))
    print(f"\n{args.folds}-fold cross-validation by article (held out, %):")
    heur = th.mean_dicts([heuristic_outcome(c) for c in cases])
    print(f"  heuristic alone (TRUSTED_METHODS)  {fmt(heur)}")
    global MODE
    report: dict[str, object] = {"questions": len(items), "folds": args.folds, "heuristic": heur}
    fold_t: dict[str, list[float]] = {}
    threshold = 0.0
    for MODE in ("ranker", "combined"):
        # the threshold of each fold chosen on the other folds' held-out predictions
        fold_t[MODE] = []
        nested = []
        for test in folds:
            test_set = set(test)
            t = choose_threshold([oof[i] for i in range(len(cases)) if i not in test_set])
            fold_t[MODE].append(t)
            nested += [outcome(*oof[i], t) for i in test]
        threshold = choose_threshold(oof)  # the last mode's (combined) is written
        report[MODE] = th.mean_dicts(nested)
        report[f"{MODE}_fold_thresholds"] = fold_t[MODE]
        print(f"  {MODE} (fold thresholds {', '.join(f'{t:.2f}' for t in fold_t[MODE])})")
        print(f"      {fmt(report[MODE])}")  # type: ignore[arg-type]
        print(f"    trade-off over thresholds (chosen on all folds: {threshold:.2f}):")
        for t in THRESHOLDS:
            print(f"      {t:.2f}  {fmt(th.mean_dicts([outcome(*o, t) for o in oof]))}")

    if args.trad:
        trad = th.traditional_items(items, args.trad)
        idx = [i for i, _ in trad]
        tcases = []
        for i, it in trad:
            w, b = sent_models[fold_of[i]]  # the same folds as the sentence scorer's
            z = th.matrix(it, False) @ w + b
            tcases.append((i, make_case(it, min(range(len(z)), key=lambda j: (-z[j], j)))))
        print(f"\ntraditional script (OpenCC s2t, {len(trad)} questions, fold models):")
        for label, cs in (("traditional", tcases), ("simplified ", [(i, cases[i]) for i in idx])):
            print(
                f"  {label} heuristic {fmt(th.mean_dicts([heuristic_outcome(k) for _, k in cs]))}"
            )
            for MODE in ("ranker", "combined"):
                res = [
                    outcome(k, *predict(k, models[fold_of[i]]), fold_t[MODE][fold_of[i]])
                    for i, k in cs
                ]
                print(f"  {label} {MODE:9s} {fmt(th.mean_dicts(res))}")
                if label == "traditional":
                    report[f"traditional_{MODE}"] = {"questions": len(trad), **th.mean_dicts(res)}

    if not args.no_write:
        w = fit(cases, args.c, args.min_f1)
        out = {
            "about": "qa/answer.py span ranker: softmax(features . weights) over a sentence's "
            "candidates; words only when the best is not the whole sentence and its probability "
            ">= threshold; written by bench/train_answer.py",
            "trained_on": args.data.name,
            "threshold": threshold,
            "features": list(qa_answer.FEATURES),
            "weights": [round(float(v), 5) for v in w],
            "cv": json.loads(json.dumps(report, default=float)),
        }
        qa_answer.WEIGHTS_PATH.write_text(
            json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        qa_answer._weights.cache_clear()
        print(f"\nwrote {qa_answer.WEIGHTS_PATH.relative_to(ROOT)}")
        order = np.argsort(-np.abs(w))
        print("  " + "  ".join(f"{qa_answer.FEATURES[k]} {w[k]:+.2f}" for k in order[:20]))
        mean_ms, p95_ms = timing(paragraphs)
        print(f"answer ranker per ~350-char passage: mean {mean_ms:.2f} ms, p95 {p95_ms:.2f} ms")
    print(f"done in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
