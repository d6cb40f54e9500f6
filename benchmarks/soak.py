"""Soak: searches at 1, 10 and 50 concurrent clients while 10 clients keep asking, against a real server process.

    python benchmarks/soak.py [--seconds 30] [--asks 10]

Prints, side by side, search p50 / p95 and throughput per level, ask p50 / p95, errors, and the server's RSS
before and after. The target: search p95 at 10 clients stays within 3x its single-client p95.
"""

from __future__ import annotations

import argparse
import json
import random
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
QUERIES = ["Kursk", "Soldaten Nordkorea", "Vertrag Kraft", "Verluste", "Pjöngjang Moskau Abkommen", "troops sent"]


def start(tmp: Path) -> tuple[subprocess.Popen, str]:
    cfg = tmp / "c.yaml"
    cfg.write_text(f"corpus: {ROOT / 'seeds'}\nindex:\n  root: {tmp}/index\nserver:\n  corpus_dir: {tmp}/corpus\n",
                   encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--config", str(cfg), "--port", "0", "--no-ui"],
                            cwd=ROOT, stderr=subprocess.PIPE, text=True)
    while True:
        line = proc.stderr.readline()
        if not line:
            raise RuntimeError("the server did not start")
        if line.startswith("serving http://"):
            url = line.split()[1].rstrip("/")
            break
    threading.Thread(target=lambda: proc.stderr.read(), daemon=True).start()
    for _ in range(240):
        try:
            if httpx.get(url + "/api/v1/health", timeout=2).status_code == 200:
                return proc, url + "/api/v1"
        except httpx.HTTPError:
            time.sleep(0.5)
    raise RuntimeError("the server did not answer")


def phase(url: str, clients: int, asks: int, seconds: float) -> dict:
    stop = time.monotonic() + seconds
    lat: dict[str, list[float]] = {"search": [], "ask": []}
    errors = {"search": 0, "ask": 0}
    lock = threading.Lock()

    def worker(route: str, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(timeout=120) as c:
            while time.monotonic() < stop:
                body = {"query": rng.choice(QUERIES), "k": 5} if route == "search" else {"question": rng.choice(QUESTIONS)}
                t = time.perf_counter()
                try:
                    ok = c.post(f"{url}/{route}", json=body).status_code == 200
                except httpx.HTTPError:
                    ok = False
                dt = time.perf_counter() - t
                with lock:
                    lat[route].append(dt) if ok else None
                    errors[route] += not ok

    threads = [threading.Thread(target=worker, args=("search", i)) for i in range(clients)]
    threads += [threading.Thread(target=worker, args=("ask", 1000 + i)) for i in range(asks)]
    t0 = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.monotonic() - t0
    return {"clients": clients, "asks_running": asks, "searches": len(lat["search"]),
            "search_p50_ms": round(1000 * pct(lat["search"], 0.5), 1), "search_p95_ms": round(1000 * pct(lat["search"], 0.95), 1),
            "search_per_s": round(len(lat["search"]) / elapsed, 1), "asks": len(lat["ask"]),
            "ask_p50_ms": round(1000 * pct(lat["ask"], 0.5), 1), "ask_p95_ms": round(1000 * pct(lat["ask"], 0.95), 1),
            "errors": errors["search"] + errors["ask"]}


def main(seconds: float, asks: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start(Path(tmp))
        try:
            ps = psutil.Process(proc.pid)
            for q in QUESTIONS:  # warm up
                httpx.post(url + "/ask", json={"question": q}, timeout=120)
            rss0 = ps.memory_info().rss / 1048576
            rows = [phase(url, n, asks, seconds) for n in (1, 10, 50)]
            rss1 = ps.memory_info().rss / 1048576
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"{'clients':>8} {'searches':>9} {'p50 ms':>8} {'p95 ms':>8} {'per s':>7} {'asks':>6} {'ask p50':>8} "
          f"{'ask p95':>8} {'errors':>7}")
    for r in rows:
        print(f"{r['clients']:8d} {r['searches']:9d} {r['search_p50_ms']:8.1f} {r['search_p95_ms']:8.1f} "
              f"{r['search_per_s']:7.1f} {r['asks']:6d} {r['ask_p50_ms']:8.1f} {r['ask_p95_ms']:8.1f} {r['errors']:7d}")
    ratio = rows[1]["search_p95_ms"] / max(rows[0]["search_p95_ms"], 1e-9)
    print(f"search p95 at 10 clients / at 1 client: {ratio:.2f} (target <= 3)")
    print(f"server RSS {rss0:.0f} MB -> {rss1:.0f} MB ({rss1 - rss0:+.1f} MB), {asks} asks running throughout")
    return {"phases": rows, "p95_ratio_10_vs_1": round(ratio, 2), "rss_before_mb": round(rss0, 1),
            "rss_after_mb": round(rss1, 1)}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=30.0, help="length of each level")
    ap.add_argument("--asks", type=int, default=10, help="asking clients running throughout")
    args = ap.parse_args()
    res = main(args.seconds, args.asks)
    (ROOT / "reports").mkdir(exist_ok=True)
    (ROOT / "reports" / "soak.json").write_text(json.dumps(res, indent=2), encoding="utf-8")
