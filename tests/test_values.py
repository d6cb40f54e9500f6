"""Value normalisation, question analysis and comparison: numbers in every form, units, currencies, dates,
names across spellings, and agree / vary / conflict / different entities. Labelled samples:
tests/data/figures_labelled.jsonl (development) and figures_heldout.jsonl (held out)."""

import json
import math
from pathlib import Path

import pytest

from rag.compare import adds_qualifier, compare, compatible, distinct_labels, same_value
from rag.compose import compose
from rag.config import ReaderSettings
from rag.intent import analyse
from rag.models import Evidence, SourceReading, Value
from rag.values import find_date_values, find_quantities, parse_number, same_name

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("s,value", [
    ("10.000", 10000), ("10,000", 10000), ("12,500", 12500), ("99.999", 99999), ("3.559", 3559), ("1,5", 1.5),
    ("1.5", 1.5), ("0.125", 0.125), ("1.000.000", 1e6), ("1.234,5", 1234.5), ("1,234.5", 1234.5), ("10 000", 10000),
])
def test_number_format_is_read_from_the_number_itself(s, value):
    assert parse_number(s, sep=None if len(s.split(",")[-1].split(".")[-1]) != 3 else "x") == value


def one(text, lang="en"):
    qs = [q for q in find_quantities(text, lang) if not q.maybe_year]
    assert len(qs) == 1, [q.text for q in qs]
    return qs[0]


@pytest.mark.parametrize("text,lang,value,dim,unit", [
    ("$1.2 trillion in debt", "en", 1.2e12, "money", "USD"),
    ("a £45bn deal", "en", 45e9, "money", "GBP"),
    ("1.8m vehicles were recalled", "en", 1.8e6, "count", None),
    ("a budget of €3.5 million", "en", 3.5e6, "money", "EUR"),
    ("Ein Etat von 3,5 Mio. Euro", "de", 3.5e6, "money", "EUR"),
    ("half a million people", "en", 5e5, "count", None),
    ("eine halbe Million Menschen", "de", 5e5, "count", None),
    ("zehntausend Menschen", "de", 1e4, "count", None),
    ("administers ten libraries", "en", 10, "count", None),
    ("twenty-five thousand fans", "en", 25000, "count", None),
    ("12,500 troops", "en", 12500, "count", None),
    ("99.999 Soldaten", "en", 99999, "count", None),
    ("the 1.5 km long bridge", "en", 1500, "length", "km"),
    ("3 m tall", "en", 3, "length", "m"),
    ("It is 2.3 sq mi (6.0 km2) in area", "en", 5956972.65, "area", "sq mi"),
    ("inflation of 2,4 Prozent", "de", 2.4, "percent", "prozent"),
])
def test_amounts_units_and_currencies(text, lang, value, dim, unit):
    q = one(text, lang)
    assert math.isclose(q.base, value, rel_tol=1e-6) and q.dimension == dim and q.unit == unit


@pytest.mark.parametrize("text", ["coordinates 41°37′4″N 87°W", "It peaked at No. 31 on the chart", "Route 66 runs",
                                  "on 4 December 2024", "the 4th album", "Call 555-0100 now", "Rufen Sie +49 30 1234567 an"])
def test_not_amounts(text):
    assert [q.text for q in find_quantities(text) if not q.maybe_year] == []


@pytest.mark.parametrize("text,lang,low,high", [("30,000–50,000 deaths", "en", 30000, 50000), ("5–10 years", "en", 5, 10),
                                                ("100-150 Arten", "de", 100, 150), ("ages 18-25", "en", 18, 25),
                                                ("12.000-15.000 Soldaten", "de", 12000, 15000)])
def test_a_range_glued_by_a_dash_is_one_range(text, lang, low, high):
    r = one(text, lang)
    assert (r.low, r.high, r.qualifier) == (low, high, "range")


@pytest.mark.parametrize("text", ["Boeing 747-400 jets", "a 20-18 win", "F-16 jets", "parts 2-3-4"])
def test_numbers_glued_by_a_dash_that_are_no_range_are_no_amounts(text):
    assert [q.text for q in find_quantities(text)] == []


@pytest.mark.parametrize("text,lang,value", [("several hundred protesters", "en", 200), ("a few hundred people", "en", 200),
                                              ("mehrere tausend Soldaten", "de", 2000), ("viele Hundert Hugenotten", "de", 200)])
def test_several_hundred_is_a_vague_amount_like_hundreds_not_exactly_one_hundred(text, lang, value):
    q = one(text, lang)
    assert (q.value, q.qualifier, q.text.split()[0]) == (value, "vague", text.split()[0])
    assert (one("one hundred people").value, one("one hundred people").qualifier) == (100, "exact")


@pytest.mark.parametrize("text,lang,value,dim", [("two-thirds of voters", "en", 66.7, "percent"),
                                                  ("zwei Drittel seiner Bevölkerung", "de", 66.7, "percent"),
                                                  ("drei Viertel aller Deutschen", "de", 75, "percent"),
                                                  ("one third of the budget", "en", 33.3, "percent"),
                                                  ("a quarter of a million people", "en", 250000, "count")])
def test_fractions_are_shares_or_scaled_counts_not_the_count_of_their_numerator(text, lang, value, dim):
    q = one(text, lang)
    assert (q.value, q.dimension) == (value, dim)


@pytest.mark.parametrize("text,lang,value", [("a dozen people", "en", 12), ("two dozen people", "en", 24),
                                              ("ein Dutzend Menschen", "de", 12)])
def test_dozens_count_twelve(text, lang, value):
    assert one(text, lang).value == value


@pytest.mark.parametrize("text,lang,value", [("anderthalb Stunden", "de", 1.5), ("eineinhalb Jahre", "de", 1.5),
                                              ("zweieinhalb Millionen Menschen", "de", 2_500_000),
                                              ("one and a half million people", "en", 1_500_000),
                                              ("two and a half years", "en", 2.5)])
def test_a_whole_number_and_a_half(text, lang, value):
    assert one(text, lang).value == value


@pytest.mark.parametrize("text", ["a third party", "the third quarter", "the fifth of November", "im Viertel"])
def test_ordinals_are_no_fractions(text):
    assert find_quantities(text) == []


@pytest.mark.parametrize("text,value", [("mit Hunderten von Kanälen", 200), ("von Tausenden Menschen", 2000),
                                        ("Millionen von Menschen", 2_000_000), ("Zehntausenden Soldaten", 20000)])
def test_inflected_and_bare_plural_vague_amounts(text, value):
    q = one(text, "de")
    assert (q.value, q.qualifier) == (value, "vague")
    assert one("zwei Millionen Menschen", "de").qualifier == "exact"


def test_years_are_marked_and_qualifiers_read():
    assert [q.maybe_year for q in find_quantities("At the 2010 census its population was 495.")] == [True, False]
    q = one("12,000 employees, about 6 percent", "en") if False else find_quantities("12,000 employees, about 6 percent")[1]
    assert q.qualifier == "approx" and q.dimension == "percent"
    r = one("Nordkorea hat zwischen 10.000 und 12.000 Soldaten entsandt", "de")
    assert (r.low, r.high, r.qualifier) == (10000, 12000, "range")
    assert one("weitere 3.000 Soldaten", "de").increment
    assert math.isinf(one("more than 10,000 soldiers").high)


@pytest.mark.parametrize("text,iso", [
    ("(November 8, 1947 – November 10, 2017)", "1947-11-08/2017-11-10"), ("released on 15 March 2013", "2013-03-15"),
    ("am 4. Dezember 2024 in Kraft", "2024-12-04"), ("im März 2013", "2013-03"), ("born in 1961 in San Antonio", "1961"),
    ("the 1880s", "1880s"), ("built 1912-1914", "1912/1914"), ("1790 to 1794", "1790/1794"), ("am 28.04.2025", "2025-04-28"),
])
def test_dates_to_iso(text, iso):
    assert [d.iso for d in find_date_values(text)] == [iso]


@pytest.mark.parametrize("text,iso,shown", [
    ("vom 4. bis 6. Dezember 2024", "2024-12-04/2024-12-06", "4–6 December 2024"),
    ("December 4–6, 2024", "2024-12-04/2024-12-06", "4–6 December 2024"),
    ("on 4 and 5 December 2024", "2024-12-04/2024-12-05", "4–5 December 2024"),
    ("die 90er Jahre", "1990s", "1990s"), ("the '90s", "1990s", "1990s"),
])
def test_day_ranges_and_two_digit_decades(text, iso, shown):
    from rag.messages import format_date

    assert [d.iso for d in find_date_values(text)] == [iso] and format_date(iso, "en") == shown
    assert [q.text for q in find_quantities(text, "de")] == []  # a date's days are no amounts
    assert find_date_values("die 20er Jahre") == []  # either century


@pytest.mark.parametrize("text,iso", [("between 1914 and 1918", "1914/1918"), ("zwischen 2005 und 2010", "2005/2010")])
def test_between_two_years_is_a_range(text, iso):
    assert [(d.iso, d.text) for d in find_date_values(text)] == [(iso, text)]


@pytest.mark.parametrize("text,iso", [
    ("am 4. Dezember", "2024-12-04"), ("Sie kamen am 3. Oktober.", "2024-10-03"), ("on July 4", "2024-07-04"),
    ("Im November ratifizierten beide Länder das Abkommen", "2024-11"), ("im Januar sollen sie kommen", "2025-01"),
    ("seit März", "2024-03"), ("am 12. Dezember", "2024-12-12"), ("the 4th of July", "2024-07-04"),
])
def test_a_day_or_month_without_a_year_takes_the_year_the_article_date_implies(text, iso):
    from datetime import date

    assert [d.iso for d in find_date_values(text, date(2024, 12, 5))] == [iso]
    assert find_date_values(text) == []  # without the article's date it is no date


@pytest.mark.parametrize("text,iso", [
    ("Nordkorea hat am Montag erstmals bestätigt", "2025-04-28"), ("on Monday, the ministry said", "2025-04-28"),
    ("am Dienstag", "2025-04-29"), ("gestern", "2025-04-28"), ("vorgestern", "2025-04-27"),
    ("im vergangenen Jahr", "2024"), ("last year", "2024"), ("in diesem Jahr", "2025"), ("Im Vorjahr", "2024"),
])
def test_a_date_relative_to_the_article_date(text, iso):
    from datetime import date

    assert [d.iso for d in find_date_values(text, date(2025, 4, 29))] == [iso]  # a Tuesday
    assert find_date_values(text) == []


def test_a_relative_day_the_text_also_states_in_full_is_read_once():
    from datetime import date

    text = "Nordkorea hat am Montag (28.04.2025) erstmals bestätigt"
    assert [d.text for d in find_date_values(text, date(2025, 4, 28))] == ["28.04.2025"]


@pytest.mark.parametrize("text", ["I may go in may", "in Dec", "am 30. Februar"])
def test_no_yearless_date_where_there_is_none(text):
    from datetime import date

    assert find_date_values(text, date(2024, 12, 5)) == []


def test_a_date_inside_a_german_extended_attribute_dates_the_attribute_not_the_sentence():
    # "das im Juni vereinbarte Abkommen … ist in Kraft getreten": June is when it was agreed, not in force
    text = "Indes ist das im Juni 2024 vereinbarte Abkommen in Kraft getreten, am 4. Dezember 2024."
    assert _eligible_dates("When did the treaty enter into force?", text) == ["2024-12-04"]
    text = "Das am 19. Juni 2024 unterzeichnete Abkommen trat am 4. Dezember 2024 in Kraft."
    assert "2024-06-19" in _eligible_dates("When was the treaty signed?", text)


@pytest.mark.parametrize("a,b,same", [
    ("Tscherniak", "Cherniak", True), ("Kim Jong-un", "Kim Jong Un", True), ("Selenskyj", "Zelensky", True),
    ("Pjöngjang", "Pyongyang", True), ("Bob Evans", "Mark Wills", False), ("Green River", "Snake River", False),
])
def test_names_fold_across_spellings(a, b, same):
    assert same_name(a, b) is same


def test_entity_qualifiers_tell_different_things_apart():
    assert distinct_labels("Achada Furna", "Furna (Brava)")
    assert distinct_labels("Ariel A. Rodriguez", "Xavier Rodriguez")
    assert not distinct_labels("Achada Furna", "Achada Furna")
    assert not distinct_labels("Rodriguez", "Xavier Rodriguez")  # one is only less specific
    assert adds_qualifier("Clearwater County, Minnesota", "Clearwater County")
    assert not adds_qualifier("Clearwater County", "Clearwater County, Minnesota")
    assert not adds_qualifier("Clearwater County", "Clearwater County")
    # each names its own bracketed kind, even where one kind's words hold the other's
    assert distinct_labels("Rage Against the Machine (album)", "Rage Against the Machine (demo album)")
    assert not distinct_labels("Hong Kong Open (golf)", "Hong Kong Open (Golf)")
    # when someone lived tells two people apart only against another life span: every biography opens with one
    assert distinct_labels("Edmund Brockman (22 October 1828 – 17 September 1908)", "Edmund Brockman (1835–1900)")
    assert not distinct_labels("Ahmed I (April 1590 – 22 November 1617)", "Sultan Ahmed I")
    assert not adds_qualifier("Scott Murray (born 3 March 1988)", "Scott Murray")
    assert adds_qualifier("John Oscroft (cricketer, born 1807)", "John Oscroft")
    # an abbreviation names the same thing; a different regnal number another one
    assert not distinct_labels("Keyes, CA", "Keyes, California") and not distinct_labels("Troy, NY", "Troy, New York")
    assert distinct_labels("Keyes, CA", "Keyes, Oklahoma") and distinct_labels("Springfield, IL", "Springfield, Missouri")
    assert distinct_labels("Ahmed II", "Ahmed III") and distinct_labels("Cosimo III", "Cosimo II")
    assert not distinct_labels("Ahmed I (April 1590 – 22 November 1617)", "Sultan Ahmed I")


@pytest.mark.parametrize("entity,text,label", [
    ("Welcome to My World", "Welcome to My World (Dean Martin album) Welcome to My World is a 1967 studio album.",
     "Welcome to My World (Dean Martin album)"),
    ("Flight 109", "Sudan Airways Flight 109 was an international scheduled passenger service.", "Sudan Airways Flight 109"),
    ("Hong Kong Open", "The Hong Kong Open (tennis) is a tournament.", "Hong Kong Open (tennis)"),
    ("Lawrence County", "Lawrence County, Alabama is a county.", "Lawrence County, Alabama"),
    # a dateline's agency is no qualifier of the place
    ("New York City", "NEW YORK CITY (AP) – The mayor said on Monday that", "NEW YORK CITY"),
    # a sentence's end, or a title run into the text's first sentence, ends the name
    ("Thomas Belasyse", "He succeeded his father as Baron Belasyse. Thomas Belasyse was born in 1577.", "Thomas Belasyse"),
    ("George Brodrick", "George Charles Brodrick The Honourable George Charles Brodrick was a historian.",
     "George Charles Brodrick"),
    ("St. Louis Blues", "The St. Louis Blues is a song by W. C. Handy.", "St. Louis Blues"),
    ("New Lebanon", "New Lebanon, Ohio New Lebanon is a village in Montgomery County.", "New Lebanon, Ohio"),
    # a title run into the text is one name, with the text's bracket
    ("Ahmed", "Ahmed I Ahmed I (April 1590 – 22 November 1617) was the Sultan.", "Ahmed I (April 1590 – 22 November 1617)"),
])
def test_a_source_names_a_several_word_entity_with_its_own_qualifier(entity, text, label):
    from rag.intent import Intent
    from rag.models import Document
    from rag.reader import entity_label

    intent = Intent(question=f"What is {entity}?", entity=entity, entity_tokens=entity.lower().split())
    assert entity_label(intent, Document(doc_id="d", path="d", text=text)) == label


def test_a_less_certain_value_counts_when_its_source_names_the_entity_more_specifically():
    intent = analyse("What is the population of Clearwater County?")
    quotes = {"d1": "The population was 11,947 at the 2010 census.", "d2": "The county's population was 8,695."}
    readings = [_reading("d1", _q(11947), "Clearwater County", confidence=0.88),
                _reading("d2", _q(8695), "Clearwater County, Minnesota", confidence=0.51)]
    c = compare(readings, intent, "en", quotes, ReaderSettings())
    # flagged; as different things: a source that names only "Clearwater County" and states a figure the
    # Minnesota one's source does not may be about another Clearwater County
    assert c.kind == "different_entities" and [g.decisive for g in c.groups] == [True, True], c
    readings[1].entity_label = "Clearwater County"  # the same name: an unsure reading, listed, no flag
    assert compare(readings, intent, "en", quotes, ReaderSettings()).kind == "single"


@pytest.mark.parametrize("q,typ,dim", [
    ("What is the population of Furna according to the 2010 census?", "quantity", "count"),
    ("How many migrants were rescued?", "quantity", "count"),
    ("What was the budget?", "quantity", "money"),
    ("What is the unemployment rate?", "quantity", "percent"),
    ("Wie hoch ist die Inflation?", "quantity", None),
    ("When was Phi Delta Gamma founded?", "date", None),
    ("94 Squadron was formed in which year?", "date", None),
    ("Wann trat der Vertrag in Kraft?", "date", None),
    ("Who is the artist associated with the album \"Familiar Stranger\"?", "person", None),
    ("Where was Justice Rodriguez born?", "place", None),
    ("What river does Henrys Fork flow into?", "name", None),
    ("What is the area of Furna?", "quantity", "area"),
    ("What area of Brookhaven is known for its crime?", "place", None),  # "what area" picks a place
    ("In what area is mentorship common?", "place", None),
    ("At what rate does the economy grow?", "quantity", "percent"),
    ("Who was Count of Melfi", "person", None),  # English "was" is a verb, not German "was" (what)
    ("Was war die Zahl der Toten?", "quantity", "count"),
])
def test_question_types(q, typ, dim):
    i = analyse(q)
    assert i.answer_type == typ and i.dimension == dim


def test_question_entity_property_and_excluded_values():
    i = analyse("What is the population of Furna according to the 2010 census?")
    assert i.entity_tokens == ["furna"] and "2010" in i.excluded and any(p.startswith("popul") for p in i.property_words)
    assert analyse("How many migrants were rescued?").counted == "migrants"  # not "were"
    # the counted noun by part-of-speech tag, not the last plain word before a function word
    assert analyse("How many people live in Berlin?").counted == "people"  # not "live"
    assert analyse("How many nations contain 'Amazonas' in their names?").counted == "nations"
    assert analyse("How many square miles large was the region?").counted == "miles"
    assert analyse("How many North Korean soldiers were killed?").counted == "soldiers"
    assert analyse("When did James Scudamore die?").life_event == "end"
    assert analyse("How old was Peyton Manning in 2016?").counted is None  # "how old" counts no noun
    # a capitalised first word is a name only when it is no function word, qualifier or adverb
    assert analyse("Approximately how many works are in the Far Eastern collections?").entity == "Far Eastern"
    assert analyse("Most of the Chinese works date from which dynasty?").entity_tokens == ["chinese"]
    # prepositions say where, not what: they are no property words ("within" used to become "withi")
    assert analyse("How many nations are within the Amazon Basin?").property_words == ["nation"]
    assert "innerhalb" not in analyse("Wie viele Länder liegen innerhalb des Amazonasbeckens?").property_words
    # German question words and the polite imperative are no names ("Warum", "Welchen", "Nennen Sie"); an
    # article is a whole word ("wurden Johann" holds no "den")
    q = "Warum wurden Johann Esch und Heinrich Voes von der katholischen Kirche hingerichtet?"
    assert analyse(q).entity_tokens == ["johann", "esch", "heinrich", "voes"]
    assert analyse("Welchen Ruf hatte Tesla in der Populärkultur?").entity_tokens == ["tesla"]
    # ... and the noun asked about is no part of the entity's name ("Luxussegment" is what is asked)
    assert analyse("Nennen Sie ein Luxussegment von Toyota.").entity == "Toyota"


def test_an_apostrophe_inside_a_quoted_title_does_not_end_it():
    """A quoted title runs to its closing quote: "Don't Drink the Water" used to end at the apostrophe ("Don"),
    and no page named "don", so none was read."""
    i = analyse('Who is the director of the film "Don\'t Drink the Water"?')
    assert i.entity == "Don't Drink the Water" and i.entity_tokens == ["don't", "drink", "water"]
    assert i.property_text == "director film"
    assert analyse("Who sang 'Hey Jude' first?").entity == "Hey Jude"  # single quotes still quote
    assert analyse("Who wrote O'Brien's first novel?").entity_tokens == ["o'brien"]


def test_a_possessive_names_the_thing_itself():
    """"Chilperic's father": pages write "Chilperic", and an entity token "chilperic's" named no page (every
    source was ruled out as not naming it); the possessive is neither part of the property."""
    from rag.models import Document
    from rag.reader import entity_matches

    i = analyse("Who was Chilperic's father?")
    assert i.entity_tokens == ["chilperic"] and i.property_words == ["fath"]
    doc = Document(doc_id="d", path="d", text="Chilperic II was king of the Franks. His father was Childeric II.",
                   language="en")
    assert entity_matches(i.entity_tokens, doc, None, "en")[3] is None  # it names the asked entity
    assert analyse("When was the People's University established?").entity_tokens == ["people", "university"]
    assert "it's" not in analyse("When did BSkyB announce it's intention to replace it's channels?").property_words


def test_a_missing_series_number_rules_out_only_a_text_naming_the_series_with_another():
    from rag.models import Document
    from rag.reader import entity_matches

    doc = lambda text: Document(doc_id="d", path="d", text=text, language="de")  # noqa: E731
    bowl, squadron = ["super", "bowl", "50"], ["94", "squadron"]
    # "in einem Super Bowl" may be Super Bowl 50; "Super Bowl XLIX" is another one
    assert entity_matches(bowl, doc("der je in einem Super Bowl spielte"), None, "en")[3] is None
    assert entity_matches(bowl, doc("den Super Bowl XLIX gewann"), None, "en")[3] == "50"
    assert entity_matches(bowl, doc("beim Super Bowl 50 sang"), None, "en") == (3.0, 3.0, 0.0, None)
    assert entity_matches(["symphony", "no", "38"], doc("Symphony No . 1 in D minor, his Symphony No. 2"), None, "en")[3] == "38"
    assert entity_matches(squadron, doc("No. 95 Squadron was formed."), None, "en")[3] == "94"
    assert entity_matches(squadron, doc("The 95th Squadron flew."), None, "en")[3] == "94"
    # a lone kind before a number is named bare by pages about any squadron: no evidence
    assert entity_matches(squadron, doc("The squadron was formed in 1917."), None, "en")[3] == "94"


def test_entity_named_across_languages_only_by_spelling_variants():
    from rag.models import Document
    from rag.reader import entity_matches

    de = Document(doc_id="d", path="d", text="Er sprach fließend Englisch.", language="de")
    assert entity_matches(["english"], de, None, "en")[3] is None  # English ~ Englisch: named
    assert entity_matches(["english"], de, None, "de")[3] == "english"  # same language: no spelling slack
    assert entity_matches(["johnson"], de.model_copy(update={"text": "Johnston sagte."}), None, "de")[3] == "johnson"
    # a name another language lengthens keeps its beginning: English/englischen, France/Frankreich, Syria/Syrien
    for tok, text in [("english", "die englischen Siedler"), ("france", "aus Frankreich geflohen"), ("syria", "Syrien")]:
        assert entity_matches([tok], de.model_copy(update={"text": text}), None, "en")[3] is None, tok
    for tok, text in [("moscow", "in Moskau"), ("france", "Franz sagte")]:
        assert entity_matches([tok], de.model_copy(update={"text": text}), None, "en")[3] == tok, tok
    # a short stem is no evidence across languages: "Basis" does not name "basin" (both strip to "basi"), and
    # a missing "basin" (perhaps translated: "Becken") does not rule a document out
    basis, becken = (de.model_copy(update={"text": t}) for t in ("eine Basis der Industrie", "das Amazonasbecken"))
    assert entity_matches(["amazon", "basin"], basis, None, "en")[:2] == (0.0, 1.0)
    assert entity_matches(["amazon", "basin"], basis, None, "en")[3] == "amazon"
    assert entity_matches(["amazon", "basin"], becken, None, "en") == (1.0, 1.0, 0.0, None)
    assert entity_matches(["basin"], basis, None, "de")[:2] == (1.0, 1.0)  # same language: the stem is trusted


def _reading(doc, value, label=None, quote="x", confidence=0.9):
    return SourceReading(doc_id=doc, says=True, value=value, citation=int(doc[-1]), entity_label=label,
                         confidence=confidence)


def _q(n, qual="exact", low=None, high=None):
    return Value(kind="quantity", text=str(n), start=0, end=1, key=f"count::{n}", display=str(n), number=n,
                 low=n if low is None else low, high=n if high is None else high, dimension="count", qualifier=qual)


def test_compare_kinds():
    intent = analyse("What is the population of Furna?")
    s = ReaderSettings()
    quotes = {"d1": "At the 2010 census its population was 495.", "d2": "Its population was 1,234 in 2010.",
              "d3": "Furna had 612 inhabitants.", "d4": "At the 2010 census its population was 495."}
    c = compare([_reading("d1", _q(495), "Achada Furna"), _reading("d2", _q(1234), "Achada Furna")], intent, "en", quotes, s)
    assert c.kind == "conflict"
    c = compare([_reading("d1", _q(495), "Achada Furna"), _reading("d3", _q(612), "Furna (Brava)")], intent, "en", quotes, s)
    assert c.kind == "different_entities" and "Furna (Brava)" in c.message
    c = compare([_reading("d1", _q(495)), _reading("d4", _q(495))], intent, "en", quotes, s)
    assert c.kind == "single" and c.groups[0].independent_sources == 1  # two copies of one text are one source
    quotes["d4"] = "The census counted 495 people."
    c = compare([_reading("d1", _q(495)), _reading("d4", _q(495))], intent, "en", quotes, s)
    assert c.kind == "agree"
    rng, approx, more = _q(11000, "range", 10000, 12000), _q(11000, "approx", 9900, 12100), _q(10000, "more_than", 10000, None)
    assert compatible(rng, approx) and compatible(approx, more) and not compatible(_q(495), _q(1234))
    c = compare([_reading("d1", rng), _reading("d2", approx), _reading("d3", more)], intent, "en", quotes, s)
    assert c.kind == "vary"
    assert same_value(_q(495), _q(495)) and not same_value(_q(495), _q(496))


def test_one_agency_text_in_two_papers_is_one_source():
    """Two papers printing one agency text, each quoted at another sentence, confirm nothing: one source;
    two texts of their own that state the same figure agree."""
    intent = analyse("How many troops were sent?")
    s = ReaderSettings()
    wire = ("Officials said on Monday that 12,000 troops were sent to the border region. The deployment follows "
            "weeks of tension, and the ministry said further units could follow. {}")
    texts = {"d1": wire.format("Printed by the Morning Post."), "d2": wire.format("Printed by the Evening Star."),
             "d3": "The defence ministry confirmed the figure: twelve thousand soldiers are now stationed there."}
    quotes = {"d1": "Officials said on Monday that 12,000 troops were sent to the border region.",
              "d2": "The deployment of 12,000 troops follows weeks of tension."}
    two_papers = [_reading("d1", _q(12000)), _reading("d2", _q(12000))]
    assert compare(two_papers, intent, "en", quotes, s).kind == "agree"  # the cited sentences differ
    c = compare(two_papers, intent, "en", quotes, s, texts)
    assert c.kind == "single" and c.groups[0].independent_sources == 1 and c.groups[0].doc_ids == ["d1", "d2"]
    quotes["d3"] = texts["d3"]
    c = compare([*two_papers, _reading("d3", _q(12000))], intent, "en", quotes, s, texts)
    assert c.kind == "agree" and c.groups[0].independent_sources == 2


def test_an_altered_copy_is_a_conflict_whatever_its_label_says():
    """Two sources whose sentences are one text apart from the value describe one thing told two ways, even
    where one of them names the entity with a qualifier of its own; different texts stay different entities."""
    intent = analyse("What is the population of Furna?")
    s = ReaderSettings()
    quotes = {"d1": "Furna is a village in the south of the island; at the 2010 census its population was 495.",
              "d2": "Furna is a village in the south of the island; at the 2010 census its population was 1,234.",
              "d3": "The parish had 612 inhabitants when it was counted."}
    altered = [_reading("d1", _q(495), "Achada Furna"), _reading("d2", _q(1234), "Furna (Brava)")]
    assert compare(altered, intent, "en", quotes, s).kind == "conflict"
    other = [_reading("d1", _q(495), "Achada Furna"), _reading("d3", _q(612), "Furna (Brava)")]
    assert compare(other, intent, "en", quotes, s).kind == "different_entities"


def test_a_source_that_is_an_altered_copy_of_another_is_a_conflict_about_one_thing():
    """Two sources whose whole texts are one text apart from the value are one thing told two ways, even where
    their readings cite different sentences and name the entity differently; a less certain reading of such a
    copy is a statement against the confident one, not a value to list beside another thing of that name."""
    intent = analyse("What is the population of East Brooklyn?")
    s = ReaderSettings()
    page = ("East Brooklyn is a village in Grundy County, Illinois, United States. It lies on the river north of "
            "the county seat and was laid out in 1881 along the railway. The population was {} at the 2010 census.")
    texts = {"d1": page.format(106), "d2": page.format("5,000"),
             "d3": "East Brooklyn is a census-designated place in the town of Killingly, Windham County, "
                   "Connecticut. Its population was 1,473 at the 2010 census."}
    quotes = {"d1": "The population was 106 at the 2010 census.",
              "d2": "East Brooklyn is a village in Grundy County with 5,000 people.",
              "d3": "Its population was 1,473 at the 2010 census."}
    readings = [_reading("d1", _q(106), "East Brooklyn, Illinois"), _reading("d2", _q(5000), "East Brooklyn (village)"),
                _reading("d3", _q(1473), "East Brooklyn, Connecticut")]
    assert compare(readings, intent, "en", quotes, s).kind == "different_entities"  # the cited sentences differ
    c = compare(readings, intent, "en", quotes, s, texts)
    assert c.kind == "conflict" and {g.entity for g in c.groups if g.display in ("106", "5000")} == {0}
    # the altered copy's own name for the thing is kept beside its value
    assert "East Brooklyn, Illinois: 106 [1] or East Brooklyn (village): 5000 [2]" in c.message, c.message
    unsure = [readings[0], _reading("d2", _q(5000), "East Brooklyn, Illinois", confidence=0.2), readings[2]]
    c = compare(unsure, intent, "en", quotes, s)
    assert c.kind == "different_entities" and not next(g for g in c.groups if g.display == "5000").decisive
    c = compare(unsure, intent, "en", quotes, s, texts)
    assert c.kind == "conflict" and next(g for g in c.groups if g.display == "5000").decisive
    texts["d2"] = "A different page altogether: the sheriff counted 5,000 visitors at the county fair last summer."
    assert compare(unsure, intent, "en", quotes, s, texts).kind == "different_entities"


def test_a_source_naming_only_the_shared_name_may_be_about_another_thing_of_that_name():
    """A source that names only "Longtown" and states a figure no "Longtown, Oklahoma" source states may be about
    another Longtown: the sources differ as different things, not as a conflict. Where it agrees with them it
    joins them, and two sources naming the thing alike that disagree are a conflict."""
    intent = analyse("What is the population of Longtown?")
    s = ReaderSettings()
    quotes = {"d1": "The population was 2,397 at the 2010 census.", "d2": "In the 19th century Longtown had 158 people.",
              "d3": "The town had 2,397 residents.", "d4": "Its population is 3,100."}
    ok, plain = "Longtown, Oklahoma", "Longtown"
    c = compare([_reading("d1", _q(2397), ok), _reading("d2", _q(158), plain)], intent, "en", quotes, s)
    assert c.kind == "different_entities"
    c = compare([_reading("d1", _q(2397), ok), _reading("d3", _q(2397), plain), _reading("d2", _q(158), plain)],
                intent, "en", quotes, s)
    assert c.kind == "different_entities" and len({g.entity for g in c.groups}) == 2
    assert compare([_reading("d1", _q(2397), ok), _reading("d4", _q(3100), ok)], intent, "en", quotes, s).kind == "conflict"
    assert compare([_reading("d2", _q(158), plain), _reading("d4", _q(3100), plain)], intent, "en", quotes, s).kind == "conflict"


def test_a_value_read_with_less_certainty_is_no_thing_of_its_own():
    """Different things of one name: each is said with its sources' values; a value read with less certainty
    is listed apart (with how its source names the thing), not as one more thing of that name."""
    from rag.compose import compose

    intent = analyse("What is the population of Springfield?")
    quotes = {"d1": "The population was 1,200.", "d2": "It had 3,400 residents.", "d3": "Some 9,999 people live there."}
    readings = [_reading("d1", _q(1200), "Springfield, Ohio"), _reading("d2", _q(3400), "Springfield, Oregon"),
                _reading("d3", _q(9999), "Springfield, Oregon", confidence=0.1)]
    c = compare(readings, intent, "en", quotes, ReaderSettings())
    assert c.kind == "different_entities"
    for text in (c.message, compose(intent, c, [], "en")):
        assert "Springfield, Ohio: 1200 [1]" in text and "Springfield, Oregon: 3400 [2]" in text, text
        assert "less certainty: Springfield, Oregon: 9999 [3]" in text and "Oregon: 3400 [2]; Springfield" not in text


def test_several_things_of_one_name_and_a_conflict_about_one_of_them_are_both_said():
    """Two townships of one name, and two sources that disagree about one of them: the flag stays a conflict
    (the sources disagree), and the answer tells the two townships apart, the disputed values side by side."""
    intent = analyse("What is the population of Young America Township?")
    quotes = {"d1": "The population was 838 at the 2010 census.", "d2": "The township had 1,200 residents and a school.",
              "d3": "The population was 726 at the 2010 census."}
    carver, edgar = "Young America Township, Carver County", "Young America Township, Edgar County"
    readings = [_reading("d1", _q(838), carver), _reading("d2", _q(1200), carver), _reading("d3", _q(726), edgar)]
    c = compare(readings, intent, "en", quotes, ReaderSettings())
    assert c.kind == "conflict"
    assert [(g.display, g.entity) for g in c.groups] == [("838", 0), ("1200", 0), ("726", 1)]
    answer = compose(intent, c, [], "en")
    assert answer.startswith("The sources describe different things named Young America Township and disagree")
    assert f"{carver}: 838 [1] or 1200 [2]; {edgar}: 726 [3]" in answer and carver in c.message
    assert f"{carver}: 838 [1] oder 1200 [2]" in compose(intent, compare(readings, intent, "de", quotes,
                                                                        ReaderSettings()), [], "de")
    # one thing of that name: a plain conflict, no labels in the answer
    plain = compare(readings[:2], intent, "en", quotes, ReaderSettings())
    assert plain.kind == "conflict" and all(g.entity is None for g in plain.groups)
    assert compose(intent, plain, [], "en").startswith("838 [1]; one source says 1200 [2]")


def test_a_single_value_is_followed_by_the_sentence_it_was_read_from():
    """The answer leads with the value, then the evidence: the cited sentence, so a user sees the 1855 the
    reader picked beside the 1975 it passed over."""
    intent = analyse("When did Victoria enact its constitution?")
    sentence = "Victoria hat eine Verfassung, die im Jahr 1975 erlassen wurde, aber auf der Verfassung von 1855 basiert."
    picked = Value(kind="date", text="1855", start=0, end=4, key="1855", display="1855")
    c = compare([_reading("d1", picked)], intent, "en", {"d1": sentence}, ReaderSettings())
    evidence = [Evidence(n=2, doc_id="d2", chunk_id="d2:0", quote="Another sentence.", start=0, end=17),
                Evidence(n=1, doc_id="d1", chunk_id="d1:0", quote=sentence, start=0, end=len(sentence))]
    assert c.kind == "single"
    assert compose(intent, c, evidence, "en") == f"1855 [1]. “{sentence}” [1]"
    assert compose(intent, c, evidence, "de") == f"1855 [1]. „{sentence}“ [1]"
    assert compose(intent, c, [], "en") == "1855 [1]."  # no evidence sentence: the value alone


def test_a_date_disagreement_is_about_the_date():
    born = analyse("When was Edmund Brockman born?")
    d1 = Value(kind="date", text="1828", start=0, end=4, key="1828", display="1828")
    d2 = Value(kind="date", text="1835", start=0, end=4, key="1835", display="1835")
    c = compare([_reading("d1", d1), _reading("d2", d2)], born, "en", {"d1": "Born 1828.", "d2": "He was born in 1835."},
                ReaderSettings())
    assert c.kind == "conflict" and c.message.startswith("Sources differ on the date:")


def test_flag_bars_per_answer_kind():
    quotes = {"d1": "Its population was 495.", "d2": "Its population was 1,234 in 2010."}
    s = ReaderSettings(flag_confidence_by_type={"quantity": 0.5}, relative_flag_confidence=1.0)
    weak = [_reading("d1", _q(495), confidence=0.9), _reading("d2", _q(1234), confidence=0.55)]
    quantity = analyse("What is the population of Furna?")
    assert compare(weak, quantity, "en", quotes, s).kind == "conflict"  # 0.55 clears the quantity bar 0.5
    assert compare(weak, quantity, "en", quotes, ReaderSettings(flag_confidence_by_type={},
                                                                relative_flag_confidence=1.0)).kind == "single"
    with pytest.raises(ValueError, match="unknown answer kind 'money'"):
        ReaderSettings(flag_confidence_by_type={"money": 0.3})


def test_values_below_the_flag_floor_never_flag_however_unsure_the_others_are():
    """The relative bar lets two equally unsure readings disagree; the floor says how unsure is too unsure."""
    quotes = {"d1": "Its population was 495.", "d2": "Its population was 1,234 in 2010."}
    unsure = [_reading("d1", _q(495), confidence=0.35), _reading("d2", _q(1234), confidence=0.33)]
    quantity = analyse("What is the population of Furna?")
    assert compare(unsure, quantity, "en", quotes, ReaderSettings()).kind == "conflict"  # 0.33 ≥ 0.8 × 0.35
    floored = compare(unsure, quantity, "en", quotes, ReaderSettings(flag_floor=0.4))
    assert floored.kind == "single" and [g.decisive for g in floored.groups] == [True, False]
    # ... and a source naming the entity with a qualifier of its own does not get round it
    labelled = [_reading("d1", _q(495), "Achada Furna", confidence=0.9),
                _reading("d2", _q(1234), "Furna (Brava)", confidence=0.36)]
    assert compare(labelled, quantity, "en", quotes, ReaderSettings()).kind == "different_entities"
    assert compare(labelled, quantity, "en", quotes, ReaderSettings(flag_floor=0.4)).kind == "single"


def _labelled(name):
    rows = [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if "_comment" not in r]  # the header says how the file was made


def extraction_scores(name):
    """Precision/recall of amounts (low, high) against the labelled figures, and qualifier/role accuracy."""
    tp = fp = fn = qual = role = 0
    for row in _labelled(name):
        pred = [q for q in find_quantities(row["text"], row["lang"]) if not q.maybe_year]
        used = set()
        for g in row["figures"]:
            gh = math.inf if g["high"] is None else g["high"]
            m = next((i for i, q in enumerate(pred) if i not in used and math.isclose(q.low, g["low"], rel_tol=0.01)
                      and (math.isinf(q.high) if math.isinf(gh) else math.isclose(q.high, gh, rel_tol=0.01))), None)
            if m is None:
                fn += 1
                continue
            used.add(m)
            tp += 1
            qual += pred[m].qualifier == g["qualifier"]
            role += pred[m].increment == (g["role"] == "increment")
        fp += len(pred) - len(used)
    return {"precision": tp / (tp + fp), "recall": tp / (tp + fn), "qualifier": qual / tp, "role": role / tp}


@pytest.mark.parametrize("name,floor", [("figures_labelled.jsonl", 0.9), ("figures_heldout.jsonl", 0.85)])
def test_extraction_on_labelled_samples(name, floor):
    s = extraction_scores(name)
    assert s["precision"] >= floor and s["recall"] >= floor and s["qualifier"] >= 0.9 and s["role"] >= 0.85, s


def test_refusal_describes_the_question_only_with_words_that_describe_it():
    from rag.compose import refusal

    assert refusal(analyse("How old was Peyton Manning when he played?"), "en", [], True) == "The sources do not say."
    assert refusal(analyse("What is the population of Furna?"), "en", [], True) == "The sources do not say the population."
    assert refusal(analyse("How many Grammys has Lady Gaga won?"), "en", [], True) == \
        "The sources do not say how many Grammys."


def _eligible_dates(question: str, text: str) -> list[str]:
    from rag.models import Document
    from rag.reader import Sentence, collect_candidates, eligible

    doc = Document(doc_id="d", path="d.txt", text=text, language="de")
    sentence = Sentence(doc_id="d", chunk_id="d#0", start=0, end=len(text), sim=0.9, chunk_start=0, chunk_end=len(text))
    reading = collect_candidates(doc, [sentence], analyse(question), "en", None, 0.9)
    return [c.value.key for c in eligible(reading.candidates)]


def test_a_date_is_ruled_out_by_another_event_in_its_own_clause_only():
    # the clause of 1990 names the event asked; "geborenen" (born) elsewhere in the sentence does not rule 1971 out
    text = "Ihr berühmtester Song „Fog on the Tyne“ (1971) wurde 1990 von dem in Newcastle geborenen Paul Gascoigne gecovert."
    assert "1971" in _eligible_dates("When was the song Fog on the Tyne released?", text)
    # a date whose own clause names only another event than the asked one is still no answer
    text = "Der Vertrag wurde am 1. März 2020 unterzeichnet, in Kraft trat er am 4. Dezember 2024."
    assert _eligible_dates("When did the treaty enter into force?", text) == ["2024-12-04"]

def test_event_words_are_matched_by_the_stem_their_forms_share():
    from rag.reader import events_of

    # "Unterstützung" (support) shares its first six letters with "unterschrieben" (signed) and is no signing
    assert events_of("Unterstützung") == set() and events_of("unterzeichneten") == {"signing"}
    assert events_of("veröffentlichte") == {"release"} and events_of("gegründeten") == events_of("founded") == {"origin"}
    assert events_of("borne") == set() and events_of("forces") == set()  # short words match only themselves
    assert events_of("launch") == {"release", "origin"}  # a product is launched, and so is an attack


def test_a_word_of_two_events_keeps_a_date_of_either():
    """"launch a surprise attack" starts it: a date next to "starteten" answers it."""
    text = "Am 6. Oktober 1973 starteten Syrien und Ägypten einen Überraschungsangriff auf Israel."
    assert _eligible_dates("When did Syria and Egypt launch a surprise attack on Israel?", text) == ["1973-10-06"]


@pytest.mark.parametrize("text,en,de", [("etwa 505 Millionen Jahren", "about 505 million years", "etwa 505 Millionen Jahre"),
                                        ("2.100.000 Quadratmeilen", "2.1 million sq mi", "2,1 Millionen Quadratmeilen"),
                                        ("3 Prozentpunkte", "3 percentage points", "3 Prozentpunkte"),
                                        ("about 1,160,000 square miles", "about 1.16 million sq mi",
                                         "etwa 1,16 Millionen Quadratmeilen")])
def test_a_unit_is_shown_in_the_answer_language_not_as_the_source_spelled_it(text, en, de):
    from rag.messages import format_quantity

    q = find_quantities(text, "de")[0]
    shown = {lang: format_quantity(q.value, q.low, q.high, q.qualifier, q.unit, q.dimension, lang) for lang in ("en", "de")}
    assert shown == {"en": en, "de": de}


def test_an_amount_per_unit_is_a_rate_and_a_spaced_exponent_no_number():
    rates = lambda t, lang="en": [(q.text, q.rate) for q in find_quantities(t, lang)]  # noqa: E731
    assert rates("The density was 742.1 inhabitants per square mile ( 286.5/km 2 ) .") == [
        ("742.1", True), ("286.5", True)]  # "km 2" is km²: its 2 is no amount
    assert rates("Die Dichte liegt bei 230 Einwohnern pro Quadratkilometer.", "de") == [("230", True)]
    assert rates("Fuel cost 1.80 euros per litre; 300 soldiers were sent per the agreement.") == [
        ("1.80 euros", True), ("300", False)]  # "per the agreement" is "according to", no rate
    assert rates("He made 6 Pro Bowl teams.") == [("6", False)]  # a capitalised rate word is part of a name
    assert rates("In 2010 there were 255 people, 103 households and 77 families.") == [
        ("2010", False), ("255", False), ("103", False), ("77", False)]


@pytest.mark.parametrize("question,rate", [
    ("What is the population of Osgood?", False), ("What is the population density of Osgood?", True),
    ("Wie hoch ist die Bevölkerungsdichte von Kursk?", True), ("How many euros per litre did fuel cost?", True),
    ("Wie viele Einwohner hat Furna?", False), ("Wie hoch ist das Einkommen pro Kopf?", True),
    ("What is the GDP per capita of Chad?", True), ("Welche Dichte hat das Metall?", True),
    ("Which company makes the most cars per year?", None), ("How many players were picked for the Pro Bowl?", False),
    ("How many passengers a year does the network carry?", True), ("Wie viele Besucher kommen jährlich?", True),
    ("How much does it eat in one day?", True), ("How many people were there a year later?", False),
])
def test_a_question_asks_for_a_rate_by_its_words(question, rate):
    intent = analyse(question)
    if rate is None:  # a rate word, but the question asks for a thing
        assert intent.answer_type == "name"
    else:
        assert intent.rate is rate and (intent.answer_type == "quantity" or not rate)


def test_only_an_iso_code_names_a_currency_before_the_amount():
    read = lambda t: [(q.text, q.dimension, q.unit) for q in find_quantities(t)]  # noqa: E731
    assert read("Labour won 412 seats.") == [("412", "count", None)]  # "won" the verb, not Korean won
    assert read("It costs 5,000 won.") == [("5,000 won", "money", "KRW")]
    assert read("a deal worth USD 5 million") == [("USD 5 million", "money", "USD")]


def _opening_split(question, sources, **kw):
    """entity_split over sources given as (doc id, label, opening text)."""
    from rag.compare import entity_split
    from rag.models import Evidence

    intent = analyse(question)
    readings = [SourceReading(doc_id=d, entity_label=label) for d, label, _ in sources]
    evidence = [Evidence(n=i + 1, doc_id=d, chunk_id=d, quote=text[:40], start=0, end=40)
                for i, (d, _, text) in enumerate(sources)]
    return entity_split(readings, evidence, intent, "en", {d: text for d, _, text in sources}, **kw)


def test_sources_that_open_on_different_things_of_one_name_are_flagged_without_a_value():
    golf = ("d1", "Larry Gilbert (golf)", "Larry Gilbert (golf) Larry Gilbert was an American professional golfer.")
    baseball = ("d2", "Larry Gilbert (baseball)", "Larry Gilbert (baseball) Lawrence William Gilbert was a right fielder.")
    c = _opening_split("What sport is Larry Gilbert associated with?", [golf, baseball])
    assert c is not None and c.kind == "different_entities" and not c.groups
    assert "Larry Gilbert (golf) [1]" in c.message and "Larry Gilbert (baseball) [2]" in c.message
    # one thing told by two sources: no flag
    assert _opening_split("What sport is Larry Gilbert associated with?", [golf, ("d3", *golf[1:])]) is None
    # the question says which one it means
    assert _opening_split("Which club did Larry Gilbert play baseball for?", [golf, baseball]) is None
    # a bracketed remark deeper in the text is no qualifier of the source's subject
    squad = ("d4", "Larry Gilbert (on loan)", "The 1921 squad. " + "Players and staff of the season. " * 8
             + "Larry Gilbert (on loan) played twice.")
    assert _opening_split("What sport is Larry Gilbert associated with?", [baseball, squad]) is None
    # a label that names someone else is not the asked entity
    other = ("d5", "Kevin Lewis (footballer)", "Kevin Lewis (footballer) Kevin Lewis is a footballer.")
    assert _opening_split("What sport is Larry Gilbert associated with?", [baseball, other]) is None
    # ... but the same name spelt another way is ("Dave" for "David")
    dave = ("d6", "Dave Hancock (footballer)", "Dave Hancock (footballer) Dave Hancock is a former footballer.")
    david = ("d7", "David Hancock (cricketer)", "David Hancock (cricketer) David Hancock is a former cricketer.")
    assert _opening_split("What sport is David Hancock associated with?", [david, dave]) is not None
    # amounts and dates no source states are refused, not flagged
    assert _opening_split("When was Larry Gilbert born?", [golf, baseball]) is None


def test_the_answer_leads_with_the_different_things_then_quotes_them():
    from rag.compose import compose
    from rag.models import Evidence

    golf = ("d1", "Larry Gilbert (golf)", "Larry Gilbert (golf) Larry Gilbert was an American professional golfer.")
    baseball = ("d2", "Larry Gilbert (baseball)", "Larry Gilbert (baseball) Lawrence William Gilbert was a right fielder.")
    c = _opening_split("What sport is Larry Gilbert associated with?", [golf, baseball])
    evidence = [Evidence(n=i + 1, doc_id=d, chunk_id=d, quote=text, start=0, end=len(text))
                for i, (d, _, text) in enumerate([golf, baseball])]
    text = compose(analyse("What sport is Larry Gilbert associated with?"), c, evidence, "en")
    assert text.startswith("Sources describe different things named Larry Gilbert: Larry Gilbert (golf) [1]")
    assert "professional golfer.” [1]" in text and "right fielder.” [2]" in text


@pytest.mark.parametrize("q,kind", [
    ("What sport is Larry Gilbert associated with?", "sport"),
    ("What is the profession of Richard Sheppard?", "profession"),
    ("What political party was Governor Olson a member of?", "political party"),
    ("What type of aircraft was involved in Flight 63?", "aircraft"),  # a word for a kind gives way to its noun
    ("In which state is the Haymarket District located?", "state"),
    ("Which country does the Supreme Electoral Tribunal belong to?", ""),  # read as a place question: no class
    ("Welche Sportart betreibt Larry Gilbert?", "sportart"),
    ("What is the name of the quarterback?", ""),  # too general to say what the answer is
    ("What did Marlee Matlin translate?", ""),
    ("Who was Chilperic's father?", ""),  # a person question names no class
    ("How many libraries are part of the LCLS?", ""),
])
def test_question_asked_kind(q, kind):
    """The class a name answer belongs to, from the question's own words (the reader compares each value with it)."""
    assert analyse(q).kind_noun == kind
