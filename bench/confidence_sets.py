"""Which evidence the same-script confidence model should read: feature sets compared out of fold.

``sets F``: on the examples a ``bench/train_confidence.py --save-examples F`` run collected, the
same-script model fitted with the features before issue #12's 2026-12-07 change (nine) and with
``sentence_coverage`` and ``factoid`` (:mod:`qa.confidence`), at realistic weights 2, 3 and 4;
CMRC 5-fold by article, the realistic set by document, as ``train_confidence.py`` does (cross-
script hits of the realistic set by the dense-only sub-model, refitted out of fold). Reported at
0.5: CMRC answered / refused, realistic accepted / refused / contradiction subset, log losses,
and the realistic answerable accepted at the threshold that refuses 85% of its unanswerable ones
(a comparison of rankings).

``missing-name F``: collects the examples again (as ``--save-examples`` does) with variants of
``missing_name`` appended as extra columns (one-character names dropped, organisations dropped,
numbers looked for in the passage only), saves them in ``F`` and compares them the same way.

``auc F``: how well each same-script feature alone separates the realistic top hits that
answer (answerable, passage holds the answer) from the unanswerable questions' top hits, and
from the near misses' alone: ROC AUC.

    python bench/confidence_sets.py sets bench/results/confidence_examples.npz
    python bench/confidence_sets.py auc bench/results/confidence_examples.npz
    python bench/confidence_sets.py missing-name bench/results/missing_name_examples.npz
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from qa import confidence, search
from qa.question import fold, question_terms, word_tag

DIGITS, PLACE_SUFFIX, NAMES = confidence.DIGITS, confidence.PLACE_SUFFIX, confidence.NAME_TAGS
NO_ORG = frozenset({"nr", "nrt", "nrfg", "ns"})
#: the variants of ``missing_name`` compared: (tags, shortest name, numbers in the passage only)
VARIANTS = {
    "before: any name, numbers in the document": (NAMES, 1, False),
    "names of 2+ characters": (NAMES, 2, False),
    "... without organisations": (NO_ORG, 2, False),
    "... without organisations, numbers in the passage": (NO_ORG, 2, True),
    "names of 2+ characters, numbers in the passage (shipped)": (NAMES, 2, True),
}


def variant_missing(
    idx, question: str, passage: str, doc: str, cross: bool, variant: tuple
) -> float:
    """``missing_name`` with names of ``tags`` of ``shortest`` characters or more; a number is
    missing if the passage lacks it (``num_in_passage``) or if the passage and its document
    do."""
    tags, shortest, num_in_passage = variant
    nums = list(dict.fromkeys(m.group() for m in DIGITS.finditer(question)))
    names = []
    for w in question_terms(question):
        if any(c.isdigit() for c in w) or word_tag(w) not in tags:
            continue
        n = PLACE_SUFFIX.sub("", w)
        if len(n) >= shortest and not cross:
            names.append(n)
    every = nums + list(dict.fromkeys(names))
    if not every:
        return 0.0
    in_doc = confidence.names_in_document(idx, doc, every)
    text = fold(passage)
    miss = sum(1 for n in nums if fold(n) not in text and (num_in_passage or n not in in_doc))
    miss += sum(1 for n in every[len(nums) :] if fold(n) not in text and n not in in_doc)
    return miss / len(every)


def compare(path: Path, sets: dict[str, list[str]], weights: tuple[float, ...]) -> None:
    """Print the out-of-fold figures of each same-script feature set at each realistic weight."""
    import train_confidence as tc

    zh, en, off, real = (tc.load_examples(path, n) for n in ("zh", "en", "off", "real"))
    names = list(confidence.CONFIDENCE_FEATURES)
    x, y, tags = zh.x, zh.y, zh.tags
    folds, en_folds, off_folds = tc.article_folds(zh, en, off)
    real_folds = tc.document_folds(real)
    rx, rc = real.x, real.cross
    top = real.tags[:, 1] == 0
    ans, un = top & (real.tags[:, 0] == 1), top & (real.tags[:, 0] == 0)
    for name, feats in sets.items():
        c = [names.index(f) for f in feats]
        # the dense-only sub-model reads the same variant of missing_name (same position)
        at = [f for f in feats if f == "missing_name" or f in VARIANTS]
        swap = {names.index("missing_name"): names.index(at[0])} if at else {}
        do = [swap.get(i, i) for i in confidence.DENSE_ONLY]
        for w in weights:
            rw = np.full(len(real), w)
            dense_train = [
                (en.x[en.cross][:, do], en.y[en.cross], en_folds[en.cross]),
                (
                    off.x[off.cross][:, do],
                    np.zeros(int(off.cross.sum()), int),
                    off_folds[off.cross],
                ),
                (rx[rc][:, do], real.y[rc], real_folds[rc], rw[rc]),
            ]
            (p_dense,) = tc.oof_predict(dense_train, [(rx[:, do], real_folds)])
            train = [
                (x[:, c], y, folds, np.ones(len(y))),
                (rx[~rc][:, c], real.y[~rc], real_folds[~rc], rw[~rc]),
            ]
            p_zh, p_real = tc.oof_predict(train, [(x[:, c], folds), (rx[:, c], real_folds)])
            p_real[rc] = p_dense[rc]
            z = tc.evaluate(p_zh, y, tags, 0.5)
            r = tc.evaluate_realistic(p_real, real, 0.5)
            th = float(np.quantile(p_real[un], 0.85))
            at85 = float(np.mean((p_real[ans] > th) & (real.y[ans] == 1)))
            print(
                f"{name} | weight {w:g} | CMRC {z['answerable_correctly_answered']:.3f} / "
                f"{z['unanswerable_correctly_refused']:.3f} (log loss {z['log_loss']:.4f}) | "
                f"realistic {r['answerable_accepted']:.3f} / {r['unanswerable_refused']:.3f}, "
                f"contradiction {r['contradiction_refused']:.3f} (log loss {r['log_loss']:.3f}), "
                f"accepted at 85% refused {at85:.3f}"
            )


def feature_auc(path: Path) -> None:
    """Print each same-script feature's ROC AUC on the realistic top hits (see the docstring)."""
    import train_confidence as tc
    from bench_realistic import load_questions
    from sklearn.metrics import roc_auc_score

    real = tc.load_examples(path, "real")
    questions = load_questions()
    near = np.array([questions[i].kind == "near_miss" for i in real.question])
    top, same = real.tags[:, 1] == 0, ~real.cross
    pos = top & same & (real.tags[:, 0] == 1) & (real.y == 1)
    for label, neg in (
        ("unanswerable", top & same & (real.tags[:, 0] == 0)),
        ("near misses", top & same & (real.tags[:, 0] == 0) & near),
    ):
        y = np.concatenate([np.ones(pos.sum()), np.zeros(neg.sum())])
        aucs = {
            name: roc_auc_score(y, np.concatenate([real.x[pos, i], real.x[neg, i]]))
            for i, name in enumerate(confidence.CONFIDENCE_FEATURES)
            if name != "translated_coverage"
        }
        shown = ", ".join(f"{n} {a:.3f}" for n, a in aucs.items())
        print(f"{label} ({int(pos.sum())} answered against {int(neg.sum())}): {shown}")


def collect_variants(path: Path) -> None:
    """``train_confidence.py``'s collection with the ``VARIANTS`` as extra feature columns."""
    extra_names = tuple(VARIANTS)
    confidence.CONFIDENCE_FEATURES = (*confidence.CONFIDENCE_FEATURES, *extra_names)
    score: Callable = search.Retriever.score

    def with_variants(self, question, k, exclude_docs=()):
        out = []
        for s in score(self, question, k, exclude_docs):
            r, cross = s.record, bool(s.cross_script)
            v = [
                variant_missing(self.index, question, r.text, r.doc, cross, v)
                for v in VARIANTS.values()
            ]
            out.append(s._replace(features=np.concatenate([s.features, v])))
        return out

    search.Retriever.score = with_variants
    import train_confidence as tc
    from bench_english import default_corpus_index, load_english
    from bench_realistic import realistic_index
    from common import cmrc_index

    paras, settings = cmrc_index()
    r = search.Retriever(settings.index_dir, settings)
    r.warm_up()
    english = load_english()
    real = tc.collect_realistic(
        search.Retriever(realistic_index().index_dir, settings, embedder=r.embedder)
    )
    zh = tc.collect(r, paras)
    en = tc.collect(r, paras, english)
    r_off = search.Retriever(default_corpus_index().index_dir, settings, embedder=r.embedder)
    off = tc.collect(r_off, paras, english, conditions=(None,))
    z = np.zeros((1, 1))
    tc.save_examples(
        path, {"bank": z, "vectors_cmrc": z, "vectors_off": z}, zh=zh, en=en, off=off, real=real
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("what", choices=("sets", "missing-name", "auc"))
    ap.add_argument("examples", type=Path)
    args = ap.parse_args()
    base = [n for n in confidence.CONFIDENCE_FEATURES if n not in ("translated_coverage",)]
    before = [n for n in base if n not in ("sentence_coverage", "factoid")]
    if args.what == "auc":
        feature_auc(args.examples)
        return
    if args.what == "sets":
        sets = {"nine features (before)": before, "+ sentence_coverage + factoid": base}
        compare(args.examples, sets, (2.0, 3.0, 4.0))
        return
    if not args.examples.exists():
        collect_variants(args.examples)
    else:
        confidence.CONFIDENCE_FEATURES = (*confidence.CONFIDENCE_FEATURES, *VARIANTS)
    sets = {"missing_name as collected": base}
    for v in VARIANTS:
        sets[v] = [v if n == "missing_name" else n for n in base]
    compare(args.examples, sets, (4.0,))


if __name__ == "__main__":
    main()
