"""Chunks of a PDF or notebook cut at its page or cell boundaries, so each is cited by one page or cell.

The chunker reads the whole markdown view at once (a heading on page 2 still heads the text on
page 3); this pure step runs after it and cuts any chunk that spans a boundary, keeping its
heading path, and labels every chunk with its region.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from assistant.ingest.chunking import chunk_id
from assistant.schema import Chunk
from assistant.sources.views import Region


def split_by_region(chunks: Sequence[Chunk], regions: Sequence[Region]) -> list[Chunk]:
    """Cut chunks at region boundaries and label each with its region.

    Args:
        chunks: One file's chunks in file order (view line numbers).
        regions: The file's regions in order; empty for a file without pages or cells.

    Returns:
        The chunks as they were when there are no regions; otherwise chunks that each lie in one
        region (lines between regions belong to none and are dropped; they are blank), with ids
        made as the chunker makes them (content hash, a counter for repeats).
    """
    if not regions:
        return list(chunks)
    starts = [r.start for r in regions]
    out: list[tuple[Chunk, Region, int, str]] = []  # chunk, region, first line, text
    for chunk in chunks:
        lines = chunk.text.split("\n")
        piece = chunk.start_line == chunk.end_line and len(lines) == 1  # may be a piece of one long line
        n = bisect_right(starts, chunk.start_line) - 1
        line = chunk.start_line
        while line <= chunk.end_line:
            if n < 0 or line > regions[n].end:  # before the first region or between two
                n += 1
                if n >= len(regions):
                    break
                line = max(line, regions[n].start)
                continue
            region = regions[n]
            last = min(chunk.end_line, region.end)
            part = chunk.text if piece else "\n".join(lines[line - chunk.start_line : last - chunk.start_line + 1])
            if part.strip():
                # trim blank edges, as the chunker does: a cited range starts and ends on text
                body = part.split("\n")
                first = line
                while body and not body[0].strip():
                    body, first = body[1:], first + 1
                while body and not body[-1].strip():
                    body = body[:-1]
                out.append((chunk, region, first, "\n".join(body)))
            line = last + 1
            n += 1
    chunks_out: list[Chunk] = []
    seen: dict[str, int] = {}
    for chunk, region, first, text in out:
        base = chunk_id(chunk.source, chunk.heading_path, text)
        occurrence = seen.get(base, 0)
        seen[base] = occurrence + 1
        cid = chunk_id(chunk.source, chunk.heading_path, text, occurrence) if occurrence else base
        chunks_out.append(Chunk(cid, chunk.source, chunk.heading_path, first, first + text.count("\n"), text,
                                region.label, region.first_counted, region.last_counted))
    return chunks_out
