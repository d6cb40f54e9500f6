"""Answer composition: the value first, in the question's language, with a citation on every statement;
where sources differ, who says what. Built only from the readings and the evidence, never from a model."""

from __future__ import annotations

from rag.compare import by_entity, entities_text, entity_values, with_refs
from rag.intent import NAME_TYPES, Intent, measure_nouns
from rag.messages import t
from rag.models import Comparison, Evidence
from rag.text import stem


def _quote(e: Evidence, lang: str) -> str:
    return f"„{e.quote}“ [{e.n}]" if lang == "de" else f"“{e.quote}” [{e.n}]"


def compose(intent: Intent, comparison: Comparison | None, evidence: list[Evidence], lang: str) -> str:
    """The extractive answer.

    Args:
        intent: the analysed question.
        comparison: the sources' values compared (``None`` when no source states a typed value).
        evidence: numbered evidence sentences.
        lang: ``en`` or ``de``.

    Returns:
        One to three sentences that lead with the value(s), each with its ``[n]`` citations.
    """
    if comparison is not None and comparison.kind == "different_entities" and not comparison.groups:
        # no source states a value, but they name different things: say so, then quote them
        return f"{comparison.message}. " + " ".join(_quote(e, lang) for e in evidence[:2])
    if comparison is None or not comparison.groups:
        top = evidence[:2]
        return f"{t(lang, 'according_to_sources')} " + " ".join(_quote(e, lang) for e in top)
    groups = comparison.groups
    what = comparison.quantity
    first = groups[0]
    if comparison.kind in ("single", "agree"):
        text = with_refs(first)
        notes = []
        if first.attributed_to:
            notes.append(t(lang, "according_to", who=first.attributed_to[0]))
        if comparison.kind == "agree":
            notes.append(t(lang, "agree"))
        elif len(first.doc_ids) > 1:
            notes.append(t(lang, "copies", n=len(first.doc_ids)))
        if notes:
            text += " (" + "; ".join(notes) + ")"
        text += "."
        unsure = [g for g in groups[1:] if not g.decisive and g.value.qualifier != "vague"]
        if unsure:
            text += " " + t(lang, "less_certain", values="; ".join(with_refs(g) for g in unsure)) + "."
        # then the evidence: the sentence the value was read from (a name also beside the next best sentence,
        # since the reader is less sure of names than of amounts and dates)
        cited = [e for e in evidence if e.n in first.citations][:1]
        if intent.answer_type in NAME_TYPES:
            cited += [e for e in evidence if e not in cited][:2 - len(cited)]
        if cited:
            text += " " + " ".join(_quote(e, lang) for e in cited)
        return text
    if comparison.kind == "vary":
        body = "; ".join(with_refs(g) for g in groups)
        return f"{t(lang, 'vary_lead', what=what)}: {body}."
    if comparison.kind == "different_entities":
        # each thing with what its sources say of it; a value read with less certainty is no thing of its own
        return f"{t(lang, 'entities_lead', entity=intent.entity or what)}: {entities_text(groups, lang)}."
    if by_entity(groups):  # several things of that name, and sources that disagree about one of them
        lead = t(lang, "entities_conflict_lead", entity=intent.entity or what, what=what)
        return f"{lead}: {entity_values(groups, lang)}."
    rest = "; ".join(with_refs(g) for g in groups[1:])
    others = t(lang, "one_says", value=rest) if len(groups) == 2 and groups[1].independent_sources == 1 \
        else t(lang, "others_say", values=rest)
    return f"{with_refs(first)}; {others} — {t(lang, 'conflict_lead', what=what)}."


def refusal(intent: Intent, lang: str, evidence: list[Evidence], typed: bool) -> str:
    """"The sources do not say how many troops …", with the nearest sentences as a pointer."""
    what = intent.property_text
    if typed and intent.answer_type == "quantity" and not intent.counted and \
            not {stem(n) for n in measure_nouns()} & set(intent.property_words):
        what = ""  # "how old was X when he played": "the played" would be no description
    if typed and what:
        key = {"quantity": "how_many" if intent.counted else "the_value", "date": "when", "person": "who"}.get(
            intent.answer_type, "the_value")
        head = t(lang, "not_say", what=t(lang, key, what=intent.counted or what if key == "how_many" else what))
    else:
        head = t(lang, "not_say_plain")
    near = evidence[:2]
    return head + (t(lang, "nearby") + " ".join(_quote(e, lang) for e in near) if near else "")
