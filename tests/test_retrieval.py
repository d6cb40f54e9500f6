"""Retrieval quality on the seeds with the real default model."""

import pytest

from rag.retrieval import Filters

CASES = [
    ("How many troops did North Korea send to Russia?", {"000", "001", "003", "004"}),
    ("Wie viele Soldaten hat Nordkorea nach Russland entsandt?", {"000", "001", "003", "004"}),
    ("Which region did North Korean soldiers help recapture?", {"000", "001", "003"}),
    ("Wann trat das Verteidigungsabkommen in Kraft?", {"004"}),
    ("When did the mutual defence treaty enter into force?", {"004"}),
    ("Wie viele nordkoreanische Soldaten wurden getötet oder verwundet?", {"001", "003"}),
    ("What did Kim Jong-un promise Putin during his visit to the defence ministry?", {"002"}),
]


@pytest.mark.parametrize("query,docs", CASES, ids=[c[0][:30] for c in CASES])
def test_right_article_in_top3(engine, query, docs):
    hits = engine.search(query, k=3)
    assert {h.doc_id[:3] for h in hits} & docs, [h.chunk_id for h in hits]


def test_hit_fields_and_spans(engine):
    hits = engine.search("Kursk", k=5)
    docs = engine.retriever.data.documents
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    for h in hits:
        assert docs[h.doc_id].text[h.start:h.end] == h.text
        assert h.title and h.best_sentence and h.start <= h.best_sentence.start < h.best_sentence.end <= h.end


def test_filters(engine):
    only = engine.search("Soldaten", k=10, filters=Filters(doc_ids=["004_6809f6b9984345a3"]))
    assert only and {h.doc_id for h in only} == {"004_6809f6b9984345a3"}
    ntv = engine.search("Soldaten", k=10, filters=Filters(source="ntv"))
    assert {h.doc_id[:3] for h in ntv} <= {"002", "004"}
    dated = engine.search("Soldaten", k=10, filters=Filters(date_from="2025-01-01"))
    assert {h.doc_id[:3] for h in dated} <= {"000", "003"} and dated
    assert engine.search("Soldaten", filters=Filters(date_to="2020-01-01")) == []


def test_bad_filter_and_k(engine):
    from rag.errors import RagError

    with pytest.raises(RagError, match="date_from"):
        engine.search("x", filters=Filters(date_from="yesterday-ish"))
    with pytest.raises(RagError, match="k must be"):
        engine.search("x", k=0)
    assert len(engine.search("Soldaten", k=100000)) == len(engine.retriever.data.chunks)


def test_langchain_retriever(engine):
    from rag.lc_retriever import NewsRetriever

    r = NewsRetriever(engine=engine, k=2)
    docs = r.invoke("Kursk")
    assert len(docs) == 2 and docs[0].metadata["doc_id"] and docs[0].metadata["start"] < docs[0].metadata["end"]


def test_reranker_misconfiguration_is_one_line(engine):
    from rag.errors import ConfigError
    from rag.retrieval import Retriever

    r = Retriever(engine.retriever.data, engine.embedder, engine.settings.retrieval.model_copy(
        update={"reranker": "/nonexistent/cross-encoder"}))
    with pytest.raises(ConfigError, match="retrieval.reranker"):
        r.search("Kursk", k=3)


def test_python_api_entry_point(seeds_index):
    from rag import Engine

    engine = Engine.open(seeds_index / "index" / "default")
    assert engine.search("Kursk", k=2)[0].doc_id
    ans = engine.ask("Wie viele Soldaten hat Nordkorea entsandt?")
    assert ans.flag and ans.citations
