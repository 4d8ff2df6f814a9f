"""Exact against approximate dense search at scale, on vectors only (no model, no text).

    python bench/bench_ann.py --n 1000000 [--base INDEX_DIR ...] [--queries 500]

Real passage vectors (those of the index folders given, default the benchmark indexes under
``bench/.work``) are the seeds; N vectors are drawn around them (a seed plus Gaussian noise of
``--noise`` times its norm, renormalised), so that neighbourhoods are as clustered as real
text rather than uniform. Queries are other seeds with their own noise. For each index kind
(FAISS flat, HNSW with several ``efSearch``, IVF with several ``nprobe``): build seconds,
recall@10 against the flat index's exact top 10, single-question latency p50/p95 (one thread,
as ``qa`` searches), memory of the index (its serialised size; HNSW's graph is in RAM), and the
process's peak RSS."""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import WORK, write_results  # noqa: E402


def seed_vectors(folders: list[Path]) -> np.ndarray:
    """The passage vectors of the index folders (any format this qa reads) and of the saved
    partial-vector files in them."""
    from qa.index import load_index

    out = []
    for folder in folders:
        try:
            out.append(load_index(folder, verify=False).vectors())
        except Exception as e:
            print(f"{folder}: {e}", file=sys.stderr)
        for part in folder.glob("partial-*.bin"):
            data = np.fromfile(part, dtype=np.uint8)
            rec = 32 + 4 * 384
            n = len(data) // rec
            out.append(data[: n * rec].reshape(n, rec)[:, 32:].copy().view(np.float32))
    if not out:
        raise SystemExit("no seed vectors: build a benchmark index first")
    v = np.unique(np.concatenate(out), axis=0)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def around(
    seeds: np.ndarray, n: int, noise: float, rng: np.random.Generator, mix: bool = True
) -> np.ndarray:
    """``n`` normalised vectors, each a random mixture of two seeds (a point between two real
    passages: the data stays on the seeds' low-dimensional shape, as real text does) plus
    isotropic Gaussian noise of norm about ``noise``. Noise alone around a few thousand seeds
    (a first version, noise 0.6) made tight clusters of near-ties in all 384 dimensions, on
    which "the exact top 10" is arbitrary and every ANN index scored recall@10 0.2-0.7."""
    out = np.empty((n, seeds.shape[1]), dtype=np.float32)
    step = 100_000
    scale = noise / np.sqrt(seeds.shape[1])
    for lo in range(0, n, step):
        k = min(step, n - lo)
        v = seeds[rng.integers(0, len(seeds), k)]
        if mix:
            w = rng.uniform(0.0, 1.0, (k, 1))
            v = w * v + (1 - w) * seeds[rng.integers(0, len(seeds), k)]
        v = v + rng.normal(0, scale, (k, seeds.shape[1]))
        out[lo : lo + k] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def timed_search(index, queries: np.ndarray, k: int) -> tuple[np.ndarray, list[float]]:  # type: ignore[no-untyped-def]
    ids, times = [], []
    for q in queries:
        t = time.perf_counter()
        _, i = index.search(q[None, :], k)
        times.append(time.perf_counter() - t)
        ids.append(i[0])
    return np.array(ids), times


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(
        np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)])
    )


def main() -> None:
    import faiss

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--base", type=Path, nargs="*")
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--noise", type=float, default=0.2)
    ap.add_argument("--k", type=int, default=50, help="candidates a question asks for")
    ap.add_argument("--skip", nargs="*", default=[], help="kinds to leave out: hnsw ivf")
    ap.add_argument("--out", default=str(HERE / "results" / "ann.json"))
    args = ap.parse_args()
    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(0)
    folders = args.base or sorted(p for p in WORK.glob("*/index") if p.is_dir())
    seeds = seed_vectors(folders)
    held = rng.permutation(len(seeds))
    qseeds, dseeds = seeds[held[: args.queries]], seeds[held[args.queries :]]
    t = time.perf_counter()
    data = around(dseeds, args.n, args.noise, rng)
    queries = around(qseeds, args.queries, args.noise, rng, mix=False)
    print(
        f"{args.n} vectors from {len(dseeds)} seeds in {time.perf_counter() - t:.0f} s",
        file=sys.stderr,
    )
    results: dict = {
        "n": args.n,
        "dim": int(data.shape[1]),
        "seeds": len(seeds),
        "noise": args.noise,
        "k": args.k,
        "kinds": [],
    }

    def record(name: str, index, build_s: float, truth: np.ndarray | None, **params) -> np.ndarray:  # type: ignore[no-untyped-def]
        found, times = timed_search(index, queries, args.k)
        row = {
            "index": name,
            **params,
            "build_s": round(build_s, 1),
            "size_mb": round(int(faiss.serialize_index(index).size) / 2**20, 1)
            if args.n <= 300_000 or name != "flat"
            else round(4 * data.size / 2**20, 1),
            "recall@10": 1.0 if truth is None else round(recall(found[:, :10], truth[:, :10]), 4),
            f"recall@{args.k}": 1.0 if truth is None else round(recall(found, truth), 4),
            # what qa needs: the exact top 10 among the k candidates it fuses
            f"top10_in_{args.k}": 1.0 if truth is None else round(recall(found, truth[:, :10]), 4),
            "p50_ms": round(1000 * float(np.percentile(times, 50)), 2),
            "p95_ms": round(1000 * float(np.percentile(times, 95)), 2),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        }
        results["kinds"].append(row)
        print(row, file=sys.stderr)
        return found

    t = time.perf_counter()
    flat = faiss.IndexFlatIP(data.shape[1])
    flat.add(data)
    truth = record("flat", flat, time.perf_counter() - t, None)
    del flat
    if "hnsw" not in args.skip:
        t = time.perf_counter()
        faiss.omp_set_num_threads(2)  # building uses both cores, as qa build does
        hnsw = faiss.IndexHNSWFlat(data.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 80
        hnsw.add(data)
        faiss.omp_set_num_threads(1)
        built = time.perf_counter() - t
        for ef in (64, 128, 256):
            hnsw.hnsw.efSearch = ef
            record("hnsw", hnsw, built, truth, m=32, ef_construction=80, ef_search=ef)
        del hnsw
    if "ivf" not in args.skip:
        nlist = int(4 * np.sqrt(args.n))
        t = time.perf_counter()
        faiss.omp_set_num_threads(2)
        quant = faiss.IndexFlatIP(data.shape[1])
        ivf = faiss.IndexIVFFlat(quant, data.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.train(data[rng.choice(args.n, min(args.n, 64 * nlist), replace=False)])
        ivf.add(data)
        faiss.omp_set_num_threads(1)
        built = time.perf_counter() - t
        for nprobe in (8, 32, 64):
            ivf.nprobe = nprobe
            record("ivf", ivf, built, truth, nlist=nlist, nprobe=nprobe)
    write_results(results, args.out)


if __name__ == "__main__":
    main()
