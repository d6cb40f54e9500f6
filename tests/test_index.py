"""Incremental, atomic indexing and the manifest checks."""

import json
import shutil
from pathlib import Path

import pytest
from conftest import SEEDS, make_settings

from rag.errors import IndexError_, RagError
from rag.indexer import build_index
from rag.store import IndexStore


def test_incremental_add_change_prune_remove(tmp_path, corpus):
    s = make_settings(tmp_path, embedding={"cache_path": str(tmp_path / "own-cache.sqlite")})
    r1 = build_index(s, paths=[corpus])
    assert len(r1.added) == 2 and r1.embedded > 0
    r2 = build_index(s, paths=[corpus])
    assert r2.embedded == 0 and len(r2.unchanged) == 2
    # a new file: only it is embedded
    third = sorted(SEEDS.glob("*.txt"))[2]
    shutil.copy(third, corpus / third.name)
    r3 = build_index(s, paths=[corpus])
    assert r3.added == [third.stem] and 0 < r3.embedded
    # a changed file is re-chunked
    f = sorted(corpus.glob("*.txt"))[0]
    f.write_text(f.read_text(encoding="utf-8") + "\n\nEin neuer Absatz mit 42 Panzern wurde ergänzt.", encoding="utf-8")
    r4 = build_index(s, paths=[corpus])
    assert r4.updated == [f.stem] and r4.embedded >= 1
    # prune drops files no longer present
    f.unlink()
    r5 = build_index(s, paths=[corpus], prune=True)
    assert r5.removed == [f.stem] and r5.documents == 2
    r6 = build_index(s, remove=[third.stem])
    assert r6.documents == 1
    data = IndexStore(s.index_path).load()
    assert len(data.chunks) == data.chunk_vectors.shape[0] == data.faiss_index.ntotal
    for c in data.chunks:
        assert data.documents[c.doc_id].text[c.start:c.end] == c.text
    assert int(data.sentence_owner.max()) == len(data.chunks) - 1


def test_failed_write_keeps_previous_index(tmp_path, corpus, monkeypatch):
    s = make_settings(tmp_path)
    build_index(s, paths=[corpus])
    before = IndexStore(s.index_path).load()
    import rag.store

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(rag.store, "_fsync", boom)
    shutil.copy(sorted(SEEDS.glob("*.txt"))[3], corpus)
    with pytest.raises(KeyboardInterrupt):
        build_index(s, paths=[corpus])
    monkeypatch.undo()
    after = IndexStore(s.index_path).load()
    assert len(after.documents) == len(before.documents) == 2
    assert not [p for p in s.index_path.iterdir() if p.name.startswith(".tmp-")]


def test_model_mismatch_refused(tmp_path, corpus):
    s = make_settings(tmp_path)
    build_index(s, paths=[corpus])
    cur = IndexStore(s.index_path).current_dir() / "manifest.json"
    m = json.loads(cur.read_text())
    m["model"], m["dim"] = "other-model", 768
    cur.write_text(json.dumps(m))
    with pytest.raises(IndexError_, match="other-model"):
        build_index(s, paths=[corpus])
    from rag.engine import Engine

    with pytest.raises(RagError, match="other-model"):
        Engine(s).reload()


def test_corrupt_files_give_rebuild_hint(tmp_path, corpus):
    s = make_settings(tmp_path)
    build_index(s, paths=[corpus])
    gen = IndexStore(s.index_path).current_dir()
    (gen / "chunks.faiss").write_bytes(b"garbage")
    with pytest.raises(IndexError_, match="rag index --rebuild"):
        IndexStore(s.index_path).load()
    (gen / "manifest.json").write_text("{trunc")
    with pytest.raises(IndexError_, match="rag index --rebuild"):
        IndexStore(s.index_path).load()
    r = build_index(s, paths=[corpus], rebuild=True)
    assert r.documents == 2


def test_empty_corpus_refused(tmp_path):
    s = make_settings(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(RagError, match="nothing to index"):
        build_index(s, paths=[tmp_path / "empty"])
    assert not IndexStore(s.index_path).exists()


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_other_index_types(tmp_path, kind):
    s = make_settings(tmp_path, index={"type": kind})
    build_index(s, paths=[SEEDS])
    from rag.engine import Engine

    hits = Engine(s).search("Kursk", k=3)
    assert len(hits) == 3


def test_index_dir_has_no_pickles(seeds_index):
    for p in Path(seeds_index).rglob("*"):
        assert p.suffix not in (".pkl", ".pickle")
