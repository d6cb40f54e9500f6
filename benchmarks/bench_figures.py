"""Figure extraction precision/recall on a labelled sample, and conflict-classification accuracy.

    python benchmarks/bench_figures.py [--verbose]

Data: tests/data/figures_labelled.jsonl (development sentences with their figures, German and English),
tests/data/figures_heldout.jsonl (held out: not used to tune the rules) and
tests/data/conflict_groups.jsonl (figure sets with the expected agree/vary/conflict label).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.conflicts import group_figures  # noqa: E402
from rag.figures import Figure, extract_figures  # noqa: E402


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None or (isinstance(a, float) and math.isinf(a)):
        return (a is None or math.isinf(a)) and (b is None or (isinstance(b, float) and math.isinf(b)))
    return abs(a - b) <= 0.011 * max(abs(a), abs(b), 1)


def extraction(verbose: bool = False, name: str = "figures_labelled.jsonl") -> dict[str, float]:
    tp = fp = fn = 0
    attrs = {"qualifier": [0, 0], "role": [0, 0], "concept": [0, 0], "attributed_to": [0, 0], "time": [0, 0]}
    rows = [json.loads(x) for x in (ROOT / "tests/data" / name).read_text(encoding="utf-8").splitlines() if x]
    for row in rows:
        pred = extract_figures(row["text"], lang=row["lang"])
        gold = list(row["figures"])
        used: set[int] = set()
        for g in gold:
            match = next((i for i, p in enumerate(pred) if i not in used and _close(p.low, g["low"])
                          and _close(p.high if p.high is not None else math.inf, g["high"])), None)
            if match is None:
                fn += 1
                if verbose:
                    print("MISS", g, "in:", row["text"][:80])
                continue
            used.add(match)
            tp += 1
            p = pred[match]
            for key in attrs:
                if key in g and g[key] is not None:
                    got = p.refers_to_time if key == "time" else getattr(p, key)
                    attrs[key][1] += 1
                    ok = got == g[key] or (isinstance(got, str) and isinstance(g[key], str) and g[key].lower() in got.lower())
                    attrs[key][0] += ok
                    if verbose and not ok:
                        print(f"  {key}: got {got!r} want {g[key]!r}  ({row['text'][:60]})")
        for i, p in enumerate(pred):
            if i not in used:
                fp += 1
                if verbose:
                    print("EXTRA", p.text, p.low, p.high, "in:", row["text"][:80])
    prec = tp / (tp + fp) if tp + fp else 1.0
    rec = tp / (tp + fn) if tp + fn else 1.0
    out = {"sentences": len(rows), "gold_figures": tp + fn, "precision": round(prec, 3), "recall": round(rec, 3),
           "f1": round(2 * prec * rec / (prec + rec), 3) if prec + rec else 0.0}
    for k, (ok, n) in attrs.items():
        out[f"{k}_accuracy"] = round(ok / n, 3) if n else 1.0
    return out


def conflicts(verbose: bool = False) -> dict[str, float]:
    rows = [json.loads(x) for x in (ROOT / "tests/data/conflict_groups.jsonl").read_text(encoding="utf-8").splitlines() if x]
    ok = 0
    for row in rows:
        figs: list[Figure] = []
        for i, s in enumerate(row["sentences"]):
            lang = row["langs"][i] if "langs" in row else row.get("lang", "de")
            for f in extract_figures(s, lang=lang):
                f.doc_id = f"d{i}"
                figs.append(f)
        groups = group_figures(figs, set(row["concepts"]))
        got = groups[0].kind if groups else "none"
        ok += got == row["expected"]
        if verbose and got != row["expected"]:
            print("GROUP", row["expected"], "got", got, [s[:50] for s in row["sentences"]])
    return {"groups": len(rows), "accuracy": round(ok / len(rows), 3) if rows else 1.0}


if __name__ == "__main__":
    v = "--verbose" in sys.argv
    print("extraction (development sample, rules written against it):", json.dumps(extraction(v)))
    print("extraction (held-out sample, written before the last tuning):", json.dumps(extraction(v, "figures_heldout.jsonl")))
    print("conflicts: ", json.dumps(conflicts(v)))
