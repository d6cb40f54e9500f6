from pathlib import Path

import pytest

from rag.chunking import chunk_document
from rag.config import ChunkingSettings, IngestSettings
from rag.ingest import load_document
from rag.text import split_sentences

SEEDS = Path(__file__).parents[1] / "seeds"


def test_german_sentence_splitting_keeps_numbers_abbreviations_ordinals():
    text = ("Nordkorea hat etwa 10.000 Soldaten entsandt. Sie sind der 11. Luftlandebrigade unterstellt, "
            "z. B. in Kursk. Am 28.04. kam es zu Gefechten, ca. 3 Mio. Menschen sahen zu. Das war's!\n\nNeu hier")
    sents = [text[s:e] for s, e in split_sentences(text)]
    assert sents == [
        "Nordkorea hat etwa 10.000 Soldaten entsandt.",
        "Sie sind der 11. Luftlandebrigade unterstellt, z. B. in Kursk.",
        "Am 28.04. kam es zu Gefechten, ca. 3 Mio. Menschen sahen zu.",
        "Das war's!",
        "Neu hier",
    ]


def test_english_splitting():
    text = "Mr. Smith said 10,000 troops were sent. U.S. officials agreed? Yes."
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "Mr. Smith said 10,000 troops were sent.", "U.S. officials agreed?", "Yes."]


@pytest.mark.parametrize("path", sorted(SEEDS.glob("*.txt")), ids=lambda p: p.stem[:3])
def test_chunks_are_exact_spans_within_limit(path):
    from rag.chunking import approx_tokens

    doc = load_document(path, IngestSettings())
    settings = ChunkingSettings(max_tokens=120, overlap_tokens=30)
    chunks = chunk_document(doc, settings)
    assert chunks
    for c in chunks:
        assert doc.text[c.start:c.end] == c.text
        assert c.sentences[0].start == c.start and c.sentences[-1].end == c.end
        assert all(c.start <= s.start < s.end <= c.end for s in c.sentences)
        assert approx_tokens(c.text) <= 120 or len(c.sentences) == 1
        # no chunk crosses removed furniture
        assert "Lesetipp" not in c.text and "(Foto:" not in c.text
    covered = {(s.start, s.end) for c in chunks for s in c.sentences}
    assert len(covered) >= sum(len(c.sentences) for c in chunks) - len(chunks) * 3  # overlap is small
    assert [c.chunk_id for c in chunks] == [f"{doc.doc_id}#{i}" for i in range(len(chunks))]


def test_overlong_sentence_is_split_with_exact_spans(tmp_path):
    f = tmp_path / "long.txt"
    text = "Titel der Meldung\n\n" + ("wort " * 20000).strip() + "."
    f.write_text(text, encoding="utf-8")
    doc = load_document(f, IngestSettings())
    chunks = chunk_document(doc, ChunkingSettings(max_tokens=200, max_sentence_chars=1000))
    assert len(chunks) > 50
    for c in chunks:
        assert doc.text[c.start:c.end] == c.text and len(c.text) <= 1000
