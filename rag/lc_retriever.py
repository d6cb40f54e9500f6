"""LangChain adapter: use an index as a ``BaseRetriever`` in any LangChain chain.

    from rag.lc_retriever import NewsRetriever
    retriever = NewsRetriever.from_index("index/default", k=4)
    docs = retriever.invoke("How many troops were sent?")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from rag.engine import Engine
from rag.retrieval import Filters


class NewsRetriever(BaseRetriever):
    """Hybrid retrieval from a newsrag index; each hit becomes a LangChain ``Document`` whose metadata
    carries doc_id, chunk_id, title, date, source, span (start/end) and scores."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    engine: Any
    k: int = 5
    filters: Filters | None = None

    @classmethod
    def from_index(cls, path: str | Path = "index/default", k: int = 5, filters: Filters | None = None) -> NewsRetriever:
        return cls(engine=Engine.open(path), k=k, filters=filters)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[LCDocument]:
        hits = self.engine.search(query, k=self.k, filters=self.filters)
        return [
            LCDocument(
                page_content=h.text,
                metadata={
                    "doc_id": h.doc_id, "chunk_id": h.chunk_id, "title": h.title, "date": h.date, "source": h.source,
                    "start": h.start, "end": h.end, "score": h.score, "dense_score": h.dense_score, "rank": h.rank,
                },
            )
            for h in hits
        ]
