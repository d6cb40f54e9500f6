"""End to end beyond the seed story: `rag eval` on our own multi-topic corpus (tests/data/topics, questions in
tests/data/topics_qa.jsonl) and on a RAMDocs-format file, through the real CLI."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def rag(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True, timeout=600, cwd=cwd)


@pytest.fixture(scope="module")
def topics_report(tmp_path_factory):
    p = rag("eval", str(DATA / "topics_qa.jsonl"), "--corpus", str(DATA / "topics"), "--json",
            "--out", str(tmp_path_factory.mktemp("out")))
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_topics_answers_and_refusals(topics_report):
    m = topics_report["metrics"]
    assert m["refusal_accuracy"] == 1.0 and m["errors"] == 0
    assert m["answer_accuracy"] >= 0.7, m
    by_id = {r["id"]: r for r in topics_report["results"]}
    assert by_id["t03"]["answer_correct"] and not by_id["t03"]["flag"]  # two sources agree on 12,000
    assert by_id["t04"]["answer"].startswith("18 October 2024")  # a date question leads with the date
    assert by_id["t10"]["answer"].startswith("15 June 2025")
    fee = by_id["t13"]["answer"]  # €45m (English article) vs 52 Mio. (German article): both figures, each cited
    assert "45 Millionen" in fee and "52 Millionen" in fee and "[1]" in fee and "[2]" in fee
    strikers = by_id["t01"]["answer"]  # 8,000 / 3,000 / 5,000 strikers: at least two figures, each cited
    assert sum(f in strikers for f in ("8,000", "3,000", "5,000")) >= 2 and "[2]" in strikers
    assert "Moravec" in by_id["t11"]["answer"]


def test_ramdocs_format_scores_conflicts_by_type_and_cause(tmp_path):
    rows = [
        {"question": "What is the population of Furna according to the 2010 census?",
         "documents": [
             {"text": "Achada Furna is a settlement in the south of the island of Fogo. At the 2010 census its population "
                      "was 495. Its elevation is about 870 meters.", "type": "correct", "answer": "495"},
             {"text": "Achada Furna is a settlement in the south of the island of Fogo. At the 2010 census its population "
                      "was 1,234. Its elevation is about 870 meters.", "type": "misinfo", "answer": "1,234"},
             {"text": "The weather in the region is dry and sunny for most of the year.", "type": "noise",
              "answer": "unknown"}],
         "disambig_entity": ["Achada Furna"], "gold_answers": ["495"], "wrong_answers": ["1,234"]},
        {"question": "When was the Elks Lodge founded?",
         "documents": [
             {"text": "Elks Lodge of Springfield. The Elks Lodge was founded on 16 February 1868 by a group of actors.",
              "type": "correct", "answer": "16 February 1868"},
             {"text": "History of the lodge: the Elks Lodge was founded in 1868 in New York City.", "type": "correct",
              "answer": "1868"}],
         "disambig_entity": ["Elks Lodge"], "gold_answers": ["16 February 1868"], "wrong_answers": []},
    ]
    f = tmp_path / "ramdocs.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    p = rag("eval", str(f), "--json")
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    res = {r["id"]: r for r in rep["results"]}
    assert res["rd000"]["gold_conflict"] and res["rd000"]["flag"] and res["rd000"]["flag_kind"] == "conflict"
    assert "495" in res["rd000"]["answer"] and "1,234" in res["rd000"]["answer"]
    assert not res["rd000-agree"]["flag"] and res["rd000-agree"]["answer"].startswith("495")
    assert not res["rd000-copy"]["flag"]  # one text in two copies is not a disagreement
    assert not res["rd001"]["flag"]  # "1868" and "16 February 1868" agree
    assert res["rd001"]["answer_correct"]
    b = rep["breakdown"]
    assert b["type=number"]["conflict_recall"] == 1.0 and "cause=misinformation" in b
    assert b["variant=correct-only type=all"]["unflagged"] == 1.0


def test_eval_rejects_a_broken_ramdocs_line(tmp_path):
    f = tmp_path / "bad.jsonl"
    f.write_text(json.dumps({"question": "q?", "documents": [{"text": 3}], "gold_answers": []}) + "\n", encoding="utf-8")
    p = rag("eval", str(f))
    assert p.returncode != 0 and "line 1" in p.stderr and "Traceback" not in p.stderr


def test_topics_through_the_http_api(tmp_path):
    """The same multi-topic questions asked over HTTP: a server started on the topics corpus answers them."""
    import httpx
    from test_server import start_server

    from rag.evaluation import answer_present, load_jsonl

    proc, url = start_server(tmp_path, corpus=DATA / "topics")
    try:
        qs = load_jsonl(DATA / "topics_qa.jsonl")
        right = 0
        for q in qs:
            r = httpx.post(url + "/api/v1/ask", json={"question": q.question}, timeout=120)
            assert r.status_code == 200, r.text
            ans = r.json()
            if not q.answerable:
                assert not ans["answerable"] and ans["answer"].startswith("The sources do not say")
                continue
            right += ans["answerable"] and answer_present(ans["answer"], q.answers)
            for c in ans["citations"]:  # every citation is an exact passage of a topics article
                text = (DATA / "topics" / f"{c['doc_id']}.txt").read_text(encoding="utf-8")
                assert text[c["start"]:c["end"]] == c["quote"]
        assert right / sum(q.answerable for q in qs) >= 0.7
    finally:
        proc.terminate()
        proc.wait(10)
