"""The local LLM that phrases answers, per model and thread count, side by side in one run.

    python benchmarks/bench_llm.py [--models qwen2.5-coder-0.5b,qwen2.5-coder-1.5b,gemma-3-270m]
                                   [--threads 1,2] [--ramdocs 30] [--seeds 10]
    python benchmarks/bench_llm.py --prompt-state [--models qwen2.5-coder-1.5b]

Questions: the first answerable seed questions (tests/data/seeds_qa.jsonl; the prompt was developed on
these) and RAMDocs development questions, half from the tune part and half from the measure part (every
fifth question; the prompt never saw them), reported apart. Each model runs in its own process (clean peak
RSS), on the cached indexes (``index/seeds-llm``, built here; ``index/ramdocs`` from bench_ramdocs.py).

Per model: share of answers that pass every check (the model's text is shown, not the extractive
fallback; goal >= 0.9), share whose sentences are in the question's language (goal 1.0), time to the first
visible words p50 (goal <= 6 s) and total p50 (the first question, which loads the model, is left out of
both), prompt tokens, peak RSS. Models whose packages are missing are reported as skipped.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from _common import ROOT, pct, peak_rss_mb

RAMDOCS = ROOT.parent / "shared" / "data" / "ramdocs" / "ramdocs_dev.jsonl"


def _questions(n_seeds: int, n_ramdocs: int) -> list[tuple[str, object]]:
    from rag.evaluation import load_jsonl, load_ramdocs

    out: list[tuple[str, object]] = [("seeds", q) for q in load_jsonl(ROOT / "tests" / "data" / "seeds_qa.jsonl")
                                     if q.answerable][:n_seeds]
    if n_ramdocs and RAMDOCS.is_file():
        for part in ("tune", "measure"):
            qs = load_ramdocs(RAMDOCS, part=part, variants=False).questions
            out += [(f"ramdocs-{part}", q) for q in qs[: n_ramdocs // 2]]
    return out


def one(model: str, threads: int, n_seeds: int, n_ramdocs: int) -> dict:
    """Run one model in this process; returns its row per question set."""
    from rag.answer import ask
    from rag.config import load_settings
    from rag.engine import Engine
    from rag.errors import LLMError, RagError
    from rag.indexer import build_index
    from rag.llm import ChatBackend, embedded_model_path
    from rag.phrase import CITE
    from rag.text import detect_language

    llm = {"llamacpp_model": model, "llamacpp_threads": threads, "backend": "llamacpp"}
    try:
        ChatBackend(load_settings(overrides={"llm": llm}).llm).check()
        embedded_model_path(model)
    except LLMError as exc:
        return {"skipped": str(exc)}
    engines = {}
    for name in ("seeds-llm", "ramdocs"):
        s = load_settings(overrides={"index": {"name": name}, "llm": llm})
        try:
            e = Engine(s)
            e.retriever  # noqa: B018 - opens the index
        except RagError:
            if name != "seeds-llm":
                continue
            build_index(s, paths=[ROOT / "seeds"])
            e = Engine(s)
        engines[name] = e
    rows: dict[str, dict] = {}
    first = True
    for group, q in _questions(n_seeds, n_ramdocs):
        e = engines.get("seeds-llm" if group == "seeds" else "ramdocs")
        if e is None:
            continue
        t = time.perf_counter()
        a = ask(e, q.question, llm="llamacpp", filters=q.filters())
        total = time.perf_counter() - t
        r = rows.setdefault(group, {"asked": 0, "phrased": 0, "passed": 0, "recited": 0, "in_language": 0, "ttft": [],
                                    "total": [], "prompt_tokens": [], "parts": {}})
        r["asked"] += 1
        if a.statements or "llm_ms" in a.timings:
            r["phrased"] += 1
            r["passed"] += a.backend == "llamacpp"
            # passed only because a sentence's citation was moved to the source that states it
            r["recited"] += a.backend == "llamacpp" and any(st.recited_from for st in a.statements)
            text = CITE.sub("", " ".join(st.text for st in a.statements))
            r["in_language"] += bool(text) and detect_language(text) in (a.language, "und")
            if not first:
                r["ttft"].append(a.timings.get("first_token_ms", a.timings.get("llm_ms", 0)) / 1000)
                r["total"].append(total)
            r["prompt_tokens"].append(a.prompt_tokens or 0)
            for part, n in a.prompt_parts.items():
                r["parts"].setdefault(part, []).append(n)
            first = False
    out = {}
    for group, r in rows.items():
        n = max(r["phrased"], 1)
        out[group] = {"asked": r["asked"], "phrased": r["phrased"], "pass_share": round(r["passed"] / n, 2),
                      "recited_share": round(r["recited"] / n, 2),
                      "in_language": round(r["in_language"] / n, 2),
                      "ttft_p50_s": round(pct(r["ttft"], 0.5), 2), "total_p50_s": round(pct(r["total"], 0.5), 2),
                      "prompt_tokens": round(statistics.fmean(r["prompt_tokens"])) if r["prompt_tokens"] else 0,
                      # mean tokens per part over the prompts that have it, by the model's own tokenizer
                      "prompt_parts": {k: round(statistics.fmean(v)) for k, v in r["parts"].items()}}
    out["peak_rss_mb"] = round(peak_rss_mb())
    return out


def prompt_state(model: str, threads: int, n_seeds: int) -> dict:
    """Time to first words on the seed questions with and without a reused prompt state, in one process.

    ``cold``: the model's state is cleared before every question (the whole prompt is evaluated);
    ``reuse``: llama.cpp keeps the previous prompt's evaluated tokens and evaluates only what differs (the
    fixed system prompt comes first, so it is reused: the default); ``other prompt between``: another prompt
    (as the per-source LLM reader sends) runs before each question, without and with llama.cpp's RAM cache of
    saved states (``llm.llamacpp_state_cache_mb``), which restores the system prompt's state but pays for
    saving and loading it.
    """
    from llama_cpp import LlamaRAMCache

    from rag.answer import ask
    from rag.config import load_settings
    from rag.engine import Engine
    from rag.errors import RagError
    from rag.evaluation import load_jsonl
    from rag.indexer import build_index
    from rag.llm import ChatBackend

    s = load_settings(overrides={"index": {"name": "seeds-llm"}, "llm": {
        "llamacpp_model": model, "llamacpp_threads": threads, "backend": "llamacpp", "llamacpp_state_cache_mb": 0}})
    try:
        e = Engine(s)
        e.retriever  # noqa: B018 - opens the index
    except RagError:
        build_index(s, paths=[ROOT / "seeds"])
        e = Engine(s)
    qs = [q for q in load_jsonl(ROOT / "tests" / "data" / "seeds_qa.jsonl") if q.answerable][:n_seeds]
    ask(e, qs[0].question, llm="llamacpp")  # loads the model
    llama = ChatBackend(s.llm).chat_model().llama  # the same loaded model the answers use
    other = "Read the passage and answer with one word. " * 8  # about 80 tokens, another prefix
    out = {}
    for mode in ("cold", "reuse", "other prompt between", "other prompt between + RAM cache"):
        llama.reset()
        llama.set_cache(LlamaRAMCache(256 << 20) if mode.endswith("RAM cache") else None)
        ask(e, "Wann trat der Vertrag in Kraft?", llm="llamacpp")  # the same start for every mode
        ttft, total = [], []
        for q in qs:
            if mode == "cold":
                llama.reset()
            elif mode.startswith("other"):
                llama.create_completion(other + q.question, max_tokens=1)
            t = time.perf_counter()
            a = ask(e, q.question, llm="llamacpp")
            total.append(time.perf_counter() - t)
            ttft.append(a.timings.get("first_token_ms", a.timings.get("llm_ms", 0)) / 1000)
        out[mode] = {"ttft_p50_s": round(pct(ttft, 0.5), 2), "total_p50_s": round(pct(total, 0.5), 2)}
    llama.set_cache(None)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="qwen2.5-coder-0.5b,qwen2.5-coder-1.5b,gemma-3-270m")
    ap.add_argument("--threads", default="2")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--ramdocs", type=int, default=30)
    ap.add_argument("--prompt-state", action="store_true",
                    help="instead: first words with and without a reused prompt state (first model and thread count)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.prompt_state:
        model, threads = args.models.split(",")[0], int(args.threads.split(",")[0])
        res = prompt_state(model, threads, args.seeds)
        print(f"{model}@{threads}, {args.seeds} seed questions")
        for mode, r in res.items():
            print(f"  {mode:34s} first words p50 {r['ttft_p50_s']:5.2f} s   total p50 {r['total_p50_s']:5.2f} s")
        return
    if args.one:
        model, threads = args.one.rsplit("@", 1)
        print(json.dumps(one(model, int(threads), args.seeds, args.ramdocs)))
        return
    results = {}
    for model in args.models.split(","):
        for threads in (int(x) for x in args.threads.split(",")):
            key = f"{model}@{threads}"
            proc = subprocess.run([sys.executable, __file__, "--one", key, "--seeds", str(args.seeds),
                                   "--ramdocs", str(args.ramdocs)], capture_output=True, text=True)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
            results[key] = json.loads(lines[-1]) if lines else {"skipped": (proc.stderr.strip().splitlines()
                                                                              or ["failed"])[-1][:200]}
            print(key, json.dumps(results[key]), flush=True)
    cols = ("asked", "phrased", "pass_share", "recited_share", "in_language", "ttft_p50_s", "total_p50_s", "prompt_tokens")
    print(f"\n{'model@threads':26s} {'questions':15s} " + " ".join(f"{c:>12s}" for c in cols) + f" {'peak_rss_mb':>12s}")
    for key, res in results.items():
        if "skipped" in res:
            print(f"{key:26s} skipped: {res['skipped']}")
            continue
        for group in ("seeds", "ramdocs-tune", "ramdocs-measure"):
            if group in res:
                print(f"{key:26s} {group:15s} " + " ".join(f"{res[group][c]!s:>12s}" for c in cols)
                      + f" {res['peak_rss_mb']:>12}")
    print("\nprompt tokens per part (mean, the model's tokenizer; the chat template adds a few more)")
    for key, res in results.items():
        for group in ("seeds", "ramdocs-tune", "ramdocs-measure"):
            if group in res:
                parts = res[group].get("prompt_parts", {})
                print(f"{key:26s} {group:15s} " + "  ".join(f"{k} {v}" for k, v in parts.items()))
    (ROOT / "reports").mkdir(exist_ok=True)
    (ROOT / "reports" / "llm.json").write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
