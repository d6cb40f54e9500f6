"""LangChain adapter: use an index as a ``BaseRetriever`` in any LangChain chain.

    from rag.lc_retriever import NewsRetriever
    retriever = NewsRetriever.from_index("index/default", k=4)
    docs = retriever.invoke("How many troops were sent?")               # k and filters at construction ...
    docs = retriever.invoke("Hochwasser", k=2, filters={"source": "dpa"})  # ... or per call
    docs = await retriever.ainvoke("Hochwasser")                          # a real async path

It passes LangChain's standard retriever suite (``langchain-tests``: tests/test_lc_retriever.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from rag.engine import Engine
from rag.models import Hit
from rag.retrieval import Filters


class NewsRetriever(BaseRetriever):
    """Hybrid retrieval from a newsrag index. Each hit becomes a LangChain ``Document`` whose ``id`` is the
    chunk id and whose metadata carries ``doc_id``, ``chunk_id``, ``title``, ``date``, ``source`` (the
    article's "Quelle:" line, else its file name), ``language``, the span ``start`` / ``end`` in the article,
    ``rank``, ``score``, ``dense_score`` and the best sentence (``sentence_start`` / ``sentence_end`` /
    ``sentence_score``)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    engine: Any = Field(description="an open rag.engine.Engine")
    k: int = Field(5, ge=1, le=1000)
    filters: Filters | dict[str, Any] | None = None

    @classmethod
    def from_index(cls, path: str | Path = "index/default", k: int = 5, filters: Filters | dict[str, Any] | None = None,
                   **kw: Any) -> NewsRetriever:
        """Open the index at ``path`` (``index/NAME``)."""
        return cls(engine=Engine.open(path), k=k, filters=filters, **kw)

    def _filters(self, filters: Filters | dict[str, Any] | None) -> Filters | None:
        f = filters if filters is not None else self.filters
        if f is None or isinstance(f, Filters):
            return f
        return Filters(**f)

    def _search(self, query: str, k: int | None, filters: Filters | dict[str, Any] | None) -> list[LCDocument]:
        hits = self.engine.search(query, k=k or self.k, filters=self._filters(filters))
        return [_document(h, self.engine) for h in hits]

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None,
                                filters: Filters | dict[str, Any] | None = None, **kwargs: Any) -> list[LCDocument]:
        return self._search(query, k, filters)

    async def _aget_relevant_documents(self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun,
                                       k: int | None = None, filters: Filters | dict[str, Any] | None = None,
                                       **kwargs: Any) -> list[LCDocument]:
        import anyio

        # the engine is thread-safe and its model work releases the GIL: a worker thread keeps the loop free
        return await anyio.to_thread.run_sync(self._search, query, k, filters)


def _document(h: Hit, engine: Any) -> LCDocument:
    doc = engine.retriever.data.documents.get(h.doc_id)
    source = h.source or (Path(doc.path).name if doc is not None else None)
    meta: dict[str, Any] = {"doc_id": h.doc_id, "chunk_id": h.chunk_id, "title": h.title, "date": h.date,
                            "source": source, "language": h.language, "start": h.start, "end": h.end, "rank": h.rank,
                            "score": h.score, "dense_score": h.dense_score}
    if h.best_sentence is not None:
        meta.update(sentence_start=h.best_sentence.start, sentence_end=h.best_sentence.end,
                    sentence_score=h.best_sentence_score)
    return LCDocument(id=h.chunk_id, page_content=h.text, metadata=meta)
