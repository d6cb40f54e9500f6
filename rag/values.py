"""Normalising values read from text: numbers in every usual form, units, currencies, dates and names.

Everything here works on exact spans: each mention keeps ``start``/``end`` in the text it was read from,
so a value can always be shown as the words the source used. Language data (number words, scales,
units, currencies, qualifiers) lives in ``rag/resources/language.yaml``; nothing here knows a topic.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from rag.text import _MONTHS, MONTH_NAMES, find_dates, fold

_RESOURCES = Path(__file__).with_name("resources") / "language.yaml"


@functools.lru_cache(maxsize=1)
def resources() -> dict[str, Any]:
    """The language resources (number words, units, qualifiers, question words), read once."""
    with open(_RESOURCES, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    data["scales"] = {k: float(v) for k, v in data["scales"].items()}  # YAML 1.1 reads "1.0e3" as text
    data["units"] = {k: (v[0], float(v[1])) for k, v in data["units"].items()}
    data["vague_amounts"] = {k: float(v) for k, v in data["vague_amounts"].items()}
    return data


def unit_label(unit: str, lang: str, value: float) -> str | None:
    """How an answer in ``lang`` shows ``unit`` (any spelling of the resources' units): "quadratmeilen" ->
    "sq mi" in English, "jahren" -> "years" / "Jahre" (singular for a value of one); ``None`` for a unit the
    resources do not list or label."""
    r = resources()
    if unit not in r["units"]:
        return None
    dim, factor = r["units"][unit]
    forms = r.get("unit_labels", {}).get(f"{dim}:{format(factor, '.10g')}", {}).get("de" if lang == "de" else "en")
    return (forms[0] if value == 1 else forms[1]) if forms else None


def _alternation(words: list[str] | set[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


# ---------------------------------------------------------------- quantities


@dataclass
class Quantity:
    """An amount stated in text. ``low``/``high`` bound what the words assert (``high`` may be ``inf``)."""

    value: float
    low: float
    high: float
    qualifier: str  # exact | approx | more_than | at_least | less_than | up_to | range | vague
    dimension: str  # count | money | percent | length | area | mass | duration | …
    unit: str | None  # ISO currency code or the unit's surface form as written
    base: float  # value in the dimension's base unit (metres, m², kg, days; money stays in its currency)
    start: int
    end: int
    text: str
    increment: bool = False
    rate: bool = False  # "742 inhabitants per square mile": an amount per unit of something else
    maybe_year: bool = False
    extras: dict[str, Any] = field(default_factory=dict)
    conversions: list[Quantity] = field(default_factory=list)  # the same measure in brackets: "(6.0 km2)"

    @property
    def base_low(self) -> float:
        return self.low * (self.base / self.value) if self.value else self.low

    @property
    def base_high(self) -> float:
        return self.high * (self.base / self.value) if self.value and not math.isinf(self.high) else self.high


@functools.lru_cache(maxsize=1)
def _patterns() -> dict[str, re.Pattern[str]]:
    r = resources()
    cur_syms = [c for c in r["currencies"] if not c.isalpha()]
    cur_words = [c for c in r["currencies"] if c.isalpha() or "-" in c]
    # before the number only an ISO code ("USD 5", "CHF 10"): a currency word there is a verb ("Labour won 412 seats")
    iso_codes = [c for c, code in r["currencies"].items() if c.isalpha() and c == str(code).lower()]
    units = list(r["units"])
    scales = list(r["scales"])
    # thousands separators: ".", ",", thin/no-break space, "'"; a plain space only in "10 000" / "1 000 000"
    # (a first group of one or two digits and no number after it: rows of a table stay separate numbers)
    num = (r"(?P<num>\d{1,3}(?:(?P<sep>[.,\u202f\u00a0'])\d{3})(?:(?P=sep)\d{3})*(?:[.,]\d+)?(?![\d])"
           r"|\d{1,2}(?P<ssep> )\d{3}(?: \d{3})*(?![\d.,]|\s\d)"
           r"|\d+(?:[.,]\d+)?)")
    return {
        "number": re.compile(
            rf"(?<![\w.,/°′″'])(?<![^\d]-)(?P<cur>{_alternation(cur_syms)}|"
            rf"(?:{_alternation(iso_codes)})\s)?\s?"
            + num
            + rf"(?:\s?(?P<scale>{_alternation(scales)})(?![\w²]))?"
            + rf"(?:\s?(?P<unit>{_alternation(units)})(?![\w]))?"
            + rf"(?:\s?(?P<curw>{_alternation(cur_words)})(?!\w))?",
            re.I,
        ),
        "words": re.compile(
            r"(?<![\w])(?P<w>(?:(?:" + _alternation({w for ws in r["number_words"].values() for w in ws} | set(r["half_words"]))
            + r")+(?:[\s\-]+|$|(?=[^\w])))+)",
            re.I,
        ),
        "vague_lead": re.compile(r"(?<![\w])(?:" + _alternation(r["vague_multipliers"]) + r")\s+$", re.I),
        "vague": re.compile(r"(?<![\w])(?P<v>" + _alternation(list(r["vague_amounts"])) + r")(?![\w])", re.I),
        "qualifier": re.compile(
            r"(?:" + "|".join(f"(?P<{k}>(?<![\\w])(?:{_alternation(v)}))" for k, v in r["qualifiers"].items())
            + r")\s*$", re.I),
        "increment": re.compile(r"(?<![\w])(?:" + _alternation(r["increment_words"]) + r")\s+$", re.I),
        "increment_after": re.compile(r"^\s+(?:" + _alternation(r["increment_words"]) + r")(?![\w])", re.I),
        # "per square mile", "inhabitants per km²", "Personen je Haushalt", "/km²" right after an amount
        # (the rate word in lower case: "6 Pro Bowl selections" names a game)
        "rate_after": re.compile(r"^(?:\s*/\s*[^\W\d]|(?:\s+[^\W\d][\w\-]*){0,2}\s+(?-i:"
                                 + _alternation(r["rate_words"]) + r")\s+(?!(?:the|der|die|das|dem|den)\s)\S)", re.I),
        "clock": re.compile(r"^\s?(?:" + _alternation(r["time_words"]) + r")(?![\w])", re.I),
        "reference": re.compile(r"(?<![\w])(?:" + _alternation(r["reference_words"]) + r")\s*$", re.I),
        "range_lead": re.compile(r"(?<![\w])(?:" + _alternation(r["range_lead"]) + r")\s+$", re.I),
        "range_join": re.compile(r"^\s*(?:" + _alternation(r["range_words"]) + r")\s*$", re.I),
    }


def parse_number(num: str, sep: str | None = None) -> float | None:
    """Read one number as written, deciding its format from the number itself.

    A single separator followed by exactly three digits is a thousands separator ("12,500" and "12.500"
    are both 12,500; "0.125" is a decimal), whatever the document's language; with both separators the
    last one is the decimal mark ("1.234,5", "1,234.5").
    """
    s = num.strip().replace("\u202f", " ").replace("\u00a0", " ").replace("'", " ")
    if " " in s:
        s = s.replace(" ", "")
    if "," in s and "." in s:
        dec = "," if s.rfind(",") > s.rfind(".") else "."
        s = s.replace("." if dec == "," else ",", "").replace(dec, ".")
    elif "," in s or "." in s:
        mark = "," if "," in s else "."
        parts = s.split(mark)
        if len(parts) > 2 or (len(parts[-1]) == 3 and parts[0] != "0" and sep is not None):
            s = "".join(parts)
        else:
            s = ".".join(parts)
    try:
        return float(s)
    except ValueError:
        return None


def _words_value(run: str, lang: str) -> float | None:
    """A spelled-out number run ("twenty-five thousand", "zehntausend", "half a million")."""
    from text_to_num import text2num

    words = [w for w in re.split(r"[\s\-]+", run.strip()) if w]
    low = [w.lower() for w in words]
    r = resources()
    half = set(r["half_words"])
    # "one and a half million", "zweieinhalb Millionen", "anderthalb Jahre": a whole number and a half
    m = re.fullmatch(r"(?P<a>.+?)(?:\s+and\s+a\s+half|einhalb|(?<=^ander)thalb)(?:\s+(?P<s>\S+))?", " ".join(low))
    if m:
        whole = 1.0 if m.group("a") == "ander" else _words_value(m.group("a"), lang)
        scale = r["scales"].get(m.group("s")) if m.group("s") else 1.0
        return (whole + 0.5) * scale if whole and scale else None
    while len(low) > 1 and low[0] in {"a", "an", "eine", "ein", "einer"} and low[1] in half:
        low = low[1:]
    if low and low[0] in half:
        rest = [w for w in low[1:] if w not in {"a", "an", "eine", "ein"}]
        scale = r["scales"].get(rest[0]) if len(rest) == 1 else None
        return 0.5 * scale if scale else None
    while low and low[0] in {"a", "and", "und", "ein", "eine", "einen"} and len(low) > 1:
        if low[1] in {"hundred", "thousand", "million", "billion", "hundert", "tausend", "dozen", "dutzend"}:
            low[0] = "one" if lang == "en" else "ein"
            break
        low = low[1:]
    if not low or low[-1] in {"and", "und", "a"}:
        return None
    if low[-1] in ("dozen", "dutzend"):  # "a dozen", "two dozen", "ein Dutzend"
        n = 1.0 if len(low) == 1 or low[:-1] in (["one"], ["ein"], ["eine"]) else _words_value(" ".join(low[:-1]), lang)
        return 12.0 * n if n else None
    if low in (["one"],) or low in (["ein"], ["eine"], ["einen"], ["eins"]):
        return 1.0
    for language in ([lang, "en", "de"] if lang in ("en", "de") else ["en", "de"]):
        try:
            return float(text2num(" ".join(low), language))
        except (ValueError, TypeError):
            continue
    return None


_DECIMAL_DEGREES = re.compile(r"[-−–]?\d{1,3}\.\d{4,}")


def _is_coordinate(text: str, a: int, b: int) -> bool:
    """Decimal degrees ("(41.172464, -88.265729)"): four or more decimals with another such number next to it."""
    if not _DECIMAL_DEGREES.fullmatch(text[a:b]):
        return False
    around = text[max(0, a - 16):a] + " " + text[b:b + 16]
    return bool(re.search(r"\d\.\d{4,}", around)) or text[b:b + 2].strip().startswith(("°", "N", "S", "E", "W"))


_ORDINAL_AFTER = re.compile(r"^(?:st|nd|rd|th|\.(?=\s*[a-zäöüß]))", re.I)
_YEAR = re.compile(r"^(1[0-9]{3}|20[0-9]{2})$")


_GLUED_NEXT = re.compile(r"[-–](\d{1,3}(?:[.,]\d{3})+|\d+)(?![\d\-–])")


def _glued_range(text: str, num: str, end: int) -> bool:
    """Whether "num" and the number glued to it by a dash are the two ends of a range ("30,000–50,000",
    "5-10", "100–150"), not one identifier ("555-0100", "20-18", "2-3-4"): the second number is larger,
    has no leading zero and at most one more digit, and the first is no year (a year range is a date)."""
    m = _GLUED_NEXT.match(text, end)
    if not m or m.group(1).startswith("0"):
        return False
    a, b = re.sub(r"\D", "", num), re.sub(r"\D", "", m.group(1))
    if not a or a.startswith("0") or (len(a) == 4 and 1000 <= int(a) <= 2100 and len(b) in (2, 4)):
        return False
    return int(b) > int(a) and len(b) - len(a) <= 1


@functools.lru_cache(maxsize=1)
def _fraction_pattern() -> re.Pattern[str]:
    r = resources()
    nums = {w for ws in r["number_words"].values() for w in ws} - {"and", "und", "zero", "null"}
    fracs = {w for fs in r["fractions"].values() for w in fs}
    scales = [s for s in r["scales"] if len(s) > 3]
    return re.compile(rf"(?<![\w])(?P<n>\d{{1,2}}|{_alternation(nums)})[\s\-]+(?P<f>{_alternation(fracs)})(?![\w])"
                      rf"(?P<of>\s+(?:of|der|des|aller)\b)?(?:\s+(?:a|an|einer|eine)\s+(?P<scale>{_alternation(scales)})(?![\w]))?",
                      re.I)


def _fractions(text: str, lang: str) -> list[Quantity]:
    """Fractions: "two thirds", "zwei Drittel", "one quarter of" as a share (percent dimension, 66.7),
    "a quarter of a million" as a count (250,000). An English singular ("third", "quarter") is also an
    ordinal ("a third party"), so it is a fraction only as "one/a third of"."""
    r = resources()
    dens = {k: v for fs in r["fractions"].values() for k, v in fs.items()}
    out = []
    for m in _fraction_pattern().finditer(text):
        frac, num = m.group("f").lower(), m.group("n").lower()
        if frac in r["fractions"]["en"] and not frac.endswith("s") and not (m.group("of") and num in ("a", "an", "one")):
            continue
        n = float(num) if num.isdigit() else 1.0 if num in ("a", "an", "einem", "einer") else _words_value(num, lang)
        if not n:
            continue
        share = n / dens[frac]
        if m.group("scale"):
            v = share * r["scales"][m.group("scale").lower()]
            out.append(Quantity(value=v, low=v, high=v, qualifier="exact", dimension="count", unit=None, base=v,
                                start=m.start(), end=m.end(), text=m.group(0)))
        else:
            v = round(100 * share, 1)
            out.append(Quantity(value=v, low=v, high=v, qualifier="exact" if v == 100 * share else "approx",
                                dimension="percent", unit="%", base=v, start=m.start(), end=m.end("f"),
                                text=text[m.start():m.end("f")]))
    return out


def find_quantities(text: str, lang: str = "en") -> list[Quantity]:
    """Every amount stated in ``text``: digits in any format, number words, scales, units, currencies,
    ranges ("10.000 bis 12.000", "between 3 and 5 km") and qualifiers.

    Not amounts: dates, ordinals ("4th", "11. Brigade"), references ("No. 31", "Route 66"), coordinates,
    clock times, numbers glued to words ("KSGF-FM", "B-52"). Four-digit numbers from 1000 to 2099 without
    unit or currency are kept but marked ``maybe_year``.
    """

    p = _patterns()
    r = resources()
    # dates are no amounts: days, months, decades and day ranges ("4–6 December 2024"); a year stays a
    # candidate marked maybe_year
    blocked = [(d.start, d.end) for d in find_date_values(text)
               if d.precision in ("day", "month", "decade") or (d.precision == "range" and "-" in d.iso)]
    raw: list[Quantity] = []
    for m in p["number"].finditer(text):
        a, b = m.start("num"), m.end("num")
        if any(x <= a < y for x, y in blocked):
            continue
        after = text[m.end(): m.end() + 6]
        before = text[max(0, m.start() - 20): m.start()]
        glued = re.search(r"(\d[\d.,]*)[-–]$", text[max(0, m.start() - 16):m.start()])
        if glued and (re.search(r"\d[-–]$", text[max(0, m.start() - 18):m.start() - len(glued.group(0))])
                      or not _glued_range(text, glued.group(1), m.start() - 1)):
            continue  # the second part of an identifier ("555-0100", "747-400"), not a number of its own
        if _ORDINAL_AFTER.match(text[b:b + 3]) or re.match(r"^\s?[°′″]|^[:/]\d|^\d", after) \
                or re.search(r"(?:\d[:/]|[°/])$", text[max(0, a - 3):a]):
            continue  # ordinals, coordinates in degrees, clock times and ratios ("12:30", "3/4")
        if _is_coordinate(text, a, b):
            continue
        if m.group("num") in ("2", "3") and re.search(r"(?<![\w])(?:km|mi|m|cm|mm|ft|in)\s?$", text[max(0, a - 4):a]) \
                and not re.match(r"\s?[\w.,]", text[b:b + 2]):
            continue  # the exponent of a unit written apart ("286.5/km 2 )"), not a number of its own
        if p["clock"].match(text[m.end():m.end() + 8]) and not m.group("unit") and not m.group("scale"):
            continue  # "2 Uhr", "2 a.m."
        if p["reference"].search(before) or before.endswith("+") or re.match(r"^\s\d{4,}", after) \
                or (re.match(r"^[-–]\d", after) and not _glued_range(text, m.group("num"), m.end())) \
                or re.fullmatch(r"\d{7,}", m.group("num")):
            continue  # references, phone numbers ("+49 30 …", "555-0100"), long identifiers
        value = parse_number(m.group("num"), m.group("sep") or m.group("ssep"))
        if value is None:
            continue
        unit_end = 0
        cur = (m.group("cur") or "").strip().lower() or (m.group("curw") or "").lower()
        scale_w = (m.group("scale") or "").lower()
        unit_w = (m.group("unit") or "").lower()
        if scale_w in ("m", "b", "k") and not cur:
            glued = m.start("scale") == b
            nxt = text[m.end("scale"): m.end("scale") + 2]
            if scale_w in ("b", "k") or not (glued and re.match(r"\s[a-z]", nxt)):  # "1.8m cars", but "3 m tall"
                if scale_w == "m":
                    unit_w, scale_w = "m", ""
                    unit_end = m.end("scale")
                else:
                    continue
        if unit_w == "m" and scale_w:
            unit_w = ""
        if unit_w in ("t",) and not re.match(r"\s", text[m.end("unit"): m.end("unit") + 1] or " "):
            continue
        raw_value = value
        value *= r["scales"].get(scale_w, 1.0) if scale_w else 1.0
        end = m.end()
        if unit_w and not m.group("curw"):
            end = unit_end or m.end("unit")
        if not unit_w and not m.group("curw"):
            end = m.end("scale") if scale_w else b
        start = m.start("cur") if m.group("cur") else a
        if cur:
            dim, unit, base = "money", r["currencies"].get(cur, cur.upper()), value
        elif unit_w:
            dim, factor = r["units"][unit_w]
            unit, base = unit_w, value * float(factor)
        else:
            dim, unit, base = "count", None, value
        maybe_year = bool(_YEAR.match(m.group("num"))) and dim == "count" and not scale_w
        raw.append(Quantity(value=value, low=value, high=value, qualifier="exact", dimension=dim, unit=unit, base=base,
                            start=start, end=end, text=text[start:end], maybe_year=maybe_year,
                            extras={"scale": value / raw_value if raw_value else 1.0}))
    raw.extend(q for q in _fractions(text, lang) if not any(o.start <= q.start < o.end for o in raw))
    for m in p["words"].finditer(text):
        run = m.group("w").rstrip(" -")
        a = m.start("w")
        lead = re.match(r"(?:(?:and|und|a|an)[\s\-]+)+(?!hundred|thousand|million|billion|dozen|hundert|tausend)", run, re.I)
        if lead:
            a += lead.end()
            run = run[lead.end():]
        if any(q.start <= a < q.end for q in raw) or run.lower() in r["vague_amounts"]:
            continue  # a bare plural scale ("Millionen von Menschen") is a vague amount, read below
        value = _words_value(run, lang)
        if value is None or value < 2 and not re.search(r"half|halb", run, re.I):
            continue
        end = a + len(run)
        tail = text[end:end + 12]
        sm = re.match(r"\s(" + _alternation([s for s in r["scales"] if len(s) > 2]) + r")\b", tail, re.I)
        if sm and not re.search(r"thousand|million|billion|tausend|million", run, re.I):
            value *= r["scales"][sm.group(1).lower()]
            end += sm.end()
        several = p["vague_lead"].search(text[max(0, a - 16):a]) if fold(run) in r["vague_scales"] else None
        if several:  # "several hundred", "viele Tausend": hundreds, thousands, not exactly 100 or 1,000
            a -= len(several.group(0))
            raw.append(Quantity(value=2 * value, low=2 * value, high=math.inf, qualifier="vague", dimension="count",
                                unit=None, base=2 * value, start=a, end=end, text=text[a:end]))
            continue
        raw.append(Quantity(value=value, low=value, high=value, qualifier="exact", dimension="count", unit=None,
                            base=value, start=a, end=end, text=text[a:end]))
    for m in p["vague"].finditer(text):
        if any(q.start <= m.start() < q.end for q in raw):
            continue
        v = float(r["vague_amounts"][m.group("v").lower()])
        raw.append(Quantity(value=v, low=v, high=math.inf, qualifier="vague", dimension="count", unit=None, base=v,
                            start=m.start(), end=m.end(), text=m.group(0)))
    raw.sort(key=lambda q: q.start)
    out: list[Quantity] = []
    i = 0
    while i < len(raw):
        q = raw[i]
        nxt = raw[i + 1] if i + 1 < len(raw) else None
        # ranges: "10.000 bis 12.000", "between 3 and 5 km", "10,000-12,000"
        low = q.value
        if nxt and q.extras.get("scale", 1.0) == 1.0 and nxt.extras.get("scale", 1.0) > 1.0 and q.dimension == "count":
            low = q.value * nxt.extras["scale"]  # "10 to 12 billion": the scale covers both ends
        from_change = re.search(r"(?<![\w])(?:from|von)\s+$", text[max(0, q.start - 6):q.start], re.I)
        if nxt and p["range_join"].match(text[q.end:nxt.start]) and low < nxt.value and not q.maybe_year \
                and not from_change and (q.dimension == nxt.dimension or q.dimension == "count"):
            joined = Quantity(value=(low + nxt.value) / 2, low=low, high=nxt.value, qualifier="range",
                              dimension=nxt.dimension, unit=nxt.unit, base=0.0,
                              start=q.start, end=nxt.end, text=text[q.start:nxt.end])
            joined.base = joined.value * (nxt.base / nxt.value if nxt.value else 1.0)
            lead = p["range_lead"].search(text[max(0, q.start - 12):q.start])
            if lead:
                joined.start -= len(lead.group(0))
                joined.text = text[joined.start:joined.end]
            out.append(joined)
            i += 2
            continue
        if low != q.value and nxt and p["range_join"].match(text[q.end:nxt.start]):
            q.value = q.low = q.high = q.base = low  # "from 10 to 12 billion": 10 billion
            q.dimension, q.unit = nxt.dimension, nxt.unit
        out.append(q)
        i += 1
    for q in out:
        before = text[max(0, q.start - 30):q.start]
        qm = p["qualifier"].search(before)
        if qm and q.qualifier == "exact":
            kind = qm.lastgroup or "approx"
            q.qualifier = kind
            q.start -= len(qm.group(0))
            q.text = text[q.start:q.end]
            if kind == "approx":
                q.low, q.high = q.value * 0.9, q.value * 1.1
            elif kind in ("more_than", "at_least"):
                q.low, q.high = q.value, math.inf
            elif kind in ("less_than", "up_to"):
                q.low, q.high = 0.0, q.value
            elif kind == "almost":
                q.low, q.high = q.value * 0.9, q.value
            before = text[max(0, q.start - 30):q.start]
        if p["increment"].search(before) or p["increment_after"].match(text[q.end:q.end + 20]):
            q.increment = True
        if p["rate_after"].match(text[q.end:q.end + 60]):
            q.rate = True
    # a conversion in brackets right after a measure is the same measure: "2.3 sq mi (6.0 km2)"
    final: list[Quantity] = []
    for q in out:
        if final and q.dimension == final[-1].dimension and q.dimension not in ("count", "money") \
                and re.fullmatch(r"\s*[(\[]\s*", text[final[-1].end:q.start]):
            final[-1].conversions.append(q)
            continue
        final.append(q)
    return final


# ---------------------------------------------------------------- dates


@dataclass
class DateValue:
    """A date or period stated in text, normalised to ISO at its own precision."""

    iso: str  # 1947-11-08 | 2013-03 | 1961 | 1880s | 1884/1886
    precision: str  # day | month | year | decade | range
    low: date
    high: date
    start: int
    end: int
    text: str
    qualifier: str = "exact"


_YEAR_RE = re.compile(r"(?<![\w.,\-/])(?P<q>(?:early|late|mid|around|about|circa|c\.|anfang|ende|mitte|um|etwa)[\s\-]+)?"
                      r"(?P<y>1[0-9]{3}|20[0-9]{2})(?P<s>s|er(?:jahre)?)?(?![\w\-]*\d)(?![.,]\d)", re.I)
_YEAR_RANGE = re.compile(r"(?<![\w.,\-/])(?P<a>1[0-9]{3}|20[0-9]{2})\s*(?:[-–—]|to|bis|until)\s*"
                         r"(?P<b>1[0-9]{3}|20[0-9]{2}|[0-9]{2})"
                         r"(?![\w.,]?\d)")
_MONTH_YEAR = re.compile(rf"(?<![\w])(?P<mn>{MONTH_NAMES})\.?,?\s+(?P<y>1[0-9]{{3}}|20[0-9]{{2}})(?!\d)", re.I)


def _month_year_spans(text: str) -> list[tuple[int, int, int, int]]:
    return [(m.start(), m.end(), int(m.group("y")), _MONTHS[m.group("mn").lower()]) for m in _MONTH_YEAR.finditer(text)]


def iso_bounds(iso: str) -> tuple[date, date]:
    """First and last day of an ISO period: a day, a month ("2013-03"), a year, a decade ("1880s") or a
    range ("1884/1886")."""
    if "/" in iso:
        a, b = iso.split("/", 1)
        return iso_bounds(a)[0], iso_bounds(b)[1]
    if iso.endswith("s"):
        y = int(iso[:-1])
        return date(y, 1, 1), date(y + 9, 12, 31)
    p = [int(x) for x in iso.split("-")]
    if len(p) == 3:
        return date(*p), date(*p)
    if len(p) == 2:
        nxt = date(p[0] + (p[1] == 12), p[1] % 12 + 1, 1)
        return date(p[0], p[1], 1), date.fromordinal(nxt.toordinal() - 1)
    return date(p[0], 1, 1), date(p[0], 12, 31)


_MONTH_ABBREVIATIONS = frozenset(k for k in _MONTHS if len(k) <= 4 and any(o != k and o.startswith(k) for o in _MONTHS))
_DAY_MONTH = [
    re.compile(rf"(?<![\w.])(?P<d>\d{{1,2}})(?:\.|st|nd|rd|th)?\s+(?:of\s+)?(?P<mn>{MONTH_NAMES})\b"
               r"(?![.,]?\s*(?:1[0-9]{3}|20[0-9]{2})\b)", re.I),
    re.compile(rf"\b(?P<mn>{MONTH_NAMES})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\b(?![.,:]?\d)(?!,?\s*(?:1[0-9]{{3}}|20[0-9]{{2}})\b)",
               re.I),
]
_MONTH_ALONE = re.compile(rf"\b(?:im|in|seit|since|bis|until|till|anfang|ende|mitte|early|late|mid|vom|von|from|ab|by)"
                          rf"[\s\-]+(?P<mn>{MONTH_NAMES})\b(?![.,]?\s*\d)", re.I)


def _overlaps(a: int, b: int, taken: list[tuple[int, int]]) -> bool:
    """Whether the span ``a:b`` begins or ends inside a span already read as a date."""
    return any(x <= a < z or x < b <= z for x, z in taken)


def iso_date(value: str | None) -> date | None:
    """A date given as ISO text (an article's date), or ``None`` if there is none or it is no valid date."""
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


_PAST_REACH = 270  # days: news reports mostly look back; a day or month further back than this is the coming one


def _nearest_year(ref: date, month: int, day: int | None, past_only: bool = False) -> int:
    """The year of a day or month stated without one, from the article's date (``ref``): the latest such day
    up to the article's date if it lies at most ``_PAST_REACH`` days back (or the preposition says "since"),
    else the next one. In an article of 5 December 2024, "am 4. Dezember" and "May 4" are 2024, "im Januar"
    and "am 12. Dezember" January 2025 and 12 December 2024."""
    def on(y: int) -> date:
        return date(y, month, min(day or 15, 28 if month == 2 else 30 if month in (4, 6, 9, 11) else 31))
    past = ref.year if on(ref.year) <= ref else ref.year - 1
    if past_only or (ref - on(past)).days <= _PAST_REACH:
        return past
    return past + 1


def _yearless(text: str, ref: date, taken: list[tuple[int, int]]) -> list[DateValue]:
    """Days and months stated without a year ("am 4. Juli", "July 4", "im November"), given the year that
    puts them nearest to the article's date. Month names must be capitalised (English "may"), and a month
    on its own needs a preposition ("im November", "since March") and its full name."""
    out = []
    for pat in _DAY_MONTH:
        for m in pat.finditer(text):
            mn = m.group("mn")
            if not mn[:1].isupper() or _overlaps(m.start(), m.end(), taken):
                continue
            month, day = _MONTHS[mn.lower()], int(m.group("d"))
            try:
                d = date(_nearest_year(ref, month, day), month, day)
            except ValueError:
                continue
            out.append(DateValue(iso=d.isoformat(), precision="day", low=d, high=d, start=m.start(), end=m.end(),
                                 text=m.group(0)))
            taken.append((m.start(), m.end()))
    for m in _MONTH_ALONE.finditer(text):
        mn = m.group("mn")
        if not mn[:1].isupper() or mn.lower() in _MONTH_ABBREVIATIONS \
                or any(x <= m.start("mn") < z for x, z in taken):
            continue
        month = _MONTHS[mn.lower()]
        since = m.group(0).lower().startswith(("seit", "since"))
        iso = f"{_nearest_year(ref, month, None, since):04d}-{month:02d}"
        out.append(DateValue(iso, "month", *iso_bounds(iso), start=m.start("mn"), end=m.end("mn"), text=mn))
        taken.append((m.start("mn"), m.end("mn")))
    return out


_DAY_RANGES = [
    # "vom 4. bis 6. Dezember 2024", "4.–6. Dezember 2024", "4–6 December 2024", "4 and 5 December 2024"
    re.compile(rf"(?<![\w.])(?P<d1>\d{{1,2}})(?:\.|st|nd|rd|th)?\s*(?:[-–—]|bis(?:\s+zum)?|to|and|und)\s*"
               rf"(?P<d2>\d{{1,2}})(?:\.|st|nd|rd|th)?\s+(?P<mn>{MONTH_NAMES})\.?,?\s+(?P<y>\d{{4}})\b", re.I),
    # "December 4–6, 2024", "December 4 to 6, 2024"
    re.compile(rf"\b(?P<mn>{MONTH_NAMES})\.?\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s*(?:[-–—]|to|and)\s*"
               rf"(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>\d{{4}})\b", re.I),
]
# two-digit decades: "die 90er Jahre", "the '90s", "in den Neunzigern" is left to the words: 1930s to 1990s only
# ("die 20er Jahre" may be either century)
_SHORT_DECADE = re.compile(r"(?<![\w'’])(?:['’](?P<a>[3-9]0)s|(?P<b>[3-9]0)(?:er(?:\s+|-)?[Jj]ahren?|s\b))")


def _day_ranges(text: str, taken: list[tuple[int, int]]) -> list[DateValue]:
    out = []
    for pat in _DAY_RANGES:
        for m in pat.finditer(text):
            if any(x <= m.start() < z for x, z in taken):
                continue
            month = _MONTHS[m.group("mn").lower()]
            try:
                a = date(int(m.group("y")), month, int(m.group("d1")))
                b = date(int(m.group("y")), month, int(m.group("d2")))
            except ValueError:
                continue
            if b <= a:
                continue
            out.append(DateValue(iso=f"{a.isoformat()}/{b.isoformat()}", precision="range", low=a, high=b,
                                 start=m.start(), end=m.end(), text=m.group(0)))
            taken.append((m.start(), m.end()))
    for m in _SHORT_DECADE.finditer(text):
        if any(x <= m.start() < z for x, z in taken):
            continue
        y = 1900 + int(m.group("a") or m.group("b"))
        out.append(DateValue(iso=f"{y}s", precision="decade", low=date(y, 1, 1), high=date(y + 9, 12, 31),
                             start=m.start(), end=m.end(), text=m.group(0)))
        taken.append((m.start(), m.end()))
    return out


@functools.lru_cache(maxsize=1)
def _relative_patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    r = resources()
    days = re.compile(rf"(?<![\w])(?P<w>{_alternation(list(r['relative_days']))})(?![\w])", re.I)
    years = re.compile(rf"(?<![\w])(?:im\s+|in\s+)?(?P<w>{_alternation(list(r['relative_years']))})(?![\w])", re.I)
    names = [w for ws in r["weekdays"].values() for w in ws]
    weekdays = re.compile(rf"(?<![\w])(?:on|am|last|vergangenen|letzten)\s+(?P<w>{_alternation(names)})(?![\w])", re.I)
    return days, years, weekdays


def _relative(text: str, ref: date, taken: list[tuple[int, int]]) -> list[DateValue]:
    """Days and years stated relative to the article's date (``ref``): "yesterday", "gestern", "am Montag"
    (the latest Monday up to the article's date), "im vergangenen Jahr", "this year"."""
    r = resources()
    days, years, weekdays = _relative_patterns()
    names = {w: i for ws in r["weekdays"].values() for i, w in enumerate(ws)}
    out = []

    def add(a: int, b: int, dv: DateValue) -> None:
        if not _overlaps(a, b, taken):
            out.append(dv)
            taken.append((a, b))

    for m in days.finditer(text):
        d = date.fromordinal(ref.toordinal() - int(r["relative_days"][m.group("w").lower()]))
        add(m.start("w"), m.end("w"), DateValue(d.isoformat(), "day", d, d, m.start("w"), m.end("w"), m.group("w")))
    for m in weekdays.finditer(text):
        if not m.group("w")[:1].isupper():
            continue
        d = date.fromordinal(ref.toordinal() - (ref.weekday() - names[m.group("w").lower()]) % 7)
        add(m.start("w"), m.end("w"), DateValue(d.isoformat(), "day", d, d, m.start("w"), m.end("w"), m.group("w")))
    for m in years.finditer(text):
        y = ref.year - int(r["relative_years"][m.group("w").lower()])
        add(m.start("w"), m.end("w"), DateValue(f"{y:04d}", "year", date(y, 1, 1), date(y, 12, 31), m.start("w"),
                                                m.end("w"), m.group("w")))
    return out


def find_date_values(text: str, ref: date | None = None) -> list[DateValue]:
    """Every date, month, year, decade or year range in ``text``, in order: "8 November 1947",
    "November 8, 1947", "8.11.1947", "March 2013", "1961", "the 1880s", "late 1964", "1884–1886",
    "between 1914 and 1918". With ``ref`` (the article's date), also days and months stated without a
    year ("am 4. Dezember", "im November"), in the year nearest to it, and dates relative to it
    ("gestern", "am Montag", "im vergangenen Jahr")."""
    taken: list[tuple[int, int]] = []
    out: list[DateValue] = _day_ranges(text, taken)
    for a, b, iso in find_dates(text):
        if any(x <= a < z for x, z in taken):
            continue
        d = date.fromisoformat(iso)
        out.append(DateValue(iso=iso, precision="day", low=d, high=d, start=a, end=b, text=text[a:b]))
        taken.append((a, b))
    for a, b, y, mo in _month_year_spans(text):
        if _overlaps(a, b, taken):
            continue
        iso = f"{y:04d}-{mo:02d}"
        out.append(DateValue(iso, "month", *iso_bounds(iso), start=a, end=b, text=text[a:b]))
        taken.append((a, b))
    if ref is not None:
        # "am Montag (28.04.2025)": a day the text also states in full is not read twice
        stated = {d.iso for d in out}
        out.extend(d for d in _yearless(text, ref, taken) + _relative(text, ref, taken) if d.iso not in stated)
    for m in _YEAR_RANGE.finditer(text):
        y1, y2 = int(m.group("a")), m.group("b")
        y2i = int(y2) if len(y2) == 4 else (y1 // 100) * 100 + int(y2)
        if y2i <= y1 or any(x <= m.start() < z for x, z in taken):
            continue
        out.append(DateValue(iso=f"{y1:04d}/{y2i:04d}", precision="range", low=date(y1, 1, 1), high=date(y2i, 12, 31),
                             start=m.start(), end=m.end(), text=m.group(0)))
        taken.append((m.start(), m.end()))
    for m in _YEAR_RE.finditer(text):
        a, b = m.start(), m.end()
        if any(x <= m.start("y") < z for x, z in taken):
            continue
        if re.match(r"^\s?(?:%|[°′″]|(?:km|m|kg|ft|mi|t)\b)", text[b:b + 4]) and not m.group("s"):
            continue
        y = int(m.group("y"))
        if m.group("s"):
            if y % 10:
                continue
            dv = DateValue(iso=f"{y}s", precision="decade", low=date(y, 1, 1), high=date(y + 9, 12, 31), start=a, end=b,
                           text=text[a:b])
        else:
            dv = DateValue(iso=f"{y:04d}", precision="year", low=date(y, 1, 1), high=date(y, 12, 31), start=a, end=b,
                           text=text[a:b])
        if m.group("q"):
            dv.qualifier = "approx"
        out.append(dv)
        taken.append((a, b))
    out.sort(key=lambda d: d.start)
    # year ranges "1884–1886", "1912-1914", "1790 to 1794", "between 1914 and 1918"
    range_lead = _patterns()["range_lead"]
    merged: list[DateValue] = []
    for d in out:
        prev = merged[-1] if merged else None
        if prev and prev.precision in ("year", "day", "month") and d.precision in ("year", "day", "month") \
                and (d.precision == prev.precision or "(" in text[max(0, prev.start - 2):prev.start]) \
                and prev.low < d.low:
            gap = text[prev.end:d.start]
            lead = range_lead.search(text[max(0, prev.start - 10):prev.start])
            if re.fullmatch(r"\s*(?:[-–—]|to|bis|until)\s*", gap) or (lead and re.fullmatch(r"\s+(?:and|und)\s+", gap)):
                a = prev.start - (len(lead.group(0)) if lead else 0)
                merged[-1] = DateValue(iso=f"{prev.iso}/{d.iso}", precision="range", low=prev.low, high=d.high,
                                       start=a, end=d.end, text=text[a:d.end])
                continue
        merged.append(d)
    return merged


# ---------------------------------------------------------------- names

_TRANSLIT = [("tsch", "ch"), ("sch", "sh"), ("zh", "j"), ("kh", "h"), ("ck", "k"), ("ph", "f"), ("th", "t"),
             ("w", "v"), ("yj", "y"), ("ij", "y"), ("j", "y"), ("z", "s"), ("c", "k"), ("q", "k"), ("ae", "a"),
             ("oe", "o"), ("ue", "u"), ("ie", "i"), ("ou", "u"), ("ee", "i"), ("oo", "u")]


def name_key(name: str) -> str:
    """A spelling-insensitive key for a name: transliterated to ASCII, lowercased, hyphens and
    punctuation dropped, and German/English transcription differences folded
    (Tschaikowski ~ Tchaikovsky, Jelzin ~ Yeltsin, Jong-un ~ Jong Un)."""
    from anyascii import anyascii

    s = fold(anyascii(name)).lower()
    s = re.sub(r"[^a-z0-9 ]+", " ", s.replace("-", " "))
    words = []
    for w in s.split():
        for a, b in _TRANSLIT:
            w = w.replace(a, b)
        w = re.sub(r"(.)\1+", r"\1", w)
        words.append(w)
    return " ".join(words)


def same_name(a: str, b: str, threshold: float = 85.0) -> bool:
    """Whether two names denote the same thing across spellings: equal keys, one name's words all
    within the other's (the surname alone), or a high transliteration-aware string similarity."""
    from rapidfuzz import fuzz

    ka, kb = name_key(a), name_key(b)
    if not ka or not kb:
        return False
    if ka == kb or ka.replace(" ", "") == kb.replace(" ", ""):
        return True
    wa, wb = set(ka.split()), set(kb.split())
    if (wa <= wb or wb <= wa) and min(len(wa), len(wb)) >= 1 and max(len(w) for w in wa & wb or {""}) >= 4:
        return True
    return fuzz.ratio(ka, kb) >= threshold or fuzz.token_sort_ratio(ka, kb) >= threshold + 5
