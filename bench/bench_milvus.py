"""FAISS files against Milvus Lite, side by side in one run, on the CMRC 2018 trial set (or on a
larger corpus that holds the CMRC paragraphs, with ``--corpus``).

Builds the index from nothing in a temporary folder (the FAISS build time: reading, chunking,
embedding, writing), publishes it to a new Milvus Lite file (the extra Milvus time), then asks
every question through ``Retriever.run`` on both stores, alternating question by question so
that both see the same machine load, and reports recall@1/@5 (by document), query p50/p95 and
how many questions get the same top-5 passages. Also measured on the same Milvus candidates:
Milvus' own ``hybrid_search`` fusion (RRFRanker, WeightedRanker) against qa's fusion, ranking
only; and an incremental publish after 1% of the documents changed.

    python bench/bench_milvus.py [--limit N] [--corpus DIR --gold-prefix cmrc/] [--out FILE]
        [--index DIR] [--questions N] [--fusion-questions N]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_retrieval import ranking_metrics
from cmrc import load_cmrc
from common import DATA, doc_name, write_corpus, write_results

from qa import milvus
from qa.index import build_index, load_index
from qa.lexical import analyze
from qa.search import Retriever, clean_question
from qa.settings import DEFAULTS


def load() -> str:
    return os.getloadavg().__repr__()


def pct(xs: list[float], q: float) -> float:
    return 1000 * float(np.percentile(xs, q))


def native_hybrid(r: Retriever, questions: list[str], gold: list[str]) -> dict[str, object]:
    """recall of Milvus' hybrid_search (RRF k=60, and weighted 0.5/0.5) against qa's fusion
    over the same Milvus store; ranking only (no highlighting)."""
    from pymilvus import AnnSearchRequest, RRFRanker, WeightedRanker

    idx, st = r.index, r.settings
    store = idx.store
    c = milvus.client(store)
    flt = f"born <= {idx.generation} and died > {idx.generation}"
    out: dict[str, object] = {}
    rankers = {"milvus_rrf": RRFRanker(60), "milvus_weighted": WeightedRanker(0.5, 0.5)}
    for name, ranker in rankers.items():
        ranked, lat = [], []
        for q in questions:
            t = time.perf_counter()
            text = clean_question(q, st)
            qvec = r.embedder.embed_queries([text])[0]
            reqs = [
                AnnSearchRequest(
                    data=[qvec.tolist()],
                    anns_field="dense",
                    param={"metric_type": "IP"},
                    limit=st.candidates,
                    expr=flt,
                )
            ]
            sq = idx.lexical.query_vector(analyze(text))
            if sq:
                reqs.append(
                    AnnSearchRequest(
                        data=[sq],
                        anns_field="sparse",
                        param={"metric_type": "IP"},
                        limit=st.candidates,
                        expr=flt,
                    )
                )
            res = c.hybrid_search(
                store.collection,
                reqs=reqs,
                ranker=ranker if len(reqs) == 2 else RRFRanker(60),
                limit=10,
                output_fields=["chunk"],
            )
            lat.append(time.perf_counter() - t)
            ranked.append([h["entity"]["chunk"]["doc"] for h in res[0]])
        out[name] = {
            **ranking_metrics(ranked, gold),
            "p50_ms": pct(lat, 50),
            "p95_ms": pct(lat, 95),
        }
        print(name, out[name], file=sys.stderr)
    ranked, lat = [], []
    for q in questions:
        t = time.perf_counter()
        f = r.rank(clean_question(q, st))
        lat.append(time.perf_counter() - t)
        ranked.append([idx.chunks[int(j)].doc for j in f.ids[:10]])
    out["qa_fusion_on_milvus"] = {
        **ranking_metrics(ranked, gold),
        "p50_ms": pct(lat, 50),
        "p95_ms": pct(lat, 95),
    }
    print("qa_fusion_on_milvus", out["qa_fusion_on_milvus"], file=sys.stderr)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="bench/results/milvus.json")
    ap.add_argument("--limit", type=int, default=0, help="only the first N CMRC paragraphs")
    ap.add_argument("--corpus", type=Path, help="a corpus folder that holds the CMRC paragraphs")
    ap.add_argument("--gold-prefix", default="", help="where the CMRC files are in --corpus")
    ap.add_argument("--index", type=Path, help="reuse (update) this index folder: no fresh build")
    ap.add_argument("--questions", type=int, default=0, help="only the first N questions")
    ap.add_argument(
        "--fusion-questions", type=int, default=0, help="only N questions for the fusion part"
    )
    args = ap.parse_args()

    paras = load_cmrc(DATA)
    if args.limit:
        paras = paras[: args.limit]
    work = Path(tempfile.mkdtemp(prefix="qa-bench-milvus-"))
    if args.corpus:
        corpus = args.corpus
    else:
        corpus = work / "corpus"
        write_corpus(paras, corpus)
    index = args.index or work / "index"
    settings = dataclasses.replace(DEFAULTS, corpus_dir=corpus, index_dir=index)
    results: dict[str, object] = {"load_before": load()}

    t = time.perf_counter()
    report = build_index(corpus, index, settings=settings, show_progress_bar=True)
    faiss_build = time.perf_counter() - t
    print(report.summary(), file=sys.stderr)
    store = f"milvus:{work / 'qa.db'}"
    t = time.perf_counter()
    pub = milvus.publish(load_index(index), store)
    publish_s = time.perf_counter() - t
    print(pub.summary(), file=sys.stderr)
    results["build"] = {
        "chunks": report.chunks,
        "files": report.files_read,
        "embedded": report.embedded,
        "faiss_build_s": faiss_build,
        "milvus_publish_s": publish_s,
        "milvus_build_s": faiss_build + publish_s,
        "milvus_over_faiss": (faiss_build + publish_s) / faiss_build,
        "load": load(),
    }

    questions = [
        (q.question, args.gold_prefix + doc_name(p))
        for p in paras
        for q in p.questions
        if q.question.strip()
    ]
    if args.questions:
        questions = questions[: args.questions]
    local = Retriever(index, settings)
    local.warm_up()
    remote = Retriever(index, dataclasses.replace(settings, store=store), local.embedder)
    t = time.perf_counter()
    remote.warm_up()
    results["milvus_load_s"] = time.perf_counter() - t
    lat: dict[str, list[float]] = {"faiss": [], "milvus": []}
    ranked: dict[str, list[list[str]]] = {"faiss": [], "milvus": []}
    same_top5 = same_top1 = 0
    for i, (q, _) in enumerate(questions):
        got = {}
        order = [("faiss", local), ("milvus", remote)]
        for name, r in order if i % 2 == 0 else order[::-1]:
            t = time.perf_counter()
            r.refresh()  # as qa.retrieve does: the pointer check is part of a question's cost
            hits = r.run(q, 10)
            lat[name].append(time.perf_counter() - t)
            ranked[name].append([h.doc for h in hits])
            got[name] = [(h.doc, h.start, h.end) for h in hits[:5]]
        if i % 100 == 99:
            print(f"{i + 1} questions, load {load()}", file=sys.stderr, flush=True)
        same_top5 += got["faiss"] == got["milvus"]
        same_top1 += got["faiss"][:1] == got["milvus"][:1]
    gold = [g for _, g in questions]
    for name in ("faiss", "milvus"):
        results[name] = {
            **ranking_metrics(ranked[name], gold),
            "p50_ms": pct(lat[name], 50),
            "p95_ms": pct(lat[name], 95),
        }
        print(name, results[name], file=sys.stderr)
    n = len(questions)
    results["same_top1"] = same_top1 / n
    results["same_top5"] = same_top5 / n
    results["questions"] = n
    results["load_after_queries"] = load()
    nf = args.fusion_questions or n
    results["fusion_questions"] = nf
    results["fusion"] = native_hybrid(remote, [q for q, _ in questions[:nf]], gold[:nf])

    # an incremental publish: 1% of the documents changed (one sentence appended)
    files = sorted(p for p in corpus.rglob("*.txt"))
    changed = files[::100]
    backup = {p: p.read_bytes() for p in changed}
    try:
        for p in changed:
            p.write_text(p.read_text(encoding="utf-8") + "\n本段落已更新。\n", encoding="utf-8")
        t = time.perf_counter()
        rep2 = build_index(corpus, index, settings=settings)
        rebuild_s = time.perf_counter() - t
        t = time.perf_counter()
        pub2 = milvus.publish(load_index(index), store)
        republish_s = time.perf_counter() - t
    finally:
        for p, data in backup.items():
            p.write_bytes(data)
    results["incremental"] = {
        "files_changed": len(changed),
        "faiss_rebuild_s": rebuild_s,
        "embedded": rep2.embedded,
        "milvus_publish_s": republish_s,
        "rows_written": pub2.added,
        "rows_removed": pub2.removed,
        "rewritten": pub2.rewritten,
        "load": load(),
    }
    print(results["incremental"], file=sys.stderr)
    results["machine"] = (
        f"{platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}"
    )
    milvus.close(milvus.parse_store(store))
    if not args.index:
        shutil.rmtree(work, ignore_errors=True)
    write_results(results, args.out)


if __name__ == "__main__":
    main()
