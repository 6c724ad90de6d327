"""From ranked chunks to passages: near-duplicates dropped, neighbours of one section stitched.

A long section is cut into several chunks so each fits what the model reads; when a question's top
results hold neighbouring chunks of one section, they come back as one passage (the section's
lines, in order), so the k places go to k different passages, as LlamaIndex's auto-merging
retriever returns a parent for its retrieved children, though only retrieved chunks are joined.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assistant import tuning
from assistant.ingest.chunking import chunk_id
from assistant.schema import Chunk, RetrievedChunk
from assistant.store import LoadedIndex
from assistant.text.words import jaccard


class Passages:
    """Chunk neighbourhoods and word sets of one loaded index, for stitching and near-duplicate checks."""

    def __init__(self, index: LoadedIndex) -> None:
        """Link each chunk to the next one of its section (computed once per index)."""
        self.index = index
        self.chunks: list[Chunk] = index.chunks
        self.positions = {c.id: i for i, c in enumerate(self.chunks)}
        self._word_sets: dict[int, set[int]] = {}
        self._next, self._starts = self._neighbours()

    def _neighbours(self) -> tuple[dict[int, int], dict[tuple[str, int], int]]:
        """Chunk links for stitching: next chunk in one section, and the chunk starting at a line.

        The first maps a chunk to the next chunk of its file when both lie in one section (same
        heading path) and on one page or in one cell (a passage is cited by one); the second maps
        (source, line) to the chunk starting there. Pieces of one over-long line (chunks sharing that
        line) are left out of both: joined to a neighbour they would claim the whole line while holding
        a part of it.
        """
        order = sorted(range(len(self.chunks)),
                       key=lambda i: (self.chunks[i].source, self.chunks[i].start_line, self.chunks[i].end_line))
        shared: set[int] = set()
        for a, b in zip(order, order[1:], strict=False):
            if self.chunks[a].source == self.chunks[b].source and self.chunks[b].start_line <= self.chunks[a].end_line:
                shared.update((a, b))
        follows: dict[int, int] = {}
        for a, b in zip(order, order[1:], strict=False):
            first, second = self.chunks[a], self.chunks[b]
            if (a not in shared and b not in shared and first.source == second.source
                    and first.heading_path == second.heading_path and first.region == second.region):
                follows[a] = b
        starts = {(c.source, c.start_line): i for i, c in enumerate(self.chunks) if i not in shared}
        return follows, starts

    def parts(self, hit: RetrievedChunk) -> list[int]:
        """Positions of the chunks a returned passage is made of (one, or a stitched run), in file order.

        Empty for a passage this index did not return (its text is not that of these chunks).
        """
        pos = self.positions.get(hit.id)
        if pos is not None:
            return [pos]
        # follow the chunk starting where the passage starts through its section's next chunks
        pos = self._starts.get((hit.source, hit.start_line))
        found: list[int] = []
        while pos is not None and self.chunks[pos].end_line <= hit.end_line:
            found.append(pos)
            pos = self._next.get(pos)
        if not found or self.chunks[found[-1]].end_line != hit.end_line:
            return []
        return found if self.joined_text(found) == hit.text else []

    def words(self, position: int) -> set[int]:
        """A chunk's distinct keyword tokens (of its text, not its headings), as word ids: near-duplicate checks.

        Stored at ingest: tokenizing each candidate's text here cost ~8 ms a question at 100x the notes.
        """
        found = self._word_sets.get(position)
        if found is None:
            indptr, ids = self.index.text_words
            found = self._word_sets[position] = set(ids[indptr[position] : indptr[position + 1]].tolist())
        return found

    def near_duplicate(self, position: int, groups: Sequence[Sequence[int]]) -> bool:
        """Whether a chunk says what an already picked one says (NEAR_DUPLICATE of their words shared)."""
        return any(jaccard(self.words(position), self.words(j)) >= tuning.NEAR_DUPLICATE for g in groups for j in g)

    def _size(self, group: Sequence[int]) -> int:
        offsets = self.index.token_offsets
        return int(sum(offsets[i + 1] - offsets[i] for i in group))

    def stitch(self, groups: list[list[int]], i: int) -> bool:
        """Join chunk ``i`` to a picked group it neighbours (and that group to one it now meets)."""
        for group in groups:
            if self._next.get(group[-1]) == i:
                joined = group + [i]
            elif self._next.get(i) == group[0]:
                joined = [i] + group
            else:
                continue
            if self._size(joined) > tuning.STITCH_VECTORS:
                continue
            group[:] = joined
            # the new chunk may close the gap to another group: join the two if they fit
            for other in [g for g in groups if g is not group]:
                if self._next.get(group[-1]) == other[0]:
                    pair = group + other
                elif self._next.get(other[-1]) == group[0]:
                    pair = other + group
                else:
                    continue
                if self._size(pair) <= tuning.STITCH_VECTORS:
                    group[:] = pair
                    groups[:] = [g for g in groups if g is not other]
            return True
        return False

    def joined_text(self, group: Sequence[int]) -> str:
        """Chunks' lines in file order, with the blank lines between them (as empty lines)."""
        parts = [self.chunks[i] for i in group]
        text = parts[0].text
        for before, after in zip(parts, parts[1:], strict=False):
            text += "\n" * (after.start_line - before.end_line) + after.text
        return text

    def passage(self, group: Sequence[int], score: float, similarity: np.ndarray) -> RetrievedChunk:
        """One result from a group of chunks, with its first-ranked chunk's score and its best similarity.

        A stitched passage's text is its chunks' lines with the blank lines between them.
        """
        if len(group) == 1:
            c = self.chunks[group[0]]
            return RetrievedChunk(c.id, c.text, c.source, list(c.heading_path), c.start_line, c.end_line,
                                  round(score, 6), round(float(similarity[group[0]]), 4), c.region, c.region_start,
                                  c.region_end)
        parts = [self.chunks[i] for i in group]
        text = self.joined_text(group)
        first = parts[0]
        return RetrievedChunk(chunk_id(first.source, first.heading_path, text), text, first.source,
                              list(first.heading_path), first.start_line, parts[-1].end_line,
                              round(score, 6), round(float(similarity[list(group)].max()), 4),
                              first.region, first.region_start, first.region_end)
