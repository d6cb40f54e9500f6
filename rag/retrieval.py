"""Hybrid retrieval: dense chunk vectors, dense sentence vectors, BM25 and name/number anchors,
fused with weighted reciprocal-rank fusion; filters by document, source and date.

Why four signals: the multilingual model carries cross-lingual meaning; scoring the best sentence
inside a chunk catches a precise answer diluted in a long chunk; BM25 rewards exact German terms
(weighted low so it does not drag English questions over German text down); names and numbers are
language-independent anchors (place names, "10.000" = "10,000").
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import date

import numpy as np

from rag.config import RetrievalSettings
from rag.embedding import Embedder
from rag.errors import NotFoundError, RagError
from rag.indexer import passage_text
from rag.models import Document, Hit, Span
from rag.store import IndexData
from rag.text import entity_tokens, lexical_tokens, parse_date


@dataclass
class Filters:
    """Restrict results. Any field left ``None`` does not filter."""

    doc_ids: list[str] | None = None
    exclude_doc_ids: list[str] | None = None
    source: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    language: str | None = None


class Retriever:
    """Search one loaded index. Thread-safe for concurrent searches."""

    def __init__(self, data: IndexData, embedder: Embedder, settings: RetrievalSettings) -> None:
        self.data = data
        self.embedder = embedder
        self.settings = settings
        self._lock = threading.Lock()
        n = len(data.chunks)
        texts = [passage_text(data.documents[c.doc_id], c, True) for c in data.chunks]
        self._bm25 = None
        if n:
            import bm25s

            self._bm25 = bm25s.BM25()
            corpus = [lexical_tokens(t) or ["\u2205"] for t in texts]
            self._bm25.index(corpus, show_progress=False)
            self._vocab = set(self._bm25.vocab_dict)
        # inverted index of language-independent anchors
        postings: dict[str, list[int]] = {}
        for i, t in enumerate(texts):
            for tok in entity_tokens(t):
                postings.setdefault(tok, []).append(i)
        self._anchors: dict[str, np.ndarray] = {k: np.asarray(v, dtype=np.int64) for k, v in postings.items()}
        self._sent_start = data.sentence_starts()
        self._by_doc: dict[str, list[int]] | None = None

    def chunks_by_doc(self) -> dict[str, list[int]]:
        """Chunk indices of each document, in text order."""
        if getattr(self, "_by_doc", None) is None:
            by_doc: dict[str, list[int]] = {}
            for i, c in enumerate(self.data.chunks):
                by_doc.setdefault(c.doc_id, []).append(i)
            self._by_doc = by_doc
        return self._by_doc

    def idf(self, token: str) -> float:
        """``log(1 + N / df)`` of a lexical token (folded, lightly stemmed) over the corpus' chunks; 0 for a
        token the corpus never uses. Rare names weigh more than "county" or "township"."""
        if self._bm25 is None:
            return 0.0
        tid = self._bm25.vocab_dict.get(token)
        if tid is None:
            return 0.0
        indptr = self._bm25.scores["indptr"]
        df = int(indptr[tid + 1] - indptr[tid])
        return math.log(1 + len(self.data.chunks) / df) if df else 0.0

    def vocabulary(self) -> set[str]:
        """Every lexical token of the corpus (folded, lightly stemmed), e.g. to know which names it spells."""
        return self._vocab if self._bm25 is not None else set()

    # ------------------------------------------------------------ filters
    def _mask(self, f: Filters | None) -> np.ndarray | None:
        if f is None or not any([f.doc_ids, f.exclude_doc_ids, f.source, f.date_from, f.date_to, f.language]):
            return None
        docs = self.data.documents
        ok_docs = set(docs)
        if f.doc_ids:
            unknown = [d for d in f.doc_ids if d not in docs]
            if unknown and len(unknown) == len(f.doc_ids):
                raise NotFoundError(f"filter 'doc': unknown document id(s): {', '.join(unknown)}")
            ok_docs &= set(f.doc_ids)
        if f.exclude_doc_ids:
            ok_docs -= set(f.exclude_doc_ids)
        if f.source:
            ok_docs &= source_doc_ids(f.source, docs)
        lo = _date_arg(f.date_from, "date_from")
        hi = _date_arg(f.date_to, "date_to")
        if lo or hi:
            ok_docs = {
                d for d in ok_docs
                if docs[d].date and (not lo or date.fromisoformat(docs[d].date) >= lo)
                and (not hi or date.fromisoformat(docs[d].date) <= hi)
            }
        if f.language:
            ok_docs = {d for d in ok_docs if docs[d].language == f.language}
        return np.array([c.doc_id in ok_docs for c in self.data.chunks], dtype=bool)

    # ------------------------------------------------------------ search
    def search(self, query: str, k: int | None = None, filters: Filters | None = None,
               query_vector: np.ndarray | None = None) -> list[Hit]:
        """Return the top ``k`` chunks for ``query``.

        Args:
            query: the question or keywords (any language the model knows).
            k: number of hits (default from settings).
            filters: optional restrictions.
            query_vector: a precomputed query embedding (skips the model call).

        Returns:
            Hits ordered by fused score, each with its best-matching sentence.
        """
        k = self.settings.k if k is None else k
        if k < 1:
            raise RagError(f"k must be at least 1 (got {k})")
        if self.settings.reranker:
            from rag.rerank import rerank

            pool = self._search(query, max(3 * k, 20), filters, query_vector)
            return rerank(self.settings.reranker, query, pool, k)
        return self._search(query, k, filters, query_vector)

    def _search(self, query: str, k: int, filters: Filters | None, query_vector: np.ndarray | None) -> list[Hit]:
        n = len(self.data.chunks)
        if n == 0 or not query.strip():
            return []
        mask = self._mask(filters)
        allowed = np.flatnonzero(mask) if mask is not None else None
        if allowed is not None and len(allowed) == 0:
            return []
        qv = query_vector if query_vector is not None else self.embedder.embed_queries([query])[0]
        qv = np.asarray(qv, dtype=np.float32).reshape(-1)
        cand_n = min(n, max(self.settings.candidates, k * 3))

        dense = self._dense(qv, cand_n, allowed, filters)
        best_sent, sent_scores = self._sentences(qv, mask)
        st = self.settings
        lexical = self._lexical(query, cand_n, mask) if (st.bm25_weight or st.rrf_weights.get("bm25")) else {}
        anchors = self._entities(query, cand_n, mask) if (st.entity_weight or st.rrf_weights.get("entity")) else {}
        sent_top: list[int] = []
        if sent_scores is not None:
            sent_top = [int(i) for i in top_indices(sent_scores, cand_n) if sent_scores[i] > -1]
        cands = list(dict.fromkeys([i for i, _ in dense] + sent_top + list(lexical)[:cand_n] + list(anchors)[:cand_n]))
        if allowed is not None:
            cands = [i for i in cands if mask is None or mask[i]]
        idx = np.asarray(cands, dtype=np.int64)
        dense_all = self.data.chunk_vectors[idx] @ qv  # exact cosine for every candidate (any index type)
        dense_map = {int(i): float(v) for i, v in zip(idx, dense_all, strict=True)}
        sent_map = {i: float(sent_scores[i]) for i in cands} if sent_scores is not None else {}
        fused: dict[int, float] = {}
        if st.fusion == "score":
            bmax = max(lexical.values(), default=0.0) or 1.0
            amax = max(anchors.values(), default=0.0) or 1.0
            for i in cands:
                sent = sent_map.get(i, dense_map[i])
                fused[i] = (st.dense_weight * dense_map[i] + st.sentence_weight * (sent if sent > -1 else dense_map[i])
                            + st.bm25_weight * lexical.get(i, 0.0) / bmax + st.entity_weight * anchors.get(i, 0.0) / amax)
        else:
            w = st.rrf_weights
            rankings = [(w.get("dense", 1.0), sorted(cands, key=lambda i: -dense_map[i])),
                        (w.get("sentence", 0.0), sorted(cands, key=lambda i: -sent_map.get(i, -2.0))),
                        (w.get("bm25", 0.0), sorted(lexical, key=lambda i: -lexical[i])),
                        (w.get("entity", 0.0), sorted(anchors, key=lambda i: -anchors[i]))]
            for weight, ranked in rankings:
                if weight <= 0:
                    continue
                for r, i in enumerate(ranked):
                    fused[i] = fused.get(i, 0.0) + weight / (st.rrf_k + r + 1)
        top = sorted(fused, key=lambda i: (-fused[i], -dense_map.get(i, -1.0)))[:k]
        hits = []
        for rank, i in enumerate(top):
            c = self.data.chunks[i]
            d = self.data.documents[c.doc_id]
            dscore = dense_map.get(i)
            if dscore is None:
                dscore = float(self.data.chunk_vectors[i] @ qv)
            bs = best_sent.get(i) if best_sent else None
            hits.append(Hit(
                rank=rank + 1, score=round(fused[i], 6), doc_id=c.doc_id, chunk_id=c.chunk_id, text=c.text,
                start=c.start, end=c.end, title=d.title, date=d.date, source=d.source, language=d.language,
                dense_score=round(float(dscore), 4),
                best_sentence=bs[0] if bs else None,
                best_sentence_score=round(bs[1], 4) if bs else None,
            ))
        return hits

    def _dense(self, qv: np.ndarray, n: int, allowed: np.ndarray | None,
               filters: Filters | None = None) -> list[tuple[int, float]]:
        index = self.data.faiss_index
        if allowed is not None and getattr(index, "filters_natively", False):
            # Milvus: the filters become a scalar expression evaluated in the store
            dist, ids = index.search(qv.reshape(1, -1), n, filters=filters, documents=self.data.documents)
            return [(int(i), float(s)) for i, s in zip(ids[0], dist[0], strict=True) if i >= 0]
        if allowed is not None:
            scores = self.data.chunk_vectors[allowed] @ qv
            order = top_indices(scores, n)
            return [(int(allowed[j]), float(scores[j])) for j in order]
        if index is None:
            scores = self.data.chunk_vectors @ qv
            order = top_indices(scores, n)
            return [(int(j), float(scores[j])) for j in order]
        with self._lock:  # faiss search is thread-safe, but parameters like efSearch are per index
            dist, ids = index.search(qv.reshape(1, -1), n)
        return [(int(i), float(s)) for i, s in zip(ids[0], dist[0], strict=True) if i >= 0]

    def _sentences(self, qv: np.ndarray, mask: np.ndarray | None) -> tuple[dict[int, tuple[Span, float]], np.ndarray | None]:
        sv = self.data.sentence_vectors
        if not len(self.data.sentence_owner) or sv.ndim != 2 or sv.shape[1] != qv.shape[0]:
            return {}, None
        scores = sv @ qv
        owner = self.data.sentence_owner
        n = len(self.data.chunks)
        best = np.full(n, -2.0, dtype=np.float32)
        np.maximum.at(best, owner, scores)
        if mask is not None:
            best[~mask] = -2.0
        # the best sentence of each chunk, for display and evidence
        out: dict[int, tuple[Span, float]] = {}
        order = top_indices(best, max(self.settings.candidates, 50))
        for ci in order:
            a, b = self._sent_start[ci], self._sent_start[ci + 1]
            if b <= a:
                continue
            j = int(np.argmax(scores[a:b]))
            span = self.data.chunks[ci].sentences[j] if j < len(self.data.chunks[ci].sentences) else None
            if span is not None:
                out[int(ci)] = (span, float(scores[a + j]))
        return out, best

    def _lexical(self, query: str, n: int, mask: np.ndarray | None) -> dict[int, float]:
        """BM25 scores of the top ``n`` chunks (German-aware tokens)."""
        if self._bm25 is None:
            return {}
        toks = [t for t in lexical_tokens(query) if t in self._vocab]
        if not toks:
            return {}
        scores = np.asarray(self._bm25.get_scores(toks), dtype=np.float32)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        order = top_indices(scores, n)
        return {int(i): float(scores[i]) for i in order if scores[i] > 0}

    def _entities(self, query: str, n: int, mask: np.ndarray | None) -> dict[int, float]:
        """Shared names/numbers, idf-weighted, for the top ``n`` chunks."""
        toks = entity_tokens(query)
        if not toks:
            return {}
        total = len(self.data.chunks)
        scores = np.zeros(total, dtype=np.float32)
        for t in toks:
            posting = self._anchors.get(t)
            if posting is None or not len(posting):
                continue
            scores[posting] += math.log(1 + total / len(posting))
        if mask is not None:
            scores[~mask] = 0.0
        top = np.argpartition(-scores, min(n, total - 1))[:n] if total > n else np.arange(total)
        return {int(i): float(scores[i]) for i in sorted(top, key=lambda i: -scores[i]) if scores[i] > 0}


def top_indices(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` largest scores, best first, in O(len) rather than a full sort."""
    if n >= len(scores):
        return np.argsort(-scores)
    part = np.argpartition(-scores, n)[:n]
    return part[np.argsort(-scores[part])]


def source_doc_ids(source: str, documents: dict[str, Document]) -> set[str]:
    """Ids of the documents whose source contains ``source`` (case-insensitive)."""
    s = source.lower()
    return {d for d, doc in documents.items() if doc.source and s in doc.source.lower()}


def _date_arg(value: str | None, field: str) -> date | None:
    if not value:
        return None
    d = parse_date(value)
    if d is None:
        raise RagError(f"filter '{field}': cannot read '{value}' as a date (use YYYY-MM-DD)")
    return d
