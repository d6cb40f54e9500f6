"""``rag eval``: measure retrieval, answers, citations, conflict flags and latency on a question set.

Formats:
- our JSONL: ``{"id", "question", "answers": [...], "sources": [doc ids], "answerable": bool, "conflict": bool}``
  over a corpus folder (default: the seeds);
- SQuAD v1.1 JSON: each paragraph becomes a document of a temporary index; ``questions`` may be a second
  SQuAD file whose questions (matched by id) are asked instead (e.g. English questions, German paragraphs).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.config import Settings
from rag.errors import RagError
from rag.models import Document, Span
from rag.text import detect_language, fold, normalize_number

DEFAULT_QA = Path(__file__).resolve().parents[1] / "tests" / "data" / "seeds_qa.jsonl"


@dataclass
class Question:
    id: str
    question: str
    answers: list[str]
    sources: list[str] = field(default_factory=list)
    answerable: bool = True
    conflict: bool = False
    answer_spans: list[tuple[str, int, int]] = field(default_factory=list)  # SQuAD: (doc_id, start, end)
    extra: dict[str, Any] = field(default_factory=dict)
    exclude: list[str] = field(default_factory=list)  # documents hidden from this question (RAMDocs copies)
    only: list[str] = field(default_factory=list)  # the only documents this question sees (RAMDocs variants)

    def filters(self) -> Any:
        """The retrieval filters that give this question its own view of the corpus."""
        from rag.retrieval import Filters

        if not self.only and not self.exclude:
            return None
        return Filters(doc_ids=self.only or None, exclude_doc_ids=self.exclude or None)


@dataclass
class Dataset:
    name: str
    questions: list[Question]
    documents: list[Document] | None = None  # SQuAD: the paragraphs
    corpus: list[Path] | None = None


# ---------------------------------------------------------------- loading


def load_jsonl(path: Path) -> list[Question]:
    """Read our JSONL format; errors name the file and line."""
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise RagError(f"{path}: cannot read ({exc})") from None
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RagError(f"{path} line {i}: not valid JSON ({exc.msg})") from None
        if isinstance(row, dict) and set(row) == {"_comment"}:
            continue  # a header line saying how the file was made
        if not isinstance(row, dict) or not isinstance(row.get("question"), str) or not row["question"].strip():
            raise RagError(f"{path} line {i}: needs a non-empty string field 'question'")
        answers = row.get("answers", [])
        if not isinstance(answers, list) or not all(isinstance(a, str | int | float) for a in answers):
            raise RagError(f"{path} line {i}: field 'answers' must be a list of strings")
        sources = row.get("sources", [])
        if not isinstance(sources, list):
            raise RagError(f"{path} line {i}: field 'sources' must be a list of document ids")
        known = {"id", "question", "answers", "sources", "answerable", "conflict"}
        out.append(Question(id=str(row.get("id", i)), question=row["question"], answers=[str(a) for a in answers],
                            sources=[str(s) for s in sources], answerable=bool(row.get("answerable", True)),
                            conflict=bool(row.get("conflict", False)),
                            extra={k: v for k, v in row.items() if k not in known}))
    if not out:
        raise RagError(f"{path}: no questions")
    return out


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise RagError(f"{path}: cannot read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise RagError(f"{path} line {exc.lineno}: not valid JSON ({exc.msg})") from None


def load_squad(path: Path, questions_path: Path | None = None, limit: int | None = None, part: str = "all",
               unanswerable: bool = False) -> Dataset:
    """SQuAD v1.1: paragraphs become documents ``sq{article}_{paragraph}``; answers keep their spans. With
    ``part``, only the questions of the tune or measure articles (every fifth article) are asked; every
    paragraph stays in the corpus. With ``unanswerable``, every question is asked a second time with its own
    article's paragraphs hidden (variant ``article-hidden``): no remaining paragraph answers it, so it must
    be refused."""
    data = _read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise RagError(f"{path}: not SQuAD v1.1 JSON (no 'data' list)")
    other: dict[str, str] = {}
    if questions_path is not None:
        qd = _read_json(questions_path)
        try:
            other = {qa["id"]: qa["question"] for a in qd["data"] for p in a["paragraphs"] for qa in p["qas"]}
        except (KeyError, TypeError):
            raise RagError(f"{questions_path}: not SQuAD v1.1 JSON") from None
    try:
        return _squad_dataset(path, data, other, questions_path, limit, part, unanswerable)
    except (KeyError, TypeError, AttributeError) as exc:
        raise RagError(f"{path}: not SQuAD v1.1 JSON (a paragraph or question lacks {exc}; each needs context, "
                       "qas [{id, question, answers [{text, answer_start}]}])") from None


def _squad_dataset(path: Path, data: dict[str, Any], other: dict[str, str], questions_path: Path | None,
                   limit: int | None, part: str, unanswerable: bool = False) -> Dataset:
    docs: list[Document] = []
    qs: list[Question] = []
    for ai, art in enumerate(data["data"]):
        article = [f"sq{ai:03d}_{pi:02d}" for pi in range(len(art.get("paragraphs", [])))]
        for pi, para in enumerate(art.get("paragraphs", [])):
            doc_id = article[pi]
            text = para["context"]
            docs.append(Document(doc_id=doc_id, path=f"{path}#{doc_id}", text=text, title="", language=detect_language(text),
                                 content_hash=hashlib.sha256(text.encode()).hexdigest(), format="squad",
                                 segments=[Span(start=0, end=len(text))]))
            for qa in para["qas"]:
                if not part_of(ai, part):
                    continue
                q = other.get(qa["id"]) if questions_path is not None else qa["question"]
                if not q:
                    continue
                spans = [(doc_id, a["answer_start"], a["answer_start"] + len(a["text"])) for a in qa["answers"]]
                qs.append(Question(id=qa["id"], question=q, answers=[a["text"] for a in qa["answers"]], sources=[doc_id],
                                   answer_spans=spans))
                if unanswerable:
                    qs.append(Question(id=f"{qa['id']}-hidden", question=q, answers=[], answerable=False,
                                       extra={"variant": "article-hidden"}, exclude=article))
    if limit:
        qs = qs[:limit]
    return Dataset(name=path.name + (f" (questions: {questions_path.name})" if questions_path else "")
                   + ("" if part == "all" else f" ({part} part)"), questions=qs, documents=docs)


def _gold_type(answer: str) -> str:
    from rag.values import find_date_values, find_quantities

    a = answer.strip()
    if re.fullmatch(r"[\d.,\s%$€£]+(?:\s*\w+)?", a) and find_quantities(a) and not re.fullmatch(r"1\d{3}|20\d\d", a):
        return "number"
    if find_date_values(a):
        return "date"
    return "name"


def part_of(index: int, part: str) -> bool:
    """Development data is split by position: every fifth item (index % 5 == 4; RAMDocs: questions, SQuAD:
    articles) is the *measure* part, never looked at while tuning; the rest is the *tune* part."""
    return part == "all" or (part == "measure") == (index % 5 == 4)


def load_ramdocs(path: Path, part: str = "all", variants: bool = True, limit: int | None = None) -> Dataset:
    """RAMDocs JSONL (``question``, ``documents`` [{text, type, answer}], ``gold_answers``, ``wrong_answers``,
    ``disambig_entity``): all documents of all questions form one corpus.

    The gold conflict of a question is "its non-noise documents state different answers". With ``variants``,
    each question also yields two agreeing variants that must not be flagged: one whose corpus is only the
    ``correct`` documents of its best-supported gold answer, and one whose corpus is those plus a second
    copy of one of them.
    """
    docs: list[Document] = []
    qs: list[Question] = []
    dup_ids: list[str] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise RagError(f"{path}: cannot read ({exc})") from None
    rows = []
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            assert isinstance(row["question"], str) and isinstance(row["documents"], list)
            for d in row["documents"]:
                assert isinstance(d["text"], str) and d["type"] in ("correct", "misinfo", "noise")
            assert isinstance(row["gold_answers"], list)
        except (json.JSONDecodeError, KeyError, TypeError, AssertionError):
            raise RagError(f"{path} line {i}: not a RAMDocs record (needs question, documents [{{text, type, answer}}], "
                           f"gold_answers)") from None
        rows.append(row)
    for qi, row in enumerate(rows):  # every question's documents form one corpus, whichever part is asked
        for j, d in enumerate(row["documents"]):
            doc_id = f"rd{qi:03d}_{j:02d}"
            docs.append(Document(doc_id=doc_id, path=f"{path}#{doc_id}", text=d["text"], language="en",
                                 content_hash=hashlib.sha256(d["text"].encode()).hexdigest(), format="ramdocs",
                                 segments=[Span(start=0, end=len(d["text"]))]))
    for qi, row in enumerate(rows):
        if not part_of(qi, part):
            continue
        ids = [f"rd{qi:03d}_{j:02d}" for j in range(len(row["documents"]))]
        stated = [str(d["answer"]) for d in row["documents"] if d["type"] != "noise"]
        conflict = len({_norm(a) for a in stated}) > 1
        has_misinfo = any(d["type"] == "misinfo" for d in row["documents"])
        cause = "misinformation" if has_misinfo else ("ambiguity" if conflict else "none")
        gold = [str(g) for g in row["gold_answers"]]
        extra = {"answer_type": _gold_type(gold[0]) if gold else "name", "cause": cause,
                 "wrong_answers": row.get("wrong_answers", []), "part": "measure" if qi % 5 == 4 else "tune"}
        correct = [ids[j] for j, d in enumerate(row["documents"]) if d["type"] == "correct"]
        qs.append(Question(id=f"rd{qi:03d}", question=row["question"], answers=gold, sources=correct,
                           conflict=conflict, extra=extra))
        if not variants or not correct:
            continue
        by_answer: dict[str, list[str]] = {}
        for j, d in enumerate(row["documents"]):
            if d["type"] == "correct":
                by_answer.setdefault(_norm(str(d["answer"])), []).append(ids[j])
        best = max(by_answer, key=lambda a: len(by_answer[a]))
        keep = by_answer[best]
        answer = next(str(d["answer"]) for j, d in enumerate(row["documents"]) if ids[j] == keep[0])
        vextra = dict(extra, cause="none", variant="correct-only")
        qs.append(Question(id=f"rd{qi:03d}-agree", question=row["question"], answers=[answer], sources=keep,
                           conflict=False, extra=vextra, only=keep))
        dup = f"rd{qi:03d}_copy"
        src = next(d for j, d in enumerate(row["documents"]) if ids[j] == keep[0])
        docs.append(Document(doc_id=dup, path=f"{path}#{dup}", text=src["text"], language="en",
                             content_hash=hashlib.sha256(src["text"].encode()).hexdigest(), format="ramdocs",
                             segments=[Span(start=0, end=len(src["text"]))]))
        dup_ids.append(dup)
        qs.append(Question(id=f"rd{qi:03d}-copy", question=row["question"], answers=[answer], sources=keep + [dup],
                           conflict=False, extra=dict(extra, cause="none", variant="copied"), only=keep + [dup]))
    if not qs:
        raise RagError(f"{path}: no questions")
    for q in qs:  # a copy is visible only to its own variant
        q.exclude = q.exclude + [d for d in dup_ids if d not in q.sources]
    if limit:
        qs = qs[:limit]
    return Dataset(name=path.name + ("" if part == "all" else f" ({part} part)"), questions=qs, documents=docs)


def _is_ramdocs(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8") as fh:
            first = fh.readline()
        row = json.loads(first)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(row, dict) and "documents" in row and "gold_answers" in row


def load_dataset(path: Path | None, questions: Path | None = None, corpus: list[Path] | None = None,
                 limit: int | None = None, part: str = "all", variants: bool = True,
                 unanswerable: bool = False) -> Dataset:
    """Our JSONL, SQuAD JSON or RAMDocs JSONL, recognised by content. ``unanswerable`` (SQuAD only): also ask
    every question with its own article hidden. Not RAMDocs: other questions' pages describe the same people
    and places (with a question's own documents hidden, 155 of the 183 answers given on the tune part still
    held its gold answer), so hiding them does not make a question unanswerable."""
    path = path or DEFAULT_QA
    if not path.exists():
        raise RagError(f"{path}: no such file")
    if path.suffix.lower() == ".json":
        return load_squad(path, questions, limit, part=part, unanswerable=unanswerable)
    if unanswerable:
        raise RagError(f"{path}: --unanswerable needs a SQuAD/XQuAD file (it hides each question's article; "
                       "RAMDocs pages of other questions describe the same entities)")
    if _is_ramdocs(path):
        return load_ramdocs(path, part=part, variants=variants, limit=limit)
    qs = load_jsonl(path)
    return Dataset(name=path.name, questions=qs[:limit] if limit else qs, corpus=corpus)


# ---------------------------------------------------------------- matching


def _dates_iso(text: str) -> str:
    from rag.values import find_date_values

    out, pos = [], 0
    for d in find_date_values(text):
        out.append(text[pos:d.start])
        out.append(" " + d.iso.replace("-", " ").replace("/", " ") + " ")
        pos = d.end
    out.append(text[pos:])
    return "".join(out)


def _norm(text: str) -> str:
    t = fold(_dates_iso(text))
    t = re.sub(r"\d+(?:[.,\u202f ]\d{3})+(?![\d])", lambda m: normalize_number(m.group(0)), t)
    return " ".join(re.findall(r"\w+", t))


# articles are no part of an answer (the SQuAD and MLQA evaluation scripts drop them the same way): "die
# Pittsburgh Steelers" is found in "Pittsburgh Steelers"
_ARTICLES = re.compile(r"\b(?:a|an|the|ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b")


def _answer_norm(text: str) -> str:
    """:func:`_norm` without articles: how an answer is matched against its gold answers."""
    return " ".join(_ARTICLES.sub(" ", _norm(text)).split())


def _gold_value(gold: str) -> float | None:
    """The value of a gold answer that is one amount and at most one more word (a unit): "drei",
    "1.160.000 Quadratmeilen", "über 14.000"; else None ("zwei Drittel seiner Bevölkerung")."""
    from rag.values import find_quantities

    for lang in ("de", "en"):
        qs = find_quantities(gold, lang)
        if len(qs) == 1:
            rest = gold[:qs[0].start] + " " + gold[qs[0].end:]
            return qs[0].value if len(re.findall(r"\w+", rest)) <= 1 else None
    return None


def answer_present(answer: str, golds: list[str]) -> bool:
    """Gold answer present in the answer: case/diacritic-insensitive, articles aside, numbers by value
    (10.000 = 10,000, drei = 3: a gold answer that is one amount matches the same amount stated in the answer)."""
    a = f" {_answer_norm(answer)} "
    if any(_answer_norm(g) and f" {_answer_norm(g)} " in a for g in golds):
        return True
    values = [v for v in map(_gold_value, golds) if v is not None]
    if not values:
        return False
    from rag.values import find_quantities

    stated = {q.value for lang in ("de", "en") for q in find_quantities(answer, lang)}
    return any(v in stated for v in values)


def token_f1(answer: str, golds: list[str]) -> float:
    pred = _answer_norm(answer).split()
    best = 0.0
    for g in golds:
        gold = _answer_norm(g).split()
        common = sum(min(pred.count(w), gold.count(w)) for w in set(gold))
        if not pred or not gold or common == 0:
            continue
        p, r = common / len(pred), common / len(gold)
        best = max(best, 2 * p * r / (p + r))
    return best


# ---------------------------------------------------------------- running


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


def run_eval(settings: Settings, dataset: Dataset, llm: str = "none", k: int = 10,
             progress: Callable[[int, int], None] | None = None, index_root: Path | None = None,
             index_name: str | None = None) -> dict[str, Any]:
    """Index the dataset's corpus and ask every question.

    Args:
        settings: all settings.
        dataset: questions and their corpus.
        llm: answer backend.
        k: hits scored for the retrieval metrics.
        progress: called as ``progress(done, total)``.
        index_root: where the temporary index goes.
        index_name: evaluate on the index ``index/NAME`` instead of a temporary one: the dataset's own
            documents are added to it incrementally (unchanged ones cost nothing), a corpus folder is not.

    Returns:
        ``{"metrics": {...}, "results": [per-question dicts], "config": {...}}``.
    """
    import contextlib

    from rag.answer import ask
    from rag.engine import Engine
    from rag.indexer import build_index

    ctx = contextlib.nullcontext(None) if index_name else tempfile.TemporaryDirectory(prefix="rag-eval-", dir=index_root)
    with ctx as tmp:
        cache = settings.embedding.cache_path or Path(settings.index.root) / ".cache" / "embeddings.sqlite"
        if index_name:
            s = settings.model_copy(update={"index": settings.index.model_copy(update={"name": index_name})})
        else:
            s = settings.model_copy(update={
                "index": settings.index.model_copy(update={"root": Path(tmp), "name": "eval"}),
                "embedding": settings.embedding.model_copy(update={"cache_path": cache}),
            })
        t0 = time.perf_counter()
        if dataset.documents is not None:
            build_index(s, documents=dataset.documents)
        elif not index_name:
            build_index(s, paths=dataset.corpus or [Path(settings.corpus)])
        index_s = time.perf_counter() - t0
        engine = Engine(s)
        data = engine.retriever.data
        known = set(data.documents)
        for q in dataset.questions:
            bad = [d for d in q.sources if d not in known]
            if bad:
                raise RagError(f"question {q.id}: unknown source document id(s) {', '.join(bad)} "
                               f"(ids are file stems of the evaluated corpus)")
        # latency is a warm service's: the models load once, before the first question (load_seconds)
        load_s = engine.warm_up() if dataset.questions and data.documents else 0.0
        results = []
        for i, q in enumerate(dataset.questions):
            t = time.perf_counter()
            filt = q.filters()
            hits = engine.search(q.question, k=k, filters=filt)
            t_search = time.perf_counter() - t
            rel = [_relevant(h, q) for h in hits]
            doc_rank = next((r + 1 for r, h in enumerate(hits) if h.doc_id in q.sources), None)
            t = time.perf_counter()
            try:
                ans = ask(engine, q.question, llm=llm, filters=filt)
            except RagError as exc:
                results.append({"id": q.id, "question": q.question, "error": str(exc)})
                continue
            latency = time.perf_counter() - t
            answered = ans.answerable
            correct_cites = [c for c in ans.citations
                             if c.doc_id in q.sources and answer_present(c.quote, q.answers)]
            results.append({
                "id": q.id, "question": q.question, "gold": q.answers, "sources": q.sources,
                "gold_answerable": q.answerable, "gold_conflict": q.conflict,
                "answer": ans.answer, "answerable": answered, "refusal_reason": ans.refusal_reason,
                "flag": ans.flag, "flag_kind": ans.flag_kind, "backend": ans.backend, "answer_type": ans.answer_type,
                "gold_type": q.extra.get("answer_type"), "cause": q.extra.get("cause"), "variant": q.extra.get("variant"),
                "part": q.extra.get("part"),
                "values": [{"doc_id": r.doc_id, "value": r.value.display if r.value else None, "label": r.entity_label}
                           for r in ans.readings if r.says],
                "first_relevant_rank": next((r + 1 for r, x in enumerate(rel) if x), None),
                "first_relevant_doc_rank": doc_rank,
                "relevant": rel, "n_relevant": _n_relevant(data, q),
                "answer_correct": answered and answer_present(ans.answer, q.answers) if q.answerable else None,
                "short_answer": ans.short_answer,
                "short_correct": answered and answer_present(ans.short_answer, q.answers) if q.answerable else None,
                "f1": token_f1(ans.answer, q.answers) if q.answerable and answered else 0.0,
                "short_f1": token_f1(ans.short_answer, q.answers) if q.answerable and answered else 0.0,
                "citations": [{"n": c.n, "doc_id": c.doc_id, "quote": c.quote} for c in ans.citations],
                "valid_citations": len(correct_cites),
                "latency_s": round(latency, 4), "search_s": round(t_search, 4), "language": ans.language,
                **({"chart": {"comparison": ans.comparison.model_dump(mode="json"),
                              "readings": [r.model_dump(mode="json") for r in ans.readings if r.says]}}
                   if ans.flag and ans.comparison is not None else {}),
            })
            if progress:
                progress(i + 1, len(dataset.questions))
    metrics = summarize(results, k)
    metrics["index_seconds"] = round(index_s, 2)
    metrics["load_seconds"] = round(load_s, 2)
    return {"dataset": dataset.name, "metrics": metrics, "breakdown": breakdown(results), "results": results,
            "config": {"llm": llm, "k": k, "embedding": settings.embedding.model, "index_type": settings.index.type,
                       "bm25_weight": settings.retrieval.bm25_weight, "dense_weight": settings.retrieval.dense_weight,
                       "sentence_weight": settings.retrieval.sentence_weight,
                       "entity_weight": settings.retrieval.entity_weight, "chunk_tokens": settings.chunking.max_tokens}}


def _relevant(hit: Any, q: Question) -> bool:
    if q.answer_spans:
        return any(d == hit.doc_id and hit.start <= a < hit.end for d, a, _ in q.answer_spans)
    return hit.doc_id in q.sources


def _n_relevant(data: Any, q: Question) -> int:
    if q.answer_spans:
        return 1
    return sum(1 for c in data.chunks if c.doc_id in q.sources)


def _conflict_scores(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    tp = sum(1 for r in rows if r["gold_conflict"] and r["flag"])
    fp = sum(1 for r in rows if not r["gold_conflict"] and r["flag"])
    fn = sum(1 for r in rows if r["gold_conflict"] and not r["flag"])
    p = tp / (tp + fp) if tp + fp else None
    rc = tp / (tp + fn) if tp + fn else None
    f1 = 2 * p * rc / (p + rc) if p and rc else (0.0 if p is not None and rc is not None else None)
    return {"conflict_precision": None if p is None else round(p, 4), "conflict_recall": None if rc is None else round(rc, 4),
            "conflict_f1": None if f1 is None else round(f1, 4)}


BREAKDOWN_COLUMNS = ["questions", "answer_accuracy", "conflict_precision", "conflict_recall", "conflict_f1", "unflagged",
                     "variants_unflagged", "flag_kind_accuracy", "refused"]


def breakdown(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Answer accuracy and conflict scores by the answer type the question asks for (``asked=quantity``,
    ``date``, ``name``, ``text``: every dataset), by gold answer type (number, date, name), by cause
    (misinformation, ambiguity), for the agreeing variants (share left unflagged) and for the unanswerable ones
    (share refused)."""
    ok = [r for r in results if "error" not in r]
    out: dict[str, dict[str, Any]] = {}
    main = [r for r in ok if not r.get("variant")]
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in main:
        groups.setdefault(f"asked={r.get('answer_type') or 'text'}", []).append(r)  # the type the question asks for
        if r.get("gold_type"):
            groups.setdefault(f"type={r['gold_type']}", []).append(r)
            if r["gold_type"] in ("number", "date"):
                groups.setdefault("type=number+date", []).append(r)
        if r.get("cause"):
            groups.setdefault(f"cause={r['cause']}", []).append(r)
    for name, rows in sorted(groups.items()):
        acc = [bool(r["answer_correct"]) for r in rows if r["gold_answerable"]]
        d: dict[str, Any] = {"questions": len(rows), "answer_accuracy": round(sum(acc) / len(acc), 4) if acc else None}
        d.update(_conflict_scores(rows))
        if name.startswith("cause=") and name != "cause=none":
            want = "conflict" if name == "cause=misinformation" else "different_entities"
            flagged = [r for r in rows if r["flag"]]
            right = sum(r.get("flag_kind") == want for r in flagged)
            d["flag_kind_accuracy"] = round(right / len(flagged), 4) if flagged else None
        out[name] = d
    variants = [r for r in ok if r.get("variant")]
    for v in sorted({r["variant"] for r in variants}):
        rows = [r for r in variants if r["variant"] == v]
        if not any(r["gold_answerable"] for r in rows):  # questions asked where no source answers them
            out[f"variant={v}"] = {"questions": len(rows),
                                   "refused": round(sum(not r["answerable"] for r in rows) / len(rows), 4)}
            continue
        types = {"all": rows, "number+date": [r for r in rows if r.get("gold_type") in ("number", "date")]}
        for tname, trs in types.items():
            if trs:
                out[f"variant={v} type={tname}"] = {"questions": len(trs),
                                                    "unflagged": round(sum(not r["flag"] for r in trs) / len(trs), 4),
                                                    "answer_accuracy": round(sum(bool(r["answer_correct"]) for r in trs)
                                                                             / len(trs), 4)}
    agreeing = [r for r in variants if r["gold_answerable"]]
    if agreeing:
        nd = [r for r in agreeing if r.get("gold_type") in ("number", "date")]
        nd_main = [r for r in main if r.get("gold_type") in ("number", "date")]
        both = nd_main + nd
        if both:
            d = {"questions": len(both)}
            d.update(_conflict_scores(both))
            d["variants_unflagged"] = round(sum(not r["flag"] for r in nd) / len(nd), 4) if nd else None
            out["number+date with variants"] = d
        d = {"questions": len(main) + len(agreeing)}
        d.update(_conflict_scores(main + agreeing))
        out["all with variants"] = d
    return out


def summarize(results: list[dict[str, Any]], k: int = 10) -> dict[str, Any]:
    ok = [r for r in results if "error" not in r]
    retr = [r for r in ok if r["sources"]]
    m: dict[str, Any] = {"questions": len(results), "errors": len(results) - len(ok)}

    def rate(xs: list[bool]) -> float | None:
        return round(sum(xs) / len(xs), 4) if xs else None

    for at in (1, 5, 10):
        m[f"recall@{at}"] = rate([r["first_relevant_rank"] is not None and r["first_relevant_rank"] <= at for r in retr])
    m["doc_recall@1"] = rate([r["first_relevant_doc_rank"] == 1 for r in retr])
    m["doc_recall@5"] = rate([r["first_relevant_doc_rank"] is not None and r["first_relevant_doc_rank"] <= 5 for r in retr])
    m["mrr"] = round(statistics.fmean([1 / r["first_relevant_rank"] if r["first_relevant_rank"] else 0.0 for r in retr]), 4) \
        if retr else None
    ndcg = []
    for r in retr:
        dcg = sum(1 / math.log2(i + 2) for i, x in enumerate(r["relevant"][:10]) if x)
        ideal = sum(1 / math.log2(i + 2) for i in range(min(10, r["n_relevant"])))
        ndcg.append(dcg / ideal if ideal else 0.0)
    m["ndcg@10"] = round(statistics.fmean(ndcg), 4) if ndcg else None
    ans = [r for r in ok if r["gold_answerable"]]
    m["answer_accuracy"] = rate([bool(r["answer_correct"]) for r in ans])
    m["short_answer_accuracy"] = rate([bool(r.get("short_correct")) for r in ans])
    m["token_f1"] = round(statistics.fmean([r["f1"] for r in ans]), 4) if ans else None
    # the short answer's own token F1 and length: a longer "short" answer contains the gold more often
    m["short_answer_f1"] = round(statistics.fmean([r.get("short_f1", 0.0) for r in ans]), 4) if ans else None
    shorts = [len(r["short_answer"].split()) for r in ans if r.get("short_answer")]
    m["short_answer_words"] = round(statistics.median(shorts), 1) if shorts else None
    unans = [r for r in ok if not r["gold_answerable"]]
    m["refusal_accuracy"] = rate([not r["answerable"] for r in unans])
    m["false_refusals"] = rate([not r["answerable"] for r in ans])
    cites = [c for r in ans for c in r["citations"]]
    m["citation_precision"] = round(sum(r["valid_citations"] for r in ans) / len(cites), 4) if cites else None
    m["answers_with_valid_citation"] = rate([r["valid_citations"] > 0 for r in ans if r["answerable"]])
    tp = sum(1 for r in ok if r["gold_conflict"] and r["flag"])
    fp = sum(1 for r in ok if not r["gold_conflict"] and r["flag"])
    fn = sum(1 for r in ok if r["gold_conflict"] and not r["flag"])
    p = tp / (tp + fp) if tp + fp else None
    rc = tp / (tp + fn) if tp + fn else None
    m["conflict_precision"] = round(p, 4) if p is not None else None
    m["conflict_recall"] = round(rc, 4) if rc is not None else None
    m["conflict_f1"] = round(2 * p * rc / (p + rc), 4) if p and rc else (0.0 if p is not None and rc is not None else None)
    lat = [r["latency_s"] for r in ok]
    m["latency_p50_s"] = round(_pct(lat, 0.5), 4)
    m["latency_p95_s"] = round(_pct(lat, 0.95), 4)
    m["latency_total_s"] = round(sum(lat), 2)
    return m


# ---------------------------------------------------------------- reports

METRIC_ORDER = ["recall@1", "recall@5", "recall@10", "doc_recall@1", "doc_recall@5", "mrr", "ndcg@10",
                "answer_accuracy", "short_answer_accuracy", "short_answer_f1", "short_answer_words", "token_f1",
                "refusal_accuracy", "false_refusals", "citation_precision",
                "answers_with_valid_citation", "conflict_precision", "conflict_recall", "conflict_f1",
                "latency_p50_s", "latency_p95_s", "latency_total_s", "index_seconds", "load_seconds", "questions",
                "errors"]


def _write_charts(results: list[dict[str, Any]], folder: Path, limit: int = 300) -> list[tuple[dict[str, Any], str]]:
    """One disagreement chart (rag/charts.py, as in the UI) per flagged question whose sources give
    different numbers or dates; returns ``(result, file name)`` pairs."""
    from rag.charts import save_disagreement_png
    from rag.models import Answer

    done: list[tuple[dict[str, Any], str]] = []
    for r in results:
        if "chart" not in r or len(done) >= limit:
            continue
        ans = Answer(question=r["question"], answer="", language=r.get("language", "en"), answerable=True,
                     backend=r.get("backend", ""), comparison=r["chart"]["comparison"], readings=r["chart"]["readings"])
        folder.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", str(r["id"]))[:80] + ".png"
        if save_disagreement_png(ans, folder / name):
            done.append((r, name))
    return done


def write_reports(report: dict[str, Any], out: Path) -> list[Path]:
    """Write ``report.md`` (metrics, by answer type, wrong answers, one chart per question whose sources
    differ), ``results.jsonl``, ``metrics.png`` and ``charts/*.png`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    m = report["metrics"]
    lines = [f"# Evaluation: {report['dataset']}", "", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {'' if m.get(k) is None else m[k]} |" for k in METRIC_ORDER if k in m]
    lines += ["", "## Configuration", "", "```json", json.dumps(report["config"], indent=2), "```", "",
              "## Questions answered wrongly", ""]
    for r in report["results"]:
        if r.get("error") or r.get("answer_correct") is False or (not r.get("gold_answerable", True) and r.get("answerable")):
            got = str(r.get("answer", r.get("error")))[:200]
            lines.append(f"- **{r['id']}** {r['question']} — gold {r.get('gold')} — got: {got}")
    if report.get("breakdown"):
        cols = BREAKDOWN_COLUMNS
        lines += ["", "## By answer type, cause and variants", "", "| slice | " + " | ".join(cols) + " |",
                  "|---" * (len(cols) + 1) + "|"]
        lines += [f"| {k} | " + " | ".join("" if v.get(c) is None else str(v[c]) for c in cols) + " |"
                  for k, v in report["breakdown"].items()]
    charts = _write_charts(report["results"], out / "charts")
    if charts:
        lines += ["", f"## Where the sources differ ({len(charts)} questions)", ""]
        for r, name in charts:
            lines += [f"### {r['id']}: {r['question']}", "", f"{r.get('flag') or ''} (gold: {r.get('gold')})", "",
                      f"![values by source](charts/{name})", ""]
    (out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with open(out / "results.jsonl", "w", encoding="utf-8") as fh:
        for r in report["results"]:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in METRIC_ORDER if k in m and m[k] is not None and not k.startswith(("latency", "index", "questions",
                                                                                           "errors"))]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.bar(keys, [m[k] for k in keys], color="#3b6ea8")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"rag eval: {report['dataset']} (llm={report['config']['llm']})")
    ax.tick_params(axis="x", rotation=45)
    for i, k in enumerate(keys):
        ax.text(i, m[k] + 0.01, f"{m[k]:.2f}", ha="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "metrics.png", dpi=110)
    plt.close(fig)
    return [out / "report.md", out / "results.jsonl", out / "metrics.png"]
