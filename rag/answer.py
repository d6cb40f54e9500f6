"""Grounded answering: question → intent → retrieve → read each source → compare → compose → validate.

Every stage but phrasing is deterministic. The optional LLM phrases the verified draft; its answer is
accepted only if its citations, figures and names pass :func:`rag.validate.validate_citations`.

Rooms: :mod:`rag.intent` (question analysis), :mod:`rag.reader` (per-source reading),
:mod:`rag.values` (normalisation), :mod:`rag.compare` (across sources), :mod:`rag.compose` (the text),
:mod:`rag.validate` (citations), :mod:`rag.messages` (every sentence in both languages).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rag import span_sources
from rag.compare import OPENING_CHARS, compare, entity_split
from rag.compose import compose, refusal
from rag.config import SpanSettings
from rag.errors import LLMError, RagError
from rag.intent import Intent, analyse
from rag.messages import t
from rag.models import Answer, Citation, Comparison, Evidence, SourceReading
from rag.phrase import phrase_with_llm
from rag.reader import (
    DocumentReading,
    Sentence,
    addresses_a_model,
    decide,
    document_sentences,
    prepare_documents,
    repeats_question,
)
from rag.retrieval import Filters
from rag.span_reader import ALTERNATIVES, Span, grow_window, span_reader
from rag.text import detect_language
from rag.text import question_language as detect_question_language
from rag.validate import validate_citations

TokenCallback = Callable[[str], None]

__all__ = ["Answer", "Evidence", "ask", "check_question", "question_language", "validate_citations"]


def question_language(q: str) -> str:
    """``de`` or ``en`` (other languages are answered in English)."""
    lang = detect_question_language(q)
    return lang if lang in ("de", "en") else "en"


def check_question(q: str, limit: int) -> str:
    """Normalise and validate a question.

    Raises:
        RagError: empty, punctuation-only or too long.
    """
    if any(0xD800 <= ord(c) <= 0xDFFF for c in q):
        raise RagError("the question holds an unpaired UTF-16 surrogate (invalid Unicode text)")
    q = " ".join("".join(c if c.isprintable() or c.isspace() else " " for c in q).split())
    if not q or not any(c.isalnum() for c in q):
        raise RagError("the question is empty (it needs at least one letter or digit)")
    if len(q) > limit:
        raise RagError(f"the question is {len(q)} characters, over the limit of {limit} (setting answer.max_question_chars)")
    return q


# ---------------------------------------------------------------- reading the sources


@dataclass
class Gathered:
    """What retrieval and the reader's preparation produced for one question (before any decision)."""

    intent: Intent
    lang: str
    kind: str
    work: list[DocumentReading]
    sentences: dict[str, list[Sentence]]
    hit_chunks: set[str]
    best_sim: float
    documents: dict[str, Any]
    best_same_language: float = 0.0  # best_sim among sentences whose document is in the question's language
    best_other_language: float = 0.0  # best_sim among the others


def gather(engine: Any, intent: Intent, k: int, filters: Filters | None, lang: str,
           embed: Callable[[Any], Any] | None = None) -> Gathered:
    """Retrieve, and prepare every retrieved document (up to ``answer.reader.max_sources``) for reading.
    ``embed`` embeds the candidates' clauses (default: the engine's model, with its in-memory cache)."""
    settings = engine.settings.answer
    retr = engine.retriever
    qv = engine.embedder.embed_queries([intent.question])[0]
    hits = retr.search(intent.question, k=k, filters=filters, query_vector=qv)
    data = retr.data
    doc_ids = list(dict.fromkeys(h.doc_id for h in hits))[: settings.reader.max_sources]
    sentences = document_sentences(retr, doc_ids, qv)
    hit_chunks = {h.chunk_id for h in hits}
    best = {True: 0.0, False: 0.0}  # the best similarity of a retrieved sentence, by "in the question's language"
    for d, ss in sentences.items():
        same = data.documents[d].language == lang
        best[same] = max([best[same]] + [s.sim for s in ss if s.chunk_id in hit_chunks])
    best_sim = max(best.values())
    kind, work = prepare_documents([data.documents[d] for d in doc_ids], sentences, intent, settings.reader, lang,
                                   retr.idf, best_sim, qv, embed or engine.embed_clauses,
                                   engine.embedder.embed_queries)
    return Gathered(intent, lang, kind, work, sentences, hit_chunks, best_sim, data.documents, best[True], best[False])


def answerability(g: Gathered, settings: Any) -> str | None:
    """Whether the best evidence is similar enough to the question to answer it at all: ``None`` if so, else the
    reason. A sentence in another language than the question needs ``min_score``; one in the question's own
    language needs ``min_score_same_language``, since the embedding model rates a sentence and its translation
    lower than the sentence and itself (see the README's XQuAD figures)."""
    other = g.best_other_language
    if other >= settings.min_score or g.best_same_language >= settings.min_score_same_language:
        return None
    if g.best_same_language >= other:
        return (f"best evidence similarity {g.best_same_language:.3f} < answer.min_score_same_language "
                f"{settings.min_score_same_language} (question and source in {g.lang})")
    return f"best evidence similarity {other:.3f} < answer.min_score {settings.min_score}"


def read_sources(g: Gathered, settings: Any,
                 reader: Callable[[], list[SourceReading]] | None = None) -> tuple[list[SourceReading], list[Evidence]]:
    """Decide what every prepared document says and number the evidence.

    Args:
        g: the gathered sources.
        settings: the answer settings.
        reader: another way to decide (the LLM reader); default the deterministic one.

    Returns:
        ``(readings, evidence)``; evidence starts with the sentences that state the readings' values
        (most confident first), then the most similar other sentences.
    """
    readings = reader() if reader else decide(g.work, g.kind, settings.reader)
    by_key: dict[tuple[str, int], Sentence] = {(d, s.start): s for d, ss in g.sentences.items() for s in ss}
    chosen: list[tuple[str, int]] = []
    for r in sorted((r for r in readings if r.says), key=lambda r: -r.score):
        chosen.append((r.doc_id, r.sentence_start or 0))
    if not chosen:  # nobody says: the sentences that hold the likeliest values come first
        best = [(max(d.candidates, key=lambda c: c.choice), r) for d, r in zip(g.work, readings, strict=True)
                if d.candidates]
        for c, r in sorted(best, key=lambda cr: -cr[1].confidence)[:2]:
            chosen.append((r.doc_id, c.sentence.start))
    rest = sorted((s for ss in g.sentences.values() for s in ss if s.chunk_id in g.hit_chunks), key=lambda s: -s.sim)
    for s in rest:
        if len(chosen) >= settings.max_evidence:
            break
        if addresses_a_model(g.documents[s.doc_id].text[s.start:s.end]):
            continue  # text that tries to instruct a model is never evidence
        if (s.doc_id, s.start) not in chosen and s.sim >= g.best_sim - 0.1:
            chosen.append((s.doc_id, s.start))
    evidence = []
    for n, key in enumerate(chosen, start=1):
        s = by_key[key]
        doc = g.documents[key[0]]
        evidence.append(Evidence(n=n, doc_id=doc.doc_id, chunk_id=s.chunk_id, title=doc.title, date=doc.date,
                                 source=doc.source, quote=doc.text[s.start:s.end], start=s.start, end=s.end,
                                 score=round(s.sim, 4), chunk_start=s.chunk_start, chunk_end=s.chunk_end))
    cite = {(e.doc_id, e.start): e.n for e in evidence}
    for r in readings:
        if r.says:
            r.citation = cite.get((r.doc_id, r.sentence_start or 0))
    return readings, evidence


# ---------------------------------------------------------------- the pipeline


def ask(engine: Any, question: str, llm: str | None = None, k: int | None = None, filters: Filters | None = None,
        on_token: TokenCallback | None = None, on_evidence: Callable[[Answer], None] | None = None,
        llm_model: str | None = None) -> Answer:
    """Answer a question from the index with a typed value per source and validated citations.

    Args:
        engine: an open :class:`rag.engine.Engine`.
        question: the question (German or English; other languages get English answers).
        llm: ``none`` | ``ollama`` | ``llamacpp`` (default from settings).
        k: passages to retrieve (default ``max(retrieval.k, 10)``).
        filters: retrieval filters.
        on_token: called with each piece of the answer as it is produced.
        on_evidence: called once with the partial answer (evidence, readings, comparison, flag) before any
            LLM work starts, so interfaces can show them at once.
        llm_model: the Ollama model for this call only (default ``llm.ollama_model``).

    Returns:
        An :class:`~rag.models.Answer`; on LLM failure the extractive answer with a notice.
    """
    t0 = time.perf_counter()
    settings = engine.settings
    question = check_question(question, settings.answer.max_question_chars)
    backend_name = llm or settings.llm.backend
    if backend_name not in ("none", "ollama", "llamacpp"):
        raise RagError(f"--llm {backend_name}: choose none, ollama or llamacpp")
    lang = question_language(question)
    notices: list[str] = []
    if detect_language(question) not in ("de", "en", "und"):
        notices.append(t("en", "unsupported_lang"))
    intent = analyse(question)
    g = gather(engine, intent, max(k or settings.retrieval.k, 10), filters, lang)
    return answer_from(engine, g, backend_name, notices, t0, on_token, on_evidence, llm_model)


def answer_from(engine: Any, g: Gathered, backend_name: str = "none", notices: list[str] | None = None,
                t0: float | None = None, on_token: TokenCallback | None = None,
                on_evidence: Callable[[Answer], None] | None = None, llm_model: str | None = None,
                phrase: bool = True) -> Answer:
    """The rest of :func:`ask` once the sources are gathered: read, compare, compose, validate (and phrase
    with the LLM unless ``phrase`` is False). Evaluation calls it again on one gathering with other reader
    settings."""
    t0 = time.perf_counter() if t0 is None else t0
    settings = engine.settings
    intent, lang, question = g.intent, g.lang, g.intent.question
    notices = list(notices or [])
    reader = None
    used: dict[str, bool] = {"spans": False}  # whether the sources' values were read as spans (rag/span_sources.py)
    if settings.answer.reader.llm and backend_name != "none":
        reader = _llm_reader(engine, g, backend_name, llm_model, notices)
    elif span_sources.applies(settings.answer.span, intent.answer_type):
        reader = _span_reader(g, settings.answer, used)
    readings, evidence = read_sources(g, settings.answer, reader)
    spans = used["spans"]
    t_read = time.perf_counter()
    quotes = {r.doc_id: next((e.quote for e in evidence if e.n == r.citation), "") for r in readings if r.says}
    texts = {r.doc_id: g.documents[r.doc_id].text for r in readings if r.says and r.doc_id in g.documents}
    comparison = compare(readings, intent, lang, quotes, _flag_bars(settings.answer, spans), texts)
    typed = intent.answer_type in ("quantity", "date")
    if (comparison is None or comparison.kind in ("single", "agree")) and not typed:
        # sources that open on different things of the asked name ("Transit of Venus (album)", "(opera)") differ,
        # whether none of them states a value or only those about one of the things do
        openings = {d: (doc.title + " " + doc.text[:OPENING_CHARS]) for d, doc in g.documents.items()}
        comparison = entity_split(readings, evidence, intent, lang, openings) or comparison

    reason = answerability(g, settings.answer) if evidence else "no evidence retrieved"
    answerable = reason is None
    if answerable and readings and not any(r.names_entity for r in readings):
        answerable, reason = False, f"no retrieved source names {intent.entity}"
    if answerable and typed and comparison is None:
        answerable, reason = False, f"no source states a {intent.answer_type} for {intent.property_text or 'the question'}"
    floor = settings.answer.reader.answer_floor
    if answerable and typed and comparison is not None and max(r.confidence for r in readings if r.says) < floor:
        answerable, reason = False, (f"no source states a {intent.answer_type} for {intent.property_text or 'the question'} "
                                     f"with confidence ≥ answer.reader.answer_floor {floor}")
    flag_kind = comparison.kind if comparison and comparison.kind in ("vary", "conflict", "different_entities") else None
    answer = Answer(question=question, answer="", language=lang, answerable=answerable, backend="extractive",
                    answer_type=intent.answer_type, intent=intent.model_dump(), evidence=evidence, readings=readings,
                    comparison=comparison if answerable else None,
                    conflicts=[comparison] if answerable and comparison and flag_kind else [],
                    flag=comparison.message if answerable and comparison and flag_kind else None,
                    flag_kind=flag_kind if answerable else None, notices=notices, refusal_reason=reason)
    if on_evidence:
        on_evidence(answer)
    if not answerable:
        answer.answer = refusal(intent, lang, evidence, typed)
        if on_token:
            on_token(answer.answer)
    else:
        extractive = compose(intent, comparison, evidence, lang)
        answer.answer = extractive
        # the span reader stands in for the deterministic reader's short answer (where it did not read the
        # sources itself), not for the LLM reader's
        by_llm = settings.answer.reader.llm and backend_name != "none"
        answer.short_answer = short_answer(g, comparison, readings, evidence,
                                           None if spans or by_llm else settings.answer.span)
        if backend_name != "none" and phrase:
            phrase_with_llm(engine, answer, backend_name, extractive, comparison, on_token, llm_model)
        elif on_token:
            on_token(extractive)
    cleaned, report = validate_citations(answer.answer, evidence, lang, None if answerable else answer.answer)
    answer.answer = cleaned
    answer.validation = report
    cited = set(report["cited"])
    answer.citations = [Citation(**e.model_dump(include=set(Citation.model_fields))) for e in evidence if e.n in cited]
    answer.timings["read_ms"] = round((t_read - t0) * 1000, 1)
    answer.timings["total_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    return answer


def short_answer(g: Gathered, comparison: Comparison | None, readings: list[SourceReading],
                 evidence: list[Evidence] | None = None, span: SpanSettings | None = None) -> str:
    """The answer in a few words. For the answer types the span reader takes (``answer.span.types``): the
    best span it finds in the first evidence passages, where it finds one; otherwise the values the sources
    state (decisive ones first), else the clause around the likeliest value."""
    copied = span_answer(g, evidence or [], span) if span is not None else None
    if copied is not None:
        return copied.text
    if comparison is not None and comparison.groups:
        return "; ".join(gr.display for gr in comparison.groups if gr.decisive) or comparison.groups[0].display
    best = [(max(d.candidates, key=lambda c: c.choice), r.confidence) for d, r in zip(g.work, readings, strict=True)
            if d.candidates]
    if best:
        return max(best, key=lambda cr: cr[1])[0].window
    return ""


def passage_around(g: Gathered, e: Evidence) -> str:
    """The evidence sentence with its neighbours in the document, up to the span reader's passage size."""
    text = g.documents[e.doc_id].text
    spans = sorted((s.start, s.end) for s in g.sentences.get(e.doc_id, []))
    if (e.start, e.end) not in spans:
        return text[e.start:e.end]
    lo, hi = grow_window(spans, spans.index((e.start, e.end)))
    return text[spans[lo][0]:spans[hi][1]]


def span_answer(g: Gathered, evidence: list[Evidence], settings: SpanSettings) -> Span | None:
    """The span reader's best answer span in the first ``settings.passages`` evidence passages (each
    evidence sentence with its neighbours; one passage per document), or None where the question's type is
    not one it answers or the best span's score falls below ``settings.min_score``. A span made only of
    the question's own words ("Putin" for "Whom did Putin thank?") is never the answer: the next best one of
    the passage is taken."""
    if not settings.enabled or g.intent.answer_type not in settings.types or not evidence:
        return None
    reader = span_reader(settings.adapter_path)
    best: Span | None = None
    docs: set[str] = set()
    for e in evidence:
        if len(docs) >= settings.passages:
            break
        if e.doc_id in docs:
            continue
        docs.add(e.doc_id)
        for found in reader.read(g.intent.question, passage_around(g, e), e.n, top=ALTERNATIVES):
            if repeats_question(found.text, g.intent.question) < 1.0:
                if best is None or found.score > best.score:
                    best = found
                break
    if best is None or (settings.min_score is not None and best.score < settings.min_score):
        return None
    return best


def _flag_bars(settings: Any, spans: bool) -> Any:
    """The reader settings the comparison uses: with the sources read as spans, the name bars are the span
    reader's own (``answer.span.source_*flag_confidence``), since its confidences are calibrated apart."""
    r = settings.reader
    if not spans:
        return r
    return r.model_copy(update={
        "flag_floor": settings.span.source_flag_floor,
        "flag_confidence_by_type": {**r.flag_confidence_by_type, "name": settings.span.source_flag_confidence},
        "relative_flag_confidence_by_type": {**r.relative_flag_confidence_by_type,
                                             "name": settings.span.source_relative_flag_confidence}})


def _span_reader(g: Gathered, settings: Any, used: dict[str, bool]) -> Callable[[], list[SourceReading]]:
    """The span reader as a ``read_sources`` hook: every source's value read as a span
    (:mod:`rag.span_sources`), unless no source's span reaches ``answer.span.source_flag_floor``: then the span
    reader is unsure of them all and the typed reader's reading stands (``used["spans"]`` says which)."""

    def run() -> list[SourceReading]:
        base = decide(g.work, g.kind, settings.reader)
        read = span_sources.read_with_spans(g.work, base, g.intent, g.sentences, g.best_sim, settings.span,
                                            settings.span.source_min_confidence)
        if not any(r.says and r.confidence >= settings.span.source_flag_floor for r in read):
            return base
        used["spans"] = True
        return read

    return run


def _llm_reader(engine: Any, g: Gathered, backend_name: str, llm_model: str | None,
                notices: list[str]) -> Callable[[], list[SourceReading]]:
    """The LLM per-source reader as a ``read_sources`` hook; on failure the deterministic reading, with a notice."""
    from rag.llm import backend_for
    from rag.llm_reader import read_with_llm

    backend = backend_for(engine.settings.llm, backend_name, llm_model)

    def run() -> list[SourceReading]:
        try:
            backend.check()
            return read_with_llm(g.work, g.kind, g.intent.question, backend, engine.settings.answer.reader,
                                 g.sentences)
        except LLMError as exc:
            notices.append(t(g.lang, "llm_fallback", error=exc))
            return decide(g.work, g.kind, engine.settings.answer.reader)

    return run
