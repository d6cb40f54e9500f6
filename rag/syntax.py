"""Noun phrases of a sentence, German and English, from part-of-speech tags.

Many answers are not names or numbers but a noun phrase the sentence states: "hohen Palmen", "die
Kommission", "eine multikulturelle Stadt", "the Pittsburgh Steelers". Such phrases become candidates
of the per-source reader (:mod:`rag.reader`), which scores them like any other candidate.

Tags come from HanTa (the Hanover Tagger, a pure-Python tagger and lemmatiser whose German model is
trained on the TIGER treebank and whose English model uses the BNC's tag set); both models ship inside
the package. A phrase is a run of an optional determiner, modifiers (adjectives, numbers) and nouns,
optionally extended by a genitive or an "of"/"von" attachment ("Bundesminister des Innern", "the
University of Cambridge").
"""

from __future__ import annotations

import functools
import re
import threading
from typing import Any, NamedTuple

_TOKEN = re.compile(r"\w+(?:[-'’]\w+)*|[^\w\s]")

# German (STTS as HanTa writes it) and English (BNC C5) tags, by role
_DET = {"ART", "PPOSAT", "PDAT", "PIAT", "PIDAT", "AT0", "DPS", "DT0"}
_GENITIVE_ARTICLES = {"des", "der"}
_ATTACH = {"von", "of"}
_LOCK = threading.Lock()  # one tagger per language is shared by the server's threads


def _role(tag: str) -> str:
    if tag in _DET:
        return "det"
    if tag.startswith(("NN", "NE", "NP", "FM")):
        return "noun"
    if tag.startswith(("ADJ(A)", "ADJA", "AJ", "ORD")) or tag in ("CARD", "CRD"):
        return "mod"
    return "other"


@functools.lru_cache(maxsize=2)
def _tagger(lang: str) -> Any:
    from HanTa import HanoverTagger as ht

    return ht.HanoverTagger("morphmodel_ger.pgz" if lang == "de" else "morphmodel_en.pgz")


@functools.lru_cache(maxsize=4096)
def noun_phrases(text: str, lang: str) -> tuple[tuple[int, int], ...]:
    """The noun phrases of one sentence as character spans, each once: the phrase with its determiner, and
    where a genitive or an of/von attachment follows, the phrase extended by it as well.

    Args:
        text: one sentence.
        lang: its language, ``de`` or ``en`` (anything else is read as English).

    Returns:
        ``(start, end)`` offsets into ``text``, in order of appearance.
    """
    tagged_words = word_tags(text, lang)  # shared with the name finder, which tags the same sentences
    if not tagged_words:
        return ()
    toks = [(a, b, text[a:b]) for a, b, _ in tagged_words]
    roles = [_role(tag) for _, _, tag in tagged_words]
    out: list[tuple[int, int]] = []
    i, n = 0, len(toks)
    while i < n:
        j = i
        if roles[j] == "det":
            j += 1
        while j < n and roles[j] == "mod":
            j += 1
        k = j
        while k < n and roles[k] == "noun":
            k += 1
        if k == j:  # no noun: not a phrase
            i += 1
            continue
        out.append((toks[i][0], toks[k - 1][1]))
        ext = _attachment(toks, roles, k)
        if ext > k:
            out.append((toks[i][0], toks[ext - 1][1]))
        i = k
    return tuple(dict.fromkeys(out))


@functools.lru_cache(maxsize=1024)
def tagged(text: str, lang: str) -> tuple[tuple[str, str], ...]:
    """The words of a short text (a question, a sentence) with their part-of-speech tags (STTS for German,
    BNC C5 for English, as HanTa writes them): ``(("How", "AVQ"), ("many", "DT0"), ("people", "NN0"), ...)``."""
    return tuple((text[a:b], tag) for a, b, tag in word_tags(text, lang))


@functools.lru_cache(maxsize=1024)
def word_tags(text: str, lang: str) -> tuple[tuple[int, int, str], ...]:
    """The words of a sentence as ``(start, end, tag)``, offsets into ``text``; the one place a sentence is
    tagged (:func:`tagged` and :func:`noun_phrases` read it)."""
    toks = [(m.start(), m.end()) for m in _TOKEN.finditer(text)]
    tags = _tags([text[a:b] for a, b in toks], lang) if toks else []
    return tuple((a, b, tag) for (a, b), tag in zip(toks, tags, strict=True))


def is_name_part(tag: str) -> bool:
    """A word that belongs to a name after its article: a proper noun, a foreign word or an adjective
    ("die *Europäische* Volkspartei", "die *New* England Patriots"), not a common noun ("die Stadt Berlin")."""
    return tag.startswith(("NE", "FM", "ADJ(A)", "ADJA"))


def _tags(words: list[str], lang: str) -> list[str]:
    """One tag per word, from the language's shared tagger (``de``, else English)."""
    tagger = _tagger("de" if lang == "de" else "en")
    with _LOCK:
        return [t[2] for t in tagger.tag_sent(words)]


def is_common_noun(tag: str) -> bool:
    """A common noun (not a name): German NN, English NN0/NN1/NN2."""
    return tag == "NN" or tag in ("NN0", "NN1", "NN2")


def _attachment(toks: list[tuple[int, int, str]], roles: list[str], k: int) -> int:
    """The end (token index) of a genitive ("des Innern") or of/von phrase ("of Cambridge") starting at
    ``k``, or ``k`` if none follows."""
    n = len(toks)
    if k >= n:
        return k
    w = toks[k][2].lower()
    j = k + 1
    if w in _ATTACH:
        if j < n and roles[j] == "det":
            j += 1
    elif not (w in _GENITIVE_ARTICLES and roles[k] == "det"):
        return k
    while j < n and roles[j] == "mod":
        j += 1
    e = j
    while e < n and roles[e] == "noun":
        e += 1
    return e if e > j else k


_JOIN = {"CJC", "KON"}  # "naturalist and anatomist", "Schauspieler und Autor"


class Definition(NamedTuple):
    """Where a sentence's copular definition lies (offsets into the sentence)."""

    copula_start: int  # the subject is text[:copula_start]
    copula_end: int
    phrase_start: int  # the predicate is text[phrase_start:head_end], its article left out
    head_end: int
    word_starts: tuple[int, ...]  # each of the predicate's words, conjunctions aside


@functools.lru_cache(maxsize=1)
def _copulas() -> tuple[frozenset[str], re.Pattern[str]]:
    from rag.values import resources

    copulas = frozenset(w.lower() for w in resources()["copulas"])
    return copulas, re.compile(r"\b(?:" + "|".join(map(re.escape, sorted(copulas))) + r")\b", re.I)


@functools.lru_cache(maxsize=4096)
def definition(text: str, lang: str) -> Definition | None:
    """The definition a sentence gives of its subject with a copula: "Wayne Jones (born 1959) is a Welsh
    professional snooker player.", "Six Feet Under ist eine US-amerikanische Death-Metal-Band aus Tampa."

    The predicate is the noun phrase right after the first copula outside brackets (``copulas`` in the
    language resources), its determiner and an opener such as "one of the" (``definition_openers``) skipped:
    modifiers and nouns up to the last noun before anything else (a preposition, a relative pronoun,
    punctuation); nouns joined by and/und stay in it ("an English naturalist and anatomist").

    Args:
        text: one sentence.
        lang: its language, ``de`` or ``en`` (anything else is read as English).

    Returns:
        A :class:`Definition`, or ``None`` when the sentence defines nothing this way.
    """
    from rag.values import resources

    copulas, pattern = _copulas()
    if not pattern.search(text):
        return None  # no copula at all: no tagging
    toks = word_tags(text, lang)
    depth, at = 0, -1
    for i, (a, b, _) in enumerate(toks):
        w = text[a:b]
        depth += (w in "([") - (w in ")]")
        if depth <= 0 and w.lower() in copulas:
            at = i
            break
    if at <= 0:
        return None
    j, n = at + 1, len(toks)
    words = [text[a:b].lower() for a, b, _ in toks]
    for opener in (o.split() for o in resources()["definition_openers"]):
        if words[j:j + len(opener)] == opener:
            j += len(opener)
            break
    while j < n and _role(toks[j][2]) == "det":
        j += 1
    start, head = j, -1
    while j < n:
        role = _role(toks[j][2])
        if role == "noun":
            head = j
        elif role not in ("mod", "det") and not (toks[j][2] in _JOIN and head >= 0 and j + 1 < n
                                                 and _role(toks[j + 1][2]) in ("mod", "noun")):
            break
        j += 1
    if head < start:
        return None
    starts = tuple(toks[k][0] for k in range(start, head + 1) if toks[k][2] not in _JOIN)
    return Definition(toks[at][0], toks[at][1], toks[start][0], toks[head][1], starts)
