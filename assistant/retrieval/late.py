"""Late interaction (ColBERT's MaxSim) over the token vectors the index stores for every chunk.

Each question word finds its best match in the chunk, which catches multi-part questions that a
single vector blurs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def maxsim(query: np.ndarray, matrix: np.ndarray, offsets: np.ndarray, candidates: Sequence[int]) -> np.ndarray:
    """Late-interaction scores of candidate chunks.

    For each candidate, every query token takes its best cosine among the chunk's tokens; the
    score is the mean over query tokens.

    Args:
        query: Unit vectors of the question's content tokens (rows).
        matrix: Unit token vectors of all chunks, chunk after chunk.
        offsets: Chunk i owns rows ``offsets[i]:offsets[i + 1]``.
        candidates: Chunk positions to score.

    Returns:
        One score per candidate (0 for a chunk without tokens, or an empty query).
    """
    scores = np.zeros(len(candidates))
    if not len(query):
        return scores
    query_t = np.ascontiguousarray(query)
    if not isinstance(matrix, np.ndarray):
        # token vectors read from disk (`store.SegmentedRows`): the rows must be read and converted
        # anyway, so all candidates' rows go in one read, one conversion and one product
        spans = [(offsets[i], offsets[i + 1]) for i in candidates]
        has = np.array([b > a for a, b in spans], dtype=bool)
        if not has.any():
            return scores
        rows = matrix.read_many([span for span, ok in zip(spans, has, strict=True) if ok])
        sizes = np.array([b - a for (a, b), ok in zip(spans, has, strict=True) if ok])
        best = np.maximum.reduceat(query_t @ rows.T, np.concatenate([[0], np.cumsum(sizes)[:-1]]), axis=1)
        scores[has] = np.ascontiguousarray(best.T).sum(axis=1)  # each row summed as .sum() does
        return scores / len(query)
    for n, i in enumerate(candidates):
        start, end = offsets[i], offsets[i + 1]
        if end > start:
            # each chunk's rows are a view (no copy): one gathered product over all candidates
            # measured slower here, the copy costing more than the calls it saves
            scores[n] = (query_t @ matrix[start:end].T).max(axis=1).sum()
    return scores / len(query)
