"""Peak memory of reading and chunking one large text file: the whole-file path
(``read_document`` + ``iter_chunks``) against the streaming path (``iter_document_chunks``).

A Chinese text file of ``--mb`` megabytes is generated from the default corpus's paragraphs
(shuffled, with section headings), then each case runs in a fresh subprocess and reports its
peak resident set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``), so that no case sees
another's memory:

* ``baseline``     imports only (the interpreter and the qa modules);
* ``whole``        read_document, then iterate over the chunks without keeping them;
* ``whole+list``   read_document, then keep all the chunks in a list (what a build holds);
* ``stream``       iter_document_chunks, iterate without keeping the chunks;
* ``stream+list``  iter_document_chunks, keep all the chunks in a list.

Every case also prints a digest of its chunks: the streaming path must give the same chunks.

    python bench/bench_memory.py                 # 50 MB, UTF-8
    python bench/bench_memory.py --mb 20 --encoding gb18030
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CASES = ("baseline", "whole", "whole+list", "stream", "stream+list")

_NUMERALS = "一二三四五六七八九十"


def generate(path: Path, mb: float, encoding: str, seed: int = 0) -> int:
    """Write a Chinese document of about ``mb`` MB (encoded) to ``path``; return its size."""
    rng = random.Random(seed)
    source = (ROOT / "corpus" / "guangzhou-police-five-year-work-report.txt").read_text(
        encoding="utf-8"
    )
    paras = [p.strip() for p in source.split("\n") if len(p.strip()) > 20]
    target = int(mb * 1024 * 1024)
    size = 0
    section = 0
    with path.open("w", encoding=encoding, newline="\n") as f:
        while size < target:
            parts = []
            if rng.random() < 0.05:
                section += 1
                parts.append(f"{_NUMERALS[section % 10]}、第{section}部分工作回顾\n\n")
            for _ in range(rng.randint(1, 4)):
                parts.append(rng.choice(paras) + "\n\n")
            block = "".join(parts)
            f.write(block)
            size += len(block.encode(encoding))
    return path.stat().st_size


def run_case(case: str, path: Path) -> dict[str, object]:
    """Run one case in this process and return its figures."""
    from qa.chunk import iter_chunks
    from qa.corpus import read_document

    root = path.parent
    t0 = time.perf_counter()
    digest = hashlib.sha256()
    n = 0
    if case == "baseline":
        chunks_iter = iter(())
    elif case.startswith("whole"):
        doc = read_document(path, root)
        chunks_iter = iter_chunks(doc.text, doc.path)
    else:
        try:
            from qa.chunk import iter_document_chunks
        except ImportError:
            return {"case": case, "error": "no streaming path in this version"}
        _, chunks_iter = iter_document_chunks(path, root)
    kept = []
    for c in chunks_iter:
        n += 1
        digest.update(f"{c.start}:{c.end}:{c.hash}\n".encode())
        if case.endswith("+list"):
            kept.append(c)
    seconds = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "case": case,
        "chunks": n,
        "kept": len(kept),
        "digest": digest.hexdigest()[:12] if n else "-",
        "peak_mb": peak_kib / 1024,
        "seconds": seconds,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--mb", type=float, default=50.0, help="file size in MB (default 50)")
    p.add_argument("--encoding", default="utf-8", help="file encoding (default utf-8)")
    p.add_argument("--cases", default=",".join(CASES), help="comma-separated cases to run")
    p.add_argument("--case", help=argparse.SUPPRESS)  # internal: run one case in this process
    p.add_argument("--file", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.case:
        print(json.dumps(run_case(args.case, Path(args.file))))
        return 0

    with tempfile.TemporaryDirectory(prefix="qa-bench-memory-") as tmp:
        path = Path(tmp) / "big.txt"
        size = generate(path, args.mb, args.encoding)
        print(f"file: {size / 1024 / 1024:.1f} MB of generated Chinese text ({args.encoding})")
        rows = []
        for case in args.cases.split(","):
            out = subprocess.run(
                [sys.executable, __file__, "--case", case, "--file", str(path)],
                capture_output=True,
                text=True,
                check=False,
            )
            if out.returncode != 0:
                rows.append({"case": case, "error": out.stderr.strip().splitlines()[-1:]})
                continue
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    base = next((r["peak_mb"] for r in rows if r["case"] == "baseline" and "peak_mb" in r), 0.0)
    print(f"{'case':<13} {'peak RSS MB':>11} {'over base':>9} {'chunks':>8} {'s':>6}  digest")
    for r in rows:
        if "error" in r:
            print(f"{r['case']:<13} error: {r['error']}")
            continue
        print(
            f"{r['case']:<13} {r['peak_mb']:>11.1f} {r['peak_mb'] - base:>9.1f} "
            f"{r['chunks']:>8} {r['seconds']:>6.1f}  {r['digest']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
