"""Learn and measure ``Hit.confidence``: the probability that a passage answers the question.

On the CMRC 2018 trial set every question is asked twice: against the whole corpus (the right
answer is its paragraph) and against the corpus without its own paragraph (the right answer is
"not in the documents"). The top three hits of each become examples (label: the passage is the
question's paragraph and contains the answer). A logistic regression over
``qa.search.confidence_features`` is evaluated with 5-fold cross-validation grouped by article,
then refit on everything and written to ``qa/data/confidence.json``. Reported: at the default
threshold, the share of answerable questions correctly answered (top hit right and confident)
and of unanswerable ones correctly refused (top hit below the threshold), and a reliability
table (predicted vs observed, out-of-fold).

    python bench/train_confidence.py [--out bench/results/confidence.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cmrc_index, doc_name

from qa import search
from qa.search import CONFIDENCE_FEATURES, ConfidenceModel, Retriever, clean_question

K = 3
DENSE_ONLY = list(search.DENSE_ONLY)  # what a passage in another script than the question has


def collect(r: Retriever, paras) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels, article groups and (answerable, rank) tags of every example."""
    feats, labels, groups, tags = [], [], [], []
    for pi, p in enumerate(paras):
        gold = doc_name(p)
        for q in p.questions:
            if not q.question.strip():
                continue  # two trial questions are empty
            question = clean_question(q.question)
            for answerable in (True, False):
                scored = r.score(question, K, exclude_docs=() if answerable else (gold,))
                for rank, s in enumerate(scored):
                    c = s.record
                    feats.append(s.features)
                    labels.append(int(c.doc == gold and any(a in c.text for a in q.answers)))
                    groups.append(p.title or str(pi))
                    tags.append((int(answerable), rank))
    g = np.unique(np.array(groups), return_inverse=True)[1]
    return np.array(feats), np.array(labels), g, np.array(tags)


def fit(x: np.ndarray, y: np.ndarray) -> LogisticRegression:
    return LogisticRegression(C=1.0, max_iter=1000).fit(x, y)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="bench/results/confidence.json")
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()

    paras, settings = cmrc_index(limit=args.limit)
    r = Retriever(settings.index_dir, settings)
    r.warm_up()
    x, y, groups, tags = collect(r, paras)

    oof = np.zeros(len(y))
    oof_dense = np.zeros(len(y))
    for tr, te in GroupKFold(n_splits=5).split(x, y, groups):
        oof[te] = fit(x[tr], y[tr]).predict_proba(x[te])[:, 1]
        oof_dense[te] = fit(x[tr][:, DENSE_ONLY], y[tr]).predict_proba(x[te][:, DENSE_ONLY])[:, 1]

    t = args.threshold
    top = tags[:, 1] == 0
    ans, unans = top & (tags[:, 0] == 1), top & (tags[:, 0] == 0)
    results = {}
    for name, p in (("full", oof), ("dense_only", oof_dense)):
        answered = float(np.mean((p[ans] >= t) & (y[ans] == 1)))
        refused = float(np.mean(p[unans] < t))
        bins = []
        for lo in np.arange(0, 1, 0.1):
            m = oof if name == "full" else oof_dense
            sel = (m >= lo) & (m < lo + 0.1 + (1e-9 if lo >= 0.9 else 0))
            if sel.any():
                bins.append(
                    {
                        "bin": f"{lo:.1f}-{lo + 0.1:.1f}",
                        "n": int(sel.sum()),
                        "predicted": float(m[sel].mean()),
                        "observed": float(y[sel].mean()),
                    }
                )
        brier = float(np.mean((p - y) ** 2))
        by_threshold = {
            f"{th:.1f}": {
                "answered": float(np.mean((p[ans] >= th) & (y[ans] == 1))),
                "refused": float(np.mean(p[unans] < th)),
            }
            for th in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
        }
        results[name] = {
            "answerable_correctly_answered": answered,
            "unanswerable_correctly_refused": refused,
            "balanced_accuracy": (answered + refused) / 2,
            "brier": brier,
            "by_threshold": by_threshold,
            "reliability": bins,
        }
        print(name, json.dumps(results[name], indent=1), file=sys.stderr)
    results["examples"] = len(y)
    results["questions"] = int(ans.sum())
    results["threshold"] = t

    full = fit(x, y)
    dense = fit(x[:, DENSE_ONLY], y)
    model = {
        "features": list(CONFIDENCE_FEATURES),
        "bias": float(full.intercept_[0]),
        "weights": [float(w) for w in full.coef_[0]],
        "dense_only": {
            "features": [CONFIDENCE_FEATURES[i] for i in DENSE_ONLY],
            "bias": float(dense.intercept_[0]),
            "weights": [float(w) for w in dense.coef_[0]],
        },
        "trained_on": "CMRC 2018 trial: answerable (full corpus) and unanswerable (own paragraph "
        "removed) questions, top-3 hits; bench/train_confidence.py",
    }
    ConfidenceModel.PATH.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(json.dumps({k: v for k, v in results.items() if k in ("full", "dense_only")}, indent=1))


if __name__ == "__main__":
    main()
