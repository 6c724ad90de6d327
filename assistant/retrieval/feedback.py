"""Pseudo-relevance feedback (RM3-style query expansion, Abdul-Jaleel et al., TREC 2004).

A student asks in their own words ("model is bad on training and validation data"); the best
passage's line that matches them best names the notes' own term for it ("**Underfitting**"), which
then finds the other passages filed under that term. The feedback words are the emphasised (bold)
terms of that line (students mark their key terms), at KEY_TERM_WEIGHT in the keyword query; notes
without emphasis give the passage's most telling words (tf x idf) at FEEDBACK_WEIGHT instead.
"""

from __future__ import annotations

import re

import numpy as np

from assistant import tuning
from assistant.store import LoadedIndex
from assistant.text.sentences import GENERIC_LABELS, outside_code, passage_units
from assistant.text.words import tokens

from .lines import ChunkLines

_EMPHASIS = re.compile(r"\*\*([^*\n]{1,80}?)\*\*")  # bold, as the notes' lead-ins (`sentences`) are


def feedback_terms(index: LoadedIndex, text: str, position: int, n: int = tuning.FEEDBACK_TERMS) -> list[str]:
    """The ``n`` words of a passage that best say what it is about and the query lacks (tf x idf)."""
    keywords = index.keywords if index.chunks else None
    if keywords is None:
        return []
    asked = set(tokens(text))
    counts = keywords.doc_terms(position)  # word -> count in the passage
    scored = [(count * keywords.idf_of(w), w) for w, count in counts.items()
              if w not in asked and len(w) > 2 and not w.isdigit()]
    return [w for score, w in sorted(scored, key=lambda x: (-x[0], x[1]))[:n] if score > 0]


class KeyTerms:
    """The emphasised terms of a passage's best-matching line, per loaded index (layouts cached)."""

    def __init__(self, index: LoadedIndex, lines: ChunkLines) -> None:
        """Wrap a loaded index and its per-line token rows."""
        self.index = index
        self.lines = lines
        self._text_cache: dict[int, tuple | None] = {}

    def _text_lines(self, position: int):
        """A chunk's text lines for key terms, cached: units by line, and its rows grouped by line.

        None when the chunk marks no terms in bold or its rows' lines are unknown.
        """
        if position not in self._text_cache:
            chunk = self.index.chunks[position]
            layout = None
            lines = self.lines.row_lines(position) if _EMPHASIS.search(outside_code(chunk.text)) else None
            if lines is not None:
                units = {u.line: u for u in passage_units(chunk, 0) if u.kind == "text"}
                rows = np.flatnonzero(np.isin(lines, list(units)))
                rows = rows[np.argsort(lines[rows], kind="stable")]  # grouped by line
                if len(rows):
                    firsts = np.flatnonzero(np.r_[True, lines[rows][1:] != lines[rows][:-1]])
                    layout = (units, rows + self.index.token_offsets[position], firsts, lines[rows][firsts])
            self._text_cache[position] = layout
        return self._text_cache[position]

    def __call__(self, text: str, position: int, query_tokens: np.ndarray,
                 n: int = tuning.FEEDBACK_TERMS) -> list[str] | None:
        """The emphasised terms of the passage's line that best matches the query, new to the query.

        The best line is the one whose token vectors the query's tokens match best (late
        interaction), among the passage's text lines (`sentences.passage_units`: no code, no
        headings). Returns None when the passage marks no terms in bold (or its lines are
        unknown), so the caller can fall back to `feedback_terms`; [] when the best line has none.
        """
        layout = self._text_lines(position) if len(query_tokens) else None
        if layout is None:
            return None
        units, rows, firsts, line_numbers = layout
        # each query token's best match within each line, averaged over the query (MaxSim per line)
        per_line = np.maximum.reduceat(query_tokens @ self.index.token_matrix[rows].T, firsts, axis=1).mean(axis=0)
        unit = units[int(line_numbers[int(np.argmax(per_line))])]
        spans = [span.strip(" :") for span in _EMPHASIS.findall(outside_code(unit.raw))]
        # a generic lead-in ("Example:", "Use Cases:") names a kind of line, not a concept: the
        # line's topic is then the lead-in it sits under ("Concept Drift:" above "Example:")
        if unit.label.lower() in GENERIC_LABELS and unit.parent:
            spans.append(unit.parent)
        asked = set(tokens(text))
        words = dict.fromkeys(w for span in spans if span.lower() not in GENERIC_LABELS for w in tokens(span)
                              if w not in asked and len(w) > 2 and not w.isdigit())
        return sorted(words, key=lambda w: (-self.index.keywords.idf_of(w), w))[:n]
