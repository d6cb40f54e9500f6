from pathlib import Path

import pytest

from rag.config import IngestSettings
from rag.errors import IngestError
from rag.ingest import discover, load_document

SEEDS = Path(__file__).parents[1] / "seeds"
FURNITURE = ["Vorlesen lassen", "Lesedauer", "Artikel anhören", "Lesetipp", "Zeitreise zum kleinen Preis",
             "Newsletter", "Nicht mehr anzeigen", "Verfolgen Sie hier", "00:00", "Diese Audioversion",
             "(Foto:", "Quelle:", "observador"]


def kept_text(doc):
    return "\n".join(doc.text[s.start:s.end] for s in doc.segments)


@pytest.mark.parametrize("path", sorted(SEEDS.glob("*.txt")), ids=lambda p: p.stem[:3])
def test_seed_furniture_removed_and_offsets_exact(path):
    doc = load_document(path, IngestSettings())
    original = path.read_text(encoding="utf-8")
    assert doc.text == original
    body = kept_text(doc)
    for junk in FURNITURE:
        assert junk not in body, junk
    for seg in doc.segments:
        assert original[seg.start:seg.end] == doc.text[seg.start:seg.end]
    assert doc.doc_id == path.stem
    assert doc.language == "de"
    assert len(doc.content_hash) == 64


def test_seed_metadata():
    docs = {p.stem[:3]: load_document(p, IngestSettings()) for p in sorted(SEEDS.glob("*.txt"))}
    assert docs["000"].title == "Nordkorea bestätigt Entsendung von Truppen nach Russland"
    assert docs["000"].date == "2025-04-28" and docs["000"].source == "Agenturen"
    assert docs["002"].title.startswith("Kampf für") and docs["002"].source == "ntv.de, chr/rts"
    assert docs["003"].date == "2025-04-28" and docs["003"].title.startswith("Putins Anerkennung")
    assert docs["004"].date == "2024-12-05" and docs["004"].source == "ntv.de, gut/AFP"
    # a repeated photo caption is dropped, the real article text stays
    assert "Tauscht nordkoreanische Menschenleben" not in kept_text(docs["002"])
    assert "Tausende nordkoreanische Soldaten unterstützen Russland" in kept_text(docs["002"])


@pytest.mark.parametrize("encoding,bom", [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("cp1252", b""), ("latin-1", b"")])
def test_encodings(tmp_path, encoding, bom):
    text = "Größere Übung in München\n\nDie Soldaten übten am 3. März 2024 mit 1.500 Fahrzeugen für 20 € täglich."
    if encoding == "latin-1":
        text = text.replace("€", "EUR")
    f = tmp_path / "a.txt"
    f.write_bytes(bom + text.encode(encoding))
    doc = load_document(f, IngestSettings())
    assert "Größere Übung in München" == doc.title
    assert "übten am 3. März 2024" in kept_text(doc)


def test_html_is_parsed_not_executed(tmp_path):
    f = tmp_path / "page.html"
    f.write_text(
        "<html><head><title>Site</title><script>alert('x')</script><style>p{}</style>"
        "<meta property='article:published_time' content='2024-11-05T10:00:00Z'>"
        "<link rel='stylesheet' href='http://example.invalid/x.css'></head><body><nav>Home | News</nav>"
        "<h1>Truppen an der Grenze</h1><p>Die Armee hat 5.000 Soldaten verlegt.</p>"
        "<p>Weitere Einheiten sollen folgen, hieß es.</p><img src='http://example.invalid/a.png'>"
        "<footer>Impressum</footer></body></html>", encoding="utf-8")
    doc = load_document(f, IngestSettings())
    body = kept_text(doc)
    assert doc.title == "Truppen an der Grenze" and doc.date == "2024-11-05"
    assert "5.000 Soldaten" in body and "alert" not in doc.text and "Impressum" not in doc.text
    assert doc.format == "html"


def test_markdown_title(tmp_path):
    f = tmp_path / "n.md"
    f.write_text("# Big news today\n\nThe council approved 12 new schools on Monday.\n", encoding="utf-8")
    doc = load_document(f, IngestSettings())
    assert doc.title == "Big news today" and doc.language == "en"


@pytest.mark.parametrize("content,msg", [(b"", "empty"), (b"   \n\t\n", "whitespace"), (b"\x89PNG\r\n\x1a\n\0\0", "binary"),
                                         (b"%PDF-1.4\n%\xe2\xe3", "binary"), (b"abc\0def\0", "binary")])
def test_bad_files_refused_with_reason(tmp_path, content, msg):
    f = tmp_path / "bad.txt"
    f.write_bytes(content)
    with pytest.raises(IngestError, match=msg) as err:
        load_document(f, IngestSettings())
    assert "bad.txt" in str(err.value)


def test_size_limit(tmp_path):
    f = tmp_path / "big.txt"
    f.write_text("Ein Satz. " * 200_000, encoding="utf-8")
    with pytest.raises(IngestError, match=r"over the 1 MB limit.*ingest.max_file_mb"):
        load_document(f, IngestSettings(max_file_mb=1))


def test_discover_recursive_skips_and_loops(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text("Hallo Welt. Das ist ein Test.", encoding="utf-8")
    (tmp_path / "a" / "y.pdf").write_bytes(b"%PDF")
    (tmp_path / "a" / "loop").symlink_to(tmp_path)
    found = discover([tmp_path], IngestSettings())
    assert [p.name for p in found.files] == ["x.txt"]
    reasons = " ".join(r for _, r in found.skipped)
    assert "unsupported type" in reasons
    with pytest.raises(IngestError, match="no such file"):
        discover([tmp_path / "nope"], IngestSettings())
