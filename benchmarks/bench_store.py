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
    lexical_rows = lexical(faiss_s, sets, str(tmp / "bm25.db"))
    print(f"\n{'questions':12s} {'BM25':34s} {'alone R@1':>9s} {'R@5':>6s} {'fused R@1':>9s} {'R@5':>6s} "
          f"{'p50 ms':>7s}")
    for r in lexical_rows:
        print(f"{r[0]:12s} {r[1]:34s} {r[2]:9.3f} {r[3]:6.3f} {r[4]:9.3f} {r[5]:6.3f} {r[6]:7.1f}")
    if not args.uri:
        shutil.rmtree(tmp, ignore_errors=True)


def lexical(settings, sets: dict, uri: str) -> list[tuple]:
    """Our in-memory ``bm25s`` against Milvus' own full-text BM25 (a BM25 function over an analysed VARCHAR
    field, sparse inverted index) on the XQuAD chunks: BM25 alone, and fused into the complete search in place
    of ``bm25s``. Milvus gets the text twice: as our German-aware tokens (folded, lightly stemmed: the same
    terms as bm25s, so only the engine differs) and as the raw passage with its standard analyzer."""
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    from rag.indexer import passage_text
    from rag.text import lexical_tokens

    engine = Engine(settings)
    ret = engine.retriever
    chunks = ret.data.chunks
    texts = [passage_text(ret.data.documents[c.doc_id], c, True) for c in chunks]
    client = MilvusClient(uri)
    variants = {"milvus, our tokens": (lambda t: " ".join(lexical_tokens(t))), "milvus, raw text": (lambda t: t)}
    for name, prep in variants.items():
        coll = "tokens" if "tokens" in name else "raw"
        schema = client.create_schema()
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("text", DataType.VARCHAR, max_length=65_535, enable_analyzer=True,
                         analyzer_params={"tokenizer": "standard"})
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                                     output_field_names=["sparse"]))
        ip = client.prepare_index_params()
        ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        client.create_collection(coll, schema=schema, index_params=ip)
        client.insert(coll, [{"id": i, "text": prep(t)[:60_000] or "-"} for i, t in enumerate(texts)])

    def milvus_lexical(coll: str, prep):
        def scores(query: str, n: int, mask=None) -> dict[int, float]:
            q = prep(query)
            if not q.strip():
                return {}
            res = client.search(coll, data=[q], anns_field="sparse", limit=n, search_params={"metric_type": "BM25"})
            return {int(h["id"]): abs(float(h["distance"])) for h in res[0]}  # Milvus Lite reports -score
        return scores

    own = ret._lexical
    out = []
    for qname, ds in sets.items():
        qv = list(engine.embedder.embed_queries([q.question for q in ds.questions]))
        for name, fn in [("bm25s (ours, in memory)", own)] + \
                [(n, milvus_lexical("tokens" if "tokens" in n else "raw", p)) for n, p in variants.items()]:
            alone, lat = [], []
            for q in ds.questions:
                t = time.perf_counter()
                sc = fn(q.question, 50, None)
                lat.append(time.perf_counter() - t)
                docs = list(dict.fromkeys(chunks[i].doc_id for i in sorted(sc, key=lambda i: -sc[i])))
                alone.append(next((k + 1 for k, d in enumerate(docs) if d in q.sources), None))
            ret._lexical = fn
            fused, _ = recall(engine, ds.questions, qv)
            ret._lexical = own
            out.append((qname, name, sum(r == 1 for r in alone) / len(alone),
                        sum(r is not None and r <= 5 for r in alone) / len(alone), fused["R@1"], fused["R@5"],
                        pct(lat, 0.5) * 1000))
            print(out[-1], flush=True)
    client.close()
    return out


if __name__ == "__main__":
    main()
