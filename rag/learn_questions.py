"""Questions written by the local LLM over the tune parts' text, as more training pairs for the span reader.

    python -m rag.learn_questions --out FILE [--minutes 55] [--seed 0]   # write questions (needs llama-cpp)
    python -m rag.learn_questions --filter FILE --adapter A.npz --out KEPT  # keep the consistent ones

The XQuAD tune articles have about 550 written questions; the span reader generalises better the more it
sees (see :mod:`rag.learn_span`), and no QA set can be installed here. So the embedded LLM (the llama.cpp
model of :mod:`rag.llm`) writes more: for a sentence of a tune paragraph (German or English) an answer span
is chosen by the same readers as cloze pairs use (:func:`rag.learn_cloze.answer_spans`: amounts, dates,
names, noun phrases with a proper noun preferred), and the model is asked for an English or German question
whose answer is exactly that span. A question is kept only where

- it reads as a question: ends with "?", 4 to 30 words, does not contain its answer and does not speak of
  "the sentence" or "the text" (:func:`rule_reason`), and
- the span reader, given the question and the passage, ranks a span overlapping the answer among its best
  five (round-trip consistency, :func:`round_trip`), which drops questions the model wrote about something
  else.

Only tune articles are read (never the measure part); ``python -m rag.learn_span --questions KEPT`` adds the
kept questions to the written ones, without the validation articles under ``--validate``.

Measured on 2026-12-07 with the 1.5B model: 728 questions in 41 minutes (2 cores), 418 kept (155 contained
their answer, 58 spoke of "the sentence", 80 failed the round trip with the ``--validate`` adapter); trained
with them, the adapter found the gold on the validation articles less often than without (see
:mod:`rag.learn_span`), so the shipped adapter does not use them. A larger model (``--llm ollama`` users)
may write better ones; the tool stays for that.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from pathlib import Path
from typing import Any

from rag.evaluation import part_of
from rag.learn_cloze import NAME_TAGS, answer_spans, is_prose
from rag.learn_span import XQUAD, _xquad, window_of
from rag.syntax import word_tags
from rag.text import fold, split_sentences

ENGLISH_SHARE = 0.6  # share of the questions asked in English (the archive's questions come in both)
MIN_Q_WORDS, MAX_Q_WORDS = 4, 30
TOP_SPANS = 5
PLAIN_SKIP = 0.7  # share of sentences skipped whose only answer spans are noun phrases without a name
_META = re.compile(r"\b(sentence|text|passage|mentioned|satz|text(es)?|erwähnt\w*|abschnitt)\b", re.I)
_QUOTES = " .,;:\"'“”„«»"
_SYSTEM = "You write reading-comprehension questions. Reply with the question only."


def prompt(sentence: str, answer: str, lang: str) -> str:
    """The instruction for one question in ``lang`` ("en" or "de") whose answer is ``answer``."""
    language = "English" if lang == "en" else "German"
    return (f"Sentence: {sentence}\n\nWrite one short {language} question about this sentence whose answer is "
            f"exactly \"{answer}\". Do not put \"{answer}\" in the question. Name the people, places or things "
            "the question is about; never say \"the sentence\", \"the text\" or \"mentioned\".")


def _has_name(sentence: str, a: int, b: int, lang: str) -> bool:
    return any(t in NAME_TAGS for x, y, t in word_tags(sentence, lang) if x >= a and y <= b)


def tune_sentences(root: Path = XQUAD) -> list[dict[str, Any]]:
    """Every prose sentence of the XQuAD tune articles' paragraphs, German and English, with its article,
    paragraph, language, paragraph text and offsets."""
    out: list[dict[str, Any]] = []
    for ai, ade, aen in _xquad(root):
        if not part_of(ai, "tune"):
            continue
        for pi, (pde, pen) in enumerate(zip(ade["paragraphs"], aen["paragraphs"], strict=True)):
            for lang, ctx in (("de", pde["context"]), ("en", pen["context"])):
                out += [{"article": ai, "para": pi, "lang": lang, "text": ctx, "offset": s, "end": e}
                        for s, e in split_sentences(ctx) if is_prose(ctx[s:e])]
    return out


def generate(out: Path, minutes: float, seed: int = 0, root: Path = XQUAD) -> int:
    """Write LLM questions over tune sentences (in an order shuffled by ``seed``) to ``out`` (JSON lines,
    appended) for ``minutes``; returns how many were written."""
    from llama_cpp import Llama

    from rag.llm import embedded_model_path

    llm = Llama(model_path=str(embedded_model_path()), n_ctx=1024, n_threads=2, verbose=False, seed=0)
    rng = random.Random(seed)
    items = tune_sentences(root)
    rng.shuffle(items)
    t0, n = time.time(), 0
    with out.open("a", encoding="utf-8") as f:
        for it in items:
            if time.time() - t0 > minutes * 60:
                break
            ctx, lang, s = it["text"], it["lang"], it["offset"]
            sent = ctx[s:it["end"]]
            spans = answer_spans(sent, lang)
            if not spans:
                continue
            good = [sp for sp in spans if sp[2] != "thing" or _has_name(sent, sp[0], sp[1], lang)]
            if not good and rng.random() < PLAIN_SKIP:
                continue
            a, b, kind = rng.choice(good or spans)
            qlang = "en" if rng.random() < ENGLISH_SHARE else "de"
            reply = llm.create_chat_completion(
                [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": prompt(sent, sent[a:b], qlang)}],
                max_tokens=40, temperature=0.3)
            q = reply["choices"][0]["message"]["content"].strip().split("\n")[0].strip()
            f.write(json.dumps({"article": it["article"], "para": it["para"], "lang": lang, "qlang": qlang, "q": q,
                                "answer": sent[a:b], "kind": kind, "start": s + a, "end": s + b},
                               ensure_ascii=False) + "\n")
            f.flush()
            n += 1
    return n


def rule_reason(q: str, answer: str) -> str | None:
    """Why question ``q`` (for ``answer``) is not kept, or None."""
    words = q.split()
    if not q.endswith("?"):
        return "no question mark"
    if not MIN_Q_WORDS <= len(words) <= MAX_Q_WORDS:
        return "length"
    if re.search(rf"(?<!\w){re.escape(fold(answer.strip(_QUOTES)))}(?!\w)", fold(q)):
        return "contains its answer"
    if _META.search(q):
        return "speaks of the text"
    return None


def round_trip(reader: Any, q: str, text: str, start: int, end: int, top: int = TOP_SPANS) -> bool:
    """Whether the span reader's best ``top`` spans of the answer's passage include one that
    overlaps ``text[start:end]``."""
    passage, off = window_of(text, start, end)
    return any(sp.start + off < end and sp.end + off > start for sp in reader.read(q, passage, top=top))


def filter_questions(src: Path, adapter: Path | None, out: Path, root: Path = XQUAD,
                     top: int = TOP_SPANS) -> dict[str, int]:
    """Keep the questions of ``src`` that pass :func:`rule_reason` and :func:`round_trip` (with ``adapter``,
    default the shipped one) and write them to ``out`` atomically; returns how many ended where (kept or
    the reason)."""
    from rag.span_reader import span_reader

    reader = span_reader(adapter)
    texts = {(ai, pi, lang): para["context"] for ai, ade, aen in _xquad(root)
             for lang, article in (("de", ade), ("en", aen)) for pi, para in enumerate(article["paragraphs"])}
    counts: dict[str, int] = {}
    kept: list[str] = []
    for line in src.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        text = texts[(r["article"], r["para"], r["lang"])]
        why = rule_reason(r["q"], r["answer"]) or (
            None if round_trip(reader, r["q"], text, r["start"], r["end"], top) else "round trip")
        counts[why or "kept"] = counts.get(why or "kept", 0) + 1
        if why is None:
            kept.append(json.dumps(r, ensure_ascii=False))
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text("".join(k + "\n" for k in kept), encoding="utf-8")
    tmp.replace(out)
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--minutes", type=float, default=55.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--filter", type=Path, default=None, metavar="FILE", help="filter the questions of FILE")
    ap.add_argument("--adapter", type=Path, default=None, help="span adapter for the round trip (--filter)")
    ap.add_argument("--top", type=int, default=TOP_SPANS, help="round trip: the answer among the best TOP spans")
    args = ap.parse_args(argv)
    if args.filter:
        if not args.filter.is_file():
            ap.error(f"--filter {args.filter}: no such file")
        if args.adapter is not None and not args.adapter.is_file():
            ap.error(f"--adapter {args.adapter}: no such file")
        counts = filter_questions(args.filter, args.adapter, args.out, top=args.top)
        print(json.dumps(counts))
    else:
        print(f"wrote {generate(args.out, args.minutes, args.seed)} questions to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
