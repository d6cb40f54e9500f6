"""Fitting the calibration of per-source span readings (``answer.span.source_calibration``) on the RAMDocs
*tune* part, with cross-fitted adapters.

    python -m rag.learn_sources [--folds 2] [--dir index/.span_folds] [--chars 400]

The shipped span adapter learned the tune part's answers, so its scores there are too sure of themselves.
The calibration is therefore fitted on readings that no adapter saw while training: the tune questions are
dealt into ``--folds`` folds (:func:`rag.learn_span.in_fold`), an adapter is trained without each fold
(``python -m rag.learn_span --leave-out K/N``, about 30 minutes each on 2 cores; kept in ``--dir`` and reused),
and each fold's questions (with their agreeing variants) are read by the adapter that left it out, exactly as
``rag ask`` reads them (:func:`rag.span_sources.read_with_spans`'s passage and span). A reading's label is
whether its span is the answer its document states (``correct`` and ``misinfo`` documents; ``noise`` ones
state none). The fitted bias and weights are printed as the YAML to put under ``answer.span`` in
``configs/default.yaml``. Nothing here runs when answering.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from rag.config import Settings, load_settings
from rag.evaluation import answer_present, load_ramdocs
from rag.intent import NAME_TYPES
from rag.learn import RAMDOCS, ensure_index
from rag.learn_span import in_fold, train_adapter
from rag.reader import decide
from rag.span_reader import ALTERNATIVES, span_reader
from rag.span_sources import FEATURES, source_passage, span_options
from rag.values import same_name


def _stated(rows: list[dict[str, Any]], doc_id: str) -> tuple[str, str]:
    """The type and the stated answer of RAMDocs document ``rdQQQ_JJ``."""
    d = rows[int(doc_id[2:5])]["documents"][int(doc_id[6:])]
    return d["type"], str(d["answer"])


def collect(settings: Settings, adapters: dict[int, Path], folds: int, path: Path = RAMDOCS,
            log: Any = print) -> list[dict[str, Any]]:
    """Every per-source span reading of the tune questions that ask for a name, each read by the adapter that
    left its fold out (``adapters``: fold number -> adapter; the folds not given are not read).

    Returns:
        One record per source that names the asked entity: question id, document id, features, label.
    """
    from rag.answer import gather, question_language
    from rag.intent import analyse

    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    ds = load_ramdocs(path, part="tune")
    engine = ensure_index(settings, "ramdocs", ds.documents or [])
    span = settings.answer.span
    out: list[dict[str, Any]] = []
    for k, adapter in sorted(adapters.items()):
        reader = span_reader(adapter)
        for q in ds.questions:
            qi = int(q.id[2:5])
            intent = analyse(q.question)
            if not in_fold(qi, k, folds) or intent.answer_type not in NAME_TYPES:
                continue
            g = gather(engine, intent, 10, q.filters(), question_language(q.question))
            for d, r in zip(g.work, decide(g.work, g.kind, settings.answer.reader), strict=True):
                if not r.names_entity:
                    continue
                sents = g.sentences.get(d.doc.doc_id, [])
                found = source_passage(d.doc.text, sents, span.source_chars)
                if found is None:
                    continue
                a, b, _ = found
                spans = reader.read_many(q.question, [d.doc.text[a:b]], top=ALTERNATIVES)[0]
                options = span_options(intent, d.doc, sents, found, spans, g.best_sim, r, span)
                if not options:
                    continue
                text = options[0].span.text  # the span rag ask takes (rag.span_sources.read_with_spans)
                doc_id = q.sources[0] if d.doc.doc_id.endswith("_copy") else d.doc.doc_id
                kind, stated = _stated(rows, doc_id)
                ok = kind != "noise" and (answer_present(text, [stated]) or same_name(text, stated))
                out.append({"question": q.id, "doc": d.doc.doc_id, "span": text, "stated": stated,
                            "features": options[0].features, "label": int(ok)})
        log(f"fold {k}: {len(out)} readings so far")
    return out


def fit_calibration(records: list[dict[str, Any]], c: float = 1.0) -> dict[str, float]:
    """A logistic regression of the label on the raw features (so the weights read as they are used)."""
    from sklearn.linear_model import LogisticRegression

    x = np.asarray([[r["features"][f] for f in FEATURES] for r in records], dtype=float)
    y = np.asarray([r["label"] for r in records])
    lr = LogisticRegression(C=c, max_iter=5000)
    lr.fit(x, y)
    weights = {f: round(float(w), 4) for f, w in zip(FEATURES, lr.coef_[0], strict=True)}
    return {"bias": round(float(lr.intercept_[0]), 4), **weights}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folds", type=int, default=2)
    ap.add_argument("--dir", type=Path, default=Path("index") / ".span_folds", help="where the fold adapters are kept")
    ap.add_argument("--c", type=float, default=1.0, help="inverse regularisation strength")
    ap.add_argument("--records", type=Path, help="also write the readings as JSON here")
    args = ap.parse_args(argv)
    if args.folds < 2:
        ap.error("--folds must be at least 2")
    settings = load_settings()
    adapters = {}
    for k in range(args.folds):
        p = args.dir / f"adapter_{k}of{args.folds}.npz"
        if not p.is_file():
            print(f"training the adapter without fold {k}/{args.folds} (about 30 minutes) ...", file=sys.stderr)
            train_adapter(p, leave_out=(k, args.folds), log=lambda m: print(m, file=sys.stderr, flush=True))
        adapters[k] = p
    records = collect(settings, adapters, args.folds, log=lambda m: print(m, file=sys.stderr, flush=True))
    if args.records:
        args.records.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
    cal = fit_calibration(records, args.c)
    print(f"# {len(records)} readings, {sum(r['label'] for r in records)} of them right")
    print("source_calibration: {" + ", ".join(f"{k}: {v}" for k, v in cal.items()) + "}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
