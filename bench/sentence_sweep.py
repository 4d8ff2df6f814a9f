"""Does a passage's best sentence help rank passages? recall@1 on DRCD (a part) and CMRC when
the top fused candidates are reranked by their fused score plus ``w`` times a sentence-level
feature, for several ``w``, candidate counts and lexical weights, every question embedded once
and every variant fused from the same scores (ranking only, as ``Retriever.rank``).

Features of a candidate chunk, computed with the lexical index's own analyser and IDF:

* ``sent1``: the largest share of the question's lexical IDF mass (its terms that the corpus
  has) held by one sentence of the chunk;
* ``sent2``: the same for a window of two adjacent sentences;
* ``hl`` (with ``--highlighter``): the highlighter's best-sentence probability (the trees).

    python bench/sentence_sweep.py [--part tune] [--candidates 30] [--highlighter]
        [--out bench/results/sentence_sweep.json]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_retrieval import ranking_metrics
from bench_traditional import drcd_index, part_items
from common import WORK, cmrc_index, doc_name, write_results

from qa.lexical import analyze
from qa.rerank import question_weights, sentence_terms
from qa.search import Retriever, clean_question, fuse
from qa.sentences import prepare, sentence_probabilities

WEIGHTS = [0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0]
TOPS = [5, 10, 20, 30]
LEX_WEIGHTS = (1.0, 1.5)


def proximity(qterms: dict[str, float], sents: Sequence[frozenset[str]], window: int) -> float:
    """The largest share of ``qterms``' IDF mass one run of ``window`` sentences holds (window
    1 is :func:`qa.rerank.sentence_share`)."""
    total = sum(qterms.values())
    if total <= 0 or not sents:
        return 0.0
    best = 0.0
    for i in range(max(len(sents) - window + 1, 1)):
        held = set().union(*sents[i : i + window])
        best = max(best, sum(w for t, w in qterms.items() if t in held))
    return best / total


def collect(r: Retriever, items: list[tuple[str, str]], top: int, hl: bool) -> dict:
    """Per question and lexical weight: the top candidates' docs, fused scores and features."""
    idx, st = r.index, r.settings
    texts = [clean_question(q, st) for q, _ in items]
    dsc, dids = idx.dense.search(r.embedder.embed_queries(texts), st.candidates)
    docs = [c.doc for c in idx.chunks]
    out: dict = {lw: [] for lw in LEX_WEIGHTS}
    t_feat = 0.0
    for i, q in enumerate(texts):
        terms = analyze(q)
        lex = idx.lexical.scores(terms)
        qterms = question_weights(terms, idx.lexical.idf)
        hl_of: dict[int, float] = {}  # the same chunk under both lexical weights
        for lw in LEX_WEIGHTS:
            f = fuse(dids[i], dsc[i], lex, lw, st.dense_weight, st.candidates)
            ids = [int(j) for j in f.ids[:top]]
            feats = []
            t0 = time.perf_counter()
            for j in ids:
                sents = sentence_terms(idx.chunks[j].text)  # cached in qa.rerank
                row = [proximity(qterms, sents, 1), proximity(qterms, sents, 2)]
                if hl:
                    if j not in hl_of:
                        _, spans, x, _ = prepare(q, idx.chunks[j].text)
                        hl_of[j] = float(sentence_probabilities(x).max()) if spans else 0.0
                    row.append(hl_of[j])
                feats.append(row)
            t_feat += time.perf_counter() - t0
            out[lw].append(([docs[j] for j in ids], f.fused[:top].copy(), np.array(feats)))
    print(f"features: {1000 * t_feat / max(len(texts), 1):.1f} ms a question", file=sys.stderr)
    return out


def sweep(data: dict, gold: list[str], names: list[str]) -> dict[str, float]:
    """recall@1 (and @5, MRR) of every (lexical weight, feature, top, w)."""
    res: dict[str, float] = {}
    for lw, rows in data.items():
        for fi, fname in enumerate(names):
            for top in TOPS:
                for w in WEIGHTS:
                    if w == 0 and (fi or top != TOPS[0]):
                        continue
                    ranked = []
                    for docs, fused, feats in rows:
                        n = min(top, len(docs))
                        s = fused[:n] + w * feats[:n, fi]
                        order = np.argsort(-s, kind="stable")
                        ranked.append([docs[k] for k in order] + docs[n:])
                    m = ranking_metrics(ranked, gold)
                    key = f"lw={lw} base" if w == 0 else f"lw={lw} {fname} top={top} w={w}"
                    res[key] = m["recall@1"]
                    print(f"{key:34s} r@1 {m['recall@1']:.4f} mrr {m['mrr@10']:.4f}")
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--part", default="tune", choices=("tune", "held-out"))
    ap.add_argument("--candidates", type=int, default=30)
    ap.add_argument("--highlighter", action="store_true")
    ap.add_argument("--weights", type=float, nargs="+", default=list(WEIGHTS))
    ap.add_argument("--tops", type=int, nargs="+", default=list(TOPS))
    ap.add_argument("--sets", nargs="+", default=["drcd", "cmrc"])
    ap.add_argument("--out", default="bench/results/sentence_sweep.json")
    ap.add_argument(
        "--work", default="", help="index under bench/.work/<set>-WORK (a private copy)"
    )
    args = ap.parse_args()
    WEIGHTS[:], TOPS[:] = args.weights, args.tops
    names = ["sent1", "sent2"] + (["hl"] if args.highlighter else [])
    results: dict = {}
    for name in args.sets:
        if name == "drcd":
            paras, settings = drcd_index(WORK / f"drcd-{args.work}" if args.work else WORK / "drcd")
            items = [(q, g) for q, _, g in part_items(paras, args.part)]
        else:
            paras, settings = cmrc_index(WORK / f"cmrc-{args.work}" if args.work else WORK / "cmrc")
            items = [(q.question, doc_name(p)) for p in paras for q in p.questions]
            items = [(q, g) for q, g in items if q.strip()]
        r = Retriever(settings.index_dir, settings)
        r.warm_up()
        data = collect(r, items, args.candidates, args.highlighter)
        print(f"== {name} ({len(items)} questions)")
        results[name] = sweep(data, [g for _, g in items], names)
    write_results(results, args.out)


if __name__ == "__main__":
    main()
