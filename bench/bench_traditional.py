"""Lexical retrieval on traditional-script text: BM25 recall on CMRC 2018 with the paragraphs
and questions as they are (simplified) and converted to traditional script with OpenCC (bench
only), for jieba words alone, character bigrams alone, and the default analyser (both).

jieba's dictionary is simplified Chinese: on traditional text it falls back to short or single
characters, which the bigrams make up for. No model is needed: BM25 only.

    python bench/bench_traditional.py        # needs opencc-python-reimplemented
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cmrc import load_cmrc
from common import DATA

from qa.chunk import chunk_text
from qa.lexical import LexicalIndex, analyze
from qa.text import char_ngrams, words

ANALYSERS = {
    "words": words,
    "bigrams": lambda t: ["#" + g for g in char_ngrams(t, 2)],
    "words+bigrams (default)": analyze,
}


def run(convert) -> dict[str, tuple[float, float]]:
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
    import opencc

    s2t = opencc.OpenCC("s2t")
    for script, conv in (("simplified", lambda t: t), ("traditional", s2t.convert)):
        for name, (r1, r5) in run(conv).items():
            print(f"{script:12s} {name:26s} recall@1 {r1:.3f}  recall@5 {r5:.3f}")


if __name__ == "__main__":
    main()
