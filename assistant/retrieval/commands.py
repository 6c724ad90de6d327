"""How-to questions: a section's command passage ranks right above the prose that introduces it.

Notes often explain a step in prose and give its command in the block right after it. When those
are separate passages (a notebook's markdown cell, then its code cell; a PDF page break), the
prose shares more of the question's words ("how do I clean up messy column names" / "Messy
headers ... normalise them once") and ranks first, although the command is what a how-to
question asks for. Only a command passage that follows a better-ranked prose passage of its own
section, and already ranks near it, is moved; nothing new enters the ranking.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from assistant.schema import Chunk
from assistant.text.document import parse


@lru_cache(maxsize=8192)
def _all_code(text: str, markdown: bool) -> bool:
    kinds = {b.kind for b in parse(text, markdown, passage=True).blocks} - {"heading"}
    return kinds == {"code"}


def is_command(chunk: Chunk) -> bool:
    """Whether a chunk is code only (its section's heading aside)."""
    return _all_code(chunk.text, not chunk.source.lower().endswith(".txt"))


def section_next(chunks: Sequence[Chunk]) -> dict[int, int]:
    """Each chunk's next chunk in its file when both lie in one section (same heading path), across cells and pages."""
    order = sorted(range(len(chunks)), key=lambda i: (chunks[i].source, chunks[i].start_line, chunks[i].end_line))
    return {a: b for a, b in zip(order, order[1:], strict=False)
            if chunks[a].source == chunks[b].source and chunks[a].heading_path == chunks[b].heading_path
            and chunks[b].start_line > chunks[a].end_line}


def commands_first(ranking: Sequence[int], chunks: Sequence[Chunk], following: dict[int, int],
                   window: int) -> list[int]:
    """The ranking with each command chunk moved right above the prose chunk of its section it follows.

    Args:
        ranking: Chunk positions, best first.
        chunks: The index's chunks.
        following: `section_next` of the chunks.
        window: Only chunks among the first ``window`` of the ranking move (and only up).
    """
    out = list(ranking)
    head = out[:window]
    for prose in list(head):
        command = following.get(prose)
        if command is None or command not in head or is_command(chunks[prose]) or not is_command(chunks[command]):
            continue
        if head.index(command) > head.index(prose):
            head.remove(command)
            head.insert(head.index(prose), command)
    return head + out[window:]
