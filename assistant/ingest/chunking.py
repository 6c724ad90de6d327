"""Pure markdown chunking: heading paths, 1-based line ranges, fence-aware, sized in model tokens.

Why not langchain's MarkdownHeaderTextSplitter / RecursiveCharacterTextSplitter: they return text
without line positions (citations need exact lines), strip whitespace and overlap chunks (so the
chunks no longer rebuild the file), and re-tokenize every candidate piece. Here a section is cut
only at line boundaries (list items, paragraphs, whole code fences) and token counts are computed
once per line, which is exact for WordPiece because pieces never cross a newline.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from assistant.schema import Chunk
from assistant.text.document import Document, parse
from assistant.text.markdown import plain_text, split_lines

MARKDOWN_SUFFIXES = (".md", ".markdown")


# Bump when chunk boundaries change for the same input, so stored indexes re-chunk.
CHUNKER_VERSION = 4


class TokenCounter(Protocol):
    """What chunking needs from the embedding model's tokenizer."""

    def count(self, texts: Sequence[str]) -> list[int]:
        """Word pieces in each text, without special tokens."""
        ...

    def spans(self, text: str, max_tokens: int) -> list[tuple[int, int]]:
        """Character spans covering ``text`` in order, each of at most ``max_tokens`` pieces."""
        ...


@dataclass
class _Unit:
    """A candidate chunk: lines [start, end) of the file (0-based), or a span of one line."""

    path: tuple[str, ...]
    start: int
    end: int
    tokens: int
    whole_section: bool
    heading_only: bool = False
    text: str | None = None  # set only for pieces of an over-long line


def _sections(doc: Document, markdown: bool) -> list[tuple[tuple[str, ...], int, int, set[int]]]:
    """(heading path, start, end, heading line numbers) of each section (0-based lines), from the model."""
    sections: list[tuple[tuple[str, ...], int, int, set[int]]] = []
    start, path = 0, ()
    heading_lines: set[int] = set()
    for block in doc.blocks if markdown else ():
        if block.kind != "heading" or block.depth:
            continue
        i = block.start - 1
        if i > start:
            sections.append((path, start, i, heading_lines))
        path, start = block.heading_path, i
        heading_lines = set(range(i, block.end))  # a setext heading's underline is its line too
    sections.append((path, start, len(doc.lines), heading_lines))
    return sections


def _blocks(lines: list[str], start: int, end: int, doc: Document) -> list[tuple[int, int]]:
    """Cut a section into blocks at blank lines and top-level list items, never inside a code block or table."""
    items = {b.start - 1 for b in doc.blocks if b.kind == "item" and start <= b.start - 1 < end}
    base_indent = min((_indent(lines[i]) for i in items), default=0)
    opens = {b.start - 1 for b in doc.blocks if b.kind in {"code", "table", "html"}}
    inside = {n - 1 for n in doc.atomic_lines()}
    blocks: list[tuple[int, int]] = []
    block_start = start
    for i in range(start, end):
        if i in inside:
            continue
        line = lines[i]
        breaks = not line.strip() or (i in items and _indent(line) <= base_indent) or i in opens
        if breaks and i > block_start:
            blocks.append((block_start, i))
            block_start = i
    blocks.append((block_start, end))
    return blocks


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _pack(spans: list[tuple[int, int, int]], budget: int) -> list[list[tuple[int, int, int]]]:
    """Group consecutive (start, end, tokens) spans into runs of at most ``budget`` tokens, evenly."""
    total = sum(t for _, _, t in spans)
    pieces = max(1, -(-total // budget))
    target = total / pieces
    groups: list[list[tuple[int, int, int]]] = [[]]
    size = 0
    for span in spans:
        if groups[-1] and (size + span[2] > budget or size >= target):
            groups.append([])
            size = 0
        groups[-1].append(span)
        size += span[2]
    # a stray tail (a lone "- " line ending a section) joins its neighbour rather than
    # becoming a chunk of its own
    merged: list[list[tuple[int, int, int]]] = []
    for group in groups:
        tokens = sum(t for _, _, t in group)
        if merged and tokens < 8 and sum(t for _, _, t in merged[-1]) + tokens <= budget:
            merged[-1].extend(group)
        else:
            merged.append(group)
    return merged


def _split_section(
    lines: list[str], counts: list[int], path: tuple[str, ...], start: int, end: int,
    budget: int, tokenizer: TokenCounter, doc: Document,
) -> list[_Unit]:
    """Cut an over-budget section into units: blocks, then lines, then pieces of a line."""
    spans: list[tuple[int, int, int]] = []
    for b_start, b_end in _blocks(lines, start, end, doc):
        size = sum(counts[b_start:b_end])
        if size <= budget:
            spans.append((b_start, b_end, size))
        else:
            # A block (a long list item, or a code fence bigger than the model reads) is cut at
            # line boundaries: a chunk over the window would be silently truncated by the model.
            spans.extend((i, i + 1, counts[i]) for i in range(b_start, b_end))
    units: list[_Unit] = []
    run: list[tuple[int, int, int]] = []
    for span in spans + [(-1, -1, budget + 1)]:  # sentinel flushes the last run
        if span[2] <= budget:
            run.append(span)
            continue
        for group in _pack(run, budget) if run else []:
            g_start, g_end = group[0][0], group[-1][1]
            units.append(_Unit(path, g_start, g_end, sum(t for _, _, t in group), False))
        run = []
        if span[0] >= 0:  # an over-long single line: cut it into token windows
            line = lines[span[0]]
            for a, b in tokenizer.spans(line, budget):
                units.append(_Unit(path, span[0], span[1], budget, False, text=line[a:b]))
    return units


def _common(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def _mergeable(group: _Unit, unit: _Unit) -> bool:
    """Neighbours under the same parent: unit is a child of the group's path, or its sibling."""
    if group.path == unit.path == ():
        return True
    if unit.path[:-1] == group.path:
        return True
    if group.heading_only and unit.path[: len(group.path)] == group.path:
        return True
    return len(unit.path) == len(group.path) and unit.path[:-1] == group.path[:-1] and len(unit.path) > 1


def _merge_small(units: list[_Unit], budget_for, min_tokens: int) -> list[_Unit]:
    """Merge small whole sections into their neighbours under the same parent, within budget."""
    out: list[_Unit] = []
    for unit in units:
        group = out[-1] if out else None
        if (
            group is not None
            and group.text is None and unit.text is None
            and (group.whole_section or group.heading_only)
            and (unit.whole_section or group.heading_only)
            and (group.tokens < min_tokens or unit.tokens < min_tokens)
            and _mergeable(group, unit)
        ):
            path = unit.path if group.heading_only else _common(group.path, unit.path)
            if group.tokens + unit.tokens <= budget_for(path):
                group.path, group.end = path, unit.end
                group.tokens += unit.tokens
                group.whole_section = group.whole_section and unit.whole_section
                group.heading_only = group.heading_only and unit.heading_only
                continue
        out.append(unit)
    return out


def chunk_id(source: str, heading_path: Sequence[str], text: str, occurrence: int = 0) -> str:
    """Content hash of a chunk; line numbers are left out so edits elsewhere keep ids stable."""
    payload = "\x00".join([source, " › ".join(heading_path), text, str(occurrence) if occurrence else ""])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def chunk_text(
    text: str,
    source: str,
    tokenizer: TokenCounter,
    max_tokens: int,
    min_tokens: int = 48,
    markdown: bool | None = None,
) -> list[Chunk]:
    """Split one note file into chunks.

    Every non-blank line lands in exactly one chunk's line range (an over-long single line is
    cut into several chunks that share its line number); code fences are never cut unless one
    alone exceeds the model's window; each chunk's heading path plus text fits ``max_tokens``.

    Args:
        text: The file's text.
        source: Path relative to the corpus folder (goes into ids and chunks).
        tokenizer: The embedding model's tokenizer.
        max_tokens: Largest chunk in word pieces, heading context included.
        min_tokens: Sections smaller than this merge with neighbours under the same parent.
        markdown: Parse headings; default: by the file suffix (.md/.markdown).

    Returns:
        Chunks in file order.
    """
    if markdown is None:
        markdown = source.lower().endswith(MARKDOWN_SUFFIXES)
    lines = split_lines(text)
    doc = parse(text, markdown)
    counts = tokenizer.count(lines)
    prefix_cache: dict[tuple[str, ...], int] = {}

    def budget_for(path: tuple[str, ...]) -> int:
        if path not in prefix_cache:
            prefix_cache[path] = tokenizer.count([" › ".join(path)])[0] if path else 0
        return max(16, max_tokens - prefix_cache[path])

    units: list[_Unit] = []
    for path, start, end, heading_lines in _sections(doc, markdown):
        size = sum(counts[start:end])
        if size == 0 and not any(lines[i].strip() for i in range(start, end)):
            continue
        if size <= budget_for(path):
            body = [i for i in range(start, end) if lines[i].strip() and i not in heading_lines]
            units.append(_Unit(path, start, end, size, True, heading_only=not body))
        else:
            units.extend(_split_section(lines, counts, path, start, end, budget_for(path), tokenizer, doc))
    units = _merge_small(units, budget_for, min_tokens)

    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for unit in units:
        start, end = unit.start, unit.end
        if unit.text is None:
            while start < end and not lines[start].strip():
                start += 1
            while end > start and not lines[end - 1].strip():
                end -= 1
            if start == end:
                continue
            body = "\n".join(lines[start:end])
        else:
            body = unit.text
            if not body.strip():
                continue
        base = chunk_id(source, unit.path, body)
        occurrence = seen.get(base, 0)
        seen[base] = occurrence + 1
        cid = chunk_id(source, unit.path, body, occurrence) if occurrence else base
        chunks.append(Chunk(cid, source, unit.path, start + 1, end, body))
    return chunks


def piece_texts(chunk: Chunk, tokenizer: TokenCounter, max_tokens: int = 64) -> list[str]:
    """Small passages of a chunk for dense search ("small-to-big" retrieval).

    A 250-token chunk embedded whole blurs its bullets together; each piece is a run of whole
    lines of at most ``max_tokens`` word pieces, prefixed with the chunk's own heading, and a hit
    on any piece ranks the chunk. Measured on the gold set: dense MRR@5 0.69 -> 0.80.

    Args:
        chunk: The chunk to cut.
        tokenizer: The embedding model's tokenizer.
        max_tokens: Largest piece body.

    Returns:
        At least one text; together they cover every non-blank line of the chunk (as plain
        text, see `plain_text`).
    """
    head = f"{chunk.heading_path[-1]}\n" if chunk.heading_path else ""
    lines = [plain for line in split_lines(chunk.text) if (plain := plain_text(line)).strip()]
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for line, count in zip(lines, tokenizer.count(lines), strict=True):
        if count > max_tokens:
            if current:
                pieces.append(head + "\n".join(current))
                current, size = [], 0
            pieces.extend(head + line[a:b] for a, b in tokenizer.spans(line, max_tokens))
            continue
        if current and size + count > max_tokens:
            pieces.append(head + "\n".join(current))
            current, size = [], 0
        current.append(line)
        size += count
    if current:
        pieces.append(head + "\n".join(current))
    return pieces or [head + chunk.text]
