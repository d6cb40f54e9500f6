"""Cloze training pairs for the span reader, made from unlabelled text."""

from __future__ import annotations

import random

import pytest

from rag.learn_cloze import answer_spans, cloze_pairs, cloze_question, crosslingual_pairs, is_prose

EN = ("The bridge was opened in 1932 after six years of work. It carries 12,000 vehicles a day across the "
      "river. The engineer John Bradfield designed the arch.")
DE = ("Die Brücke wurde 1932 nach sechs Jahren Bauzeit eröffnet. Sie trägt täglich 12.000 Fahrzeuge über den "
      "Fluss. Der Ingenieur John Bradfield entwarf den Bogen.")


def test_answer_spans_are_typed_spans_of_the_sentence() -> None:
    sent = "The engineer John Bradfield designed the arch in 1925 for 4 million pounds."
    spans = answer_spans(sent, "en")
    kinds = {sent[a:b]: k for a, b, k in spans}
    assert kinds.get("1925") == "date"
    assert any(k == "quantity" and "4 million" in t for t, k in kinds.items())
    assert "quantity" not in {k for t, k in kinds.items() if t == "1925"}  # a year is a date, not a count
    assert all(b - a < 0.5 * len(sent) for a, b, _ in spans)


def test_question_leads_with_the_kinds_question_word_and_leaves_the_answer_out() -> None:
    sent = "Die Brücke wurde 1932 nach sechs Jahren Bauzeit eröffnet."
    a = sent.index("1932")
    for seed in range(20):
        q = cloze_question(sent, a, a + 4, "date", "de", random.Random(seed))
        assert q is not None and q.startswith("Wann ") and q.endswith("?")
        assert "1932" not in q
        assert "wurde" in q  # stop words are never dropped
    sent = "Über die Brücke fahren seit 1932 täglich Autos für die Stadt."
    a = sent.index("1932")
    for seed in range(20):  # stop words with umlauts too: the list is folded ("über" is "ueber")
        q = cloze_question(sent, a, a + 4, "date", "de", random.Random(seed))
        assert q is not None and "über" in q and "für" in q
    assert cloze_question("Es war 1932.", 7, 11, "date", "de", random.Random(0)) is None  # too few words left


def test_pairs_point_at_their_answer_and_skip_debris() -> None:
    pairs = cloze_pairs(EN, "en", random.Random(0), per_sentence=2)
    assert pairs
    for p in pairs:
        assert p["text"] is EN and 0 <= p["start"] < p["end"] <= len(EN)
        assert EN[p["start"]:p["end"]].lower() not in p["q"].lower()
    assert not is_prose("Global Sitemap | Local Community | Central Help | Advertise")
    assert not is_prose("^ Gounaris p 196 ^ Christopoulos & 1977.")
    assert is_prose("The engineer John Bradfield designed the arch.")


def test_crosslingual_pairs_ask_in_one_language_and_answer_in_the_other() -> None:
    pairs = crosslingual_pairs(EN, "en", DE, random.Random(0))
    assert pairs
    for p in pairs:
        assert p["text"] is DE
        answer = DE[p["start"]:p["end"]]
        assert DE.count(answer) == 1 and answer in EN
        assert p["q"].split()[0] in {"How", "When", "Who", "What"}


def test_validation_articles_are_tune_articles_never_measure_ones() -> None:
    from rag.evaluation import part_of
    from rag.learn_span import is_validation  # imports the training module, not torch

    chosen = [ai for ai in range(24) if is_validation(ai)]
    assert chosen == [0, 5, 10, 15, 20]  # every fifth tune article of the 24 in XQuAD's development split
    assert all(part_of(ai, "tune") and not part_of(ai, "measure") for ai in chosen)


def test_validate_never_overwrites_the_shipped_adapter(capsys: pytest.CaptureFixture[str]) -> None:
    from rag.learn_span import main

    with pytest.raises(SystemExit) as exc:
        main(["--validate"])
    assert exc.value.code == 2
    assert "give --out FILE" in capsys.readouterr().err
