"""The retriever: composes the steps beside it into `search(question, k)` over one loaded index.

Each candidate gets three scores: its best piece's cosine similarity (`dense`), BM25 (`keyword`)
and late-interaction MaxSim over the model's contextual token vectors (`late`), fused by weighted
min-max normalized sum (`fusion`), with one pseudo-relevance feedback pass (`feedback`); every
side of a comparison is searched too (`comparison`); near-duplicates are dropped and neighbouring
chunks of one section stitched into one passage (`passages`).

Why not langchain's EnsembleRetriever/BM25Retriever: they return Documents without scores (and
Ensemble fuses by weighted RRF), so neither the fused score nor the dense similarity (which later
decides "your notes don't cover this") would survive.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from threadpoolctl import ThreadpoolController

from assistant import tuning
from assistant.embedding.encoders import Embedder, content_vectors
from assistant.schema import Chunk, RetrievedChunk
from assistant.store import LoadedIndex
from assistant.text.sentences import code_intent

from . import dense, keyword
from .commands import commands_first, section_next
from .comparison import interleave, query_texts
from .feedback import KeyTerms, feedback_terms
from .fusion import convex_fusion, normalized_sum
from .late import maxsim
from .lines import ChunkLines
from .passages import Passages

MODES = ("hybrid", "dense", "bm25")


class Retriever:
    """Answers `search(question, k)` over one loaded index."""

    def __init__(self, index: LoadedIndex, embedder: Embedder, candidates: int = tuning.CANDIDATES,
                 exact_limit: int = tuning.EXACT_SCAN_LIMIT, feedback: bool = True, tokenizer=None,
                 piece_tokens: int | None = None) -> None:
        """Wrap a loaded index (its BM25 statistics come with it).

        Args:
            index: The loaded index.
            embedder: Embeds questions (the model the index was built with).
            candidates: How deep each retriever's list goes before fusion.
            exact_limit: Up to this many pieces, dense search scans all vectors exactly; above
                it, in server mode, the Chroma server's approximate (HNSW) index is queried.
            feedback: Run the pseudo-relevance feedback pass.
            tokenizer: The embedding model's `WordPieceTokenizer`, to split a chunk's stored token
                vectors by line when the index did not record their lines. Without either,
                feedback uses the passage's tf x idf words.
            piece_tokens: The piece size the index was built with (its chunker settings).
        """
        self.index = index
        self.feedback = feedback
        self.embedder = embedder
        self.candidates = candidates
        self.exact_limit = exact_limit
        self.chunks: list[Chunk] = index.chunks
        self.vectors = index.vectors
        self._blas = ThreadpoolController()
        self._keywords = index.keywords if self.chunks else None
        self.lines = ChunkLines(index, tokenizer, piece_tokens)
        self.passages = Passages(index)
        self.key_terms = KeyTerms(index, self.lines)
        self._following = section_next(self.chunks)

    def parts(self, hit: RetrievedChunk) -> list[int]:
        """Positions of the chunks a returned passage is made of (see `Passages.parts`)."""
        return self.passages.parts(hit)

    def line_rows(self, position: int) -> dict[int, np.ndarray] | None:
        """A chunk's stored token vectors split by file line (see `ChunkLines.line_rows`)."""
        return self.lines.line_rows(position)

    def _fuse(self, top_dense: list[int], dense_scores: np.ndarray, keyword_scores: np.ndarray,
              query_tokens: np.ndarray | None, late: np.ndarray) -> dict[int, float]:
        """Fused scores of the union of the dense and keyword top lists.

        ``late`` holds late-interaction scores already computed for this query (NaN where not
        yet), so the feedback pass only scores the candidates it adds.
        """
        candidates = list(dict.fromkeys(top_dense + keyword.top(keyword_scores, self.candidates)))
        if query_tokens is None or not len(query_tokens):
            return convex_fusion(candidates, dense_scores, keyword_scores)
        todo = [i for i in candidates if np.isnan(late[i])]
        late[todo] = maxsim(query_tokens, self.index.token_matrix, self.index.token_offsets, todo)
        return normalized_sum(candidates,
                              list(zip(tuning.FUSION_WEIGHTS, (dense_scores, keyword_scores, late), strict=True)))

    def _ranked(
        self, text: str, top_dense: list[int], dense_scores: np.ndarray, query_tokens: np.ndarray | None, mode: str,
        feedback: bool = True,
    ) -> tuple[list[int], dict[int, float]]:
        """Positions best first, with their scores, for one query text.

        ``top_dense`` is its dense ranking, ``dense_scores`` its similarity to every chunk;
        ``feedback`` allows the pseudo-relevance feedback pass.
        """
        if mode == "dense":
            return top_dense, {i: float(dense_scores[i]) for i in top_dense}
        keyword_scores = keyword.scores(self._keywords, text, len(self.chunks))
        if mode == "bm25":
            top_keyword = keyword.top(keyword_scores, self.candidates)
            return top_keyword, {i: float(keyword_scores[i]) for i in top_keyword}
        late = np.full(len(self.chunks), np.nan)
        fused = self._fuse(top_dense, dense_scores, keyword_scores, query_tokens, late)
        if fused and feedback and self.feedback:
            best = max(fused, key=lambda i: fused[i])
            extra = self.key_terms(text, best, query_tokens) if query_tokens is not None else None
            weight = tuning.KEY_TERM_WEIGHT
            if extra is None:
                extra, weight = feedback_terms(self.index, text, best), tuning.FEEDBACK_WEIGHT
            if extra:
                keyword_scores = keyword_scores + weight * self._keywords.scores(extra)
                fused = self._fuse(top_dense, dense_scores, keyword_scores, query_tokens, late)
        return sorted(fused, key=lambda i: -fused[i]), fused

    def search(
        self, question: str, k: int = 5, mode: str = "hybrid", expand: bool = True, dedup: bool = True,
        stitch: bool = True,
    ) -> list[RetrievedChunk]:
        """The ``k`` most relevant passages, best first.

        A passage is a chunk, or neighbouring chunks of one section joined when they rank among
        the top results together (``stitch``); the chunks returned are the ranking's best ones.

        Args:
            question: The student's question.
            k: How many passages.
            mode: ``hybrid`` (dense + BM25), ``dense`` or ``bm25``.
            expand: Also search each side of a comparison ("X vs Y", "A, B or C") and interleave
                the rankings, so every side reaches the top.
            dedup: Drop chunks nearly identical to a better-ranked one.
            stitch: Return neighbouring chunks of one section as one passage (`tuning.STITCH_VECTORS`).

        Returns:
            Passages; ``score`` is the fused score of the passage's best-ranked chunk in the first
            ranking that holds it (the whole question's when it is there), ``similarity`` its
            cosine similarity to the whole question (that of its best piece).
        """
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r}; available: {', '.join(MODES)}")
        if not self.chunks:
            return []
        # numpy's BLAS threads spin after each product and starve onnxruntime's own threads on a
        # small machine (measured: query embedding 11 ms -> 23 ms); these products are small anyway
        with self._blas.limit(limits=1, user_api="blas"):
            return self._search(question, k, mode, expand, dedup, stitch)

    def _search(self, question: str, k: int, mode: str, expand: bool, dedup: bool,
                stitch: bool) -> list[RetrievedChunk]:
        texts, sides = query_texts(question, expand)
        if mode == "hybrid":
            vectors, states = self.embedder.embed_tokens(texts)
            query_tokens = content_vectors(states)
        else:
            vectors, query_tokens = self.embedder.embed(texts), [None] * len(texts)
        similarities = dense.similarities(self.index, vectors)
        top_dense = (dense.rankings(self.index, vectors, similarities, self.candidates, self.exact_limit,
                                    self.passages.positions)
                     if mode != "bm25" else [[] for _ in texts])
        rankings, scores = [], {}
        for n, (text, top, sims, qt) in enumerate(zip(texts, top_dense, similarities, query_tokens, strict=True)):
            # feedback for the whole question only: a comparison side ("data drift") is already
            # in the notes' words, and feeding its passages back measured no gain at twice the cost
            order, fused = self._ranked(text, top, sims, qt, mode, feedback=n == 0)
            rankings.append(order)
            for i in order:
                scores.setdefault(i, fused[i])
        merged = interleave(rankings) if sides else rankings[0]
        if code_intent(question):
            merged = commands_first(merged, self.chunks, self._following, k)
        return self._passages(merged, scores, similarities[0], k, dedup, stitch)

    def _passages(self, merged: Sequence[int], scores: dict[int, float], similarity: np.ndarray, k: int,
                  dedup: bool, stitch: bool) -> list[RetrievedChunk]:
        """The first ``k`` passages of a merged ranking: near-duplicates dropped, neighbours stitched."""
        groups: list[list[int]] = []  # picked chunks, neighbours of one section stitched, file order
        for i in merged:
            if dedup and self.passages.near_duplicate(i, groups):
                continue
            if len(groups) == k:
                break
            if stitch and self.passages.stitch(groups, i):
                continue
            groups.append([i])
        rank = {i: n for n, i in enumerate(merged)}
        return [self.passages.passage(g, scores[min(g, key=rank.__getitem__)], similarity) for g in groups]
