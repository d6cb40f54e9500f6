"""Language-aware text utilities: sentence splitting, language detection, BM25 tokens, dates."""

from __future__ import annotations

import functools
import re
import unicodedata
from datetime import date

# Abbreviations after which a period does not end a sentence (lowercased, without the final dot).
ABBREVIATIONS = frozenset(
    """
    ca bzw vgl usw etc evtl ggf inkl exkl zzgl abs art nr str dr prof dipl ing hr fr frl st jh jhd mio mrd
    tsd z.b u.a d.h o.ä u.ä s.o s.u z.t i.d.r bspw sog min max ca. mr mrs ms jr sr vs e.g i.e u.s u.k no
    approx corp inc ltd co gen lt col sgt capt gov sen rep jan feb mär apr jun jul aug sep sept okt oct
    nov dez dec bd hrsg verf anm orig tel fig
    """.split()
)

_MONTHS = {
    "januar": 1, "jänner": 1, "january": 1, "jan": 1,
    "februar": 2, "february": 2, "feb": 2,
    "märz": 3, "maerz": 3, "march": 3, "mär": 3, "mar": 3,
    "april": 4, "apr": 4,
    "mai": 5, "may": 5,
    "juni": 6, "june": 6, "jun": 6,
    "juli": 7, "july": 7, "jul": 7,
    "august": 8, "aug": 8,
    "september": 9, "sept": 9, "sep": 9,
    "oktober": 10, "october": 10, "okt": 10, "oct": 10,
    "november": 11, "nov": 11,
    "dezember": 12, "december": 12, "dez": 12, "dec": 12,
}
MONTH_NAMES = "|".join(sorted(_MONTHS, key=len, reverse=True))

_BOUNDARY = re.compile(r"[.!?…]+[\"'»«“”„’)\]]*(?=\s+)")
_NEXT_START = re.compile(r"\s+[\"'»«“”„(\[]*[A-ZÄÖÜ0-9À-Þ]")


def split_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Split ``text`` into sentences.

    German-aware: abbreviations ("ca.", "z. B."), ordinals and dates ("11. Luftlandebrigade",
    "28.04."), thousands separators ("10.000") and initials do not end a sentence. Line breaks that
    separate paragraphs (blank lines) always do.

    Args:
        text: the text to split.
        offset: added to every returned position.

    Returns:
        Half-open spans ``(start, end)`` without surrounding whitespace.
    """
    spans: list[tuple[int, int]] = []
    for pstart, pend in _paragraphs(text):
        para = text[pstart:pend]
        start = 0
        for m in _BOUNDARY.finditer(para):
            end = m.end()
            if not _is_boundary(para, m.start(), end):
                continue
            _add(spans, para, start, end, pstart + offset)
            start = end
        _add(spans, para, start, len(para), pstart + offset)
    return spans


def _paragraphs(text: str) -> list[tuple[int, int]]:
    """Blocks separated by line breaks, except hard-wrapped lines (no final punctuation, next line
    starting in lowercase), which continue the same block."""
    out = []
    pos = 0
    for m in re.finditer(r"[ \t]*\n\s*", text):
        before = text[max(0, m.start() - 1) : m.start()]
        after = text[m.end() : m.end() + 1]
        if "\n" not in m.group(0).strip(" \t")[1:] and after.islower() and before not in ".!?:…\"“”»":
            continue  # a hard-wrapped line continues the sentence
        out.append((pos, m.start()))
        pos = m.end()
    out.append((pos, len(text)))
    return out


def _add(spans: list[tuple[int, int]], para: str, start: int, end: int, base: int) -> None:
    seg = para[start:end]
    stripped = seg.strip()
    if not stripped:
        return
    lead = len(seg) - len(seg.lstrip())
    spans.append((base + start + lead, base + start + lead + len(stripped)))


def _is_boundary(para: str, punct_start: int, end: int) -> bool:
    nxt = _NEXT_START.match(para, end)
    if nxt is None:
        # followed by lowercase: not a boundary, unless a line break separates them
        gap = para[end : end + 3]
        return "\n" in gap and para[punct_start] != "."
    if para[punct_start] != ".":
        return True
    if para[punct_start : punct_start + 3] == "...":
        return True
    word_m = re.search(r"(\S+)$", para[max(0, punct_start - 80) : punct_start])
    if not word_m:
        return True
    word = word_m.group(1).lstrip("\"'»«“”„(").lower()
    if word in ABBREVIATIONS or word.rstrip(".") in ABBREVIATIONS:
        return False
    if len(word) == 1 and word.isalpha():  # initials: "J. Smith", "z. B."
        return False
    if re.fullmatch(r"\d{1,2}", word):  # ordinals and dates: "11. Luftlandebrigade", "4. Dezember"
        return False
    if re.fullmatch(r"\d{1,2}\.\d{1,2}", word):  # "28.04. ..."
        return False
    if re.fullmatch(r"(?:[a-zäöü]\.)+[a-zäöü]", word):  # "z.B", "u.a", "d.h"
        return False
    return True


# ---------------------------------------------------------------- language detection

_STOP = {
    "de": set(
        "der die das und ist nicht ein eine einer eines den dem des mit von zu auf für im in sich auch "
        "es hat haben wurde wurden sind war als nach bei aus wie wird dass über vor noch um oder sie er".split()
    ),
    "en": set(
        "the and is are was were a an of to in on for with that this it by from as at be has have had "
        "not or which who what how many when did does do".split()
    ),
}


def detect_language(text: str) -> str:
    """Detect the language of ``text``.

    Returns:
        ``"de"`` or ``"en"`` by stop-word evidence; for other scripts an ISO-like tag
        (``"ru"`` for Cyrillic, ``"ko"``, ``"zh"``, ``"ja"``, ``"ar"``, ``"el"``); ``"und"`` if unknown.
    """
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return "und"
    scripts: dict[str, int] = {}
    for c in letters[:2000]:
        name = unicodedata.name(c, "")
        key = name.split(" ")[0] if name else "?"
        scripts[key] = scripts.get(key, 0) + 1
    top = max(scripts, key=lambda k: scripts[k])
    other = {"CYRILLIC": "ru", "HANGUL": "ko", "CJK": "zh", "HIRAGANA": "ja", "KATAKANA": "ja",
             "ARABIC": "ar", "GREEK": "el", "HEBREW": "he"}
    if top in other and scripts[top] > 0.3 * len(letters[:2000]):
        return other[top]
    de, en = _stopword_votes(text)
    if de == en == 0:
        return "und"
    return "de" if de > en else "en"


def _stopword_votes(text: str) -> tuple[int, int]:
    """German and English evidence in ``text``: its function words of each language, and twice its umlauts
    and ß for German."""
    words = re.findall(r"[a-zäöüß]+", text.lower()[:20000])
    de = sum(w in _STOP["de"] for w in words) + 2 * sum(c in "äöüß" for c in text[:5000].lower())
    return de, sum(w in _STOP["en"] for w in words)


def question_language(question: str) -> str:
    """The language of a question: :func:`detect_language`, with the question word it opens with (or that
    follows its first word, a preposition) counted twice more. A short question has few function words, and
    some are shared: "Was kündigte Meyer an?" has English "was" and "an"; "Welche Sportart betreibt Wayne
    Jones?" none at all.

    Returns:
        ``"de"`` or ``"en"`` where either is evident, else what :func:`detect_language` says.
    """
    lang = detect_language(question)
    if lang not in ("de", "en", "und"):
        return lang
    from rag.values import resources  # (rag.values reads this module: imported here, not above)

    r = resources()
    qwords = {k: set(ws) for k, ws in r["question_words"].items()}
    first = re.match(r"\s*[¿¡\"'„“]?(\w+)\s*(\w*)\s*(\w*)", question)
    words3 = [w.lower() for w in first.groups()] if first else ["", "", ""]
    # the question word opens the question or follows its preposition ("In welchem Jahr …", "In which year …")
    at = next((i for i in (0, 1) if any(words3[i] in ws for ws in qwords.values())), None)
    opener = words3[at] if at is not None else ""
    if opener in qwords["de"] and words3[at + 1] in r["english_subjects"]:
        opener = ""  # "Was he born in 1950?" is English
    votes = {k: 2 * (opener in ws) for k, ws in qwords.items()}
    if not any(votes.values()):
        return lang
    de, en = _stopword_votes(question)
    de, en = de + votes["de"], en + votes["en"]
    return "de" if de > en else "en" if en > de else lang


# ---------------------------------------------------------------- tokens for lexical search

_TOKEN = re.compile(r"\d+(?:[.,\u202f ]\d{3})+(?:,\d+)?|\d+(?:[.,]\d+)?|[^\W\d_]+(?:-[^\W\d_]+)*")
_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_SUFFIXES = ("ungen", "ern", "en", "er", "es", "em", "e", "n", "s")


@functools.lru_cache(maxsize=1 << 16)
def fold(word: str) -> str:
    """Lowercase, fold umlauts and strip other diacritics (remembered: the reader folds the same words for
    every candidate)."""
    w = word.lower().translate(_FOLD)
    return "".join(c for c in unicodedata.normalize("NFKD", w) if not unicodedata.combining(c))


def stem(word: str) -> str:
    """A light German/English suffix stripper (enough to match plural and case forms)."""
    for suf in _SUFFIXES:
        if word.endswith(suf) and len(word) - len(suf) >= 4:
            return word[: -len(suf)]
    return word


def normalize_number(tok: str) -> str:
    """``"10.000"``, ``"10,000"``, ``"10 000"`` -> ``"10000"``."""
    if re.fullmatch(r"\d+(?:[.,\u202f ]\d{3})+", tok):
        return re.sub(r"\D", "", tok)
    return tok.replace(",", ".")


def lexical_tokens(text: str) -> list[str]:
    """Tokens for BM25: folded, lightly stemmed words plus normalised numbers; stop words dropped."""
    out = []
    for m in _TOKEN.finditer(text):
        tok = m.group(0)
        if tok[0].isdigit():
            out.append(normalize_number(tok))
            continue
        for part in tok.split("-"):
            w = fold(part)
            if len(w) < 2 or w in _STOP_FOLDED:
                continue
            out.append(stem(w))
    return out


_STOP_FOLDED = {fold(w) for ws in _STOP.values() for w in ws}


_CAP_WORD = re.compile(r"\b[A-ZÄÖÜ][\w\-]*[a-zäöüß][\w\-]*|\b[A-Z]{2,}\b")


def entity_tokens(text: str) -> set[str]:
    """Language-independent anchors: capitalised names (not sentence-initial function words) and
    numbers, folded. Used to match names and figures across languages."""
    out: set[str] = set()
    for m in _TOKEN.finditer(text):
        tok = m.group(0)
        if tok[0].isdigit():
            out.add(normalize_number(tok))
    for m in _CAP_WORD.finditer(text):
        w = fold(m.group(0))
        if w in _STOP_FOLDED or len(w) < 3:
            continue
        out.add(stem(w))
    return out


# ---------------------------------------------------------------- dates

_DATE_PATTERNS = [
    re.compile(r"\b(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})\b"),
    re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})(?!\d)"),
    re.compile(rf"\b(?P<d>\d{{1,2}})\.?\s+(?P<mn>{MONTH_NAMES})\.?,?\s+(?P<y>\d{{4}})\b", re.I),
    re.compile(rf"\b(?P<mn>{MONTH_NAMES})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>\d{{4}})\b", re.I),
    re.compile(r"\b(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})\b"),
]


def find_dates(text: str) -> list[tuple[int, int, str]]:
    """Full calendar dates in ``text`` as ``(start, end, "yyyy-mm-dd")``, in order of appearance."""
    found: list[tuple[int, int, str]] = []
    for pat in _DATE_PATTERNS:
        for m in pat.finditer(text):
            gd = m.groupdict()
            month = int(gd["m"]) if gd.get("m") else _MONTHS.get(gd["mn"].lower(), 0)
            try:
                iso = date(int(gd["y"]), month, int(gd["d"])).isoformat()
            except ValueError:
                continue
            if any(s <= m.start() < e for s, e, _ in found):
                continue
            found.append((m.start(), m.end(), iso))
    return sorted(found)


def parse_date(value: str) -> date | None:
    """Parse a user-given date (ISO or any format :func:`find_dates` knows)."""
    found = find_dates(value)
    if found:
        return date.fromisoformat(found[0][2])
    if re.fullmatch(r"\d{4}", value.strip()):
        return date(int(value), 1, 1)
    return None
