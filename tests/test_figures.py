"""Figure extraction and conflict grouping: real-world sentences, both languages, tricky cases."""

import json
import math
from pathlib import Path

import pytest

from rag.conflicts import group_figures, question_concepts
from rag.figures import describe, extract_figures, format_number, parse_number

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("s,lang,value", [
    ("10.000", "de", 10000), ("10,000", "en", 10000), ("10 000", "de", 10000), ("11.000", "de", 11000),
    ("4000", "de", 4000), ("1,5", "de", 1.5), ("1.5", "en", 1.5), ("1.000.000", "de", 1e6), ("10.000,5", "de", 10000.5),
    ("3,99", "de", 3.99), ("2,300", "en", 2300),
])
def test_parse_number_by_language(s, lang, value):
    assert parse_number(s, lang) == value


def one(text, lang="de"):
    figs = extract_figures(text, lang=lang)
    assert len(figs) == 1, [f.text for f in figs]
    return figs[0]


@pytest.mark.parametrize("text,lang,low,high,qual", [
    ("Es kamen zwischen 10.000 und 12.000 Soldaten.", "de", 10000, 12000, "range"),
    ("They sent 10,000 to 12,000 soldiers.", "en", 10000, 12000, "range"),
    ("Es waren 10.000–12.000 Soldaten.", "de", 10000, 12000, "range"),
    ("Mehr als 10.000 Soldaten wurden entsandt.", "de", 10000, math.inf, "more_than"),
    ("Über zehntausend Soldaten stehen bereit.", "de", 10000, math.inf, "more_than"),
    ("More than 10,000 soldiers were sent.", "en", 10000, math.inf, "more_than"),
    ("Etwa 11.000 Soldaten wurden entsandt.", "de", 9900, 12100, "approx"),
    ("Some 11,000 troops were sent.", "en", 9900, 12100, "approx"),
    ("Bis zu 500 Menschen sind betroffen.", "de", 0, 500, "up_to"),
    ("Zehntausende Menschen protestierten.", "de", 20000, math.inf, "vague"),
    ("Tens of thousands of people protested.", "en", 20000, math.inf, "vague"),
    ("Zwei Soldaten wurden gefangen genommen.", "de", 2, 2, "exact"),
    ("Two soldiers were captured.", "en", 2, 2, "exact"),
    ("Die Stadt hat 1,5 Millionen Einwohner.", "de", 1.5e6, 1.5e6, "exact"),
    ("The city has 1.5 million residents.", "en", 1.5e6, 1.5e6, "exact"),
])
def test_values_ranges_qualifiers(text, lang, low, high, qual):
    f = one(text, lang)
    assert f.qualifier == qual and f.low == pytest.approx(low)
    if qual != "vague":
        assert f.high == pytest.approx(high)


@pytest.mark.parametrize("text,lang", [
    ("Der Vertrag gilt seit dem 4. Dezember 2024.", "de"),
    ("Am 28.04.2025 um 11:58 Uhr wurde es bestätigt.", "de"),
    ("Artikel 4 des Vertrags sieht Beistand vor.", "de"),
    ("Sie unterstehen der 11. Luftlandebrigade.", "de"),
    ("Der Koreakrieg dauerte von 1950 bis 1953.", "de"),
    ("Im Jahr 2024 änderte sich viel.", "de"),
    ("Rufen Sie +49 30 1234567 an.", "de"),
    ("Call 555-0100 now.", "en"),
    ("It happened on the 3rd of May.", "en"),
    ("Es gab keine Toten.", "de"),
    ("No soldiers were killed.", "en"),
    ("Das ist die zweite Reihe.", "de"),
])
def test_dates_years_references_are_not_figures(text, lang):
    assert extract_figures(text, lang=lang) == []


def test_increments_concepts_and_attribution():
    s = ("Südkorea schätzt, dass im Oktober mehr als 10.000 nordkoreanische Soldaten nach Russland entsandt wurden "
         "und in den ersten Monaten dieses Jahres weitere 3.000 hinzukamen.")
    total, inc = extract_figures(s, lang="de")
    assert (total.role, total.concept) == ("total", "soldiers")
    assert (total.attributed_to, total.refers_to_time) == ("Südkorea", "im Oktober")
    assert (inc.role, inc.concept, inc.low) == ("increment", "soldiers", 3000)
    cas = one("Doch im März gab das südkoreanische Militär bekannt, dass etwa 4.000 Soldaten getötet oder verwundet "
              "worden seien.")
    assert cas.concept == "casualties" and cas.attributed_to == "das südkoreanische Militär" and cas.refers_to_time == "im März"
    en = one("About 4,000 North Korean soldiers have been killed or wounded.", "en")
    assert en.concept == "casualties"
    assert one("Truppen: 5.000 Truppen wurden verlegt.").concept == one("5,000 troops were moved.", "en").concept == "soldiers"
    inc2 = one("Die Regierung stellt zusätzliche 500 Millionen Euro bereit.")
    assert (inc2.role, inc2.concept, inc2.low) == ("increment", "money_eur", 5e8)
    assert one("Die Quote liegt bei 6,3 Prozent.").concept == "percent"


def test_spans_point_into_text():
    text = "Intro. Pjöngjang habe zwischen 10.000 und 12.000 Soldaten entsandt."
    f = extract_figures(text[7:], offset=7)[0]
    assert text[f.start:f.end] == "zwischen 10.000 und 12.000"
    assert text[f.sentence_start:f.sentence_end] == f.quote


def test_describe_and_format():
    assert format_number(10000, "en") == "10,000" and format_number(10000, "de") == "10.000"
    assert format_number(1.5e6, "de") == "1,5 Millionen" and format_number(2.5e9, "en") == "2.5 billion"
    f = one("Etwa 11.000 Soldaten.")
    assert describe(f, "en") == "about 11,000" and describe(f, "de") == "etwa 11.000"


def _figs(sentences, lang="de"):
    out = []
    for i, s in enumerate(sentences):
        for f in extract_figures(s, lang=lang):
            f.doc_id = f"d{i}"
            out.append(f)
    return out


def test_grouping_vary_agree_conflict():
    figs = _figs(["Nordkorea habe zwischen 10.000 und 12.000 Soldaten geschickt.", "Etwa 11.000 Soldaten wurden entsandt.",
                  "Mehr als 10.000 Soldaten wurden entsandt, weitere 3.000 kamen hinzu.", "Etwa 3.000 zusätzliche Soldaten.",
                  "Etwa 4.000 Soldaten wurden getötet oder verwundet."])
    groups = group_figures(figs, {"soldiers"})
    total = next(g for g in groups if g.role == "total")
    inc = next(g for g in groups if g.role == "increment")
    assert total.kind == "vary" and len(total.entries) == 3
    assert inc.kind == "agree" and sorted(inc.entries[0].doc_ids) == ["d2", "d3"]
    assert all(f.concept != "casualties" for g in groups for e in g.entries for f in e.figures)
    conflict = group_figures(_figs(["3.559 Menschen wurden getötet.", "10.000 Menschen wurden getötet."]), {"killed"})
    assert conflict[0].kind == "conflict"


def test_same_figure_from_several_articles_shown_once():
    figs = _figs(["Mehr als 10.000 Soldaten wurden entsandt.", "Über zehntausend Soldaten stehen bereit.",
                  "Nordkorea entsandte mehr als 10.000 Soldaten."])
    (g,) = group_figures(figs, {"soldiers"})
    assert g.kind == "agree" and len(g.entries) == 1 and g.entries[0].doc_ids == ["d0", "d1", "d2"]


def test_question_concepts():
    assert question_concepts("How many troops did North Korea send?") == {"soldiers"}
    assert question_concepts("Wie viele Soldaten wurden entsandt?") == {"soldiers"}
    assert "casualties" in question_concepts("How many were killed or wounded?")


def test_labelled_samples_meet_targets():
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    from bench_figures import conflicts, extraction

    dev = extraction()
    held = extraction(name="figures_heldout.jsonl")
    assert dev["gold_figures"] >= 55 and dev["sentences"] + held["sentences"] >= 60
    assert held["precision"] >= 0.85 and held["recall"] >= 0.85
    assert conflicts()["accuracy"] >= 0.85
    assert all(json.loads(x) for x in (DATA / "conflict_groups.jsonl").read_text(encoding="utf-8").splitlines())
