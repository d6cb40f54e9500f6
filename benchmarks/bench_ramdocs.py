"""Answers and conflict flags on RAMDocs (development half), tune part and measure part side by side.

    python benchmarks/bench_ramdocs.py [--llm none]

All documents of all 250 questions form one corpus (index/ramdocs, built once: about 30 minutes on
2 cores for 1,895 texts plus their sentences, then cached). Every fifth question is the *measure* part,
never looked at while tuning; the rest is the *tune* part. Each question also has two agreeing variants
(only the correct documents of one gold answer; the same plus a copy) that must not be flagged.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.config import load_settings  # noqa: E402
from rag.evaluation import load_ramdocs, run_eval  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "ramdocs" / "ramdocs_dev.jsonl"
KEYS = ("questions", "answer_accuracy", "conflict_precision", "conflict_recall", "conflict_f1", "unflagged",
        "variants_unflagged", "flag_kind_accuracy")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--llm", default="none")
    ap.add_argument("--data", type=Path, default=DATA)
    args = ap.parse_args()
    settings = load_settings()
    out = {}
    for part in ("tune", "measure"):
        ds = load_ramdocs(args.data, part=part)
        rep = run_eval(settings, ds, llm=args.llm, index_name="ramdocs")
        m = rep["metrics"]
        out[part] = {"latency_p50_s": m["latency_p50_s"], "latency_p95_s": m["latency_p95_s"], **rep["breakdown"]}
    slices = list(dict.fromkeys(k for part in out.values() for k in part if isinstance(part[k], dict)))
    print(f"{'slice':38s} | " + " | ".join(f"{k[:14]:>14s}" for k in KEYS) + " |")
    for s in slices:
        for part in ("tune", "measure"):
            row = out[part].get(s, {})
            print(f"{(s + ' [' + part + ']'):38s} | " + " | ".join(
                f"{'' if row.get(k) is None else row[k]:>14}" for k in KEYS) + " |")
    for part in ("tune", "measure"):
        print(f"latency [{part}]: p50 {out[part]['latency_p50_s']} s, p95 {out[part]['latency_p95_s']} s")
    (ROOT / "reports").mkdir(exist_ok=True)
    (ROOT / "reports" / "ramdocs.json").write_text(json.dumps(out, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
