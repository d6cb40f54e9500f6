"""LLM-written training questions for the span reader: which are kept, and how they become pairs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.learn_questions import prompt, rule_reason

EN = ("The bridge was opened in 1932 after six years of work. It carries 12,000 vehicles a day across the "
      "river. The engineer John Bradfield designed the arch.")
DE = ("Die Brücke wurde 1932 nach sechs Jahren Bauzeit eröffnet. Sie trägt täglich 12.000 Fahrzeuge über den "
      "Fluss. Der Ingenieur John Bradfield entwarf den Bogen.")


@pytest.mark.parametrize(("q", "answer", "reason"), [
    ("Who designed the arch of the bridge?", "John Bradfield", None),
    ("Wer entwarf den Bogen der Brücke?", "John Bradfield", None),
    ("Who designed the arch of the bridge", "John Bradfield", "no question mark"),
    ("Who designed it?", "John Bradfield", "length"),
    ("Which engineer, John Bradfield, designed the arch?", "John Bradfield", "contains its answer"),
    ("Wann wurde die Brücke 1932 eröffnet?", "1932", "contains its answer"),
    ("What is the bridge used for today?", "US", None),  # the answer as a word, not inside one
    ("Which engineer is mentioned in the sentence?", "John Bradfield", "speaks of the text"),
    ("Welcher Ingenieur wird im Satz genannt?", "John Bradfield", "speaks of the text"),
])
def test_rule_reason_keeps_real_questions_only(q: str, answer: str, reason: str | None) -> None:
    assert rule_reason(q, answer) == reason


def test_prompt_names_the_answer_and_the_language() -> None:
    p = prompt("The engineer John Bradfield designed the arch.", "John Bradfield", "de")
    assert "German question" in p and '"John Bradfield"' in p and "The engineer John Bradfield" in p


def _root(tmp_path: Path) -> Path:
    for lang, text in (("de", DE), ("en", EN)):
        data = [{"title": f"a{i}", "paragraphs": [{"context": text, "qas": []}]} for i in range(5)]
        (tmp_path / f"xquad.{lang}.dev.json").write_text(json.dumps({"data": data}), encoding="utf-8")
    return tmp_path


def test_question_pairs_come_from_tune_articles_and_cross_languages_where_the_answer_does(tmp_path: Path) -> None:
    from rag.learn_span import is_validation, question_examples

    root = _root(tmp_path)
    name = EN.index("John Bradfield")
    vehicles = EN.index("vehicles")
    rows = [{"article": 1, "para": 0, "lang": "en", "q": "Who designed the arch?", "start": name, "end": name + 14},
            {"article": 2, "para": 0, "lang": "en", "q": "What does the bridge carry?", "start": vehicles,
             "end": vehicles + 8},
            {"article": 0, "para": 0, "lang": "en", "q": "Who designed the arch?", "start": name, "end": name + 14},
            {"article": 4, "para": 0, "lang": "en", "q": "Who designed the arch?", "start": name, "end": name + 14}]
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    pairs = question_examples(path, root=root, skip=is_validation)
    # article 4 is the measure part and article 0 a validation article: neither is read
    assert [p["source"] for p in pairs] == ["llm:xquad", "llm:xquad-x", "llm:xquad"]
    for p in pairs:
        assert p["passage"][p["start"]:p["end"]] in {"John Bradfield", "vehicles"}
    assert "Die Brücke" in pairs[1]["passage"]  # the name occurs verbatim in the German paragraph too
    assert len(question_examples(path, root=root)) == 5  # without skip, the validation article's two pairs too


def test_filter_refuses_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rag.learn_questions import main

    with pytest.raises(SystemExit) as exc:
        main(["--filter", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "kept.jsonl")])
    assert exc.value.code == 2
    assert "nope.jsonl: no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--filter", __file__, "--adapter", str(tmp_path / "none.npz"), "--out", str(tmp_path / "kept.jsonl")])
    assert "none.npz: no such file" in capsys.readouterr().err
