"""How to fuse dense and lexical retrieval: recall@1/5 on CMRC 2018 for BM25 alone, dense
alone, reciprocal-rank fusion and weighted sums of normalised scores at several lexical
weights, each question embedded once and every variant fused from the same scores.

    python bench/fusion_sweep.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_retrieval import ranking_metrics
from common import cmrc_index, doc_name

from qa.lexical import analyze
from qa.search import Retriever, clean_question, fuse


def main() -> None:
    paras, settings = cmrc_index()
    r = Retriever(settings.index_dir, settings)
    r.warm_up()
    idx = r.index
    qs = [(q, doc_name(p)) for p in paras for q in p.questions if q.question.strip()]
    texts = [clean_question(q.question) for q, _ in qs]
    qvecs = r.embedder.embed_queries(texts)
    cand = settings.candidates
    dsc, dids = idx.dense.search(qvecs, cand)
    lex = [idx.lexical.scores(analyze(t)) for t in texts]
    gold = [g for _, g in qs]
    variants: dict[str, dict] = {
        "bm25": {"dense_weight": 0.0, "lw": 1.0},
        "dense": {"dense_weight": 1.0, "lw": 0.0},
        "rrf": {"dense_weight": 1.0, "lw": 1.0, "method": "rrf"},
    }
    for w in (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0):
        variants[f"score lw={w}"] = {"dense_weight": 1.0, "lw": w}
    for w in (0.5, 1.0, 2.0, 3.0, 4.0):
        variants[f"abs lw={w}"] = {"dense_weight": 1.0, "lw": w, "abs": True}
    ub = [idx.lexical.upper_bound(analyze(t)) for t in texts]
    for name, v in variants.items():
        ranked = []
        for i in range(len(qs)):
            f = fuse(
                dids[i],
                dsc[i],
                lex[i],
                v["lw"],
                v["dense_weight"],
                cand,
                v.get("method", "score"),
                lex_scale=ub[i] if v.get("abs") else None,
            )
            ranked.append([idx.chunks[int(j)].doc for j in f.ids[:10]])
        m = ranking_metrics(ranked, gold)
        print(f"{name:16s} " + "  ".join(f"{k} {x:.4f}" for k, x in m.items()))


if __name__ == "__main__":
    main()
