"""Plain typed records passed between the stages: Document -> Chunk -> Hit."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Span(BaseModel):
    """A half-open character span ``[start, end)`` in a document's text."""

    start: int
    end: int


class Document(BaseModel):
    """One article. ``text`` is the original decoded text (for HTML: the extracted text).

    ``segments`` are the content regions kept after removing page furniture, as spans of ``text``.
    """

    doc_id: str
    path: str
    text: str
    title: str = ""
    date: str | None = None  # ISO yyyy-mm-dd
    source: str | None = None
    language: str = "und"
    content_hash: str = ""
    format: str = "txt"
    segments: list[Span] = Field(default_factory=list)


class Chunk(BaseModel):
    """A retrievable passage: ``text == document.text[start:end]``."""

    chunk_id: str
    doc_id: str
    text: str
    start: int
    end: int
    sentences: list[Span] = Field(default_factory=list)  # absolute spans in the document text


class Hit(BaseModel):
    """One retrieval result."""

    rank: int
    score: float
    doc_id: str
    chunk_id: str
    text: str
    start: int
    end: int
    title: str = ""
    date: str | None = None
    source: str | None = None
    language: str = "und"
    dense_score: float | None = None
    best_sentence: Span | None = None
    best_sentence_score: float | None = None
