"""Per LLM backend: time to first token, total latency, prompt tokens and peak RSS on 10 seed questions.

    python benchmarks/bench_llm.py [--backends none,llamacpp,ollama]

Backends that are not available (no Ollama server, no [local-llm] extra) are reported as skipped.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from _common import ROOT, pct, peak_rss_mb

from rag.answer import ask
from rag.config import load_settings
from rag.engine import Engine
from rag.errors import LLMError
from rag.evaluation import load_jsonl
from rag.indexer import build_index
from rag.llm import ChatBackend


def main(backends: list[str]) -> dict:
    qs = [q for q in load_jsonl(ROOT / "tests" / "data" / "seeds_qa.jsonl") if q.answerable][:10]
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        s = load_settings(overrides={"index": {"root": tmp}})
        build_index(s, paths=[ROOT / "seeds"])
        engine = Engine(s)
        for b in backends:
            if b != "none":
                try:
                    ChatBackend(s.llm.model_copy(update={"backend": b})).check()
                except LLMError as exc:
                    out[b] = {"skipped": str(exc)}
                    print(b, "skipped:", exc)
                    continue
            ttft, total, ptoks, used = [], [], [], 0
            t_load = time.perf_counter()
            for q in qs:
                t = time.perf_counter()
                first: list[float] = []
                a = ask(engine, q.question, llm=b, on_token=lambda _t, first=first, t=t: first.append(time.perf_counter() - t)
                        if not first else None)
                total.append(time.perf_counter() - t)
                ttft.append(first[0] if first else total[-1])
                ptoks.append(a.prompt_tokens or 0)
                used += a.backend == b or (b == "none" and a.backend == "extractive")
            row = {"questions": len(qs), "answered_by_backend": used,
                   "ttft_p50_s": round(pct(ttft, 0.5), 2), "total_p50_s": round(pct(total, 0.5), 2),
                   "total_p95_s": round(pct(total, 0.95), 2), "all_s": round(time.perf_counter() - t_load, 1),
                   "prompt_tokens_mean": round(statistics.fmean(ptoks)), "peak_rss_mb": round(peak_rss_mb())}
            out[b] = row
            print(b, row)
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--backends", default="none,llamacpp,ollama")
    res = main(ap.parse_args().backends.split(","))
    Path("reports").mkdir(exist_ok=True)
    Path("reports/bench_llm.json").write_text(json.dumps(res, indent=2))
