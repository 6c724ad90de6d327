"""Keyword search: BM25 scores of a query against every chunk, from the index's stored counts.

The numbers are rank_bm25's BM25Okapi (the engine langchain's BM25Retriever wraps), computed from
counts stored at ingest (`store.keyword.KeywordIndex`) instead of re-tokenizing the notes.
"""

from __future__ import annotations

import numpy as np

from assistant.store.keyword import KeywordIndex
from assistant.text.words import tokens

from .dense import top_n


def scores(keywords: KeywordIndex | None, text: str, size: int) -> np.ndarray:
    """BM25 score of every chunk for a query text (zeros without keywords or query words)."""
    words = tokens(text)
    if keywords is None or not words:
        return np.zeros(size)
    return keywords.scores(words)


def top(keyword: np.ndarray, n: int) -> list[int]:
    """The ``n`` best-scoring positions that match at all, best first."""
    return [int(i) for i in top_n(keyword, n) if keyword[i] > 0]
