"""Shared fixtures: a seeds index built once per test session (real model, no mocks)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"

os.environ.setdefault("TQDM_DISABLE", "1")
# One embedding cache for the whole session, as a user's repeated indexing has one: every test that indexes
# the seeds again reads their vectors from it instead of re-embedding them (the cache is keyed by model and
# text). Tests about embedding itself turn the cache off or name their own file.
if "RAG_EMBEDDING__CACHE_PATH" not in os.environ:
    import atexit
    import tempfile

    _cache_dir = tempfile.mkdtemp(prefix="rag-test-cache-")
    atexit.register(shutil.rmtree, _cache_dir, ignore_errors=True)
    os.environ["RAG_EMBEDDING__CACHE_PATH"] = str(Path(_cache_dir) / "embeddings.sqlite")
SHARED = ROOT.parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(ok: bool, what: str) -> None:
    """Skip a test whose requirement (``what``) is missing on a developer machine; under ``CI=true`` the
    same absence fails the test, so CI is never green with a feature untested."""
    if ok:
        return
    if IN_CI:
        pytest.fail(f"CI=true but {what} is missing (.ci/run installs it)")
    pytest.skip(f"{what} is missing")


def need_module(name: str, what: str | None = None):
    """Import ``name`` or :func:`need` it."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        need(False, what or f"the Python package {name}")


def need_shared(*parts: str) -> Path:
    """A path under ``../shared/data`` (the development data), :func:`need`-ed."""
    path = SHARED.joinpath(*parts)
    need(path.exists(), f"{path}")
    return path


def make_settings(tmp: Path, **over):
    from rag.config import load_settings

    base = {"index": {"root": str(tmp / "index"), "name": "default"}, "corpus": str(SEEDS)}
    for k, v in over.items():
        base.setdefault(k, {})
        if isinstance(v, dict):
            base[k].update(v)
        else:
            base[k] = v
    return load_settings(ROOT / "configs" / "default.yaml", overrides=base)


@pytest.fixture(scope="session")
def seeds_index(tmp_path_factory) -> Path:
    """An index of the five seed articles; returns its settings' root folder."""
    from rag.indexer import build_index

    tmp = tmp_path_factory.mktemp("seedsidx")
    s = make_settings(tmp)
    build_index(s, paths=[SEEDS])
    return tmp


@pytest.fixture(scope="session")
def engine(seeds_index):
    from rag.engine import Engine

    return Engine(make_settings(seeds_index))


@pytest.fixture()
def corpus(tmp_path) -> Path:
    d = tmp_path / "corpus"
    d.mkdir()
    for f in sorted(SEEDS.glob("*.txt"))[:2]:
        shutil.copy(f, d / f.name)
    return d


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real ``rag serve`` process on a free 127.0.0.1 port over the seeds: ``(url, tmp)``."""
    from test_server import start_server

    tmp = tmp_path_factory.mktemp("srv")
    proc, url = start_server(tmp)
    yield url, tmp
    proc.terminate()
    proc.wait(10)
