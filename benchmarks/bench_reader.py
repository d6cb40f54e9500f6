"""Per-source reading: how often the reader takes the value a labelled document states, tune and measure
parts side by side, for RAMDocs (every document labelled with its answer or none) and XQuAD (the gold span).

    python benchmarks/bench_reader.py

"right" / "wrong" / "missed" are shares of the documents that state an answer; "claims" is the share of
documents that state none (RAMDocs noise, other retrieved pages) where the reader still claims a value.
The model was fitted on the tune parts only (python -m rag.learn).
"""

from __future__ import annotations

import json

from _common import ROOT

from rag.config import load_settings
from rag.evaluation import load_ramdocs, load_squad
from rag.learn import RAMDOCS, XQUAD, ensure_index, ramdocs_docs, read_labelled, reading_scores, xquad_docs
from rag.reader import ReaderModel


def main() -> dict:
    settings = load_settings()
    model = ReaderModel.load()
    k = settings.answer.reader.window_candidates
    sets = [("ramdocs", ensure_index(settings, "ramdocs", load_ramdocs(RAMDOCS, variants=False).documents or []),
             list(ramdocs_docs())),
            ("xquad", ensure_index(settings, "xquad-dev", load_squad(XQUAD / "xquad.de.dev.json").documents or []),
             list(xquad_docs()))]
    out: dict = {}
    print(f"{'data':8s} {'part':8s} {'kind':9s} {'docs':>5s} {'right':>6s} {'wrong':>6s} {'missed':>6s} "
          f"{'answerless':>10s} {'claims':>6s}")
    for name, engine, items in sets:
        for part in ("tune", "measure"):
            read = read_labelled(engine, [i for i in items if i.part == part], k, model)
            scores = reading_scores(read, model, settings.answer.reader.min_confidence)
            out[f"{name} {part}"] = scores
            for kind, s in sorted(scores.items()):
                print(f"{name:8s} {part:8s} {kind:9s} {s['answering_docs']:5d} {s['right'] or 0:6.3f} {s['wrong'] or 0:6.3f} "
                      f"{s['missed'] or 0:6.3f} {s['answerless_docs']:10d} {s['claims'] or 0:6.3f}")
    return out


if __name__ == "__main__":
    res = main()
    (ROOT / "reports").mkdir(exist_ok=True)
    (ROOT / "reports" / "bench_reader.json").write_text(json.dumps(res, indent=2), encoding="utf-8")
