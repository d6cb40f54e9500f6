"""Citation validation: drop citation numbers nobody was given, flag uncited sentences, and flag figures
and names that the cited sentences do not contain (the check every LLM answer must pass)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from rag.models import Evidence
from rag.text import fold, split_sentences
from rag.values import find_date_values, find_quantities, iso_date, name_key, same_name

CITE = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")


def cite_marks(nums: list[int]) -> str:
    """Citation marks for evidence numbers, in the given order: ``[1][3]``."""
    return "".join(f"[{n}]" for n in nums)

_NAME = re.compile(r"\b[A-ZÄÖÜ][\w\-]{2,}")
# words that are capitalised for grammar, not because they name something
_NAME_STOP = {fold(w) for w in (
    "January February March April May June July August September October November December Monday Tuesday Wednesday "
    "Thursday Friday Saturday Sunday The A An According Sources Source Estimates Separately Additional However Both "
    "This These They It In On At One Other Some Die Der Das Laut Quellen Quelle Angaben Außerdem Zusätzlich Am Im I "
    "Januar Februar März Mai Juni Juli Oktober Dezember Eine Andere Etwa About More Than Mehr Als").split()}


def unsupported_names(answer_text: str, evidence_text: str) -> list[str]:
    """Capitalised names in an answer (not sentence-initial) that the cited evidence never mentions, by a
    spelling-insensitive match (transliteration-aware key, prefix or similarity; no alias lists)."""
    ev_words = {m.group(0) for m in _NAME.finditer(evidence_text)} | set(re.findall(r"\w{3,}", evidence_text))
    ev_keys = {name_key(w) for w in ev_words}
    hay = fold(evidence_text)
    out = []
    for a, b in split_sentences(answer_text):
        sent = answer_text[a:b]
        for m in _NAME.finditer(sent):
            if m.start() == 0:
                continue
            w = m.group(0)
            f = fold(w)
            if f in _NAME_STOP or f[:5] in hay:
                continue
            k = name_key(w)
            if k in ev_keys or any(e[:4] == k[:4] for e in ev_keys if len(e) >= 4 and len(k) >= 4):
                continue
            if any(same_name(w, e, threshold=80) for e in ev_words if e[:1].isupper()):
                continue
            out.append(w)
    return list(dict.fromkeys(out))


def _figures_supported(sentence: str, support: list[str], lang: str,
                       published: list[date | None] | None = None) -> list[str]:
    """Amounts and dates in ``sentence`` that none of the ``support`` sentences states (``published``: each
    support sentence's article date, for the days and months it states without a year)."""
    bad = []
    refs = published or [None] * len(support)
    sup_q = [q for s in support for lg in ("de", "en") for q in find_quantities(s, lg)]
    sup_d = {p for s, ref in zip(support, refs, strict=True) for d in find_date_values(s, ref)
             for p in (d.iso, *d.iso.split("/"))}  # ranges: ends too
    sup_years = {k[:4] for k in sup_d}
    for q in find_quantities(sentence, lang):
        if q.dimension == "count" and q.value < 13 and q.qualifier == "exact":
            continue  # "two sources", "one source"
        vals = [v for v in (q.value, q.low, q.high) if v != float("inf")]
        ok = any(abs(x - y) <= 0.01 * max(abs(x), abs(y), 1) for x in vals
                 for s in sup_q for y in (s.value, s.low, s.high) if y != float("inf"))
        if not ok and not (q.maybe_year and str(int(q.value)) in sup_years):
            bad.append(q.text)
    for d in find_date_values(sentence):
        if not any(p in sup_d or p[:4] in sup_years and len(p) == 4 for p in d.iso.split("/")):
            bad.append(d.text)
    return bad


def validate_citations(text: str, evidence: list[Evidence], lang: str,
                       refusal_text: str | None = None) -> tuple[str, dict[str, Any]]:
    """Drop invented citation numbers, flag uncited sentences and unsupported figures and names.

    Args:
        text: the answer.
        evidence: the numbered evidence the answer could cite.
        lang: the answer's language.
        refusal_text: set when the answer is a refusal (quotes only; nothing of its own to check).

    Returns:
        ``(cleaned_text, report)`` with ``dropped_citations``, ``uncited_sentences``, ``unsupported_figures``,
        ``unsupported_names`` and ``cited``.
    """
    valid = {e.n for e in evidence}
    by_n = {e.n: e for e in evidence}
    dropped: list[int] = []

    def fix(m: re.Match[str]) -> str:
        nums = [int(x) for x in re.split(r"\s*[,;]\s*", m.group(1))]
        dropped.extend(n for n in nums if n not in valid)
        return "".join(f"[{n}]" for n in nums if n in valid)

    cleaned = CITE.sub(fix, text)
    cleaned = re.sub(r"[ \t]{2,}", " ", cleaned).strip()
    cleaned = re.sub(r"([.!?])((?:\s*\[\d+\])+)", lambda m: re.sub(r"\s+", "", m.group(2)) + m.group(1), cleaned)
    cleaned = re.sub(r"(\S)(\[\d+\])", r"\1 \2", cleaned).replace("] [", "][")
    own = re.sub(r"„[^“]*“|“[^”]*”|«[^»]*»|»[^«]*«", "", cleaned) if refusal_text is None else ""
    sentences = [own[a:b].strip() for a, b in split_sentences(own)]
    sentences = [s for s in sentences if not re.fullmatch(r"(?:\[\d+\])+\.?", s)]
    uncited = [s for s in sentences if not CITE.search(s) and len(s.split()) > 3]
    cited_all = sorted({int(n) for n in re.findall(r"\[(\d+)\]", cleaned)})
    unsupported: list[str] = []
    for s in sentences:
        # each clause is checked against the citations that follow it
        for clause in re.split(r"(?<=\])(?!\s*\[)\s*[;,]?\s*", s):
            nums = [int(n) for n in re.findall(r"\[(\d+)\]", clause)] or [int(n) for n in re.findall(r"\[(\d+)\]", s)] \
                or cited_all
            support = [by_n[n].quote for n in nums if n in by_n]
            published = [iso_date(by_n[n].date) for n in nums if n in by_n]
            unsupported += _figures_supported(CITE.sub("", clause), support, lang, published)
    cited_text = " ".join(by_n[n].quote for n in cited_all if n in by_n) or " ".join(e.quote for e in evidence)
    names = unsupported_names(own, cited_text)
    return cleaned, {"dropped_citations": sorted(set(dropped)), "uncited_sentences": uncited,
                     "unsupported_figures": list(dict.fromkeys(unsupported)), "unsupported_names": names,
                     "cited": cited_all}
