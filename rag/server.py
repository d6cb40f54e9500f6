"""HTTP API (FastAPI) with the Gradio chat UI mounted at ``/``: ``rag serve``.

Routes under ``/api/v1``: ``POST /search``, ``POST /ask``, ``POST /ask/stream`` (NDJSON events),
``GET/POST /documents``, ``DELETE /documents/{id}``, ``GET /documents/{id}/view``, ``GET /health``; the
OpenAI-compatible ``POST /v1/chat/completions`` and ``GET /v1/models``. OpenAPI at ``/api/v1/openapi.json``
(also ``/openapi.json``), docs at ``/api/v1/docs``. Every response has a typed model
(:mod:`rag.api_models`); every 4xx/5xx answers ``{"error": {"code", "message", "field"}}``.

Models load once per process; searches run concurrently, LLM generations are limited by a semaphore so a
slow LLM never blocks searches. With ``RAG_API_TOKEN`` set, every API route and the UI require it.
"""

from __future__ import annotations

import html
import json
import os
import secrets
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.api_models import (
    AskIn,
    ChatChoice,
    ChatChoiceMessage,
    ChatCompletionIn,
    ChatCompletionOut,
    DocumentsPage,
    ErrorOut,
    HealthOut,
    ModelInfo,
    ModelList,
    RemoveOut,
    SearchIn,
    SearchOut,
    StreamEvent,
    TextDocIn,
    UploadOut,
)
from rag.config import Settings
from rag.errors import LLMError, RagError
from rag.models import Answer
from rag.service import Conflict, NotFound, Service, TooLarge

MAX_JSON_BYTES = 256 * 1024
VERSION = "0.1.0"

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Bad input (one line saying what and where)"},
    401: {"model": ErrorOut, "description": "Missing or wrong API token (when RAG_API_TOKEN is set)"},
    413: {"model": ErrorOut, "description": "Request body over the limit"},
    422: {"model": ErrorOut, "description": "A field fails validation (`field` names it)"},
    500: {"model": ErrorOut, "description": "An internal error (never for bad input)"},
}
NOT_FOUND = {404: {"model": ErrorOut, "description": "No such document"}}
UNKNOWN_DOC = {404: {"model": ErrorOut, "description": "filters.doc_ids names only documents the index lacks"}}
LLM_BUSY = {503: {"model": ErrorOut, "description": "All LLM slots busy"}}


class APIError(Exception):
    """An error response in the one shape."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field, self.extra = status, code, message, field, extra


def error_response(status: int, code: str, message: str, field: str | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message, "field": field}
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse({"error": body}, status_code=status)


_CODES = {400: "invalid_request", 401: "unauthorized", 403: "unauthorized", 404: "not_found", 405: "method_not_allowed",
          409: "conflict", 413: "payload_too_large", 415: "invalid_request", 422: "invalid_request",
          503: "llm_unavailable"}


class BodyLimit:
    """ASGI middleware: count request-body bytes as they arrive (chunked bodies have no Content-Length) and
    answer 413 as soon as the limit is passed, never reading beyond it. A body within the limit is handed on."""

    def __init__(self, app: Any, max_upload: int) -> None:
        self.app = app
        self.max_upload = max_upload

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(("/api/", "/v1/")):
            await self.app(scope, receive, send)
            return
        limit = self.max_upload if scope["path"].startswith("/api/v1/documents") else MAX_JSON_BYTES
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            await _drain(receive, 4 * limit)
            await _send_413(send, int(declared), limit)
            return
        messages: list[dict[str, Any]] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                messages.append(message)
                break
            seen += len(message.get("body", b""))
            if seen > limit:
                await _drain(receive, 4 * limit, more=message.get("more_body", False))
                await _send_413(send, seen, limit, chunked=True)
                return
            messages.append(message)
            if not message.get("more_body", False):
                break

        async def replay() -> dict[str, Any]:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


async def _drain(receive: Any, cap: int, more: bool = True) -> None:
    """Read (and drop) what the client still sends, up to ``cap`` bytes, before answering, so that it can read
    the 413 (a server that answers first and closes leaves the client writing into a closed socket); a body
    beyond the cap is cut off with the connection. Nothing is kept in memory."""
    seen = 0
    while more and seen <= cap:
        message = await receive()
        if message["type"] != "http.request":
            return
        seen += len(message.get("body", b""))
        more = message.get("more_body", False)


async def _send_413(send: Any, size: int, limit: int, chunked: bool = False) -> None:
    what = f"more than {limit} bytes arrived" if chunked else f"request body of {size} bytes"
    body = json.dumps({"error": {"code": "payload_too_large", "message": f"{what}: over the limit of {limit} bytes "
                                 "(setting server.max_upload_mb for uploads)", "field": None}}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class RouteGuard:
    """ASGI middleware for API paths (``/api/``, ``/v1/``): a path no route serves answers 404, a known path
    asked with another method (any method, also TRACE or QUERY) answers 405 with ``Allow``, both in the one
    error shape, instead of falling through to the UI's page."""

    METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(("/api/", "/v1/")) or scope["path"] in (
                "/api/v1/openapi.json", "/api/v1/docs", "/api/v1/docs/oauth2-redirect"):
            await self.app(scope, receive, send)
            return
        from starlette.routing import Match

        router = scope["app"].router
        allowed = [m for m in self.METHODS
                   if any(r.matches({**scope, "method": m})[0] == Match.FULL for r in router.routes
                          if not getattr(r, "path", "").startswith(("/{", "/openapi")))]
        method = scope["method"]
        if method in allowed or (method == "HEAD" and "GET" in allowed):
            await self.app(scope, receive, send)
            return
        if allowed:
            resp = error_response(405, "method_not_allowed", f"{method} is not allowed here; use " + ", ".join(allowed))
            resp.headers["allow"] = ", ".join(allowed)
        else:
            resp = error_response(404, "not_found", f"no API route {scope['path']}")
        await resp(scope, receive, send)


def create_app(settings: Settings, with_ui: bool = True) -> FastAPI:
    """Build the FastAPI app (and mount the Gradio UI at ``/``)."""
    token = os.environ.get("RAG_API_TOKEN") or None
    service = Service(settings)
    app = FastAPI(title="newsrag", version=VERSION, docs_url="/api/v1/docs", openapi_url="/api/v1/openapi.json",
                  description="Grounded, citation-checked answers over a news archive. Every error is "
                              '`{"error": {"code", "message", "field"}}`.')
    app.state.service = service
    app.add_middleware(BodyLimit, max_upload=int(settings.server.max_upload_mb * 1024 * 1024) + 64 * 1024)
    app.add_middleware(RouteGuard)

    bearer = HTTPBearer(auto_error=False, description="RAG_API_TOKEN (required when the server has one)")
    api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="RAG_API_TOKEN, as a header")

    def auth(request: Request, cred: HTTPAuthorizationCredentials | None = Security(bearer),
             key: str | None = Security(api_key)) -> None:
        if token is not None and not _token_ok(request, token):
            raise APIError(401, "unauthorized", "missing or wrong API token (send 'Authorization: Bearer <RAG_API_TOKEN>')")

    if token:
        @app.middleware("http")
        async def _remember_token(request: Request, call_next: Any) -> Any:
            response = await call_next(request)
            if request.query_params.get("token") and _token_ok(request, token):
                response.set_cookie("rag_token", token, httponly=True, samesite="strict")
            return response

    # ------------------------------------------------------------ errors: one shape
    @app.exception_handler(APIError)
    async def _api_error(_: Request, exc: APIError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.field, **exc.extra)

    @app.exception_handler(Conflict)
    async def _conflict(_: Request, exc: Conflict) -> JSONResponse:
        return error_response(409, "conflict", str(exc), "name", existing=exc.existing)

    # engine errors by type (the most specific class wins): status and code, the message is the error's line
    for exc_type, status, code in ((NotFound, 404, "not_found"), (TooLarge, 413, "payload_too_large"),
                                   (LLMError, 503, "llm_unavailable"), (RagError, 400, "invalid_request")):
        async def _engine_error(_: Request, exc: Exception, status: int = status, code: str = code) -> JSONResponse:
            return error_response(status, code, str(exc))

        app.add_exception_handler(exc_type, _engine_error)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(exc.errors())

    @app.exception_handler(ValidationError)
    async def _invalid_model(_: Request, exc: ValidationError) -> JSONResponse:
        return _validation_response(exc.errors())

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, _CODES.get(exc.status_code, "invalid_request"), str(exc.detail))

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:
        sys.stderr.write(f"internal error: {type(exc).__name__}: {exc}\n")
        return error_response(500, "internal_error", f"internal error ({type(exc).__name__}); the server log has details")

    # ------------------------------------------------------------ the API
    api = APIRouter(prefix="/api/v1", dependencies=[Depends(auth)], responses=ERRORS)

    @api.post("/search", response_model=SearchOut, responses=UNKNOWN_DOC, summary="Hybrid search")
    def search(body: SearchIn) -> SearchOut:
        hits = service.engine.search(body.query, k=body.k, filters=service.filters(body.filters))
        return SearchOut(query=body.query, hits=hits)

    @api.post("/ask", response_model=Answer, responses={**LLM_BUSY, **UNKNOWN_DOC},
              summary="Grounded answer (same JSON as rag ask --json)")
    def ask(body: AskIn) -> Answer:
        return service.ask(body)

    @api.post("/ask/stream", response_class=StreamingResponse, responses={
        200: {"description": "NDJSON: one StreamEvent per line (evidence first, then tokens, then final)",
              "content": {"application/x-ndjson": {"schema": StreamEvent.model_json_schema()}}}, **LLM_BUSY, **UNKNOWN_DOC},
        summary="Grounded answer, streamed as NDJSON events")
    def ask_stream(body: AskIn) -> StreamingResponse:
        def gen() -> Iterator[bytes]:
            for ev in service.stream(body):
                out = StreamEvent(type=ev.type, text=ev.text or None, answer=ev.answer)  # type: ignore[arg-type]
                yield (out.model_dump_json(exclude_none=True) + "\n").encode()

        return StreamingResponse(gen(), media_type="application/x-ndjson")

    @api.get("/documents", response_model=DocumentsPage, summary="The index's documents, a page at a time")
    def documents(offset: int = Query(0, ge=0), limit: int = Query(50, ge=1, le=500)) -> DocumentsPage:
        total, page = service.documents(offset, limit)
        return DocumentsPage(total=total, offset=offset, limit=limit, documents=page)  # type: ignore[arg-type]

    @api.post("/documents", response_model=UploadOut, responses={
              409: {"model": ErrorOut, "description": "Another document has this id (send replace=true)"},
              415: {"model": ErrorOut, "description": "Neither multipart/form-data nor JSON"}},
              summary="Add an article: multipart 'file' (with optional 'replace'), or JSON {name, text, replace}",
              openapi_extra={"requestBody": {"content": {
                  "application/json": {"schema": TextDocIn.model_json_schema()},
                  "multipart/form-data": {"schema": {"type": "object", "properties": {
                      "file": {"type": "string", "format": "binary"}, "name": {"type": "string"},
                      "text": {"type": "string"}, "replace": {"type": "boolean"}}}}}}})
    async def add_document(request: Request) -> UploadOut:
        import anyio

        ctype = request.headers.get("content-type", "")
        if ctype.startswith("application/json"):
            try:
                raw = json.loads(await request.body())
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise APIError(400, "invalid_request", f"request body is not valid JSON ({exc})") from None
            body = TextDocIn.model_validate(raw)
            data, fname, replace = body.text.encode("utf-8", errors="replace"), body.name, body.replace
        elif ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            form = await request.form()
            replace = str(form.get("replace", "false")).lower() in ("1", "true", "yes")
            up = form.get("file")
            if up is not None and not isinstance(up, str):
                data, fname = await up.read(), up.filename or "upload.txt"
            elif isinstance(form.get("text"), str) and isinstance(form.get("name"), str) and form.get("name"):
                data, fname = str(form["text"]).encode("utf-8"), str(form["name"])
            else:
                raise APIError(422, "invalid_request", "send a file (multipart 'file') or the fields 'name' and 'text'",
                               "file")
        else:
            raise APIError(415, "invalid_request", "send multipart/form-data with a 'file', or JSON {name, text}")
        return UploadOut(**await anyio.to_thread.run_sync(service.add_file, fname, data, replace))

    # an HTML route: its errors are still JSON in the one shape (documented as such, not as HTML)
    pages = APIRouter(prefix="/api/v1", dependencies=[Depends(auth)], responses={
        code: {"description": r["description"],
               "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}
        for code, r in {**ERRORS, **NOT_FOUND}.items()})

    @pages.get("/documents/{doc_id}/view", response_class=HTMLResponse,
               summary="The whole article with the cited passage marked")
    def view_document(doc_id: str, start: int = 0, end: int = 0) -> HTMLResponse:
        docs = service.engine.retriever.data.documents
        if doc_id not in docs:
            raise NotFound(f"no document '{doc_id}'")
        return HTMLResponse(_article_page(docs[doc_id], start, end))

    @api.delete("/documents/{doc_id}", response_model=RemoveOut, responses=NOT_FOUND, summary="Remove a document")
    def delete_document(doc_id: str) -> RemoveOut:
        return RemoveOut(**service.remove(doc_id))

    @api.get("/health", response_model=HealthOut, summary="Index and LLM status")
    def health() -> HealthOut:
        return HealthOut(**service.health())

    app.include_router(api)
    app.include_router(pages)
    app.include_router(openai_router(service, auth))

    def openapi() -> dict[str, Any]:
        """The schema says what this server does: without RAG_API_TOKEN, the token is optional ({} in security)."""
        if app.openapi_schema:
            return app.openapi_schema
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        if token is None:
            for item in schema.get("paths", {}).values():
                for op in item.values():
                    if isinstance(op, dict) and op.get("security"):
                        op["security"] = [{}, *op["security"]]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/openapi.json", include_in_schema=False)
    def root_openapi() -> RedirectResponse:
        return RedirectResponse("/api/v1/openapi.json")

    if with_ui:
        import gradio as gr

        from ui.app import CSS, build_ui

        blocks = build_ui(service)
        app = gr.mount_gradio_app(app, blocks, path="/", css=CSS, max_file_size=int(settings.server.max_upload_mb * 1024 * 1024),
                                  footer_links=["api"],
                                  auth_dependency=(lambda r: _ui_user(r, token)) if token else None)
    return app


def _validation_response(errors: list[Any]) -> JSONResponse:
    err = errors[0] if errors else {}
    loc = [str(x) for x in err.get("loc", ())]
    if loc and loc[0] in ("body", "query", "path", "header", "cookie"):  # where it came from, not the field
        loc = loc[1:]
    msg = str(err.get("msg", "invalid request")).removeprefix("Value error, ")
    if err.get("type") == "string_unicode":
        msg = "not valid Unicode text (an unpaired UTF-16 surrogate?)"
    field = ".".join(loc) or None
    if err.get("type") == "json_invalid":
        return error_response(400, "invalid_request", f"request body is not valid JSON ({msg})")
    return error_response(422, "invalid_request", f"{field + ': ' if field else ''}{msg}", field)


def _article_page(d: Any, start: int, end: int) -> str:
    start, end = max(0, min(start, len(d.text))), max(0, min(end, len(d.text)))
    if end <= start:
        start = end = 0
    body = html.escape(d.text[:start]) + '<mark id="passage">' + html.escape(d.text[start:end]) + "</mark>" + \
        html.escape(d.text[end:])
    meta = " · ".join(html.escape(x) for x in (d.date or "", d.source or "", d.doc_id) if x)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(d.title)}</title>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'><style>body{font-family:sans-serif;"
            "max-width:46em;margin:2em auto;padding:0 1em;line-height:1.5}pre{white-space:pre-wrap;font-family:inherit}"
            "mark{background:#fff3b0}</style></head>"
            f"<body><h1>{html.escape(d.title)}</h1><p><small>{meta}</small></p><pre>{body}</pre>"
            "<script>var m=document.getElementById('passage');if(m)m.scrollIntoView({block:'center'});</script>"
            "</body></html>")


# ---------------------------------------------------------------- OpenAI-compatible

CHAT_MODELS = {"newsrag": None, "newsrag-extractive": "none", "newsrag-ollama": "ollama", "newsrag-llamacpp": "llamacpp"}


def openai_router(service: Service, auth: Any) -> APIRouter:
    """``/v1/chat/completions`` and ``/v1/models`` for chat front-ends that speak OpenAI's API: the answer is
    the grounded one, citations ``[n]`` in the text plus ``citations`` / ``conflicts`` beside ``choices``."""
    router = APIRouter(prefix="/v1", dependencies=[Depends(auth)], responses=ERRORS, tags=["OpenAI-compatible"])

    @router.get("/models", response_model=ModelList, summary="Models (answer backends) for chat clients")
    def models() -> ModelList:
        return ModelList(data=[ModelInfo(id=m) for m in CHAT_MODELS])

    @router.post("/chat/completions", response_model=ChatCompletionOut, responses={
        200: {"description": "A chat completion (JSON), or with stream=true server-sent events of chunks ending "
                             "in [DONE]; the last chunk carries citations and conflicts",
              "content": {"text/event-stream": {}}}, **LLM_BUSY,
        404: {"model": ErrorOut, "description": "No such model (see /v1/models)"}},
        summary="The grounded answer to the last user message, in OpenAI's format")
    def chat(body: ChatCompletionIn) -> Any:
        if body.model not in CHAT_MODELS:
            raise APIError(404, "not_found", f"model '{body.model}' does not exist; choose one of "
                           + ", ".join(CHAT_MODELS), "model")
        question = _last_user_text(body)
        ask = AskIn(question=question, llm=CHAT_MODELS[body.model])  # type: ignore[arg-type]
        cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        if not body.stream:
            ans = service.ask(ask)
            return ChatCompletionOut(id=cid, created=created, model=body.model,
                                     choices=[ChatChoice(message=ChatChoiceMessage(content=ans.answer))],
                                     citations=ans.citations, conflicts=ans.conflicts, answer=ans)

        def sse() -> Iterator[bytes]:
            def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
                data = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": body.model,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
                return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()

            yield chunk({"role": "assistant", "content": ""})
            for ev in service.stream(ask):
                if ev.type == "token" and ev.text:
                    yield chunk({"content": ev.text})
                elif ev.type == "final" and ev.answer is not None:
                    a = ev.answer
                    yield chunk({}, "stop", citations=[c.model_dump(mode="json") for c in a.citations],
                                conflicts=[c.model_dump(mode="json") for c in a.conflicts],
                                answer_text=a.answer)
                elif ev.type == "error":
                    yield f"data: {json.dumps({'error': {'code': 'internal_error', 'message': ev.text}})}\n\n".encode()
            yield b"data: [DONE]\n\n"

        return StreamingResponse(sse(), media_type="text/event-stream")

    return router


def _last_user_text(body: ChatCompletionIn) -> str:
    for m in reversed(body.messages):
        if m.role == "user":
            content = m.content
            if isinstance(content, list):  # [{"type": "text", "text": …}, …]
                content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            if content and str(content).strip():
                return str(content)
    raise APIError(422, "invalid_request", "the messages hold no user message with text", "messages")


def _token_ok(request: Request, token: str) -> bool:
    """The token from ``Authorization: Bearer``, ``X-API-Key``, ``?token=`` or the UI's cookie matches."""
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip() \
        or request.headers.get("x-api-key", "") or request.query_params.get("token", "") \
        or request.cookies.get("rag_token", "")
    return bool(given) and secrets.compare_digest(given.encode(), token.encode())


def _ui_user(request: Request, token: str | None) -> str | None:
    return "user" if token and _token_ok(request, token) else None


def serve(settings: Settings, allow_remote: bool = False, with_ui: bool = True) -> None:
    """Run the server (blocking). Refuses non-loopback binding without ``--allow-remote`` and a token;
    port 0 binds a free port and prints it."""
    import uvicorn

    host = settings.server.host
    if host not in ("127.0.0.1", "localhost", "::1"):
        if not allow_remote:
            raise RagError(f"server.host {host} is not loopback: pass --allow-remote and set RAG_API_TOKEN")
        if not os.environ.get("RAG_API_TOKEN"):
            raise RagError("binding to a non-loopback address needs RAG_API_TOKEN to be set")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, settings.server.port))
    except OSError as exc:
        sock.close()
        raise RagError(f"cannot listen on {host}:{settings.server.port} ({exc.strerror}); choose another --port "
                       "(0 picks a free one)") from None
    port = sock.getsockname()[1]
    app = create_app(settings, with_ui=with_ui)
    if app.state.service.engine.retriever.data.documents:
        app.state.service.engine.warm_up()  # the first question should not wait for the models to load
    shown = f"[{host}]" if ":" in host else host
    sys.stderr.write(f"serving http://{shown}:{port}/  (API: /api/v1, docs: /api/v1/docs, OpenAI: /v1)\n")
    sys.stderr.flush()
    config = uvicorn.Config(app, log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])
