"""Matching untranslated English names by sound (qa/transliterate.py), ranking only: recall@1,
recall@5 and MRR@10 of the English CMRC questions through ``Retriever.rank`` (no highlighting,
no confidence) for several phonetic weights and matcher constants, every question embedded
once. ``--part tune`` (the default) asks only the questions of the articles
``bench_english.held_out`` leaves to tuning.

    python bench/phonetic_sweep.py [--part tune|held_out|all] [--weights 0 0.5 1 2]
        [--set MIN_CHAR_SHARE=0.05 --set MIN_CONSONANTS=2 ...]  # one variant per --set
        [--out bench/results/phonetic_sweep.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_english import held_out, load_english
from bench_retrieval import ranking_metrics
from common import cmrc_index, doc_name, write_results

from qa import transliterate
from qa.search import Retriever, clean_question


class MemoEmbedder:
    """An embedder that computes each list of queries once."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.memo: dict[tuple[str, ...], np.ndarray] = {}

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        key = tuple(texts)
        if key not in self.memo:
            self.memo[key] = self.inner.embed_queries(texts)
        return self.memo[key]

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.inner, name)


def variants(sets: list[str]) -> list[dict[str, float]]:
    """``NAME=V,NAME2=V2`` per --set (the defaults first)."""
    out: list[dict[str, float]] = [{}]
    for s in sets:
        out.append({k: float(v) for k, v in (p.split("=") for p in s.split(","))})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--part", default="tune", choices=["tune", "held_out", "all"])
    ap.add_argument("--weights", nargs="+", type=float, default=[0.0, 0.5, 1.0, 2.0])
    ap.add_argument(
        "--set", action="append", default=[], help="NAME=V[,NAME=V] of qa.transliterate"
    )
    ap.add_argument("--out", default="bench/results/phonetic_sweep.json")
    args = ap.parse_args()

    paras, settings = cmrc_index()
    english = load_english()
    items = []
    for p in paras:
        part = "held_out" if held_out(p.title) else "tune"
        if args.part not in ("all", part):
            continue
        for q in p.questions:
            if q.question.strip() and q.id in english:
                items.append((clean_question(english[q.id], settings), doc_name(p)))
    base = Retriever(settings.index_dir, settings)
    base.warm_up()
    emb = MemoEmbedder(base.embedder)
    defaults = {k: getattr(transliterate, k) for v in variants(args.set) for k in v}
    rows = []
    for var in variants(args.set):
        for k, v in {**defaults, **var}.items():
            setattr(transliterate, k, type(defaults[k])(v))
        transliterate.transliteration_chars.cache_clear()
        transliterate._BUILT.clear()
        for w in args.weights:
            st = dataclasses.replace(settings, phonetic_weight=w)
            r = Retriever(settings.index_dir, st, embedder=emb)  # type: ignore[arg-type]
            ranked, lat = [], []
            for question, _ in items:
                t0 = time.perf_counter()
                f = r.rank(question)
                lat.append(time.perf_counter() - t0)
                ranked.append([r.index.chunks[int(i)].doc for i in f.ids])
            m = ranking_metrics(ranked, [g for _, g in items])
            row = {"set": var, "weight": w, **m, "rank_ms_median": 1000 * float(np.median(lat))}
            rows.append(row)
            print(row, file=sys.stderr)
    write_results({"part": args.part, "questions": len(items), "rows": rows}, args.out)


if __name__ == "__main__":
    main()
