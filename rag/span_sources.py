"""Per-source reading with the span reader: what each source gives as the answer to a name or free-text
question ("What sport is the Hong Kong Open associated with?" → *golf* in one source, *tennis* in another).

The deterministic reader (:mod:`rag.reader`) ranks the capitalised names and noun phrases of a document;
answers that are neither ("a golf tournament", "violet colored", "News Talk Information") are often missed,
and then a source that says something different from the others is never noticed. Here every source that
names the asked entity is read by the extractive span reader (:mod:`rag.span_reader`) on its own: one
passage per source, the source's sentence most similar to the question with its neighbours, all sources
in one pass of the model. The best span that is not just the question's own words is the source's value;
how sure that reading is comes from a small logistic calibration (:func:`span_features`: the span's lead
over the model's "no answer here", the passage's similarity to the question, whether the deterministic
reader ranks the same name first, the span's length, the entity words the passage names), fitted on cross-fitted readings of
the RAMDocs tune part (``python -m rag.learn_sources``; setting ``answer.span.source_calibration``).

The values are exact spans of the document text, cited by the sentence they start in, and compared across
sources like any other reading (:mod:`rag.compare`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from rag.config import SpanSettings
from rag.intent import Intent
from rag.models import Document, SourceReading, Value
from rag.reader import LEADING_ARTICLE, DocumentReading, Sentence, addresses_a_model, attribution, repeats_question
from rag.span_reader import ALTERNATIVES, Span, grow_window, span_reader
from rag.text import fold
from rag.values import name_key

FEATURES = ("score", "sim_gap", "agrees", "words", "entity")  # what the calibration weighs (span_features)


def source_passage(text: str, sentences: list[Sentence], max_chars: int) -> tuple[int, int, float] | None:
    """The passage of one source the span reader reads: its sentence most similar to the question (text that
    addresses a language model aside) with as many neighbours as fit in ``max_chars``.

    Returns:
        ``(start, end, sim)`` in the document text with the best sentence's similarity, or None when the
        source has no readable sentence.
    """
    spans = sorted((s.start, s.end, s.sim) for s in sentences if not addresses_a_model(text[s.start:s.end]))
    if not spans:
        return None
    i = max(range(len(spans)), key=lambda k: spans[k][2])
    lo, hi = grow_window([(a, b) for a, b, _ in spans], i, max_chars)
    return spans[lo][0], spans[hi][1], spans[i][2]


def entity_share(intent: Intent, title: str, passage: str) -> float:
    """The share of the question's entity words (``intent.entity_tokens``) that the source's title and passage
    name (1.0 for a question that names no entity)."""
    if not intent.entity_tokens:
        return 1.0
    words = {fold(w) for w in re.findall(r"\w+", title + " " + passage)}
    return sum(1 for t in intent.entity_tokens if t in words) / len(intent.entity_tokens)


def span_features(span: Span, sim_gap: float, reading: SourceReading, entity: float) -> dict[str, float]:
    """What the calibration sees of one source's span.

    Args:
        span: the span (its ``score`` is its lead over the model's "no answer here").
        sim_gap: how far the passage's best sentence falls below the best retrieved sentence (≤ 0).
        reading: the deterministic reader's reading of the same source (the name it ranks first).
        entity: the share of the question's entity words the source's passage names (:func:`entity_share`).
    """
    key = name_key(span.text)
    agrees = bool(reading.value and reading.value.key and key and (reading.value.key in key or key in reading.value.key))
    return {"score": span.score, "sim_gap": sim_gap, "agrees": float(agrees),
            "words": math.log1p(len(span.text.split())), "entity": entity}


def span_confidence(features: dict[str, float], settings: SpanSettings) -> float:
    """The probability that a span is what its source gives as the answer: a logistic calibration
    (``answer.span.source_calibration``: a bias and a weight per feature of :func:`span_features`)."""
    w = settings.source_calibration
    z = w.get("bias", 0.0) + sum(w.get(k, 0.0) * v for k, v in features.items())
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def _sentence_of(sentences: list[Sentence], a: int, b: int) -> Sentence | None:
    """The sentence that holds the whole span ``[a, b)`` (a span across two sentences has none)."""
    return next((s for s in sentences if s.start <= a and b <= s.end), None)


def read_with_spans(work: list[DocumentReading], base: list[SourceReading], intent: Intent,
                    sentences: dict[str, list[Sentence]], best_sim: float, settings: SpanSettings,
                    floor: float) -> list[SourceReading]:
    """One reading per document from the span reader.

    Args:
        work: the prepared documents (:func:`rag.reader.prepare_documents`).
        base: the deterministic reader's readings of them (for whether a source names the entity).
        intent: the analysed question.
        sentences: every retrieved document's sentences with their similarity to the question.
        best_sim: the best similarity of any retrieved sentence to the question.
        settings: the span settings (passage size, how far below the best sentence a source's passage may
            fall and still be read, calibration).
        floor: the confidence a reading needs for its source to "say" it (``reader.min_confidence_name``).

    Returns:
        The readings, in the order of ``work``; a source that does not name the asked entity, has no
        readable passage or no span above ``floor`` does not say.
    """
    todo: list[tuple[int, int, int, float]] = []
    far: set[int] = set()
    for i, (d, r) in enumerate(zip(work, base, strict=True)):
        if not r.names_entity:
            continue
        found = source_passage(d.doc.text, sentences.get(d.doc.doc_id, []), settings.source_chars)
        if found is not None and settings.source_max_gap is not None and found[2] < best_sim - settings.source_max_gap:
            far.add(i)  # about the entity, but not about what is asked: such a passage yields some span anyway
        elif found is not None:
            todo.append((i, *found))
    out = [r.model_copy(update={"says": False, "value": None, "citation": None, "score": 0.0})
           if r.names_entity else r for r in base]
    for i in far:
        out[i] = out[i].model_copy(update={"confidence": 0.0, "reason": (
            f"its passage is further than answer.span.source_max_gap ({settings.source_max_gap}) below the "
            "question's best sentence")})
    if not todo:
        return out
    passages = [work[i].doc.text[a:b] for i, a, b, _ in todo]
    found_spans = span_reader(settings.adapter_path).read_many(intent.question, passages, top=ALTERNATIVES)
    options: dict[int, list[_Option]] = {}
    for (i, a, b, sim), spans in zip(todo, found_spans, strict=True):
        d, r = work[i], out[i]
        found = span_options(intent, d.doc, sentences.get(d.doc.doc_id, []), (a, b, sim), spans, best_sim,
                             base[i], settings)
        if not found:
            out[i] = r.model_copy(update={"confidence": 0.0, "reason": "the span reader finds no answer in it"})
            continue
        best = found[0]
        if best.confidence < floor:
            out[i] = r.model_copy(update={"confidence": best.confidence, "reason": (
                f"no span it states answers the question with confidence ≥ {floor} "
                f"(best {best.span.text!r}: {best.confidence:.2f})")})
            continue
        options[i] = found
        out[i] = _says(r, best, d.doc.text)
    _reconcile(out, options, settings.source_consensus_margin, floor, work)
    return out


@dataclass
class _Option:
    """One span a source's passage offers: the span, its sentence, the passage's offset in the document, what
    the calibration sees of it and its confidence."""

    span: Span
    sentence: Sentence
    offset: int
    features: dict[str, float]
    confidence: float

    def value(self) -> Value:
        text = self.span.text
        key = name_key(LEADING_ARTICLE.sub("", text)) or text.lower()
        return Value(kind="name", text=text, start=self.offset + self.span.start, end=self.offset + self.span.end,
                     key=key, display=text)


def span_options(intent: Intent, doc: Document, doc_sentences: list[Sentence], passage: tuple[int, int, float],
                 spans: list[Span], best_sim: float, reading: SourceReading, settings: SpanSettings) -> list[_Option]:
    """The spans the reader found in one source's passage that can be its value, best first: each lies within
    one sentence and is not only the question's own words, with its features and calibrated confidence.

    Args:
        passage: ``(start, end, sim)`` of the passage read (:func:`source_passage`).
        spans: the span reader's spans of that passage, best first.
        reading: the typed reader's reading of the same source (:func:`span_features`).
    """
    a, b, sim = passage
    entity = entity_share(intent, doc.title, doc.text[a:b])
    out: list[_Option] = []
    for sp in spans:
        sent = _sentence_of(doc_sentences, a + sp.start, a + sp.end)
        if sent is not None and repeats_question(sp.text, intent.question) < 1.0:
            feats = span_features(sp, sim - best_sim, reading, entity)
            out.append(_Option(sp, sent, a, feats, round(span_confidence(feats, settings), 4)))
    return out


def _says(r: SourceReading, o: _Option, text: str, confidence: float | None = None) -> SourceReading:
    p = o.confidence if confidence is None else confidence
    return r.model_copy(update={
        "says": True, "value": o.value(), "confidence": p, "score": p, "reason": None,
        "sentence_start": o.sentence.start, "sentence_end": o.sentence.end,
        "attributed_to": attribution(text[o.sentence.start:o.sentence.end])})


def _reconcile(out: list[SourceReading], options: dict[int, list[_Option]], margin: float, floor: float,
               work: list[DocumentReading]) -> None:
    """A source whose passage also offers what other sources say does not disagree with them: where one of
    its other spans, scored within ``margin`` of its best, is another source's value, it takes that value (the
    one the other sources back with the most confidence), with the lower of the two confidences. A source that
    never offers the other value (an altered copy, a page about another thing of that name) keeps its own."""
    from rag.compare import consensus_pick, same_value

    if margin <= 0:
        return
    chosen = {i: out[i] for i in options}
    for i, found in options.items():
        mine = chosen[i].value
        assert mine is not None
        others = [o for j, o in chosen.items() if j != i and o.value is not None and not same_value(o.value, mine)]
        k = consensus_pick([(opt.value(), opt.span.score) for opt in found], others, margin)
        if k is not None:
            opt = found[k]
            p = round(min(chosen[i].confidence, max(opt.confidence, floor)), 4)
            out[i] = _says(out[i], opt, work[i].doc.text, p)


def applies(settings: SpanSettings, answer_type: str) -> bool:
    """Whether sources are read with spans for a question of this answer type."""
    return settings.enabled and settings.per_source and answer_type in settings.source_types


__all__ = ["FEATURES", "applies", "entity_share", "read_with_spans", "source_passage", "span_confidence", "span_features",
           "span_options"]
