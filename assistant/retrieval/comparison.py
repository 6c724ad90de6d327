"""Comparison questions ("X vs Y", "A, B or C"): each side is searched too, the rankings interleaved.

So every side reaches the top k: a single query vector for "X vs Y" lands on whichever side the
notes say more about.
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant.text.question import comparison_sides


def query_texts(question: str, expand: bool) -> tuple[list[str], tuple[str, ...] | None]:
    """The texts to search for: the question, then each side of a comparison (when ``expand``)."""
    sides = comparison_sides(question) if expand else None
    return [question, *(sides or ())], sides


def interleave(lists: Sequence[Sequence[int]]) -> list[int]:
    """Round-robin merge of ranked lists, first occurrence wins."""
    seen: set[int] = set()
    out: list[int] = []
    for row in range(max((len(x) for x in lists), default=0)):
        for ranked in lists:
            if row < len(ranked) and ranked[row] not in seen:
                seen.add(ranked[row])
                out.append(ranked[row])
    return out
