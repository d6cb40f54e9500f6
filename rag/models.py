"""Plain typed records passed between the stages: Document -> Chunk -> Hit."""

from __future__ import annotations

from typing import Any

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
    warnings: list[str] = Field(default_factory=list, exclude=True)  # what reading it repaired (not stored)


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


# ---------------------------------------------------------------- answers (rag ask)


class Value(BaseModel):
    """One typed value a source states, as an exact span of the document text."""

    kind: str  # quantity | date | name | text
    text: str  # the words as written: document_text[start:end]
    start: int
    end: int
    key: str  # normalised, comparable form: "495", "1947-11-08", "kim yong un"
    display: str  # how the answer shows it, in the question's language
    number: float | None = None  # quantities: the value in the base unit (or currency)
    low: float | None = None
    high: float | None = None  # None means open-ended ("more than 10,000")
    unit: str | None = None
    dimension: str | None = None
    qualifier: str = "exact"
    increment: bool = False


class Citation(BaseModel):
    """A numbered evidence sentence: ``quote == document_text[start:end]``."""

    n: int
    doc_id: str
    chunk_id: str
    title: str = ""
    date: str | None = None
    source: str | None = None
    quote: str
    start: int
    end: int


class Evidence(Citation):
    """A citation with its retrieval context."""

    score: float = 0.0
    chunk_start: int = 0
    chunk_end: int = 0


class SourceReading(BaseModel):
    """What one source (document) says about the question: a value, or that it does not say."""

    doc_id: str
    title: str = ""
    date: str | None = None
    source: str | None = None
    says: bool = False
    value: Value | None = None
    citation: int | None = None  # evidence number of the sentence that states the value
    sentence_start: int | None = None
    sentence_end: int | None = None
    score: float = 0.0
    confidence: float = 0.0  # the reader's probability for its best candidate (also when it does not say)
    names_entity: bool = True  # False: the source never names the asked entity
    entity_label: str | None = None  # how the source names the asked entity ("Furna (Brava)")
    attributed_to: str | None = None  # who the source says gave the value ("the Pentagon")
    copies: list[str] = Field(default_factory=list)  # doc ids of near-identical copies of this source
    reason: str | None = None  # why it does not say


class ValueGroup(BaseModel):
    """Sources stating one value (after normalisation)."""

    display: str
    key: str
    value: Value
    doc_ids: list[str]
    citations: list[int]
    independent_sources: int  # copies of one text count once
    entity_label: str | None = None
    # which of several things of the asked name this value belongs to (0, 1, …), when the sources describe
    # several; None otherwise (and for values read with too little confidence to count)
    entity: int | None = None
    attributed_to: list[str] = Field(default_factory=list)
    decisive: bool = True  # False: read with too little confidence to count in the comparison (listed only)
    confidence: float = 0.0  # the best reading confidence among its sources


class Comparison(BaseModel):
    """How the sources' values relate: ``agree``, ``vary`` (compatible estimates), ``conflict``,
    ``different_entities`` (same name, different things) or ``single`` (one source). A ``conflict`` whose
    groups carry more than one :attr:`ValueGroup.entity` is both: several things of that name, and
    sources that disagree about one of them. A ``different_entities`` comparison with no groups comes from
    sources that state no value but open on different things of the asked name
    (:func:`rag.compare.entity_split`); its ``message`` names them, source by source."""

    kind: str
    answer_type: str
    quantity: str  # the property as a label, in the question's language
    groups: list[ValueGroup]
    message: str


class Statement(BaseModel):
    """One sentence the LLM wrote, with the evidence numbers it cites and what the checks found."""

    text: str
    cites: list[int] = Field(default_factory=list)
    ok: bool = False  # every check passed: cites something, its figures/dates/names are in what it cites
    problems: list[str] = Field(default_factory=list)
    recited_from: list[int] = Field(default_factory=list)  # the model's own citations, when moved to the source that states it


class Answer(BaseModel):
    """Everything ``rag ask --json`` prints."""

    question: str
    answer: str
    language: str
    short_answer: str = ""  # the value(s) in a few words, without citations ("495; 612")
    answerable: bool
    backend: str
    answer_type: str = "text"
    intent: dict[str, Any] = Field(default_factory=dict)
    citations: list[Citation] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    readings: list[SourceReading] = Field(default_factory=list)
    comparison: Comparison | None = None
    conflicts: list[Comparison] = Field(default_factory=list)  # the comparison when sources differ
    flag: str | None = None  # a sentence when the sources differ
    flag_kind: str | None = None  # conflict | vary | different_entities
    notices: list[str] = Field(default_factory=list)
    validation: dict[str, Any] = Field(default_factory=dict)
    timings: dict[str, float] = Field(default_factory=dict)
    model: str | None = None
    statements: list[Statement] = Field(default_factory=list)  # the LLM's sentences and their checks
    prompt_tokens: int | None = None
    prompt_parts: dict[str, int] = Field(default_factory=dict)  # prompt tokens per part (system, question, ...)
    refusal_reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (what the CLI and the HTTP API print)."""
        return self.model_dump(mode="json")
