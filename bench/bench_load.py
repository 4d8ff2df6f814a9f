"""Load test of the server: concurrent clients for a bounded time, cold caches, no question
asked twice.

Serves the CMRC 2018 trial paragraphs (one file each, indexed once under ``bench/.work/``) and
asks their 2,000 questions (the 1,000 Chinese ones and their hand-written English versions,
``bench/data/cmrc2018/questions_en.jsonl``, alternating): English questions over Chinese text
are the expensive path (each hit's sentences are embedded for highlighting). Each run starts a
fresh ``app.py`` on a free loopback port (so the model's and the sentence-vector caches are
cold; each on its own copy of the index, which ``qa build`` keeps up to date under
``bench/.work/cmrc/``), warms it with one question outside the list, then ``--clients`` threads, each with its
own client (made before the clock starts), take the next unasked question from the shared list
until ``--seconds`` have passed. Every run asks the same questions in the same order.

Runs (``--runs``): ``http`` (``POST /api/ask`` with ``httpx``), ``gradio`` (``gradio_client``,
``predict(question, k, api_name="/ask")``), and with ``--baseline DIR`` also ``baseline``: the
Gradio API of another checkout's ``app.py`` (e.g. the main branch), measured in the same run.
Reports requests, errors (with their messages), throughput and latency percentiles per run, and
writes them to ``--out``.

    python bench/bench_load.py                             # 16 clients, 60 s, http and gradio
    python bench/bench_load.py --baseline /work/main       # and the main branch's Gradio API
    python bench/bench_load.py --baseline /work/main --repeat 2   # each run twice, interleaved
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from cmrc import load_cmrc  # noqa: E402

DATA = HERE / "data" / "cmrc2018"
WARM_UP = "这是一个预热问题，不在问题列表里。"


def questions() -> list[str]:
    """The CMRC trial questions, Chinese and English alternating, each once."""
    english = {}
    with (DATA / "questions_en.jsonl").open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                english[row["id"]] = row["en"]
    out: list[str] = []
    for p in load_cmrc(DATA / "cmrc2018_trial.json"):
        for q in p.questions:
            if q.question.strip():
                out.append(q.question.strip())
                if english.get(q.id):
                    out.append(english[q.id])
    seen: set[str] = set()
    return [q for q in out if not (q in seen or seen.add(q))]  # type: ignore[func-returns-value]


def write_corpus(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for p in load_cmrc(DATA / "cmrc2018_trial.json"):
        f = folder / f"{p.id}.txt"
        if not f.exists():
            f.write_text(p.context + "\n", encoding="utf-8")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``, by linear interpolation."""
    if not values:
        return float("nan")
    s = sorted(values)
    pos = (len(s) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


class Server:
    """``app.py`` of the checkout ``root`` in a subprocess, its output in ``log``."""

    def __init__(self, root: Path, corpus: Path, index: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = log
        self._out = log.open("wb")
        env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1")
        env["PYTHONPATH"] = str(root)
        env.pop("QA_AUTH", None)
        cmd = [sys.executable, str(root / "app.py"), "--corpus", str(corpus)]
        cmd += ["--index", str(index), "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=self._out, stderr=self._out)

    def wait(self, timeout: float) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app.py exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if httpx.get(self.url, timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"app.py did not answer within {timeout} s:\n{self.tail()}")

    def tail(self) -> str:
        self._out.flush()
        return self.log.read_text(encoding="utf-8", errors="replace")[-3000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._out.close()


class Asker:
    """One client of one kind (``http`` or ``gradio``)."""

    def __init__(self, kind: str, url: str, k: int) -> None:
        self.kind, self.k = kind, k
        if kind == "http":
            import httpx

            self.client = httpx.Client(base_url=url, timeout=300)
        else:
            from gradio_client import Client

            self.client = Client(url, verbose=False)

    def ask(self, question: str) -> list[dict]:
        if self.kind == "http":
            r = self.client.post("api/ask", json={"question": question, "k": self.k})
            if r.status_code != 200:
                raise RuntimeError(f"HTTP {r.status_code}: {r.text[:200]}")
            hits = r.json()
        else:
            hits = self.client.predict(question, self.k, api_name="/ask")
        if not (isinstance(hits, list) and len(hits) == self.k and "text" in hits[0]):
            raise ValueError(f"unexpected answer: {str(hits)[:120]}")
        return hits


def run_load(kind: str, url: str, pool: list[str], args: argparse.Namespace) -> dict:
    """``args.clients`` clients for ``args.seconds`` over the questions of ``pool``."""
    latencies: list[float] = []
    errors: collections.Counter = collections.Counter()
    lock = threading.Lock()
    next_question = iter(pool)
    clock = {"start": 0.0, "stop": 0.0}

    def start_clock() -> None:  # once every client is made, before any asks
        clock["start"] = time.monotonic()
        clock["stop"] = clock["start"] + args.seconds

    ready = threading.Barrier(args.clients, action=start_clock)
    exhausted = [False]

    def client() -> None:
        try:
            asker = Asker(kind, url, args.k)
        except Exception as e:
            with lock:
                errors[f"client start: {type(e).__name__}: {e}"] += 1
            ready.wait()
            return
        ready.wait()
        while time.monotonic() < clock["stop"]:
            with lock:
                question = next(next_question, None)
            if question is None:
                exhausted[0] = True
                return
            t0 = time.perf_counter()
            try:
                asker.ask(question)
            except Exception as e:
                with lock:
                    errors[f"{type(e).__name__}: {str(e)[:200]}"] += 1
                continue
            dt = time.perf_counter() - t0
            with lock:
                latencies.append(dt)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(args.seconds + 900)
    elapsed = time.monotonic() - clock["start"]
    ms = [x * 1000 for x in latencies]
    ok, failed = len(latencies), sum(errors.values())
    return {
        "run": kind,
        "clients": args.clients,
        "seconds": round(elapsed, 1),
        "requests": ok + failed,
        "ok": ok,
        "errors": failed,
        "error_messages": dict(errors.most_common()),
        "questions_left": not exhausted[0],
        "throughput": round(ok / elapsed, 2),
        "mean_ms": round(statistics.fmean(ms)) if ms else None,
        "p50_ms": round(percentile(ms, 50)) if ms else None,
        "p95_ms": round(percentile(ms, 95)) if ms else None,
        "p99_ms": round(percentile(ms, 99)) if ms else None,
        "max_ms": round(max(ms)) if ms else None,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seconds", type=float, default=60.0, help="load duration (default 60)")
    p.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    p.add_argument("-k", type=int, default=3, help="passages per question (default 3)")
    p.add_argument("--runs", default="http,gradio", help="http, gradio (default both)")
    p.add_argument("--baseline", type=Path, help="another checkout: its app.py's Gradio API too")
    p.add_argument("--repeat", type=int, default=1, help="run the whole plan this many times")
    p.add_argument("--start-timeout", type=float, default=600, help="seconds to wait for app.py")
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "load.json"))
    args = p.parse_args(argv)

    pool = questions()
    corpus = ROOT / "bench" / ".work" / "cmrc" / "corpus"
    write_corpus(corpus)
    work = Path(tempfile.mkdtemp(prefix="qa-bench-load-"))
    index = ROOT / "bench" / ".work" / "cmrc" / "index"  # the other benchmarks' (incremental)
    print(f"{len(pool)} distinct questions; updating the index of {corpus} ...", flush=True)
    subprocess.run(
        [sys.executable, "-m", "qa", "build", "--corpus", str(corpus), "--index", str(index)],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    plan = [(kind, ROOT) for kind in args.runs.split(",") if kind]
    if args.baseline:
        plan.insert(0, ("baseline", args.baseline.resolve()))
    plan = plan * args.repeat  # interleaved: each kind sees the machine's load changes alike
    results = []
    try:
        for n, (kind, root) in enumerate(plan):
            log = work / f"server-{n}-{kind}.log"
            # a copy of the index per run: a fresh server never shares a lock or a version
            run_index = work / f"index-{n}-{kind}"
            shutil.copytree(index, run_index)
            server = Server(root, corpus, run_index, log)
            try:
                t0 = time.monotonic()
                server.wait(args.start_timeout)
                started = time.monotonic() - t0
                Asker("gradio" if kind == "baseline" else kind, server.url, args.k).ask(WARM_UP)
                load = os.getloadavg()[0]
                print(f"{kind}: {server.url} up in {started:.1f} s; load {load:.2f}", flush=True)
                r = run_load("gradio" if kind == "baseline" else kind, server.url, pool, args)
                r.update(run=kind, root=str(root), load_before=round(load, 2))
                r["load_after"] = round(os.getloadavg()[0], 2)
                results.append(r)
            finally:
                server.stop()
            print(json.dumps(r, ensure_ascii=False), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print()
    print("| run | requests | errors | throughput | p50 | p95 | p99 | load |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['run']} | {r['requests']} | {r['errors']} | {r['throughput']} req/s | "
            f"{r['p50_ms']} ms | {r['p95_ms']} ms | {r['p99_ms']} ms | "
            f"{r['load_before']}→{r['load_after']} |"
        )
    if args.repeat > 1:
        print()
        print("| run | runs | throughput (median) | p95 (median) | errors |")
        print("|---|---|---|---|---|")
        for kind in dict.fromkeys(r["run"] for r in results):
            rs = [r for r in results if r["run"] == kind]
            print(
                f"| {kind} | {len(rs)} | {statistics.median(r['throughput'] for r in rs)} req/s | "
                f"{statistics.median(r['p95_ms'] or 0 for r in rs)} ms | "
                f"{sum(r['errors'] for r in rs)} |"
            )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0 if results and all(r["errors"] == 0 and r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
