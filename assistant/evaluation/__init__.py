"""Evaluation: the gold set and the metrics that score retrieval and answers against it."""
