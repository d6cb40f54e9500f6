"""The LLM as a per-source reader against the deterministic reader, on the same questions.

    python benchmarks/bench_llm_reader.py [--set ramdocs|xquad] [--types number,date] [--per-part 8]
                                          [--model qwen2.5-coder-1.5b]

``--set ramdocs`` (default): the first N questions of the given gold answer types (``number``, ``date``,
``name``) of the tune part and of the measure part (every fifth question) of the RAMDocs development half, on
the cached ``index/ramdocs``. ``--set xquad``: N answerable questions per part (spread evenly over the part)
of XQuAD EN→DE whose question asks for a name or free text (the phrase reader's domain), on the cached
``index/xquad-dev`` (build both with ``rag eval`` first).

Both readers share retrieval, candidates, comparison and composition; only each source's reading differs.
Reported per part: answer accuracy (a gold answer in the answer), short-answer accuracy (a gold answer in the
short answer), conflict precision / recall against the gold conflict (RAMDocs), and seconds per question.
The extractive answer is used in both (the phrasing LLM is not what is measured).
"""

from __future__ import annotations

import argparse
import time

from _common import ROOT

from rag.answer import answer_from, gather, question_language
from rag.config import load_settings
from rag.engine import Engine
from rag.evaluation import Dataset, answer_present, load_ramdocs, load_squad
from rag.intent import analyse
from rag.llm import ChatBackend

RAMDOCS = ROOT.parent / "shared" / "data" / "ramdocs" / "ramdocs_dev.jsonl"
XQUAD = ROOT.parent / "shared" / "data" / "xquad"


def questions(which: str, part: str, types: set[str], n: int) -> list:
    """The questions of one part the benchmark reads."""
    if which == "ramdocs":
        return [q for q in load_ramdocs(RAMDOCS, part=part, variants=False).questions
                if q.extra.get("answer_type") in types][:n]
    ds: Dataset = load_squad(XQUAD / "xquad.de.dev.json", XQUAD / "xquad.en.dev.json", part=part)
    qs = [q for q in ds.questions if q.answerable and analyse(q.question).answer_type not in ("quantity", "date")]
    return qs[:: max(1, len(qs) // n)][:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", dest="which", choices=("ramdocs", "xquad"), default="ramdocs")
    ap.add_argument("--types", default="number,date", help="RAMDocs gold answer types: number, date, name")
    ap.add_argument("--per-part", type=int, default=8)
    ap.add_argument("--parts", default="tune,measure", help="which parts to read: tune, measure or both")
    ap.add_argument("--model", default="qwen2.5-coder-1.5b")
    ap.add_argument("--verbose", action="store_true", help="one line per question and reader")
    args = ap.parse_args()
    index = "ramdocs" if args.which == "ramdocs" else "xquad-dev"
    base = load_settings(overrides={"index": {"name": index}, "llm": {"llamacpp_model": args.model}})
    llm_s = base.model_copy(update={"answer": base.answer.model_copy(update={
        "reader": base.answer.reader.model_copy(update={"llm": True})})})
    det, llm = Engine(base), Engine(llm_s)
    llm._retriever, llm._embedder = det.retriever, det.embedder
    ChatBackend(llm_s.llm.model_copy(update={"backend": "llamacpp"})).check()
    print(f"{args.which}: {'part':8s} {'reader':14s} {'n':>4s} {'accuracy':>9s} {'short':>6s} {'conflict P':>11s} "
          f"{'conflict R':>11s} {'flagged':>8s} {'s/question':>11s}")
    for part in args.parts.split(","):
        qs = questions(args.which, part, set(args.types.split(",")), args.per_part)
        rows: dict[str, list[tuple[bool, bool, bool, bool, float]]] = {"deterministic": [], "llm": []}
        for q in qs:
            intent = analyse(q.question)
            g = gather(det, intent, 10, q.filters(), question_language(q.question))
            for name, eng, backend in (("deterministic", det, "none"), ("llm", llm, "llamacpp")):
                t = time.perf_counter()
                a = answer_from(eng, g, backend, phrase=False)  # the answer stays extractive: only the reading differs
                if args.verbose:
                    print(f"  {name[:3]} {answer_present(a.short_answer, q.answers):d} {q.question[:50]!r} gold "
                          f"{q.answers[0][:30]!r} short {a.short_answer[:50]!r} flag {a.flag_kind}", flush=True)
                rows[name].append((answer_present(a.answer, q.answers), bool(a.answerable and a.short_answer) and
                                   answer_present(a.short_answer, q.answers), bool(a.flag), bool(q.conflict),
                                   time.perf_counter() - t))
        for name, rs in rows.items():
            acc = sum(r[0] for r in rs) / len(rs)
            short = sum(r[1] for r in rs) / len(rs)
            flagged = [r for r in rs if r[2]]
            gold = [r for r in rs if r[3]]
            p = sum(r[3] for r in flagged) / len(flagged) if flagged else float("nan")
            rec = sum(r[2] for r in gold) / len(gold) if gold else float("nan")
            sec = sum(r[4] for r in rs) / len(rs)
            print(f"{args.which}: {part:8s} {name:14s} {len(rs):4d} {acc:9.2f} {short:6.2f} {p:11.2f} {rec:11.2f} "
                  f"{len(flagged) / len(rs):8.2f} {sec:11.1f}", flush=True)


if __name__ == "__main__":
    main()
