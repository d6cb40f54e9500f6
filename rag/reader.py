"""Per-source reading: for each retrieved document, the best value of the asked type that it states
about the asked entity and property, or "this source does not say".

A source is read sentence by sentence. A sentence counts by its similarity to the question (sentence
vectors from the index), by the question's property words near the candidate ("its *population* was
495") and by naming the asked entity. Candidates are typed values from :mod:`rag.values`, each an
exact span of the document text. Weights and thresholds are settings (``answer.reader``).
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from rag.config import ReaderSettings
from rag.intent import Intent, stopwords
from rag.messages import format_date, format_quantity
from rag.models import Document, SourceReading, Value
from rag.text import detect_language, fold, stem
from rag.values import DateValue, Quantity, find_date_values, find_quantities, name_key, resources


@dataclass
class Sentence:
    """A sentence of a retrieved document with its similarity to the question."""

    doc_id: str
    chunk_id: str
    start: int
    end: int
    sim: float
    chunk_start: int
    chunk_end: int


@dataclass
class Candidate:
    value: Value
    sentence: Sentence
    score: float


_TOKEN = re.compile(r"[\w][\w'’\-]*")


def _tokens(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), stem(fold(m.group(0)))) for m in _TOKEN.finditer(text)]


def document_sentences(retriever: Any, doc_ids: list[str], qv: np.ndarray) -> dict[str, list[Sentence]]:
    """All sentences of the given documents' chunks with their cosine to the question vector."""
    data = retriever.data
    by_doc = retriever.chunks_by_doc()
    starts = retriever._sent_start
    out: dict[str, list[Sentence]] = {}
    for d in doc_ids:
        seen: dict[int, Sentence] = {}
        for ci in by_doc.get(d, []):
            c = data.chunks[ci]
            a, b = int(starts[ci]), int(starts[ci + 1])
            sims = data.sentence_vectors[a:b] @ qv if b > a and data.sentence_vectors is not None else None
            for j, s in enumerate(c.sentences):
                sim = float(sims[j]) if sims is not None and j < len(sims) else float(data.chunk_vectors[ci] @ qv)
                if s.start not in seen or seen[s.start].sim < sim:
                    seen[s.start] = Sentence(d, c.chunk_id, s.start, s.end, sim, c.start, c.end)
        out[d] = sorted(seen.values(), key=lambda s: s.start)
    return out


# ---------------------------------------------------------------- entity


def entity_matches(intent_tokens: list[str], doc: Document, vocabulary: set[str] | None) -> tuple[int, int]:
    """``(matched, needed)``: how many of the question's entity tokens the document names.

    Only tokens that occur somewhere in the corpus are needed: a name the archive never spells that way
    (an English exonym over German articles) cannot decide about-ness.
    """
    words = {stem(fold(w)) for w in _TOKEN.findall(doc.title + " " + doc.text)}
    raw = {fold(w) for w in _TOKEN.findall(doc.title + " " + doc.text)}
    needed = matched = 0
    for tok in intent_tokens:
        st = stem(tok)
        if vocabulary is not None and st not in vocabulary and tok not in vocabulary:
            continue
        needed += 1
        if tok.isdigit():
            matched += bool(re.search(rf"(?<![\d.,]){tok}(?![\d]|[.,]\d)", doc.title + " " + doc.text))
        elif st in words or tok in raw or (len(tok) >= 4 and any(tok in w for w in raw)):
            matched += 1
    return matched, needed


def entity_label(intent: Intent, doc: Document) -> str | None:
    """How the document names the asked entity: the capitalised name around its first mention, with a
    bracketed qualifier ("Furna (Brava)", "Achada Furna", "Xavier Rodriguez")."""
    if not intent.entity_tokens:
        return None
    text = (doc.title + "\n" + doc.text) if doc.title else doc.text
    low = fold(text)
    pos = -1
    for tok in intent.entity_tokens:
        if tok.isdigit():
            continue
        m = re.search(r"(?<![\w])" + re.escape(tok), low)
        if m and (pos < 0 or m.start() < pos):
            pos = m.start()
    if pos < 0:
        return None
    # extend over neighbouring capitalised words (and "of", "de", initials)
    nums = "|".join(re.escape(t_) for t_ in intent.entity_tokens if t_.isdigit())
    words = list(re.finditer(r"[A-ZÄÖÜ][\w'’\-]*\.?|(?<=\s)(?:of|de|da|del|von|van|der|la|le)(?=\s)"
                             + (rf"|(?<![\w.])(?:{nums})(?![\w])" if nums else ""), text))
    idx = next((i for i, m in enumerate(words) if m.start() <= pos < m.end() + 1), None)
    if idx is None:
        return None
    a = b = idx
    while a > 0 and text[words[a - 1].end():words[a].start()] in (" ", "\u00a0") and b - a < 4:
        a -= 1
    while b + 1 < len(words) and text[words[b].end():words[b + 1].start()] in (" ", "\u00a0") and b - a < 5:
        b += 1
    label = text[words[a].start():words[b].end()]
    paren = re.match(r"\s*\(([^()]{2,40})\)", text[words[b].end():])
    if paren:
        label += f" ({paren.group(1).strip()})"
    parts = label.split()
    half = len(parts) // 2
    if half and parts[:half] == parts[half:2 * half]:  # "Achada Furna Achada Furna" (title then text)
        label = " ".join(parts[:half])
    return label.strip(" .,;:")


# ---------------------------------------------------------------- candidates


def _property_score(tokens: list[tuple[int, int, str]], a: int, b: int, props: set[str]) -> float:
    """1/(1+distance in words) to the nearest property word of the question (0 if none is in the sentence)."""
    if not props:
        return 0.0
    best = 0.0
    idx_a = next((i for i, t in enumerate(tokens) if t[1] > a), len(tokens))
    idx_b = next((i for i, t in enumerate(tokens) if t[0] >= b), len(tokens))
    for i, (_, _, w) in enumerate(tokens):
        if w in props or any(len(p) >= 5 and (w.startswith(p) or p.startswith(w)) and len(w) >= 5 for p in props):
            if idx_a <= i < idx_b:
                continue
            dist = idx_a - i if i < idx_a else i - idx_b + 1
            best = max(best, 1.0 / (1 + max(0, dist - 1)))
    return best


def _event_groups() -> list[tuple[str, set[str]]]:
    return [(name, {fold(w)[:6] for w in words}) for name, words in resources()["event_groups"].items()]


def event_of(word: str) -> str | None:
    """The event a word names ("unterzeichneten" -> signing), by its first six letters."""
    f = fold(word)[:6]
    for name, prefixes in _event_groups():
        if f in prefixes:
            return name
    return None


def _event_score(text: str, asked: set[str]) -> float:
    """+1 if the sentence names the event the question asks about, -1 if it names only other events
    ("signed" when asked "entered into force"), 0 if it names none."""
    found = {event_of(w) for w in _TOKEN.findall(text)} - {None}
    if not asked or not found:
        return 0.0
    return 1.0 if found & asked else -1.0


def _quantity_value(q: Quantity, base: int, lang: str) -> Value:
    high = None if math.isinf(q.high) else q.high
    key = f"{q.dimension}:{q.unit if q.dimension == 'money' else ''}:{q.base:g}"
    return Value(kind="quantity", text=q.text, start=base + q.start, end=base + q.end, key=key,
                 display=format_quantity(q.value, q.low, q.high, q.qualifier, q.unit, q.dimension, lang, q.increment),
                 number=q.base, low=q.base_low, high=None if high is None else q.base_high, unit=q.unit,
                 dimension=q.dimension, qualifier=q.qualifier, increment=q.increment)


def _date_value(d: DateValue, base: int, lang: str, which: str | None) -> Value:
    iso, text, a, b = d.iso, d.text, d.start, d.end
    if which and "/" in iso:  # a life span: born is its start, died its end
        left, right = iso.split("/", 1)
        sep = re.search(r"\s*(?:[-–—]|to|bis|until)\s*", text)
        if sep:
            if which == "start":
                iso, text, b = left, text[:sep.start()], a + sep.start()
            else:
                iso, text, a = right, text[sep.end():], a + sep.end()
    return Value(kind="date", text=text, start=base + a, end=base + b, key=iso, display=format_date(iso, lang, d.qualifier),
                 qualifier=d.qualifier)


_NAME = re.compile(r"(?<![\w])(?:[A-ZÄÖÜ][\w'’\-]*\.?)(?:\s+(?:(?:of|de|da|del|von|van|der|den|du|la|le|and|the|y)\s+)*"
                   r"[A-ZÄÖÜ][\w'’\-]*\.?)*")


_DE_ARTICLE = re.compile(r"(?:^|\s)(?:der|die|das|den|dem|des|ein|eine|einen|einem|einer|eines|im|am|vom|zum|zur|beim|"
                         r"kein|keine|seine|ihre|dieser|diese|dieses)\s+$", re.I)


def _name_candidates(text: str, intent: Intent, german: bool = False, doc_text: str = "") -> list[tuple[int, int, str]]:
    """Capitalised names and quoted titles in a sentence that are not the asked entity itself. In German,
    where every noun is capitalised, a word after an article is a noun, not a name ("die Stadt Brünn")."""
    out = []
    ent = set(intent.entity_tokens)
    stop = stopwords()
    for m in _NAME.finditer(text):
        span = m.group(0).rstrip(".")
        words = [fold(w) for w in re.findall(r"[\w']+", span)]
        content = [w for w in words if w not in stop]
        if not content or all(w in ent or stem(w) in {stem(e) for e in ent} for w in content):
            continue
        a = m.start()
        if german:
            parts = span.split()
            while parts and (_DE_ARTICLE.search(text[:a]) or a == 0):
                a += len(parts[0]) + 1
                parts = parts[1:]
            span = " ".join(parts)
            if not span:
                continue
            if len(parts) == 1 and re.search(r"\b(?:der|die|das|den|dem|des|ein|eine|einen|einem|einer|eines)\s+"
                                             r"(?:[a-zäöüß][\w\-]*\s+){0,3}"
                                             + re.escape(span) + r"\b", doc_text):
                continue  # used with an article somewhere in the document: a noun
        out.append((a, a + len(span), span))
    for m in re.finditer(r"[\"“„«]([^\"”“«»]{2,60})[\"”“»]", text):
        out.append((m.start(1), m.end(1), m.group(1)))
    return out


def _phrase_candidates(text: str, intent: Intent) -> list[tuple[int, int, str]]:
    """Lower-case answers ("basketball", "politician"): the noun phrase after "is a/an/was a"."""
    out = []
    for m in re.finditer(r"\b(?:is|was|are|were|ist|war)\s+(?:an?|the|ein|eine|einer)\s+((?:[\w\-]+\s+){0,3}?[\w\-]+)"
                         r"(?=\s+(?:who|which|that|from|in|of|for|with|and|der|die|das|aus|in)\b|[,.;]|$)", text):
        out.append((m.start(1), m.end(1), m.group(1)))
    return out


def read_source(doc: Document, sentences: list[Sentence], intent: Intent, settings: ReaderSettings,
                lang: str, vocabulary: set[str] | None, best_sim: float = 0.0) -> SourceReading:
    """Read one document for the asked value.

    Args:
        doc: the document.
        sentences: its retrieved sentences with their question similarity.
        intent: the analysed question.
        settings: reader weights and thresholds.
        lang: the question's language (for how values are shown).
        vocabulary: corpus tokens (entity tokens absent from the corpus are not required).
        best_sim: the best question similarity of any retrieved sentence; a value whose sentence is more
            than ``settings.sentence_margin`` below it counts only if a property word stands near it.

    Returns:
        The reading; ``says`` is False with a ``reason`` when the source does not state a value of the asked
        type about the asked entity (and ``names_entity`` is False when it never names that entity).
    """
    reading = SourceReading(doc_id=doc.doc_id, title=doc.title, date=doc.date, source=doc.source)
    matched, needed = entity_matches(intent.entity_tokens, doc, vocabulary)
    reading.entity_label = entity_label(intent, doc)
    if needed and matched < needed - min(settings.entity_misses_allowed, needed - 1):
        reading.reason = "does not name " + (intent.entity or "the asked entity")
        reading.names_entity = False
        return reading
    props = set(intent.property_words)
    if intent.counted:
        props.add(stem(fold(intent.counted)))
    counted = stem(fold(intent.counted)) if intent.counted else None
    excluded = set(intent.excluded)
    r = resources()
    life_words = {fold(w) for w in r["life_events"]["start"] + r["life_events"]["end"]}
    asked_events = {e for w in _TOKEN.findall(intent.question) if (e := event_of(w))}
    asked_stems = {stem(fold(w)) for s in sentences for w in _TOKEN.findall(doc.text[s.start:s.end])
                   if event_of(w) in asked_events} if asked_events else set()
    cands: list[Candidate] = []
    for s in sentences:
        text = doc.text[s.start:s.end]
        toks = _tokens(text)
        ent_in_sentence = any(tok in fold(text) for tok in intent.entity_tokens if not tok.isdigit())
        base_score = s.sim + (settings.entity_weight if ent_in_sentence else 0.0)
        slang = detect_language(text)
        slang = slang if slang in ("de", "en") else (doc.language if doc.language in ("de", "en") else "en")
        found: list[tuple[Value, float]] = []
        if intent.answer_type == "quantity":
            for q in find_quantities(text, slang):
                if f"{q.value:g}" in excluded:
                    continue
                if intent.dimension and q.dimension != intent.dimension:
                    continue
                extra = settings.property_weight * _property_score(toks, q.start, q.end, props)
                if counted:
                    after = _tokens(text[q.end:q.end + 40])[:3]
                    if any(w == counted or (len(w) >= 5 and (w.startswith(counted[:5]))) for _, _, w in after):
                        extra += settings.counted_weight
                if q.maybe_year:
                    extra -= settings.year_penalty
                if q.qualifier == "vague":
                    extra -= settings.vague_penalty
                if intent.increment and not q.increment:
                    continue  # asked for an addition: a total does not answer it
                if q.increment and not intent.increment:
                    extra -= settings.increment_penalty
                found.append((_quantity_value(q, s.start, lang), extra))
        elif intent.answer_type == "date":
            for d in find_date_values(text):
                which = intent.life_event if "/" in d.iso and d.precision == "range" and _is_life_span(text, d) else None
                v = _date_value(d, s.start, lang, which)
                if v.key in excluded or v.key.split("-")[0] in excluded and len(v.key) == 4:
                    continue
                ev = _event_score(text, asked_events)
                if ev < 0:
                    continue  # the sentence dates another event ("signed" when asked "entered into force")
                extra = settings.property_weight * _property_score(toks, d.start, d.end, props)
                if ev > 0:
                    extra += settings.property_weight * (1 + _property_score(toks, d.start, d.end, asked_stems))
                if intent.life_event and which:
                    extra += settings.property_weight
                elif intent.life_event and props & life_words and not extra:
                    extra -= settings.property_weight / 2
                found.append((v, extra))
        else:
            spans = _name_candidates(text, intent, german=slang == "de", doc_text=doc.text)
            if intent.answer_type in ("name", "text") or not spans:
                spans += _phrase_candidates(text, intent)
            for a, b, span in spans:
                near = _property_score(toks, a, b, props)
                if props and near < 0.5:
                    continue  # a name counts only next to what was asked ("artist", "born in", "river")
                extra = settings.property_weight * near
                if intent.answer_type == "person" and len(span.split()) >= 2:
                    extra += settings.entity_weight
                if intent.answer_type == "place" and re.search(r"\b(?:in|at|near|bei|nahe)\s+$", text[max(0, a - 6):a]):
                    extra += settings.entity_weight
                key = name_key(span)
                found.append((Value(kind="name", text=span, start=s.start + a, end=s.start + b, key=key, display=span),
                              extra))
        for v, extra in found:
            cands.append(Candidate(v, s, base_score + extra))
    if not cands:
        reading.reason = "states no value of the asked type"
        return reading
    cands.sort(key=lambda c: -c.score)
    best = cands[0]
    if best.sentence.sim < best_sim - settings.sentence_margin and best.score - best.sentence.sim <= settings.entity_weight:
        reading.reason = "its sentences with such values are not about the question"
        return reading
    reading.says = True
    reading.value = best.value
    reading.score = round(best.score, 4)
    reading.sentence_start, reading.sentence_end = best.sentence.start, best.sentence.end
    reading.attributed_to = attribution(doc.text[best.sentence.start:best.sentence.end])
    return reading


def _is_life_span(text: str, d: DateValue) -> bool:
    """A bracketed range right after a name, "(November 8, 1947 – November 10, 2017)", or one marked born/died."""
    before = text[max(0, d.start - 2):d.start]
    return "(" in before or bool(re.search(r"\b(?:born|died|b\.|d\.|geb\.|gest\.)", text, re.I))


@functools.lru_cache(maxsize=1)
def _attribution_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    r = resources()
    alt = "|".join(re.escape(w) for w in sorted(r["attribution_before"], key=len, reverse=True))
    before = re.compile(rf"\b(?:{alt})\s+(?P<who>(?:the |der |die |das |dem |den )?[^,.;:()]{{2,60}}?)"
                        r"(?=,|\.|;|:| (?:hat|habe|haben|sind|seien|sei|wurden?|have|has|were|was|had|is)\b|$)", re.I)
    alt2 = "|".join(re.escape(w) for w in sorted(r["attribution_after"], key=len, reverse=True))
    after = re.compile(r"(?:^|[,;]\s*)(?P<who>(?:[Tt]he |[Dd]er |[Dd]ie |[Dd]as )?[A-ZÄÖÜ][^,.;:()]{2,60}?)"
                       rf"\s+(?:{alt2})\b")
    return before, after


def attribution(sentence: str) -> str | None:
    """Who the sentence says gave its figure: "according to X", "laut X", "X said", "X zufolge"."""
    before, after = _attribution_patterns()
    m = before.search(sentence) or after.search(sentence)
    if not m:
        return None
    who = m.group("who").strip()
    return who if len(who.split()) <= 8 else None
