"""Embedding throughput at build time: chunks/s of the default model on a fixed set of CMRC 2018
trial chunks, for each backend and batch size, and how closely each backend's vectors agree
with sentence-transformers on torch (today's build path).

Backends: ``torch`` (sentence-transformers, fp32), ``onnx`` (the model's ONNX export run by
:class:`qa.encoder.OnnxEncoder`, fp32) and ``onnx-int8`` (its dynamic int8 quantisation). Every
run sorts the texts by length (as :class:`qa.embed.Embedder` does) and uses all cores; the load
average is recorded before and after, since other processes may share the CPU.

    python bench/bench_embed.py [--chunks 500] [--backends torch onnx onnx-int8]
        [--out bench/results/embed.json]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cmrc import load_cmrc
from common import DATA, write_results

from qa.chunk import chunk_text
from qa.embed import Embedder
from qa.settings import DEFAULTS

Encode = Callable[[list[str], int], np.ndarray]
#: torch's variants are batch sizes; the ONNX encoder's are token budgets per run (its texts
#: are tokenised 32 at a time, then run in groups of at most that many padded tokens; 0: each
#: text alone, what the int8 backend does so that a text's vector does not depend on batching)
VARIANTS = {"torch": [16, 32, 64], "onnx": [0, 256, 512], "onnx-int8": [0, 256, 512]}


def cmrc_chunks(n: int) -> list[str]:
    """The first ``n`` chunks of the CMRC trial paragraphs, cut by the default chunker."""
    texts: list[str] = []
    for p in load_cmrc(DATA):
        texts += [c.text for c in chunk_text(p.context, p.id)]
        if len(texts) >= n:
            break
    return texts[:n]


def sorted_encode(encode: Encode, texts: list[str], batch: int) -> np.ndarray:
    """``encode`` over length-sorted batches, vectors returned in the original order."""
    order = np.argsort([-len(t) for t in texts], kind="stable")
    out = [
        encode([texts[j] for j in order[i : i + batch]], batch) for i in range(0, len(texts), batch)
    ]
    vecs = np.empty((len(texts), out[0].shape[1]), dtype=np.float32)
    vecs[order] = np.concatenate(out)
    return vecs


def timed(encode: Encode, texts: list[str], batch: int) -> tuple[float, np.ndarray]:
    """Chunks per second of one pass (after a small warm-up batch) and the vectors."""
    encode(texts[:4], batch)
    t = time.perf_counter()
    vecs = sorted_encode(encode, texts, batch)
    return len(texts) / (time.perf_counter() - t), vecs


def encoders(emb: Embedder, threads: int) -> dict[str, Encode]:
    """One encode function per backend, all with the passage prompt."""
    import torch

    torch.set_num_threads(threads)
    st = emb.model
    out: dict[str, Encode] = {
        "torch": lambda t, b: st.encode(
            t,
            prompt_name="passage",
            batch_size=b,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        ),
    }
    for backend in ("onnx", "onnx-int8"):
        enc = Embedder(emb.model_name, emb.settings, backend=backend).onnx_encoder(1)

        def run(t: list[str], budget: int, enc=enc) -> np.ndarray:
            enc.max_tokens = budget
            return enc.encode(t, "passage", 32, parallel=threads)

        out[backend] = run
    return out


def recall(backends: list[str]) -> dict[str, dict[str, float]]:
    """CMRC trial recall@1/@5 (fused and dense alone) of an index built from nothing with each
    backend through the real build path (``build_index``), and the build's chunks/s."""
    import dataclasses
    import tempfile

    from bench_retrieval import compare_fusions
    from common import doc_name, write_corpus

    from qa.index import build_index
    from qa.search import Retriever

    paras = load_cmrc(DATA)
    questions = [
        (q.question, doc_name(p)) for p in paras for q in p.questions if q.question.strip()
    ]
    out: dict[str, dict[str, float]] = {}
    for backend in backends:
        work = Path(tempfile.mkdtemp(prefix=f"qa-embed-{backend}-"))
        st = dataclasses.replace(
            DEFAULTS, corpus_dir=work / "corpus", index_dir=work / "index", backend=backend
        )
        write_corpus(paras, st.corpus_dir)
        emb = Embedder(st.model, st)
        emb.warm_up()  # export once outside the timing
        report = build_index(st.corpus_dir, st.index_dir, settings=st, embedder=emb)
        r = Retriever(st.index_dir, st)
        m = compare_fusions(r, [q for q, _ in questions], [g for _, g in questions])
        out[backend] = {
            "fused_recall@1": m["fused"]["recall@1"],  # type: ignore[index]
            "fused_recall@5": m["fused"]["recall@5"],  # type: ignore[index]
            "dense_recall@1": m["dense"]["recall@1"],  # type: ignore[index]
            "dense_recall@5": m["dense"]["recall@5"],  # type: ignore[index]
            "build_chunks_per_s": report.embedded / report.seconds,
            "fingerprint": r.index.manifest["model"]["fingerprint"][-40:],
        }
        print(backend, out[backend], f"(load {load():.2f})", file=sys.stderr)
    return out


def load() -> float:
    return os.getloadavg()[0]


def throughput(texts: list[str], backends: list[str], threads: int) -> dict[str, object]:
    """Chunks/s per backend and variant, and the agreement of each backend's vectors with
    torch's."""
    emb = Embedder(DEFAULTS.model, DEFAULTS, backend="torch")
    funcs = encoders(emb, threads)
    results: dict[str, object] = {
        "chunks": len(texts),
        "mean_chars": float(np.mean([len(t) for t in texts])),
    }
    vectors: dict[str, np.ndarray] = {}
    speed: dict[str, dict[str, float]] = {}
    for name in backends:
        speed[name] = {}
        for v in VARIANTS[name]:
            batch = v if name == "torch" else 32
            cps, vecs = timed(lambda t, _b, v=v: funcs[name](t, v), texts, batch)  # noqa: B023
            speed[name][str(v)] = round(cps, 2)
            vectors.setdefault(name, vecs)
            print(f"{name} {v}: {cps:.1f} chunks/s (load {load():.2f})", file=sys.stderr)
    results["chunks_per_s"] = speed  # torch: per batch size; onnx: per token budget
    results["best"] = {k: max(v.values()) for k, v in speed.items()}
    if "torch" in speed:
        base = results["best"]["torch"]  # type: ignore[index]
        results["speedup_vs_torch"] = {k: round(v / base, 2) for k, v in results["best"].items()}  # type: ignore[union-attr]
    if "torch" in vectors:
        ref = vectors["torch"]
        results["cosine_vs_torch"] = {
            k: {"min": float((v * ref).sum(1).min()), "mean": float((v * ref).sum(1).mean())}
            for k, v in vectors.items()
        }
        results["max_abs_diff_vs_torch"] = {
            k: float(np.abs(v - ref).max()) for k, v in vectors.items()
        }
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--chunks", type=int, default=500, help="0: recall only")
    ap.add_argument("--backends", nargs="+", default=["torch", "onnx", "onnx-int8"])
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--recall", action="store_true", help="also CMRC recall per backend")
    ap.add_argument("--out", default="bench/results/embed.json")
    args = ap.parse_args()

    results: dict[str, object] = {"threads": args.threads, "load_before": load()}
    if args.chunks > 0:
        results.update(throughput(cmrc_chunks(args.chunks), args.backends, args.threads))
    if args.recall:
        results["recall"] = recall(args.backends)
    results["load_after"] = load()
    results["machine"] = (
        f"{platform.machine()} {os.cpu_count()} cores, python {platform.python_version()}"
    )
    write_results(results, args.out)


if __name__ == "__main__":
    main()
