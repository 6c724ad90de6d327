"""Hybrid retrieval: dense (Chroma) + BM25 + late interaction, fused by score, per comparison side.

Each candidate gets three scores: its best piece's cosine similarity, BM25, and a late-interaction
MaxSim over the model's contextual token vectors (each question word finds its best match in the
chunk, which catches multi-part questions a single vector blurs). Fusion is a weighted sum of
min-max normalized scores (Bruch et al., "An Analysis of
Fusion Functions for Hybrid Retrieval", 2022). Reciprocal-rank fusion was tried first and lost
on both question sets: RRF throws away *how much* better a hit is, so a rare exact term that
BM25 ranks first ("DeepAR") drowned under chunks both retrievers found mediocre.

Why not langchain's EnsembleRetriever/BM25Retriever: they return Documents without scores (and
Ensemble fuses by weighted RRF), so neither the fused score nor the dense similarity (which later
decides "your notes don't cover this") would survive. BM25 gives the numbers of rank_bm25's
BM25Okapi, the engine BM25Retriever wraps, from counts stored at ingest (`keyword.KeywordIndex`).

Neighbouring chunks of one long section that rank among the top results together come back as
one passage (`STITCH_VECTORS`), so the k places go to k different passages.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import cached_property

import numpy as np
from threadpoolctl import ThreadpoolController

from assistant.embedding.encoders import Embedder, content_vectors
from assistant.embedding.lines import rows_by_line, token_line_numbers
from assistant.ingest.chunking import chunk_id, piece_texts
from assistant.schema import Chunk, RetrievedChunk
from assistant.store import LoadedIndex
from assistant.text.question import comparison_sides
from assistant.text.sentences import GENERIC_LABELS, outside_code, passage_units
from assistant.text.words import tokens

# Fusion weights: dense (best piece), BM25, late interaction (token MaxSim). Measured recall@5 /
# MRR@5 on gold and held-out: RRF of dense+BM25 0.900/0.860 and 0.984/0.878; convex 0.6/0.4/0
# 0.892/0.878 and 1.000/0.911; 0.4/0.4/0.2 0.912/0.892 and 1.000/0.930.
WEIGHTS = (0.4, 0.4, 0.2)
DENSE_WEIGHT = 0.6  # dense vs BM25 when a question has no content tokens for late interaction
# Dense search scans every piece vector exactly; in server mode, above this many pieces, the
# Chroma server's HNSW index gives the dense candidates instead. The scan also yields every chunk's
# similarity, which fusion needs anyway, so the HNSW query only adds time until a scan itself is
# slow: at 100x the notes (52k pieces) a scan takes ~7 ms, while the server's query added ~5 ms a
# question (two HTTP round trips) and 0.5 s to a fresh process (importing chromadb).
EXACT_SCAN_LIMIT = 200_000
LARGE_PIECES = 20_000  # above this many pieces, all query texts share one dense scan (see `_similarities`)
# Two chunks sharing this much of their vocabulary (Jaccard of content words) say the same thing:
# a section pasted twice, or the same notes in two files; only the better-ranked one is returned.
# Text, not vectors: adjacent chunks of one section have chunk vectors at cosine 0.92-0.94 (their
# pieces share the heading) while sharing only 15-35% of their words. The MLA notes restate topics
# in several chapters in different words (at most 0.48 here), so nothing in them is dropped.
NEAR_DUPLICATE = 0.6
# Pseudo-relevance feedback (RM3-style query expansion, Abdul-Jaleel et al., TREC 2004): a student
# asks in their own words ("model is bad on training and validation data"); the best passage's line
# that matches them best names the notes' own term for it ("**Underfitting**"), which then finds
# the other passages filed under that term ("Underfitting: increase model complexity ..."). The
# feedback words are the emphasised (bold) terms of that line (students mark their key terms), at
# KEY_TERM_WEIGHT in the keyword query. Notes without emphasis get the passage's most telling words
# (tf x idf) at FEEDBACK_WEIGHT instead. Measured recall@5 / MRR@5 (hit@5), gold and held-out:
# no feedback 0.902/0.905 (0.982) and 1.000/0.930; the passage's 5 tf x idf words at 0.5
# 0.925/0.901 (0.973) and 1.000/0.927; the best line's bold terms at 1.0 0.940/0.904 (0.982) and
# 1.000/0.930 (at 0.5: 0.932, 0.8: 0.937, 1.5: 0.938, 2.0: 0.929; the best line's plain words
# 0.923; bold terms and tf x idf words together 0.923-0.942 with lower MRR).
FEEDBACK_WEIGHT = 0.5
KEY_TERM_WEIGHT = 1.0
_EMPHASIS = re.compile(r"\*\*([^*\n]{1,80}?)\*\*")  # bold, as the notes' lead-ins (`sentences`) are
FEEDBACK_TERMS = 5
# How deep the dense and keyword lists go before fusion (late interaction scores their union).
# Gold recall@5 / MRR@5 and warm p50 in one run: 30 deep 0.925 / 0.9012, 18.6 ms; 25: 0.925 /
# 0.9008, 16.9 ms; 20: 0.925 / 0.9003, 15.3 ms; 15: 0.920 / 0.896. Held-out: 1.000 / 0.927 for all.
# Kept at 30: at 25 or 20 the min-max normalization over a smaller pool reorders the top 5 of a
# near-miss question ("max concurrency for serverless inference") and the abstention gate,
# refitted, then abstains on 0.846 of gold's unanswerable questions instead of 0.923.
CANDIDATES = 30
# A long section is cut into several chunks so each fits what the model reads (256 word pieces);
# when a question's top results hold neighbouring chunks of one section, they come back as one
# passage (the section's lines, in order), so the k places go to k different passages, as
# LlamaIndex's auto-merging retriever returns a parent for its retrieved children, though only
# retrieved chunks are joined: the chunks returned are exactly the ranking's best ones, down to
# the one that starts the k-th passage. A stitched passage holds at most STITCH_VECTORS stored
# token vectors (content word pieces: about 1,500 word pieces of text with its markup and
# stopwords). Measured recall@5 / MRR@5 (hit@5), gold and held-out: chunks alone 0.940 / 0.904
# (0.982) and 1.000 / 0.930; stitched 0.954 / 0.906 (0.991) and 1.000 / 0.935; the top 5 grew from
# 873 to 963 word pieces on gold, while plain chunks at k = 6 (1,042) reach only 0.945. Caps of
# 800 and 2,000 gave the same numbers; also joining neighbours ranked after the k-th passage's
# first chunk gave the same at 992 word pieces; filling the gap between two retrieved chunks of a
# section with the unretrieved ones between them gave 0.961 / 0.919, its top 5 holding 846 stored
# token vectors against plain chunks' 562 (~1,300 word pieces, at ~1.5 word pieces a vector).
STITCH_VECTORS = 1024
LINE_ROWS_CACHE = 256  # chunks whose per-line token vectors are kept split (`Retriever.line_rows`)


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


def jaccard(a: set[str], b: set[str]) -> float:
    """Share of distinct words two texts have in common."""
    return len(a & b) / len(a | b) if a or b else 1.0


def convex_fusion(candidates: Sequence[int], dense: np.ndarray, keyword: np.ndarray,
                  alpha: float = DENSE_WEIGHT) -> dict[int, float]:
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


def maxsim(query: np.ndarray, matrix: np.ndarray, offsets: np.ndarray, candidates: Sequence[int]) -> np.ndarray:
    """Late-interaction scores (ColBERT's MaxSim) of candidate chunks.

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

    def __init__(self, index: LoadedIndex, embedder: Embedder, candidates: int = CANDIDATES,
                 exact_limit: int = EXACT_SCAN_LIMIT, feedback: bool = True, tokenizer=None,
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
                vectors by line (`line_rows`) when the index did not record their lines (one read
                from Chroma). Without either, feedback uses the passage's tf x idf words.
            piece_tokens: The piece size the index was built with (its chunker settings).
        """
        self.index = index
        self.feedback = feedback
        self.embedder = embedder
        self.candidates = candidates
        self.exact_limit = exact_limit
        self.chunks: list[Chunk] = index.chunks
        self.vectors = index.vectors
        self._pos = {c.id: i for i, c in enumerate(self.chunks)}
        self._blas = ThreadpoolController()
        self._keywords = index.keywords if self.chunks else None
        self.tokenizer = tokenizer
        self.piece_tokens = piece_tokens
        self._line_cache: dict[int, np.ndarray | None] = {}
        self._text_cache: dict[int, tuple | None] = {}
        self._rows_cache: OrderedDict[int, dict[int, np.ndarray] | None] = OrderedDict()
        self._rows_lock = threading.Lock()
        self._word_sets: dict[int, set[int]] = {}
        self._next, self._starts = self._neighbours()

    def _neighbours(self) -> tuple[dict[int, int], dict[tuple[str, int], int]]:
        """Chunk links for stitching: next chunk in one section, and the chunk starting at a line.

        The first maps a chunk to the next chunk of its file when both lie in one section (same
        heading path); the second maps (source, line) to the chunk starting there. Pieces of one
        over-long line (chunks sharing that line) are left out of both: joined to a neighbour they
        would claim the whole line while holding a part of it.
        """
        order = sorted(range(len(self.chunks)),
                       key=lambda i: (self.chunks[i].source, self.chunks[i].start_line, self.chunks[i].end_line))
        shared: set[int] = set()
        for a, b in zip(order, order[1:], strict=False):
            if self.chunks[a].source == self.chunks[b].source and self.chunks[b].start_line <= self.chunks[a].end_line:
                shared.update((a, b))
        follows: dict[int, int] = {}
        for a, b in zip(order, order[1:], strict=False):
            first, second = self.chunks[a], self.chunks[b]
            if (a not in shared and b not in shared and first.source == second.source
                    and first.heading_path == second.heading_path):
                follows[a] = b
        starts = {(c.source, c.start_line): i for i, c in enumerate(self.chunks) if i not in shared}
        return follows, starts

    def parts(self, hit: RetrievedChunk) -> list[int]:
        """Positions of the chunks a returned passage is made of (one, or a stitched run), in file order.

        Empty for a passage this index did not return (its text is not that of these chunks).
        """
        pos = self._pos.get(hit.id)
        if pos is not None:
            return [pos]
        # follow the chunk starting where the passage starts through its section's next chunks
        pos = self._starts.get((hit.source, hit.start_line))
        found: list[int] = []
        while pos is not None and self.chunks[pos].end_line <= hit.end_line:
            found.append(pos)
            pos = self._next.get(pos)
        if not found or self.chunks[found[-1]].end_line != hit.end_line:
            return []
        return found if self._joined_text(found) == hit.text else []

    @cached_property
    def vocabulary(self):
        """What the notes contain, for the coverage gate (built on first use, once per index)."""
        from assistant.answer.gate import Vocabulary

        texts = [c.search_text() for c in self.chunks]
        return Vocabulary.from_keywords(self._keywords, texts) if self._keywords is not None else Vocabulary(texts)

    def _dense(self, vectors: np.ndarray, similarities: list[np.ndarray], n: int) -> list[list[int]]:
        """For each query vector, chunks ranked by their best-matching piece.

        The similarities already computed from every piece vector are ranked exactly (0.05 ms for
        the notes' ~500 pieces); in server mode above ``exact_limit`` pieces, the Chroma server's
        HNSW index answers (one call for all query texts; approximate).
        """
        if not self.chunks or not self.index.piece_count:
            return [[] for _ in vectors]
        if self.index.dense is None or self.index.piece_count <= self.exact_limit:
            return [[int(i) for i in top_n(sim, n)] for sim in similarities]
        # a piece id is "<chunk id>:<n>"; ids the live build lacks (a writer's, mid-update) are skipped
        result = self.index.dense.query(list(vectors), min(n * 4, self.index.piece_count))
        rankings = []
        for piece_ids in result:
            ranked: list[int] = []
            for piece_id in piece_ids:
                pos = self._pos.get(piece_id.rsplit(":", 1)[0])
                if pos is not None and pos not in ranked:
                    ranked.append(pos)
            rankings.append(ranked[:n])
        return rankings

    def _similarity(self, vector: np.ndarray) -> np.ndarray:
        """Each chunk's cosine similarity to the question: that of its best piece."""
        best = np.full(len(self.chunks), -1.0, dtype=np.float32)
        if self.index.piece_count:
            np.maximum.at(best, self.index.piece_owner, self.index.piece_vectors @ vector)
        return best

    def _similarities(self, vectors: np.ndarray) -> list[np.ndarray]:
        """`_similarity` of each query text (the question and its comparison sides).

        Scanning the piece vectors is bound by memory bandwidth once they are large (48k pieces, 75 MB
        at 100x the notes: 6.7 ms a scan here), so above LARGE_PIECES all texts share one pass (one
        matrix product: 13.1 ms for 3 texts against 3 x 6.7). Below it each text keeps its own
        product, as measured for the gold sets (a batched product may round the last bit otherwise).
        A second BLAS thread halved a scan but slowed the next question's embedding from 8.6 to 19 ms
        (its threads spin after the product: see `search`).
        """
        if self.index.piece_count <= LARGE_PIECES or len(vectors) < 2:
            return [self._similarity(v) for v in vectors]
        sims = self.index.piece_vectors @ np.ascontiguousarray(np.asarray(vectors).T)
        out = []
        for column in range(sims.shape[1]):
            best = np.full(len(self.chunks), -1.0, dtype=np.float32)
            np.maximum.at(best, self.index.piece_owner, sims[:, column])
            out.append(best)
        return out

    def _keyword_scores(self, text: str) -> np.ndarray:
        words = tokens(text)
        if self._keywords is None or not words:
            return np.zeros(len(self.chunks))
        return self._keywords.scores(words)

    def words(self, position: int) -> set[int]:
        """A chunk's distinct keyword tokens (of its text, not its headings), as word ids: near-duplicate checks.

        Stored at ingest: tokenizing each candidate's text here cost ~8 ms a question at 100x the notes.
        """
        found = self._word_sets.get(position)
        if found is None:
            indptr, ids = self.index.text_words
            found = self._word_sets[position] = set(ids[indptr[position] : indptr[position + 1]].tolist())
        return found

    def feedback_terms(self, text: str, position: int, n: int = FEEDBACK_TERMS) -> list[str]:
        """The ``n`` words of a passage that best say what it is about and the query lacks (tf x idf)."""
        if self._keywords is None:
            return []
        asked = set(tokens(text))
        counts = self._keywords.doc_terms(position)  # word -> count in the passage
        scored = [(count * self._keywords.idf_of(w), w) for w, count in counts.items()
                  if w not in asked and len(w) > 2 and not w.isdigit()]
        return [w for score, w in sorted(scored, key=lambda x: (-x[0], x[1]))[:n] if score > 0]

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
                chunk = self.chunks[position]
                lines = token_line_numbers(chunk, piece_texts(chunk, self.tokenizer, self.piece_tokens), self.tokenizer)
                lines = lines if lines is not None and len(lines) == end - start else None
            self._line_cache[position] = lines
        return self._line_cache[position]

    def line_rows(self, position: int) -> dict[int, np.ndarray] | None:
        """A chunk's stored token vectors split by file line (see `embedding.lines`); None as `row_lines`.

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
            while len(self._rows_cache) > LINE_ROWS_CACHE:
                self._rows_cache.popitem(last=False)
        return rows

    def _text_lines(self, position: int):
        """A chunk's text lines for key terms, cached: units by line, and its rows grouped by line.

        None when the chunk marks no terms in bold or its rows' lines are unknown.
        """
        if position not in self._text_cache:
            chunk = self.chunks[position]
            layout = None
            lines = self.row_lines(position) if _EMPHASIS.search(outside_code(chunk.text)) else None
            if lines is not None:
                units = {u.line: u for u in passage_units(chunk, 0)}
                rows = np.flatnonzero(np.isin(lines, list(units)))
                rows = rows[np.argsort(lines[rows], kind="stable")]  # grouped by line
                if len(rows):
                    firsts = np.flatnonzero(np.r_[True, lines[rows][1:] != lines[rows][:-1]])
                    layout = (units, rows + self.index.token_offsets[position], firsts, lines[rows][firsts])
            self._text_cache[position] = layout
        return self._text_cache[position]

    def key_terms(self, text: str, position: int, query_tokens: np.ndarray,
                  n: int = FEEDBACK_TERMS) -> list[str] | None:
        """The emphasised terms of the passage's line that best matches the query, new to the query.

        The best line is the one whose token vectors the query's tokens match best (late
        interaction), among the passage's text lines (`sentences.passage_units`: no code, no
        headings). Returns None when the passage marks no terms in bold (or its lines are
        unknown), so the caller can fall back to `feedback_terms`; [] when the best line has none.
        """
        layout = self._text_lines(position) if len(query_tokens) else None
        if layout is None:
            return None
        units, rows, firsts, line_numbers = layout
        # each query token's best match within each line, averaged over the query (MaxSim per line)
        per_line = np.maximum.reduceat(query_tokens @ self.index.token_matrix[rows].T, firsts, axis=1).mean(axis=0)
        unit = units[int(line_numbers[int(np.argmax(per_line))])]
        spans = [span.strip(" :") for span in _EMPHASIS.findall(outside_code(unit.raw))]
        # a generic lead-in ("Example:", "Use Cases:") names a kind of line, not a concept: the
        # line's topic is then the lead-in it sits under ("Concept Drift:" above "Example:")
        if unit.label.lower() in GENERIC_LABELS and unit.parent:
            spans.append(unit.parent)
        asked = set(tokens(text))
        words = dict.fromkeys(w for span in spans if span.lower() not in GENERIC_LABELS for w in tokens(span)
                              if w not in asked and len(w) > 2 and not w.isdigit())
        return sorted(words, key=lambda w: (-self._keywords.idf_of(w), w))[:n]

    def _top_keyword(self, keyword: np.ndarray) -> list[int]:
        return [int(i) for i in top_n(keyword, self.candidates) if keyword[i] > 0]

    def _fuse(self, top_dense: list[int], dense: np.ndarray, keyword: np.ndarray,
              query_tokens: np.ndarray | None, late: np.ndarray) -> dict[int, float]:
        """Fused scores of the union of the dense and keyword top lists.

        ``late`` holds late-interaction scores already computed for this query (NaN where not
        yet), so the feedback pass only scores the candidates it adds.
        """
        candidates = list(dict.fromkeys(top_dense + self._top_keyword(keyword)))
        if query_tokens is None or not len(query_tokens):
            return convex_fusion(candidates, dense, keyword)
        todo = [i for i in candidates if np.isnan(late[i])]
        late[todo] = maxsim(query_tokens, self.index.token_matrix, self.index.token_offsets, todo)
        return normalized_sum(candidates, list(zip(WEIGHTS, (dense, keyword, late), strict=True)))

    def _ranked(
        self, text: str, top_dense: list[int], dense: np.ndarray, query_tokens: np.ndarray | None, mode: str,
        feedback: bool = True,
    ) -> tuple[list[int], dict[int, float]]:
        """Positions best first, with their scores, for one query text.

        ``top_dense`` is its dense ranking, ``dense`` its similarity to every chunk; ``feedback``
        allows the pseudo-relevance feedback pass.
        """
        if mode == "dense":
            return top_dense, {i: float(dense[i]) for i in top_dense}
        keyword = self._keyword_scores(text)
        if mode == "bm25":
            top_keyword = self._top_keyword(keyword)
            return top_keyword, {i: float(keyword[i]) for i in top_keyword}
        late = np.full(len(self.chunks), np.nan)
        fused = self._fuse(top_dense, dense, keyword, query_tokens, late)
        if fused and feedback and self.feedback:
            best = max(fused, key=lambda i: fused[i])
            extra = self.key_terms(text, best, query_tokens) if query_tokens is not None else None
            weight = KEY_TERM_WEIGHT
            if extra is None:
                extra, weight = self.feedback_terms(text, best), FEEDBACK_WEIGHT
            if extra:
                keyword = keyword + weight * self._keywords.scores(extra)
                fused = self._fuse(top_dense, dense, keyword, query_tokens, late)
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
            stitch: Return neighbouring chunks of one section as one passage (`STITCH_VECTORS`).

        Returns:
            Passages; ``score`` is the fused score of the passage's best-ranked chunk in the first
            ranking that holds it (the whole question's when it is there), ``similarity`` its
            cosine similarity to the whole question (that of its best piece).
        """
        if mode not in ("hybrid", "dense", "bm25"):
            raise ValueError(f"unknown retrieval mode {mode!r}; available: hybrid, dense, bm25")
        if not self.chunks:
            return []
        # numpy's BLAS threads spin after each product and starve onnxruntime's own threads on a
        # small machine (measured: query embedding 11 ms -> 23 ms); these products are small anyway
        with self._blas.limit(limits=1, user_api="blas"):
            return self._search(question, k, mode, expand, dedup, stitch)

    def _search(self, question: str, k: int, mode: str, expand: bool, dedup: bool,
                stitch: bool) -> list[RetrievedChunk]:
        sides = comparison_sides(question) if expand else None
        texts = [question, *(sides or ())]
        if mode == "hybrid":
            vectors, states = self.embedder.embed_tokens(texts)
            query_tokens = content_vectors(states)
        else:
            vectors, query_tokens = self.embedder.embed(texts), [None] * len(texts)
        similarities = self._similarities(vectors)
        top_dense = self._dense(vectors, similarities, self.candidates) if mode != "bm25" else [[] for _ in texts]
        rankings, scores = [], {}
        for n, (text, top, dense, qt) in enumerate(zip(texts, top_dense, similarities, query_tokens, strict=True)):
            # feedback for the whole question only: a comparison side ("data drift") is already
            # in the notes' words, and feeding its passages back measured no gain at twice the cost
            order, fused = self._ranked(text, top, dense, qt, mode, feedback=n == 0)
            rankings.append(order)
            for i in order:
                scores.setdefault(i, fused[i])
        merged = interleave(rankings) if sides else rankings[0]
        similarity = similarities[0]
        groups: list[list[int]] = []  # picked chunks, neighbours of one section stitched, file order
        for i in merged:
            if dedup and any(jaccard(self.words(i), self.words(j)) >= NEAR_DUPLICATE for g in groups for j in g):
                continue
            if len(groups) == k:
                break
            if stitch and self._stitch(groups, i):
                continue
            groups.append([i])
        rank = {i: n for n, i in enumerate(merged)}
        return [self._passage(g, scores[min(g, key=rank.__getitem__)], similarity) for g in groups]

    def _size(self, group: Sequence[int]) -> int:
        offsets = self.index.token_offsets
        return int(sum(offsets[i + 1] - offsets[i] for i in group))

    def _stitch(self, groups: list[list[int]], i: int) -> bool:
        """Join chunk ``i`` to a picked group it neighbours (and that group to one it now meets)."""
        for group in groups:
            if self._next.get(group[-1]) == i:
                joined = group + [i]
            elif self._next.get(i) == group[0]:
                joined = [i] + group
            else:
                continue
            if self._size(joined) > STITCH_VECTORS:
                continue
            group[:] = joined
            # the new chunk may close the gap to another group: join the two if they fit
            for other in [g for g in groups if g is not group]:
                if self._next.get(group[-1]) == other[0]:
                    pair = group + other
                elif self._next.get(other[-1]) == group[0]:
                    pair = other + group
                else:
                    continue
                if self._size(pair) <= STITCH_VECTORS:
                    group[:] = pair
                    groups[:] = [g for g in groups if g is not other]
            return True
        return False

    def _joined_text(self, group: Sequence[int]) -> str:
        """Chunks' lines in file order, with the blank lines between them (as empty lines)."""
        parts = [self.chunks[i] for i in group]
        text = parts[0].text
        for before, after in zip(parts, parts[1:], strict=False):
            text += "\n" * (after.start_line - before.end_line) + after.text
        return text

    def _passage(self, group: Sequence[int], score: float, similarity: np.ndarray) -> RetrievedChunk:
        """One result from a group of chunks, with its first-ranked chunk's score and its best similarity.

        A stitched passage's text is its chunks' lines with the blank lines between them.
        """
        if len(group) == 1:
            return self._result(group[0], score, float(similarity[group[0]]))
        parts = [self.chunks[i] for i in group]
        text = self._joined_text(group)
        first = parts[0]
        return RetrievedChunk(chunk_id(first.source, first.heading_path, text), text, first.source,
                              list(first.heading_path), first.start_line, parts[-1].end_line,
                              round(score, 6), round(float(similarity[list(group)].max()), 4))

    def _result(self, i: int, score: float, similarity: float) -> RetrievedChunk:
        c = self.chunks[i]
        return RetrievedChunk(c.id, c.text, c.source, list(c.heading_path), c.start_line, c.end_line,
                              round(score, 6), round(similarity, 4))
