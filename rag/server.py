"""HTTP API (FastAPI) with the Gradio UI mounted at ``/``: ``rag serve``.

Routes (under ``/api/v1``): ``POST /search``, ``POST /ask``, ``POST /ask/stream`` (NDJSON events),
``GET/POST /documents``, ``DELETE /documents/{id}``, ``GET /health``. OpenAPI at ``/api/v1/openapi.json``.
Models load once per process; searches run concurrently, LLM generations are limited by a semaphore so a
slow LLM never blocks searches. With ``RAG_API_TOKEN`` set, every API route and the UI require it.
"""

from __future__ import annotations

import html
import json
import os
import queue
import re
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from pydantic import AfterValidator, BaseModel, Field
from starlette.middleware.base import BaseHTTPMiddleware

from rag.config import Settings
from rag.errors import LLMError, RagError

MAX_JSON_BYTES = 256 * 1024


class FiltersIn(BaseModel):
    doc_ids: list[str] | None = None
    source: str | None = Field(None, max_length=200)
    date_from: str | None = Field(None, max_length=40)
    date_to: str | None = Field(None, max_length=40)
    language: str | None = Field(None, max_length=8)


def _needs_text(v: str) -> str:
    if not any(c.isalnum() for c in v):
        raise ValueError("needs at least one letter or digit")
    return v


Text = Annotated[str, Field(min_length=1, max_length=2000), AfterValidator(_needs_text)]


class SearchIn(BaseModel):
    query: Text
    k: int = Field(5, ge=1, le=100)
    filters: FiltersIn | None = None


class AskIn(BaseModel):
    question: Text
    llm: Literal["none", "ollama", "llamacpp"] | None = None
    k: int | None = Field(None, ge=1, le=100)
    filters: FiltersIn | None = None


class TextDocIn(BaseModel):
    name: str = Field(..., min_length=1, max_length=120)
    text: str = Field(..., min_length=1, max_length=5_000_000)


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


class Service:
    """The shared state of a server process: one engine, one lock for corpus changes."""

    def __init__(self, settings: Settings) -> None:
        from rag.engine import Engine

        self.settings = settings
        self.engine = Engine(settings)
        self.write_lock = threading.Lock()
        self.llm_slots = threading.Semaphore(settings.server.max_concurrent_llm)
        self.corpus = Path(settings.server.corpus_dir)
        self.corpus.mkdir(parents=True, exist_ok=True)
        try:
            self.engine.reload()
        except RagError:
            if not any(self.corpus.iterdir()) and Path(settings.corpus).is_dir():
                self.engine.add([settings.corpus])  # first start: index the demo corpus
            else:
                raise

    def filters(self, f: FiltersIn | None) -> Any:
        from rag.retrieval import Filters

        return Filters(**f.model_dump()) if f else None

    def ask(self, body: AskIn, on_token: Any = None, on_evidence: Any = None) -> Any:
        from rag.answer import ask

        llm = body.llm or self.settings.llm.backend
        if llm == "none":
            return ask(self.engine, body.question, llm="none", k=body.k, filters=self.filters(body.filters),
                       on_token=on_token, on_evidence=on_evidence)
        if not self.llm_slots.acquire(timeout=self.settings.llm.timeout_s):
            raise LLMError("all LLM slots are busy; try again or use llm=none")
        try:
            return ask(self.engine, body.question, llm=llm, k=body.k, filters=self.filters(body.filters),
                       on_token=on_token, on_evidence=on_evidence)
        finally:
            self.llm_slots.release()

    def add_file(self, name: str, data: bytes) -> dict[str, Any]:
        limit = self.settings.server.max_upload_mb * 1024 * 1024
        if len(data) > limit:
            raise RagError(f"upload '{name}' is {len(data) / 1048576:.1f} MB, over the "
                           f"{self.settings.server.max_upload_mb:g} MB limit (setting server.max_upload_mb)")
        fname = safe_filename(name)
        target = (self.corpus / fname).resolve()
        if target.parent != self.corpus.resolve():
            raise RagError(f"file name '{name}' points outside the corpus folder")
        with self.write_lock:
            tmp = target.with_name(f".{target.stem}.{secrets.token_hex(4)}{target.suffix}")
            tmp.write_bytes(data)
            from rag.ingest import load_document

            try:
                load_document(tmp, self.settings.ingest)  # validate before it enters the corpus
            except RagError as exc:
                tmp.unlink(missing_ok=True)
                raise RagError(f"upload '{name}': {str(exc).split(': ', 1)[-1]}") from None
            os.replace(tmp, target)
            report = self.engine.add([target])
        return {"doc_id": target.stem, "file": fname, "report": report.as_dict()}

    def remove(self, doc_id: str) -> dict[str, Any]:
        with self.write_lock:
            docs = self.engine.retriever.data.documents
            if doc_id not in docs:
                raise HTTPException(404, f"no document '{doc_id}'")
            path = Path(docs[doc_id].path)
            report = self.engine.remove([doc_id])
            if path.exists() and path.resolve().parent == self.corpus.resolve():
                path.unlink()
        return {"removed": doc_id, "report": report.as_dict()}

    def health(self) -> dict[str, Any]:
        from rag.llm import ChatBackend

        st = self.engine.status()
        llm = self.settings.llm
        out: dict[str, Any] = {"status": "ok", "index_loaded": True, **st, "llm": {"backend": llm.backend}}
        if llm.backend != "none":
            try:
                ChatBackend(llm).check()
                out["llm"]["reachable"] = True
            except LLMError as exc:
                out["llm"].update(reachable=False, detail=str(exc))
        return out


class _BodyLimit(BaseHTTPMiddleware):
    def __init__(self, app: Any, max_upload: int) -> None:
        super().__init__(app)
        self.max_upload = max_upload

    async def dispatch(self, request: Request, call_next: Any) -> Any:
        length = request.headers.get("content-length")
        limit = self.max_upload if request.url.path.startswith("/api/v1/documents") else MAX_JSON_BYTES
        if request.url.path.startswith("/api/") and length and int(length) > limit:
            return JSONResponse({"detail": f"request body of {int(length)} bytes is over the limit of {limit}"}, 413)
        return await call_next(request)


def create_app(settings: Settings, with_ui: bool = True) -> FastAPI:
    """Build the FastAPI app (and mount the Gradio UI at ``/``)."""
    token = os.environ.get("RAG_API_TOKEN") or None
    service = Service(settings)
    app = FastAPI(title="newsrag", version="0.1.0", docs_url="/api/v1/docs", openapi_url="/api/v1/openapi.json")
    app.state.service = service
    app.add_middleware(_BodyLimit, max_upload=int(settings.server.max_upload_mb * 1024 * 1024) + 64 * 1024)

    def auth(request: Request) -> None:
        if token is None:
            return
        if not _token_ok(request, token):
            raise HTTPException(401, "missing or wrong API token (send 'Authorization: Bearer <RAG_API_TOKEN>')")

    if token:
        @app.middleware("http")
        async def _remember_token(request: Request, call_next: Any) -> Any:
            response = await call_next(request)
            if request.query_params.get("token") and _token_ok(request, token):
                response.set_cookie("rag_token", token, httponly=True, samesite="strict")
            return response

    @app.exception_handler(RagError)
    async def _rag_error(_: Request, exc: RagError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, 400)

    api = APIRouter(prefix="/api/v1", dependencies=[Depends(auth)])

    @api.post("/search")
    def search(body: SearchIn) -> dict[str, Any]:
        hits = service.engine.search(body.query, k=body.k, filters=service.filters(body.filters))
        return {"query": body.query, "hits": [h.model_dump() for h in hits]}

    @api.post("/ask")
    def ask(body: AskIn) -> dict[str, Any]:
        return service.ask(body).as_dict()

    @api.post("/ask/stream")
    def ask_stream(body: AskIn) -> StreamingResponse:
        events: queue.Queue[dict[str, Any] | None] = queue.Queue()

        def run() -> None:
            try:
                ans = service.ask(body, on_token=lambda t: events.put({"type": "token", "text": t}),
                                  on_evidence=lambda a: events.put({"type": "evidence", **_partial(a)}))
                events.put({"type": "final", "answer": ans.as_dict()})
            except RagError as exc:
                events.put({"type": "error", "detail": str(exc)})
            finally:
                events.put(None)

        threading.Thread(target=run, daemon=True).start()

        def gen() -> Iterator[bytes]:
            while (ev := events.get()) is not None:
                yield (json.dumps(ev, ensure_ascii=False) + "\n").encode()

        return StreamingResponse(gen(), media_type="application/x-ndjson")

    @api.get("/documents")
    def documents() -> dict[str, Any]:
        m = service.engine.manifest
        return {"documents": [{"doc_id": k, **v} for k, v in m["documents"].items()], "count": len(m["documents"])}

    @api.post("/documents")
    async def add_document(request: Request, file: UploadFile | None = File(None), name: str | None = Form(None),
                           text: str | None = Form(None)) -> dict[str, Any]:
        if file is not None:
            data = await file.read()
            fname = file.filename or "upload.txt"
        elif request.headers.get("content-type", "").startswith("application/json"):
            body = TextDocIn.model_validate(await request.json())
            data, fname = body.text.encode("utf-8"), body.name
        elif text is not None and name:
            data, fname = text.encode("utf-8"), name
        else:
            raise HTTPException(422, "send a file (multipart 'file') or JSON {name, text}")
        import anyio

        return await anyio.to_thread.run_sync(service.add_file, fname, data)

    @api.get("/documents/{doc_id}/view", response_class=HTMLResponse)
    def view_document(doc_id: str, start: int = 0, end: int = 0) -> HTMLResponse:
        """The whole article with the cited passage marked (the UI links here)."""
        docs = service.engine.retriever.data.documents
        if doc_id not in docs:
            raise HTTPException(404, f"no document '{doc_id}'")
        d = docs[doc_id]
        start, end = max(0, min(start, len(d.text))), max(0, min(end, len(d.text)))
        if end <= start:
            start = end = 0
        body = html.escape(d.text[:start]) + '<mark id="passage">' + html.escape(d.text[start:end]) + "</mark>" + \
            html.escape(d.text[end:])
        meta = " · ".join(html.escape(x) for x in (d.date or "", d.source or "", d.doc_id) if x)
        page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(d.title)}</title>"
                "<meta name='viewport' content='width=device-width, initial-scale=1'><style>body{font-family:sans-serif;"
                "max-width:46em;margin:2em auto;padding:0 1em;line-height:1.5}pre{white-space:pre-wrap;font-family:inherit}"
                "mark{background:#fff3b0}</style></head>"
                f"<body><h1>{html.escape(d.title)}</h1><p><small>{meta}</small></p><pre>{body}</pre>"
                "<script>var m=document.getElementById('passage');if(m)m.scrollIntoView({block:'center'});</script>"
                "</body></html>")
        return HTMLResponse(page)

    @api.delete("/documents/{doc_id}")
    def delete_document(doc_id: str) -> dict[str, Any]:
        return service.remove(doc_id)

    @api.get("/health")
    def health() -> dict[str, Any]:
        return service.health()

    app.include_router(api)
    if with_ui:
        import gradio as gr

        from ui.app import CSS, build_ui

        blocks = build_ui(service)
        app = gr.mount_gradio_app(app, blocks, path="/", css=CSS, max_file_size=int(settings.server.max_upload_mb * 1024 * 1024),
                                  footer_links=["api"],
                                  auth_dependency=(lambda r: _ui_user(r, token)) if token else None)
    return app


def _token_ok(request: Request, token: str) -> bool:
    """The token from ``Authorization: Bearer``, ``X-API-Key``, ``?token=`` or the UI's cookie matches."""
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip() \
        or request.headers.get("x-api-key", "") or request.query_params.get("token", "") \
        or request.cookies.get("rag_token", "")
    return bool(given) and secrets.compare_digest(given.encode(), token.encode())


def _ui_user(request: Request, token: str | None) -> str | None:
    return "user" if token and _token_ok(request, token) else None


def _partial(a: Any) -> dict[str, Any]:
    d = a.as_dict()
    return {k: d[k] for k in ("question", "language", "answerable", "answer_type", "evidence", "readings", "comparison",
                              "conflicts", "flag", "flag_kind", "notices")}


def serve(settings: Settings, allow_remote: bool = False, with_ui: bool = True) -> None:
    """Run the server (blocking). Refuses non-loopback binding without ``--allow-remote`` and a token."""
    import uvicorn

    host = settings.server.host
    if host not in ("127.0.0.1", "localhost", "::1"):
        if not allow_remote:
            raise RagError(f"server.host {host} is not loopback: pass --allow-remote and set RAG_API_TOKEN")
        if not os.environ.get("RAG_API_TOKEN"):
            raise RagError("binding to a non-loopback address needs RAG_API_TOKEN to be set")
    app = create_app(settings, with_ui=with_ui)
    uvicorn.run(app, host=host, port=settings.server.port, log_level="warning")
