"""FAISS and Milvus (Milvus Lite) side by side: the same retrieval quality, and what each costs.

    python benchmarks/bench_store.py [--uri index/bench-milvus.db]

On the XQuAD development split (its German paragraphs, one document each; EN->DE and DE->DE questions) and on the seeds:
document R@1 / R@5 with ``store.backend: faiss`` and ``store.backend: milvus`` (goal: within 0.01), search
latency p50/p95 and the time to write and to open each store. The Milvus store is filled from the FAISS
index's data (the same vectors), so the difference is the store alone.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from _common import ROOT, XQUAD, pct

from rag.config import load_settings
from rag.engine import Engine
from rag.evaluation import load_jsonl, load_squad
from rag.indexer import build_index
from rag.store import IndexStore
from rag.store_milvus import MilvusStore


def recall(engine: Engine, questions: list, vectors: list) -> tuple[dict[str, float], list[float]]:
    ranks, lat = [], []
    for q, v in zip(questions, vectors, strict=True):
        t = time.perf_counter()
        hits = engine.retriever.search(q.question, k=10, query_vector=v)
        lat.append(time.perf_counter() - t)
        docs = list(dict.fromkeys(h.doc_id for h in hits))
        ranks.append(next((i + 1 for i, d in enumerate(docs) if d in q.sources), None))
    n = len(ranks)
    r1 = sum(r == 1 for r in ranks) / n
    r5 = sum(r is not None and r <= 5 for r in ranks) / n
    return {"R@1": round(r1, 3), "R@5": round(r5, 3)}, lat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uri", type=Path, default=None)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-store-"))
    uri = str(args.uri or tmp / "milvus.db")
    de = XQUAD / "xquad.de.dev.json"
    sets = {"EN->DE": load_squad(de, XQUAD / "xquad.en.dev.json"), "DE->DE": load_squad(de)}
    faiss_s = load_settings(overrides={"index": {"name": "xquad-dev"}})
    if not IndexStore(faiss_s.index_path).exists():
        build_index(faiss_s, documents=sets["DE->DE"].documents)
    seeds_s = load_settings(overrides={"index": {"root": str(tmp), "name": "seeds"}})
    build_index(seeds_s, paths=[ROOT / "seeds"])
    rows = []
    for label, fs in [("xquad", faiss_s), ("seeds", seeds_s)]:
        t = time.perf_counter()
        data = IndexStore(fs.index_path).load(with_faiss=False)
        ms = MilvusStore(uri, fs.index.name)
        with ms.lock():
            ms.write(data)
        write_s = time.perf_counter() - t
        mil_s = fs.model_copy(update={"store": fs.store.model_copy(update={"backend": "milvus", "uri": uri})})
        engines = {}
        for backend, s in (("faiss", fs), ("milvus", mil_s)):
            t = time.perf_counter()
            e = Engine(s)
            e.retriever  # noqa: B018 - open
            engines[backend] = (e, time.perf_counter() - t)
        if label == "xquad":
            qsets = sets
        else:
            qsets = {"seeds EN+DE": type("D", (), {"questions": [q for q in load_jsonl(ROOT / "tests" / "data" /
                                                                                       "seeds_qa.jsonl") if q.sources]})}
        for name, ds in qsets.items():
            qv = engines["faiss"][0].embedder.embed_queries([q.question for q in ds.questions])
            for backend, (e, open_s) in engines.items():
                m, lat = recall(e, ds.questions, list(qv))
                rows.append((name, backend, m["R@1"], m["R@5"], pct(lat, 0.5) * 1000, pct(lat, 0.95) * 1000, open_s,
                             write_s if backend == "milvus" else None))
                print(rows[-1], flush=True)
    print(f"\n{'questions':12s} {'store':7s} {'R@1':>6s} {'R@5':>6s} {'p50 ms':>8s} {'p95 ms':>8s} {'open s':>7s} "
          f"{'write s':>8s}")
    for r in rows:
        print(f"{r[0]:12s} {r[1]:7s} {r[2]:6.3f} {r[3]:6.3f} {r[4]:8.1f} {r[5]:8.1f} {r[6]:7.1f} "
              f"{'' if r[7] is None else f'{r[7]:8.1f}'}")
    if not args.uri:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
