"""A chunk's stored token vectors by file line, cached.

Key-term feedback and the extractive composer score a passage's lines with them, without running
the model on the notes again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from assistant import tuning
from assistant.embedding.lines import rows_by_line, token_line_numbers
from assistant.ingest.chunking import piece_texts
from assistant.store import LoadedIndex


class ChunkLines:
    """Per-chunk line numbers of token rows, and the rows split by line, for one loaded index."""

    def __init__(self, index: LoadedIndex, tokenizer=None, piece_tokens: int | None = None) -> None:
        """Wrap a loaded index.

        Args:
            index: The loaded index.
            tokenizer: The embedding model's `WordPieceTokenizer`, to recover the lines of an index
                that did not record them (by tokenizing the chunk's pieces again).
            piece_tokens: The piece size the index was built with (its chunker settings).
        """
        self.index = index
        self.tokenizer = tokenizer
        self.piece_tokens = piece_tokens
        self._line_cache: dict[int, np.ndarray | None] = {}
        self._rows_cache: OrderedDict[int, dict[int, np.ndarray] | None] = OrderedDict()
        self._rows_lock = threading.Lock()

    def row_lines(self, position: int) -> np.ndarray | None:
        """The file line of each of a chunk's token rows (see `embedding.lines`), cached.

        As the build recorded them; for an index without them, by tokenizing the chunk's pieces
        again. None when neither is possible or the rows don't line up.
        """
        if position not in self._line_cache:
            lines = None
            start, end = self.index.token_offsets[position], self.index.token_offsets[position + 1]
            if self.index.token_lines is not None:  # recorded by the build
                lines = self.index.token_lines[start:end]
            elif self.tokenizer is not None and self.piece_tokens:
                chunk = self.index.chunks[position]
                lines = token_line_numbers(chunk, piece_texts(chunk, self.tokenizer, self.piece_tokens), self.tokenizer)
                lines = lines if lines is not None and len(lines) == end - start else None
            self._line_cache[position] = lines
        return self._line_cache[position]

    def line_rows(self, position: int) -> dict[int, np.ndarray] | None:
        """A chunk's stored token vectors split by file line; None as `row_lines`.

        The last LINE_ROWS_CACHE chunks' splits are kept: an answer asks for each of its passages'
        lines several times, and a stitched passage for several chunks' (~70 us a chunk).
        """
        with self._rows_lock:  # the UI answers from several threads
            if position in self._rows_cache:
                self._rows_cache.move_to_end(position)
                return self._rows_cache[position]
        lines = self.row_lines(position)
        rows = None
        if lines is not None:
            start, end = self.index.token_offsets[position], self.index.token_offsets[position + 1]
            rows = rows_by_line(lines, self.index.token_matrix[start:end])
        with self._rows_lock:
            self._rows_cache[position] = rows
            while len(self._rows_cache) > tuning.LINE_ROWS_CACHE:
                self._rows_cache.popitem(last=False)
        return rows
