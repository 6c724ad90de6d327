"""Score fusion: a weighted sum of min-max normalized scores.

As in Bruch et al., "An Analysis of Fusion Functions for Hybrid Retrieval" (2022). Reciprocal-rank
fusion was tried first and lost on both question sets: RRF throws away *how much* better a hit is,
so a rare exact term that BM25 ranks first ("DeepAR") drowned under chunks both retrievers found
mediocre (docs/decisions/0002-retrieval.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assistant import tuning


def normalized_sum(candidates: Sequence[int], components: Sequence[tuple[float, np.ndarray]]) -> dict[int, float]:
    """Weighted sum of score arrays, each min-max normalized over the candidates.

    Args:
        candidates: Positions to score.
        components: (weight, score of every position) pairs.

    Returns:
        Fused score by position (in [0, 1] when the weights sum to 1).
    """
    if not candidates:
        return {}
    idx = np.asarray(candidates)
    total = np.zeros(len(idx))
    for weight, scores in components:
        values = scores[idx].astype(np.float64)
        span = values.max() - values.min()
        total += weight * ((values - values.min()) / span if span > 0 else 0.0)
    return {int(i): float(f) for i, f in zip(idx, total, strict=True)}


def convex_fusion(candidates: Sequence[int], dense: np.ndarray, keyword: np.ndarray,
                  alpha: float = tuning.DENSE_WEIGHT) -> dict[int, float]:
    """Fuse dense and BM25 scores: ``alpha * dense + (1 - alpha) * keyword``, each min-max normalized.

    Args:
        candidates: Positions to score (the union of both retrievers' top hits).
        dense: Dense score of every position.
        keyword: BM25 score of every position.
        alpha: Weight of the dense score.

    Returns:
        Fused score in [0, 1] by position.
    """
    return normalized_sum(candidates, [(alpha, dense), (1 - alpha, keyword)])
