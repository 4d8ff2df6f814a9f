"""Retrieval benchmark on the CMRC 2018 trial set.

Indexes every paragraph as one file, asks all questions through ``Retriever.run`` (the code
``qa.retrieve`` uses) and reports recall@1, recall@5, MRR@10, the share of questions whose top
passage is right and whose first highlight contains the answer, answer EM/F1 (official CMRC
metric), build passages/s and query latency; plus the same ranking figures for BM25 alone, dense
alone and reciprocal-rank fusion, measured in the same run on the same index.

    python bench/bench_retrieval.py [--out bench/results/retrieval.json] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cmrc import cmrc_em, cmrc_f1
from common import BUILD_REPORTS, cmrc_index, doc_name, write_results

from qa import sentences
from qa.lexical import analyze
from qa.search import Retriever, clean_question, fuse
from qa.trees import TreeEnsemble


def ranking_metrics(ranked_docs: list[list[str]], gold: list[str]) -> dict[str, float]:
    """recall@1, recall@5 and MRR@10 of per-question ranked doc lists."""
    r1 = r5 = mrr = 0.0
    for docs, g in zip(ranked_docs, gold, strict=True):
        # several chunks of one document count once, at their best rank
        seen: list[str] = []
        for d in docs:
            if d not in seen:
                seen.append(d)
        if seen[:1] == [g]:
            r1 += 1
        if g in seen[:5]:
            r5 += 1
        if g in seen[:10]:
            mrr += 1.0 / (seen.index(g) + 1)
    n = max(len(gold), 1)
    return {"recall@1": r1 / n, "recall@5": r5 / n, "mrr@10": mrr / n}


def held_out_models(path: Path) -> dict[str, dict[str, TreeEnsemble]]:
    """Article title -> the tree models of the fold that held it out."""
    data = json.loads(path.read_text(encoding="utf-8"))
    out = {}
    for fold in data["folds"]:
        models = {k: TreeEnsemble(v) for k, v in fold["models"].items()}
        for title in fold["articles"]:
            out[title] = models
    return out


def overlaps(text: str, span: tuple[int, int], answers: list[str]) -> bool:
    """True if an occurrence of an answer text in ``text`` overlaps ``span`` (the looser
    reading: the highlight shows at least part of the answer)."""
    s, e = span
    for a in answers:
        i = text.find(a) if a else -1
        while i >= 0:
            if i < e and s < i + len(a):
                return True
            i = text.find(a, i + 1)
    return False


def compare_fusions(r: Retriever, questions: list[str], gold: list[str]) -> dict[str, object]:
    """Ranking metrics of BM25 alone, dense alone, RRF and the default fusion, from the same
    per-question scores (each question embedded once)."""
    idx, st = r.index, r.settings
    texts = [clean_question(q, st) for q in questions]
    dsc, dids = idx.dense.search(r.embedder.embed_queries(texts), st.candidates)
    lex = [idx.lexical.scores(analyze(t)) for t in texts]
    variants = {
        "fused": (st.dense_weight, st.lexical_weight, st.fusion),
        "bm25": (0.0, 1.0, "score"),
        "dense": (1.0, 0.0, "score"),
        "rrf": (1.0, 1.0, "rrf"),
    }
    out: dict[str, object] = {}
    for name, (dw, lw, method) in variants.items():
        ranked = []
        for i in range(len(texts)):
            f = fuse(dids[i], dsc[i], lex[i], lw, dw, st.candidates, method)
            ranked.append([idx.chunks[int(j)].doc for j in f.ids[:10]])
        out[name] = ranking_metrics(ranked, gold)
        print(name, out[name], file=sys.stderr)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="bench/results/retrieval.json")
    ap.add_argument("--limit", type=int, default=0, help="only the first N paragraphs")
    ap.add_argument("--fresh", action="store_true", help="build from nothing (times the build)")
    ap.add_argument(
        "--highlight-folds",
        type=Path,
        help="score each question's highlights with the sentence-scorer fold model that did not "
        "see its article (written by bench/train_highlight.py --folds-out): held-out figures",
    )
    args = ap.parse_args()

    if args.fresh:  # time a build from nothing, in a temporary folder
        paras, settings = cmrc_index(Path(tempfile.mkdtemp(prefix="qa-bench-")), args.limit)
    else:
        paras, settings = cmrc_index(limit=args.limit)
    index = settings.index_dir
    report = BUILD_REPORTS[-1]
    build_s = report.seconds

    questions = [(q, doc_name(p)) for p in paras for q in p.questions if q.question.strip()]
    title_of = {doc_name(p): p.title or p.id for p in paras}
    skipped_questions = sum(len(p.questions) for p in paras) - len(questions)
    main_r = Retriever(index, settings)
    main_r.warm_up()
    results: dict[str, object] = {}
    results.update(
        compare_fusions(main_r, [q.question for q, _ in questions], [g for _, g in questions])
    )

    # the full path, with highlighting and latency
    lat, hl_hit, hl_overlap, hl_chars, in_top, em, f1, ranked = [], 0, 0, 0, 0, 0.0, 0.0, []
    conf_right, conf_wrong = [], []
    fold_of = held_out_models(args.highlight_folds) if args.highlight_folds else {}
    for q, gold in questions:
        if fold_of:
            models = fold_of[title_of[gold]]
            sentences.tree_models = lambda models=models: models  # read per call
        t = time.perf_counter()
        hits = main_r.run(q.question, 10)
        lat.append(time.perf_counter() - t)
        ranked.append([h.doc for h in hits])
        top = hits[0]
        right = top.doc == gold
        (conf_right if right else conf_wrong).append(top.confidence)
        if right and any(a in top.text for a in q.answers):
            in_top += 1
        if right and any(a in top.sentence for a in q.answers):
            hl_hit += 1
        if right and top.highlights and overlaps(top.text, top.highlights[0], q.answers):
            hl_overlap += 1
        hl_chars += len(top.sentence)
        if right:
            em += cmrc_em(top.answer_text or "", q.answers)
            f1 += cmrc_f1(top.answer_text or "", q.answers)
    n = len(questions)
    full = ranking_metrics(ranked, [g for _, g in questions])
    full.update(
        {
            "top_passage_contains_answer": in_top / n,
            "first_highlight_contains_answer": hl_hit / n,
            "first_highlight_contains_answer_when_top_passage_does": hl_hit / max(in_top, 1),
            "first_highlight_overlaps_answer": hl_overlap / n,
            "first_highlight_mean_chars": hl_chars / n,
            "answer_em": em / n,
            "answer_f1": f1 / n,
            "latency_median_ms": 1000 * statistics.median(lat),
            "latency_p95_ms": 1000 * float(np.percentile(lat, 95)),
        }
    )
    results["full"] = full
    results["build"] = {
        "passages": report.chunks,
        "files": report.files_read,
        "seconds": build_s,
        "embedded": report.embedded,
        "passages_per_s": report.embedded / build_s if report.embedded else None,
    }
    results["questions"] = n
    results["highlight_models"] = (
        f"held-out folds from {args.highlight_folds}" if fold_of else "shipped (trained on all)"
    )
    results["empty_questions_skipped"] = skipped_questions
    results["machine"] = (
        f"{platform.machine()}, {platform.processor() or ''} python {platform.python_version()}"
    )
    write_results(results, args.out)


if __name__ == "__main__":
    main()
