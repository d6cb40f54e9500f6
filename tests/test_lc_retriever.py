"""NewsRetriever against LangChain's own standard retriever suite (langchain-tests), plus what the suite does not
check: k and filters per call, a real async path, Document.id and the metadata."""

import asyncio

import pytest
from conftest import SEEDS, make_settings, need_module

need_module("langchain_tests", "langchain-tests (dev extra)")
from langchain_tests.integration_tests import RetrieversIntegrationTests  # noqa: E402

from rag.engine import Engine  # noqa: E402
from rag.indexer import build_index  # noqa: E402
from rag.lc_retriever import NewsRetriever  # noqa: E402

_ENGINE: dict[str, Engine] = {}


def _engine(tmp_path_factory) -> Engine:
    if "e" not in _ENGINE:
        s = make_settings(tmp_path_factory.mktemp("lc"))
        build_index(s, paths=[SEEDS])
        _ENGINE["e"] = Engine(s)
    return _ENGINE["e"]


class TestNewsRetrieverStandard(RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    def _index(self, tmp_path_factory):
        self._engine = _engine(tmp_path_factory)

    @property
    def retriever_constructor(self) -> type[NewsRetriever]:
        return NewsRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {"engine": self._engine, "k": 4}

    @property
    def retriever_query_example(self) -> str:
        return "Wie viele Soldaten hat Nordkorea entsandt?"


def test_k_and_filters_per_call_ids_and_metadata(tmp_path_factory):
    r = NewsRetriever(engine=_engine(tmp_path_factory), k=4)
    docs = r.invoke("Kursk", k=2)
    assert len(docs) == 2 and all(d.id == d.metadata["chunk_id"] for d in docs)
    m = docs[0].metadata
    assert {"doc_id", "chunk_id", "title", "date", "source", "start", "end", "score", "dense_score", "rank"} <= set(m)
    text = r.engine.retriever.data.documents[m["doc_id"]].text
    assert text[m["start"]:m["end"]] == docs[0].page_content and m["source"]  # never None: the file name at worst
    one = docs[0].metadata["doc_id"]
    only = r.invoke("Kursk", k=5, filters={"doc_ids": [one]})
    assert only and {d.metadata["doc_id"] for d in only} == {one}
    assert len(r.invoke("Kursk")) == 4  # the constructor's k when the call gives none


def test_async_path_runs_concurrently(tmp_path_factory):
    r = NewsRetriever(engine=_engine(tmp_path_factory), k=3)

    async def many():
        return await asyncio.gather(*(r.ainvoke(q) for q in ("Kursk", "Vertrag", "Soldaten", "Verluste")))

    results = asyncio.run(many())
    assert [len(x) for x in results] == [3, 3, 3, 3]
    assert type(r)._aget_relevant_documents is not NewsRetriever.__mro__[1]._aget_relevant_documents  # our own
