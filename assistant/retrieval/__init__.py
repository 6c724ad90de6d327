"""Finding the passages that answer a question.

Keyword (BM25), dense and late-interaction scores, fused, with pseudo-relevance feedback,
comparison sides, near-duplicate removal and stitching. `retriever.Retriever` composes the small
modules beside it; each owns one step.
"""
