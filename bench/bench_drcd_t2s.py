"""Does embedding DRCD's traditional text converted to simplified
script (OpenCC t2s), passages and questions, lift the dense side and the fusion?

Ranking only, through qa's own Retriever.rank (fusion as shipped): (a) the index as built by
bench_traditional.py (vectors of the original text); (b) the same index with its dense side
swapped for a flat index of the t2s-converted chunk texts' vectors and the questions converted
before embedding (BM25 unchanged, on the original text and question).

    nice -n 10 .venv/bin/python bench/bench_drcd_t2s.py --part tune
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import opencc
from bench_retrieval import ranking_metrics
from bench_traditional import drcd_index, part_items

from qa.lexical import analyze
from qa.search import Retriever, clean_question


class QueryEmbedder:
    """Delegates to qa's embedder, converting (and caching) the questions it embeds."""

    def __init__(self, emb, convert=lambda t: t) -> None:
        self.emb, self.convert, self.cache = emb, convert, {}

    def warm_up(self) -> None:
        self.emb.warm_up()

    def embed_queries(self, texts):
        miss = [t for t in texts if t not in self.cache]
        if miss:
            for t, v in zip(
                miss, self.emb.embed_queries([self.convert(t) for t in miss]), strict=True
            ):
                self.cache[t] = v
        return np.stack([self.cache[t] for t in texts])

    def embed_passages(self, texts, **kw):
        return self.emb.embed_passages([self.convert(t) for t in texts], **kw)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", default="tune", choices=("tune", "held-out"))
    ap.add_argument("--weights", type=float, nargs="+", default=[1.0, 1.5])
    ap.add_argument("--out", default="")
    args = ap.parse_args()

    t2s = opencc.OpenCC("t2s")
    paras, settings = drcd_index()
    base = Retriever(settings.index_dir, settings)
    base.warm_up()
    emb = base.embedder
    idx, scripts = base._snapshot()
    n = len(idx.chunks)
    texts = [idx.chunks.text(i) for i in range(n)]
    docs = [idx.chunks[i].doc for i in range(n)]

    # conversion cost
    t0 = time.perf_counter()
    conv = [t2s.convert(t) for t in texts]
    t_conv = time.perf_counter() - t0
    changed = sum(a != b for a, b in zip(texts, conv, strict=True))
    chars = sum(map(len, texts))
    print(
        f"t2s: {n} chunks, {chars} chars, {t_conv:.2f} s ({1000 * t_conv / n:.2f} s/1000 "
        f"chunks), {changed} changed",
        file=sys.stderr,
    )

    # (b) vectors of the converted passages, as the build would embed them
    t0 = time.perf_counter()
    vecs = emb.embed_passages(conv, show_progress_bar=False)
    t_emb = time.perf_counter() - t0
    flat = faiss.IndexFlatIP(vecs.shape[1])
    flat.add(np.ascontiguousarray(vecs, dtype=np.float32))
    print(f"embedded {n} converted chunks in {t_emb:.0f} s", file=sys.stderr)

    items = part_items(paras, args.part)
    qs = [clean_question(q, settings) for q, _, _ in items]
    gold = [g for _, _, g in items]
    t0 = time.perf_counter()
    for q in qs:
        t2s.convert(q)
    t_qconv = time.perf_counter() - t0

    variants = {
        "a_original": (QueryEmbedder(emb), (idx, scripts)),
        "b_t2s": (QueryEmbedder(emb, t2s.convert), (dataclasses.replace(idx, dense=flat), scripts)),
    }
    cand = min(settings.candidates, n)
    lex_ranked = []
    for q in qs:
        s = idx.lexical.scores(analyze(q))
        top = np.argsort(-s, kind="stable")[:cand]
        lex_ranked.append([docs[i] for i in top if s[i] > 0])
    results: dict[str, object] = {
        "part": args.part,
        "questions": len(qs),
        "chunks": n,
        "t2s_seconds_per_1000_chunks": 1000 * t_conv / n,
        "t2s_ms_per_question": 1000 * t_qconv / len(qs),
        "chunks_changed_by_t2s": changed,
        "bm25_alone": ranking_metrics(lex_ranked, gold),
    }
    for name, (qemb, state) in variants.items():
        out: dict[str, object] = {}
        qv = qemb.embed_queries(qs)
        _, dids = state[0].dense.search(qv, cand)
        out["dense_alone"] = ranking_metrics(
            [[docs[i] for i in row if i >= 0] for row in dids], gold
        )
        for w in args.weights:
            st = dataclasses.replace(settings, lexical_weight=w)
            r = Retriever(settings.index_dir, st, embedder=qemb)
            ranked = [[docs[int(i)] for i in r.rank(q, state=state).ids[:50]] for q in qs]
            out[f"fused_lexical_weight_{w}"] = ranking_metrics(ranked, gold)
        results[name] = out
        print(name, out, file=sys.stderr)
    text = json.dumps(results, indent=1)
    print(text)
    Path(args.out or f"bench/results/drcd_t2s_dense_{args.part}.json").write_text(text)


if __name__ == "__main__":
    main()
