"""How long a rebuild takes when little or nothing changed, for two versions of qa in one run.

Copies an index folder (and its corpus) once per code tree, then, for each tree in turn
(alternating, so both see the same machine load): a rebuild with nothing changed, then one
after 1% of the files got a sentence appended. Each build runs in a fresh process (the
tree's code on ``PYTHONPATH``) and reports its wall time, peak RSS and chunks embedded. With
``--milvus``, each round also publishes the index to a new Milvus Lite file (a first publish).
A first rebuild per tree, not timed, brings each copy to what that code writes (an index from
older code lacks files newer code saves).

    python bench/bench_rebuild.py --corpus DIR --index DIR --tree before=/path/a
        --tree after=/path/b [--rounds 2] [--milvus] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_results

CHILD = """
import json, resource, sys, time
from qa.index import build_index
t = time.perf_counter()
r = build_index(sys.argv[1], sys.argv[2])
import qa
print(json.dumps({"qa": qa.__file__, "seconds": time.perf_counter() - t, "embedded": r.embedded,
    "chunks": r.chunks, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_build(
    tree: Path, corpus: Path, index: Path, script: str = CHILD, *extra: str
) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(  # cwd: `python -c` puts the working folder before PYTHONPATH
        [sys.executable, "-c", script, str(corpus.resolve()), str(index.resolve()), *extra],
        cwd=tree,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    if not got["qa"].startswith(str(tree.resolve())):
        raise SystemExit(f"ran {got['qa']}, not the code in {tree}")
    return got


PUBLISH = """
import json, resource, sys, time
from qa import milvus
from qa.index import load_index
import qa
t = time.perf_counter()
r = milvus.publish(load_index(sys.argv[2]), "milvus:" + sys.argv[3])
milvus.close(milvus.parse_store("milvus:" + sys.argv[3]))
print(json.dumps({"qa": qa.__file__, "seconds": time.perf_counter() - t, "written": r.added,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def touch_one_percent(corpus: Path, round_no: int) -> int:
    files = sorted(corpus.rglob("*.txt"))[round_no::100]
    for p in files:
        p.write_text(p.read_text(encoding="utf-8") + f"\n本段落第{round_no}次更新。\n", "utf-8")
    return len(files)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--tree", action="append", required=True, help="NAME=PATH of a qa checkout")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", default="bench/results/rebuild.json")
    ap.add_argument(
        "--milvus", action="store_true", help="also time a first publish to Milvus Lite"
    )
    args = ap.parse_args()
    trees = dict(t.split("=", 1) for t in args.tree)
    work = Path(tempfile.mkdtemp(prefix="qa-bench-rebuild-"))
    dirs = {}
    for name in trees:
        dirs[name] = (work / name / "corpus", work / name / "index")
        shutil.copytree(args.corpus, dirs[name][0])
        shutil.copytree(args.index, dirs[name][1])
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {n: {} for n in trees}
    for name, tree in trees.items():  # bring each copy to its code's format (not timed)
        print(name, "first rebuild", run_build(Path(tree), *dirs[name]), file=sys.stderr)
    for r in range(args.rounds):
        order = list(trees) if r % 2 == 0 else list(trees)[::-1]
        for name in order:
            corpus, index = dirs[name]
            for case in ("nothing changed", "1% of files changed"):
                if case.startswith("1%"):
                    touch_one_percent(corpus, r)
                got = run_build(Path(trees[name]), corpus, index)
                got["load"] = os.getloadavg()[0]
                runs[name].setdefault(case, []).append(got)
                print(name, case, got, file=sys.stderr, flush=True)
            if args.milvus:
                db = work / name / f"milvus-{r}.db"
                got = run_build(Path(trees[name]), corpus, index, PUBLISH, str(db))
                got["load"] = os.getloadavg()[0]
                runs[name].setdefault("first publish to Milvus Lite", []).append(got)
                print(name, "publish", got, file=sys.stderr, flush=True)
    summary = {
        name: {
            case: {
                "median_seconds": statistics.median(g["seconds"] for g in got),
                "peak_rss_mb": max(g["peak_rss_mb"] for g in got),
                "embedded": [g.get("embedded", 0) for g in got],
                "chunks": got[0].get("chunks", got[0].get("written")),
                "load": [round(g["load"], 1) for g in got],
            }
            for case, got in cases.items()
        }
        for name, cases in runs.items()
    }
    shutil.rmtree(work, ignore_errors=True)
    write_results({"trees": trees, "summary": summary, "runs": runs}, args.out)


if __name__ == "__main__":
    main()
