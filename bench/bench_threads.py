"""Encoding from many threads at once: errors, equality with one thread, and what a lock costs.

16 threads each embed their own distinct questions (one call per question, as a server's
request threads do) with the embedder the Retriever uses, in two modes: ``free`` (the encoder
called as is) and ``lock`` (every call under one lock). The torch backend runs
sentence-transformers with one torch thread (``Settings.query_threads``), as a server does; the
ONNX backends build a tokenizer per call (qa.encoder.SubsetTokenizer) and share one
onnxruntime session. Both modes run in the same process, alternating, so they see the same load.

    python bench/bench_threads.py [--threads 16] [--per-thread 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from qa.embed import Embedder
from qa.settings import DEFAULTS


def questions(n: int) -> list[str]:
    subjects = ["广州公安", "扫黑除恶", "微警认证", "穗好办", "执法办案", "交通管理", "反诈中心"]
    return [
        f"{subjects[i % len(subjects)]}第{i}项工作的成效如何？ What changed in year {i}?"
        for i in range(n)
    ]


def one_round(
    encode: Callable[[list[str]], np.ndarray], texts: list[str], locked: bool, args: Any
) -> tuple[float, dict[int, np.ndarray], list[str]]:
    """``args.threads`` threads, each embedding its ``args.per_thread`` questions one call at
    a time (all calls under one lock if ``locked``): questions/s, vectors, errors."""
    lock = threading.Lock()
    out: dict[int, np.ndarray] = {}
    errors: list[str] = []
    barrier = threading.Barrier(args.threads)

    def worker(n: int) -> None:
        barrier.wait()
        for j in range(args.per_thread):
            i = n * args.per_thread + j
            try:
                if locked:
                    with lock:
                        out[i] = encode([texts[i]])[0]
                else:
                    out[i] = encode([texts[i]])[0]
            except Exception as e:
                errors.append(f"{type(e).__name__}: {e}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(args.threads)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(out) / (time.perf_counter() - t0), out, errors


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--threads", type=int, default=16)
    p.add_argument("--per-thread", type=int, default=8)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--backends", default="onnx-int8,torch")
    args = p.parse_args(argv)
    texts = questions(args.threads * args.per_thread)
    for backend in args.backends.split(","):
        emb = Embedder(DEFAULTS.model, DEFAULTS, backend)
        if backend == "torch":
            emb.use_query_threads(DEFAULTS.query_threads)
            model = emb.model

            def encode(batch: list[str], model=model) -> np.ndarray:
                return model.encode(
                    batch, prompt_name="query", normalize_embeddings=True, convert_to_numpy=True
                )
        else:
            enc = emb.onnx_encoder()

            def encode(batch: list[str], enc=enc) -> np.ndarray:
                return enc.encode(batch, "query")

        alone = np.stack([encode([t])[0] for t in texts])
        rates: dict[str, list[float]] = {"free": [], "lock": []}
        errors: dict[str, list[str]] = {"free": [], "lock": []}
        diffs: dict[str, float] = {"free": 0.0, "lock": 0.0}
        for _ in range(args.rounds):
            for mode in ("free", "lock"):
                rate, out, errs = one_round(encode, texts, mode == "lock", args)
                rates[mode].append(rate)
                errors[mode] += errs
                diffs[mode] = max(
                    [diffs[mode]] + [float(np.abs(v - alone[i]).max()) for i, v in out.items()]
                )
        for mode in ("free", "lock"):
            print(
                f"{backend:10s} {mode:5s} {statistics.median(rates[mode]):7.1f} questions/s "
                f"(rounds: {', '.join(f'{r:.1f}' for r in rates[mode])}), "
                f"errors {len(errors[mode])}, max |diff| vs one thread {diffs[mode]:.1e}"
                + (f" {sorted(set(errors[mode]))[:2]}" if errors[mode] else "")
            )
        free, locked = statistics.median(rates["free"]), statistics.median(rates["lock"])
        print(f"{backend:10s} lock/free throughput {locked / free:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
