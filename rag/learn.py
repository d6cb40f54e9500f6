"""Learning the reader's weights from labelled development data (the *tune* parts only).

    python -m rag.learn [--out rag/resources/reader_model.json] [--kinds name,quantity,date]
    python -m rag.learn --kinds name --extend FEATURE[,FEATURE] [--extend-stages choice[,confidence]]

Labelled sources:

- RAMDocs development half (``../shared/data/ramdocs/ramdocs_dev.jsonl``): every document of a question
  carries the answer it states (``correct`` / ``misinfo``) or none (``noise``). Questions whose position is
  not a multiple-of-five-minus-one (the *tune* part) are used; the *measure* part only scores.
- XQuAD development split (``../shared/data/xquad/``): the gold answer span in each German paragraph, asked
  in English and in German. Articles whose position is not a multiple-of-five-minus-one are used.

For every candidate the reader finds in a labelled document, the label is whether it is the document's
answer. One logistic regression per kind (quantity, date, name) and stage is fitted on standardised
features; the weights are written with the data they came from. Nothing here runs when answering.

``--extend`` adds new features to one kind's model and fits only their weights, beside the kept logit of
the others (:func:`extend`): a feature that applies to some questions only (``kind_sim_rel``: a value's
similarity to the class a question asks for, "What sport …") then leaves every other answer as it was.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.config import Settings, load_settings
from rag.engine import Engine
from rag.evaluation import _norm, load_ramdocs, load_squad, part_of
from rag.intent import Intent, analyse
from rag.models import Value
from rag.reader import (
    MODEL_FILE,
    Candidate,
    DocumentReading,
    ReaderModel,
    collect_candidates,
    document_sentences,
    model_kind,
    score_both_stages,
)
from rag.values import find_date_values, find_quantities

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RAMDOCS = SHARED / "ramdocs" / "ramdocs_dev.jsonl"
XQUAD = SHARED / "xquad"


@dataclass
class LabelledDoc:
    """One document read for one question, with what it really states (``None``: nothing)."""

    question: str
    doc_id: str
    answer: str | None
    span: tuple[int, int] | None = None  # gold span in the document (XQuAD)
    source: str = "ramdocs"
    part: str = "tune"
    qid: str = ""


def value_matches(v: Value, answer: str, span: tuple[int, int] | None = None) -> bool:
    """Whether a candidate value is the labelled answer: the same span (XQuAD), or the same words, number
    or date after normalisation (RAMDocs labels such as "7,094 people" or "16 February 1868")."""
    if span is not None:
        a, b = span
        inter = max(0, min(b, v.end) - max(a, v.start))
        if inter and inter / max(b - a, v.end - v.start) >= 0.5:
            return True
    got, want = _norm(v.text), _norm(answer)
    if got and want and (f" {got} " in f" {want} " or f" {want} " in f" {got} "):
        return True
    if v.kind == "quantity":  # the number itself, or either end of a range ("between 10 and 12" states 10)
        points = [x for x in (v.number, v.low, v.high) if x is not None]
        return any(math.isclose(q.base, x, rel_tol=1e-6) or math.isclose(q.value, x, rel_tol=1e-6)
                   for q in find_quantities(answer) for x in points)
    if v.kind == "date":
        return any(d.iso == v.key or (len(d.iso) >= 4 and v.key.startswith(d.iso)) or d.iso.startswith(v.key)
                   for d in find_date_values(answer))
    return False


def ramdocs_docs(path: Path = RAMDOCS) -> Iterator[LabelledDoc]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for qi, row in enumerate(rows):
        part = "measure" if part_of(qi, "measure") else "tune"
        for j, d in enumerate(row["documents"]):
            yield LabelledDoc(row["question"], f"rd{qi:03d}_{j:02d}", None if d["type"] == "noise" else str(d["answer"]),
                              source="ramdocs", part=part, qid=f"rd{qi:03d}")


def xquad_docs(root: Path = XQUAD) -> Iterator[LabelledDoc]:
    de = load_squad(root / "xquad.de.dev.json")
    en = load_squad(root / "xquad.de.dev.json", root / "xquad.en.dev.json")
    for ds, lang in ((de, "de"), (en, "en")):
        for q in ds.questions:
            doc_id, a, b = q.answer_spans[0]
            article = int(doc_id[2:5])
            part = "measure" if article % 5 == 4 else "tune"
            yield LabelledDoc(q.question, doc_id, q.answers[0], span=(a, b), source=f"xquad-{lang}", part=part,
                              qid=f"{q.id}-{lang}")


def ensure_index(settings: Settings, name: str, documents: list[Any]) -> Engine:
    """Open ``index/NAME``, adding the dataset's documents first (unchanged ones cost nothing)."""
    from rag.indexer import build_index

    s = settings.model_copy(update={"index": settings.index.model_copy(update={"name": name})})
    build_index(s, documents=documents)
    return Engine(s)


def read_labelled(engine: Engine, items: list[LabelledDoc], window_candidates: int, model: ReaderModel | None = None,
                  with_retrieved: bool = True) -> list[tuple[LabelledDoc, Intent, DocumentReading]]:
    """Collect every labelled document's candidates (stage-one features; with ``model``, also stage two).

    With ``with_retrieved``, the documents retrieval brings for the question that are not its own are read
    too, labelled as stating nothing: the reader meets them when answering."""
    retr = engine.retriever
    by_q: dict[str, list[LabelledDoc]] = {}
    for it in items:
        by_q.setdefault(it.qid, []).append(it)
    out = []
    embed = _cached_embed(engine)
    questions = list(by_q)
    vecs = engine.embedder.embed_queries([by_q[q][0].question for q in questions])
    max_sources = engine.settings.answer.reader.max_sources
    k_hits = max(engine.settings.retrieval.k, 10)
    for qid, qv in zip(questions, vecs, strict=True):
        docs = list(by_q[qid])
        intent = analyse(docs[0].question)
        if with_retrieved:  # what ask() reads besides: other retrieved documents, which state nothing about it
            hits = retr.search(docs[0].question, k=k_hits, query_vector=qv)
            own = {d.doc_id for d in docs}
            for doc_id in list(dict.fromkeys(h.doc_id for h in hits))[:max_sources]:
                if doc_id not in own:
                    docs.append(LabelledDoc(docs[0].question, doc_id, None, source=docs[0].source, part=docs[0].part,
                                            qid=qid))
        ids = [d.doc_id for d in docs]
        sents = document_sentences(retr, ids, qv)
        best = max((s.sim for ss in sents.values() for s in ss), default=0.0)
        lang = intent.language
        work = [collect_candidates(retr.data.documents[d.doc_id], sents[d.doc_id], intent, lang, retr.idf, best,
                                   engine.settings.answer.reader.require_distinctive_name) for d in docs]
        if model is not None:
            score_both_stages(work, model_kind(intent.answer_type), intent, model, qv, embed,
                              engine.embedder.embed_queries, window_candidates)
        out.extend((d, intent, w) for d, w in zip(docs, work, strict=True))
    return out


def _reads_others(items: list[LabelledDoc]) -> bool:
    """Whether the other retrieved documents are read too, as answerless examples. In RAMDocs they are other
    questions' pages; in XQuAD other paragraphs, mostly of other articles (a paragraph of the same article
    may state the answer: some noise, but without them the model never learns what an unrelated page
    looks like, and claims values from it)."""
    return bool(items)


def _cached_embed(engine: Engine) -> Any:
    """Embed clauses through the index's embedding cache (training reads the same clauses many times)."""
    from rag.embedding import EmbeddingCache, embed_with_cache

    s = engine.settings
    cache = EmbeddingCache(Path(s.embedding.cache_path or Path(s.index.root) / ".cache" / "embeddings.sqlite"))
    return lambda texts: embed_with_cache(engine.embedder, list(texts), cache, 64)[0]


def _label(c: Candidate, d: LabelledDoc) -> int:
    return int(d.answer is not None and value_matches(c.value, d.answer, d.span))


# Value-shape features that describe what answers look like in the training data (its numbers are seldom
# ranges or decimals) rather than whether a value answers the question: left out, so that news, where the
# answer is often an estimate "between 10,000 and 12,000", is not read by Wikipedia's habits.
SHAPE_PRIORS = {"range", "qualified", "magnitude", "decimal"}


def fit(rows: list[tuple[dict[str, float], int]], c: float = 0.5, names: list[str] | None = None,
        intercept: bool = True) -> dict[str, Any]:
    """A standardised logistic regression over the rows' features."""
    from sklearn.linear_model import LogisticRegression

    names = names or sorted({k for f, _ in rows for k in f} - SHAPE_PRIORS)
    x = np.asarray([[f.get(n, 0.0) for n in names] for f, _ in rows], dtype=float)
    y = np.asarray([lab for _, lab in rows])
    mean, scale = (x.mean(axis=0), x.std(axis=0)) if intercept else (np.zeros(len(names)), x.std(axis=0))
    scale[scale < 1e-9] = 1.0
    lr = LogisticRegression(C=c, max_iter=3000, fit_intercept=intercept)
    lr.fit((x - mean) / scale, y)
    return {"features": names, "mean": mean.round(6).tolist(), "scale": scale.round(6).tolist(),
            "weights": lr.coef_[0].round(6).tolist(), "bias": round(float(lr.intercept_[0]) if intercept else 0.0, 6),
            "examples": len(rows), "positives": int(y.sum())}


def fit_choice(docs: list[tuple[LabelledDoc, DocumentReading]], c: float) -> dict[str, Any]:
    """A ranking model: logistic regression on feature differences between a document's right candidate
    and each of its wrong ones (documents without a right candidate among them teach nothing here)."""
    names = sorted({k for _, w in docs for cand in w.candidates for k in cand.features} - SHAPE_PRIORS)
    rows: list[tuple[dict[str, float], int]] = []
    for p, n in _choice_pairs(docs):
        diff = {k: p.features.get(k, 0.0) - n.features.get(k, 0.0) for k in names}
        rows.append((diff, 1))
        rows.append(({k: -v for k, v in diff.items()}, 0))
    if not rows:
        return {"features": names, "mean": [0.0] * len(names), "scale": [1.0] * len(names),
                "weights": [0.0] * len(names), "bias": 0.0, "examples": 0, "positives": 0}
    return fit(rows, c, names, intercept=False)


def _choice_pairs(docs: list[tuple[LabelledDoc, DocumentReading]]) -> Iterator[tuple[Candidate, Candidate]]:
    """What the choice stage learns from: a document's right candidate with each of its wrong ones."""
    for d, w in docs:
        for p in [cand for cand in w.candidates if _label(cand, d)][:1]:
            for n in w.candidates:
                if not _label(n, d):
                    yield p, n


def _reading_report(sets: list[tuple[Engine, list[LabelledDoc]]], model: ReaderModel, settings: Settings
                    ) -> dict[str, Any]:
    """How ``model`` reads each source's tune and measure documents (:func:`reading_scores`)."""
    report: dict[str, Any] = {}
    for engine, items in sets:
        name = items[0].source.split("-")[0] if items else "?"
        for part in ("tune", "measure"):
            read = read_labelled(engine, [i for i in items if i.part == part],
                                 settings.answer.reader.window_candidates, model, with_retrieved=_reads_others(items))
            report[f"{name} {part}"] = reading_scores(read, model, settings.answer.reader.min_confidence)
    return report


def _kind_docs(read: list[tuple[LabelledDoc, Intent, DocumentReading]]) -> dict[str, list[tuple[LabelledDoc, DocumentReading]]]:
    out: dict[str, list[tuple[LabelledDoc, DocumentReading]]] = {}
    for d, intent, w in read:
        out.setdefault(model_kind(intent.answer_type), []).append((d, w))
    return out


def _choose(w: DocumentReading, kind: str, model: ReaderModel) -> Candidate | None:
    from rag.reader import eligible

    w.candidates = eligible(w.candidates)
    if not w.candidates:
        return None
    for cand in w.candidates:
        cand.choice = model.logit(kind, "choice", cand.features)
    return max(w.candidates, key=lambda cand: cand.choice) if w.candidates else None


def reading_scores(read: list[tuple[LabelledDoc, Intent, DocumentReading]], model: ReaderModel,
                   min_confidence: float) -> dict[str, dict[str, float]]:
    """Per kind: share of answering documents read right / wrong / not at all, and of answerless
    documents where the reader still claims a value."""
    from rag.reader import confidence_features, sigmoid

    tally: dict[str, dict[str, int]] = {}
    for d, intent, w in read:
        kind = model_kind(intent.answer_type)
        t = tally.setdefault(kind, {"right": 0, "wrong": 0, "missed": 0, "silent": 0, "claims": 0})
        best = _choose(w, kind, model)
        p = sigmoid(model.logit(kind, "confidence", confidence_features(best, w.candidates))) if best else 0.0
        says = best is not None and p >= min_confidence
        if d.answer is None:
            t["claims" if says else "silent"] += 1
        elif not says:
            t["missed"] += 1
        else:
            t["right" if best is not None and _label(best, d) else "wrong"] += 1
    out = {}
    for kind, t in tally.items():
        n = t["right"] + t["wrong"] + t["missed"]
        m = t["silent"] + t["claims"]
        out[kind] = {"answering_docs": n, "right": round(t["right"] / n, 3) if n else None,
                     "wrong": round(t["wrong"] / n, 3) if n else None, "missed": round(t["missed"] / n, 3) if n else None,
                     "answerless_docs": m, "claims": round(t["claims"] / m, 3) if m else None}
    return out


def _labelled_sets(settings: Settings, sources: tuple[str, ...]) -> list[tuple[Engine, list[LabelledDoc]]]:
    """The labelled documents of each source with the engine over its corpus (indexed on first use)."""
    sets: list[tuple[Engine, list[LabelledDoc]]] = []
    if "ramdocs" in sources:
        ds = load_ramdocs(RAMDOCS, variants=False)
        sets.append((ensure_index(settings, "ramdocs", ds.documents or []), list(ramdocs_docs())))
    if "xquad" in sources:
        ds = load_squad(XQUAD / "xquad.de.dev.json")
        sets.append((ensure_index(settings, "xquad-dev", ds.documents or []), list(xquad_docs())))
    return sets


def train(settings: Settings, out: Path, sources: tuple[str, ...] = ("ramdocs", "xquad"), c: float = 0.5,
          kinds: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Fit the reader model on the tune parts and report reading scores on both parts.

    Stage one (pointwise, cheap features) prunes each document to its best candidates; the choice model
    ranks those with the clause similarities; the confidence model says how likely the chosen candidate
    is the document's answer (answerless documents are its negatives).

    Args:
        settings: all settings (the indexes ``ramdocs`` and ``xquad-dev`` are built or updated).
        out: the model file to write.
        sources: the labelled data sets.
        c: inverse regularisation strength.
        kinds: refit only these kinds (``name``, ``quantity``, ``date``); the others keep their weights from
            the model file at ``out``, so a change to one reader does not move the others.

    Returns:
        The written model data (weights and the reading report of the written model).
    """
    from rag.reader import confidence_features

    if kinds is not None and (unknown := set(kinds) - {"name", "quantity", "date"}):
        raise ValueError(f"--kinds: unknown kind(s) {', '.join(sorted(unknown))} (name, quantity, date)")
    t0 = time.perf_counter()
    sets = _labelled_sets(settings, sources)
    k = settings.answer.reader.window_candidates
    stage1: dict[str, list[tuple[dict[str, float], int]]] = {}
    for engine, items in sets:
        others = _reads_others(items)
        for kind, docs in _kind_docs(read_labelled(engine, [i for i in items if i.part == "tune"], k,
                                                   with_retrieved=others)).items():
            stage1.setdefault(kind, []).extend((cand.features, _label(cand, d)) for d, w in docs for cand in w.candidates)
    models: dict[str, dict[str, Any]] = {kind: {"stage1": fit(rows, c)} for kind, rows in stage1.items()}
    m1 = ReaderModel({"models": models})
    tune2: dict[str, list[tuple[LabelledDoc, DocumentReading]]] = {}
    for engine, items in sets:
        for kind, docs in _kind_docs(read_labelled(engine, [i for i in items if i.part == "tune"], k, m1,
                                                   with_retrieved=_reads_others(items))).items():
            tune2.setdefault(kind, []).extend(docs)
    for kind, docs in tune2.items():
        models[kind]["choice"] = fit_choice(docs, c)
    m2 = ReaderModel({"models": models})
    for kind, docs in tune2.items():
        rows = []
        for d, w in docs:
            best = _choose(w, kind, m2)
            if best is not None:
                rows.append((confidence_features(best, w.candidates), _label(best, d)))
        models[kind]["confidence"] = fit(rows, c)
    if kinds is not None:
        kept = json.loads(out.read_text(encoding="utf-8"))["models"] if out.exists() else {}
        models = {kind: models[kind] if kind in kinds or kind not in kept else kept[kind] for kind in models}
    model = ReaderModel({"models": models})
    report = _reading_report(sets, model, settings)
    how = "python -m rag.learn" + (f" --kinds {','.join(kinds)}" if kinds is not None else "")
    data = {"meta": {"trained": time.strftime("%Y-%m-%d"), "sources": list(sources), "parts": "tune only",
                     "window_candidates": k, "C": c, "how": how, "reading": report,
                     "seconds": round(time.perf_counter() - t0, 1)},
            "models": models}
    out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    ReaderModel.load.cache_clear()
    return data


def fit_offset(rows: list[tuple[np.ndarray, float, int]], c: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """A logistic regression of a few new features beside a fixed logit: ``p = sigmoid(offset + w · x / scale)``
    (Newton's method, L2 penalty ``1 / (2c)``, no intercept: a row whose new features are all 0 keeps its logit).

    Args:
        rows: ``(x, offset, label)`` per example, ``x`` the new features.
        c: inverse regularisation strength, as in :func:`fit`.

    Returns:
        The weights (of the scaled features) and the scales.
    """
    x = np.asarray([r[0] for r in rows], dtype=float)
    off = np.asarray([r[1] for r in rows], dtype=float)
    y = np.asarray([r[2] for r in rows], dtype=float)
    scale = np.sqrt((x ** 2).mean(axis=0))
    scale[scale < 1e-9] = 1.0
    z = x / scale
    w = np.zeros(x.shape[1])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(off + z @ w)))
        grad = z.T @ (p - y) + w / c
        hess = (z * (p * (1 - p))[:, None]).T @ z + np.eye(len(w)) / c
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w, scale


def extend(settings: Settings, out: Path, features: list[str], kind: str = "name",
           sources: tuple[str, ...] = ("ramdocs", "xquad"), c: float = 0.5,
           stages: tuple[str, ...] = ("choice",)) -> dict[str, Any]:
    """Add ``features`` to the ``kind`` model of ``out`` (default: the bundled model) with every other weight
    kept: each new feature's weight is fitted beside the existing logit (:func:`fit_offset`) on the tune parts,
    for the choice stage (which candidate a source gives) and, if in ``stages``, the confidence stage (whether
    it gives one). A feature that is 0 (a question it does not apply to) leaves that question's reading
    exactly as it was; so a feature for some questions can be added without a refit that moves every other
    answer (a full refit of the name model on 2026-12-07, with or without the new features, lost answers:
    README, "Kind questions").

    Returns:
        The written model data; ``meta.extended`` says what was added, how, and the reading scores after.
    """
    from rag.reader import confidence_features

    if kind not in ("name", "quantity", "date"):
        raise ValueError(f"--kinds: unknown kind {kind} (name, quantity, date)")
    t0 = time.perf_counter()
    base = out if out.exists() else MODEL_FILE
    data = json.loads(base.read_text(encoding="utf-8"))
    model = ReaderModel(data)
    docs: list[tuple[LabelledDoc, DocumentReading]] = []
    sets = _labelled_sets(settings, sources)
    for engine, items in sets:
        docs += _kind_docs(read_labelled(engine, [i for i in items if i.part == "tune"],
                                         settings.answer.reader.window_candidates, model,
                                         with_retrieved=_reads_others(items))).get(kind, [])
    seen = {k for _, w in docs for cand in w.candidates for k in cand.features}
    if unknown := [f for f in features if f not in seen]:
        raise ValueError(f"--extend: {', '.join(unknown)} is no feature the reader computes for {kind} questions")
    models = data["models"][kind]
    # choice: pairwise, the right candidate against each wrong one of its document
    for _, w in docs:
        for cand in w.candidates:
            cand.choice = model.logit(kind, "choice", cand.features)
    rows = []
    for p, n in _choice_pairs(docs):
        x = np.array([p.features.get(f, 0.0) - n.features.get(f, 0.0) for f in features])
        rows += [(x, p.choice - n.choice, 1), (-x, n.choice - p.choice, 0)]
    wc, sc = fit_offset(rows, c)
    _append(models["choice"], features, wc, sc)
    if "confidence" in stages:  # whether the (newly) chosen candidate is the source's answer
        model = ReaderModel(data)
        rows = []
        for d, w in docs:
            best = _choose(w, kind, model)
            if best is not None:
                f = confidence_features(best, w.candidates)
                rows.append((np.array([f.get(k, 0.0) for k in features]), model.logit(kind, "confidence", f),
                             _label(best, d)))
        wf, sf = fit_offset(rows, c)
        _append(models["confidence"], features, wf, sf)
    model = ReaderModel(data)
    report = _reading_report(sets, model, settings)
    record_extension(data, {
        "features": features, "kind": kind, "trained": time.strftime("%Y-%m-%d"), "stages": list(stages),
        "how": f"python -m rag.learn --kinds {kind} --extend {','.join(features)}"
        + ("" if stages == ("choice",) else f" --extend-stages {','.join(stages)}"), "reading": report,
        "seconds": round(time.perf_counter() - t0, 1)})
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    tmp.replace(out)
    ReaderModel.load.cache_clear()
    return data


def record_extension(data: dict[str, Any], record: dict[str, Any]) -> None:
    """Note an extension in the model's ``meta``: every extension is kept, in order, under ``extensions``
    (a model extended twice says how it came to be), the latest also under ``extended``."""
    meta = dict(data.get("meta", {}))
    earlier = meta.pop("extended", None)
    history = meta.pop("extensions", [earlier] if earlier else [])
    data["meta"] = {**meta, "extensions": [*history, record], "extended": record}


def _append(stage: dict[str, Any], features: list[str], weights: np.ndarray, scales: np.ndarray) -> None:
    """Add features to one stage's model (mean 0: a feature at 0 adds nothing)."""
    for f, w, sc in zip(features, weights, scales, strict=True):
        if f not in stage["features"]:
            for key in ("features", "mean", "scale", "weights"):
                stage[key].append(f if key == "features" else 0.0)
        i = stage["features"].index(f)
        stage["mean"][i], stage["scale"][i], stage["weights"][i] = 0.0, round(float(sc), 6), round(float(w), 6)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=MODEL_FILE)
    ap.add_argument("--sources", default="ramdocs,xquad", help="comma-separated: ramdocs, xquad")
    ap.add_argument("-C", type=float, default=0.5, help="inverse regularisation strength")
    ap.add_argument("--kinds", default=None, help="refit only these comma-separated kinds (name, quantity, date); "
                    "the others keep the weights in --out")
    ap.add_argument("--extend", default=None, metavar="FEATURES",
                    help="add these comma-separated features to the one kind of --kinds (default name), every "
                         "other weight kept (the model in --out, else the bundled one)")
    ap.add_argument("--extend-stages", default="choice", metavar="STAGES",
                    help="the stages --extend fits the new features in: choice (default), or choice,confidence")
    args = ap.parse_args(argv)
    kinds = tuple(args.kinds.split(",")) if args.kinds else None
    try:
        if args.extend:
            if kinds is not None and len(kinds) != 1:
                raise ValueError("--extend adds features to one kind: give --kinds KIND")
            stages = tuple(args.extend_stages.split(","))
            if set(stages) - {"choice", "confidence"} or "choice" not in stages:
                raise ValueError(f"--extend-stages {args.extend_stages}: choice or choice,confidence")
            data = extend(load_settings(), args.out, args.extend.split(","), kinds[0] if kinds else "name",
                          tuple(args.sources.split(",")), args.C, stages)
            reading = data["meta"]["extended"]["reading"]
        else:
            data = train(load_settings(), args.out, tuple(args.sources.split(",")), args.C, kinds)
            reading = data["meta"]["reading"]
    except ValueError as exc:
        sys.exit(f"error: {exc}")
    for name, kinds in reading.items():
        for kind, s in kinds.items():
            print(f"{name:18s} {kind:9s} {json.dumps(s)}")
    print(f"wrote {args.out} in {(data['meta'].get('extended') or data['meta'])['seconds']} s", file=sys.stderr)


if __name__ == "__main__":
    main()


# ---------------------------------------------------------------- threshold sweep on the tune part


def sweep(settings: Settings, part: str = "tune", grid: dict[str, list[float]] | None = None,
          index_name: str = "ramdocs") -> list[dict[str, Any]]:
    """Answer every RAMDocs question of ``part`` (and its agreeing variants) once per combination of reader
    settings in ``grid``, gathering the sources only once. Returns one row of breakdown metrics per combination."""
    import itertools
    import types

    from rag.answer import answer_from, gather
    from rag.evaluation import answer_present, breakdown
    grid = grid or {"min_confidence": [0.3], "flag_confidence": [0.5]}
    ds = load_ramdocs(RAMDOCS, part=part)
    engine = ensure_index(settings, index_name, ds.documents or [])
    gathered = []
    embed = _cached_embed(engine)
    for q in ds.questions:
        filt = q.filters()
        intent = analyse(q.question)
        gathered.append((q, gather(engine, intent, max(settings.retrieval.k, 10), filt, intent.language, embed)))
    out = []
    keys = list(grid)
    for combo in itertools.product(*(grid[k] for k in keys)):
        over = dict(zip(keys, combo, strict=True))
        reader = settings.answer.reader.model_copy(update=over)
        s = settings.model_copy(update={"answer": settings.answer.model_copy(update={"reader": reader})})
        fake = types.SimpleNamespace(settings=s)
        rows = []
        for q, g in gathered:
            ans = answer_from(fake, g)
            correct = ans.answerable and answer_present(ans.answer, q.answers)
            rows.append({"gold_conflict": q.conflict, "flag": ans.flag, "flag_kind": ans.flag_kind,
                         "gold_answerable": q.answerable, "answer_correct": correct, "gold_type": q.extra.get("answer_type"),
                         "cause": q.extra.get("cause"), "variant": q.extra.get("variant")})
        out.append({"settings": over, "breakdown": breakdown(rows)})
    return out
