"""Soak test: N minutes of mixed search/ask traffic against a local server process.

    python benchmarks/soak.py [--minutes 2] [--threads 4]

Reports requests served, errors, p50/p95 latency per route and the server's RSS growth.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil
from _common import ROOT, pct

QUESTIONS = ["How many troops did North Korea send to Russia?", "Wie viele Soldaten hat Nordkorea entsandt?",
             "When did the treaty enter into force?", "Which region did North Korean soldiers help recapture?",
             "What is the capital of France?"]


def main(minutes: float, threads: int) -> dict:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "c.yaml"
        cfg.write_text(f"corpus: {ROOT / 'seeds'}\nindex:\n  root: {tmp}/index\nserver:\n  corpus_dir: {tmp}/corpus\n")
        proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--config", str(cfg), "--port", str(port),
                                 "--no-ui"], cwd=ROOT)
        url = f"http://127.0.0.1:{port}/api/v1"
        for _ in range(360):
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        ps = psutil.Process(proc.pid)
        for q in QUESTIONS:  # warm up
            httpx.post(url + "/ask", json={"question": q}, timeout=60)
        rss0 = ps.memory_info().rss / 1048576
        lat: dict[str, list[float]] = {"search": [], "ask": []}
        errors = [0]
        stop = time.time() + minutes * 60
        lock = threading.Lock()

        def worker(seed: int) -> None:
            rng = random.Random(seed)
            with httpx.Client(timeout=60) as c:
                while time.time() < stop:
                    q = rng.choice(QUESTIONS)
                    route = "ask" if rng.random() < 0.25 else "search"
                    body = {"question": q, "llm": "none"} if route == "ask" else {"query": q, "k": 5}
                    t = time.perf_counter()
                    try:
                        ok = c.post(f"{url}/{route}", json=body).status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    with lock:
                        lat[route].append((time.perf_counter() - t) * 1000)
                        errors[0] += not ok

        ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        rss1 = ps.memory_info().rss / 1048576
        proc.terminate()
        proc.wait(10)
    out = {"minutes": minutes, "threads": threads, "requests": sum(len(v) for v in lat.values()), "errors": errors[0],
           **{f"{r}_p50_ms": round(pct(v, 0.5), 1) for r, v in lat.items()},
           **{f"{r}_p95_ms": round(pct(v, 0.95), 1) for r, v in lat.items()},
           "rss_start_mb": round(rss0), "rss_end_mb": round(rss1), "rss_growth_mb": round(rss1 - rss0, 1)}
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=2)
    ap.add_argument("--threads", type=int, default=4)
    a = ap.parse_args()
    res = main(a.minutes, a.threads)
    Path("reports").mkdir(exist_ok=True)
    Path("reports/soak.json").write_text(json.dumps(res, indent=2))
