"""Sentence-aware, paragraph-first chunking with a token limit and a small overlap.

Every chunk is an exact span of its document: ``doc.text[chunk.start:chunk.end] == chunk.text``.
Chunks never cross a region removed as page furniture.
"""

from __future__ import annotations

from collections.abc import Callable

from rag.config import ChunkingSettings
from rag.models import Chunk, Document, Span
from rag.text import split_sentences

TokenCounter = Callable[[str], int]


def approx_tokens(text: str) -> int:
    """A model-free token estimate (about 1.3 subword tokens per word for German/English)."""
    return int(len(text.split()) * 1.3) + 2


def _split_long(text: str, offset: int, max_chars: int) -> list[tuple[int, int]]:
    """Split an overlong sentence with langchain's recursive splitter, keeping exact spans."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=max_chars, chunk_overlap=0, add_start_index=True,
        separators=["\n\n", "\n", "; ", ", ", " ", ""], keep_separator=False,
    )
    out = []
    for d in splitter.create_documents([text]):
        start = d.metadata["start_index"]
        if start < 0:
            continue
        out.append((offset + start, offset + start + len(d.page_content)))
    return out or [(offset, offset + len(text))]


def sentence_spans(doc: Document, settings: ChunkingSettings) -> list[tuple[int, int, int]]:
    """All sentences of a document's content as ``(start, end, segment_index)``."""
    out: list[tuple[int, int, int]] = []
    for si, seg in enumerate(doc.segments):
        for s, e in split_sentences(doc.text[seg.start : seg.end], offset=seg.start):
            if e - s > settings.max_sentence_chars:
                out.extend((a, b, si) for a, b in _split_long(doc.text[s:e], s, settings.max_sentence_chars))
            else:
                out.append((s, e, si))
    return out


def chunk_document(
    doc: Document, settings: ChunkingSettings, count_tokens: TokenCounter | None = None
) -> list[Chunk]:
    """Cut a document into chunks.

    Sentences are packed greedily up to ``max_tokens``; a new chunk starts at a paragraph break when
    the current chunk is already more than half full, and always at removed furniture. The next chunk
    repeats trailing sentences of the previous one up to ``overlap_tokens``.

    Args:
        doc: the document (with content segments).
        settings: chunking settings.
        count_tokens: the embedding model's token counter (an estimate when omitted).

    Returns:
        Chunks with ids ``"{doc_id}#{n}"`` and absolute sentence spans.
    """
    count = count_tokens or approx_tokens
    sents = sentence_spans(doc, settings)
    tokens = [count(doc.text[s:e]) for s, e, _ in sents]
    chunks: list[Chunk] = []
    cur: list[int] = []  # sentence indices of the chunk being built (overlap first)
    cur_tokens = 0
    n_new = 0  # sentences added since the last chunk was emitted

    def flush(keep_overlap: bool) -> None:
        nonlocal cur, cur_tokens, n_new
        if n_new:
            start, end = sents[cur[0]][0], sents[cur[-1]][1]
            chunks.append(Chunk(
                chunk_id=f"{doc.doc_id}#{len(chunks)}", doc_id=doc.doc_id, text=doc.text[start:end], start=start,
                end=end, sentences=[Span(start=sents[i][0], end=sents[i][1]) for i in cur],
            ))
        carry: list[int] = []
        budget = settings.overlap_tokens if keep_overlap else 0
        for i in reversed(cur[1:]):  # never the first sentence, so every chunk moves forward
            if tokens[i] > budget:
                break
            budget -= tokens[i]
            carry.insert(0, i)
        cur, cur_tokens, n_new = carry, sum(tokens[i] for i in carry), 0

    for i, (s, _e, seg) in enumerate(sents):
        if cur:
            if seg != sents[cur[-1]][2]:  # removed furniture lies between: never cross it
                flush(keep_overlap=False)
            else:
                new_para = "\n" in doc.text[sents[cur[-1]][1] : s]
                if cur_tokens + tokens[i] > settings.max_tokens or (new_para and cur_tokens > settings.max_tokens // 2):
                    flush(keep_overlap=True)
                    if cur_tokens + tokens[i] > settings.max_tokens:
                        cur, cur_tokens = [], 0
        cur.append(i)
        cur_tokens += tokens[i]
        n_new += 1
    flush(keep_overlap=False)
    return chunks
