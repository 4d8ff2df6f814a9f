"""The large-corpus benchmark's corpus: the CMRC 2018 trial paragraphs (one file each, as in
``bench/common.py``) hidden among N distractor paragraphs made of DRCD dev sentences (converted
to simplified script with OpenCC, shuffled into paragraphs of 3 to 7 sentences, 50 paragraphs
a file).

    python bench/large_corpus.py N [--out bench/.work/large-N/corpus]

DRCD has about 10,000 distinct sentences, so past that the distractors recombine sentences:
every paragraph is a different mix (distinct content hash), written in the style of the
Wikipedia text around it. The corpus is deterministic (seeded) and only rewritten where it
changed, so benchmark re-runs reuse the index's vectors."""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cmrc import load_cmrc  # noqa: E402
from common import DATA, WORK, write_corpus  # noqa: E402

from qa.text import split_sentences  # noqa: E402

DRCD = [
    HERE / "data" / "drcd" / "DRCD_dev.json",
    HERE.parent.parent / "shared/data/drcd/DRCD_dev.json",
]
PER_FILE = 50


def drcd_sentences() -> list[str]:
    """The distinct sentences (≥ 12 characters) of the DRCD dev paragraphs, in simplified
    script, in a fixed order."""
    import opencc

    path = next(p for p in DRCD if p.exists())
    data = json.loads(path.read_text(encoding="utf-8"))
    conv = opencc.OpenCC("t2s")
    seen: dict[str, None] = {}
    for article in data["data"]:
        for para in article["paragraphs"]:
            text = conv.convert(para["context"])
            for s, e in split_sentences(text):
                sent = text[s:e].strip()
                if len(sent) >= 12:
                    seen.setdefault(sent, None)
    return list(seen)


def write_large_corpus(n: int, corpus: Path, seed: int = 0) -> int:
    """Write the CMRC paragraphs and ``n`` distractor paragraphs into ``corpus``; returns the
    number of distractor files."""
    sents = drcd_sentences()
    rng = random.Random(seed)
    write_corpus(load_cmrc(DATA), corpus / "cmrc")
    out = corpus / "drcd"
    out.mkdir(parents=True, exist_ok=True)
    files = 0
    for start in range(0, n, PER_FILE):
        paras = [
            "".join(rng.sample(sents, rng.randint(3, 7))) for _ in range(min(PER_FILE, n - start))
        ]
        text = "\n\n".join(paras) + "\n"
        f = out / f"d{start // PER_FILE:05d}.txt"
        if not f.exists() or f.read_text(encoding="utf-8") != text:
            f.write_text(text, encoding="utf-8")
        files += 1
    return files


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("n", type=int)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    corpus = args.out or WORK / f"large-{args.n}" / "corpus"
    files = write_large_corpus(args.n, corpus)
    print(f"{corpus}: {files} distractor file(s)")


if __name__ == "__main__":
    main()
