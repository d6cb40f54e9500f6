"""Question analysis: what type of value a question asks for, and about what.

"What is the population of Furna according to the 2010 census?" reads as: a quantity (a count), the
property *population*, the entity *Furna*, and 2010 is not an answer (the question names it). Everything
comes from the question's own words and the language resources; nothing here knows a topic.
"""

from __future__ import annotations

import functools
import re
from typing import Literal

from pydantic import BaseModel, Field

from rag.text import fold, question_language, stem
from rag.values import find_date_values, find_quantities, resources

AnswerType = Literal["quantity", "date", "person", "place", "name", "text"]
NAME_TYPES: tuple[str, ...] = ("name", "person", "place", "text")  # the answer types whose answer is a span of words


class Intent(BaseModel):
    """The typed reading of a question."""

    question: str
    language: str = "en"
    answer_type: AnswerType = "text"
    dimension: str | None = None  # for quantities: count | money | percent | length | area | … | None (any)
    property_words: list[str] = Field(default_factory=list)  # stems of the asked property ("popul", "born")
    property_text: str = ""  # the property as worded in the question ("population", "troops sent")
    entity: str = ""  # the asked entity as worded ("Furna", "Phi Delta Gamma")
    entity_tokens: list[str] = Field(default_factory=list)  # folded tokens a source must name to be about it
    counted: str | None = None  # "how many X": X
    increment: bool = False  # asks for an addition ("how many more", "weitere")
    rate: bool = False  # asks for an amount per unit of something ("per capita", "population density")
    unit_factor: float | None = None  # the unit the question asks in, as its factor to the dimension's base unit
    life_event: Literal["start", "end"] | None = None  # born (start of a life span) or died (end)
    excluded: list[str] = Field(default_factory=list)  # values the question itself names (not answers)
    kind_noun: str = ""  # the class a name answer belongs to ("What sport …": "sport"; "the profession of X")


_WORD = re.compile(r"[\w][\w'’\-.]*[\w]|[\w]")


@functools.lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """Function words of every language in the resources, folded."""
    r = resources()
    return frozenset(fold(w) for ws in r["stopwords"].values() for w in ws)


@functools.lru_cache(maxsize=1)
def measure_nouns() -> dict[str, str]:
    """Nouns that name a measured property ("population", "Fläche", "budget"), folded, with their dimension."""
    return {fold(w): dim for dim, ws in resources()["measure_nouns"].items() for w in ws}


def _phrase_at(q: str, phrases: list[str]) -> re.Match[str] | None:
    pat = r"(?<![\w])(?:" + "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True)) + r")(?![\w])"
    return re.search(pat, q, re.I)


def asked_kind(ql: str, wh_noun: re.Match[str] | None, head_nouns: list[str]) -> str:
    """The class a name answer belongs to, in the question's words: the noun after "what"/"which"
    ("What sport …", "Welche Sportart …"), else the head noun of "what is the X of …" ("profession"); after a
    word for a kind ("type of aircraft") the noun that follows it. Empty for a generic noun ("name") or none.

    Args:
        ql: the question, lower-cased.
        wh_noun: the match of the word after the question word (group 1), if any.
        head_nouns: the folded words of "what is the X of" (or "what is the X?"), if any.
    """
    r = resources()
    stop = stopwords()
    if wh_noun and fold(wh_noun.group(1)) not in stop:
        # "what political party was …": an adjective and its noun when a function word follows them
        two = re.match(r"\s+([\w\-]+)\s+([\w\-]+)", ql[wh_noun.end():])
        word = wh_noun.group(1)
        if two and fold(two.group(1)) not in stop and fold(two.group(2)) in stop:
            word += " " + two.group(1)
    elif head_nouns:
        word = head_nouns[-1]
    else:
        return ""
    if fold(word.split()[-1]) in {fold(w) for w in r["kind_words"]}:
        after = re.search(rf"\b{re.escape(word)}\s+(?:of|von)\s+(?:the\s+|die\s+|der\s+|des\s+)?([\w\-]+)", ql)
        word = after.group(1) if after else ""
    head = fold(word.split()[-1]) if word else ""
    if not head or head in stop or head in {fold(w) for w in r["generic_nouns"]} or head[:1].isdigit():
        return ""
    return fold(word)


def analyse(question: str) -> Intent:
    """Read a question into an :class:`Intent`.

    Args:
        question: a German or English question.

    Returns:
        The expected answer type, the property and entity asked about, and the values the question names.
    """
    r = resources()
    lang = question_language(question)
    lang = lang if lang in ("de", "en") else "en"
    q = question.strip()
    ql = q.lower()
    stop = stopwords()
    intent = Intent(question=q, language=lang)

    # values the question itself names are never its answer ("the 2010 census", "94 Squadron")
    intent.excluded = [d.iso for d in find_date_values(q)] + [f"{x.value:g}" for x in find_quantities(q, lang)]

    # --- expected answer type
    qt = r["question_types"]
    how = _phrase_at(ql, list(r["how_dimensions"]))
    m_date = _phrase_at(ql, qt["date"])
    measure = measure_nouns()
    date_nouns = {fold(w) for w in r["date_nouns"]}
    rate = asks_rate(q)
    # German "was" asks "what"; English "was" is a verb ("Who was Count of Melfi" asks for a person, not a count)
    wh = r"what|which|welche[rsmn]?|was" if lang == "de" else r"what|which|welche[rsmn]?"
    m_what = re.search(rf"\b(?:{wh})\s+(?:(?:is|was|are|were|ist|war|sind|waren)\b)?\s*"
                       r"(?:the|die|der|das|den|its|their|his|her)?\s*((?:[\w\-'’]+\s+){0,2}?[\w\-]+)\s+"
                       r"(?:of|von|des|der|for|für|in|at|does|did|do|has|had|hat)\b", ql)
    m_end = re.search(rf"\b(?:{wh})\s+(?:is|was|are|were|ist|war|sind|waren)\s+"
                      r"(?:the|die|der|das|den|its|their)?\s*((?:[\w\-]+\s*){1,3})\??\s*$", ql)
    head_nouns = [fold(w) for w in (m_what.group(1).split() if m_what else m_end.group(1).split() if m_end else [])]
    # German "was" asks "what" of a noun only as "Was ist der Beruf von …" ("Was kündigte X an?" asks free text)
    was_ist_der = bool(re.match(r"\s*was\s+(?:ist|war|sind|waren)\s+(?:der|die|das|den|dem)\b", ql))
    wh_noun = re.search(r"\b(?:what|which|welche[rsmn]?)\s+([\w\-]+)", ql)
    kind = asked_kind(ql, wh_noun, head_nouns)
    # "in what area", "in which unit", "what area of X is …": the noun picks a place or kind, it is not a measure
    place_noun = bool(wh_noun and fold(wh_noun.group(1)) in {fold(w) for w in r["place_after_wh"]})
    wh_place = place_noun or bool(wh_noun and re.search(r"\b(?:in|im)\s+$",
                                                        ql[:wh_noun.start()]))
    if wh_place:
        head_nouns = [n for n in head_nouns if n != fold(wh_noun.group(1))]
        wh_noun = None
    if how:
        intent.answer_type = "quantity"
        dim = r["how_dimensions"][how.group(0).lower()]
        intent.dimension = None if dim == "any" else dim
    elif m_date:
        intent.answer_type = "date"
    elif any(n in measure for n in head_nouns) or (wh_noun and fold(wh_noun.group(1)) in measure):
        intent.answer_type = "quantity"
        noun = next((n for n in head_nouns if n in measure), fold(wh_noun.group(1)) if wh_noun else "")
        dim = measure.get(noun, "any")
        intent.dimension = None if dim == "any" else dim
    elif any(n in date_nouns for n in head_nouns) or re.search(r"\b(?:date|datum)\b", ql):
        intent.answer_type = "date"
    elif _phrase_at(ql, qt["person"]):
        intent.answer_type = "person"
    elif _phrase_at(ql, qt["place"]):
        intent.answer_type = "place"
    elif place_noun or (wh_noun and fold(wh_noun.group(1)) in {fold(w) for w in r["place_nouns"]}):
        intent.answer_type = "place"
    elif re.search(r"\b(?:what|which|welche[rsmn]?|was für)\b", ql) or (lang == "de" and m_what and was_ist_der):
        # "what is the GDP per capita", "what was the density": an amount per unit of something, whatever is measured
        # (not "which company makes the most cars per year": there the asked thing is a company)
        what_is = re.match(r"\s*(?:what|was)\s+(?:is|was|are|were|ist|war|sind|waren)\b", ql)
        rate_asked = rate and bool(what_is or (wh_noun and asks_rate(wh_noun.group(1))))
        intent.answer_type = "quantity" if rate_asked else "name"
    if intent.answer_type == "name":  # not for a question read as asking for a place ("which country", "welcher
        intent.kind_noun = kind       # Region"): that kind turned a seed question into a false flag
    # a currency, unit or "%" in the question fixes the dimension ("how many euros", "in percent")
    # only a unit the question asks in: right after "how many/much" or after "in"/"per" ("in km", "per cent");
    # "how many soldiers … at the beginning of the year" still counts soldiers
    unit_words: set[str] = set()  # the asked unit's words ("how many square kilometers of forest")
    if intent.answer_type == "quantity":
        toks = re.findall(r"[\w%$€£]+", ql)
        after_how = len(re.findall(r"[\w%$€£]+", ql[:how.end()])) if how else -1
        for i, w in enumerate(toks):
            asked_in = 0 <= i - after_how < 2 or (i > 0 and toks[i - 1] in ("in", "im", "per", "pro", "je")) \
                or w in ("%", "$", "€", "£") or not how
            if not asked_in:
                continue
            if w in r["currencies"]:
                intent.dimension = "money"
            elif w in r["units"] and len(w) > 2:
                dim, factor = r["units"][w]
                squared = i > 0 and toks[i - 1] in ("square", "sq", "quadrat") and dim == "length"
                intent.dimension = "area" if squared else dim
                intent.unit_factor = factor * factor if squared else factor
                unit_words |= {w, toks[i - 1]} if squared else {w}
        if re.search(r"\b(?:more|additional|further|another|weitere|zusätzlich)", ql):
            intent.increment = True
        intent.rate = rate
    if intent.answer_type == "date":
        ev = r["life_events"]
        words = {fold(w) for w in re.findall(r"\w+\.?", ql)}
        if words & {fold(w) for w in ev["end"]}:
            intent.life_event = "end"
        elif words & {fold(w) for w in ev["start"]}:
            intent.life_event = "start"

    # --- entity: names, quoted titles, acronyms and numbered units the question mentions
    ent_spans: list[tuple[int, int]] = []
    # a quoted title; an apostrophe between letters is none ("Don't Drink the Water")
    for m in re.finditer(r"[\"“„«]([^\"”“«»]{2,80})[\"”“»]|(?<!\w)['‘]([^'‘’]{2,80})['’](?!\w)", q):
        g = 1 if m.group(1) is not None else 2
        ent_spans.append((m.start(g), m.end(g)))
    cap = re.compile(r"(?:\b\d+(?:st|nd|rd|th)?\s+)?(?:[A-ZÄÖÜ][\w'’.\-]*)"
                     r"(?:\s+(?:(?:of|the|de|da|del|von|van|der|den|du|la|le|and|&)\s+)*"
                     r"[A-ZÄÖÜ0-9][\w'’.\-]*)*")
    first_word = re.match(r"\s*(\w+)", q)
    not_names = stop | {fold(x) for xs in r["qualifiers"].values() for x in xs} \
        | {fold(x) for xs in r["question_types"].values() for x in xs}
    for m in cap.finditer(q):
        a, b = m.start(), m.end()
        text = m.group(0)
        if a == 0 or (first_word and a == first_word.start(1)):
            # the first word is a question word, unless it is a number ("94 Squadron") or not a stop word
            words = text.split()
            first = fold(words[0])
            if first in not_names or (lang == "en" and len(first) > 4 and first.endswith("ly")):
                if len(words) == 1:
                    continue
                words = words[1:]
                while words and ((not words[0][:1].isupper() and not words[0][:1].isdigit())
                                 or fold(words[0]) in not_names):
                    words = words[1:]  # "Most of the Chinese": the name starts at "Chinese"; "Nennen Sie ein …"
                if not words:
                    continue
                a = b - len(" ".join(words))
                text = " ".join(words)
        if any(x <= a < y for x, y in ent_spans):
            continue
        ent_spans.append((a, a + len(text.rstrip(".?!"))))
    ent_spans.sort()
    entity_words: list[str] = []
    prop_exclude: set[str] = set()
    shown: list[str] = []  # how the question names each entity, without German common nouns at its ends
    for a, b in ent_spans:
        kept: list[tuple[int, int, str]] = []
        nouns: list[tuple[int, int]] = []
        for m in _WORD.finditer(q[a:b]):
            w = m.group(0)
            f = _bare(w)
            if re.fullmatch(r"\d+(?:st|nd|rd|th|\.)?", f):
                f = re.sub(r"\D", "", f)  # "64th Division": documents write 64th, 64. or 64
            if f in stop or len(f) < 2 or f in measure or f in date_nouns:
                continue
            if lang == "de" and f not in stop and w[:1].isupper() and _is_common_noun_de(w, q):
                nouns.append((a + m.start(), a + m.end()))
                continue
            kept.append((a + m.start(), a + m.end(), f))
        if nouns and kept and all(f.isdigit() and f in intent.excluded for *_, f in kept):
            continue  # "der Volkszählung 2010": the year belongs to the property, as "the 2010 census" does
        entity_words.extend(f for *_, f in kept)
        prop_exclude.update(f for *_, f in kept)
        if not nouns:
            shown.append(q[a:b])
        elif kept:  # "Einwohner; Furna" is "Furna"; "den Film Manic" is "Manic"
            shown.append(q[min(k[0] for k in kept):max(k[1] for k in kept)])
    intent.entity = "; ".join(shown)
    intent.entity_tokens = list(dict.fromkeys(entity_words))

    # --- property: the remaining content words ("population", "troops", "born", "founded")
    qwords = {fold(x) for xs in r["question_types"].values() for x in xs for x in x.split()}
    prop = []
    for w in _WORD.findall(q):
        f = fold(w)
        bare = _bare(w)  # "Chilperic's" when "Chilperic" is the entity; "It's"
        if f in stop or f in qwords or f in prop_exclude or f.isdigit() or len(f) < 3 \
                or bare in prop_exclude or bare in stop or len(bare) < 3:
            continue
        prop.append((w, stem(f)))
    intent.property_words = list(dict.fromkeys(s for _, s in prop))
    intent.property_text = " ".join(w for w, _ in prop)
    # only "how many / how much / wie viele" count a noun; "how old was Peyton Manning" counts nothing
    if how and intent.answer_type == "quantity" and re.search(r"(?:many|much|viele?|wieviele?)$", how.group(0).lower()):
        rest = q[how.end():]
        if unit_words:  # "how many square kilometers of rainforest": what is counted follows the unit and "of"
            of = re.match(r"(?:\s*(?:" + "|".join(map(re.escape, sorted(unit_words, key=len, reverse=True)))
                          + r")\b)+\s+(?:of|von)\s+(?=\w)", rest, re.I)
            if of and fold(re.match(r"\w+", rest[of.end():]).group(0)) not in stop:
                rest = rest[of.end():]
        intent.counted = _counted_noun(rest, lang)
    return intent


def _bare(word: str) -> str:
    """A question word as an entity token: folded, without surrounding dots or quotes and without a
    possessive, which names the thing itself ("Chilperic's father": pages write "Chilperic")."""
    return re.sub(r"['’]s$", "", fold(word.strip(".'’")))


def asks_rate(question: str) -> bool:
    """Whether a question asks for a rate: it has a rate word in lower case ("per", "pro", "je"), a period
    ("a year", "jährlich") or a rate noun, also as the end of a German compound ("population density",
    "Bevölkerungsdichte", "pro Kopf")."""
    r = resources()
    raw = re.findall(r"\w+", question)
    if any(w in r["rate_words"] for w in raw):  # in lower case: "Pro Bowl" names a game
        return True
    period = _phrase_at(question.lower(), r["rate_periods"])
    if period and not re.match(r"\s+(?:" + "|".join(map(re.escape, r["rate_period_not_before"])) + r")\b",
                               question.lower()[period.end():]):
        return True
    words = [fold(w) for w in raw]
    text = " ".join(words)
    return any((" " in n and f" {n} " in f" {text} ") or any(w == n or (len(w) > len(n) + 3 and w.endswith(n)) for w in words)
               for n in (fold(x) for x in r["rate_nouns"]))


def _counted_noun(rest: str, lang: str) -> str | None:
    """The noun a "how many" phrase counts: the words after it up to the first function word, of which the
    noun is the first capitalised one in German ("wie viele streikende Pflegekräfte") and, in English, the
    last of the first common nouns by part-of-speech tag ("how many additional troops", "how many people
    live"), else the last word that is no participle ("how many workers joined")."""
    stop = stopwords()
    inc = {fold(w) for w in resources()["increment_words"]}
    run: list[str] = []
    for w in re.findall(r"[\w\-]+", rest)[:5]:
        f = fold(w)
        if f in stop:
            if run:
                break
            continue
        if f not in inc:
            run.append(w)
    if not run:
        return None
    if lang == "de":
        return next((w for w in run if w[:1].isupper()), run[0])
    return _first_common_noun_group(run) or _last_plain_word(run)


def _first_common_noun_group(run: list[str]) -> str | None:
    """The last word of the first run of common nouns by part-of-speech tags: "people" in "people live",
    "troops" in "additional troops", "soldiers" in "North Korean soldiers"."""
    from rag.syntax import is_common_noun, tagged

    found: str | None = None
    for w, tag in tagged(" ".join(run), "en"):
        if is_common_noun(tag):
            found = w
        elif found:
            break
    return found


def _last_plain_word(run: list[str]) -> str:
    nouns = [w for w in run[:3] if not re.search(r"(?:ed|ing)$", w.lower()) and not w[:1].isupper()]
    return nouns[-1] if nouns else run[0]


def _is_common_noun_de(word: str, question: str) -> bool:
    """In German every noun is capitalised: a capitalised word right after a question phrase
    ("Wie viele Soldaten") or an article ("die Inflation") is the property, not a name. (Every word the
    part-of-speech tagger reads as a common noun was tried too: on the XQuAD DE->DE tune part it answered
    more questions, but names left fewer sources out, so the seeds' and the measure part's questions with
    no name left were read across unrelated sources, and off-corpus questions were answered more often.)"""
    pat = (r"\b(?:wie viele|wieviele|wie viel|welche[rsmn]?|der|die|das|den|dem|des|ein|eine|einen|einer)\s+"
           r"(?:(\w+)\s+)?" + re.escape(word) + r"\b")
    return any(m.group(1) is None or not _apposition(m.group(1), word, question)
               for m in re.finditer(pat, question, re.I))


def _apposition(noun: str, word: str, question: str) -> bool:
    """Whether ``word`` is a name in apposition to the common noun before it: "der Film Manic", "die Stadt
    Berlin", "der Sänger Elvis" (by the part-of-speech tags; "der Schwarze Tod", "den Super Bowl" and "der
    General Manager" are no such pairs)."""
    from rag.syntax import tagged

    tags = dict(tagged(question, "de"))
    return tags.get(noun) == "NN" and tags.get(word, "").startswith(("NE", "FM"))
