"""Cross-lingual retrieval on XQuAD (dev split): each German paragraph is a document.

    python benchmarks/bench_xquad.py

Prints document-level recall@1/@5 and MRR for English questions -> German paragraphs and German ->
German, for BM25 alone, the bare model (chunk vectors only), and our hybrid retrieval (default settings).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from _common import XQUAD

from rag.config import load_settings
from rag.engine import Engine
from rag.evaluation import load_squad
from rag.indexer import build_index

VARIANTS = {
    "bm25 only": {"dense_weight": 0.0, "sentence_weight": 0.0, "bm25_weight": 1.0, "entity_weight": 0.0},
    "dense only (bare e5, chunk vectors)": {"dense_weight": 1.0, "sentence_weight": 0.0, "bm25_weight": 0.0,
                                            "entity_weight": 0.0},
    "dense + best sentence": {"dense_weight": 1.0, "sentence_weight": 1.5, "bm25_weight": 0.0, "entity_weight": 0.0},
    "rrf (dense, sentence, bm25)": {"fusion": "rrf"},
    "ours (default hybrid)": {},
}


def main() -> dict:
    de = XQUAD / "xquad.de.dev.json"
    sets = {"EN->DE": load_squad(de, XQUAD / "xquad.en.dev.json"), "DE->DE": load_squad(de)}
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = load_settings(overrides={"index": {"root": tmp, "name": "xquad"}})
        t = time.perf_counter()
        build_index(base, documents=sets["DE->DE"].documents)
        print(f"indexed {len(sets['DE->DE'].documents)} paragraphs in {time.perf_counter() - t:.1f} s")
        engine = Engine(base)
        retr = engine.retriever
        for name, ds in sets.items():
            qv = engine.embedder.embed_queries([q.question for q in ds.questions])
            for vname, over in VARIANTS.items():
                retr.settings = base.retrieval.model_copy(update=over)
                ranks = []
                for q, v in zip(ds.questions, qv, strict=True):
                    hits = retr.search(q.question, k=10, query_vector=v)
                    docs = list(dict.fromkeys(h.doc_id for h in hits))
                    ranks.append(docs.index(q.sources[0]) + 1 if q.sources[0] in docs else None)
                m = {"R@1": sum(r == 1 for r in ranks) / len(ranks),
                     "R@5": sum(r is not None and r <= 5 for r in ranks) / len(ranks),
                     "MRR": sum(1 / r for r in ranks if r) / len(ranks)}
                out.setdefault(name, {})[vname] = {k: round(x, 3) for k, x in m.items()}
                print(f"{name:7s} {vname:38s} R@1 {m['R@1']:.3f}  R@5 {m['R@5']:.3f}  MRR {m['MRR']:.3f}")
    return out


if __name__ == "__main__":
    res = main()
    Path("reports").mkdir(exist_ok=True)
    Path("reports/bench_xquad.json").write_text(json.dumps(res, indent=2))
