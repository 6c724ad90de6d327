"""Server mode: the live build mirrored into a Chroma server (``ASSISTANT_CHROMA_URL``).

The segments in the index folder stay the one source of truth (a query reads chunks, vectors and
token vectors from them); the server holds two collections per index folder, ``chunks-<id>`` and
``pieces-<id>``, kept equal to the live build by upserts and deletes by content-hash id. It serves
dense search by HNSW once a build has more pieces than an exact scan handles, and lets other
Chroma tools see the notes. Only this index's own two collections are ever written or deleted.

Order (see `store.IndexStore.commit`): new chunks and pieces are upserted before the manifest
switch, and ids the new build no longer has are deleted after it; a failure or kill in between
leaves extra ids, which readers ignore (a dense hit maps to a chunk only through the live build)
and the next ingest deletes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from assistant.errors import IndexProblemError, IndexUnavailableError
from assistant.store.segments import Segment, SegmentError

_BATCH = 1000
# generous HNSW search/build breadth: the default ef made dense results vary by a few points of
# recall from one build to the next
SPACE = {"hnsw:space": "cosine", "hnsw:search_ef": 256, "hnsw:construction_ef": 256, "hnsw:M": 32}


def chunk_metadata(source: str, heading_path, start_line: int, end_line: int) -> dict:
    """A chunk's metadata in Chroma (heading path as JSON: Chroma metadata values are scalars)."""
    return {"source": source, "heading_path": json.dumps(list(heading_path), ensure_ascii=False),
            "start_line": start_line, "end_line": end_line}


class ChromaMirror:
    """This index's two collections on a Chroma server."""

    def __init__(self, url: str, name: str) -> None:
        """Remember the server and the collections' suffix; nothing is opened until needed."""
        self.url = url
        self.name = name
        self._client = None

    def failure(self, exc: Exception) -> IndexProblemError:
        """Our one-line error for anything the server or the connection did."""
        if isinstance(exc, IndexProblemError):
            return exc
        return IndexUnavailableError(
            f"The Chroma server at {self.url} failed ({type(exc).__name__}: {exc}). Check that it is "
            "running and healthy, then retry; the index in use is unchanged.")

    def client(self):
        """The HTTP client (telemetry off), checked with a heartbeat when first opened."""
        if self._client is None:
            import chromadb
            from chromadb.config import Settings as ChromaSettings

            parts = urlsplit(self.url)
            try:
                client = chromadb.HttpClient(
                    host=parts.hostname, port=parts.port or (443 if parts.scheme == "https" else 8000),
                    ssl=parts.scheme == "https", settings=ChromaSettings(anonymized_telemetry=False))
                client.heartbeat()
            except Exception as exc:
                raise IndexUnavailableError(
                    f"Cannot reach the Chroma server at {self.url} ({type(exc).__name__}). Start it "
                    "(e.g. `chroma run --path chroma-data --host 127.0.0.1 --port 8000`), or unset "
                    "ASSISTANT_CHROMA_URL to keep the index in a local folder.") from None
            self._client = client
        return self._client

    def _collection(self, kind: str, create: bool = True):
        """The collection, looked up on every call: someone may have deleted it since (one round trip)."""
        client = self.client()
        name = f"{kind}-{self.name}"
        # never Chroma's default embedding function (it downloads a model): we pass vectors
        if create:
            return client.get_or_create_collection(name, embedding_function=None, metadata=SPACE)
        return client.get_collection(name, embedding_function=None)

    def _ids(self, kind: str) -> set[str]:
        return set(self._collection(kind).get(include=[])["ids"])

    def upsert(self, segments: Iterable[Segment], folder: Path, only_missing: bool = False) -> None:
        """Write these segments' chunks and pieces (all of them, or only ids the server lacks).

        Args:
            segments: The segments to write.
            folder: Where they live (their piece texts are read from there).
            only_missing: Skip ids the server already has.

        Raises:
            IndexUnavailableError: The server failed (nothing the live build uses changed).
            SegmentError: A segment's piece texts are unreadable.
        """
        try:
            chunks_col, pieces_col = self._collection("chunks"), self._collection("pieces")
            have_chunks = self._ids("chunks") if only_missing else set()
            have_pieces = self._ids("pieces") if only_missing else set()
            for seg in segments:
                rows = [(i, c) for i, c in enumerate(seg.chunks) if c.id not in have_chunks]
                for j in range(0, len(rows), _BATCH):
                    part = rows[j : j + _BATCH]
                    chunks_col.upsert(
                        ids=[c.id for _, c in part], embeddings=np.stack([seg.chunk_vectors[i] for i, _ in part]),
                        documents=[c.text for _, c in part],
                        metadatas=[chunk_metadata(c.source, c.heading_path, c.start_line, c.end_line)
                                   for _, c in part])
                texts = seg.pieces(folder)
                pieces = [(f"{c.id}:{n}", text, vector, c.id)
                          for i, c in enumerate(seg.chunks)
                          for n, (text, vector) in enumerate(zip(texts[i], seg.chunk_pieces(i), strict=True))]
                pieces = [p for p in pieces if p[0] not in have_pieces]
                for j in range(0, len(pieces), _BATCH):
                    part = pieces[j : j + _BATCH]
                    pieces_col.upsert(ids=[p[0] for p in part], documents=[p[1] for p in part],
                                      embeddings=np.stack([p[2] for p in part]),
                                      metadatas=[{"chunk": p[3]} for p in part])
        except SegmentError:
            raise
        except Exception as exc:
            raise self.failure(exc) from None

    def prune(self, chunk_ids: set[str], piece_ids: set[str]) -> None:
        """Delete every id the live build does not have."""
        try:
            for kind, keep in (("chunks", chunk_ids), ("pieces", piece_ids)):
                extra = sorted(self._ids(kind) - keep)
                for j in range(0, len(extra), _BATCH):
                    self._collection(kind).delete(ids=extra[j : j + _BATCH])
        except Exception as exc:
            raise self.failure(exc) from None

    def counts(self) -> tuple[int, int] | None:
        """(chunks, pieces) on the server, or None when the collections don't exist."""
        try:
            names = {getattr(c, "name", c) for c in self.client().list_collections()}
            if f"chunks-{self.name}" not in names or f"pieces-{self.name}" not in names:
                return None
            return self._collection("chunks").count(), self._collection("pieces").count()
        except Exception as exc:
            raise self.failure(exc) from None

    def query(self, vectors: list[np.ndarray], n: int) -> list[list[str]]:
        """Piece ids nearest each vector (ids only: asking for metadatas too is ~4x slower)."""
        try:
            result = self._collection("pieces", create=False).query(query_embeddings=list(vectors), n_results=n,
                                                                   include=[])
        except Exception as exc:
            raise self.failure(exc) from None
        return result["ids"]

    def drop(self) -> None:
        """Delete this index's collections (a rebuild starts them over)."""
        try:
            names = {getattr(c, "name", c) for c in self.client().list_collections()}
            for kind in ("chunks", "pieces"):
                if f"{kind}-{self.name}" in names:
                    self.client().delete_collection(f"{kind}-{self.name}")
        except Exception as exc:
            raise self.failure(exc) from None

    def close(self) -> None:
        """Forget the client (reopened on next use)."""
        self._client = None
