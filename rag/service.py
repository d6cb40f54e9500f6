"""The state one server process shares between its interfaces (HTTP API, chat UI, OpenAI-compatible API):
one engine, one lock for corpus changes, a limit on concurrent LLM generations, and one streaming helper.

Interfaces import this module and the typed records (:mod:`rag.api_models`, :mod:`rag.models`), never
each other.
"""

from __future__ import annotations

import os
import queue
import re
import secrets
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.api_models import AskIn, FiltersIn
from rag.config import Settings
from rag.errors import LLMError, NotFoundError, RagError
from rag.models import Answer

NotFound = NotFoundError
"""A document id the index does not hold (the engine's :class:`~rag.errors.NotFoundError`)."""


class Conflict(RagError):
    """An upload whose id is taken by another document (pass ``replace`` to replace it)."""

    def __init__(self, message: str, existing: str) -> None:
        super().__init__(message)
        self.existing = existing


class TooLarge(RagError):
    """A body or file over its size limit."""


def safe_filename(name: str) -> str:
    """A plain file name: no folders, no ``..``, no hidden files; only txt/md/html kept as extension."""
    base = Path(name.replace("\\", "/")).name
    base = re.sub(r"[^\w.\-]+", "_", base).strip("._")
    if not base:
        raise RagError(f"file name '{name}' is not usable")
    stem, dot, ext = base.rpartition(".")
    if not dot or ext.lower() not in ("txt", "md", "markdown", "html", "htm"):
        stem, ext = base, "txt"
    return f"{stem[:100]}.{ext.lower()}"


@dataclass
class Event:
    """One step of a streamed answer: ``evidence`` (the partial answer, before any LLM text), ``token``
    (a piece of text), ``final`` (the whole :class:`Answer`) or ``error`` (a one-line message)."""

    type: str
    text: str = ""
    answer: Answer | None = None


class Service:
    """The shared state of a server process: one engine, one lock for corpus changes."""

    def __init__(self, settings: Settings) -> None:
        from rag.engine import Engine
        from rag.store import open_store

        self.settings = settings
        self.engine = Engine(settings)
        self.write_lock = threading.Lock()
        self.llm_slots = threading.Semaphore(settings.server.max_concurrent_llm)
        self.corpus = Path(settings.server.corpus_dir)
        self.corpus.mkdir(parents=True, exist_ok=True)
        if not open_store(settings).exists() and not any(self.corpus.iterdir()) \
                and Path(settings.corpus).is_dir():
            sys.stderr.write(f"no index at {settings.index_path} yet: indexing {settings.corpus} into it\n")
            self.engine.add([settings.corpus])  # first start: the configured corpus
        self.engine.reload()  # an index that exists but is broken is refused, never written into

    # ------------------------------------------------------------ reading
    def filters(self, f: FiltersIn | None) -> Any:
        from rag.retrieval import Filters

        if not f:
            return None
        d = f.model_dump()
        d["date_from"] = f.date_from.isoformat() if f.date_from else None
        d["date_to"] = f.date_to.isoformat() if f.date_to else None
        return Filters(**d)

    def ask(self, body: AskIn, on_token: Any = None, on_evidence: Any = None) -> Answer:
        """Answer with the backend the request asks for (each request's own Ollama model, if it names one);
        LLM generations wait for a free slot, extractive answers never wait."""
        from rag.answer import ask

        llm = body.llm or self.settings.llm.backend
        kw = {"llm": llm, "k": body.k, "filters": self.filters(body.filters), "on_token": on_token,
              "on_evidence": on_evidence, "llm_model": body.ollama_model}
        if llm == "none":
            return ask(self.engine, body.question, **kw)
        if not self.llm_slots.acquire(timeout=self.settings.llm.timeout_s):
            raise LLMError("all LLM slots are busy; try again or use llm=none")
        try:
            return ask(self.engine, body.question, **kw)
        finally:
            self.llm_slots.release()

    def stream(self, body: AskIn) -> Iterator[Event]:
        """The answer as events, produced in a worker thread: ``evidence`` first, then ``token`` pieces,
        then ``final`` (or ``error``). The one streaming helper of every interface."""
        events: queue.Queue[Event | None] = queue.Queue()

        def run() -> None:
            try:
                ans = self.ask(body, on_token=lambda t: events.put(Event("token", text=t)),
                               on_evidence=lambda a: events.put(Event("evidence", answer=a.model_copy(deep=True))))
                events.put(Event("final", answer=ans))
            except Exception as exc:  # noqa: BLE001 - every failure ends the stream with one line
                events.put(Event("error", text=str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
            finally:
                events.put(None)

        threading.Thread(target=run, daemon=True).start()
        while (ev := events.get()) is not None:
            yield ev

    # ------------------------------------------------------------ the corpus
    def documents(self, offset: int = 0, limit: int = 50) -> tuple[int, list[dict[str, Any]]]:
        """``(total, page)`` of the index's documents (id, title, date, source, language; never server paths)."""
        items = list(self.engine.manifest["documents"].items())
        page = [{"doc_id": k, "title": v.get("title") or "", "date": v.get("date"), "source": v.get("source"),
                 "language": v.get("language") or "und"} for k, v in items[offset:offset + limit]]
        return len(items), page

    def add_file(self, name: str, data: bytes, replace: bool = False) -> dict[str, Any]:
        """Store an upload in the corpus folder and index it.

        Raises:
            TooLarge: over ``server.max_upload_mb``.
            Conflict: its id is another document's and ``replace`` is False.
            RagError: a name or content that cannot be used.
        """
        limit = self.settings.server.max_upload_mb * 1024 * 1024
        if len(data) > limit:
            raise TooLarge(f"upload '{name}' is {len(data) / 1048576:.1f} MB, over the "
                           f"{self.settings.server.max_upload_mb:g} MB limit (setting server.max_upload_mb)")
        fname = safe_filename(name)
        target = (self.corpus / fname).resolve()
        if target.parent != self.corpus.resolve():
            raise RagError(f"file name '{name}' points outside the corpus folder")
        with self.write_lock:
            doc_id = target.stem
            existing = self.engine.retriever.data.documents.get(doc_id)
            if existing is not None and not replace:
                raise Conflict(f"a document with id '{doc_id}' exists already ('{existing.title}'); send "
                               "replace=true to replace it, or another file name", existing=doc_id)
            tmp = target.with_name(f".{target.stem}.{secrets.token_hex(4)}{target.suffix}")
            tmp.write_bytes(data)
            from rag.ingest import load_document

            try:
                doc = load_document(tmp, self.settings.ingest)  # validate before it enters the corpus
            except RagError as exc:
                tmp.unlink(missing_ok=True)
                raise RagError(f"upload '{name}': {str(exc).split(': ', 1)[-1]}") from None
            if existing is not None and Path(existing.path).resolve() != target and Path(existing.path).exists():
                # replacing a document that lives outside the corpus folder (e.g. a seed): the upload takes its id
                self.engine.remove([doc_id])
            os.replace(tmp, target)
            report = self.engine.add([target])
        return {"doc_id": doc_id, "file": fname, "replaced": existing is not None, "warnings": doc.warnings,
                "documents": report.documents, "chunks": report.chunks}

    def remove(self, doc_id: str) -> dict[str, Any]:
        """Remove a document from the index (and its file, if it is an upload).

        Raises:
            NotFound: no such document.
        """
        with self.write_lock:
            docs = self.engine.retriever.data.documents
            if doc_id not in docs:
                raise NotFound(f"no document '{doc_id}'")
            path = Path(docs[doc_id].path)
            report = self.engine.remove([doc_id])
            if path.exists() and path.resolve().parent == self.corpus.resolve():
                path.unlink()
        return {"removed": doc_id, "documents": report.documents, "chunks": report.chunks}

    def health(self) -> dict[str, Any]:
        from rag.llm import ChatBackend

        st = {**self.engine.status(), "index": self.settings.index.name}  # the name, not a server path
        llm = self.settings.llm
        out: dict[str, Any] = {"status": "ok", "index_loaded": True, **st, "llm": {"backend": llm.backend}}
        if llm.backend != "none":
            try:
                ChatBackend(llm).check()
                out["llm"]["reachable"] = True
            except LLMError as exc:
                out["llm"].update(reachable=False, detail=str(exc))
        return out
