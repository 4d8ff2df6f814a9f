"""The large-corpus benchmark: the CMRC 2018 trial questions over their paragraphs hidden among
N distractor paragraphs (``bench/large_corpus.py``), for this checkout and a baseline checkout
in the same run.

    python bench/bench_large.py --n 10000 [--baseline /path/to/other/checkout] [--questions 300]

For each code tree (PYTHONPATH), in fresh subprocesses:

* build: ``build_index`` of the corpus into a new folder that holds the vectors of every chunk
  as a killed build's saved vectors (``partial-*.bin``, from ``--vectors``), so the build reads,
  chunks, indexes and writes everything but embeds nothing: its seconds and peak RSS are the
  pipeline's own cost, which embedding (``bench/bench_embed.py``, chunks/s) adds to; the index
  size on disk;
* serve: open the index and answer the questions (``Retriever.run``, k=5: retrieve + highlight,
  the full path): recall@1/@5 of the question's paragraph file, latency p50/p95, seconds to
  open the index, RSS after opening and peak RSS;
* cold ``qa ask``: wall time of the command in a fresh process (median of 3).

The vectors come from an index or partial file made once with ``qa build`` on the corpus (with
the default model, they are real e5 vectors of the real text)."""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from common import DATA, WORK, doc_name, write_results  # noqa: E402
from large_corpus import write_large_corpus  # noqa: E402

BUILD = r"""
import dataclasses, json, resource, sys, time
from pathlib import Path
from qa.index import build_index
from qa.settings import DEFAULTS
corpus, index = Path(sys.argv[1]), Path(sys.argv[2])
st = dataclasses.replace(DEFAULTS, corpus_dir=corpus, index_dir=index)
t = time.perf_counter()
r = build_index(corpus, index, settings=st)
print(json.dumps({"build_s": round(time.perf_counter() - t, 1), "chunks": r.chunks,
    "embedded": r.embedded, "files": r.files_read,
    "build_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))
"""

SERVE = r"""
import json, resource, sys, time
import numpy as np
def rss():
    return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) // 1024
t = time.perf_counter()
from qa.search import Retriever
r = Retriever(sys.argv[1])
r.warm_up()
opened = time.perf_counter() - t
rss_open = rss()
qs = json.loads(open(sys.argv[2], encoding="utf-8").read())
r1 = r5 = 0
times = []
for q, gold in qs:
    t = time.perf_counter()
    hits = r.run(q, 5)
    times.append(time.perf_counter() - t)
    docs = [h.doc for h in hits]
    r1 += bool(docs) and docs[0] == gold
    r5 += gold in docs
n = len(qs)
print(json.dumps({"open_s": round(opened, 2), "rss_after_open_mb": rss_open,
    "recall@1": round(r1 / n, 4), "recall@5": round(r5 / n, 4), "questions": n,
    "p50_ms": round(1000 * float(np.percentile(times, 50)), 1),
    "p95_ms": round(1000 * float(np.percentile(times, 95)), 1),
    "serve_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))
"""


def _env(tree: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(tree), TOKENIZERS_PARALLELISM="false")
    env.pop("CI", None)
    return env


def _run(tree: Path, script: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=_env(tree),
        cwd=tree,  # else the current folder's qa comes first on sys.path
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode:
        raise SystemExit(f"{tree}: {out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


DIM = 384
RECORD = 32 + 4 * DIM


def _read_partial(files: list[Path]) -> dict[bytes, np.ndarray]:
    out: dict[bytes, np.ndarray] = {}
    for f in files:
        data = np.fromfile(f, dtype=np.uint8)
        n = len(data) // RECORD
        rows = data[: n * RECORD].reshape(n, RECORD)
        vecs = rows[:, 32:].copy().view(np.float32)
        out.update((bytes(r[:32]), v) for r, v in zip(rows, vecs, strict=True))
    return out


def corpus_hashes(corpus: Path) -> list[tuple[str, bytes]]:
    """(file, content hash) of every chunk of the corpus, in build order (no embedding)."""
    from qa.chunk import read_chunks
    from qa.corpus import read_each

    docs, _ = read_each(corpus, read_chunks)
    return [(meta.path, bytes.fromhex(c.hash)) for meta, chunks in docs for c in chunks]


def seed_vectors(corpus: Path, vectors: list[Path], out: Path, simulate: bool) -> dict:
    """Write the saved vectors of every chunk of ``corpus`` into ``out`` (a partial-vectors
    file): real ones from ``vectors``; with ``simulate``, the distractor chunks that have none
    get a real distractor vector plus Gaussian noise (bench/bench_ann.py's model), renormalised.
    The CMRC chunks (the questions' targets) must all be real."""
    real = _read_partial(vectors)
    chunks = corpus_hashes(corpus)
    missing = [(f, h) for f, h in chunks if h not in real]
    if any(f.startswith("cmrc/") for f, _ in missing):
        raise SystemExit("some CMRC chunks have no real vector: embed them first (qa build)")
    if missing and not simulate:
        raise SystemExit(f"{len(missing)} chunks have no vector: embed them or pass --simulate")
    seeds = np.array([real[h] for f, h in chunks if f.startswith("drcd/") and h in real])
    rng = np.random.default_rng(0)
    with out.open("wb") as fh:
        for _, h in chunks:
            if h in real:
                fh.write(h + real[h].tobytes())
        for i in range(0, len(missing), 50_000):
            part = missing[i : i + 50_000]
            v = seeds[rng.integers(0, len(seeds), len(part))] + rng.normal(
                0, 0.6 / np.sqrt(DIM), (len(part), DIM)
            )
            v = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
            fh.write(b"".join(h + x.tobytes() for (_, h), x in zip(part, v, strict=True)))
    return {
        "chunks": len(chunks),
        "real_vectors": len(chunks) - len(missing),
        "simulated_vectors": len(missing),
    }


def _seed(index: Path, seeded: Path) -> None:
    """A fresh index folder holding the saved vectors."""
    shutil.rmtree(index, ignore_errors=True)
    index.mkdir(parents=True)
    shutil.copyfile(seeded, index / seeded.name)


def _cold_ask(tree: Path, index: Path, question: str) -> float:
    times = []
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "qa.cli", "ask", question, "--index", str(index)],
            env=_env(tree),
            cwd=tree,
            capture_output=True,
            check=True,
        )
        times.append(time.perf_counter() - t)
    return round(statistics.median(times), 2)


def _size_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20, 1)


def main() -> None:
    from cmrc import load_cmrc

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--baseline", type=Path, help="another checkout to measure in the same run")
    ap.add_argument(
        "--vectors", type=Path, nargs="+", default=sorted((WORK / "vectors").glob("partial-*.bin"))
    )
    ap.add_argument("--questions", type=int, default=0, help="a seeded sample (0: all)")
    ap.add_argument(
        "--simulate", action="store_true", help="simulated vectors for distractors not embedded yet"
    )
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    work = WORK / f"large-{args.n}"
    corpus = work / "corpus"
    write_large_corpus(args.n, corpus)
    qs = [
        (q.question, "cmrc/" + doc_name(p))
        for p in load_cmrc(DATA)
        for q in p.questions
        if q.question.strip()
    ]
    if args.questions:
        qs = random.Random(0).sample(qs, args.questions)
    qfile = work / "questions.json"
    qfile.write_text(json.dumps(qs, ensure_ascii=False), encoding="utf-8")
    trees = {"this": ROOT}
    if args.baseline:
        trees["baseline"] = args.baseline.resolve()
    seeded = work / "seed" / args.vectors[0].name
    seeded.parent.mkdir(exist_ok=True)
    vectors = seed_vectors(corpus, args.vectors, seeded, args.simulate)
    results: dict = {
        "n_distractors": args.n,
        "vectors": vectors,
        "load": os.getloadavg(),
        "runs": {},
    }
    for name, tree in trees.items():
        index = work / f"run-{name}"
        _seed(index, seeded)
        row = _run(tree, BUILD, str(corpus), str(index))
        row["index_mb"] = _size_mb(index)
        row.update(_run(tree, SERVE, str(index), str(qfile)))
        row["cold_ask_s"] = _cold_ask(tree, index, qs[0][0])
        results["runs"][name] = row
        print(name, row, file=sys.stderr)
    results["load_after"] = os.getloadavg()
    write_results(results, args.out or HERE / "results" / f"large-{args.n}.json")


if __name__ == "__main__":
    main()
