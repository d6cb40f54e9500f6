"""The CLI as a user runs it: real subprocesses, one-line errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def rag(*args, cwd=None, check=True):
    p = subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True, cwd=cwd or ROOT,
                       timeout=300)
    if check:
        assert p.returncode == 0, p.stderr
    return p


@pytest.fixture(scope="module")
def idx(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    cfg = tmp / "c.yaml"
    cfg.write_text(f"index:\n  root: {tmp / 'index'}\n", encoding="utf-8")
    r = rag("index", str(ROOT / "seeds"), "--config", str(cfg), "--json")
    rep = json.loads(r.stdout)
    assert rep["documents"] == 5
    return cfg


def test_search_json_and_table(idx):
    out = json.loads(rag("search", "Wie viele Soldaten?", "-k", "3", "--json", "--config", str(idx)).stdout)
    assert out["query"] == "Wie viele Soldaten?" and len(out["hits"]) == 3
    assert {"score", "doc_id", "chunk_id", "text", "start", "end", "title", "date", "source"} <= set(out["hits"][0])
    out = rag("search", "Kursk", "-k", "2", "--config", str(idx)).stdout
    assert "2 hits" in out


def test_search_queries_file(idx, tmp_path):
    q = tmp_path / "q.txt"
    q.write_text("Kursk\n\nHow many troops?\n", encoding="utf-8")
    lines = rag("search", "--queries", str(q), "-k", "2", "--config", str(idx)).stdout.strip().splitlines()
    assert [json.loads(x)["query"] for x in lines] == ["Kursk", "How many troops?"]


@pytest.mark.parametrize("args,msg", [
    (["search", "   "], "empty"),
    (["search", "x", "-k", "0"], "-k 0"),
    (["search", "x", "--name", "nope"], "no index at"),
    (["index", "/definitely/not/here"], "no such file"),
    (["search", "x", "--config", "/nonexistent.yaml"], "does not exist"),
])
def test_errors_are_one_line(idx, args, msg):
    p = rag(*args, *(["--config", str(idx)] if "--config" not in args else []), check=False)
    assert p.returncode != 0
    assert msg in p.stderr and "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_info(idx):
    out = rag("info", "--config", str(idx)).stdout
    assert "5 documents" in out and "multilingual-e5-small" in out


def test_one_json_shape_for_search_results(idx, tmp_path):
    """search --json, every --queries line and the HTTP API's /search all print {query, hits}."""
    from rag.api_models import SearchOut

    one = json.loads(rag("search", "Kursk", "-k", "2", "--json", "--config", str(idx)).stdout)
    q = tmp_path / "q.txt"
    q.write_text("Kursk\n", encoding="utf-8")
    line = json.loads(rag("search", "--queries", str(q), "-k", "2", "--config", str(idx)).stdout)
    assert one == line and SearchOut.model_validate(one).query == "Kursk"


def test_dash_reads_stdin(idx):
    p = subprocess.run([sys.executable, "-m", "rag.cli", "search", "-", "-k", "1", "--json", "--config", str(idx)],
                       input="Kursk\n", capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0 and json.loads(p.stdout)["query"] == "Kursk"
    p = subprocess.run([sys.executable, "-m", "rag.cli", "search", "--queries", "-", "-k", "1", "--config", str(idx)],
                       input="Kursk\nVertrag\n", capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert [json.loads(x)["query"] for x in p.stdout.splitlines()] == ["Kursk", "Vertrag"]
    p = subprocess.run([sys.executable, "-m", "rag.cli", "ask", "-", "--json", "--config", str(idx)],
                       input="Wann trat der Vertrag in Kraft?", capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0 and json.loads(p.stdout)["question"] == "Wann trat der Vertrag in Kraft?"


def test_version_and_short_help():
    from importlib.metadata import version

    p = rag("--version")
    assert p.returncode == 0 and p.stdout.strip() == f"rag (newsrag) {version('newsrag')}"
    for args in (["-h"], ["search", "-h"], ["ask", "-h"]):
        p = rag(*args)
        assert p.returncode == 0 and "Usage:" in p.stdout and "--help" in p.stdout
