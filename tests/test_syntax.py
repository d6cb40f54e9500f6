"""Noun phrases as answer candidates: the phrase reader (rag.syntax) and how the per-source reader uses it."""

from rag.evaluation import summarize
from rag.intent import analyse
from rag.models import Document
from rag.reader import Sentence, collect_candidates, entity_matches
from rag.syntax import noun_phrases


def _phrases(text: str, lang: str) -> list[str]:
    return [text[a:b] for a, b in noun_phrases(text, lang)]


def test_german_phrases_keep_article_adjectives_and_genitive():
    s = "Genau wie der deutsche Bundesminister des Innern ist der Boulevard von hohen Palmen gesäumt."
    got = _phrases(s, "de")
    assert "der deutsche Bundesminister" in got and "der deutsche Bundesminister des Innern" in got
    assert "hohen Palmen" in got
    assert not any(p.startswith(("ist", "gesäumt")) for p in got)  # verbs are no phrase


def test_english_phrases_with_of_attachment():
    got = _phrases("It was founded by a group of graduate women at a professional school.", "en")
    assert "a group of graduate women" in got and "a professional school" in got
    assert "founded" not in " ".join(got)


def test_reader_offers_noun_phrases_and_marks_words_the_question_repeats():
    text = "Der Kearney Boulevard ist eine kleine Landstraße, die größtenteils von hohen Palmen gesäumt ist."
    doc = Document(doc_id="d", path="d", text=text, language="de")
    intent = analyse("What kinds of trees is Kearney Boulevard lined with?")
    sent = Sentence(doc_id="d", chunk_id="c", start=0, end=len(text), sim=0.9, chunk_start=0, chunk_end=len(text))
    cands = {c.value.text: c.features for c in collect_candidates(doc, [sent], intent, "en", None, 0.9).candidates}
    assert cands["hohen Palmen"]["np"] == 1.0 and cands["hohen Palmen"]["q_overlap"] == 0.0
    assert cands["eine kleine Landstraße"]["q_overlap"] == 0.0
    boulevard = [f for t, f in cands.items() if "Boulevard" in t]
    assert not boulevard or all(f["q_overlap"] > 0 for f in boulevard)  # the asked entity is no answer


def test_capitalised_menu_runs_are_not_names():
    text = "The aiea plant: Profile Navigation Main Plant Information Plant Characteristics Flower Characteristics."
    doc = Document(doc_id="d", path="d", text=text, language="en")
    intent = analyse("What is the common name of the plant species Aiea?")
    sent = Sentence(doc_id="d", chunk_id="c", start=0, end=len(text), sim=0.9, chunk_start=0, chunk_end=len(text))
    reading = collect_candidates(doc, [sent], intent, "en", None, 0.9)
    assert reading.candidates and all(len(c.value.text.split()) <= 6 for c in reading.candidates)


def test_hyphenated_compounds_name_their_parts():
    doc = Document(doc_id="d", path="d", text="Sie gewannen das AFC-Championship-Spiel.", language="de")
    assert entity_matches(["afc"], doc, None, "en")[3] is None


def test_short_answer_f1_and_length_are_reported():
    base = {"sources": [], "gold_answerable": True, "answerable": True, "first_relevant_rank": None, "relevant": [],
            "n_relevant": 0, "first_relevant_doc_rank": None, "answer_correct": True, "citations": [], "valid_citations": 0,
            "gold_conflict": False, "flag": None, "latency_s": 0.1, "f1": 0.5}
    rows = [dict(base, short_answer="hohen Palmen", short_correct=True, short_f1=1.0),
            dict(base, short_answer="die größtenteils von hohen Palmen gesäumt ist", short_correct=True, short_f1=0.4)]
    m = summarize(rows, 10)
    assert m["short_answer_accuracy"] == 1.0 and m["short_answer_f1"] == 0.7 and m["short_answer_words"] == 4.5


def test_a_phrase_headed_by_the_asked_kind_names_the_thing_after_it():
    from rag.reader import _without_property_head

    assert _without_property_head(10, "der Region Kursk", {"regio"}) == (21, "Kursk")
    assert _without_property_head(0, "Bezirk  Mitte", {"bezirk"}) == (8, "Mitte")
    assert _without_property_head(0, "die Kommission", {"regio"}) == (0, "die Kommission")
    assert _without_property_head(0, "Region", {"regio"}) == (0, "Region")  # never stripped to nothing


def test_which_kind_of_place_asks_for_a_place():
    assert analyse("An der Rückeroberung welcher Region waren nordkoreanische Soldaten beteiligt?").answer_type == "place"
    assert analyse("Which county is Chesapeake High School in?").answer_type == "place"
    assert analyse("Which album did she release?").answer_type == "name"


def test_refitting_an_unknown_reader_kind_is_a_one_line_error(tmp_path):
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "rag.learn", "--kinds", "name,colour", "--out", str(tmp_path / "m.json")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode != 0 and p.stderr.strip() == "error: --kinds: unknown kind(s) colour (name, quantity, date)"
    assert not (tmp_path / "m.json").exists()
