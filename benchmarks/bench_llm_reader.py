"""The LLM as a per-source reader against the deterministic reader, on the same RAMDocs questions.

    python benchmarks/bench_llm_reader.py [--per-part 8] [--model qwen2.5-coder-1.5b]

The first N numeric and date questions of the tune part and of the measure part (every fifth question) of
the RAMDocs development half, on the cached ``index/ramdocs``. Both readers share retrieval, candidates,
comparison and composition; only the choice of each source's value differs. Reported per part: answer
accuracy (a gold answer in the answer), conflict precision / recall against the gold conflict, and seconds
per question. The extractive answer is used in both (the phrasing LLM is not what is measured).
"""

from __future__ import annotations

import argparse
import time

from _common import ROOT

from rag.answer import answer_from, gather, question_language
from rag.config import load_settings
from rag.engine import Engine
from rag.evaluation import answer_present, load_ramdocs
from rag.intent import analyse
from rag.llm import ChatBackend

RAMDOCS = ROOT.parent / "shared" / "data" / "ramdocs" / "ramdocs_dev.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-part", type=int, default=8)
    ap.add_argument("--model", default="qwen2.5-coder-1.5b")
    args = ap.parse_args()
    base = load_settings(overrides={"index": {"name": "ramdocs"}, "llm": {"llamacpp_model": args.model}})
    llm_s = base.model_copy(update={"answer": base.answer.model_copy(update={
        "reader": base.answer.reader.model_copy(update={"llm": True})})})
    det, llm = Engine(base), Engine(llm_s)
    llm._retriever, llm._embedder = det.retriever, det.embedder
    ChatBackend(llm_s.llm.model_copy(update={"backend": "llamacpp"})).check()
    print(f"{'part':8s} {'reader':14s} {'accuracy':>9s} {'conflict P':>11s} {'conflict R':>11s} {'s/question':>11s}")
    for part in ("tune", "measure"):
        qs = [q for q in load_ramdocs(RAMDOCS, part=part, variants=False).questions
              if q.extra.get("answer_type") in ("number", "date")][: args.per_part]
        rows: dict[str, list[tuple[bool, bool, bool, float]]] = {"deterministic": [], "llm": []}
        for q in qs:
            intent = analyse(q.question)
            g = gather(det, intent, 10, q.filters(), question_language(q.question))
            for name, eng, backend in (("deterministic", det, "none"), ("llm", llm, "llamacpp")):
                t = time.perf_counter()
                a = answer_from(eng, g, backend, phrase=False)  # the answer stays extractive: only the reading differs
                rows[name].append((answer_present(a.answer, q.answers), bool(a.flag), q.conflict,
                                   time.perf_counter() - t))
        for name, rs in rows.items():
            acc = sum(r[0] for r in rs) / len(rs)
            flagged = [r for r in rs if r[1]]
            gold = [r for r in rs if r[2]]
            p = sum(r[2] for r in flagged) / len(flagged) if flagged else float("nan")
            rec = sum(r[1] for r in gold) / len(gold) if gold else float("nan")
            sec = sum(r[3] for r in rs) / len(rs)
            print(f"{part:8s} {name:14s} {acc:9.2f} {p:11.2f} {rec:11.2f} {sec:11.1f}", flush=True)


if __name__ == "__main__":
    main()
