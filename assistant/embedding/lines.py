"""Per-line token vectors of a chunk, recovered from the index's stored late-interaction vectors.

Ingest stores, for every chunk, the contextual vectors of the content word pieces of its pieces
(see `chunking.piece_texts` and `encoders.content_vectors`), piece after piece. Re-tokenizing the
same piece texts tells which stored row belongs to which line of the chunk, so the extractive
backend can score each line against the question by late interaction (MaxSim) without running
the model on the notes again: a warm answer costs one small embedding call for the question.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assistant.schema import Chunk
from assistant.text.markdown import plain_text, split_lines
from assistant.text.words import content_positions

HEADING = 0  # key of the chunk's own heading tokens (file lines start at 1)


def line_token_rows(
    chunk: Chunk, pieces: Sequence[str], rows: np.ndarray, tokenizer,
) -> dict[int, np.ndarray] | None:
    """Split a chunk's stored token vectors by the file line they come from.

    Args:
        chunk: The chunk (its text and first line number).
        pieces: Its piece texts, exactly as embedded at ingest.
        rows: Its stored content-token vectors, piece after piece.
        tokenizer: The embedding model's `WordPieceTokenizer`.

    Returns:
        File line number -> that line's token vectors, plus `HEADING` -> the token vectors of
        the chunk's own heading (from its first piece), or None when
        the stored rows don't line up with the pieces (an index from another chunker version).
    """
    lines = token_line_numbers(chunk, pieces, tokenizer)
    if lines is None or len(lines) != len(rows):
        return None
    return rows_by_line(lines, rows)


def token_line_numbers(chunk: Chunk, pieces: Sequence[str], tokenizer) -> np.ndarray | None:
    """The file line of each content-token row the chunk's pieces give (`HEADING`, or -1 for none).

    Rows come piece after piece, as ingest stores them: an index can keep these numbers so a
    query process need not tokenize the chunk again. Only the first piece's heading tokens are
    `HEADING` (every piece repeats the heading). None when the pieces don't match the chunk's
    lines (another chunker version).
    """
    head = f"{chunk.heading_path[-1]}\n" if chunk.heading_path else ""
    plain_lines = [
        (chunk.start_line + n, plain)
        for n, line in enumerate(split_lines(chunk.text))
        if (plain := plain_text(line)).strip()
    ]
    out: list[int] = []
    cursor = 0  # next plain line
    for piece in pieces:
        tokens, offsets = tokenizer.pieces(piece)
        keep = content_positions(tokens)
        body = piece[len(head):] if head and piece.startswith(head) else piece
        start = len(piece) - len(body)
        # which plain lines this piece holds: whole lines joined by "\n", or a part of one long line
        bounds: list[tuple[int, int, int]] = []  # (char start, char end, file line)
        pos = start
        remaining = body
        while remaining and cursor < len(plain_lines):
            line_no, plain = plain_lines[cursor]
            if remaining.startswith(plain):
                bounds.append((pos, pos + len(plain), line_no))
                pos += len(plain) + 1
                remaining = remaining[len(plain) + 1:]
                cursor += 1
            elif plain.startswith(remaining) or remaining in plain:
                bounds.append((pos, pos + len(remaining), line_no))  # a cut of an over-long line
                if plain.endswith(remaining):
                    cursor += 1
                remaining = ""
            else:
                return None
        for k in keep:
            char = offsets[k][0]
            line_no = next((n for a, b, n in bounds if a <= char < b), None)
            if line_no is None:
                line_no = HEADING if char < start and piece is pieces[0] else -1
            out.append(line_no)
    return np.array(out, dtype=np.int32)


def rows_by_line(lines: np.ndarray, rows: np.ndarray) -> dict[int, np.ndarray]:
    """A chunk's token rows grouped by their stored line numbers (the shape `line_token_rows` returns)."""
    return {int(line): rows[lines == line] for line in dict.fromkeys(lines.tolist()) if line >= 0}
