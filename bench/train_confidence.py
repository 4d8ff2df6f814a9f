"""Learn and measure ``Hit.confidence``: the probability that a passage answers the question.

On the CMRC 2018 trial set every question is asked twice: against the whole corpus (the right
answer is its paragraph) and against the corpus without its own paragraph (the right answer is
"not in the documents"). The top three hits of each become examples (label: the passage is the
question's paragraph and contains the answer). A logistic regression over
``qa.search.confidence_features`` is evaluated with 5-fold cross-validation grouped by article,
then refit on everything and written to ``qa/data/confidence.json``. Reported: at the default
threshold, the share of answerable questions correctly answered (top hit right and confident)
and of unanswerable ones correctly refused (top hit below the threshold), the Brier score and a
reliability table (predicted vs observed, out-of-fold).

Realistic questions (issue #12): the questions of ``bench/data/realistic`` (written the way users
ask, with near misses, off-topic and English ones) are asked of the default corpus plus the
set's two documents, and their top three hits are examples too, weighted ``--realistic-weight``
against a CMRC one. Folds are by document: each realistic document (with the unanswerable
questions whose top hit is in it) joins one of the five CMRC folds, so every realistic figure
is predicted by a model that saw no question about that document. Reported side by side, out
of fold: the old recipe (the seven features before issue #12, CMRC only) and the new one, on
CMRC (``cmrc_*``) and on the realistic set (``realistic_*``: answerable accepted, unanswerable
refused, the contradiction subset, reliability of the top hits).

Cross-script passages: the same is done with the hand-written English versions of the questions
(``bench/data/cmrc2018/questions_en.jsonl``) over the Chinese paragraphs. Every such hit is a
passage in another script than the question, which ``ConfidenceModel.predict(...,
cross_script=True)`` scores with a sub-model over the features ``qa.confidence.DENSE_ONLY``: those
that mean the same across languages plus the lexical evidence of the dictionary bridge
(``qa.translate``): the fused-score margin and ``translated_coverage``. The examples are
collected with the bridge on (``Settings.cross_lexical_weight``). The shipped sub-model is
fitted on the Chinese and realistic examples together with these cross-language ones and the
English questions asked of the default corpus (below: all unanswerable, they teach it the hub
chunks); the figures below compare recipes on the English examples alone, and
``cross_script_recipes`` compares feature sets (``CROSS_SETS``: the features before the bridge,
with the margin, the translated coverage or both, ...) and training sets ("all": as shipped;
"cross": the cross-script examples only; "all+coverage": a same-script example's lexical
coverage standing for its translated coverage), each out of fold on the English CMRC examples
(answered right, refused, right top hits' confidence, and answered right at the previous model
file's refusal rate: a comparison of rankings), the off-topic ones and the realistic set. The
same-script model is kept as shipped unless ``--refit-same-script``; an examples file from
before ``translated_coverage`` loads with 0 for it (right for Chinese questions). The English examples use the Chinese examples' folds
(an article's Chinese and English questions are always in the same fold). Reported for them,
out-of-fold: the model file as it was when the script started (``previous_model``; on a rerun
that is the model this script wrote, fitted on these very examples, so in-sample), the old
recipe (sub-model fitted on Chinese questions), the new one, and every subset of the features
that mean the same across languages (up to three of them). Also: the English questions asked
against the project's default corpus (``corpus/``), which answers none of them (off-topic
questions over a small single-topic corpus): share refused (out of fold by CMRC article, but
over the same corpus, so optimistic for the shipped recipe, which trains on them). And an
experiment with a feature ``qa.search`` does not have (``background_z``: the passage's cosine
standardised by its cosines with a bank of other questions, against hub passages).

    python bench/train_confidence.py [--out bench/results/confidence.json] [--limit N]
        [--save-examples F.npz | --load-examples F.npz] [--no-write] [--realistic-weight W]
        [--refit-same-script] [--previous MODEL.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_english import code_state, default_corpus_index, load_english
from bench_realistic import holds, load_questions, realistic_index
from common import cmrc_index, doc_name

from qa import confidence
from qa.confidence import CONFIDENCE_FEATURES, ConfidenceModel
from qa.search import Retriever, clean_question

K = 3
DENSE_ONLY = list(confidence.DENSE_ONLY)  # what a passage in another script than the question has
#: the cross-script features before the dictionary bridge's evidence was read (issue #12)
BEFORE_BRIDGE = ("dense_z", "dense_gap", "top", "chunk_chars", "missing_name")
#: the cross-script feature sets compared (the shipped one is ``qa.confidence.DENSE_ONLY``)
TC = CONFIDENCE_FEATURES.index("translated_coverage")
LC = CONFIDENCE_FEATURES.index("lexical_coverage")
#: how the shipped cross-script model is trained (see ``cross_train`` in main)
CROSS_RECIPE = "cross"
CROSS_SETS = {
    "old": BEFORE_BRIDGE,
    "old+margin": (*BEFORE_BRIDGE, "margin"),
    "old+translated_coverage": (*BEFORE_BRIDGE, "translated_coverage"),
    "old+margin+translated_coverage": (
        *BEFORE_BRIDGE,
        "margin",
        "translated_coverage",
    ),
    "old+margin+translated_coverage+sentence": (
        *BEFORE_BRIDGE,
        "margin",
        "translated_coverage",
        "sentence",
    ),
    "old+translated_coverage+sentence": (
        *BEFORE_BRIDGE,
        "translated_coverage",
        "sentence",
    ),
    "old+margin+translated_coverage+dense": (
        *BEFORE_BRIDGE,
        "margin",
        "translated_coverage",
        "dense",
    ),
}
#: The features that mean the same whatever the languages of question and passage: all but the
#: lexical coverage (an English question's words match only the Latin names and digits of a
#: Chinese passage). The cross-script feature subsets tried are made of these.
CROSS_CANDIDATES = tuple(f for f in CONFIDENCE_FEATURES if f != "lexical_coverage")
FIGURES = (
    "answerable_correctly_answered",
    "unanswerable_correctly_refused",
    "answerable_wrong_top_answered",
    "brier",
    "log_loss",
)


@dataclass
class Examples:
    x: np.ndarray  # confidence_features
    y: np.ndarray  # 1: the question's paragraph and it contains the answer
    groups: np.ndarray  # article title
    tags: np.ndarray  # (answerable, rank)
    cross: np.ndarray  # the passage is in another script than the question
    chunk: np.ndarray  # the retrieved chunk's position in its index
    question: np.ndarray  # the question's position among the non-empty questions

    def __len__(self) -> int:
        return len(self.y)

    def select(self, m: np.ndarray) -> Examples:
        return Examples(*(getattr(self, f.name)[m] for f in fields(self)))


def collect(
    r: Retriever, paras, english: dict[str, str] | None = None, conditions=(True, False)
) -> Examples:
    """The examples of every question (Chinese; or its English version, if ``english``), asked
    against the whole corpus (``True`` in ``conditions``) and without its own paragraph
    (``False``). Over a corpus that does not hold the questions' paragraphs (``conditions=
    (None,)``), every example is unanswerable."""
    rows: list[tuple] = []
    qi = -1
    for pi, p in enumerate(paras):
        gold = doc_name(p)
        for q in p.questions:
            if not q.question.strip():
                continue  # two trial questions are empty
            qi += 1
            if english is not None and q.id not in english:
                continue
            question = clean_question(english[q.id] if english is not None else q.question)
            for answerable in conditions:
                scored = r.score(question, K, exclude_docs=(gold,) if answerable is False else ())
                for rank, s in enumerate(scored):
                    c = s.record
                    label = int(c.doc == gold and any(a in c.text for a in q.answers))
                    if answerable is None:
                        label = 0
                    rows.append(
                        (
                            s.features,
                            label,
                            p.title or str(pi),
                            (int(bool(answerable)), rank),
                            s.cross_script,
                            s.chunk,
                            qi,
                        )
                    )
    cols = list(zip(*rows, strict=True)) if rows else [[]] * 7
    return Examples(
        np.array(cols[0], dtype=np.float64).reshape(-1, len(CONFIDENCE_FEATURES)),
        np.array(cols[1], dtype=np.int64),
        np.array(cols[2], dtype=object),
        np.array(cols[3], dtype=np.int64).reshape(-1, 2),
        np.array(cols[4], dtype=bool),
        np.array(cols[5], dtype=np.int64),
        np.array(cols[6], dtype=np.int64),
    )


def collect_realistic(r: Retriever) -> Examples:
    """The examples of the realistic questions (``bench/data/realistic``): the top three hits
    of each, labelled 1 when the passage is from the question's document and holds its
    answer. The group of a question is its document, or for an unanswerable one the document
    of its top hit (folds are by document)."""
    rows: list[tuple] = []
    for qi, q in enumerate(load_questions()):
        scored = r.score(clean_question(q.question), K)
        group = q.doc or (scored[0].record.doc if scored else "")
        for rank, s in enumerate(scored):
            rows.append(
                (
                    s.features,
                    int(holds(s, q)),
                    group,
                    (int(q.answerable), rank),
                    s.cross_script,
                    s.chunk,
                    qi,
                )
            )
    cols = list(zip(*rows, strict=True))
    return Examples(
        np.array(cols[0], dtype=np.float64).reshape(-1, len(CONFIDENCE_FEATURES)),
        np.array(cols[1], dtype=np.int64),
        np.array(cols[2], dtype=object),
        np.array(cols[3], dtype=np.int64).reshape(-1, 2),
        np.array(cols[4], dtype=bool),
        np.array(cols[5], dtype=np.int64),
        np.array(cols[6], dtype=np.int64),
    )


def article_folds(zh: Examples, *others: Examples) -> list[np.ndarray]:
    """The fold (0-4) of every example: the Chinese CMRC examples by article (GroupKFold),
    then each of ``others`` (English, off-topic: same articles) following its article."""
    groups = np.unique(zh.groups.astype(str), return_inverse=True)[1]
    folds = np.zeros(len(zh.y), dtype=np.int64)
    for f, (_, te) in enumerate(GroupKFold(n_splits=5).split(zh.x, zh.y, groups)):
        folds[te] = f
    fold_of = dict(zip(zh.groups, folds, strict=True))
    return [folds, *(np.array([fold_of[g] for g in e.groups], dtype=np.int64) for e in others)]


def document_folds(real: Examples) -> np.ndarray:
    """The fold of every realistic example: its document's place among the documents, mod 5
    (each document, with the unanswerable questions whose top hit is in it, joins one fold)."""
    docs = sorted(set(real.groups.astype(str)))
    return np.array([docs.index(str(g)) % 5 for g in real.groups], dtype=np.int64)


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> LogisticRegression:
    return LogisticRegression(C=1.0, max_iter=2000).fit(x, y, sample_weight=w)


def evaluate(p: np.ndarray, y: np.ndarray, tags: np.ndarray, t: float) -> dict[str, object]:
    """Answered/refused at ``t`` (top hits), Brier, log loss and reliability of predictions."""
    top = tags[:, 1] == 0
    ans, unans = top & (tags[:, 0] == 1), top & (tags[:, 0] == 0)
    answered = float(np.mean((p[ans] >= t) & (y[ans] == 1)))
    refused = float(np.mean(p[unans] < t))
    bins = []
    for lo in np.arange(0, 1, 0.1):
        sel = (p >= lo) & (p < lo + 0.1 + (1e-9 if lo >= 0.9 else 0))
        if sel.any():
            bins.append(
                {
                    "bin": f"{lo:.1f}-{lo + 0.1:.1f}",
                    "n": int(sel.sum()),
                    "predicted": float(p[sel].mean()),
                    "observed": float(y[sel].mean()),
                }
            )
    pc = np.clip(p, 1e-12, 1 - 1e-12)
    return {
        "answerable_correctly_answered": answered,
        "unanswerable_correctly_refused": refused,
        "balanced_accuracy": (answered + refused) / 2,
        # answerable, but the top hit is not the answer and is still given as one
        "answerable_wrong_top_answered": float(np.mean((p[ans] >= t) & (y[ans] == 0))),
        "brier": float(np.mean((p - y) ** 2)),
        "log_loss": float(-np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc))),
        "by_threshold": {
            f"{th:.1f}": {
                "answered": float(np.mean((p[ans] >= th) & (y[ans] == 1))),
                "refused": float(np.mean(p[unans] < th)),
            }
            for th in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
        },
        "reliability": bins,
    }


def evaluate_realistic(p: np.ndarray, e: Examples, t: float) -> dict[str, object]:
    """The realistic set's figures at ``t`` from top-hit predictions ``p`` (out of fold)."""
    top = e.tags[:, 1] == 0
    ans, unans = top & (e.tags[:, 0] == 1), top & (e.tags[:, 0] == 0)
    m = evaluate(p, e.y, e.tags, t)
    m["answerable_accepted"] = m.pop("answerable_correctly_answered")
    m["unanswerable_refused"] = m.pop("unanswerable_correctly_refused")
    questions = {q.id: q for q in load_questions()}
    ids = list(questions)
    contra = np.array([questions[ids[i]].contradiction for i in e.question]) & unans
    m["contradiction_refused"] = float(np.mean(p[contra] < t)) if contra.any() else None
    for lang in ("zh", "en"):
        m_lang = np.array([questions[ids[i]].lang == lang for i in e.question])
        a, u = ans & m_lang, unans & m_lang
        m[f"{lang}_answerable_accepted"] = float(np.mean((p[a] >= t) & (e.y[a] == 1)))
        m[f"{lang}_unanswerable_refused"] = float(np.mean(p[u] < t))
    m["reliability_top_hit"] = evaluate(p[top], e.y[top], e.tags[top], t)["reliability"]
    m["answerable"], m["unanswerable"] = int(ans.sum()), int(unans.sum())
    return m


def at_refusal(p: np.ndarray, y: np.ndarray, tags: np.ndarray, refused: float) -> float:
    """The share of answerable questions answered right (top hit) at the threshold where the
    share ``refused`` of unanswerable ones is refused."""
    top = tags[:, 1] == 0
    ans, unans = top & (tags[:, 0] == 1), top & (tags[:, 0] == 0)
    th = float(np.quantile(p[unans], refused))
    return float(np.mean((p[ans] > th) & (y[ans] == 1)))


def oof_predict(
    train: list[tuple[np.ndarray, ...]],
    tests: list[tuple[np.ndarray, np.ndarray]],
) -> list[np.ndarray]:
    """Out-of-fold predictions: for each fold f, a model fitted on the (x, y, folds) rows of
    ``train`` outside f (optionally weighted: (x, y, folds, weights)) predicts the (x, folds)
    rows of each of ``tests`` in f."""
    out = [np.zeros(len(x)) for x, _ in tests]
    for f in range(5):
        xs = np.vstack([t[0][t[2] != f] for t in train])
        ys = np.concatenate([t[1][t[2] != f] for t in train])
        ws = np.concatenate(
            [(t[3] if len(t) > 3 else np.ones(len(t[1])))[t[2] != f] for t in train]
        )
        model = fit(xs, ys, ws)
        for (x, fo), p in zip(tests, out, strict=True):
            if (fo == f).any():
                p[fo == f] = model.predict_proba(x[fo == f])[:, 1]
    return out


def background_z(
    examples: Examples, vectors: np.ndarray, bank: np.ndarray, folds: np.ndarray
) -> np.ndarray:
    """The experimental feature, out-of-fold: an example's dense cosine minus the mean cosine
    of its chunk with the bank questions of the other folds, over their standard deviation
    (``folds``: the fold of each bank question)."""
    out = np.zeros(len(examples))
    for f in range(5):
        sims = vectors[examples.chunk] @ bank[folds != f].T
        mine = folds[examples.question] == f
        z = (examples.x[:, 0] - sims.mean(axis=1)) / np.maximum(sims.std(axis=1), 1e-6)
        out[mine] = z[mine]
    return out


def save_examples(path: Path, extra: dict[str, np.ndarray], **sets: Examples) -> None:
    arrays = dict(extra)
    for name, e in sets.items():
        for f in fields(e):
            v = getattr(e, f.name)
            arrays[f"{name}_{f.name}"] = v.astype(str) if f.name == "groups" else v
    np.savez_compressed(path, **arrays)


def load_examples(path: Path, name: str) -> Examples:
    """The ``name`` examples of a ``--save-examples`` file; a file from before a feature was
    added (fewer columns) gets 0 for it (``translated_coverage`` is 0 for Chinese questions)."""
    z = np.load(path)
    e = Examples(
        *(
            z[f"{name}_{f.name}"].astype(object) if f.name == "groups" else z[f"{name}_{f.name}"]
            for f in fields(Examples)
        )
    )
    missing = len(CONFIDENCE_FEATURES) - e.x.shape[1]
    if missing > 0:
        e.x = np.hstack([e.x, np.zeros((len(e.x), missing))])
    return e


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="bench/results/confidence.json")
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--save-examples", type=Path, help="keep the collected examples in this file")
    ap.add_argument(
        "--load-examples", type=Path, help="use examples saved by --save-examples (no questions)"
    )
    ap.add_argument("--no-write", action="store_true", help="do not write qa/data/confidence.json")
    ap.add_argument(
        "--realistic-weight",
        type=float,
        default=4.0,
        help="weight of a realistic question's example against a CMRC one",
    )
    ap.add_argument(
        "--refit-same-script",
        action="store_true",
        help="also refit the same-script model (by default its shipped weights are kept)",
    )
    ap.add_argument(
        "--previous", type=Path, help="the model file to compare with (default: the shipped one)"
    )
    args = ap.parse_args()
    t = args.threshold

    # the shipped model as it is now, before this run rewrites it (or another model file)
    previous_path = args.previous or ConfidenceModel.PATH
    previous = ConfidenceModel(previous_path)
    previous_note = json.loads(previous_path.read_text(encoding="utf-8")).get("trained_on", "")
    if args.load_examples:
        zh, en, off, real = (
            load_examples(args.load_examples, n) for n in ("zh", "en", "off", "real")
        )
        with np.load(args.load_examples) as z:
            bank, vec_cmrc, vec_off = z["bank"], z["vectors_cmrc"], z["vectors_off"]
    else:
        paras, settings = cmrc_index(limit=args.limit)
        r = Retriever(settings.index_dir, settings)
        r.warm_up()
        english = load_english()
        zh = collect(r, paras)
        en = collect(r, paras, english)
        r_off = Retriever(default_corpus_index().index_dir, settings, embedder=r.embedder)
        off = collect(r_off, paras, english, conditions=(None,))
        texts = [english.get(q.id, "") for p in paras for q in p.questions if q.question.strip()]
        bank = r.embedder.embed_queries([clean_question(q) if q else "?" for q in texts])
        vec_cmrc, vec_off = r.index.vectors(), r_off.index.vectors()
        r_real = Retriever(realistic_index().index_dir, settings, embedder=r.embedder)
        real = collect_realistic(r_real)
        if args.save_examples:
            extra = {"bank": bank, "vectors_cmrc": vec_cmrc, "vectors_off": vec_off}
            save_examples(args.save_examples, extra, zh=zh, en=en, off=off, real=real)
    x, y, tags = zh.x, zh.y, zh.tags
    folds, en_folds, off_folds = article_folds(zh, en, off)

    results: dict[str, object] = {}
    for name, cols in (("full", slice(None)), ("dense_only", DENSE_ONLY)):
        (p,) = oof_predict([(x[:, cols], y, folds)], [(x[:, cols], folds)])
        results[name] = evaluate(p, y, tags, t)
        print(name, json.dumps(results[name], indent=1), file=sys.stderr)

    # English questions: every passage is Chinese, so cross-script (any other example would be
    # scored by the full model, as in qa.search)
    names = list(CONFIDENCE_FEATURES)
    cx = en.cross
    en_cross = en.select(cx)
    full_en, full_off = oof_predict([(x, y, folds)], [(en.x, en_folds), (off.x, off_folds)])
    off_top = off.tags[:, 1] == 0

    def system(p_cross: np.ndarray, p_full: np.ndarray, cross: np.ndarray) -> np.ndarray:
        """Predictions as qa.search makes them: the cross-script model where scripts differ."""
        p = p_full.copy()
        p[cross] = p_cross
        return p

    def measure(x_en: np.ndarray, x_off: np.ndarray, train=None) -> dict[str, object]:
        """Out-of-fold figures of a cross-script model over the given English (and off-topic)
        features, fitted on the English examples, or on ``train`` (x, y, folds)."""
        tr = train or [(x_en[cx], en_cross.y, en_folds[cx])]
        p_en, p_off = oof_predict(
            tr, [(x_en[cx], en_folds[cx]), (x_off[off.cross], off_folds[off.cross])]
        )
        p_en = system(p_en, full_en, cx)
        p_off = system(p_off, full_off, off.cross)
        m = evaluate(p_en, en.y, en.tags, t)
        m["offtopic_refused"] = float(np.mean(p_off[off_top] < t))
        return m

    def prev_predict(e: Examples) -> np.ndarray:
        return np.array([previous.predict(f, bool(c)) for f, c in zip(e.x, e.cross, strict=True)])

    english: dict[str, object] = {
        "examples": len(en),
        "cross_script_examples": int(cx.sum()),
        "questions": int(np.sum((en.tags[:, 0] == 1) & (en.tags[:, 1] == 0))),
        "offtopic_questions": int(off_top.sum()),
    }
    prev = evaluate(prev_predict(en), en.y, en.tags, t)
    prev["offtopic_refused"] = float(np.mean(prev_predict(off)[off_top] < t))
    english["previous_model"] = prev
    english["previous_model_trained_on"] = previous_note
    english["zh_trained_dense_only"] = measure(
        en.x[:, DENSE_ONLY], off.x[:, DENSE_ONLY], train=[(x[:, DENSE_ONLY], y, folds)]
    )
    english["cross_script_model"] = measure(en.x[:, DENSE_ONLY], off.x[:, DENSE_ONLY])
    english["cross_script_model_features"] = [names[i] for i in DENSE_ONLY]

    subsets = []
    for n in range(1, 4):
        for combo in itertools.combinations(CROSS_CANDIDATES, n):
            c = [names.index(f) for f in combo]
            m = measure(en.x[:, c], off.x[:, c])
            subsets.append(
                {"features": list(combo)} | {k: m[k] for k in (*FIGURES, "offtopic_refused")}
            )
    subsets.sort(key=lambda s: s["log_loss"])
    english["feature_subsets_by_log_loss"] = subsets

    # experiment: the background-standardised cosine as one more cross-script feature
    q_folds = np.full(len(bank), -1, dtype=np.int64)
    q_folds[en.question] = en_folds
    bz_en = background_z(en, vec_cmrc, bank, q_folds)[:, None]
    bz_off = background_z(off, vec_off, bank, q_folds)[:, None]
    experiment = {}
    for combo in (tuple(names[i] for i in DENSE_ONLY), ("dense_z", "dense_gap", "top", "sentence")):
        c = [names.index(f) for f in combo]
        for with_bz in (False, True):
            xe = np.hstack([en.x[:, c], bz_en]) if with_bz else en.x[:, c]
            xo = np.hstack([off.x[:, c], bz_off]) if with_bz else off.x[:, c]
            m = measure(xe, xo)
            key = "+".join(combo) + ("+background_z" if with_bz else "")
            experiment[key] = {k: m[k] for k in (*FIGURES, "offtopic_refused")} | {
                "reliability": m["reliability"]
            }
    english["experiment_background_z"] = experiment
    results["english"] = english
    results["examples"] = len(y)
    results["questions"] = int(np.sum((tags[:, 0] == 1) & (tags[:, 1] == 0)))
    results["threshold"] = t
    results["code"] = code_state()

    # the realistic questions: each document is one fold (with a fifth of the CMRC articles);
    # an unanswerable question goes with the document of its top hit
    docs = sorted(set(real.groups.astype(str)))
    real_folds = document_folds(real)
    rw = np.full(len(real), args.realistic_weight)
    zw = np.ones(len(y))
    rx, rc = real.x, real.cross
    zeros_off = np.zeros(int(off.cross.sum()), dtype=np.int64)

    def cross_train(cols: list[int], recipe: str) -> list[tuple[np.ndarray, ...]]:
        """The training sets of a cross-script model over the feature columns ``cols``: the
        English CMRC questions over the Chinese paragraphs and over the default corpus (which
        answers none of them: hub chunks), with, for ``recipe`` "all" (as before the bridge),
        every Chinese and realistic example, or for "cross" only the realistic examples whose
        passage is in another script than the question."""
        sets = [
            (en.x[en.cross][:, cols], en.y[en.cross], en_folds[en.cross]),
            (off.x[off.cross][:, cols], zeros_off, off_folds[off.cross]),
        ]
        if recipe == "cross":
            return [*sets, (rx[rc][:, cols], real.y[rc], real_folds[rc], rw[rc])]
        if recipe == "all+coverage":  # a same-script passage's translated coverage: its own
            xs, rs = x.copy(), rx.copy()
            xs[:, TC] = x[:, LC]
            rs[~rc, TC] = rx[~rc, LC]
            return [*sets, (xs[:, cols], y, folds, zw), (rs[:, cols], real.y, real_folds, rw)]
        return [*sets, (x[:, cols], y, folds, zw), (rx[:, cols], real.y, real_folds, rw)]

    dense_train = cross_train(DENSE_ONLY, CROSS_RECIPE)
    full_train = [(x, y, folds, zw), (rx[~rc], real.y[~rc], real_folds[~rc], rw[~rc])]
    p_zh, p_real = oof_predict(full_train, [(x, folds), (rx, real_folds)])
    p_real_full = p_real.copy()
    (p_real_dense,) = oof_predict(dense_train, [(rx[:, DENSE_ONLY], real_folds)])
    p_real = system(p_real_dense[rc], p_real, rc)
    old = list(range(7))  # the features of the model this replaces, fitted as it was
    (p_zh_old,) = oof_predict([(x[:, old], y, folds)], [(x[:, old], folds)])
    (p_real_old,) = oof_predict([(x[:, old], y, folds)], [(rx[:, old], real_folds)])
    (p_real_old_dense,) = oof_predict(
        [(x[:, [5, 6, 4]], y, folds)], [(rx[:, [5, 6, 4]], real_folds)]
    )
    p_real_old = system(p_real_old_dense[rc], p_real_old, rc)
    results["cmrc_old_recipe"] = evaluate(p_zh_old, y, tags, t)
    results["cmrc_new"] = evaluate(p_zh, y, tags, t)
    results["realistic_old_recipe"] = evaluate_realistic(p_real_old, real, t)
    results["realistic_new"] = evaluate_realistic(p_real, real, t)
    results["realistic_weight"] = args.realistic_weight
    results["realistic_folds"] = dict(zip(docs, range(len(docs)), strict=True))

    # the cross-script feature sets and training recipes, out of fold: English CMRC (right top
    # hits' confidence, answered, refused), off-topic, and the realistic set as qa.search
    # scores it (same-script hits by the full model)
    top_right = (en.tags[:, 0] == 1) & (en.tags[:, 1] == 0) & (en.y == 1)
    recipes: dict[str, object] = {}
    for set_name, feats in CROSS_SETS.items():
        cols = [names.index(f) for f in feats]
        for recipe in ("all", "cross", "all+coverage"):
            p_en, p_off, p_rl = oof_predict(
                cross_train(cols, recipe),
                [(en.x[:, cols], en_folds), (off.x[:, cols], off_folds), (rx[:, cols], real_folds)],
            )
            pe = system(p_en[cx], full_en, cx)
            po = system(p_off[off.cross], full_off, off.cross)
            pr = system(p_rl[rc], p_real_full, rc)
            m = evaluate(pe, en.y, en.tags, t)
            rl = evaluate_realistic(pr, real, t)
            recipes[f"{set_name} ({recipe})"] = {
                "en_answered_right": m["answerable_correctly_answered"],
                "en_unanswerable_refused": m["unanswerable_correctly_refused"],
                "en_offtopic_refused": float(np.mean(po[off_top] < t)),
                "en_right_top_median": float(np.median(pe[top_right])),
                "en_right_top_share_at_threshold": float(np.mean(pe[top_right] >= t)),
                "en_log_loss": m["log_loss"],
                # the share answered right at the threshold that refuses as many unanswerable
                # questions as the previous model file does at ``t`` (a ranking comparison)
                "en_answered_right_at_previous_refusal": at_refusal(
                    pe, en.y, en.tags, prev["unanswerable_correctly_refused"]
                ),
                "en_brier": m["brier"],
            } | {
                f"realistic_{k}": rl[k]
                for k in (
                    "answerable_accepted",
                    "unanswerable_refused",
                    "en_answerable_accepted",
                    "en_unanswerable_refused",
                )
            }
            print(
                f"{set_name} ({recipe})",
                json.dumps(recipes[f"{set_name} ({recipe})"]),
                file=sys.stderr,
            )
    results["cross_script_recipes"] = recipes
    results["cross_script_shipped"] = {
        "features": [names[i] for i in DENSE_ONLY],
        "recipe": CROSS_RECIPE,
    }

    full = fit(
        np.vstack([x, rx[~rc]]), np.concatenate([y, real.y[~rc]]), np.concatenate([zw, rw[~rc]])
    )
    dense = fit(
        np.vstack([t[0] for t in dense_train]),
        np.concatenate([t[1] for t in dense_train]),
        np.concatenate([t[3] if len(t) > 3 else np.ones(len(t[1])) for t in dense_train]),
    )
    same_script = {
        "features": [n for n in CONFIDENCE_FEATURES if n != "translated_coverage"],
        "bias": float(full.intercept_[0]),
        "weights": [
            float(w) for i, w in enumerate(full.coef_[0]) if names[i] != "translated_coverage"
        ],
    }
    if not args.refit_same_script:  # keep the shipped same-script model as it is
        old_model = json.loads(ConfidenceModel.PATH.read_text(encoding="utf-8"))
        same_script = {k: old_model[k] for k in ("features", "bias", "weights")}
    model = {
        **same_script,
        "dense_only": {
            "features": [CONFIDENCE_FEATURES[i] for i in DENSE_ONLY],
            "bias": float(dense.intercept_[0]),
            "weights": [float(w) for w in dense.coef_[0]],
        },
        "trained_on": "CMRC 2018 trial: answerable (full corpus) and unanswerable (own paragraph "
        "removed) questions, top-3 hits, with the realistic questions of bench/data/realistic "
        f"(weight {args.realistic_weight}); the full model on the same-script examples, the "
        f"cross-script (dense_only) model on {'all of them' if CROSS_RECIPE == 'all' else 'the cross-script ones'} "
        "with the English CMRC questions (dictionary bridge on) over "
        "the Chinese paragraphs and over the default corpus (unanswerable)"
        + "; bench/train_confidence.py",
    }
    if not args.no_write:
        ConfidenceModel.PATH.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
    results["model"] = model
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    summary = (
        {
            k: {
                kk: vv for kk, vv in results[k].items() if kk not in ("reliability", "by_threshold")
            }
            for k in ("cmrc_old_recipe", "cmrc_new", "realistic_old_recipe", "realistic_new")
        }
        | {
            "zh_full": {k: results["full"][k] for k in FIGURES},
            "zh_dense_only": {k: results["dense_only"][k] for k in FIGURES},
        }
        | {
            f"en_{k}": {kk: english[k][kk] for kk in (*FIGURES, "offtopic_refused")}
            for k in ("previous_model", "zh_trained_dense_only", "cross_script_model")
        }
    )
    summary["en_best_subsets"] = subsets[:5]
    summary["cross_script_recipes"] = recipes
    summary["en_experiment_background_z"] = {
        k: {kk: v[kk] for kk in (*FIGURES, "offtopic_refused")} for k, v in experiment.items()
    }
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
