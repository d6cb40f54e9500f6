"""Ingestion: files -> :class:`Document` with cleaned content segments and metadata.

Reads ``.txt``, ``.md`` and ``.html`` (text extracted with an HTML parser; nothing is executed or
fetched). Detects the encoding. Removes news page furniture with general rules while keeping the
original text, so every kept region is a span ``[start, end)`` of ``Document.text``.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rag.config import IngestSettings
from rag.errors import IngestError
from rag.models import Document, Span
from rag.text import detect_language, find_dates

# ---------------------------------------------------------------- file discovery


@dataclass
class Discovery:
    """Files found under the given paths, and those skipped with the reason."""

    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def discover(paths: Iterable[str | Path], settings: IngestSettings) -> Discovery:
    """Expand files and folders (recursively) into the files to ingest.

    Symlink loops are detected, hidden files and unknown extensions are skipped (and listed).

    Raises:
        IngestError: a given path does not exist.
    """
    exts = {e.lower() for e in settings.extensions}
    found = Discovery()
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[Path] = set()

    def add_file(p: Path) -> None:
        real = p.resolve()
        if real in seen_files:
            return
        seen_files.add(real)
        try:
            mode = real.stat().st_mode
        except OSError as exc:
            found.skipped.append((str(p), f"cannot read ({exc.strerror})"))
            return
        if not stat.S_ISREG(mode):  # a FIFO would block, /dev/zero would never end
            found.skipped.append((str(p), "not a regular file (a FIFO, device or socket)"))
            return
        if p.suffix.lower() not in exts:
            found.skipped.append((str(p), f"unsupported type '{p.suffix or 'none'}'"))
            return
        found.files.append(p)

    def walk(d: Path) -> None:
        try:
            st = d.stat()
        except OSError as exc:
            found.skipped.append((str(d), f"cannot read folder ({exc.strerror})"))
            return
        if (st.st_dev, st.st_ino) in seen_dirs:
            found.skipped.append((str(d), "symlink loop"))
            return
        seen_dirs.add((st.st_dev, st.st_ino))
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as exc:
            found.skipped.append((str(d), f"cannot list folder ({exc.strerror})"))
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            p = Path(entry.path)
            try:
                if entry.is_symlink() and not settings.follow_symlinks:
                    continue
                if entry.is_dir():
                    walk(p)
                elif entry.is_file():
                    add_file(p)
                elif entry.is_symlink() and not p.exists():
                    found.skipped.append((str(p), "broken symlink"))
                else:
                    found.skipped.append((str(p), "not a regular file (a FIFO, device or socket)"))
            except OSError as exc:
                found.skipped.append((str(p), f"cannot read ({exc.strerror})"))

    for raw in paths:
        p = Path(raw)
        if not p.exists():
            if p.is_symlink():
                found.skipped.append((str(p), "broken symlink"))
                continue
            raise IngestError(f"{p}: no such file or folder")
        if p.is_dir():
            walk(p)
        else:
            add_file(p)
    return found


def doc_id_for(path: Path) -> str:
    """A document's id is its file stem (``000_63c17450a30ba0d9``)."""
    return path.stem


# ---------------------------------------------------------------- reading and decoding


def read_text(path: Path, max_mb: float) -> tuple[str, str, str | None]:
    """Read and decode a file.

    Returns:
        ``(text, encoding, warning)``; the warning names what was repaired (bad UTF-8 bytes), else ``None``.

    Raises:
        IngestError: too large, unreadable, binary, undecodable or empty.
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise IngestError(f"{path}: cannot read ({exc.strerror})") from None
    if size > max_mb * 1024 * 1024:
        raise IngestError(
            f"{path}: file is {size / 1048576:.1f} MB, over the {max_mb:g} MB limit "
            "(raise setting ingest.max_file_mb)"
        )
    limit = int(max_mb * 1024 * 1024)
    try:
        with open(path, "rb") as fh:  # never more than the limit, even if the file grows while it is read
            raw = fh.read(limit + 1)
    except OSError as exc:
        raise IngestError(f"{path}: cannot read ({exc.strerror})") from None
    if len(raw) > limit:
        raise IngestError(f"{path}: file grew over the {max_mb:g} MB limit while being read")
    if not raw:
        raise IngestError(f"{path}: file is empty")
    if not raw.strip():
        raise IngestError(f"{path}: file has no text (only whitespace)")
    if _looks_binary(raw):
        raise IngestError(f"{path}: looks like a binary file, not text")
    text, enc, warning = _decode(raw)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise IngestError(f"{path}: file has no text (only whitespace)")
    return text, enc, warning


_MAGIC = (b"%PDF", b"\x89PNG", b"PK\x03\x04", b"\xff\xd8\xff", b"GIF8", b"\x7fELF", b"\x1f\x8b")


def _looks_binary(raw: bytes) -> bool:
    if raw.startswith(_MAGIC):
        return True
    head = raw[:8192]
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with BOM is text
        return False
    if b"\x00" in head:
        return True
    ctrl = sum(1 for b in head if b < 9 or 13 < b < 32)
    return ctrl > 0.05 * len(head)


def _decode(raw: bytes) -> tuple[str, str, str | None]:
    """``(text, encoding, warning)``. UTF-8 with a few bad bytes stays UTF-8 (the bad bytes become U+FFFD and
    the warning says where the first one is); only text with no UTF-8 in it is read as another charset."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="replace"), "utf-8-sig", None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="replace").lstrip("\ufeff"), "utf-16", None
    try:
        return raw.decode("utf-8"), "utf-8", None
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    multibyte = len(_UTF8_MULTIBYTE.findall(raw))
    invalid = raw.decode("utf-8", errors="replace").count("\ufffd")
    if multibyte and invalid <= max(3, multibyte // 4):
        text = raw.decode("utf-8", errors="replace")
        return text, "utf-8", (f"invalid UTF-8 at byte {first_bad} ({invalid} bad byte sequence(s) replaced by "
                               "U+FFFD); the rest is read as UTF-8")
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(raw[:200_000]).best()
        if best is not None and best.encoding and best.encoding.replace("_", "") not in {"utf8"}:
            enc = best.encoding
            return raw.decode(enc, errors="replace"), enc, None
    except Exception:  # noqa: BLE001 - fall back to cp1252 below
        pass
    return raw.decode("cp1252", errors="replace"), "cp1252", None


_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


# ---------------------------------------------------------------- HTML


def html_to_text(html: str) -> tuple[str, dict[str, str]]:
    """Extract readable text from HTML with BeautifulSoup; nothing is executed or fetched.

    Returns:
        ``(text, meta)`` where meta may hold ``title``, ``date``, ``source`` from the head.
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    meta: dict[str, str] = {}
    for tag in soup.find_all("meta"):
        key = (tag.get("property") or tag.get("name") or "").lower()
        val = tag.get("content")
        if not val:
            continue
        if key in ("article:published_time", "date", "pubdate", "dc.date", "og:published_time"):
            meta.setdefault("date", val)
        elif key in ("og:site_name", "publisher", "author"):
            meta.setdefault("source", val)
    if soup.title and soup.title.string:
        meta["title"] = soup.title.string.strip()
    t = soup.find("time")
    if t is not None and t.get("datetime"):
        meta.setdefault("date", t["datetime"])
    for bad in soup(["script", "style", "noscript", "iframe", "svg", "nav", "footer", "form", "aside",
                     "button", "template", "object", "embed", "head"]):
        bad.decompose()
    blocks: list[str] = []
    block_tags = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "figcaption", "td",
                  "th", "dt", "dd", "div", "section", "article", "header", "main", "br", "tr", "time"}
    body = soup.body or soup
    buf: list[str] = []

    def flush() -> None:
        line = re.sub(r"\s+", " ", "".join(buf)).strip()
        if line:
            blocks.append(line)
        buf.clear()

    for el in body.descendants:
        name = getattr(el, "name", None)
        if name is None:
            buf.append(str(el))
        elif name in block_tags:
            flush()
    flush()
    h1 = soup.find("h1")
    if h1 is not None and h1.get_text(strip=True):
        meta["title"] = re.sub(r"\s+", " ", h1.get_text(" ", strip=True))
    return "\n\n".join(blocks), meta


# ---------------------------------------------------------------- cleanup


_FURNITURE = re.compile(
    r"""^(?:
        vorlesen\ lassen | .*\blesedauer\b | .*\bartikel\ anh[öo]ren\b | diese\ audioversion
      | mehr\ infos\.?$ | newsletter\b | nicht\ mehr\ anzeigen | .*\b(?:live-?blog|live-?ticker|newsticker)\b
      | (?:anzeige|werbung|advertisement|sponsored|promoted)\b | (?:teilen|share|drucken|print|merken)\b
      | (?:lesen\ sie\ auch|mehr\ zum\ thema|auch\ interessant|read\ more|related\ articles?|listen\ to\ this)
      | (?:subscribe|abonnieren|jetzt\ abonnieren|zum\ artikel|zur\ startseite|weiterlesen)\b
      | \(?\s*(?:foto|fotos|bild|bilder|photo|image|grafik|video|quelle\ bild)\s*: | ©
      | .*\bcookies?\b.*\b(?:akzeptieren|accept|zustimmen)\b
      | \d{1,2}:\d{2}(?::\d{2})?(?:\s*(?:uhr|min))?$
    )""",
    re.I | re.X,
)
_BLOCK_START = re.compile(r"^(?:lesetipp|lese-tipp|anzeige|werbung|newsletter|advertisement)\b", re.I)
_SOURCE = re.compile(r"^(?:quelle|source|quellen|sources)\s*:\s*(?P<src>.+)$", re.I)
_CREDIT = re.compile(r"^\(?\s*(?:foto|fotos|bild|photo|image)\s*:", re.I)
_TERMINAL = re.compile(r"[.!?…:;\"“”»«)\]]\s*$")
_WEEKDAYS = (
    r"montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag"
    r"|monday|tuesday|wednesday|thursday|friday|saturday|sunday"
)


@dataclass
class _Line:
    start: int
    end: int
    text: str
    keep: bool = True


def _lines(text: str) -> list[_Line]:
    out = []
    pos = 0
    for raw in text.split("\n"):
        stripped = raw.strip()
        lead = len(raw) - len(raw.lstrip())
        out.append(_Line(pos + lead, pos + lead + len(stripped), stripped))
        pos += len(raw) + 1
    return out


def _is_date_line(s: str) -> bool:
    dates = find_dates(s)
    if not dates:
        return False
    rest = s
    for a, b, _ in reversed(dates):
        rest = rest[:a] + rest[b:]
    rest = re.sub(rf"\b(?:{_WEEKDAYS})\b|\d{{1,2}}:\d{{2}}|\buhr\b|artikel anh[öo]ren|[,()|–-]", " ", rest, flags=re.I)
    return len(rest.split()) <= 2


def clean(text: str, markdown: bool = False) -> tuple[list[Span], dict[str, str | None]]:
    """Find the content regions of a news text and its metadata.

    Rules (general, not tied to one site): known furniture lines ("Vorlesen lassen?", "Lesedauer",
    "Artikel anhören", timestamps, newsletter/ad blocks with their following lines, photo credits and
    the captions right above them), repeated lines, short lines that are not sentences (section labels,
    teasers, site names), date and "Quelle:" lines (kept as metadata).

    Returns:
        ``(segments, meta)``: maximal runs of kept lines as spans of ``text``; meta has
        ``title``, ``date`` (ISO), ``source``.
    """
    lines = _lines(text)
    meta: dict[str, str | None] = {"title": None, "date": None, "source": None}
    seen: set[str] = set()
    block = 0
    content_idx: list[int] = []
    for i, ln in enumerate(lines):
        s = ln.text
        if markdown:
            s = re.sub(r"^#{1,6}\s+|^>\s*|^[-*+]\s+", "", s)
        if not s:
            block = 0
            ln.keep = False
            continue
        words = s.split()
        if block and len(words) < 30:
            block -= 1
            ln.keep = False
            continue
        m = _SOURCE.match(s)
        if m and len(words) <= 12:
            meta["source"] = meta["source"] or m.group("src").strip()
            ln.keep = False
            continue
        if _BLOCK_START.match(s) and len(words) < 30:
            block = 3
            ln.keep = False
            continue
        if len(words) < 25 and _is_date_line(s):
            if meta["date"] is None:
                meta["date"] = find_dates(s)[0][2]
            ln.keep = False
            continue
        if len(words) < 25 and _FURNITURE.match(s):
            ln.keep = False
            if _CREDIT.match(s):  # drop the caption(s) right above a photo credit
                for j in reversed(content_idx[-2:]):
                    if len(lines[j].text.split()) <= 30 and lines[j].text != meta["title"] and j >= i - 4:
                        lines[j].keep = False
            continue
        key = re.sub(r"\W+", " ", s.lower()).strip()
        if key in seen:
            ln.keep = False
            continue
        seen.add(key)
        if meta["title"] is None and len(words) >= 3 and not _TERMINAL.search(s[-1:]) or (
            meta["title"] is None and markdown and ln.text.startswith("# ")
        ):
            meta["title"] = s
            content_idx.append(i)
            continue
        if len(words) < 20 and not _TERMINAL.search(s):
            ln.keep = False  # section labels, teaser links, site names
            continue
        content_idx.append(i)
    if meta["title"] is None:
        for ln in lines:
            if ln.keep and ln.text:
                meta["title"] = ln.text[:200]
                break
    if meta["date"] is None:
        head = text[:1500]
        found = find_dates(head)
        if found:
            meta["date"] = found[0][2]
    segments: list[Span] = []
    cur: Span | None = None
    for ln in lines:
        if not ln.text:
            continue
        if ln.keep:
            if cur is None:
                cur = Span(start=ln.start, end=ln.end)
            else:
                cur.end = ln.end
        elif cur is not None:
            segments.append(cur)
            cur = None
    if cur is not None:
        segments.append(cur)
    return segments, meta


# ---------------------------------------------------------------- documents


def load_document(path: Path, settings: IngestSettings) -> Document:
    """Read one file into a :class:`Document`.

    Raises:
        IngestError: the file cannot be used (reason and path in the message).
    """
    text, _enc, warning = read_text(path, settings.max_file_mb)
    suffix = path.suffix.lower()
    fmt = {".html": "html", ".htm": "html", ".md": "md", ".markdown": "md"}.get(suffix, "txt")
    html_meta: dict[str, str] = {}
    if fmt == "html":
        text, html_meta = html_to_text(text)
        if not text.strip():
            raise IngestError(f"{path}: HTML has no readable text")
    segments, meta = clean(text, markdown=fmt == "md")
    if not segments:
        raise IngestError(f"{path}: no article text left after removing page furniture")
    body = " ".join(text[s.start : s.end] for s in segments)
    date = meta["date"]
    if html_meta.get("date"):
        found = find_dates(html_meta["date"])
        date = found[0][2] if found else date
    title = html_meta.get("title") or meta["title"] or path.stem
    if fmt == "md":
        title = re.sub(r"^#{1,6}\s+", "", title)
    return Document(
        doc_id=doc_id_for(path),
        path=str(path),
        text=text,
        title=title.strip(),
        date=date,
        source=meta["source"] or html_meta.get("source"),
        language=detect_language(body),
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        format=fmt,
        segments=segments,
        warnings=[warning] if warning else [],
    )


def load_documents(
    files: Iterable[Path], settings: IngestSettings
) -> Iterator[tuple[Path, Document | None, str | None]]:
    """Load files one by one; yields ``(path, document, None)`` or ``(path, None, reason)``."""
    for f in files:
        try:
            yield f, load_document(f, settings), None
        except IngestError as exc:
            yield f, None, str(exc).split(": ", 1)[-1]
