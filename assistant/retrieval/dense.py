"""Dense search: each chunk's cosine similarity to a query (that of its best piece), and rankings by it."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from assistant import tuning
from assistant.store import LoadedIndex


def top_n(values: np.ndarray, n: int) -> np.ndarray:
    """Positions of the ``n`` largest values, largest first, ties by position.

    Exactly ``np.argsort(-values, kind="stable")[:n]``, without sorting every value: at 100x the notes
    (15.7k chunks) the full sorts took ~3 ms of a question.
    """
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    negated = -values
    if n >= len(values):
        return np.argsort(negated, kind="stable")
    kth = np.partition(negated, n - 1)[n - 1]
    candidates = np.flatnonzero(negated <= kth)  # everything as good as the n-th, ties included, in order
    return candidates[np.argsort(negated[candidates], kind="stable")][:n]


def similarity(index: LoadedIndex, vector: np.ndarray) -> np.ndarray:
    """Each chunk's cosine similarity to one query vector: that of its best piece."""
    best = np.full(len(index.chunks), -1.0, dtype=np.float32)
    if index.piece_count:
        np.maximum.at(best, index.piece_owner, index.piece_vectors @ vector)
    return best


def similarities(index: LoadedIndex, vectors: np.ndarray) -> list[np.ndarray]:
    """`similarity` of each query text (the question and its comparison sides).

    Scanning the piece vectors is bound by memory bandwidth once they are large (48k pieces, 75 MB
    at 100x the notes: 6.7 ms a scan here), so above LARGE_PIECES all texts share one pass (one
    matrix product: 13.1 ms for 3 texts against 3 x 6.7). Below it each text keeps its own
    product, as measured for the gold sets (a batched product may round the last bit otherwise).
    A second BLAS thread halved a scan but slowed the next question's embedding from 8.6 to 19 ms
    (its threads spin after the product: see `Retriever.search`).
    """
    if index.piece_count <= tuning.LARGE_PIECES or len(vectors) < 2:
        return [similarity(index, v) for v in vectors]
    sims = index.piece_vectors @ np.ascontiguousarray(np.asarray(vectors).T)
    out = []
    for column in range(sims.shape[1]):
        best = np.full(len(index.chunks), -1.0, dtype=np.float32)
        np.maximum.at(best, index.piece_owner, sims[:, column])
        out.append(best)
    return out


def rankings(index: LoadedIndex, vectors: np.ndarray, sims: list[np.ndarray], n: int, exact_limit: int,
             positions: Mapping[str, int]) -> list[list[int]]:
    """For each query vector, chunk positions ranked by their best-matching piece.

    The similarities already computed from every piece vector are ranked exactly (0.05 ms for
    the notes' ~500 pieces); in server mode above ``exact_limit`` pieces, the Chroma server's
    HNSW index answers (one call for all query texts; approximate).

    Args:
        index: The loaded index.
        vectors: The query vectors.
        sims: `similarities` of those vectors.
        n: How many positions per query.
        exact_limit: Most pieces scanned exactly.
        positions: Chunk id -> position (to map the server's piece ids back).
    """
    if not index.chunks or not index.piece_count:
        return [[] for _ in vectors]
    if index.dense is None or index.piece_count <= exact_limit:
        return [[int(i) for i in top_n(sim, n)] for sim in sims]
    # a piece id is "<chunk id>:<n>"; ids the live build lacks (a writer's, mid-update) are skipped
    result = index.dense.query(list(vectors), min(n * 4, index.piece_count))
    ranked_lists = []
    for piece_ids in result:
        ranked: list[int] = []
        for piece_id in piece_ids:
            pos = positions.get(piece_id.rsplit(":", 1)[0])
            if pos is not None and pos not in ranked:
                ranked.append(pos)
        ranked_lists.append(ranked[:n])
    return ranked_lists
