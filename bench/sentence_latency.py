"""Query latency with and without the best-sentence reranker (``Settings.sentence_weight``,
``qa/rerank.py``): ``Retriever.run(question, 10)`` over the CMRC trial questions, the two
settings alternating question by question in one process (so both see the same load).

    python bench/sentence_latency.py [--weight 1.5]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cmrc_index

from qa.search import Retriever


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--weight", type=float, default=1.5)
    args = ap.parse_args()
    paras, st = cmrc_index()
    qs = [q.question for p in paras for q in p.questions if q.question.strip()]
    off = Retriever(st.index_dir, dataclasses.replace(st, sentence_weight=0.0))
    off.warm_up()
    on = Retriever(st.index_dir, dataclasses.replace(st, sentence_weight=args.weight), off.embedder)
    on.warm_up()
    lat: dict[float, list[float]] = {0.0: [], args.weight: []}
    for i, q in enumerate(qs):
        pair = ((0.0, off), (args.weight, on)) if i % 2 else ((args.weight, on), (0.0, off))
        for w, r in pair:
            t = time.perf_counter()
            r.run(q, 10)
            lat[w].append(time.perf_counter() - t)
    for w, v in lat.items():
        v.sort()
        print(
            f"sentence_weight {w}: {len(v)} questions, median "
            f"{1000 * statistics.median(v):.1f} ms, p95 {1000 * v[int(0.95 * len(v))]:.1f} ms"
        )


if __name__ == "__main__":
    main()
