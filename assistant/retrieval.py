"""Hybrid retrieval: dense (Chroma) + BM25, fused by score, per side for comparison questions.

Fusion is a convex combination of min-max normalized scores (Bruch et al., "An Analysis of
Fusion Functions for Hybrid Retrieval", 2022). Reciprocal-rank fusion was tried first and lost
on both question sets: RRF throws away *how much* better a hit is, so a rare exact term that
BM25 ranks first ("DeepAR") drowned under chunks both retrievers found mediocre.

Why not langchain's EnsembleRetriever/BM25Retriever: they return Documents without scores (and
Ensemble fuses by weighted RRF), so neither the fused score nor the dense similarity (which later
decides "your notes don't cover this") would survive. BM25 is rank_bm25's BM25Okapi, the engine
BM25Retriever wraps.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assistant.embeddings import Embedder
from assistant.index import LoadedIndex
from assistant.query import comparison_sides, tokens
from assistant.schema import Chunk, RetrievedChunk

# Weight of the dense score in the fusion (1 - this for BM25). Measured MRR@5 on gold / held-out:
# RRF 0.860 / 0.878; convex 0.5: 0.874 / 0.919, 0.6: 0.878 / 0.911, 0.7: 0.875 / 0.898.
DENSE_WEIGHT = 0.6
# Two chunks whose vectors are this close say the same thing (the notes restate topics in
# summaries and later chapters); only the better-ranked one is returned.
NEAR_DUPLICATE = 0.92


def convex_fusion(candidates: Sequence[int], dense: np.ndarray, keyword: np.ndarray,
                  alpha: float = DENSE_WEIGHT) -> dict[int, float]:
    """Fuse two retrievers' scores over a candidate set.

    Each retriever's scores are min-max normalized over the candidates, then combined as
    ``alpha * dense + (1 - alpha) * keyword``.

    Args:
        candidates: Positions to score (the union of both retrievers' top hits).
        dense: Dense score of every position.
        keyword: BM25 score of every position.
        alpha: Weight of the dense score.

    Returns:
        Fused score in [0, 1] by position.
    """
    if not candidates:
        return {}
    idx = np.asarray(candidates)

    def normalized(scores: np.ndarray) -> np.ndarray:
        values = scores[idx].astype(np.float64)
        span = values.max() - values.min()
        return (values - values.min()) / span if span > 0 else np.zeros_like(values)

    fused = alpha * normalized(dense) + (1 - alpha) * normalized(keyword)
    return {int(i): float(f) for i, f in zip(idx, fused, strict=True)}


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


class Retriever:
    """Answers `search(question, k)` over one loaded index."""

    def __init__(self, index: LoadedIndex, embedder: Embedder, candidates: int = 30) -> None:
        """Build the BM25 model over the chunks' heading path + text (kept in memory)."""
        from rank_bm25 import BM25Okapi

        self.index = index
        self.embedder = embedder
        self.candidates = candidates
        self.chunks: list[Chunk] = index.chunks
        self.vectors = index.vectors
        self._pos = {c.id: i for i, c in enumerate(self.chunks)}
        corpus = [tokens(c.search_text()) or ["_"] for c in self.chunks]
        self._bm25 = BM25Okapi(corpus) if corpus else None

    def _dense(self, vector: np.ndarray, n: int) -> list[int]:
        """Chunks ranked by their best-matching piece."""
        if not self.chunks or not self.index.piece_count:
            return []
        # ids only: asking Chroma for metadatas too makes the query 4x slower (7 ms vs 2 ms here);
        # a piece id is "<chunk id>:<n>"
        result = self.index.pieces.query(query_embeddings=[vector], n_results=min(n * 4, self.index.piece_count),
                                         include=[])
        ranked: list[int] = []
        for piece_id in result["ids"][0]:
            pos = self._pos.get(piece_id.rsplit(":", 1)[0])
            if pos is not None and pos not in ranked:
                ranked.append(pos)
        return ranked[:n]

    def _similarity(self, vector: np.ndarray) -> np.ndarray:
        """Each chunk's cosine similarity to the question: that of its best piece."""
        best = np.full(len(self.chunks), -1.0, dtype=np.float32)
        if self.index.piece_count:
            np.maximum.at(best, self.index.piece_owner, self.index.piece_vectors @ vector)
        return best

    def _keyword_scores(self, text: str) -> np.ndarray:
        words = tokens(text)
        if self._bm25 is None or not words:
            return np.zeros(len(self.chunks))
        return self._bm25.get_scores(words)

    def _ranked(
        self, text: str, vector: np.ndarray, dense: np.ndarray, mode: str,
    ) -> tuple[list[int], dict[int, float]]:
        """Positions best first, with their scores, for one query text (``dense``: its similarities)."""
        keyword = self._keyword_scores(text) if mode != "dense" else None
        if mode == "dense":
            order = self._dense(vector, self.candidates)
            return order, {i: float(dense[i]) for i in order}
        top_keyword = [int(i) for i in np.argsort(-keyword, kind="stable")[: self.candidates] if keyword[i] > 0]
        if mode == "bm25":
            return top_keyword, {i: float(keyword[i]) for i in top_keyword}
        candidates = list(dict.fromkeys(self._dense(vector, self.candidates) + top_keyword))
        fused = convex_fusion(candidates, dense, keyword)
        return sorted(fused, key=lambda i: -fused[i]), fused

    def search(
        self, question: str, k: int = 5, mode: str = "hybrid", expand: bool = True, dedup: bool = True,
    ) -> list[RetrievedChunk]:
        """The ``k`` most relevant chunks, best first.

        Args:
            question: The student's question.
            k: How many chunks.
            mode: ``hybrid`` (dense + BM25), ``dense`` or ``bm25``.
            expand: Also search each side of a comparison ("X vs Y", "A, B or C") and interleave
                the rankings, so every side reaches the top.
            dedup: Drop chunks nearly identical to a better-ranked one.

        Returns:
            Chunks; ``score`` is the chunk's fused score in the first ranking that holds it (the
            whole question's when it is there), ``similarity`` its cosine similarity to the whole
            question (that of its best piece).
        """
        if mode not in ("hybrid", "dense", "bm25"):
            raise ValueError(f"unknown retrieval mode {mode!r}; available: hybrid, dense, bm25")
        if not self.chunks:
            return []
        sides = comparison_sides(question) if expand else None
        texts = [question, *(sides or ())]
        vectors = self.embedder.embed(texts)
        similarities = [self._similarity(v) for v in vectors]
        rankings, scores = [], {}
        for text, vector, dense in zip(texts, vectors, similarities, strict=True):
            order, fused = self._ranked(text, vector, dense, mode)
            rankings.append(order)
            for i in order:
                scores.setdefault(i, fused[i])
        merged = interleave(rankings) if sides else rankings[0]
        similarity = similarities[0]
        picked: list[int] = []
        for i in merged:
            if dedup and picked and float(np.max(self.vectors[picked] @ self.vectors[i])) >= NEAR_DUPLICATE:
                continue
            picked.append(i)
            if len(picked) == k:
                break
        return [self._result(i, scores[i], float(similarity[i])) for i in picked]

    def _result(self, i: int, score: float, similarity: float) -> RetrievedChunk:
        c = self.chunks[i]
        return RetrievedChunk(c.id, c.text, c.source, list(c.heading_path), c.start_line, c.end_line,
                              round(score, 6), round(similarity, 4))
