"""Load test of the web app's ``/ask`` API: concurrent clients for a bounded time.

Builds an index of the corpus (default ``corpus/``) into a temporary folder with ``qa build``,
starts ``app.py`` on a free loopback port, waits until it serves, then runs ``--clients``
threads for ``--seconds``, each with its own ``gradio_client.Client`` calling
``predict(question, 3, api_name="/ask")`` with questions cycled from a list of Chinese and
English questions about the default corpus. Reports the requests, the throughput, the latency
percentiles and the errors (with their messages), then stops the server.

    python bench/bench_load.py                        # 60 s, 8 clients
    python bench/bench_load.py --seconds 20 --clients 4

The figures depend on the machine and on what else runs on it: on a shared machine they are
indications, not measurements to compare across runs.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

QUESTIONS = [
    "全市刑事立案数同比2019年下降了多少？",
    "扫黑除恶成绩连续几年排名全省第一？",
    "微警认证服务平台累计提供认证服务多少次？",
    "多少个民生服务事项接入了穗好办App？",
    "五年来有多少个集体荣获省部级以上表彰奖励？",
    "广州公安连续多少年在全省执法质量考评中获优秀等次？",
    "哪个分局的执法办案管理中心成为公安部标杆中心？",
    "广州公安在全国首创了什么执法办案权责清单体系？",
    "扫黑除恶专项斗争打掉了多少个涉黑组织？",
    "广州公安的特色政务服务模式是什么？",
    "夏夜治安巡查宣防集中统一行动在哪里开展？",
    "广州公安如何开展党建工作？",
    "How much did the number of criminal cases fall compared with 2019?",
    "How many years in a row did Guangzhou rank first in the province against organised crime?",
    "How many registered users does the WeChat police authentication platform have?",
    "How many public services can be handled in the Sui Hao Ban app?",
    "Which district bureau's case handling centre became a national model?",
    "What did the Guangzhou police do to keep night-time crowds safe?",
    "How did the police improve the public's sense of security?",
    "What political education campaigns did the police carry out?",
]


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
    """``app.py`` in a subprocess, its output in ``log``."""

    def __init__(self, corpus: Path, index: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = log
        self._out = log.open("wb")
        env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1")
        cmd = [sys.executable, str(ROOT / "app.py"), "--corpus", str(corpus)]
        cmd += ["--index", str(index), "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self._out, stderr=self._out)

    def wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app.py exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(self.url, timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
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


def client_loop(
    url: str,
    n: int,
    deadline: float,
    latencies: list[float],
    errors: collections.Counter,
    lock: threading.Lock,
    k: int,
) -> None:
    """One client: its own ``Client``, questions cycled from a different start."""
    from gradio_client import Client

    try:
        client = Client(url, verbose=False)
    except Exception as e:
        with lock:
            errors[f"client start: {type(e).__name__}: {e}"] += 1
        return
    i = n
    while time.monotonic() < deadline:
        question = QUESTIONS[i % len(QUESTIONS)]
        i += 1
        t0 = time.perf_counter()
        try:
            hits = client.predict(question, k, api_name="/ask")
            if not (isinstance(hits, list) and len(hits) == k and "text" in hits[0]):
                raise ValueError(f"unexpected answer: {str(hits)[:120]}")
        except Exception as e:
            with lock:
                errors[f"{type(e).__name__}: {str(e)[:200]}"] += 1
            continue
        dt = time.perf_counter() - t0
        with lock:
            latencies.append(dt)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seconds", type=float, default=60.0, help="load duration (default 60)")
    p.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    p.add_argument("--corpus", default=str(ROOT / "corpus"), help="corpus (default corpus/)")
    p.add_argument("-k", type=int, default=3, help="passages per question (default 3)")
    p.add_argument("--start-timeout", type=float, default=600, help="seconds to wait for app.py")
    p.add_argument("--keep", action="store_true", help="keep the temporary index and log")
    args = p.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="qa-bench-load-"))
    index = work / "index"
    print(f"building the index of {args.corpus} into {index} ...", flush=True)
    subprocess.run(
        [sys.executable, "-m", "qa", "build", "--corpus", args.corpus, "--index", str(index)],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = Server(Path(args.corpus), index, work / "server.log")
    try:
        t0 = time.monotonic()
        server.wait(args.start_timeout)
        print(f"app.py serves {server.url} ({time.monotonic() - t0:.1f} s to start)", flush=True)
        from gradio_client import Client

        Client(server.url, verbose=False).predict(QUESTIONS[0], args.k, api_name="/ask")  # warm

        latencies: list[float] = []
        errors: collections.Counter = collections.Counter()
        lock = threading.Lock()
        start = time.monotonic()
        deadline = start + args.seconds
        threads = [
            threading.Thread(
                target=client_loop,
                args=(server.url, n, deadline, latencies, errors, lock, args.k),
                daemon=True,
            )
            for n in range(args.clients)
        ]
        print(f"{args.clients} client(s) for {args.seconds:.0f} s ...", flush=True)
        for t in threads:
            t.start()
        for t in threads:
            t.join(args.seconds + 600)
        elapsed = time.monotonic() - start
    finally:
        server.stop()

    ok, failed = len(latencies), sum(errors.values())
    ms = [x * 1000 for x in latencies]
    print()
    print(f"clients            {args.clients}")
    print(f"duration           {elapsed:.1f} s")
    print(f"requests           {ok + failed} ({ok} ok, {failed} errors)")
    print(f"throughput         {ok / elapsed:.2f} req/s")
    if ms:
        print(f"latency mean       {statistics.fmean(ms):.0f} ms")
        for q in (50, 95, 99):
            print(f"latency p{q:<2}        {percentile(ms, q):.0f} ms")
        print(f"latency max        {max(ms):.0f} ms")
    for message, count in errors.most_common():
        print(f"error x{count}: {message}")
    if args.keep:
        print(f"kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
