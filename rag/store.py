"""The index on disk: FAISS vectors + JSON records, written atomically, guarded by a lock.

Layout of ``index/NAME/``::

    CURRENT            name of the live generation folder (replaced atomically)
    gen-<id>/          manifest.json, documents.jsonl, chunks.jsonl, chunks.faiss, chunks.npy,
                       sentences.jsonl, sentences.npy
    .lock              held while a writer runs

A writer builds a complete new generation in a temporary folder, fsyncs it, renames it into place,
then atomically replaces ``CURRENT``. Killing it at any point leaves the previous generation live.
Only FAISS files, ``.npy`` (``allow_pickle=False``) and JSON are ever loaded.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.config import IndexSettings
from rag.errors import IndexError_
from rag.models import Chunk, Document

FORMAT_VERSION = 1
REBUILD_HINT = "rebuild it with: rag index --rebuild"


@dataclass
class IndexData:
    """Everything an index holds, in memory."""

    manifest: dict[str, Any]
    documents: dict[str, Document]
    chunks: list[Chunk]
    chunk_vectors: np.ndarray
    sentence_owner: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    sentence_vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    faiss_index: Any = None

    def sentence_starts(self) -> np.ndarray:
        """``starts[i]:starts[i+1]`` are the sentence-vector rows of chunk ``i`` (rows are sorted by owner)."""
        n = len(self.chunks)
        counts = np.bincount(self.sentence_owner, minlength=n) if len(self.sentence_owner) else np.zeros(n, np.int64)
        return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def build_faiss(vectors: np.ndarray, settings: IndexSettings) -> Any:
    """Build a FAISS inner-product index of the configured type over normalised vectors."""
    import faiss

    n, dim = vectors.shape
    kind = settings.type
    if kind == "hnsw" and n > 0:
        index = faiss.IndexHNSWFlat(dim, settings.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = settings.hnsw_ef_construction
        index.hnsw.efSearch = settings.hnsw_ef_search
    elif kind in ("ivf", "ivfpq") and n >= 256:
        nlist = settings.ivf_nlist or max(1, min(int(4 * np.sqrt(n)), n // 39))
        quant = faiss.IndexFlatIP(dim)
        if kind == "ivfpq" and dim % settings.pq_m == 0:
            index = faiss.IndexIVFPQ(quant, dim, nlist, settings.pq_m, 8, faiss.METRIC_INNER_PRODUCT)
        else:
            index = faiss.IndexIVFFlat(quant, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        train = vectors if n <= 100_000 else vectors[np.random.default_rng(0).choice(n, 100_000, replace=False)]
        index.train(train)
        index.nprobe = settings.ivf_nprobe
    else:
        index = faiss.IndexFlatIP(dim)
    if n:
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def checked_format(manifest: Any, where: str) -> dict[str, Any]:
    """``manifest`` if it is a manifest of this index format, else a one-line error naming ``where``."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
        raise IndexError_(f"{where}: unknown index format; {REBUILD_HINT}")
    return manifest


class IndexStore:
    """Reads and writes one named index folder."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    # ------------------------------------------------------------ locking
    def lock(self, timeout_s: float = 600.0) -> contextlib.AbstractContextManager[None]:
        """Serialise writers with an exclusive ``flock`` on ``.lock``; waits up to ``timeout_s``."""
        self.path.mkdir(parents=True, exist_ok=True)
        return file_lock(self.path / ".lock", timeout_s, str(self.path))

    # ------------------------------------------------------------ reading
    def exists(self) -> bool:
        return (self.path / "CURRENT").is_file()

    def current_dir(self) -> Path:
        cur = self.path / "CURRENT"
        if not cur.is_file():
            raise IndexError_(f"no index at {self.path}: build one with: rag index")
        name = cur.read_text(encoding="utf-8").strip()
        gen = self.path / name
        if not name.startswith("gen-") or not gen.is_dir():
            raise IndexError_(f"{cur}: points to a missing generation '{name}'; {REBUILD_HINT}")
        return gen

    def read_manifest(self, gen: Path | None = None) -> dict[str, Any]:
        """The manifest of generation ``gen`` (default: the live one)."""
        gen = gen or self.current_dir()
        try:
            manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IndexError_(f"{gen / 'manifest.json'}: unreadable or corrupt ({exc}); {REBUILD_HINT}") from None
        return checked_format(manifest, str(gen / "manifest.json"))

    def load(self, with_faiss: bool = True, attempts: int = 5,
             check: Callable[[dict[str, Any]], None] | None = None) -> IndexData:
        """Load the live generation: ``CURRENT`` is read once and every file comes from that generation. A
        writer may switch generations meanwhile (and, later, delete the old one): a failed read is retried
        while ``CURRENT`` keeps moving, so a healthy index is never reported corrupt.

        Args:
            with_faiss: also load the FAISS index.
            attempts: reads tried while writers keep switching generations.
            check: called with the generation's manifest before its files are read (model checks).

        Raises:
            IndexError_: missing, truncated or corrupt files (with a rebuild hint).
        """
        for attempt in range(attempts):
            gen = self.current_dir()
            try:
                manifest = self.read_manifest(gen)
                if check is not None:
                    check(manifest)
                return self._load_generation(gen, manifest, with_faiss)
            except IndexError_:
                if attempt + 1 < attempts and self._current_name() != gen.name:
                    continue  # a writer switched generations while we read: read the new one
                raise
        raise AssertionError("unreachable")

    def _current_name(self) -> str | None:
        try:
            return (self.path / "CURRENT").read_text(encoding="utf-8").strip()
        except OSError:
            return None

    def _load_generation(self, gen: Path, manifest: dict[str, Any], with_faiss: bool) -> IndexData:
        try:
            documents = {}
            for line in _read_lines(gen / "documents.jsonl"):
                d = Document.model_validate_json(line)
                documents[d.doc_id] = d
            chunks = [Chunk.model_validate_json(line) for line in _read_lines(gen / "chunks.jsonl")]
            vectors = np.load(gen / "chunks.npy", allow_pickle=False)
            owner = np.zeros(0, dtype=np.int64)
            svec = np.zeros((0, vectors.shape[1] if vectors.ndim == 2 else 0), dtype=np.float32)
            if (gen / "sentences.npy").exists():
                svec = np.load(gen / "sentences.npy", allow_pickle=False)
                owner = np.load(gen / "sentence_owner.npy", allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise IndexError_(f"{gen}: index files unreadable or corrupt ({str(exc)[:120]}); {REBUILD_HINT}") from None
        n = manifest.get("counts", {}).get("chunks")
        if vectors.ndim != 2 or len(chunks) != vectors.shape[0] or (n is not None and n != len(chunks)):
            raise IndexError_(f"{gen}: chunk records and vectors disagree; {REBUILD_HINT}")
        if vectors.shape[0] and vectors.shape[1] != manifest.get("dim"):
            raise IndexError_(f"{gen}: vector dimension differs from the manifest; {REBUILD_HINT}")
        if len(owner) != len(svec) or (len(owner) and (int(owner.min()) < 0 or int(owner.max()) >= len(chunks))):
            raise IndexError_(f"{gen}: sentence records point outside the chunks; {REBUILD_HINT}")
        if any(c.doc_id not in documents for c in chunks):
            raise IndexError_(f"{gen}: chunk records name unknown documents; {REBUILD_HINT}")
        data = IndexData(manifest, documents, chunks, vectors, owner, svec)
        if with_faiss:
            data.faiss_index = self._load_faiss(gen, manifest, len(chunks))
        return data

    def _load_faiss(self, gen: Path, manifest: dict[str, Any], n: int) -> Any:
        import faiss

        f = gen / "chunks.faiss"
        try:
            index = faiss.read_index(str(f))
        except Exception as exc:  # noqa: BLE001 - faiss raises RuntimeError with C++ text
            raise IndexError_(f"{f}: corrupt FAISS file ({str(exc).splitlines()[0][:100]}); {REBUILD_HINT}") from None
        if index.ntotal != n or index.d != manifest.get("dim"):
            raise IndexError_(f"{f}: holds {index.ntotal} vectors of dim {index.d}, manifest says "
                              f"{n} of dim {manifest.get('dim')}; {REBUILD_HINT}")
        return index

    # ------------------------------------------------------------ writing
    def write(self, data: IndexData, index_settings: IndexSettings) -> Path:
        """Write a new generation and switch ``CURRENT`` to it atomically. Call under :meth:`lock`."""
        import faiss

        self.path.mkdir(parents=True, exist_ok=True)
        gen_name = f"gen-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
        tmp = self.path / f".tmp-{gen_name}"
        tmp.mkdir()
        try:
            index = data.faiss_index if data.faiss_index is not None else build_faiss(data.chunk_vectors, index_settings)
            faiss.write_index(index, str(tmp / "chunks.faiss"))
            np.save(tmp / "chunks.npy", np.ascontiguousarray(data.chunk_vectors, dtype=np.float32))
            np.save(tmp / "sentences.npy", np.ascontiguousarray(data.sentence_vectors, dtype=np.float32))
            np.save(tmp / "sentence_owner.npy", np.asarray(data.sentence_owner, dtype=np.int64))
            with open(tmp / "documents.jsonl", "w", encoding="utf-8") as fh:
                for d in data.documents.values():
                    fh.write(d.model_dump_json() + "\n")
            with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as fh:
                for c in data.chunks:
                    fh.write(c.model_dump_json() + "\n")
            (tmp / "manifest.json").write_text(json.dumps(data.manifest, indent=2, ensure_ascii=False), "utf-8")
            for f in tmp.iterdir():
                _fsync(f)
            _fsync(tmp)
            _test_pause("write")
            os.rename(tmp, self.path / gen_name)
            cur_tmp = self.path / f".CURRENT.{uuid.uuid4().hex[:8]}"
            cur_tmp.write_text(gen_name + "\n", encoding="utf-8")
            _fsync(cur_tmp)
            os.replace(cur_tmp, self.path / "CURRENT")
            _fsync(self.path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._collect_garbage(keep=gen_name)
        return self.path / gen_name

    def _collect_garbage(self, keep: str) -> None:
        """Delete old generations but the newest previous one (a reader may still be loading it) and
        unfinished ones of killed writers."""
        gens = sorted((p for p in self.path.iterdir() if p.name.startswith("gen-") and p.name != keep),
                      key=lambda p: p.stat().st_mtime)
        for p in self.path.iterdir():
            if p.name == keep or p.name in ("CURRENT", ".lock") or (gens and p == gens[-1]):
                continue
            if p.name.startswith(("gen-", ".tmp-gen-")):
                shutil.rmtree(p, ignore_errors=True)
            elif p.name.startswith(".CURRENT."):
                with contextlib.suppress(OSError):
                    p.unlink()


@contextlib.contextmanager
def file_lock(path: Path, timeout_s: float, what: str) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` for one writer of ``what``; waits up to ``timeout_s``.

    Raises:
        IndexError_: another writer still holds it.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise IndexError_(f"{what}: another 'rag index' is still writing this index") from None
                time.sleep(0.2)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _test_pause(point: str) -> None:
    """Fault injection for the crash tests: ``RAG_TEST_PAUSE=write:2`` holds a writer for 2 s with the new
    generation complete on disk but not yet live, so a test can kill it at exactly that moment."""
    spec = os.environ.get("RAG_TEST_PAUSE", "")
    name, _, seconds = spec.partition(":")
    if name == point and seconds:
        time.sleep(float(seconds))


def _read_lines(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as fh:
        return [line for line in fh if line.strip()]


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_store(settings: Any) -> Any:
    """The store ``settings.store.backend`` names: this FAISS folder (``index/<name>``) or Milvus
    (:class:`rag.store_milvus.MilvusStore`, ``store.uri``; default ``index/milvus.db``, Milvus Lite)."""
    if settings.store.backend == "milvus":
        from rag.store_milvus import MilvusStore

        return MilvusStore(settings.store.uri or str(Path(settings.index.root) / "milvus.db"), settings.index.name)
    return IndexStore(settings.index_path)
