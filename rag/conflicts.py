"""Group figures that measure the same quantity and classify how the sources relate.

- **agree**: same value within tolerance (one entry, several sources);
- **vary**: different values whose intervals still overlap ("about 11,000" inside "10,000–12,000");
- **conflict**: at least two intervals that cannot both be true (3,559 vs 10,000);
- **single**: only one figure for that quantity.

A quantity is (concept, role): total troops, additional troops and casualties are different quantities.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rag.figures import CONCEPT_LABELS, Figure, _concept_of, describe, extract_figures
from rag.models import Document, Span
from rag.text import fold

POINT_TOLERANCE = 0.05
_QUAL_ORDER = {"range": 0, "exact": 1, "approx": 2, "almost": 3, "more_than": 4, "at_least": 5, "up_to": 6,
               "less_than": 7, "vague": 8}  # two point figures within 5 % agree


@dataclass
class GroupEntry:
    """One distinct figure value and every place that states it."""

    display: str
    low: float | None
    high: float | None
    qualifier: str
    figures: list[Figure] = field(default_factory=list)

    @property
    def doc_ids(self) -> list[str]:
        return list(dict.fromkeys(f.doc_id or "" for f in self.figures))


@dataclass
class FigureGroup:
    """All figures for one quantity, and how they relate."""

    concept: str | None
    role: str
    kind: str
    entries: list[GroupEntry]

    @property
    def spread(self) -> tuple[float, float | None]:
        lows = [e.low for e in self.entries if e.low is not None]
        highs = [e.high for e in self.entries if e.high is not None and not math.isinf(e.high)]
        return (min(lows) if lows else 0.0, max(highs) if highs else None)

    def as_dict(self, cite: dict[tuple[str, int], int] | None = None, lang: str = "en") -> dict[str, object]:
        lo, hi = self.spread
        return {
            "quantity": quantity_label(self.concept, self.role, lang),
            "concept": self.concept, "role": self.role, "kind": self.kind,
            "spread": {"low": lo, "high": hi},
            "message": message(self, cite or {}, lang),
            "figures": [
                {"display": e.display, "low": e.low, "high": None if e.high is None or math.isinf(e.high) else e.high,
                 "qualifier": e.qualifier, "doc_ids": e.doc_ids,
                 "citations": sorted({cite[k] for k in _keys(e) if k in (cite or {})}),
                 "sources": [{"doc_id": f.doc_id, "title": f.title, "date": f.date, "quote": f.quote,
                              "text": f.text, "start": f.start, "end": f.end, "sentence_start": f.sentence_start,
                              "sentence_end": f.sentence_end, "attributed_to": f.attributed_to,
                              "refers_to_time": f.refers_to_time} for f in e.figures]}
                for e in self.entries
            ],
        }


def _keys(e: GroupEntry) -> list[tuple[str, int]]:
    return [(f.doc_id or "", f.sentence_start) for f in e.figures]


def quantity_label(concept: str | None, role: str, lang: str = "en", nominative: bool = False) -> str:
    """What a group counts, e.g. "troops sent"; German in the genitive plural ("der entsandten Soldaten")
    unless ``nominative`` ("entsandte Soldaten")."""
    lang = "de" if lang == "de" else "en"
    if lang == "de" and nominative:
        return re.sub(r"(entsandt|zusätzlich)en\b", r"\1e", quantity_label(concept, role, lang))
    base = CONCEPT_LABELS[lang].get(concept or "", concept or ("unspecified" if lang == "en" else "unbestimmt"))
    if concept == "soldiers":
        if role == "increment":
            return "additional troops sent" if lang == "en" else "zusätzlich entsandten Soldaten"
        return "troops sent" if lang == "en" else "entsandten Soldaten"
    if role == "increment":
        return f"additional {base}" if lang == "en" else f"zusätzlichen {base}"
    return base


# ---------------------------------------------------------------- extraction over documents


def document_figures(doc: Document, sentences: Iterable[Span], chunk_of: dict[int, str] | None = None) -> list[Figure]:
    """Figures of the given sentences of a document, with document context.

    Reported speech without its own source ("Pjöngjang habe … entsandt") inherits the attribution of
    the sentence before it.
    """
    out: list[Figure] = []
    prev_attr: str | None = None
    for s in sorted(sentences, key=lambda x: x.start):
        text = doc.text[s.start : s.end]
        figs = extract_figures(text, offset=s.start, lang=doc.language if doc.language in ("de", "en") else "de",
                               doc_date=doc.date)
        own = figs[0].attributed_to if figs else None
        for f in figs:
            f.doc_id, f.title, f.date = doc.doc_id, doc.title, doc.date
            if chunk_of:
                f.chunk_id = chunk_of.get(s.start)
            if f.attributed_to is None and prev_attr and re.search(r"\b(?:habe|hätten|sei|seien|soll|sollen)\b", text):
                f.attributed_to = prev_attr
        prev_attr = own or _sentence_source(text) or prev_attr
        out.extend(figs)
    return out


def _sentence_source(text: str) -> str | None:
    m = re.search(r"\b(?:berichtet|berichtete|meldet|meldete|sagt|sagte|reported|reports|said)\s+"
                  r"(?P<who>(?:der|die|das|the)\s+[^,.;:]{3,90})", text)
    return m.group("who").strip() if m else None


# ---------------------------------------------------------------- what the question asks


_INCREMENT_Q = re.compile(r"\b(?:additional|more troops|reinforc|extra|weitere|zusätzlich|verstärkung|nachgeschickt|"
                          r"further)\w*", re.I)
_COUNT_Q = re.compile(r"\b(?:how many|how much|wie viele|wieviele|wie viel|wieviel|number of|anzahl|zahl der|"
                      r"what share|what percentage|wie hoch|how large|how big)\b", re.I)


def question_concepts(question: str) -> set[str]:
    """Concepts a question asks about ("how many troops" -> {"soldiers"})."""
    found: set[str] = set()
    q = question.lower()
    for pat_concept, pat in (("casualties", r"killed or wounded|get[öo]tet oder verwundet|casualt|verluste|opfer"),
                             ("killed", r"\bkilled|\bdied|\bdead|get[öo]tet|gefallen|\btote"),
                             ("wounded", r"wounded|injured|verwundet|verletzt"),
                             ("captured", r"captured|prisoner|gefangen")):
        if re.search(pat, q):
            found.add(pat_concept)
    if found:
        return {"casualties", "killed", "wounded"} & found or found
    for w in re.findall(r"[^\W\d_][\w\-]*|[%€$]", question):
        c = _concept_of(w.lower())
        if c:
            found.add(c)
    if not found:
        # an unknown counted noun after "how many"/"wie viele"
        m = re.search(r"(?:how many|wie viele|wieviele)\s+(?:\w+\s+)?([A-Za-zÄÖÜäöüß\-]+)", question, re.I)
        if m:
            found.add(fold(m.group(1).lower()))
    return found


def asks_for_count(question: str) -> bool:
    return bool(_COUNT_Q.search(question))


def asks_for_increment(question: str) -> bool:
    return bool(_INCREMENT_Q.search(question))


# ---------------------------------------------------------------- grouping


def _interval(f: Figure) -> tuple[float, float]:
    lo = f.low if f.low is not None else 0.0
    hi = f.high if f.high is not None else math.inf
    return lo, hi


def _point(f: Figure) -> float | None:
    return f.value if f.qualifier in ("exact", "approx") else None


def group_figures(figures: Sequence[Figure], concepts: set[str] | None = None, lang: str = "en",
                  include_vague: bool = False) -> list[FigureGroup]:
    """Group figures per quantity and classify each group.

    Args:
        figures: extracted figures (with doc ids).
        concepts: keep only these concepts (what the question asks about); None keeps all with a concept.
        lang: language of the display strings.
        include_vague: also group "Tausende"-style figures (off: they assert too little to compare).

    Returns:
        Groups, the largest first.
    """
    buckets: dict[tuple[str | None, str], list[Figure]] = {}
    for f in figures:
        if f.concept is None or (concepts and f.concept not in concepts) or (f.vague and not include_vague):
            continue
        buckets.setdefault((f.concept, f.role), []).append(f)
    groups = []
    for (concept, role), figs in buckets.items():
        entries: list[GroupEntry] = []
        for f in sorted(figs, key=lambda x: (_interval(x)[0], x.doc_id or "", x.start)):
            lo, hi = _interval(f)
            for e in entries:
                if e.qualifier == f.qualifier and _close(e.low, lo) and _close(e.high, hi):
                    e.figures.append(f)
                    break
                pe, pf = (e.figures[0].value if e.qualifier in ("exact", "approx") else None), _point(f)
                if pe is not None and pf is not None and _close(pe, pf) and {e.qualifier, f.qualifier} <= {"exact", "approx"}:
                    e.figures.append(f)  # "3.000" and "etwa 3.000" state the same figure
                    if f.qualifier == "exact":
                        e.qualifier, e.low, e.high, e.display = "exact", lo, hi, describe(f, lang)
                    break
            else:
                entries.append(GroupEntry(describe(f, lang), lo, hi, f.qualifier, [f]))
        entries.sort(key=lambda e: (-len(e.doc_ids), _QUAL_ORDER.get(e.qualifier, 9), e.low or 0.0))
        groups.append(FigureGroup(concept, role, _classify(entries), entries))
    groups.sort(key=lambda g: (-len({f.doc_id for e in g.entries for f in e.figures}), g.role != "total"))
    return groups


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= POINT_TOLERANCE * max(abs(a), abs(b), 1e-9)


def _classify(entries: list[GroupEntry]) -> str:
    n_figs = sum(len(e.figures) for e in entries)
    if len(entries) == 1:
        return "agree" if n_figs > 1 else "single"
    lo = max(e.low if e.low is not None else 0.0 for e in entries)
    hi = min(e.high if e.high is not None else math.inf for e in entries)
    if lo <= hi:
        return "vary"
    return "conflict"


# ---------------------------------------------------------------- messages


def message(group: FigureGroup, cite: dict[tuple[str, int], int], lang: str = "en") -> str:
    """One line for the user, e.g. "Sources differ on the number of troops sent: 10,000–12,000 [1][5], …"."""
    lang = "de" if lang == "de" else "en"
    label = quantity_label(group.concept, group.role, lang)
    parts = []
    for e in group.entries:
        nums = sorted({cite[k] for k in _keys(e) if k in cite})
        refs = "".join(f"[{n}]" for n in nums) or "(" + ", ".join(e.doc_ids) + ")"
        parts.append(f"{e.display} {refs}")
    listing = "; ".join(parts) if group.kind == "conflict" else ", ".join(parts)
    if lang == "de":
        head = {"vary": f"Die Quellen nennen unterschiedliche Zahlen der {label}",
                "conflict": f"Die Quellen widersprechen sich bei der Zahl der {label}",
                "agree": f"Die Quellen stimmen überein bei der Zahl der {label}",
                "single": f"Eine Quelle nennt die Zahl der {label}"}[group.kind]
    else:
        head = {"vary": f"Sources differ on the number of {label}",
                "conflict": f"Sources contradict each other on the number of {label}",
                "agree": f"Sources agree on the number of {label}",
                "single": f"One source gives the number of {label}"}[group.kind]
    return f"{head}: {listing}"
