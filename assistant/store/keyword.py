"""Keyword (BM25) search over stored term counts: rank_bm25's BM25Okapi numbers, without its Python scans.

Each build stores, per chunk, the counts of its keyword tokens (`words.tokens` of its heading path and
text), per note file (see `store.segments`). A query process assembles BM25Okapi's statistics from
them with numpy instead of re-tokenizing every chunk and fitting ``rank_bm25.BM25Okapi``: at 100x
the MLA notes (15.5k chunks) fitting it took seconds of every fresh process and hundreds of MB of
Python dicts. The numbers are rank_bm25's own (same idf with its epsilon floor, k1, b, average
length, and the same order of floating-point sums); a test checks them against BM25Okapi.

Scoring goes through per-word posting lists (term weight per document), so a query only touches the
documents that contain its words instead of scanning every document per word as rank_bm25 does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

K1, B, EPSILON = 1.5, 0.75, 0.25  # BM25Okapi's defaults, as langchain's BM25Retriever uses them
EMPTY = "_"  # a chunk without keyword tokens counts as one placeholder word (as the retriever always did)


def term_counts(words: Sequence[str]) -> dict[str, int]:
    """A document's word counts, in order of first appearance (as BM25Okapi builds them)."""
    counts: dict[str, int] = {}
    for word in words or [EMPTY]:
        counts[word] = counts.get(word, 0) + 1
    return counts


class KeywordIndex:
    """BM25Okapi statistics and posting lists for a corpus given as per-document word counts (CSR).

    Attributes:
        size: Documents.
        words: Word of each global word id (in order of first appearance in the corpus).
        ids: Word -> global id.
        idf: Per word id, BM25Okapi's idf (negative ones floored to epsilon x the average).
    """

    def __init__(self, words: list[str], indptr: np.ndarray, term_ids: np.ndarray, counts: np.ndarray,
                 k1: float = K1, b: float = B, epsilon: float = EPSILON) -> None:
        """Compute idf and per-word postings.

        Args:
            words: Global vocabulary, in order of first appearance in the corpus.
            indptr: Document d's terms are ``term_ids[indptr[d]:indptr[d + 1]]`` (in order of first
                appearance in the document).
            term_ids: Word ids.
            counts: How often each of those words occurs in the document.
            k1: BM25 term-frequency saturation.
            b: BM25 length normalization.
            epsilon: Floor for negative idf, as a share of the average idf.
        """
        self.words = words
        self.ids = {w: i for i, w in enumerate(words)}
        self.indptr = np.asarray(indptr, dtype=np.int64)
        self.term_ids = np.asarray(term_ids, dtype=np.int64)
        self.counts = np.asarray(counts, dtype=np.int64)
        self.size = len(self.indptr) - 1
        docs = np.repeat(np.arange(self.size), np.diff(self.indptr))
        doc_len = np.bincount(docs, weights=self.counts, minlength=self.size)  # integers, exactly
        self.avgdl = float(doc_len.sum()) / self.size if self.size else 0.0
        docs_with = np.bincount(self.term_ids, minlength=len(words))
        # math.log per word, summed left to right: exactly BM25Okapi._calc_idf's floats
        idf = [math.log(self.size - int(n) + 0.5) - math.log(int(n) + 0.5) for n in docs_with]
        total = 0.0
        for value in idf:
            total += value
        self.average_idf = total / len(idf) if idf else 0.0
        floor = epsilon * self.average_idf
        self.idf = np.array([v if v >= 0 else floor for v in idf], dtype=np.float64)
        norm = k1 * (1 - b + b * doc_len / self.avgdl) if self.avgdl else np.zeros(self.size)
        # postings: the same (document, word) pairs grouped by word, documents ascending
        order = np.argsort(self.term_ids, kind="stable")
        self._post_docs = docs[order]
        tf = self.counts[order].astype(np.float64)
        word_of = self.term_ids[order]
        self._post_weights = self.idf[word_of] * (tf * (k1 + 1) / (tf + norm[self._post_docs]))
        self._post_ptr = np.concatenate([[0], np.cumsum(docs_with)]).astype(np.int64)

    def scores(self, words: Sequence[str]) -> np.ndarray:
        """BM25 score of every document for a query (a repeated word counts again, as in rank_bm25)."""
        out = np.zeros(self.size)
        for word in words:
            i = self.ids.get(word)
            if i is not None:
                a, b = self._post_ptr[i], self._post_ptr[i + 1]
                out[self._post_docs[a:b]] += self._post_weights[a:b]
        return out

    def idf_of(self, word: str) -> float:
        """A word's idf (0 for a word the notes don't contain)."""
        i = self.ids.get(word)
        return float(self.idf[i]) if i is not None else 0.0

    def doc_terms(self, doc: int) -> dict[str, int]:
        """A document's words and their counts."""
        a, b = self.indptr[doc], self.indptr[doc + 1]
        return {self.words[int(t)]: int(c) for t, c in zip(self.term_ids[a:b], self.counts[a:b], strict=True)}


def merge_vocabularies(vocabularies: Sequence[Sequence[str]], *id_lists: Sequence[np.ndarray],
                       ) -> tuple[list[str], ...]:
    """One vocabulary from several segments' local ones, and each list of their word ids mapped to it.

    Words keep their order of first appearance: each segment's vocabulary is in that order and
    the segments come in corpus order.

    Args:
        vocabularies: Each segment's vocabulary.
        *id_lists: Per kind of ids (keyword terms, text words...), one array per segment.

    Returns:
        The vocabulary, then per kind the segments' ids mapped to it, concatenated.
    """
    ids: dict[str, int] = {}
    tables = [np.fromiter((ids.setdefault(w, len(ids)) for w in vocab), dtype=np.int64, count=len(vocab))
              for vocab in vocabularies]
    mapped = []
    for per_segment in id_lists:
        parts = [table[local] if len(local) else np.zeros(0, np.int64)
                 for table, local in zip(tables, per_segment, strict=True)]
        mapped.append(np.concatenate(parts) if parts else np.zeros(0, np.int64))
    return (list(ids), *mapped)
