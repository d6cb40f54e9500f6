"""rag eval: datasets, metrics and reports."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_settings, need_shared

from rag.errors import RagError
from rag.evaluation import answer_present, load_dataset, load_jsonl, run_eval, summarize, token_f1, write_reports

ROOT = Path(__file__).parents[1]
XQUAD = ROOT.parent / "shared" / "data" / "xquad"


def test_number_aware_matching():
    assert answer_present("Es waren 10,000 Soldaten [1].", ["10.000"])
    assert answer_present("about 10000 troops", ["10.000"])
    assert answer_present("Die Region KURSK", ["kursk"]) and answer_present("Muenchen", ["München"])
    assert not answer_present("110.000 Soldaten", ["10.000"])
    # a gold answer that is one amount matches that amount however it is written; longer golds stay text
    assert answer_present("3 [1]", ["drei"]) and answer_present("1,160,000 square miles", ["1.160.000 Quadratmeilen"])
    assert not answer_present("2 [1]", ["zwei Drittel seiner Bevölkerung"])
    # articles are no part of an answer (as in the SQuAD / MLQA scripts), but a word holding one is
    assert answer_present("Pittsburgh Steelers", ["die Pittsburgh Steelers"]) and answer_present("the Beatles", ["Beatles"])
    assert not answer_present("Dieselmotor", ["die"]) and not answer_present("Steelers", ["die Pittsburgh Steelers"])
    assert token_f1("the Denver Broncos team", ["Denver Broncos"]) == pytest.approx(0.8)


def test_malformed_eval_file_names_line(tmp_path):
    f = tmp_path / "q.jsonl"
    f.write_text('{"question": "ok?", "answers": ["a"]}\n{"question": broken}\n', encoding="utf-8")
    with pytest.raises(RagError, match=r"q.jsonl line 2"):
        load_jsonl(f)
    f.write_text('{"question": "", "answers": []}\n', encoding="utf-8")
    with pytest.raises(RagError, match=r"line 1.*question"):
        load_jsonl(f)


def test_unknown_fields_kept_and_unknown_sources_refused(tmp_path):
    f = tmp_path / "q.jsonl"
    f.write_text(json.dumps({"id": "x", "question": "Kursk?", "answers": ["Kursk"], "sources": ["nope"], "note": 1}) + "\n",
                 encoding="utf-8")
    ds = load_dataset(f)
    assert ds.questions[0].extra == {"note": 1}
    with pytest.raises(RagError, match="unknown source document"):
        run_eval(make_settings(tmp_path), ds)


def test_seed_eval_metrics_and_reports(tmp_path):
    s = make_settings(tmp_path)
    report = run_eval(s, load_dataset(None))
    m = report["metrics"]
    assert m["questions"] >= 25 and m["errors"] == 0
    assert m["recall@5"] >= 0.9 and m["answer_accuracy"] >= 0.8
    assert m["refusal_accuracy"] >= 0.8 and m["conflict_recall"] >= 0.75
    assert 0 < m["latency_p50_s"] <= m["latency_p95_s"]
    assert m["load_seconds"] > 0  # the models load before the first question is timed
    from rag.answer import question_language

    for lang in ("en", "de"):  # English questions over German articles as well as German ones
        rows = [r for r in report["results"] if question_language(r["question"]) == lang and r["gold_answerable"]]
        assert len(rows) >= 5 and sum(bool(r["answer_correct"]) for r in rows) / len(rows) >= 0.75, lang
    paths = write_reports(report, tmp_path / "out")
    assert [p.name for p in paths] == ["report.md", "results.jsonl", "metrics.png"]
    assert "| recall@5 |" in paths[0].read_text()
    assert len(paths[1].read_text().splitlines()) == m["questions"]
    assert paths[2].read_bytes()[:4] == b"\x89PNG"
    md = paths[0].read_text()
    assert "| asked=quantity |" in md and "| asked=date |" in md  # metrics by the type each question asks for
    flagged = [r for r in report["results"] if r.get("flag") and r.get("answer_type") in ("quantity", "date")]
    charts = sorted((tmp_path / "out" / "charts").glob("*.png"))
    assert flagged and len(charts) >= len(flagged) * 0.8  # one picture per question whose sources differ
    assert all(c.read_bytes()[:4] == b"\x89PNG" for c in charts)
    assert f"](charts/{charts[0].name})" in md and "## Where the sources differ" in md


def test_summarize_conflict_and_refusal_math():
    rows = [
        {"sources": ["a"], "first_relevant_rank": 1, "first_relevant_doc_rank": 1, "relevant": [True], "n_relevant": 1,
         "gold_answerable": True, "answerable": True, "answer_correct": True, "f1": 1.0, "citations": [{}],
         "valid_citations": 1, "gold_conflict": True, "flag": "x", "latency_s": 0.1},
        {"sources": ["a"], "first_relevant_rank": 2, "first_relevant_doc_rank": 2, "relevant": [False, True], "n_relevant": 1,
         "gold_answerable": True, "answerable": False, "answer_correct": False, "f1": 0.0, "citations": [],
         "valid_citations": 0, "gold_conflict": False, "flag": "y", "latency_s": 0.3},
        {"sources": [], "gold_answerable": False, "answerable": False, "answer_correct": None, "f1": 0.0, "citations": [],
         "valid_citations": 0, "gold_conflict": False, "flag": None, "latency_s": 0.2},
    ]
    m = summarize(rows)
    assert m["recall@1"] == 0.5 and m["mrr"] == 0.75 and m["false_refusals"] == 0.5 and m["refusal_accuracy"] == 1.0
    assert m["conflict_precision"] == 0.5 and m["conflict_recall"] == 1.0 and m["citation_precision"] == 1.0


def test_squad_cross_lingual_eval_cli(tmp_path):
    """English questions over German paragraphs through the CLI: six XQuAD articles (30 paragraphs, five per
    topic, so the paragraphs of one article compete), 40 questions."""
    need_shared("xquad")
    for lang in ("de", "en"):
        data = json.loads((XQUAD / f"xquad.{lang}.dev.json").read_text(encoding="utf-8"))
        data["data"] = data["data"][:6]
        (tmp_path / f"xquad.{lang}.json").write_text(json.dumps(data), encoding="utf-8")
    p = subprocess.run([sys.executable, "-m", "rag.cli", "eval", str(tmp_path / "xquad.de.json"), "--questions",
                        str(tmp_path / "xquad.en.json"), "--limit", "40", "--json"], capture_output=True, text=True,
                       cwd=ROOT, timeout=600, env={**__import__("os").environ, "RAG_INDEX__ROOT": str(tmp_path)})
    assert p.returncode == 0, p.stderr
    m = json.loads(p.stdout)["metrics"]
    assert m["questions"] == 40 and m["doc_recall@5"] >= 0.9


def test_squad_unanswerable_variant_hides_the_question_article(tmp_path):
    """``--unanswerable``: every SQuAD question is asked again with its own article's paragraphs hidden; that
    copy is gold-unanswerable, retrieval never returns the hidden paragraphs, and the report gives the share
    refused. A RAMDocs or JSONL file is told the option needs SQuAD."""
    need_shared("xquad")
    data = json.loads((XQUAD / "xquad.de.dev.json").read_text(encoding="utf-8"))
    data["data"] = data["data"][:3]
    f = tmp_path / "xquad.de.json"
    f.write_text(json.dumps(data), encoding="utf-8")
    ds = load_dataset(f, limit=8, unanswerable=True)
    assert [q.id.endswith("-hidden") for q in ds.questions] == [False, True] * 4
    asked, hidden = ds.questions[0], ds.questions[1]
    assert hidden.question == asked.question and not hidden.answerable and not hidden.sources
    article = asked.sources[0].split("_")[0]
    assert hidden.exclude == [d.doc_id for d in ds.documents if d.doc_id.startswith(article + "_")]
    report = run_eval(make_settings(tmp_path), ds)
    rows = [r for r in report["results"] if r["variant"] == "article-hidden"]
    assert len(rows) == 4 and all(not r["gold_answerable"] for r in rows)
    hidden_docs = {q.id: set(q.exclude) for q in ds.questions}
    assert all(c["doc_id"] not in hidden_docs[r["id"]] for r in rows for c in r["citations"])
    refused = sum(not r["answerable"] for r in rows) / 4
    assert report["breakdown"]["variant=article-hidden"] == {"questions": 4, "refused": refused}
    assert report["metrics"]["refusal_accuracy"] == refused
    with pytest.raises(RagError, match="--unanswerable needs a SQuAD/XQuAD file"):  # its pages share entities
        load_dataset(need_shared("ramdocs", "ramdocs_dev.jsonl"), unanswerable=True)
    with pytest.raises(RagError, match="--unanswerable needs a SQuAD/XQuAD file"):
        load_dataset(None, unanswerable=True)
