"""Big corpora through the build pipeline: one big text file, and 100,000 tiny files, built by
this checkout and a baseline checkout in the same run (each build in a fresh subprocess).

    python bench/bench_stream.py big --mb 50 200 [--baseline /work/wt-base-stream]
    python bench/bench_stream.py tiny --files 100000 [--baseline /work/wt-base-stream]

Measured for each build: wall seconds of ``build_index`` and the seconds of its phases (read,
chunk and lexical-index the files; vectors; write and publish), the process's peak RSS
(``VmHWM``) at the end of each phase, the chunk count and the index size on disk. This code
indexes the words after reading every file: ``files_s`` / ``peak_rss_files_mb`` are the time
and peak up to then (reading and chunking alone).

``chunks`` runs the reading side alone on this checkout, for sizes the whole build cannot
reach: read, chunk and write one big file to a chunk store (no words, no vectors), holding the
file's chunks in a list as the build before did (``read_chunks``) and as they are cut
(``iter_document_chunks``), its seconds and peak RSS.

    python bench/bench_stream.py chunks --mb 200 2048

What is *not* measured: the embedding model. At about 44 chunks/s on this 2-core machine, a
2 GB file's millions of chunks would take days, so the builds get :class:`HashEncoder`, a
deterministic stand-in (each text's vector is a one-hot of its hash, 384 dimensions as the real
model) that costs nothing; everything else is the real build. The dense index is kept exact
(``ann_above=0``): the HNSW graph past 200,000 chunks (``bench/bench_ann.py``) is not the
subject here. ``max_file_bytes`` is raised for the big file so that the baseline reads it too.

The big file is CMRC 2018 trial paragraphs one after the other, each with a running number in
its first sentence so that every chunk differs, a heading every 40 paragraphs. The tiny files
are single CMRC sentences (one to three, a few hundred bytes) in nested folders
(``a/b/file.txt``, 100 files a folder)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from cmrc import load_cmrc  # noqa: E402
from common import DATA, WORK, write_results  # noqa: E402

BUILD = r"""
import dataclasses, hashlib, json, sys, time
from pathlib import Path
import numpy as np
from qa.index import build_index
from qa.settings import DEFAULTS


def hwm_mb():
    status = open("/proc/self/status").read()
    return int(status.split("VmHWM:")[1].split()[0]) // 1024


class HashEncoder:
    "A free stand-in for the embedding model: one-hot vectors at each text's hash."

    fingerprint = "bench-hash-encoder-384"
    model_name = "bench-hash-encoder"
    dim = 384

    def warm_up(self):
        pass

    def embed_passages(self, texts, progress=None, show_progress_bar=False):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            h = hashlib.blake2b(t.encode("utf-8", "surrogatepass"), digest_size=8).digest()
            out[i, int.from_bytes(h, "little") % self.dim] = 1.0
        if progress is not None:
            progress(len(texts), len(texts))
        return out


corpus, index = Path(sys.argv[1]), Path(sys.argv[2])
extra = json.loads(sys.argv[3])
st = dataclasses.replace(DEFAULTS, corpus_dir=corpus, index_dir=index, ann_above=0, **extra)
phases, t0 = {}, time.perf_counter()


def progress(fraction, message):
    key = "read" if fraction <= 0.3 else "vectors" if fraction < 0.9 else "write"
    phases[key] = (time.perf_counter() - t0, hwm_mb())
    if message.startswith("indexing words") and "files" not in phases:  # this code only
        phases["files"] = phases[key]


r = build_index(corpus, index, settings=st, embedder=HashEncoder(), progress=progress)
total = time.perf_counter() - t0
ends = {k: v[0] for k, v in phases.items()}
print(json.dumps({
    "seconds": round(total, 1),
    "read_s": round(ends["read"], 1),
    "vectors_s": round(ends["vectors"] - ends["read"], 1),
    "write_s": round(total - ends["vectors"], 1),
    "files_s": round(phases["files"][0], 1) if "files" in phases else None,
    "peak_rss_files_mb": phases["files"][1] if "files" in phases else None,
    "peak_rss_read_mb": phases["read"][1],
    "peak_rss_vectors_mb": phases["vectors"][1],
    "peak_rss_mb": hwm_mb(),
    "files": r.files_read, "skipped": len(r.skipped), "chunks": r.chunks,
}))
"""


CHUNKS = r"""
import dataclasses, json, sys, time
from pathlib import Path
from qa.chunk import iter_document_chunks, read_chunks
from qa.chunkstore import ChunkWriter
from qa.settings import DEFAULTS
path, out, how = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
st = dataclasses.replace(DEFAULTS, max_file_bytes=2 * path.stat().st_size)
t0 = time.perf_counter()
if how == "list":  # what the build before held: read_chunks, a list per file
    meta, chunks = read_chunks(path, path.parent, st)
else:  # what it does now: the chunks as they are cut
    meta, chunks = iter_document_chunks(path, path.parent, st)
writer = ChunkWriter(out)
n = writer.add(meta.path, chunks)
writer.close()
status = open("/proc/self/status").read()
print(json.dumps({"seconds": round(time.perf_counter() - t0, 1), "chunks": n,
    "peak_rss_mb": int(status.split("VmHWM:")[1].split()[0]) // 1024}))
"""


def run_chunks(path: Path, out: Path, how: str) -> dict:
    """Read, chunk and store one big file (no words, no vectors) in a subprocess."""
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run(
        [sys.executable, "-c", CHUNKS, str(path), str(out), how],
        env=env,
        capture_output=True,
        text=True,
    )
    shutil.rmtree(out, ignore_errors=True)
    if res.returncode != 0:
        return {"failed": " / ".join(res.stderr.strip().splitlines()[-3:])}
    return json.loads(res.stdout.strip().splitlines()[-1])


def write_big(path: Path, mb: int) -> int:
    """The big file (see the module docstring); written once per size."""
    if path.exists() and path.stat().st_size >= mb * 2**20:
        return path.stat().st_size
    paras = [p.context.replace("\n", "") for p in load_cmrc(DATA)]
    target, size, n = mb * 2**20, 0, 0
    tmp = path.with_suffix(".part")
    with tmp.open("wb") as f:
        while size < target:
            parts = []
            for p in paras:
                if n % 40 == 0:
                    parts.append(f"第{n // 40 + 1}章\n\n")
                cut = p.find("，")
                cut = cut if 0 < cut < 60 else min(len(p), 20)
                parts.append(f"{p[:cut]}（第{n}段）{p[cut:]}\n\n")
                n += 1
            block = "".join(parts).encode("utf-8")
            if size + len(block) > target:  # end at a paragraph end (whole characters)
                cut = block.rfind(b"\n\n", 0, target - size)
                block = block[: cut + 2] if cut >= 0 else b""
                if not block:
                    break
            f.write(block)
            size += len(block)
    tmp.rename(path)
    return path.stat().st_size


def write_tiny(folder: Path, n: int) -> int:
    """``n`` tiny files in nested folders (see the module docstring); written once."""
    done = folder / ".complete"
    if done.exists() and done.read_text() == str(n):
        return n
    sents = []
    for p in load_cmrc(DATA):
        sents += [s + "。" for s in p.context.replace("\n", "").split("。") if len(s) > 8]
    for i in range(n):
        d = folder / f"{i // 10000:02d}" / f"{i // 100 % 100:02d}"
        if i % 100 == 0:
            d.mkdir(parents=True, exist_ok=True)
        k = 1 + i % 3
        text = f"第{i}号记录。" + "".join(sents[(i * 7 + j) % len(sents)] for j in range(k))
        (d / f"f{i:06d}.txt").write_text(text + "\n", encoding="utf-8")
    done.write_text(str(n))
    return n


def _size_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20, 1)


def run_build(tree: Path, corpus: Path, index: Path, extra: dict) -> dict:
    """One fresh build of ``corpus`` by the code in ``tree``, in a subprocess."""
    import shutil

    shutil.rmtree(index, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(tree)}
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", BUILD, str(corpus), str(index), json.dumps(extra)],
        env=env,
        cwd=tree,  # "python -c" puts the working folder before PYTHONPATH
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        tail = out.stderr.strip().splitlines()[-3:]
        return {"failed": " / ".join(tail), "seconds": round(time.perf_counter() - t, 1)}
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["index_mb"] = _size_mb(index)
    shutil.rmtree(index, ignore_errors=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("case", choices=["big", "tiny", "chunks"])
    ap.add_argument("--mb", type=int, nargs="+", default=[50], help="big file sizes (MB)")
    ap.add_argument("--files", type=int, default=100_000, help="number of tiny files")
    ap.add_argument("--baseline", type=Path, help="another checkout, built in the same run")
    ap.add_argument("--work", type=Path, default=WORK / "stream")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    trees = {"this": ROOT}
    if args.baseline:
        trees["baseline"] = args.baseline
    results: dict = {"load_before": os.getloadavg()[0], "runs": []}
    if args.case == "chunks":  # the reading side alone, on this checkout: list vs stream
        for mb in args.mb:
            corpus = args.work / f"big-{mb}"
            corpus.mkdir(parents=True, exist_ok=True)
            size = write_big(corpus / "big.txt", mb)
            for how in ("list", "stream"):
                res = run_chunks(corpus / "big.txt", args.work / "store", how)
                res.update(case=f"chunks of {mb} MB", how=how, corpus_size=size)
                res["load"] = os.getloadavg()[0]
                print(json.dumps(res), file=sys.stderr)
                results["runs"].append(res)
        write_results(results, args.out or HERE / "results" / "stream_chunks.json")
        return
    if args.case == "big":
        cases = []
        for mb in args.mb:
            corpus = args.work / f"big-{mb}"
            corpus.mkdir(parents=True, exist_ok=True)
            size = write_big(corpus / "big.txt", mb)
            cases.append((f"big {mb} MB", corpus, {"max_file_bytes": 2 * size}, size))
    else:
        corpus = args.work / f"tiny-{args.files}"
        write_tiny(corpus, args.files)
        cases = [(f"{args.files} tiny files", corpus, {}, _size_mb(corpus))]
    for name, corpus, extra, size in cases:
        for label, tree in trees.items():
            res = run_build(tree, corpus, args.work / "index", extra)
            res.update(case=name, tree=label, corpus_size=size, load=os.getloadavg()[0])
            print(json.dumps(res), file=sys.stderr)
            results["runs"].append(res)
    out = args.out or HERE / "results" / f"stream_{args.case}.json"
    write_results(results, out)


if __name__ == "__main__":
    main()
