"""Figure extraction: every numeric claim in German or English text as a structured record.

Deterministic and model-free. For each figure we find: the value or interval (``low``/``high``),
the qualifier ("about", "more than", a range…), whether it is an increment ("weitere 3.000"), what
is counted (normalised to a concept shared across languages: Soldaten = troops = soldiers), who says
so, and the time it refers to. Dates, years, times, article/phone numbers and ordinals are not figures.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from rag.text import MONTH_NAMES, find_dates, fold, stem

# ---------------------------------------------------------------- lexicons

_WORD_NUMBERS = {
    # German
    "zwei": 2, "drei": 3, "vier": 4, "fünf": 5, "sechs": 6, "sieben": 7, "acht": 8, "neun": 9, "zehn": 10,
    "elf": 11, "zwölf": 12, "zwanzig": 20, "dreißig": 30, "vierzig": 40, "fünfzig": 50, "hundert": 100,
    "tausend": 1000, "zehntausend": 10_000, "zwanzigtausend": 20_000, "hunderttausend": 100_000,
    # English
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "hundred": 100,
    "thousand": 1000, "ten thousand": 10_000, "a hundred": 100, "a thousand": 1000,
    "one hundred": 100, "one thousand": 1000, "a million": 1_000_000, "one million": 1_000_000,
    "eine million": 1_000_000,
}
# vague plurals: "Tausende" = some thousands; the lower bound is what they assert
_VAGUE = {
    "dutzende": 24, "dozens": 24, "hunderte": 200, "hundreds": 200, "tausende": 2000, "thousands": 2000,
    "zehntausende": 20_000, "tens of thousands": 20_000, "hunderttausende": 200_000,
    "hundreds of thousands": 200_000, "millionen": 2_000_000, "millions": 2_000_000,
}
_SCALES = {
    "millionen": 1e6, "million": 1e6, "mio": 1e6, "mio.": 1e6, "millions": 1e6, "mn": 1e6, "m": 1e6,
    "milliarden": 1e9, "milliarde": 1e9, "mrd": 1e9, "mrd.": 1e9, "billion": 1e9, "billions": 1e9, "bn": 1e9,
    "tausend": 1e3, "thousand": 1e3, "tsd": 1e3, "tsd.": 1e3, "k": 1e3, "hundred": 100,
}

# concept -> folded word prefixes (German and English)
_CONCEPTS: list[tuple[str, tuple[str, ...]]] = [
    ("soldiers", ("soldat", "truppe", "kaempfer", "militaerangehoerig", "mann", "troop", "soldier",
                  "servicem", "service member", "fighter", "personnel", "combatant", "einsatzkraeft")),
    ("people", ("mensch", "person", "leute", "einwohner", "bewohner", "zivilist", "buerger", "people",
                "resident", "civilian", "citizen", "individual")),
    ("money_eur", ("euro", "eur", "€")),
    ("money_usd", ("dollar", "us-dollar", "usd", "$")),
    ("percent", ("%", "prozent", "percent", "per cent", "prozentpunkt", "percentage point")),
    ("duration", ("tag", "woche", "monat", "jahr", "stunde", "minute", "day", "week", "month", "year", "hour")),
    ("weapons", ("rakete", "granate", "geschoss", "missile", "shell", "drohne", "drone", "panzer", "tank")),
    ("vehicles", ("fahrzeug", "vehicle")),
]
# predicates that turn counted people into casualties
_CASUALTY_PRED = [
    ("casualties", re.compile(r"get[öo]tet oder (?:schwer )?verwundet|verwundet oder get[öo]tet|tot oder verletzt|"
                              r"killed or (?:wounded|injured)|(?:wounded|injured) or killed|\bcasualt|\bverluste\b|"
                              r"\bopfer\b", re.I)),
    ("killed", re.compile(r"\bget[öo]tet|\bgefallen\b|\bums leben|\btote\b|\btoten\b|\btodesopfer|\bkilled\b|\bdead\b|"
                          r"\bdied\b|\bdeaths?\b|\bstarben\b|\bgestorben", re.I)),
    ("wounded", re.compile(r"\bverwundet|\bverletzt|\bwounded\b|\binjured\b", re.I)),
    ("captured", re.compile(r"\bgefangen|\bcaptured\b|\bprisoners?\b|\btaken prisoner", re.I)),
]
_CASUALTY_NOUNS = {"tote": "killed", "toten": "killed", "todesopfer": "killed", "verletzte": "wounded",
                   "verwundete": "wounded", "opfer": "casualties", "verluste": "casualties", "gefangene": "captured",
                   "dead": "killed", "deaths": "killed", "casualties": "casualties", "injured": "wounded",
                   "wounded": "wounded", "prisoners": "captured", "killed": "killed"}

KNOWN_CONCEPTS = frozenset({"soldiers", "people", "money_eur", "money_usd", "percent", "duration", "weapons", "vehicles",
                            "casualties", "killed", "wounded", "captured"})

CONCEPT_LABELS = {
    "en": {"soldiers": "troops", "people": "people", "casualties": "killed or wounded", "killed": "killed",
           "wounded": "wounded", "captured": "captured", "money_eur": "euros", "money_usd": "dollars",
           "percent": "percent", "duration": "time", "weapons": "weapons", "vehicles": "vehicles"},
    "de": {"soldiers": "Soldaten", "people": "Menschen", "casualties": "Getötete oder Verwundete",
           "killed": "Getötete", "wounded": "Verwundete", "captured": "Gefangene", "money_eur": "Euro",
           "money_usd": "Dollar", "percent": "Prozent", "duration": "Zeit", "weapons": "Waffen",
           "vehicles": "Fahrzeuge"},
}

_QUALIFIERS: list[tuple[str, re.Pattern[str]]] = [
    ("more_than", re.compile(r"(?:mehr als|über|ueber|more than|over|upwards of|in excess of|exceeding|"
                             r"weit über|deutlich mehr als)\s*$", re.I)),
    ("at_least", re.compile(r"(?:mindestens|wenigstens|at least|no fewer than|not less than)\s*$", re.I)),
    ("less_than", re.compile(r"(?:weniger als|unter|less than|fewer than|under|below)\s*$", re.I)),
    ("up_to", re.compile(r"(?:bis zu|up to|as many as|höchstens|at most|maximal)\s*$", re.I)),
    ("almost", re.compile(r"(?:knapp|fast|beinahe|nahezu|nearly|almost|close to|just under)\s*$", re.I)),
    ("approx", re.compile(r"(?:etwa|rund|ca\.|circa|zirka|ungefähr|schätzungsweise|geschätzte?n?|annähernd|"
                          r"about|around|approximately|roughly|some|an estimated|estimated|approx\.)\s*$", re.I)),
]
_INCREMENT_BEFORE = re.compile(r"(?:weitere[nmrs]?|zusätzliche[nmrs]?|additional|another|further|"
                               r"verstärkung (?:um|von)|reinforcements? of|aufgestockt um|erhöht um)\s*"
                               r"(?:(?:etwa|rund|ca\.|about|around|some|mehr als|more than|über)\s*)?$", re.I)
_INCREMENT_AFTER = re.compile(r"^\s*(?:weitere[nmrs]?|zusätzliche[nmrs]?|additional|more|extra|further)\b", re.I)
_REFERENCE_BEFORE = re.compile(
    r"(?:(?<![\w])(?:postfach|plz|hausnummer|zimmer)|(?<![\w])(?:artikel|art\.|paragraf|paragraph|§|nr\.|nummer|kapitel|seite|absatz|abs\.|article|section|chapter|page|"
    r"no\.|number|resolution|punkt|platz|stufe|level|version|flug|flight|tel\.?|telefon|phone|fax|zimmer|room|"
    r"gleis|linie|line|route|kw|band|vol\.|heft|ausgabe|issue|folge|episode|staffel|season|runde|round|"
    r"klasse|class|typ|type|modell|model|jahrgang|vers|zeile|row|tabelle|table|abbildung|figure))\s*$",
    re.I,
)
_SAY_VERBS = (r"schätzt|schätzte|schätzen|sagte|sagten|sagt|sagen|erklärte|erklärten|berichtete|berichteten|berichtet|"
              r"meldete|meldeten|gehen davon aus|geht davon aus|bestätigte|said|says|say|estimated|estimates|estimate|"
              r"reported|reports|told|claimed|claims|announced|believe|believes")
_ATTRIBUTION = [
    re.compile(r",\s+(?P<who>(?:the |der |die |das )?[^,.;:()]{3,60}?)\s+(?:said|says|told|reported|sagte|sagten|"
               r"berichtete|hieß es)\s*\.?$", re.I),
    re.compile(r"\b(?:gab|gaben|teilte|teilten)\s+(?P<who>(?:der|die|das|the)\s+[^,.;:()]{3,80}?)\s+(?:bekannt|mit|an)\b", re.I),
    re.compile(rf"^(?:(?:doch|aber|auch|zudem|außerdem|gleichzeitig|but|and|also)\s+)?(?P<who>[^.;:()]{{3,120}}?)\s+(?:{_SAY_VERBS})\b"
               r"(?=[^.]*\d|[^.]*(?:tausend|thousand|zehn|hundert))"),
    re.compile(r"^(?P<who>[^.;:()]{3,100}?)\s+zufolge\b"),
    re.compile(r"\b(?:laut|according to|nach angaben (?:von |des |der |aus )?|nach berichten (?:aus |von |des |der )?|"
               r"citing|zitiert nach)\s*(?P<who>[^,.;:()]{3,90}?)(?=,|\.|;|:| hat | habe | haben | sind | seien | sei |"
               r" wurden? | have | has | were | was | had |$)", re.I),
    re.compile(r"(?P<who>[A-ZÄÖÜ][^,.;:()]{2,90}?)\s+(?:zufolge|nach)\b(?!\s+(?:Russland|Moskau|Kursk))"),
    re.compile(rf"(?P<who>(?:[A-ZÄÖÜ]|die |der |das |the )[^,.;:()]{{2,90}}?)\s+(?:{_SAY_VERBS})\b"),
    re.compile(r"\b(?:sagte|sagten|erklärte|berichtet|berichtete|teilte|meldete|said|told|reported)\s+"
               r"(?P<who>(?:der |die |das |the )?[A-ZÄÖÜ][^,.;:()]{2,80}?)(?=,|\.|;| mit| gegenüber| am | im |$)"),
]
_TIME = re.compile(
    rf"\b(?:(?:im|in|am|seit|since|until|bis|ab|during|by|zu beginn|anfang|ende|mitte|early|late|mid-?)\s+)"
    rf"(?:(?:des|der|dem|den|dieses|diesen|letzten|vergangenen|laufenden|kommenden|nächsten|this|last|the|"
    rf"next|past|previous|ersten|first)\s+)*"
    rf"(?:{MONTH_NAMES}|herbst|frühjahr|frühling|sommer|winter|jahres|jahr|jahresbeginn|monaten?|wochen?|"
    rf"autumn|fall|spring|summer|year|months?|weeks?|quartal|quarter|\d{{4}})"
    rf"(?:\s+(?:des\s+jahres\s+|dieses\s+jahres|des\s+laufenden\s+jahres|of\s+)?\d{{4}})?"
    rf"(?:\s+(?:dieses|des|of this|of last)\s+(?:jahres|laufenden jahres|year))?",
    re.I,
)
_TIME2 = re.compile(r"\b(?:vergangenes|letztes|dieses|last|this)\s+(?:jahr|year|herbst|autumn|fall|frühjahr|spring|"
                    r"sommer|summer|winter|monat|month|woche|week)\b", re.I)

_NUM = re.compile(
    r"(?<![\w.,])(?P<cur>[$€£]\s?)?(?P<num>\d{1,3}(?:(?:[.,](?=\d{3}(?!\d))|[\u202f\u00a0 ](?=\d{3}(?![\d.,]\d)))\d{3})+"
    r"(?:[.,]\d+)?|\d+(?:[.,]\d+)?)(?![A-Za-zÄÖÜäöüß]{1,2}\b(?!\s*%))(?P<pct>\s?%)?"
)
_SCALE_AFTER = re.compile(
    r"\s*(millionen|million|millions|mio\.?|milliarden|milliarde|mrd\.?|billions?|bn|tausend|thousand|tsd\.?)\b", re.I
)
_WORD_NUM = re.compile(
    r"\b(?P<w>" + "|".join(sorted((re.escape(w) for w in list(_WORD_NUMBERS) + list(_VAGUE)), key=len, reverse=True))
    + r")\b",
    re.I,
)


@dataclass
class Figure:
    """One numeric claim. Spans are absolute positions in the document text."""

    value: float | None
    low: float | None
    high: float | None
    qualifier: str  # exact | approx | almost | more_than | at_least | less_than | up_to | range | vague
    role: str  # total | increment
    concept: str | None
    unit: str | None
    text: str
    quote: str
    start: int
    end: int
    sentence_start: int
    sentence_end: int
    attributed_to: str | None = None
    refers_to_time: str | None = None
    doc_id: str | None = None
    title: str | None = None
    date: str | None = None
    chunk_id: str | None = None
    extras: dict[str, str] = field(default_factory=dict)

    @property
    def vague(self) -> bool:
        return self.qualifier == "vague"

    def as_dict(self) -> dict[str, object]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "extras"}
        d["high"] = None if self.high is None or math.isinf(self.high) else self.high
        return d


@dataclass
class _Mention:
    start: int
    end: int
    value: float
    vague: bool = False
    percent: bool = False
    currency: str | None = None


# ---------------------------------------------------------------- number parsing


def parse_number(s: str, lang: str = "de") -> float | None:
    """Parse digits with separators: German "10.000"/"1,5", English "10,000"/"1.5", "10 000".

    A separator followed by exactly three digits (and, for a single separator, a language where that
    is the thousands mark or more than one group) is a thousands separator; otherwise a decimal mark.
    """
    s = s.replace("\u202f", " ").replace("\u00a0", " ").strip()
    if re.fullmatch(r"\d{1,3}(?: \d{3})+(?:[.,]\d+)?", s):
        s = s.replace(" ", "")
    if re.fullmatch(r"\d+", s):
        return float(s)
    m = re.fullmatch(r"(\d{1,3}(?:([.,])\d{3})+)(?:([.,])(\d+))?", s)
    if m:
        sep, dec = m.group(2), m.group(3)
        groups = m.group(1).count(sep)
        if dec and dec != sep:  # "10.000,5" or "10,000.5"
            return float(m.group(1).replace(sep, "") + "." + m.group(4))
        if groups > 1 or dec:  # "1.000.000"
            return float(re.sub(r"\D", "", s))
        thousands = "." if lang == "de" else ","
        if sep == thousands or lang not in ("de", "en"):
            return float(m.group(1).replace(sep, ""))
        return float(m.group(1).replace(sep, "."))
    m = re.fullmatch(r"(\d+)[.,](\d+)", s)
    if m:
        return float(f"{m.group(1)}.{m.group(2)}")
    return None


def _mentions(sentence: str, lang: str) -> list[_Mention]:
    """Number mentions in a sentence, with dates, times, years, ordinals and reference numbers removed."""
    blocked = [(a, b) for a, b, _ in find_dates(sentence)]
    blocked += [(m.start(), m.end()) for m in re.finditer(r"\b\d{1,2}:\d{2}(?::\d{2})?\b", sentence)]
    blocked += [(m.start(), m.end()) for m in re.finditer(r"\b\d{1,2}\.\d{1,2}\.(?!\d)", sentence)]
    # phone numbers and codes: +49 30 1234567, 030/1234567, 0171-1234567
    blocked += [(m.start(), m.end()) for m in re.finditer(
        r"\+\d[\d\s/()-]{6,}\d|\b0\d{2,5}[/-]\s?\d{3,}[\d\s-]*|\b\d{3}-\d{4}\b|\b\d+(?:st|nd|rd|th)\b|\[\d+\]",
        sentence)]
    blocked += [(m.start(), m.end()) for m in re.finditer(rf"\b\d{{1,2}}\.\s+(?:{MONTH_NAMES})\b", sentence, re.I)]
    out: list[_Mention] = []

    def free(a: int, b: int) -> bool:
        return not any(a < y and x < b for x, y in blocked)

    for m in _NUM.finditer(sentence):
        a, b = m.start("num"), m.end("num")
        if not free(a, b):
            continue
        raw = m.group("num")
        after = sentence[m.end() : m.end() + 40]
        before = sentence[max(0, a - 30) : a]
        if m.group("cur") is None and _REFERENCE_BEFORE.search(before):
            continue
        # German ordinal: "11. Luftlandebrigade", "2. Weltkrieg" (but not a sentence-final figure)
        if re.fullmatch(r"\d{1,3}", raw) and re.match(r"\.\s+[A-ZÄÖÜa-zäöü]", sentence[b : b + 3]) and lang != "en":
            if not re.match(r"\.\s+[A-ZÄÖÜ]\w*\s", sentence[b:]) or re.match(r"\.\s+[a-zäöü]", sentence[b:b + 3]) \
                    or not _is_sentence_end(sentence, b):
                continue
        value = parse_number(raw, lang)
        if value is None:
            continue
        # years: 4-digit integers 1800-2100 are years unless something countable follows
        if re.fullmatch(r"(18|19|20)\d\d", raw) and not m.group("pct") and not m.group("cur"):
            if not _concept_after(after)[0] or re.search(r"(?:jahr|year|im|in|seit|since|von|bis|ab|anfang|ende|mitte)\s*$",
                                                          before, re.I):
                continue
        scale_m = _SCALE_AFTER.match(after)
        end = m.end()
        if scale_m:
            value *= _SCALES[scale_m.group(1).lower()]
            end = m.end() + scale_m.end()
        cur = (m.group("cur") or "").strip() or None
        out.append(_Mention(m.start(), end, value, percent=bool(m.group("pct")), currency=cur))
    for m in _WORD_NUM.finditer(sentence):
        if not free(m.start(), m.end()) or any(x.start <= m.start() < x.end for x in out):
            continue
        w = m.group("w").lower()
        if w in _VAGUE:
            out.append(_Mention(m.start(), m.end(), float(_VAGUE[w]), vague=True))
            continue
        value = float(_WORD_NUMBERS[w])
        end = m.end()
        scale_m = re.match(r"\s*(millionen|million|milliarden|billion|tausend|thousand)\b", sentence[end:], re.I)
        if scale_m and value < 1000:
            value *= _SCALES[scale_m.group(1).lower()]
            end += scale_m.end()
        # "zwei" in "zweiten" is excluded by \b; "ten" in "often" too. Skip number words used as pronouns.
        if value <= 12 and re.match(r"\s+(?:of|von|der|die|das)\b", sentence[end:], re.I):
            continue
        out.append(_Mention(m.start(), end, value))
    # numbers written as digits followed by a scale word inside a word mention ("zwei Millionen") are merged above
    return sorted(out, key=lambda x: x.start)


def _is_sentence_end(sentence: str, pos: int) -> bool:
    return pos >= len(sentence.rstrip()) - 1


# ---------------------------------------------------------------- what is counted


_SKIP_WORDS = {
    "nordkoreanische", "nordkoreanischen", "russische", "russischen", "ukrainische", "ukrainischen", "weitere",
    "weiteren", "zusätzliche", "zusätzlichen", "neue", "neuen", "eigene", "eigenen", "eigener", "junge", "jungen",
    "north", "korean", "russian", "ukrainian", "additional", "more", "new", "extra", "further", "of", "its", "their",
    "american", "us", "u.s.", "chinese", "iranian", "other", "andere", "anderen", "zivile", "zivilen",
}


_EN_NOT_NOUNS = {"were", "was", "are", "is", "have", "has", "had", "to", "of", "in", "on", "at", "and", "or", "the", "a",
                 "for", "from", "by", "with", "than", "more", "less", "per", "each", "will", "would", "could", "may",
                 "might", "said", "says", "percent", "people"}


def _concept_after(after: str, lang: str = "de") -> tuple[str | None, str | None]:
    """Find the counted noun in the words after a number: ``(concept, surface_word)``."""
    head = after.lstrip()
    if head.startswith("%"):
        return "percent", "%"
    words = re.findall(r"[^\W\d_][\w\-]*|[%€$]", head[:80])
    for i, w in enumerate(words[:5]):
        wl = w.lower()
        concept = _concept_of(wl)
        if concept:
            return concept, w
        if wl in _SKIP_WORDS or (w[0].islower() and wl.endswith(("e", "en", "er", "es")) and i < 3 and
                                 wl not in ("wurden", "werden", "haben", "seien", "sind")):
            continue
        if w[0].isupper() and i < 3 and wl not in ("und", "and"):
            return stem(fold(wl)), w  # an unknown German noun: the noun itself is the concept
        if lang == "en" and i < 2 and w.isalpha() and wl not in _EN_NOT_NOUNS and not wl.endswith(("ed", "ly", "ing")):
            return stem(fold(wl)), w  # an unknown English noun ("2,000 firms")
        break
    return None, None


def _concept_of(word: str) -> str | None:
    f = fold(word)
    if word in _CASUALTY_NOUNS:
        return _CASUALTY_NOUNS[word]
    for concept, prefixes in _CONCEPTS:
        for p in prefixes:
            if f == p or (len(p) > 2 and f.startswith(p) and (concept != "soldiers" or p != "mann" or f in ("mann",))):
                if concept == "duration" and f.startswith(("jahrgang", "monatlich", "tagung", "tages")):
                    continue
                return concept
    return None


def _casualty_predicate(window: str) -> str | None:
    for concept, pat in _CASUALTY_PRED:
        if pat.search(window):
            return concept
    return None


def _attribution(sentence: str) -> str | None:
    for pat in _ATTRIBUTION:
        m = pat.search(sentence)
        if m:
            who = re.sub(r"\s+", " ", m.group("who")).strip(" \"'„“”»«")
            who = re.sub(r"^(?:dass|that|und|and|doch|aber|but|gleichzeitig)\s+", "", who, flags=re.I)
            if len(who) >= 3 and not re.fullmatch(r"(?:es|er|sie|it|he|she|they|man|wir|we)", who, re.I):
                return who
    return None


def _time_ref(sentence: str, near: tuple[int, int]) -> str | None:
    """The time expression closest to position ``near`` (the figure)."""
    cands = [(m.start(), m.group(0)) for m in _TIME.finditer(sentence)]
    cands += [(m.start(), m.group(0)) for m in _TIME2.finditer(sentence)]
    cands += [(a, sentence[a:b]) for a, b, _ in find_dates(sentence)]
    if not cands:
        return None
    start, end = near

    def dist(c: tuple[int, str]) -> int:
        a, b = c[0], c[0] + len(c[1])
        return start - b if b <= start else (a - end if a >= end else 0)

    return min(cands, key=dist)[1].strip()


# ---------------------------------------------------------------- extraction


def extract_figures(sentence: str, offset: int = 0, lang: str = "de", doc_date: str | None = None) -> list[Figure]:
    """Extract every figure from one sentence.

    Args:
        sentence: the sentence text.
        offset: its start position in the document (spans are made absolute).
        lang: the document language ("de"/"en"): decides decimal comma vs point.
        doc_date: the document date, kept as context.

    Returns:
        Figures in order of appearance.
    """
    mentions = _mentions(sentence, lang)
    # merge ranges: "zwischen 10.000 und 12.000", "10,000 to 12,000", "10.000–12.000"
    merged: list[tuple[_Mention, _Mention | None]] = []
    i = 0
    while i < len(mentions):
        m1 = mentions[i]
        if i + 1 < len(mentions):
            m2 = mentions[i + 1]
            gap = sentence[m1.end : m2.start]
            before = sentence[max(0, m1.start - 12) : m1.start].lower()
            if m2.value >= 1000 * m1.value and m1.value < 1000 and re.fullmatch(r"\s*(?:to|bis|auf|und|and|-|–)\s*", gap):
                scale = 1e9 if m2.value >= 1e9 else 1e6 if m2.value >= 1e6 else 1e3
                m1 = _Mention(m1.start, m1.end, m1.value * scale, m1.vague, m1.percent, m1.currency)
                mentions[i] = m1
            if re.search(r"\b(?:from|von)\s*$", before) and re.fullmatch(r"\s*(?:to|auf)\s*", gap):
                merged.append((m1, None))
                i += 1
                continue
            if (re.fullmatch(r"\s*(?:und|and)\s*", gap) and re.search(r"(?:zwischen|between)\s*$", before)) or \
                    re.fullmatch(r"\s*(?:bis|to|-|–|—)\s*", gap) and not m1.vague and not m2.vague and m2.value > m1.value:
                merged.append((m1, m2))
                i += 2
                continue
        merged.append((m1, None))
        i += 1

    attributed = _attribution(sentence)
    figures: list[Figure] = []
    last_concept: tuple[str | None, str | None] = (None, None)
    for m1, m2 in merged:
        start = m1.start
        end = (m2 or m1).end
        before = sentence[max(0, start - 40) : start]
        if m2 is not None:
            zb = re.search(r"(?:zwischen|between)\s*$", before, re.I)
            if zb:
                start = max(0, start - 40) + zb.start()
        after = sentence[end:]
        qualifier = "exact"
        low = high = m1.value
        if m2 is not None:
            qualifier, low, high = "range", m1.value, m2.value
        elif m1.vague:
            qualifier, low, high = "vague", m1.value, math.inf
        else:
            for name, pat in _QUALIFIERS:
                qm = pat.search(before)
                if qm:
                    qualifier = name
                    start = max(0, start - 40) + qm.start()
                    break
            v = m1.value
            low, high = {
                "exact": (v, v), "approx": (v * 0.9, v * 1.1), "almost": (v * 0.9, v), "more_than": (v, math.inf),
                "at_least": (v, math.inf), "less_than": (0.0, v), "up_to": (0.0, v),
            }[qualifier]
        role = "increment" if _INCREMENT_BEFORE.search(sentence[max(0, start - 40) : start]) or \
            _INCREMENT_AFTER.match(after) else "total"
        if m1.percent:
            concept, unit = "percent", "%"
        elif m1.currency:
            concept, unit = ("money_eur" if m1.currency == "€" else "money_usd"), m1.currency
        else:
            concept, unit = _concept_after(after, lang)
            if concept is None:
                # elliptical: "weitere 3.000 hinzukamen" counts what the previous figure counted
                concept, unit = last_concept
        # counted people who were killed/wounded/captured are casualties, not deployments
        nxt = [x.start for x, _ in merged if x.start > end]
        window = sentence[end : (nxt[0] if nxt else len(sentence))][:90]
        own_noun = unit is not None and (concept, unit) != last_concept
        if concept in ("soldiers", "people") or concept is None or (not own_noun and concept in ("killed", "wounded")):
            pred = _casualty_predicate(re.split(r"\b(?:und|and|,)\s+(?:in|im|am|weitere|the)\b", window)[0])
            if pred:
                concept = pred
        last_concept = (concept, unit)
        figures.append(Figure(
            value=None if qualifier in ("range", "vague") else m1.value,
            low=low, high=high, qualifier=qualifier, role=role, concept=concept, unit=unit,
            text=sentence[start:end], quote=sentence, start=offset + start, end=offset + end,
            sentence_start=offset, sentence_end=offset + len(sentence),
            attributed_to=attributed, refers_to_time=_time_ref(sentence, (start, end)), date=doc_date,
        ))
    return figures


# ---------------------------------------------------------------- formatting


def format_number(v: float, lang: str) -> str:
    """``10000`` -> "10,000" (en) / "10.000" (de); decimals keep their mark."""
    if v >= 1e9 and v % 1e8 == 0:
        n = v / 1e9
        word = "billion" if lang == "en" else ("Milliarden" if n != 1 else "Milliarde")
        return f"{_num(n, lang)} {word}"
    if v >= 1e6 and v % 1e5 == 0:
        n = v / 1e6
        word = "million" if lang == "en" else ("Millionen" if n != 1 else "Million")
        return f"{_num(n, lang)} {word}"
    return _num(v, lang)


def _num(v: float, lang: str) -> str:
    if float(v).is_integer():
        s = f"{int(v):,}"
        return s.replace(",", ".") if lang == "de" else s
    s = f"{v:,.2f}".rstrip("0").rstrip(".")
    if lang == "de":
        s = s.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return s


_QUAL_WORDS = {
    "en": {"approx": "about {}", "almost": "almost {}", "more_than": "more than {}", "at_least": "at least {}",
           "less_than": "less than {}", "up_to": "up to {}", "exact": "{}", "range": "{}–{}"},
    "de": {"approx": "etwa {}", "almost": "knapp {}", "more_than": "mehr als {}", "at_least": "mindestens {}",
           "less_than": "weniger als {}", "up_to": "bis zu {}", "exact": "{}", "range": "{}–{}"},
}
_VAGUE_WORDS = {
    "en": {24: "dozens", 200: "hundreds", 2000: "thousands", 20_000: "tens of thousands",
           200_000: "hundreds of thousands", 2_000_000: "millions"},
    "de": {24: "Dutzende", 200: "Hunderte", 2000: "Tausende", 20_000: "Zehntausende", 200_000: "Hunderttausende",
           2_000_000: "Millionen"},
}


def describe(f: Figure, lang: str = "en") -> str:
    """A short human rendering: "about 11,000", "10.000–12.000", "Tausende"."""
    lang = "de" if lang == "de" else "en"
    if f.qualifier == "vague":
        return _VAGUE_WORDS[lang].get(int(f.low or 0), format_number(f.low or 0, lang) + "+")
    if f.qualifier == "range":
        return _QUAL_WORDS[lang]["range"].format(format_number(f.low or 0, lang), format_number(f.high or 0, lang))
    v = f.value if f.value is not None else f.low or 0
    s = _QUAL_WORDS[lang][f.qualifier].format(format_number(v, lang))
    if f.concept == "percent":
        s += " %" if lang == "de" else "%"
    return s
