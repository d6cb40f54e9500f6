from pathlib import Path

import pytest

from rag.config import load_settings
from rag.errors import ConfigError


def test_yaml_env_and_overrides_precedence(tmp_path, monkeypatch):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("retrieval:\n  k: 7\nllm:\n  backend: ollama\n", encoding="utf-8")
    s = load_settings(cfg)
    assert s.retrieval.k == 7 and s.llm.backend == "ollama"
    assert s.retrieval.bm25_weight == 0.02  # untouched default
    monkeypatch.setenv("RAG_RETRIEVAL__K", "9")
    assert load_settings(cfg).retrieval.k == 9  # env beats YAML
    assert load_settings(cfg, overrides={"retrieval": {"k": 3}}).retrieval.k == 3  # flags beat env


def test_unknown_key_is_named(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("retrieval:\n  kk: 7\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"c.yaml.*unknown setting 'retrieval.kk'"):
        load_settings(cfg)


def test_malformed_yaml_names_file_and_line(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("retrieval:\n  k: [1,\n  x: 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.yaml line \d+: malformed YAML"):
        load_settings(cfg)


def test_invalid_value_is_named(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("retrieval:\n  k: -1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="retrieval.k"):
        load_settings(cfg)


def test_default_yaml_matches_code_defaults(monkeypatch):
    import yaml

    monkeypatch.delenv("RAG_EMBEDDING__CACHE_PATH", raising=False)  # the test session's shared cache
    from rag.config import Settings

    data = yaml.safe_load((Path(__file__).parents[1] / "configs" / "default.yaml").read_text(encoding="utf-8"))
    assert Settings.model_validate(data) == Settings()
