"""Embedding fanned out over Ray (a real 2-worker local cluster): the same index as one process, and a
worker killed mid-way loses nothing."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, SEEDS, need_module
from test_server import free_port

pytestmark = pytest.mark.slow


def rag(*args, env):
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=600, env={**os.environ, **env})


def _load(root):
    from rag.config import load_settings
    from rag.store import IndexStore

    s = load_settings(overrides={"index": {"root": str(root)}})
    return IndexStore(s.index_path).load(with_faiss=False)


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    root = tmp_path_factory.mktemp("single")
    env = {"RAG_INDEX__ROOT": str(root), "RAG_EMBEDDING__CACHE": "false"}
    p = rag("index", str(SEEDS), "--json", env=env)
    assert p.returncode == 0, p.stderr
    data = _load(root)
    data.embedded = json.loads(p.stdout)["embedded"]
    return data


@pytest.fixture(scope="module")
def head():
    """A Ray cluster started beside the tests (`ray start --head`, token auth off): its address."""
    need_module("ray", "Ray (.[ray] extra)")
    import shutil

    ray_cli = shutil.which("ray") or str(Path(sys.executable).parent / "ray")
    port = free_port()
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    up = subprocess.run([ray_cli, "start", "--head", "--port", str(port), "--num-cpus", "2", "--include-dashboard",
                         "false", "--disable-usage-stats"], capture_output=True, text=True, env=env, timeout=180)
    assert up.returncode == 0, up.stderr[-500:]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([ray_cli, "stop", "--force"], capture_output=True, env=env, timeout=120)


def _same(a, b):
    assert [c.chunk_id for c in a.chunks] == [c.chunk_id for c in b.chunks]
    assert len({c.chunk_id for c in b.chunks}) == len(b.chunks)  # every chunk exactly once
    assert np.allclose(a.chunk_vectors, b.chunk_vectors, atol=1e-6)
    assert np.array_equal(a.sentence_owner, b.sentence_owner)
    assert np.allclose(a.sentence_vectors, b.sentence_vectors, atol=1e-6)


def test_two_workers_build_the_same_index(single, head, tmp_path):
    """--workers 2 starts a local cluster of its own, even while another Ray cluster (``head``) runs here."""
    need_module("ray", "Ray (.[ray] extra)")
    env = {"RAG_INDEX__ROOT": str(tmp_path), "RAG_EMBEDDING__CACHE": "false", "RAG_EMBEDDING__BATCH_SIZE": "8"}
    p = rag("index", str(SEEDS), "--workers", "2", "--json", env=env)
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    assert rep["workers"] == 2 and rep["embedded"] == single.embedded and rep["retried_batches"] == 0
    _same(single, _load(tmp_path))


def test_a_killed_worker_batch_is_retried_never_dropped(single, tmp_path):
    need_module("ray", "Ray (.[ray] extra)")
    marker = tmp_path / "killed"
    env = {"RAG_INDEX__ROOT": str(tmp_path), "RAG_EMBEDDING__CACHE": "false", "RAG_EMBEDDING__BATCH_SIZE": "8",
           "RAG_TEST_KILL_WORKER": str(marker)}
    p = rag("index", str(SEEDS), "--workers", "2", "--json", env=env)
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    assert marker.exists()  # a worker did die during its second batch ...
    assert rep["retried_batches"] >= 1 and rep["embedded"] == single.embedded  # ... and its batch was embedded again
    _same(single, _load(tmp_path))


def test_no_flag_no_ray_and_bad_flags_are_one_line_errors(tmp_path):
    code = ("import sys; from pathlib import Path; from rag.config import load_settings; from rag.indexer import "
            f"build_index; build_index(load_settings(overrides={{'index': {{'root': r'{tmp_path}'}}}}), "
            f"paths=[Path(r'{SEEDS / '000_63c17450a30ba0d9.txt'}')]); print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stderr
    p = rag("index", str(SEEDS), "--workers", "0", env={"RAG_INDEX__ROOT": str(tmp_path)})
    assert p.returncode != 0 and p.stderr.strip() == "error: --workers must be at least 1 (got 0)", p.stderr
    need_module("ray", "Ray (.[ray] extra)")
    p = rag("index", str(SEEDS), "--ray-address", f"127.0.0.1:{free_port()}", env={"RAG_INDEX__ROOT": str(tmp_path)})
    assert p.returncode != 0 and p.stderr.count("\n") == 1 and "no Ray cluster reachable" in p.stderr, p.stderr


def test_joins_an_existing_ray_cluster(single, head, tmp_path):
    """--ray-address joins a cluster started beside it (`ray start --head`, token auth off on both sides)."""
    p = rag("index", str(SEEDS), "--ray-address", head, "--json",
            env={"RAY_AUTH_MODE": "disabled", "RAG_INDEX__ROOT": str(tmp_path), "RAG_EMBEDDING__CACHE": "false"})
    assert p.returncode == 0, p.stderr[-800:]
    rep = json.loads(p.stdout)
    assert rep["workers"] == 2 and rep["embedded"] == single.embedded  # one worker per cluster CPU
    _same(single, _load(tmp_path))
