"""Peak memory of one index build: ``build_index`` of a corpus folder into a fresh temporary
index, in this process, then the build summary, the time and the process's peak RSS.

    python bench/bench_build_rss.py CORPUS_DIR [--out bench/results/build_rss.json]

Used for "a build over a 300-page PDF" in BENCHMARKS.md: run it once on a folder holding the PDF
and once on a folder holding the same text as a .txt file.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_results

from qa.index import build_index
from qa.settings import DEFAULTS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corpus")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "build_rss.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        st = dataclasses.replace(DEFAULTS, corpus_dir=Path(args.corpus), index_dir=Path(tmp))
        t0 = time.perf_counter()
        report = build_index(st.corpus_dir, st.index_dir, settings=st)
        seconds = time.perf_counter() - t0
    print(report.summary(), file=sys.stderr)
    write_results(
        {
            "corpus": args.corpus,
            "files": report.files_read,
            "pages": report.pages,
            "chunks": report.chunks,
            "seconds": round(seconds, 1),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
