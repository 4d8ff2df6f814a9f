"""English questions over the Chinese CMRC 2018 paragraphs (cross-language retrieval).

Asks the hand-written English version of every non-empty CMRC 2018 trial question
(``bench/data/cmrc2018/questions_en.jsonl``) twice, with the dictionary bridge of
``qa/translate.py`` (``en``) and without it (``en_before``: ``cross_lexical_weight=0``, the
dense side alone, as before it), and, in the same run, its Chinese original (``zh``), through
``Retriever.run(question, 10)`` (the code ``qa.retrieve`` uses) on the same reusable index as
the other benchmarks. Reported per language: recall@1, recall@5, MRR@10 (by document), how often
the top passage contains the answer text and its first highlight does, the confidence of the
top hit when it is right (the question's paragraph, holding the answer or not) and when it is
wrong, and the share answered at the threshold (top hit's confidence >= it). Then the no-answer
cases: each question asked against the corpus without its own paragraph, and against the
project's default corpus (``corpus/``, a police work report that answers none of them: an
off-topic question over a small single-topic corpus); "refused" = the top hit's confidence is
below the threshold.

    python bench/bench_english.py [--out bench/results/english.json] [--limit N] [--threshold 0.5]
        [--confidence FILE]   # score with another confidence model file (e.g. an older one)
        [--compare FILE ...]  # also score the same hits with these model files (``by_model``)
        [--langs en_before en zh]  # the conditions to run (default: all three)

With ``--compare``, each condition also reports, under ``by_model``, the confidence figures
(right top hits, correctly answered, unanswerable and off-topic refused) that each other model
file gives the very same hits: the before/after of a refitted confidence model in one run.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_retrieval import ranking_metrics
from common import WORK, cmrc_index, doc_name, write_results

from qa import search, translate
from qa.confidence import ConfidenceModel
from qa.index import build_index
from qa.search import Retriever
from qa.settings import DEFAULTS, Settings

HERE = Path(__file__).resolve().parent
EN_DATA = HERE / "data" / "cmrc2018" / "questions_en.jsonl"
#: The project's default corpus: off-topic for every CMRC question.
DEFAULT_CORPUS = HERE.parent / "corpus"


def default_corpus_index(work: Path = WORK / "default") -> Settings:
    """Settings whose index (built or updated now, under ``bench/.work/``) covers the default
    corpus."""
    settings = dataclasses.replace(DEFAULTS, corpus_dir=DEFAULT_CORPUS, index_dir=work / "index")
    print(
        build_index(settings.corpus_dir, settings.index_dir, settings=settings).summary(),
        file=sys.stderr,
    )
    return settings


def load_english(path: Path = EN_DATA) -> dict[str, str]:
    """question id -> the English version of the question."""
    out: dict[str, str] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                out[str(row["id"])] = row["en"]
    return out


def code_state() -> dict[str, object]:
    """The commit measured and the files of ``qa/`` changed since it (figures depend on them)."""

    def git(*a: str) -> str:
        try:
            return subprocess.run(
                ["git", *a], cwd=HERE.parent, capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "qa_files_changed_since": git("status", "--porcelain", "--", "qa").splitlines(),
    }


def distribution(xs: list[float], t: float) -> dict[str, float | int | None]:
    """Count, mean, quantiles and the share at or above ``t`` of confidences."""
    if not xs:
        return {"n": 0}
    a = np.asarray(xs)
    q = np.percentile(a, [10, 25, 50, 75, 90])
    return {
        "n": len(xs),
        "mean": float(a.mean()),
        "p10": float(q[0]),
        "p25": float(q[1]),
        "median": float(q[2]),
        "p75": float(q[3]),
        "p90": float(q[4]),
        "share_at_or_above_threshold": float(np.mean(a >= t)),
    }


def held_out(title: str) -> bool:
    """The half of the CMRC articles (by a stable hash of the title) never looked at while
    the dictionary bridge was tuned (its figures are reported apart: ``held_out``)."""
    return int(hashlib.sha1(title.encode()).hexdigest(), 16) % 2 == 0


class Tap:
    """The confidence model ``Retriever.run`` calls, which also keeps the features of every hit
    it scores since :meth:`clear` (so other model files can score the same hits)."""

    def __init__(self, model: ConfidenceModel) -> None:
        self.model = model
        self.calls: list[tuple[np.ndarray, bool]] = []

    def predict(self, features: np.ndarray, cross_script: bool = False) -> float:
        self.calls.append((features, cross_script))
        return self.model.predict(features, cross_script)

    def clear(self) -> None:
        self.calls.clear()

    def top(self, models: dict[str, ConfidenceModel]) -> dict[str, float]:
        """Each model's confidence in the first hit scored since :meth:`clear`."""
        f, c = self.calls[0]
        return {name: m.predict(f, c) for name, m in models.items()}


#: set by main(): the tap and the other model files (``--compare``)
TAP: Tap | None = None
COMPARE: dict[str, ConfidenceModel] = {}


def compared(
    right: list[dict[str, float]],
    right_ok: list[dict[str, float]],
    unans: list[dict[str, float]],
    n: int,
    t: float,
) -> dict[str, object]:
    """The confidence figures of each ``--compare`` model over the same top hits."""
    out: dict[str, object] = {}
    for name in COMPARE:
        out[name] = {
            "confidence_top_right": distribution([c[name] for c in right], t),
            "correctly_answered": sum(c[name] >= t for c in right_ok) / n,
            "unanswerable_refused": float(np.mean([c[name] < t for c in unans])),
        }
    return out


def measure(
    r: Retriever,
    items: list[tuple[str, list[str], str]],
    t: float,
    held: frozenset[str] = frozenset(),
) -> dict[str, object]:
    """All figures for one language: ``items`` are (question, answers, gold doc); ranking
    figures also apart for the questions whose gold doc is in ``held`` and the others."""
    ranked, lat = [], []
    in_top = hl_hit = answered = answered_ok = 0
    conf = {"right_contains_answer": [], "right_answer_elsewhere": [], "wrong": []}
    other_right, other_ok, other_unans = [], [], []
    for question, answers, gold in items:
        if TAP is not None:
            TAP.clear()
        t0 = time.perf_counter()
        hits = r.run(question, 10)
        lat.append(time.perf_counter() - t0)
        if TAP is not None and COMPARE and hits[0].doc == gold:
            other_right.append(TAP.top(COMPARE))
            if any(a in hits[0].text for a in answers):
                other_ok.append(other_right[-1])
        ranked.append([h.doc for h in hits])
        top = hits[0]
        right = top.doc == gold
        holds = right and any(a in top.text for a in answers)
        in_top += holds
        hl_hit += right and any(a in top.sentence for a in answers)
        key = "right_contains_answer" if holds else "right_answer_elsewhere" if right else "wrong"
        conf[key].append(top.confidence)
        answered += top.confidence >= t
        answered_ok += holds and top.confidence >= t
    n = max(len(items), 1)
    out: dict[str, object] = ranking_metrics(ranked, [g for _, _, g in items])
    for part, want in (("held_out", True), ("tune", False)):
        sel = [i for i, (_, _, g) in enumerate(items) if (g in held) == want]
        if held and sel:
            out[part] = {
                "questions": len(sel),
                **ranking_metrics([ranked[i] for i in sel], [items[i][2] for i in sel]),
            }
    right_all = conf["right_contains_answer"] + conf["right_answer_elsewhere"]
    out.update(
        {
            "top_passage_contains_answer": in_top / n,
            "first_highlight_contains_answer": hl_hit / n,
            "first_highlight_contains_answer_when_top_passage_does": hl_hit / max(in_top, 1),
            "confidence_top_right": distribution(right_all, t),
            "confidence_top_right_contains_answer": distribution(conf["right_contains_answer"], t),
            "confidence_top_right_answer_in_other_chunk": distribution(
                conf["right_answer_elsewhere"], t
            ),
            "confidence_top_wrong": distribution(conf["wrong"], t),
            "answered": answered / n,
            # what train_confidence.py calls "answerable, correctly answered"
            "correctly_answered": answered_ok / n,
            "latency_median_ms": 1000 * statistics.median(lat) if lat else None,
            "latency_p95_ms": 1000 * float(np.percentile(lat, 95)) if lat else None,
        }
    )
    # no answer in the corpus: the same question without its own paragraph (the top hit's
    # confidence does not depend on k, so k=1)
    unans = []
    for question, _, gold in items:
        if TAP is not None:
            TAP.clear()
        unans.append(r.run(question, 1, exclude_docs=(gold,))[0].confidence)
        if TAP is not None and COMPARE:
            other_unans.append(TAP.top(COMPARE))
    out["unanswerable_refused"] = float(np.mean(np.asarray(unans) < t)) if unans else None
    out["confidence_top_unanswerable"] = distribution(unans, t)
    if COMPARE:
        out["by_model"] = compared(other_right, other_ok, other_unans, n, t)
    return out


def measure_offtopic(r: Retriever, questions: list[str], t: float) -> dict[str, object]:
    """Questions over a corpus that answers none of them: share refused, top confidences."""
    conf, other = [], []
    for q in questions:
        if TAP is not None:
            TAP.clear()
        conf.append(r.run(q, 1)[0].confidence)
        if TAP is not None and COMPARE:
            other.append(TAP.top(COMPARE))
    out: dict[str, object] = {
        "refused": float(np.mean(np.asarray(conf) < t)) if conf else None,
        "confidence_top": distribution(conf, t),
    }
    if COMPARE:
        out["by_model"] = {
            name: {
                "refused": float(np.mean([c[name] < t for c in other])),
                "confidence_top": distribution([c[name] for c in other], t),
            }
            for name in COMPARE
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="bench/results/english.json")
    ap.add_argument("--limit", type=int, default=0, help="only the first N paragraphs")
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--confidence", help="a confidence model file instead of the shipped one")
    ap.add_argument("--compare", action="append", default=[], help="another model file")
    ap.add_argument(
        "--langs", nargs="+", default=["en_before", "en", "zh"], choices=["en_before", "en", "zh"]
    )
    args = ap.parse_args()

    global TAP
    # what Retriever.run calls for every hit
    TAP = Tap(ConfidenceModel(Path(args.confidence)) if args.confidence else ConfidenceModel())
    search.confidence_model = lambda: TAP
    COMPARE.update({f: ConfidenceModel(Path(f)) for f in args.compare})

    paras, settings = cmrc_index(limit=args.limit)
    english = load_english()
    zh, en, missing = [], [], 0
    for p in paras:
        for q in p.questions:
            if not q.question.strip():
                continue
            if q.id not in english:
                missing += 1
                continue
            zh.append((q.question, q.answers, doc_name(p)))
            en.append((english[q.id], q.answers, doc_name(p)))
    held = frozenset(doc_name(p) for p in paras if held_out(p.title))
    t0 = time.perf_counter()
    dictionary = translate.dictionary()
    load_s = time.perf_counter() - t0
    r = Retriever(settings.index_dir, settings)
    r.warm_up()
    # before: the dense side alone for Chinese passages (no dictionary), in the same run
    before = dataclasses.replace(settings, cross_lexical_weight=0.0)
    r0 = Retriever(settings.index_dir, before, embedder=r.embedder)
    results: dict[str, object] = {}
    for lang, items, ret in (("en_before", en, r0), ("en", en, r), ("zh", zh, r)):
        if lang not in args.langs:
            continue
        results[lang] = measure(ret, items, args.threshold, held)
        print(lang, json.dumps(results[lang]), file=sys.stderr)
    off_index = default_corpus_index().index_dir
    for lang, items, st in (("en_before", en, before), ("en", en, settings), ("zh", zh, settings)):
        if lang not in args.langs:
            continue
        off = Retriever(off_index, st, embedder=r.embedder)
        m = measure_offtopic(off, [q for q, _, _ in items], args.threshold)
        results[lang]["offtopic_default_corpus"] = m
        print(lang, "off-topic", json.dumps(m), file=sys.stderr)
    results["dictionary"] = {
        "entries": len(dictionary.table),
        "load_seconds_in_this_process": load_s,
        "read_seconds": dictionary.seconds,
    }
    results["questions"] = len(en)
    results["questions_without_english_version"] = missing
    results["threshold"] = args.threshold
    results["confidence_model"] = str(args.confidence or ConfidenceModel.PATH)
    results["compared_models"] = list(COMPARE)
    results["passages"] = len(r.index.chunks)
    results["code"] = code_state()
    write_results(results, args.out)


if __name__ == "__main__":
    main()
