"""The Milvus store (``store.backend: milvus``): the same index as the FAISS folder, kept in Milvus.

``store.uri`` is a file path (Milvus Lite, embedded: nothing to start) or ``http://host:19530`` (a Milvus
standalone or cluster server). One index name holds, per generation ``G``:

- ``<name>__<G>__chunks``: one row per chunk: its vector, ``doc_id``, ``date``, ``source``, ``language``
  as scalar fields (dense search runs in Milvus, filters become a scalar expression on them) and the
  chunk record;
- ``<name>__<G>__sentences``: sentence vectors with their owning chunk;
- ``<name>__<G>__blobs``: the documents and the manifest, as JSON in pieces;
- ``<name>__meta``: which generation is live (``current``).

A write fills a new generation and then switches ``current`` in one upsert, so readers see the old index or
the new one, never half of one; the previous generation is kept (a reader may still be loading it) and older
ones dropped. BM25 stays our in-memory ``bm25s`` index built at load: Milvus' own full-text BM25 ranks the same when fed
the same terms but is slower, and the reader needs the term statistics in memory anyway (bench_store.py).
Writers are serialised with a file lock for Milvus Lite; against a server run one writer at a time.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import IndexError_
from rag.models import Chunk, Document
from rag.store import REBUILD_HINT, IndexData, checked_format, file_lock

PIECE = 60_000  # characters per VARCHAR piece (Milvus allows 65,535 bytes; JSON is mostly ASCII-escaped)
PAGE = 10_000  # rows per query page
INSTALL_HINT = "install the Milvus extra with: pip install -e '.[milvus]'"


def _client(uri: str) -> Any:
    import logging

    logging.getLogger("pymilvus").setLevel(logging.ERROR)  # its iterator warns about client-side timestamps
    logging.getLogger("milvus_lite").setLevel(logging.CRITICAL)  # we say why it failed, in one line
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise IndexError_(f"store.backend milvus needs pymilvus; {INSTALL_HINT}") from None
    try:
        return MilvusClient(uri)
    except Exception as exc:  # noqa: BLE001 - connection errors come in many types
        msg = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        if "://" not in uri:
            raise IndexError_(f"Milvus Lite cannot open '{uri}' ({msg}); it serves one process per file: stop the "
                              "other process using it (a running 'rag serve'?) or use a Milvus server") from None
        raise IndexError_(f"Milvus at '{uri}' is not reachable ({msg}); start it or fix setting 'store.uri'") from None


def filter_expression(filters: Any, documents: dict[str, Any]) -> str:
    """A Milvus boolean expression over the chunk collection's scalar fields for ``filters``.

    Document ids, excluded ids, the date range and the language become ``doc_id in [...]``, ``doc_id not in
    [...]``, ``date >= "…" and date <= "…"`` (ISO dates compare as strings) and ``language == "…"``. The source
    filter is a case-insensitive substring match, which Milvus' ``like`` cannot express, so it becomes the ids
    of the documents whose source matches.
    """
    from rag.retrieval import _date_arg, source_doc_ids

    parts: list[str] = []
    if filters.doc_ids:
        parts.append("doc_id in " + json.dumps(sorted(filters.doc_ids)))
    if filters.exclude_doc_ids:
        parts.append("doc_id not in " + json.dumps(sorted(filters.exclude_doc_ids)))
    if filters.source:
        parts.append("doc_id in " + json.dumps(sorted(source_doc_ids(filters.source, documents))))
    lo, hi = _date_arg(filters.date_from, "date_from"), _date_arg(filters.date_to, "date_to")
    if lo or hi:
        parts.append('date != ""')
    if lo:
        parts.append(f"date >= {json.dumps(lo.isoformat())}")
    if hi:
        parts.append(f"date <= {json.dumps(hi.isoformat())}")
    if filters.language:
        parts.append(f"language == {json.dumps(filters.language)}")
    return " and ".join(f"({p})" for p in parts)


class MilvusDense:
    """The dense index of one generation, searched in Milvus, shaped like a FAISS index for the retriever."""

    filters_natively = True  # the retriever hands filtered searches to :meth:`search` as a Filters record

    def __init__(self, client: Any, collection: str, ntotal: int, dim: int) -> None:
        self.client, self.collection, self.ntotal, self.d = client, collection, ntotal, dim

    def search(self, q: np.ndarray, n: int, filters: Any = None,
               documents: dict[str, Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` chunk rows by inner product, restricted by ``filters`` (a :class:`rag.retrieval.Filters`)
        as a Milvus scalar filter expression (see :func:`filter_expression`)."""
        kw: dict[str, Any] = {}
        expr = filter_expression(filters, documents or {}) if filters is not None else ""
        if expr:
            kw["filter"] = expr
        res = self.client.search(self.collection, data=[q.reshape(-1).astype(np.float32).tolist()],
                                 limit=max(1, min(n, 16_384)), search_params={"metric_type": "IP"}, **kw)
        rows = list(res[0]) if res else []
        ids = np.array([[int(r["id"]) for r in rows]], dtype=np.int64)
        dist = np.array([[float(r["distance"]) for r in rows]], dtype=np.float32)
        return dist, ids


class MilvusStore:
    """Reads and writes one named index in Milvus; the interface of :class:`rag.store.IndexStore`."""

    def __init__(self, uri: str, name: str) -> None:
        self.uri = uri
        self.name = name
        self.prefix = "rag_" + re.sub(r"[^A-Za-z0-9_]", "_", name)
        self.path = Path(uri) if "://" not in uri else Path(re.sub(r"\W+", "_", uri))  # for messages and locks
        self._c: Any = None
        self._ready: set[str] = set()

    @property
    def client(self) -> Any:
        if self._c is None:
            if "://" not in self.uri:
                Path(self.uri).parent.mkdir(parents=True, exist_ok=True)
            self._c = _client(self.uri)
        return self._c

    def __str__(self) -> str:
        return f"milvus:{self.uri}#{self.name}"

    # ------------------------------------------------------------ locking
    @contextlib.contextmanager
    def lock(self, timeout_s: float = 600.0) -> Iterator[None]:
        """Serialise writers (Milvus Lite: an exclusive ``flock`` beside the database file; a server: none)."""
        if "://" in self.uri:
            yield
            return
        lock = Path(f"{self.uri}.{self.prefix}.lock")
        lock.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(lock, timeout_s, str(self)):
            yield

    # ------------------------------------------------------------ small helpers
    def _meta(self) -> str:
        return f"{self.prefix}__meta"

    def _coll(self, gen: str, what: str) -> str:
        return f"{self.prefix}__{gen}__{what}"

    def _loaded(self, coll: str) -> str:
        """``coll``, loaded for queries (a new process sees collections released)."""
        if coll not in self._ready:
            self.client.load_collection(coll)
            self._ready.add(coll)
        return coll

    def _current(self) -> str | None:
        if not self.client.has_collection(self._meta()):
            return None
        self._loaded(self._meta())
        rows = self.client.query(self._meta(), filter='key == "current"', output_fields=["value"])
        return rows[0]["value"] if rows else None

    def _schema(self, fields: list[tuple[str, Any, dict[str, Any]]]) -> Any:
        from pymilvus import MilvusClient

        s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        for name, dtype, kw in fields:
            s.add_field(name, dtype, **kw)
        return s

    def _create(self, name: str, fields: list[tuple[str, Any, dict[str, Any]]], dim: int) -> None:
        ip = self.client.prepare_index_params()
        ip.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
        if self.client.has_collection(name):
            self.client.drop_collection(name)
        self.client.create_collection(name, schema=self._schema(fields), index_params=ip)

    def _put_blobs(self, coll: str, items: dict[str, str]) -> None:
        rows = []
        for key, text in items.items():
            pieces = [text[i:i + PIECE] for i in range(0, len(text), PIECE)] or [""]
            rows += [{"key": f"{key}#{i:06d}", "value": p, "vector": [0.0, 0.0]} for i, p in enumerate(pieces)]
        for i in range(0, len(rows), 500):
            self.client.insert(coll, rows[i:i + 500])

    def _query_all(self, coll: str, fields: list[str], key: str = "id") -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        self._loaded(coll)
        if key == "id":
            n = self.client.get_collection_stats(coll).get("row_count", 0)
            for a in range(0, int(n), PAGE):
                out += self.client.query(coll, filter=f"id >= {a} and id < {a + PAGE}", output_fields=fields)
            return out
        it = self.client.query_iterator(coll, batch_size=1000, filter=f'{key} != ""', output_fields=fields)
        while batch := it.next():
            out += batch
        it.close()
        return out

    def _blobs(self, gen: str) -> dict[str, str]:
        rows = self._query_all(self._coll(gen, "blobs"), ["key", "value"], key="key")
        parts: dict[str, list[tuple[str, str]]] = {}
        for r in rows:
            k, i = r["key"].rsplit("#", 1)
            parts.setdefault(k, []).append((i, r["value"]))
        return {k: "".join(v for _, v in sorted(p)) for k, p in parts.items()}

    # ------------------------------------------------------------ reading
    def exists(self) -> bool:
        return self._current() is not None

    def read_manifest(self, gen: str | None = None) -> dict[str, Any]:
        gen = gen or self._current()
        if gen is None:
            raise IndexError_(f"no index '{self.name}' in Milvus at {self.uri}: build one with: rag index")
        rows = self.client.query(self._loaded(self._coll(gen, "blobs")), filter='key like "manifest#%"',
                                 output_fields=["key", "value"])
        try:
            manifest = json.loads("".join(r["value"] for r in sorted(rows, key=lambda r: r["key"])))
        except ValueError as exc:
            raise IndexError_(f"{self}: manifest unreadable ({exc}); {REBUILD_HINT}") from None
        return checked_format(manifest, str(self))

    def load(self, with_faiss: bool = True, attempts: int = 5,
             check: Callable[[dict[str, Any]], None] | None = None) -> IndexData:
        """Load the live generation (retried when a writer switches generations meanwhile)."""
        for attempt in range(attempts):
            gen = self._current()
            if gen is None:
                raise IndexError_(f"no index '{self.name}' in Milvus at {self.uri}: build one with: rag index")
            try:
                manifest = self.read_manifest(gen)
                if check is not None:
                    check(manifest)
                return self._load_generation(gen, manifest)
            except IndexError_:
                if attempt + 1 < attempts and self._current() != gen:
                    continue
                raise
            except Exception as exc:  # noqa: BLE001 - a generation dropped under us, or the server went away
                if attempt + 1 < attempts and self._current() != gen:
                    continue
                raise IndexError_(f"{self}: cannot read generation {gen} ({str(exc)[:120]}); {REBUILD_HINT}") from None
        raise AssertionError("unreachable")

    def _load_generation(self, gen: str, manifest: dict[str, Any]) -> IndexData:
        blobs = self._blobs(gen)
        documents = {}
        for k, text in blobs.items():
            if k.startswith("doc:"):
                d = Document.model_validate_json(text)
                documents[d.doc_id] = d
        dim = int(manifest.get("dim") or 0)
        rows = sorted(self._query_all(self._coll(gen, "chunks"), ["id", "vector", "record"]), key=lambda r: r["id"])
        if not rows and manifest.get("counts", {}).get("chunks"):
            raise IndexError_(f"{self}: generation {gen} holds no chunks; {REBUILD_HINT}")
        chunks = [Chunk.model_validate_json(r["record"]) for r in rows]
        vectors = np.array([r["vector"] for r in rows], dtype=np.float32).reshape(len(rows), dim)
        srows = sorted(self._query_all(self._coll(gen, "sentences"), ["id", "vector", "owner"]), key=lambda r: r["id"])
        svec = np.array([r["vector"] for r in srows], dtype=np.float32).reshape(len(srows), dim)
        owner = np.array([r["owner"] for r in srows], dtype=np.int64)
        if manifest.get("counts", {}).get("chunks", len(chunks)) != len(chunks) or [r["id"] for r in rows] != list(
                range(len(rows))):
            raise IndexError_(f"{self}: chunk rows missing in generation {gen}; {REBUILD_HINT}")
        if any(c.doc_id not in documents for c in chunks):
            raise IndexError_(f"{self}: chunk records name unknown documents; {REBUILD_HINT}")
        data = IndexData(manifest, documents, chunks, vectors, owner, svec)
        data.faiss_index = MilvusDense(self.client, self._coll(gen, "chunks"), len(chunks), dim)
        return data

    # ------------------------------------------------------------ writing
    def write(self, data: IndexData, index_settings: Any = None) -> str:
        """Write a new generation and switch ``current`` to it. Call under :meth:`lock`."""
        from pymilvus import DataType

        dim = int(data.manifest.get("dim") or data.chunk_vectors.shape[1])
        gen = f"g{time.strftime('%Y%m%d%H%M%S')}{uuid.uuid4().hex[:6]}"
        vec = ("vector", DataType.FLOAT_VECTOR, {"dim": dim})
        made = []
        try:
            self._create(self._coll(gen, "chunks"), [
                ("id", DataType.INT64, {"is_primary": True}), vec,
                ("doc_id", DataType.VARCHAR, {"max_length": 512}), ("date", DataType.VARCHAR, {"max_length": 32}),
                ("source", DataType.VARCHAR, {"max_length": 512}), ("language", DataType.VARCHAR, {"max_length": 16}),
                ("record", DataType.VARCHAR, {"max_length": 65_535})], dim)
            made.append(self._coll(gen, "chunks"))
            rows = []
            for i, c in enumerate(data.chunks):
                d = data.documents[c.doc_id]
                rec = c.model_dump_json()
                if len(rec.encode()) > 65_535:
                    raise IndexError_(f"chunk {c.chunk_id} is over 64 KB; lower chunking.max_tokens for Milvus")
                rows.append({"id": i, "vector": data.chunk_vectors[i].tolist(), "doc_id": c.doc_id,
                             "date": d.date or "", "source": (d.source or "")[:500], "language": d.language,
                             "record": rec})
            for i in range(0, len(rows), 500):
                self.client.insert(self._coll(gen, "chunks"), rows[i:i + 500])
            self._create(self._coll(gen, "sentences"), [
                ("id", DataType.INT64, {"is_primary": True}), vec, ("owner", DataType.INT64, {})], dim)
            made.append(self._coll(gen, "sentences"))
            srows = [{"id": i, "vector": data.sentence_vectors[i].tolist(), "owner": int(o)}
                     for i, o in enumerate(data.sentence_owner)]
            for i in range(0, len(srows), 1000):
                self.client.insert(self._coll(gen, "sentences"), srows[i:i + 1000])
            blob = [("key", DataType.VARCHAR, {"is_primary": True, "max_length": 1024}),
                    ("value", DataType.VARCHAR, {"max_length": 65_535}), ("vector", DataType.FLOAT_VECTOR, {"dim": 2})]
            self._create(self._coll(gen, "blobs"), blob, 2)
            made.append(self._coll(gen, "blobs"))
            self._put_blobs(self._coll(gen, "blobs"), {
                "manifest": json.dumps(data.manifest, ensure_ascii=True),
                **{f"doc:{k}": d.model_dump_json() for k, d in data.documents.items()}})
            for coll in made:
                self.client.flush(coll)
            if not self.client.has_collection(self._meta()):
                self._create(self._meta(), blob, 2)
            previous = self._current()
            self.client.upsert(self._meta(), [{"key": "current", "value": gen, "vector": [0.0, 0.0]}])
            self.client.upsert(self._meta(), [{"key": "previous", "value": previous or "", "vector": [0.0, 0.0]}])
            self.client.flush(self._meta())
        except BaseException:
            for coll in made:
                with contextlib.suppress(Exception):
                    self.client.drop_collection(coll)
            raise
        self._collect_garbage(keep={gen, previous or ""})
        return gen

    def _collect_garbage(self, keep: set[str]) -> None:
        """Drop generations but the live and the previous one."""
        for coll in self.client.list_collections():
            m = re.fullmatch(re.escape(self.prefix) + r"__(g\w+?)__(chunks|sentences|blobs)", coll)
            if m and m.group(1) not in keep:
                with contextlib.suppress(Exception):
                    self.client.drop_collection(coll)
