"""Cloze training pairs for the span reader, made from unlabelled text (no question was written by anyone).

A span of a sentence — a noun phrase, an amount or a date, found by the same readers the answer layer uses —
becomes the answer; the question is a question word for its kind ("When", "Wie viele", "What") followed by
the sentence's other words near the span, a quarter of the content words dropped, so the question does not
copy its passage. The passage is the sentence with its neighbours, as the reader sees it
(:func:`rag.learn_span.window_of`). Where a text comes with its translation (XQuAD's parallel paragraphs), a
span found verbatim once in the translation also yields a cross-lingual pair: the question from one language,
the passage from the other.

Used by ``python -m rag.learn_span --cloze`` (tune parts only; off by default, as it measured worse on the
validation articles: see :mod:`rag.learn_span`); the question words are a language resource
(``cloze_question_words`` in ``rag/resources/language.yaml``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from typing import Any

from rag.intent import stopwords
from rag.syntax import noun_phrases, word_tags
from rag.text import fold, split_sentences
from rag.values import find_date_values, find_quantities, resources

MIN_WORDS, MAX_WORDS = 5, 45  # sentences read for pairs
MAX_ANSWER_WORDS = 6
CONTEXT_WORDS = 10  # words kept either side of the answer
DROP = 0.25  # share of content words dropped from a question
_TRIM = ".,;:!?\"“”„»«()[]"
NAME_TAGS = frozenset({"NE", "NP0"})  # proper nouns (STTS, BNC C5)


def answer_spans(sentence: str, lang: str) -> list[tuple[int, int, str]]:
    """Candidate answers of one sentence as ``(start, end, kind)``; kind is ``quantity``, ``date``,
    ``person`` (two or more proper nouns) or ``thing`` (any other noun phrase of at most
    :data:`MAX_ANSWER_WORDS` words), each span once. Years count as dates, not quantities."""
    out = [(q.start, q.end, "quantity") for q in find_quantities(sentence, lang) if not q.maybe_year]
    out += [(d.start, d.end, "date") for d in find_date_values(sentence)]
    tags = word_tags(sentence, lang)
    for a, b in noun_phrases(sentence, lang):
        if len(sentence[a:b].split()) > MAX_ANSWER_WORDS:
            continue
        inner = [t for x, y, t in tags if x >= a and y <= b]
        out.append((a, b, "person" if len(inner) >= 2 and all(t in NAME_TAGS for t in inner) else "thing"))
    first = {(a, b): kind for a, b, kind in reversed(out)}  # a span found twice keeps its first kind
    return [(a, b, kind) for (a, b), kind in reversed(first.items()) if b - a < 0.5 * len(sentence)]


def cloze_question(sentence: str, start: int, end: int, kind: str, lang: str, rng: random.Random) -> str | None:
    """The question whose answer is ``sentence[start:end]``: the question word for ``kind`` in ``lang``
    and up to :data:`CONTEXT_WORDS` words either side of the answer, in order, a share :data:`DROP` of the
    content words dropped; None where fewer than three words are left."""
    words = [w.strip(_TRIM) for w in sentence[:start].split()[-CONTEXT_WORDS:] + sentence[end:].split()[:CONTEXT_WORDS]]
    stop = stopwords()
    kept = [w for w in words if w and (fold(w) in stop or rng.random() >= DROP)]
    if len(kept) < 3:
        return None
    if start > 0 and kept[0][:1].isupper() and fold(kept[0]) in stop:  # a sentence's first word, mid-question now
        kept[0] = kept[0].lower()
    wh = resources()["cloze_question_words"]["de" if lang == "de" else "en"][kind]
    return f"{wh} {' '.join(kept)}?"


def is_prose(sentence: str) -> bool:
    """Whether a sentence reads as running text: :data:`MIN_WORDS` to :data:`MAX_WORDS` words, ending in
    . ! or ?, four in five of its words alphabetic, and no reference or menu debris (``^``, ``|``)."""
    words = sentence.split()
    if not MIN_WORDS <= len(words) <= MAX_WORDS or sentence.rstrip("\"'”“»)")[-1:] not in ".!?":
        return False
    return sum(w.strip(_TRIM).isalpha() for w in words) >= 0.8 * len(words) and not any(c in sentence for c in "^|")


def _sentence_spans(text: str, lang: str, rng: random.Random,
                    sentences: int | None = None) -> Iterator[tuple[int, str, list[tuple[int, int, str]]]]:
    """Each prose sentence of ``text`` (``sentences``: that many, chosen at random) as its offset, its text
    and its candidate answers in random order."""
    chosen = [(a, b) for a, b in split_sentences(text) if is_prose(text[a:b])]
    if sentences is not None and len(chosen) > sentences:
        chosen = sorted(rng.sample(chosen, sentences))
    for s, e in chosen:
        spans = answer_spans(text[s:e], lang)
        rng.shuffle(spans)
        yield s, text[s:e], spans


def cloze_pairs(text: str, lang: str, rng: random.Random, per_sentence: int = 1,
                sentences: int | None = None) -> list[dict[str, Any]]:
    """Up to ``per_sentence`` cloze pairs from each sentence of ``text`` (in ``lang``; ``sentences``: from
    that many of its sentences, chosen at random), as ``{"q", "text", "start", "end"}``: the question and the
    answer's offsets into ``text``."""
    out: list[dict[str, Any]] = []
    for s, sent, spans in _sentence_spans(text, lang, rng, sentences):
        for a, b, kind in spans[:per_sentence]:
            q = cloze_question(sent, a, b, kind, lang, rng)
            if q:
                out.append({"q": q, "text": text, "start": s + a, "end": s + b})
    return out


def verbatim_once(span: str, text: str) -> int | None:
    """Where ``span`` (three characters or more) occurs verbatim in ``text``, if it occurs there exactly once."""
    hits = [m.start() for m in re.finditer(re.escape(span), text)] if len(span) >= 3 else []
    return hits[0] if len(hits) == 1 else None


def crosslingual_pairs(text: str, lang: str, translation: str, rng: random.Random) -> list[dict[str, Any]]:
    """Cloze pairs whose question comes from a sentence of ``text`` (in ``lang``) and whose answer is the same
    span found verbatim exactly once in ``translation`` (names, numbers, dates mostly): at most one per
    sentence, offsets into ``translation``."""
    out: list[dict[str, Any]] = []
    for _, sent, spans in _sentence_spans(text, lang, rng):
        for a, b, kind in spans:
            ans = sent[a:b]
            at = verbatim_once(ans, translation)
            if at is None:
                continue
            q = cloze_question(sent, a, b, kind, lang, rng)
            if q:
                out.append({"q": q, "text": translation, "start": at, "end": at + len(ans)})
                break
    return out
