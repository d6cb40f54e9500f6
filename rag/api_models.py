"""Typed request and response records of the HTTP API (and of the OpenAI-compatible routes).

Every response has a model here, so the OpenAPI document tells a client the shape of hits, answers,
documents and errors. Answers reuse :class:`rag.models.Answer` (what ``rag ask --json`` prints).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt

from rag.models import Answer, Citation, Comparison, Hit


def _needs_text(v: str) -> str:
    if any(0xD800 <= ord(c) <= 0xDFFF for c in v):
        raise ValueError("holds an unpaired UTF-16 surrogate (invalid Unicode text)")
    if not any(c.isalnum() for c in v):
        raise ValueError("needs at least one letter or digit")
    return v


Text = Annotated[str, Field(min_length=1, max_length=2000), AfterValidator(_needs_text)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _iso_date(v: Any) -> Any:
    if not isinstance(v, str | date):
        raise ValueError("must be a date as a string YYYY-MM-DD")
    return v


# requests are held to their schema exactly: no unknown fields, no "5" for 5, no 0 for a date
IsoDate = Annotated[date, BeforeValidator(_iso_date)]


class FiltersIn(_In):
    """Restrict the documents searched. Any field left out does not filter."""

    doc_ids: list[Annotated[str, Field(max_length=200)]] | None = Field(None, max_length=1000)
    source: str | None = Field(None, max_length=200)
    date_from: IsoDate | None = Field(None, description="only articles dated on or after (YYYY-MM-DD)")
    date_to: IsoDate | None = Field(None, description="only articles dated on or before (YYYY-MM-DD)")
    language: str | None = Field(None, max_length=8, description="de, en, …")


class SearchIn(_In):
    query: Text
    k: StrictInt = Field(5, ge=1, le=100)
    filters: FiltersIn | None = None


class AskIn(_In):
    question: Text
    llm: Literal["none", "ollama", "llamacpp"] | None = Field(None, description="answer backend (default: the server's)")
    k: StrictInt | None = Field(None, ge=1, le=100)
    filters: FiltersIn | None = None
    ollama_model: str | None = Field(None, max_length=200, description="this request's Ollama model (llm=ollama)")


class TextDocIn(_In):
    name: str = Field(..., min_length=1, max_length=120, description="file name; its stem becomes the document id")
    text: str = Field(..., min_length=1, max_length=5_000_000)
    replace: StrictBool = Field(False, description="replace a document with the same id instead of refusing (409)")


# ---------------------------------------------------------------- responses


class SearchOut(BaseModel):
    """The one shape of search results (also ``rag search --json`` and ``--queries`` lines)."""

    query: str
    hits: list[Hit]


class DocumentInfo(BaseModel):
    doc_id: str
    title: str = ""
    date: str | None = None
    source: str | None = None
    language: str = "und"


class DocumentsPage(BaseModel):
    total: int
    offset: int
    limit: int
    documents: list[DocumentInfo]


class UploadOut(BaseModel):
    doc_id: str
    file: str
    replaced: bool = Field(description="true: a document with this id was replaced (the request said replace)")
    warnings: list[str] = Field(default_factory=list, description="what reading the file repaired")
    documents: int = Field(description="documents in the index afterwards")
    chunks: int


class RemoveOut(BaseModel):
    removed: str
    documents: int
    chunks: int


class LLMHealth(BaseModel):
    backend: str
    reachable: bool | None = None
    detail: str | None = None


class HealthOut(BaseModel):
    status: Literal["ok"]
    index_loaded: bool
    index: str = Field(description="the index name")
    model: str | None
    dim: int | None
    documents: int
    chunks: int
    index_type: str | None
    updated: str | None
    llm: LLMHealth


class ErrorDetail(BaseModel):
    code: str = Field(description="invalid_request | unauthorized | not_found | method_not_allowed | conflict | "
                                  "payload_too_large | llm_unavailable | internal_error")
    message: str
    field: str | None = Field(None, description="the request field at fault, as a dotted path")
    existing: str | None = Field(None, description="conflict: the id of the existing document")


class ErrorOut(BaseModel):
    """Every 4xx and 5xx response."""

    error: ErrorDetail


class StreamEvent(BaseModel):
    """One NDJSON line of ``POST /api/v1/ask/stream``: ``evidence`` (the partial answer before any LLM text),
    ``token`` (a piece of the answer text), ``final`` (the whole answer) or ``error``."""

    type: Literal["evidence", "token", "final", "error"]
    text: str | None = None
    answer: Answer | None = None


# ---------------------------------------------------------------- OpenAI-compatible


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionIn(BaseModel):
    """The OpenAI chat-completions request; the last user message is the question. Sampling options are
    accepted and ignored: the answer is grounded and deterministic."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(description="newsrag (the server's backend), newsrag-extractive, newsrag-ollama, "
                                   "newsrag-llamacpp")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: StrictBool = False


class ChatChoiceMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatChoiceMessage
    finish_reason: Literal["stop"] = "stop"


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ChatCompletionOut(BaseModel):
    """An OpenAI chat completion, plus the grounded answer's ``citations`` ([n] in the text) and ``conflicts``
    (sources that differ), and the whole ``answer`` record."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage = Usage()
    citations: list[Citation] = Field(default_factory=list)
    conflicts: list[Comparison] = Field(default_factory=list)
    answer: Answer | None = None


class ModelInfo(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "newsrag"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelInfo]
