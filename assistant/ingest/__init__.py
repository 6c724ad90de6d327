"""Turning notes into an index: chunking (heading paths, exact lines) and the build pipeline."""
