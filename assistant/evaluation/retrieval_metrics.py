"""Deterministic retrieval metrics (no LLM): hit@k, evidence recall@k, MRR@k."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass


def normalize(text: str) -> str:
    """Whitespace-collapsed text, so evidence matches across line wrapping and indentation."""
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class RetrievalScore:
    """Scores of one question's ranked passages against its evidence."""

    hit: float
    recall: float
    reciprocal_rank: float


def score_retrieval(evidence: Sequence[str], passages: Sequence[str], k: int = 5) -> RetrievalScore:
    """Score the top-``k`` passages of one question.

    Args:
        evidence: Verbatim substrings of the notes that an answer needs.
        passages: Retrieved passage texts, best first.
        k: Cut-off.

    Returns:
        hit (any evidence in the top k), recall (share of evidence strings found in the top k)
        and reciprocal rank of the first passage holding any evidence (0 when none).
    """
    if not evidence:
        raise ValueError("retrieval metrics need at least one evidence string")
    top = [normalize(p) for p in passages[:k]]
    wanted = [normalize(e) for e in evidence]
    found = [any(e in p for p in top) for e in wanted]
    rank = next((r for r, p in enumerate(top, 1) if any(e in p for e in wanted)), None)
    return RetrievalScore(float(any(found)), sum(found) / len(found), 1.0 / rank if rank else 0.0)


def mean_scores(scores: Sequence[RetrievalScore]) -> dict[str, float]:
    """Averages over questions: ``hit``, ``recall``, ``mrr``."""
    n = len(scores) or 1
    return {
        "hit": sum(s.hit for s in scores) / n,
        "recall": sum(s.recall for s in scores) / n,
        "mrr": sum(s.reciprocal_rank for s in scores) / n,
    }
