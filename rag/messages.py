"""Every user-facing sentence and label of an answer, in English and German, and how values are shown."""

from __future__ import annotations

import math
from datetime import date

from rag.values import unit_label

MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"],
    "de": ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November",
           "Dezember"],
}

TEXT = {
    "en": {
        "agree": "the sources agree",
        "copies": "one text in {n} copies",
        "according_to": "according to {who}",
        "vary_lead": "Estimates of the {what} vary",
        "conflict_lead": "The sources disagree on the {what}",
        "entities_lead": "The sources describe different things named {entity}",
        "entities_conflict_lead": "The sources describe different things named {entity} and disagree on the {what}",
        "entities_conflict_flag": "Sources describe different things named {entity} and differ on the {what}: {values}",
        "or": "or",
        "conflict_flag": "Sources differ on the {what}: {values}",
        "vary_flag": "Estimates of the {what} vary: {values}",
        "entities_flag": "Sources describe different things named {entity}: {values}",
        "one_says": "one source says {value}",
        "others_say": "other sources say {values}",
        "less_certain": "Read with less certainty: {values}",
        "less_certain_inline": "read with less certainty: {values}",
        "date_label": "date",
        "not_say": "The sources do not say {what}.",
        "not_say_plain": "The sources do not say.",
        "nearby": " Nearby, they say: ",
        "according_to_sources": "According to the sources:",
        "how_many": "how many {what}",
        "when": "when {what}",
        "who": "who {what}",
        "the_value": "the {what}",
        "unsupported_lang": "Only German and English questions are supported; answering in English.",
        "llm_fallback": "{error} — showing the extractive answer instead.",
        "recited": "A sentence cited {was}; what it states is in {now}, so it cites that.",
        "statements_head": "The model's sentences and their checks",
        "citation_moved": "citation moved",
        "range": "{low}–{high}",
        "approx": "about {v}",
        "more_than": "more than {v}",
        "at_least": "at least {v}",
        "less_than": "less than {v}",
        "up_to": "up to {v}",
        "vague": "{v}+",
        "increment": "additional {v}",
        "entity_value": "{label}: {value}",
    },
    "de": {
        "agree": "die Quellen stimmen überein",
        "copies": "ein Text in {n} Kopien",
        "according_to": "laut {who}",
        "vary_lead": "Die Angaben zu {what} schwanken",
        "conflict_lead": "Die Quellen widersprechen sich bei {what}",
        "entities_lead": "Die Quellen beschreiben Verschiedenes mit dem Namen {entity}",
        "entities_conflict_lead": ("Die Quellen beschreiben Verschiedenes mit dem Namen {entity} und widersprechen "
                                   "sich bei {what}"),
        "entities_conflict_flag": ("Die Quellen beschreiben Verschiedenes mit dem Namen {entity} und widersprechen "
                                   "sich bei {what}: {values}"),
        "or": "oder",
        "conflict_flag": "Die Quellen widersprechen sich bei {what}: {values}",
        "vary_flag": "Die Angaben zu {what} schwanken: {values}",
        "entities_flag": "Die Quellen beschreiben Verschiedenes mit dem Namen {entity}: {values}",
        "one_says": "eine Quelle nennt {value}",
        "others_say": "andere Quellen nennen {values}",
        "less_certain": "Weniger sicher gelesen: {values}",
        "less_certain_inline": "weniger sicher gelesen: {values}",
        "date_label": "dem Datum",
        "not_say": "Die Quellen enthalten keine Angabe {what}.",
        "not_say_plain": "Die Quellen enthalten keine Angabe dazu.",
        "nearby": " In der Nähe steht: ",
        "according_to_sources": "Laut den Quellen:",
        "how_many": "dazu, wie viele {what}",
        "when": "dazu, wann {what}",
        "who": "dazu, wer {what}",
        "the_value": "zu {what}",
        "unsupported_lang": "Nur deutsche und englische Fragen werden unterstützt; die Antwort ist englisch.",
        "llm_fallback": "{error} — stattdessen die extraktive Antwort.",
        "recited": "Ein Satz nannte {was}; was er aussagt, steht in {now}, daher nennt er diese Quelle.",
        "statements_head": "Sätze des Modells und ihre Prüfung",
        "citation_moved": "Quelle korrigiert",
        "range": "{low}–{high}",
        "approx": "etwa {v}",
        "more_than": "mehr als {v}",
        "at_least": "mindestens {v}",
        "less_than": "weniger als {v}",
        "up_to": "bis zu {v}",
        "vague": "{v}+",
        "increment": "weitere {v}",
        "entity_value": "{label}: {value}",
    },
}

# terminal/UI labels
LABELS = {
    "en": {"evidence": "Evidence", "figures": "Values by source", "value": "value", "what": "what", "who": "who says so",
           "when": "date", "source": "source", "notice": "note", "refused": "not answerable from the sources",
           "not_stated": "does not say"},
    "de": {"evidence": "Belege", "figures": "Angaben nach Quelle", "value": "Angabe", "what": "was", "who": "laut",
           "when": "Datum", "source": "Quelle", "notice": "Hinweis", "refused": "aus den Quellen nicht beantwortbar",
           "not_stated": "keine Angabe"},
}


def t(lang: str, key: str, **kw: object) -> str:
    """The sentence ``key`` in ``lang`` (English for other languages), filled in."""
    return TEXT["de" if lang == "de" else "en"][key].format(**kw)


def format_number(x: float, lang: str) -> str:
    """10000 -> "10,000" (en) / "10.000" (de); 2.4 -> "2.4" / "2,4"; millions and billions spelled."""
    if math.isinf(x):
        return "∞"
    big = [(1e12, "trillion", "Billionen"), (1e9, "billion", "Milliarden"), (1e6, "million", "Millionen")]
    for scale, en, de in big:
        q = x / scale
        if abs(x) >= scale and abs(q) < 1000 and abs(q - round(q, 2)) <= 1e-9 * abs(q):
            return f"{_plain_number(round(q, 2), lang)} {de if lang == 'de' else en}"
    return _plain_number(x, lang)


def _plain_number(x: float, lang: str) -> str:
    if float(x).is_integer():
        s = f"{int(x):,}"
    else:
        s = f"{x:,.2f}".rstrip("0").rstrip(".")
    if lang == "de":
        s = s.replace(",", "\u0000").replace(".", ",").replace("\u0000", ".")
    return s


_UNIT_SHOW = {"percent": "%", "prozent": "%", "per cent": "%"}
_CURRENCY_SHOW = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def format_quantity(value: float, low: float, high: float, qualifier: str, unit: str | None, dimension: str | None,
                    lang: str, increment: bool = False) -> str:
    """A quantity as the answer shows it: "10,000–12,000", "about 11,000", "€3.5 million", "2.4 %"."""

    def wrap(x: float) -> str:
        s = format_number(x, lang)
        if dimension == "money" and unit:
            sym = _CURRENCY_SHOW.get(unit)
            return f"{sym}{s}" if sym and lang == "en" else f"{s} {sym or unit}"
        if unit:
            return f"{s} {_UNIT_SHOW.get(unit) or unit_label(unit, lang, x) or unit}"
        return s

    if qualifier == "range":
        out = t(lang, "range", low=format_number(low, lang), high=wrap(high))
    elif qualifier in ("approx", "more_than", "at_least", "less_than", "up_to", "vague"):
        out = t(lang, qualifier, v=wrap(value))
    else:
        out = wrap(value)
    return t(lang, "increment", v=out) if increment else out


def format_date(iso: str, lang: str, qualifier: str = "exact") -> str:
    """ISO (day, month, year, decade or range "a/b") as words: "4 December 2024" / "4. Dezember 2024"."""
    if "/" in iso:
        a, b = iso.split("/", 1)
        if len(a) == len(b) == 10 and a[:7] == b[:7]:  # days of one month: "4–6 December 2024", "4.–6. Dezember 2024"
            return f"{int(a[8:])}{'.' if lang == 'de' else ''}–{format_date(b, lang)}"
        return f"{format_date(a, lang)}–{format_date(b, lang)}"
    if iso.endswith("s"):
        return f"{iso[:-1]}er" if lang == "de" else iso
    parts = iso.split("-")
    months = MONTHS["de" if lang == "de" else "en"]
    if len(parts) == 3:
        d = date.fromisoformat(iso)
        out = f"{d.day}. {months[d.month - 1]} {d.year}" if lang == "de" else f"{d.day} {months[d.month - 1]} {d.year}"
    elif len(parts) == 2:
        out = f"{months[int(parts[1]) - 1]} {parts[0]}"
    else:
        out = parts[0]
    if qualifier != "exact":
        out = t(lang, "approx", v=out)
    return out
