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


def test_a_copula_definition_gives_its_predicate_noun_phrase():
    from rag.syntax import definition

    def pred(text: str, lang: str = "en") -> tuple[str, str] | None:
        d = definition(text, lang)
        return d and (text[:d[0]].strip(), text[d[2]:d[3]])

    assert pred("Wayne Jones (born 1959) is a Welsh professional snooker player.") == \
        ("Wayne Jones (born 1959)", "Welsh professional snooker player")
    assert pred("Henry Moseley was an English naturalist and anatomist who sailed on the Challenger.")[1] == \
        "English naturalist and anatomist"  # nouns joined by "and" stay; the relative clause does not
    assert pred("Six Feet Under is an American death metal band from Tampa, Florida.")[1] == "American death metal band"
    assert pred("He was one of the best-known professional golfers.")[1] == "best-known professional golfers"
    assert pred("Six Feet Under ist eine US-amerikanische Death-Metal-Band aus Tampa.", "de")[1] == \
        "US-amerikanische Death-Metal-Band"
    assert pred("Tom (who is a singer) wrote the book.") is None  # a copula inside brackets defines nothing here
    assert pred("The album was released in 2001.") is None  # no noun after the copula
    assert pred("The album appeared in 2001.") is None


def test_location_of_asks_for_a_place():
    assert analyse("What is the location of Abingdon High School?").answer_type == "place"
    assert analyse("What is the genre of the film Manic?").kind_noun == "genre"


def test_a_class_question_reads_the_definition_of_the_asked_entity():
    """"What is the profession of X?": the head of the sentence that defines X ("… is a British actor") and the
    predicate's shorter endings are candidates marked ``def_head``; a modifier alone ("British") is ``def_in``;
    a definition of someone else gives nothing."""
    text = "Nigel Harris (born 1949) is a British actor. Tom Baker is a Welsh singer."
    doc = Document(doc_id="d", path="d", text=text, language="en")
    intent = analyse("What is the profession of Nigel Harris?")
    sents = [Sentence(doc_id="d", chunk_id="c", start=a, end=b, sim=0.9, chunk_start=0, chunk_end=len(text))
             for a, b in ((0, 44), (45, len(text)))]
    reading = collect_candidates(doc, sents, intent, "en", None, 0.9)
    cands = {(c.value.text, c.value.start): c.features for c in reading.candidates}
    heads = sorted(t for (t, _), f in cands.items() if f.get("def_head"))
    assert heads == ["British actor", "a British actor", "actor"], heads
    assert cands[("British", 30)].get("def_in") == 1.0
    assert not any(f.get("def_head") or f.get("def_in") for (t, a), f in cands.items() if a >= 45)  # Tom Baker's
    plain = analyse("Who is Nigel Harris?")  # not a class question: no definition features
    assert not any(c.features.get("def_head") for c in collect_candidates(doc, sents, plain, "en", None, 0.9).candidates)


def test_a_short_question_is_read_in_the_language_of_its_question_word():
    from rag.answer import question_language

    assert question_language("Welche Sportart betreibt Wayne Jones?") == "de"  # no other function word at all
    assert question_language("Was kündigte Selenskyj an?") == "de"  # "was" and "an" are English words too
    assert question_language("Was hat Lady Gaga gesungen?") == "de"
    assert question_language("Was he born in 1950?") == "en"
    assert question_language("In welchem Jahr starb Tesla?") == "de"  # the question word after a preposition
    assert question_language("In which year did Tesla die?") == "en"
    assert question_language("What is the population of Furna?") == "en"
    assert analyse("Welche Sportart betreibt Wayne Jones?").language == "de"


def test_a_german_question_names_its_entity_without_the_nouns_it_asks_about():
    furna = analyse("Wie viele Einwohner hat Furna laut der Volkszählung 2010?")
    assert furna.entity == "Furna" and furna.entity_tokens == ["furna"]  # the census year is the property's
    manic = analyse("Welches Genre hat der Film Manic?")  # a name after a noun is a name, not a noun
    assert manic.entity == "Manic" and manic.entity_tokens == ["manic"] and manic.kind_noun == "genre"
    assert analyse("Welcher Flugzeugtyp war an Flug 109 beteiligt?").entity_tokens == ["flug", "109"]
    beruf = analyse("Was ist der Beruf von Nigel Harris?")  # "ist" was read as "is" + "t"
    assert beruf.answer_type == "name" and beruf.kind_noun == "beruf" and beruf.entity == "Nigel Harris"
    assert analyse("Wie viele streikende Pflegekräfte gab es?").entity_tokens == []  # an adjective between


def test_a_word_that_starts_like_a_copula_is_no_copula():
    """"Welcher ist der …" was read as "is" + "t": the asked class was "t"."""
    assert analyse("Welcher ist der zweitgrößte Flughafen in den Vereinigten Staaten?").kind_noun == "flughafen"


def test_a_definition_ending_the_question_already_says_is_no_answer():
    text = "Manic is a 2001 American drama film directed by Jordan Melamed."
    doc = Document(doc_id="d", path="d", text=text, language="en")
    sent = Sentence(doc_id="d", chunk_id="c", start=0, end=len(text), sim=0.9, chunk_start=0, chunk_end=len(text))
    reading = collect_candidates(doc, [sent], analyse("What is the genre of the film Manic?"), "en", None, 0.9)
    heads = {c.value.text for c in reading.candidates if c.features.get("def_head")}
    assert "drama film" in heads and "film" not in heads, heads
