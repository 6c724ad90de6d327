"""The embedding model.

Locating and fingerprinting it, its tokenizer, the engines that run it, and the per-line view of the
token vectors an index stores.
"""
