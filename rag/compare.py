"""Comparison across sources: do the sources' values agree, vary within compatible estimates, conflict,
or describe different entities that share a name?

Copies of one text (an agency report reprinted by several outlets) count as one source: two readings
whose cited sentences are near-identical and give the same value are one independent source.
"""

from __future__ import annotations

import functools
import math
import re

from rag.config import ReaderSettings
from rag.intent import Intent
from rag.messages import t
from rag.models import Comparison, Evidence, SourceReading, Value, ValueGroup
from rag.text import fold
from rag.validate import cite_marks
from rag.values import find_date_values, iso_bounds, name_key, resources, same_name

OPENING_CHARS = 200  # a source's opening, where a bracketed qualifier says which thing it is about
_REL_TOL = 0.005  # two exact quantities within 0.5 % are one value (rounding, unit conversion)


def same_value(a: Value, b: Value) -> bool:
    """Whether two values say the same thing (after normalisation)."""
    if a.kind != b.kind:
        return False
    if a.kind == "quantity":
        if a.dimension != b.dimension or (a.dimension == "money" and a.unit != b.unit) or a.qualifier != b.qualifier:
            return False
        x, y = a.number or 0.0, b.number or 0.0
        if a.qualifier == "range" and (a.low, a.high) != (b.low, b.high):
            return _close(a.low or 0, b.low or 0) and _close(a.high or 0, b.high or 0)
        if a.unit == b.unit and float(x).is_integer() and float(y).is_integer():
            return x == y  # counts as written: 495 is not 496
        return _close(x, y)
    if a.kind == "date":
        return a.key == b.key
    return a.key == b.key or same_name(a.text, b.text)


def consensus_pick(options: list[tuple[Value, float]], others: list[SourceReading], margin: float) -> int | None:
    """Which of a source's options (its values with their scores, higher is better) states what other sources
    say: among the options scored within ``margin`` of its best, the one the other sources' readings back with
    the most confidence; ``None`` when none of them states another source's value. How a source that also
    states the others' value comes to agree with them (:func:`rag.reader.reconcile`,
    :func:`rag.span_sources.read_with_spans`)."""
    if not options:
        return None
    best = max(score for _, score in options)
    support: dict[int, float] = {}
    for k, (v, score) in enumerate(options):
        if best - score > margin:
            continue
        for o in others:
            if o.value is not None and same_value(v, o.value):
                support[k] = support.get(k, 0.0) + o.confidence
    return max(support, key=lambda k: support[k]) if support else None


def _close(x: float, y: float) -> bool:
    return abs(x - y) <= _REL_TOL * max(abs(x), abs(y), 1e-9)


def _interval(v: Value) -> tuple[float, float]:
    if v.kind == "quantity":
        lo = v.low if v.low is not None else (v.number or 0.0)
        hi = v.high if v.high is not None else math.inf
        if v.qualifier == "exact":
            lo, hi = (v.number or 0.0) * (1 - _REL_TOL), (v.number or 0.0) * (1 + _REL_TOL)
        return lo, hi
    if v.kind == "date":
        lo_d, hi_d = iso_bounds(v.key)
        return float(lo_d.toordinal()), float(hi_d.toordinal())
    return 0.0, 0.0


def _nested(a: Value, b: Value) -> bool:
    (a1, a2), (b1, b2) = _interval(a), _interval(b)
    return (a1 <= b1 and b2 <= a2) or (b1 <= a1 and a2 <= b2)


def compatible(a: Value, b: Value) -> bool:
    """Different words that can both be true: a range and a value inside it, "about 11,000" and
    "more than 10,000", a year and a day within it."""
    if a.kind != b.kind or a.kind == "name" or a.kind == "text":
        return False
    if a.kind == "quantity" and (a.dimension != b.dimension or a.increment != b.increment):
        return False
    if a.kind == "quantity" and a.qualifier == b.qualifier == "exact":
        return False
    if a.kind == "date" and a.qualifier == "exact" and b.qualifier == "exact" and len(a.key) == len(b.key) \
            and "/" not in a.key + b.key:
        return False
    if a.kind == "date":
        return _nested(a, b)  # a year and a day within it; two overlapping spans are not the same date
    (a1, a2), (b1, b2) = _interval(a), _interval(b)
    return a1 <= b2 and b1 <= a2


@functools.lru_cache(maxsize=1024)
def _tokens(text: str) -> frozenset[str]:
    """A text's words, folded (read once per text: a source is compared with every other)."""
    return frozenset(fold(w) for w in re.findall(r"\w+", text))


def _jaccard(a: str, b: str) -> float:
    ta, tb = _tokens(a), _tokens(b)
    return len(ta & tb) / len(ta | tb) if ta and tb else 0.0


def _text_copies(x: str, y: str, texts: dict[str, str] | None, threshold: float) -> bool:
    """Whether the whole texts of sources ``x`` and ``y`` are at least ``threshold`` alike (Jaccard of words)."""
    return bool(texts) and _jaccard(texts.get(x, ""), texts.get(y, "")) >= threshold


def _altered_copy(a: ValueGroup, b: ValueGroup, texts: dict[str, str] | None, threshold: float) -> bool:
    """Whether a source of group ``a`` and one of group ``b`` are copies of one text (their words' Jaccard
    similarity at least ``threshold``): stating different values, one is an altered copy of the other."""
    return any(_text_copies(x, y, texts, threshold) for x in a.doc_ids for y in b.doc_ids)


def _copies(readings: list[SourceReading], quotes: dict[str, str], threshold: float,
            texts: dict[str, str] | None = None, text_threshold: float = 1.0) -> dict[str, str]:
    """Map each reading's doc id to the doc id of the first near-identical copy stating the same value: cited
    sentences at least ``threshold`` alike, whole texts (``texts``) at least ``text_threshold`` alike (one
    agency text in two papers, each quoted at another sentence), or one source and date."""
    root: dict[str, str] = {}
    seen: list[SourceReading] = []
    for r in readings:
        root[r.doc_id] = r.doc_id
        for o in seen:
            if not quotes.get(r.doc_id) or not quotes.get(o.doc_id) or r.value is None or o.value is None:
                continue
            same_source = r.source and o.source and fold(r.source) == fold(o.source) and r.date == o.date
            similar = _jaccard(quotes.get(r.doc_id, ""), quotes.get(o.doc_id, "")) >= threshold or \
                _text_copies(r.doc_id, o.doc_id, texts, text_threshold)
            if (similar or same_source) and same_value(r.value, o.value):
                root[r.doc_id] = root[o.doc_id]
                break
        seen.append(r)
    return root


_ROMAN = re.compile(r"(?<![\w.])(?=[IVXLCDM])M{0,3}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})(?![\w.])")


def distinct_labels(a: str | None, b: str | None) -> bool:
    """Whether two ways of naming the entity denote different things: each has a qualifier the other
    lacks ("Achada Furna" vs "Furna (Brava)", "Ariel A. Rodriguez" vs "Xavier Rodriguez"), or both end in
    different bracketed qualifiers ("(album)" vs "(demo album)")."""
    if not a or not b:
        return False
    qa, qb = _bracketed(a), _bracketed(b)
    if qa and qb and name_key(qa) != name_key(qb):
        return True  # "Rage Against the Machine (album)" / "(demo album)": each says which one it means
    a, b = _without_life_span(a), _without_life_span(b)
    na, nb = _ROMAN.findall(a), _ROMAN.findall(b)
    if na and nb and na != nb:
        return True  # "Ahmed II" and "Ahmed III" (the spelling key folds doubled letters)
    ka, kb = set(name_key(a).split()), set(name_key(b).split())
    if not ka or not kb or ka == kb or same_name(a, b, threshold=92):
        return False
    return bool(ka - kb) and bool(kb - ka) and not _abbreviated(a, b) and not _abbreviated(b, a)


def _abbreviated(a: str, b: str) -> bool:
    """Whether the one word that tells ``a`` from ``b`` is an abbreviation of the words that tell ``b`` from
    ``a``: their initials ("NY": "New York") or, for one word, its first letter and others in order ("CA":
    "California", "TX": "Texas"). Both name the same thing ("Keyes, CA" and "Keyes, California"). Only capitals
    abbreviate capitalised words, so "Ahmed II" and "Ahmed III" stay two."""
    wa, wb = re.findall(r"[^\W\d_]+", a), re.findall(r"[^\W\d_]+", b)
    ka, kb = {name_key(w) for w in wa}, {name_key(w) for w in wb}
    short = [w for w in wa if name_key(w) not in kb]
    long = [w for w in wb if name_key(w) not in ka]
    if len(short) != 1 or not long or not 2 <= len(short[0]) <= 4 or not short[0].isupper():
        return False
    if not all(w[:1].isupper() and w[1:].islower() for w in long):
        return False
    abbr = short[0].lower()
    if len(long) > 1:
        return abbr == "".join(w[0] for w in long).lower()
    word = long[0].lower()
    rest = iter(word[1:])
    return len(word) > len(abbr) and word[0] == abbr[0] and all(ch in rest for ch in abbr[1:])


@functools.lru_cache(maxsize=1)
def _life_words() -> frozenset[str]:
    """The words that mark a life's start or end ("born", "died", "geboren"), folded."""
    return frozenset(fold(w) for ws in resources()["life_events"].values() for w in ws)


def _names_a_thing(bracket: str) -> bool:
    """Whether a bracket after a name says which thing it is ("(golf)", "(cricketer, born 1807)"), not only
    when it lived ("(5 May 1831 – 8 November 1903)", "(born 3 March 1988)"), which every biography opens with."""
    rest = bracket
    for d in sorted(find_date_values(bracket), key=lambda d: -d.start):
        rest = rest[:d.start] + " " + rest[d.end:]
    return any(len(w) >= 2 and fold(w) not in _life_words() for w in re.findall(r"[^\W\d_]+", rest))


def _without_life_span(label: str) -> str:
    """The label without a closing bracket that only says when someone lived: "Edmund Ralph Brockman" for
    "Edmund Ralph Brockman (22 October 1828 – 17 September 1908)". Two such brackets that differ still tell
    two people apart (:func:`distinct_labels`); one alone adds no qualifier."""
    q = _bracketed(label)
    return label[:label.rfind("(")].strip() if q is not None and not _names_a_thing(q) else label


def _bracketed(label: str) -> str | None:
    m = re.search(r"\(([^()]+)\)\s*$", label)
    return m.group(1) if m else None


def adds_qualifier(a: str | None, b: str | None) -> bool:
    """Whether ``a`` names the entity with every word of ``b`` and a qualifier more ("Clearwater County,
    Minnesota" beside "Clearwater County"): a source that says which of several things of that name it means."""
    if not a or not b:
        return False
    ka, kb = set(name_key(_without_life_span(a)).split()), set(name_key(_without_life_span(b)).split())
    return bool(kb) and kb < ka


def compare(readings: list[SourceReading], intent: Intent, lang: str, quotes: dict[str, str],
            settings: ReaderSettings, texts: dict[str, str] | None = None) -> Comparison | None:
    """Compare what the sources state.

    Args:
        readings: per-source readings (only those with ``says`` count).
        intent: the analysed question.
        lang: language of the messages.
        quotes: doc id -> the cited sentence of its reading (to recognise copies of one text).
        settings: reader settings (``duplicate_similarity``, ``copy_similarity``).
        texts: doc id -> the source's whole text: two sources whose texts are copies of one text apart from
            the value are one thing told two ways, whatever else their labels or cited sentences say.

    Returns:
        A :class:`Comparison`, or ``None`` when no source states a value.
    """
    says = [r for r in readings if r.says and r.value is not None]
    if not says:
        return None
    root = _copies(says, quotes, settings.duplicate_similarity, texts, settings.copy_similarity)
    for r in says:
        r.copies = [o.doc_id for o in says if root[o.doc_id] == root[r.doc_id] and o.doc_id != r.doc_id]
    groups: list[list[SourceReading]] = []
    for r in says:
        assert r.value is not None
        for g in groups:
            assert g[0].value is not None
            if same_value(g[0].value, r.value):
                g.append(r)
                break
        else:
            groups.append([r])
    vgroups = []
    for g in groups:
        v = g[0].value
        assert v is not None
        label = next((r.entity_label for r in g if r.entity_label), None)
        vgroups.append(ValueGroup(display=v.display, key=v.key, value=v, doc_ids=[r.doc_id for r in g],
                                  citations=sorted({r.citation for r in g if r.citation is not None}),
                                  independent_sources=len({root[r.doc_id] for r in g}), entity_label=label,
                                  attributed_to=list(dict.fromkeys(r.attributed_to for r in g if r.attributed_to))))
    vgroups.sort(key=lambda g: (-g.independent_sources, min(g.citations or [999])))
    what = property_label(intent, lang)
    # vague amounts ("thousands", "Zehntausende") are listed but never make a disagreement on their own
    # ... and neither do values the reader is unsure of (confidence below reader.flag_confidence)
    conf = {r.doc_id: r.confidence for r in says}
    # decisive: confident in absolute terms, or nearly as confident as the best reading of this question
    kind_of = intent.answer_type if intent.answer_type in ("quantity", "date") else "name"
    flag_bar = settings.flag_confidence_by_type.get(kind_of, settings.flag_confidence)
    relative_bar = settings.relative_flag_confidence_by_type.get(kind_of, settings.relative_flag_confidence)
    bar = max(settings.flag_floor, min(flag_bar, relative_bar * max(conf.values())))
    strong = {d for d, c in conf.items() if c >= bar}
    decisive = [g for g in vgroups if g.value.qualifier != "vague" and strong & set(g.doc_ids)]
    # a less certain value still counts when its source names the entity with a qualifier of its own
    # ("Lawrence, Rusk County" beside "Lawrence, Brown County", or beside a plain "Lawrence"): another thing
    # of that name
    labels = [g.entity_label for g in decisive if g.entity_label]
    for g in vgroups:
        if g in decisive or g.value.qualifier == "vague" or not labels or not g.entity_label:
            continue
        ok = all(distinct_labels(g.entity_label, lab) or adds_qualifier(g.entity_label, lab) for lab in labels)
        if max(conf[d] for d in g.doc_ids) >= max(settings.entity_flag_confidence, settings.flag_floor) and ok:
            decisive.append(g)
    decisive = decisive or vgroups[:1]
    # a less certain value whose source is an altered copy of a decisive one's (the same text with another
    # value in it) is a statement against it about the same thing, however unsure its reading
    for g in vgroups:
        if g not in decisive and g.value.qualifier != "vague" and any(
                _altered_copy(g, d, texts, settings.copy_similarity) and not compatible(g.value, d.value)
                for d in decisive):
            decisive.append(g)
    # a less certain estimate that can hold beside the confident ones ("about 11,000" beside "more than
    # 10,000") is one more estimate: the sources vary. An exact figure that contradicts them is not enough.
    for g in vgroups:
        if g in decisive or g.value.qualifier == "vague" or max(conf[d] for d in g.doc_ids) < settings.min_confidence:
            continue
        estimate = g.value.qualifier != "exact" or any(d.value.qualifier != "exact" for d in decisive)
        if estimate and all(compatible(g.value, d.value) for d in decisive):
            decisive.append(g)
    for g in vgroups:
        g.decisive = g in decisive
        g.confidence = round(max(conf[d] for d in g.doc_ids), 4)
    if len(decisive) < len(vgroups):
        vgroups = decisive + [g for g in vgroups if g not in decisive]
    pairs = [(a, b) for a in decisive for b in decisive if a is not b]
    if len(decisive) == 1:
        kind = "agree" if decisive[0].independent_sources >= 2 else "single"
    elif all(compatible(a.value, b.value) for a, b in pairs):
        # "3,000" and "about 3,000" agree, so do "1993" and "24 January 1993" (one is more precise);
        # "10,000–12,000" and "more than 10,000" are compatible estimates that vary
        points = {round(g.value.number or 0.0, 6) for g in decisive}
        nested = all(_nested(a.value, b.value) for a, b in pairs)
        same_point = len(points) == 1 and decisive[0].value.kind == "quantity"
        kind = "agree" if same_point or (decisive[0].value.kind == "date" and nested) else "vary"
        if kind == "agree":  # one statement: the most precise wording, every source that supports it
            best = min(decisive, key=lambda g: _interval(g.value)[1] - _interval(g.value)[0])
            merged = best.model_copy(update={
                "doc_ids": [d for g in decisive for d in g.doc_ids],
                "citations": sorted({n for g in decisive for n in g.citations}),
                "independent_sources": sum(g.independent_sources for g in decisive)})
            vgroups = [merged] + [g for g in vgroups if g not in decisive]
            decisive = [merged]
    else:
        # different entities: groups whose sources name the entity with distinct qualifiers; but two sources
        # whose sentences are copies of one text apart from the value are one thing, told two ways (an
        # altered copy), whatever their labels say
        def near_copy(a: ValueGroup, b: ValueGroup) -> bool:
            return any(_jaccard(quotes.get(x, ""), quotes.get(y, "")) >= settings.duplicate_similarity
                       for x in a.doc_ids for y in b.doc_ids) or \
                _altered_copy(a, b, texts, settings.copy_similarity)

        def same_thing(c: list[ValueGroup], g: ValueGroup) -> bool:
            """Whether ``g`` is about the thing of cluster ``c``: its labels do not tell them apart, and where one
            names only the shared name ("Longtown") and the other which one ("Longtown, Oklahoma"), ``g``'s value
            agrees with one of the cluster's (a figure no "Longtown, Oklahoma" source states may be another
            Longtown's)."""
            a, b = c[0].entity_label, g.entity_label
            if distinct_labels(a, b):
                return False
            return not (adds_qualifier(a, b) or adds_qualifier(b, a)) or any(compatible(g.value, o.value) for o in c)

        clusters: list[list[ValueGroup]] = []
        for g in decisive:  # an altered copy first: whatever the labels say, it is the thing it copies
            home = next((c for c in clusters if any(near_copy(g, o) for o in c)), None) or \
                next((c for c in clusters if same_thing(c, g)), None)
            if home is None:
                clusters.append([g])
            else:
                home.append(g)
        within_conflict = any(len(c) > 1 and not all(compatible(a.value, b.value) for a in c for b in c if a is not b)
                              for c in clusters)
        kind = "different_entities" if len(clusters) > 1 and not within_conflict else "conflict"
        if len(clusters) > 1:  # several things of that name (and, in a conflict, disagreement about one)
            for i, c in enumerate(clusters):
                for g in c:
                    g.entity = i
    values = "; ".join(with_refs(g) for g in vgroups)
    if kind == "conflict" and by_entity(vgroups):
        message = t(lang, "entities_conflict_flag", entity=intent.entity or what, what=what,
                    values=entity_values(vgroups, lang))
    elif kind == "conflict":
        message = t(lang, "conflict_flag", what=what, values=values)
    elif kind == "vary":
        message = t(lang, "vary_flag", what=what, values=values)
    elif kind == "different_entities":
        message = t(lang, "entities_flag", entity=intent.entity or what, values=entities_text(vgroups, lang))
    else:
        message = f"{vgroups[0].display} {cite_marks(vgroups[0].citations)}".strip()
    return Comparison(kind=kind, answer_type=intent.answer_type, quantity=what, groups=vgroups, message=message)


def entity_split(readings: list[SourceReading], evidence: list[Evidence], intent: Intent, lang: str,
                 openings: dict[str, str]) -> Comparison | None:
    """Where no source states a value (a free-text or name question the reader found no name for), or the
    sources that do agree (only the pages about one of the things state it: "album" from "Transit of Venus
    (album)" beside a page on "Transit of Venus (opera)"), whether the
    quoted sources open by naming the asked entity as different things, each with a bracketed qualifier
    ("Larry Gilbert (baseball)" and "Larry Gilbert (golf)"): then the answer says so, source by source, as a
    ``different_entities`` comparison without value groups. A qualifier counts only at the source's opening
    (its title and first :data:`OPENING_CHARS` characters), where it says which thing the source is about, not
    in a remark further on ("Scott Murray (on loan from Reading)" in a squad list). Not when the question's
    own words name one of them ("the Hong Kong Open in golf"), nor for amounts and dates (a typed question no
    source answers is refused).

    Args:
        readings: per-source readings.
        evidence: the numbered evidence sentences (only sources quoted there count).
        intent: the analysed question.
        lang: language of the message.
        openings: doc id -> the source's title and opening text.

    Returns:
        The comparison, or None.
    """
    if intent.answer_type in ("quantity", "date") or not intent.entity:
        return None
    first: dict[str, int] = {}
    for e in evidence:
        first.setdefault(e.doc_id, e.n)
    own = set(name_key(intent.entity).split())
    things: dict[str, tuple[str, set[int]]] = {}  # qualifier key -> the first label, the evidence numbers
    for r in readings:
        label = r.entity_label
        qualifier = _bracketed(label) if r.names_entity and label and r.doc_id in first else None
        if not label or not qualifier:
            continue
        plain = label[:label.rfind("(")].strip()
        if name_key(label) not in name_key(openings.get(r.doc_id, "")[:OPENING_CHARS]) or \
                not (own <= set(name_key(plain).split()) or same_name(plain, intent.entity)):
            continue  # a qualifier deeper in the text, or a label that names someone else ("Kevin Lewis")
        things.setdefault(name_key(qualifier), (label, set()))[1].add(first[r.doc_id])
    if len(things) < 2:
        return None
    asked = set(name_key(intent.question).split())
    if any(set(name_key(label).split()) - own <= asked for label, _ in things.values()):
        return None  # the question says which one it means
    values = "; ".join(f"{label} {cite_marks(sorted(ns))}" for label, ns in things.values())
    return Comparison(kind="different_entities", answer_type=intent.answer_type, quantity=property_label(intent, lang),
                      groups=[], message=t(lang, "entities_flag", entity=intent.entity, values=values))


def property_label(intent: Intent, lang: str) -> str:
    """What the answer is about, in the question's words: the counted noun ("troops"), else the property; a
    date question's property is its event ("born", "founded"), so its values are dates ("the date")."""
    if intent.answer_type == "date":
        return t(lang, "date_label")
    if intent.counted:
        return intent.counted
    return intent.property_text or ("Angabe" if lang == "de" else "value")


def by_entity(groups: list[ValueGroup]) -> list[list[ValueGroup]]:
    """The groups of each named thing, in order of first appearance, when the sources describe more than
    one (empty otherwise)."""
    out: dict[int, list[ValueGroup]] = {}
    for g in groups:
        if g.entity is not None:
            out.setdefault(g.entity, []).append(g)
    return list(out.values()) if len(out) > 1 else []


def with_refs(g: ValueGroup) -> str:
    """A group's value with its citation marks: "838 [1][5]"."""
    return f"{g.display} {cite_marks(g.citations)}".strip()


def _labelled(g: ValueGroup, lang: str) -> str:
    """A group's value with its citation marks, after how its source names the thing where it does:
    "Springfield, Oregon: 3,400 [2]"."""
    return t(lang, "entity_value", label=g.entity_label, value=with_refs(g)) if g.entity_label else with_refs(g)


def entity_values(groups: list[ValueGroup], lang: str) -> str:
    """"Carver County: 838 [1] or 1,200 [2]; Edgar County: 726 [3]": each named thing with what the sources
    say of it, then the values read with less certainty, each with how its source names the thing."""
    parts = []
    for c in by_entity(groups):
        label = next((g.entity_label for g in c if g.entity_label), "?")
        # a source that names the thing otherwise (an altered copy: "… (Springfield, Massachusetts)" beside
        # "… (Chester Springs, Pennsylvania)") says so beside its value
        said = f" {t(lang, 'or')} ".join(
            _labelled(g, lang) if g.entity_label and i and name_key(g.entity_label) != name_key(label) else with_refs(g)
            for i, g in enumerate(c))
        parts.append(t(lang, "entity_value", label=label, value=said))
    text = "; ".join(parts)
    unsure = [g for g in groups if g.entity is None and g.value.qualifier != "vague"]
    if unsure:
        text += "; " + t(lang, "less_certain_inline", values="; ".join(_labelled(g, lang) for g in unsure))
    return text


def entities_text(groups: list[ValueGroup], lang: str) -> str:
    """What the sources say of each of several things of one name (:func:`entity_values`), or, where no
    group is assigned to a thing, each value after how its source names the thing."""
    return entity_values(groups, lang) if by_entity(groups) else "; ".join(_labelled(g, lang) for g in groups)
