"""Hybrid retrieval: dense (Chroma) + BM25 fused by reciprocal rank, per side for comparisons.

Why not langchain's EnsembleRetriever/BM25Retriever: they return Documents without scores, so
the fused score and the dense similarity (which later decides "your notes don't cover this")
would be lost; the fusion itself is a few lines (Cormack et al. 2009, k=60). BM25 is rank_bm25's
BM25Okapi, the same engine BM25Retriever wraps.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assistant.embeddings import Embedder
from assistant.index import LoadedIndex
from assistant.query import comparison_sides, tokens
from assistant.schema import Chunk, RetrievedChunk

RRF_K = 60
# Two chunks whose vectors are this close say the same thing (the notes restate topics in
# summaries and later chapters); only the better-ranked one is returned.
NEAR_DUPLICATE = 0.92


def rrf(rankings: Sequence[Sequence[int]], weights: Sequence[float] | None = None, k: int = RRF_K) -> dict[int, float]:
    """Reciprocal-rank fusion of ranked lists of item positions."""
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings), strict=True):
        for rank, item in enumerate(ranking):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank + 1)
    return scores


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

    def _keyword(self, text: str, n: int) -> list[int]:
        words = tokens(text)
        if self._bm25 is None or not words:
            return []
        scores = self._bm25.get_scores(words)
        top = np.argsort(-scores, kind="stable")[:n]
        return [int(i) for i in top if scores[i] > 0]

    def _ranked(self, text: str, vector: np.ndarray, mode: str) -> tuple[list[int], dict[int, float]]:
        lists = []
        if mode in ("hybrid", "dense"):
            lists.append(self._dense(vector, self.candidates))
        if mode in ("hybrid", "bm25"):
            lists.append(self._keyword(text, self.candidates))
        fused = rrf(lists)
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
        rankings, scores = [], {}
        for text, vector in zip(texts, vectors, strict=True):
            order, fused = self._ranked(text, vector, mode)
            rankings.append(order)
            for i in order:
                scores.setdefault(i, fused[i])
        merged = interleave(rankings) if sides else rankings[0]
        similarity = self._similarity(vectors[0])
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
