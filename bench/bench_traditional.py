"""Traditional script: retrieval and highlighting on DRCD, and the lexical analysers on CMRC.

``drcd`` (default): the DRCD dev set (``bench/data/drcd/``: 1,000 traditional-Chinese
Wikipedia paragraphs, 3,524 questions) indexed one paragraph a file, every question asked
through ``Retriever.run(question, 10)`` (what ``qa.retrieve`` does). The set is split by
article into a *tune* part (looked at while changing the code) and a *held-out* part (about a
third of the articles, for the final figures only): see :func:`held_out`. Reported per part:
recall@1 / @5 / MRR@10 (by paragraph), how often the top passage holds the answer text and its
first highlight does, BM25 alone and dense alone recall@1 (where the fused ranking loses), and
query latency.

``lexical``: BM25 recall on CMRC 2018 with the paragraphs and questions as they are
(simplified) and converted to traditional script with OpenCC, for jieba words alone, character
bigrams alone, and the default analyser (both). jieba's dictionary is simplified Chinese: on
traditional text it falls back to short or single characters, which the bigrams make up for.

    python bench/bench_traditional.py [drcd] [--part tune|held-out|all] [--limit N]
        [--lexical-weight 1.0 1.5] [--sentence-weight 0 0.3] [--out bench/results/drcd.json]
    python bench/bench_traditional.py drcd-analysers --part all --lexical-weight 1.0 1.5
        # BM25 / fused recall@1 with jieba on the text converted to simplified (needs OpenCC)
    python bench/bench_traditional.py lexical   # needs opencc-python-reimplemented
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_retrieval import ranking_metrics
from cmrc import Paragraph, load_cmrc
from common import DATA, WORK, doc_name, write_corpus, write_results

from qa.chunk import chunk_text
from qa.index import build_index
from qa.lexical import LexicalIndex, analyze
from qa.search import Retriever, clean_question
from qa.settings import DEFAULTS, Settings
from qa.text import char_ngrams, words

DRCD = Path(__file__).resolve().parent / "data" / "drcd" / "DRCD_dev.json"

ANALYSERS = {
    "words": words,
    "bigrams": lambda t: ["#" + g for g in char_ngrams(t, 2)],
    "words+bigrams (default)": analyze,
}


def article_of(p: Paragraph) -> str:
    """The DRCD article id of a paragraph (paragraph ids are ``article-k``)."""
    return p.id.rsplit("-", 1)[0]


def held_out(p: Paragraph) -> bool:
    """True for the paragraphs of the held-out third of DRCD's articles (a stable hash of the
    article id), never looked at while tuning."""
    return int(hashlib.sha1(article_of(p).encode()).hexdigest(), 16) % 3 == 0


def drcd_index(work: Path = WORK / "drcd", limit: int = 0) -> tuple[list[Paragraph], Settings]:
    """The DRCD paragraphs and settings whose index (built or updated now) covers them all."""
    paras = load_cmrc(DRCD)
    if limit:
        paras = paras[:limit]
    settings = dataclasses.replace(DEFAULTS, corpus_dir=work / "corpus", index_dir=work / "index")
    write_corpus(paras, settings.corpus_dir)
    report = build_index(settings.corpus_dir, settings.index_dir, settings=settings)
    print(report.summary(), file=sys.stderr)
    return paras, settings


def measure(r: Retriever, items: list[tuple[str, list[str], str]]) -> dict[str, object]:
    """Full-path figures for ``items`` (question, answers, gold document)."""
    idx, st = r.index, r.settings
    ranked, lat, lex1, dense1 = [], [], 0, 0
    in_top = hl_hit = 0
    for question, answers, gold in items:
        t0 = time.perf_counter()
        hits = r.run(question, 10)
        lat.append(time.perf_counter() - t0)
        ranked.append([h.doc for h in hits])
        top = hits[0]
        right = top.doc == gold
        in_top += right and any(a in top.text for a in answers)
        hl_hit += right and any(a in top.sentence for a in answers)
        q = clean_question(question, st)
        lex1 += idx.chunks[int(np.argmax(idx.lexical.scores(analyze(q))))].doc == gold
        _, dids = idx.dense.search(r.embedder.embed_queries([q]), 1)
        dense1 += idx.chunks[int(dids[0][0])].doc == gold
    n = max(len(items), 1)
    out: dict[str, object] = ranking_metrics(ranked, [g for _, _, g in items])
    out.update(
        {
            "questions": len(items),
            "top_passage_contains_answer": in_top / n,
            "first_highlight_contains_answer": hl_hit / n,
            "first_highlight_contains_answer_when_top_passage_does": hl_hit / max(in_top, 1),
            "bm25_alone_recall@1": lex1 / n,
            "dense_alone_recall@1": dense1 / n,
            "latency_median_ms": 1000 * statistics.median(lat) if lat else None,
            "latency_p95_ms": 1000 * float(np.percentile(lat, 95)) if lat else None,
        }
    )
    return out


def part_items(paras: list[Paragraph], part: str) -> list[tuple[str, list[str], str]]:
    """(question, answers, gold document) of the tune or held-out part."""
    return [
        (q.question, q.answers, doc_name(p))
        for p in paras
        if held_out(p) == (part == "held-out")
        for q in p.questions
        if q.question.strip()
    ]


def run_drcd(args: argparse.Namespace) -> None:
    paras, settings = drcd_index(limit=args.limit)
    first = Retriever(settings.index_dir, settings)
    first.warm_up()
    parts = ("tune", "held-out") if args.part == "all" else (args.part,)
    results: dict[str, object] = {"passages": len(first.index.chunks), "paragraphs": len(paras)}
    for part in parts:
        items = part_items(paras, part)
        results[part] = {}
        for w in args.lexical_weight:  # in the same run, each on the same embedder
            for sw in args.sentence_weight:
                st = dataclasses.replace(settings, lexical_weight=w, sentence_weight=sw)
                r = Retriever(settings.index_dir, st, embedder=first.embedder)
                key = f"lexical_weight_{w}"
                if args.sentence_weight != [DEFAULTS.sentence_weight]:
                    key += f"_sentence_weight_{sw}"
                results[part][key] = m = measure(r, items)
                print(part, key, m, file=sys.stderr)
    write_results(results, args.out)


def run_drcd_analysers(args: argparse.Namespace) -> None:
    """BM25 alone and fused on the DRCD index's chunks, with the default analyser and with
    jieba run on the text converted to simplified script (OpenCC t2s; the bigrams stay as
    they are): what an index-side conversion would give."""
    import opencc

    from qa.search import fuse

    t2s = opencc.OpenCC("t2s")

    def simplified_words(text: str) -> list[str]:
        return words(t2s.convert(text)) + ["#" + g for g in char_ngrams(text, 2)]

    paras, settings = drcd_index(limit=args.limit)
    r = Retriever(settings.index_dir, settings)
    r.warm_up()
    idx = r.index
    docs = np.array([c.doc for c in idx.chunks])
    alt = LexicalIndex.build([simplified_words(c.text) for c in idx.chunks])
    results: dict[str, object] = {}
    for part in ("tune", "held-out") if args.part == "all" else (args.part,):
        items = part_items(paras, part)
        qs = [clean_question(q, settings) for q, _, _ in items]
        dsc, dids = idx.dense.search(r.embedder.embed_queries(qs), settings.candidates)
        out: dict[str, float] = {}
        for name, lex, an in (
            ("default", idx.lexical, analyze),
            ("jieba_on_simplified", alt, simplified_words),
        ):
            sc = [lex.scores(an(q)) for q in qs]
            gold = [g for _, _, g in items]
            out[f"{name}_bm25_recall@1"] = float(
                np.mean([docs[int(np.argmax(s))] == g for s, g in zip(sc, gold, strict=True)])
            )
            for w in args.lexical_weight:
                ok = 0
                for i, g in enumerate(gold):
                    f = fuse(dids[i], dsc[i], sc[i], w, settings.dense_weight, settings.candidates)
                    ok += docs[int(f.ids[0])] == g
                out[f"{name}_fused_lexical_weight_{w}_recall@1"] = ok / len(gold)
        results[part] = out
        print(part, out, file=sys.stderr)
    write_results(results, args.out)


def run_lexical(convert) -> dict[str, tuple[float, float]]:
    paras = load_cmrc(DATA)
    chunks, owner = [], []
    for i, p in enumerate(paras):
        for c in chunk_text(convert(p.context)):
            chunks.append(c.section + "\n" + c.text)
            owner.append(i)
    owner_a = np.array(owner)
    qs = [
        (convert(q.question), i)
        for i, p in enumerate(paras)
        for q in p.questions
        if q.question.strip()
    ]
    out = {}
    for name, an in ANALYSERS.items():
        idx = LexicalIndex.build([an(c) for c in chunks])
        r1 = r5 = 0
        for q, gold in qs:
            order = np.argsort(-idx.scores(an(q)), kind="stable")
            docs = list(dict.fromkeys(owner_a[order[:20]].tolist()))
            r1 += docs[:1] == [gold]
            r5 += gold in docs[:5]
        out[name] = (r1 / len(qs), r5 / len(qs))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "what", nargs="?", default="drcd", choices=("drcd", "drcd-analysers", "lexical")
    )
    ap.add_argument(
        "--lexical-weight",
        type=float,
        nargs="+",
        default=[DEFAULTS.lexical_weight],
        help="measure with each of these lexical weights (same run)",
    )
    ap.add_argument(
        "--sentence-weight",
        type=float,
        nargs="+",
        default=[DEFAULTS.sentence_weight],
        help="and with each of these best-sentence weights (qa/rerank.py; same run)",
    )
    ap.add_argument("--part", default="tune", choices=("tune", "held-out", "all"))
    ap.add_argument("--limit", type=int, default=0, help="only the first N paragraphs")
    ap.add_argument("--out", default="bench/results/drcd.json")
    args = ap.parse_args()
    if args.what == "drcd":
        run_drcd(args)
        return
    if args.what == "drcd-analysers":
        run_drcd_analysers(args)
        return
    import opencc

    s2t = opencc.OpenCC("s2t")
    for script, conv in (("simplified", lambda t: t), ("traditional", s2t.convert)):
        for name, (r1, r5) in run_lexical(conv).items():
            print(f"{script:12s} {name:26s} recall@1 {r1:.3f}  recall@5 {r5:.3f}")


if __name__ == "__main__":
    main()
