"""The on-disk index: Chroma collections of chunks and their pieces, and a manifest naming them.

Each build writes two collections with one suffix: ``chunks-<id>`` (chunk text, heading path,
lines; vector = normalized mean of its pieces) and ``pieces-<id>`` (small passages searched
densely, each pointing to its chunk).

Crash safety ("build aside, then switch"): an ingest that changes anything writes a *new*
collection (reusing stored vectors for unchanged chunks), and only when it is complete swaps
`manifest.json` atomically (os.replace) to point at it. A run killed midway leaves the
manifest, and so every query, on the previous collection; the orphan is dropped next time.

Fast open: beside each build, ``tokens-<id>.npz`` holds its token vectors (with the file line each
comes from) and a snapshot of what a query needs from Chroma (chunks, chunk and piece vectors). A
query process opens the index from it after a cheap read-only check that Chroma's database still
lists the build's collections, without importing chromadb (~1.3 s here, most of a fresh `assistant
ask`). Anything unexpected (an older file without the snapshot, a damaged or locked database, a
server) takes the Chroma path, which also produces the error messages.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from assistant.errors import IndexCorruptError, IndexNotWritableError, IndexProblemError, IndexUnavailableError
from assistant.schema import Chunk

MANIFEST = "manifest.json"
PENDING = "pending.json"  # builds started but not yet live: dropped if a run dies midway
CHROMA_DIR = "chroma"
FORMAT = 1
_BATCH = 1000


@dataclass
class Manifest:
    """What the live index holds and how it was built."""

    collection: str
    model: str
    chunker: dict
    files: dict[str, dict] = field(default_factory=dict)
    updated: float = 0.0
    format: int = FORMAT

    @property
    def chunk_count(self) -> int:
        """Chunks in the live collection."""
        return sum(f.get("chunks", 0) for f in self.files.values())


@dataclass
class LoadedIndex:
    """The live index: every chunk with its vector in memory (BM25, dedup), pieces in Chroma.

    Attributes:
        pieces: The Chroma collection of piece vectors searched densely (metadata ``chunk``).
        piece_count: Rows in ``pieces``.
        piece_vectors: Every piece vector (for similarity scores without a second query).
        piece_owner: Row of ``chunks`` each piece belongs to.
        token_matrix: The contextual vectors of every chunk's content word pieces, chunk after
            chunk (stored as float16), for late-interaction scoring.
        token_offsets: Rows ``token_offsets[i]:token_offsets[i + 1]`` of ``token_matrix`` are chunk i's.
        token_lines: The file line each row of ``token_matrix`` comes from (0: the chunk's heading,
            -1: none), when the build recorded it; None otherwise (see `linevectors`).
        chunks: Every chunk.
        vectors: One unit vector per chunk (the normalized mean of its pieces).
        manifest: What was built and how.
    """

    pieces: object
    piece_count: int
    chunks: list[Chunk]
    vectors: np.ndarray
    manifest: Manifest
    piece_vectors: np.ndarray
    piece_owner: np.ndarray
    token_matrix: np.ndarray
    token_offsets: np.ndarray
    token_lines: np.ndarray | None = None


def _unit(vectors: np.ndarray) -> np.ndarray:
    mean = vectors.mean(axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)


def _meta(chunk: Chunk) -> dict:
    return {
        "source": chunk.source,
        "heading_path": json.dumps(list(chunk.heading_path), ensure_ascii=False),
        "start_line": chunk.start_line,
        "end_line": chunk.end_line,
    }


def _pack(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Texts as one UTF-8 byte array and their offsets.

    A fixed-width numpy string array would pad every text to the longest, and drops trailing NULs.
    """
    encoded = [t.encode("utf-8") for t in texts]
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), np.cumsum([0] + [len(e) for e in encoded])


def _unpack(data: np.ndarray, offsets: np.ndarray) -> list[str]:
    raw = data.tobytes()
    return [raw[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(len(offsets) - 1)]


def _chunk(cid: str, text: str, meta: dict) -> Chunk:
    return Chunk(cid, meta["source"], tuple(json.loads(meta["heading_path"])), int(meta["start_line"]),
                 int(meta["end_line"]), text)


class _LazyPieces:
    """The build's pieces collection, opened on first use (only HNSW search above the exact-scan limit)."""

    def __init__(self, store: ChunkStore, name: str) -> None:
        self._store, self._name, self._collection = store, name, None

    def query(self, **kwargs):
        """Chroma's ``Collection.query``; a failure becomes our index error, as on the Chroma path."""
        try:
            if self._collection is None:
                self._collection = self._store.client().get_collection(self._name, embedding_function=None)
            return self._collection.query(**kwargs)
        except IndexProblemError:
            raise
        except Exception as exc:
            raise self._store._failure(exc) from None


class ChunkStore:
    """Chroma (a PersistentClient in ``<index_dir>/chroma``, or a server) and the manifest.

    With a server, other people's collections may live beside ours, so only builds this index
    made (the live one, the previous one, and those recorded as pending) are ever deleted.
    """

    def __init__(self, index_dir: Path, chroma_url: str | None = None) -> None:
        """Remember where things live; nothing is opened until needed."""
        self.index_dir = index_dir
        self.chroma_url = chroma_url
        self._client = None
        self._lock = threading.Lock()  # ingest opens the client from a warm-up thread too

    @property
    def manifest_path(self) -> Path:
        """Where the manifest lives."""
        return self.index_dir / MANIFEST

    def check_writable(self) -> None:
        """Create the folder if needed and prove we can write a file in it.

        Raises:
            IndexNotWritableError: With the path and what to do.
        """
        try:
            self.index_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.index_dir, prefix=".probe-"):
                pass
        except OSError as exc:
            raise IndexNotWritableError(
                f"Cannot write the index folder {self.index_dir} ({exc.strerror or exc}). "
                "Fix its permissions, or set ASSISTANT_INDEX_DIR to a folder you can write."
            ) from None

    def read_manifest(self) -> Manifest | None:
        """The manifest, or None when no index was ever built here.

        Raises:
            IndexCorruptError: The manifest exists but cannot be parsed.
            IndexNotWritableError: The folder or manifest cannot be read.
        """
        try:
            raw = self.manifest_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except NotADirectoryError:
            raise IndexNotWritableError(
                f"The index folder {self.index_dir} is not a folder. Set ASSISTANT_INDEX_DIR to a folder."
            ) from None
        except PermissionError:
            raise IndexNotWritableError(
                f"Cannot read the index folder {self.index_dir} (permission denied). "
                "Fix its permissions, or set ASSISTANT_INDEX_DIR to a folder you can read and write."
            ) from None
        try:
            data = json.loads(raw)
            manifest = Manifest(**data)
            if manifest.format != FORMAT:
                raise ValueError(f"format {manifest.format}, expected {FORMAT}")
            return manifest
        except (ValueError, TypeError) as exc:
            raise IndexCorruptError(self._corrupt_message(f"unreadable manifest: {exc}")) from None

    def _failure(self, exc: Exception) -> IndexProblemError:
        """Our error for a Chroma failure: a server that fails is unavailable, a local file damaged."""
        if self.chroma_url:
            return IndexUnavailableError(
                f"The Chroma server at {self.chroma_url} failed ({type(exc).__name__}: {exc}). Check that it "
                "is running and healthy, then retry; `assistant ingest --rebuild` rebuilds our collections.")
        return IndexCorruptError(self._corrupt_message(f"{type(exc).__name__}: {exc}"))

    def _corrupt_message(self, why: str) -> str:
        return (f"The index in {self.index_dir} is damaged ({why}). "
                "Run `assistant ingest --rebuild` to rebuild it from your notes.")

    def client(self):
        """The Chroma client (telemetry off), opened once."""
        with self._lock:
            return self._open_client()

    def _open_client(self):
        if self._client is None:
            self._client = self._http_client() if self.chroma_url else self._local_client()
        return self._client

    def _local_client(self):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        try:
            return chromadb.PersistentClient(
                path=str(self.index_dir / CHROMA_DIR),
                settings=ChromaSettings(anonymized_telemetry=False, allow_reset=True),
            )
        except PermissionError:
            raise IndexNotWritableError(
                f"Cannot open the index in {self.index_dir} (permission denied). Fix its permissions, "
                "or set ASSISTANT_INDEX_DIR to a folder you can read and write."
            ) from None
        except Exception as exc:  # sqlite / rust errors for a damaged database
            _release_path(self.index_dir / CHROMA_DIR)  # don't let Chroma cache the broken system
            raise IndexCorruptError(self._corrupt_message(f"{type(exc).__name__}: {exc}")) from None

    def _http_client(self):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        parts = urlsplit(self.chroma_url)
        try:
            client = chromadb.HttpClient(
                host=parts.hostname, port=parts.port or (443 if parts.scheme == "https" else 8000),
                ssl=parts.scheme == "https", settings=ChromaSettings(anonymized_telemetry=False),
            )
            client.heartbeat()
            return client
        except Exception as exc:
            raise IndexUnavailableError(
                f"Cannot reach the Chroma server at {self.chroma_url} ({type(exc).__name__}). Start it "
                "(e.g. `chroma run --path chroma-data --host 127.0.0.1 --port 8000`), or unset "
                "ASSISTANT_CHROMA_URL to keep the index in a local folder."
            ) from None

    def load(self, manifest: Manifest, snapshot: bool = True) -> LoadedIndex:
        """Open the live build and read every chunk and vector.

        Args:
            manifest: The live build.
            snapshot: Read the build's snapshot file when it is there and Chroma's database
                checks out (see the module docstring); False always reads from Chroma.

        Raises:
            IndexCorruptError: A collection is missing or unreadable.
        """
        if snapshot and not self.chroma_url:
            loaded = self._load_snapshot(manifest)
            if loaded is not None:
                return loaded
        try:
            client = self.client()
            chunks_col = client.get_collection(f"chunks-{manifest.collection}", embedding_function=None)
            pieces_col = client.get_collection(f"pieces-{manifest.collection}", embedding_function=None)
            got = chunks_col.get(include=["embeddings", "documents", "metadatas"])
            piece_rows = pieces_col.get(include=["embeddings", "metadatas"])
        except IndexProblemError:
            raise
        except Exception as exc:
            raise self._failure(exc) from None
        chunks = [_chunk(i, d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)]
        vectors = np.asarray(got["embeddings"], dtype=np.float32) if chunks else np.zeros((0, 0), np.float32)
        if len(chunks) != manifest.chunk_count:
            raise IndexCorruptError(self._corrupt_message(
                f"{len(chunks)} chunks stored, the manifest expects {manifest.chunk_count}"))
        position = {c.id: i for i, c in enumerate(chunks)}
        try:
            owner = np.array([position[m["chunk"]] for m in piece_rows["metadatas"]], dtype=np.int64)
        except KeyError as exc:
            raise IndexCorruptError(self._corrupt_message(f"a piece points to a missing chunk {exc}")) from None
        piece_vectors = np.asarray(piece_rows["embeddings"], dtype=np.float32)
        tokens = self._read_tokens(manifest.collection)
        missing = [c.id for c in chunks if c.id not in tokens]
        if missing:
            raise IndexCorruptError(self._corrupt_message(f"token vectors missing for {len(missing)} chunk(s)"))
        per_chunk = [tokens[c.id] for c in chunks]
        offsets = np.cumsum([0] + [len(t) for t in per_chunk])
        dim = piece_vectors.shape[1] if piece_vectors.size else 0
        matrix = np.concatenate(per_chunk).astype(np.float32) if offsets[-1] else np.zeros((0, dim), np.float32)
        return LoadedIndex(pieces_col, len(owner), chunks, vectors, manifest, piece_vectors, owner, matrix, offsets)

    def _tokens_path(self, suffix: str) -> Path:
        return self.index_dir / f"tokens-{suffix}.npz"

    def _collections_listed(self, manifest: Manifest) -> bool:
        """Whether Chroma's database opens and lists the build's two collections (read-only, no chromadb)."""
        path = self.index_dir / CHROMA_DIR / "chroma.sqlite3"
        wanted = {f"chunks-{manifest.collection}", f"pieces-{manifest.collection}"}
        try:
            db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=0.5)
            try:
                names = {row[0] for row in db.execute(
                    "SELECT name FROM collections WHERE name IN (?, ?)", sorted(wanted))}
            finally:
                db.close()
        except (sqlite3.Error, OSError, ValueError):
            return False
        return names == wanted

    def _load_snapshot(self, manifest: Manifest) -> LoadedIndex | None:
        """The build read from its snapshot file, or None to take the Chroma path."""
        try:
            with np.load(self._tokens_path(manifest.collection), allow_pickle=False) as data:
                if "chunk_text_bytes" not in data.files:
                    return None  # written before snapshots existed
                ids = data["ids"]
                texts = _unpack(data["chunk_text_bytes"], data["chunk_text_offsets"])
                metas = _unpack(data["chunk_meta_bytes"], data["chunk_meta_offsets"])
                offsets, states = data["offsets"], data["states"]
                vectors, piece_vectors = data["chunk_vectors"], data["piece_vectors"]
                owner = data["piece_owner"]
                lines = data["token_lines"] if "token_lines" in data.files else None
            if len(ids) != manifest.chunk_count or not self._collections_listed(manifest):
                return None
            chunks = [_chunk(str(i), t, json.loads(m)) for i, t, m in zip(ids, texts, metas, strict=True)]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, UnicodeDecodeError):
            return None  # damaged or foreign: the Chroma path decides (and says what is wrong)
        dim = piece_vectors.shape[1] if piece_vectors.ndim == 2 else 0
        matrix = states.astype(np.float32) if len(states) else np.zeros((0, dim), np.float32)
        if lines is not None and (lines.ndim != 1 or len(lines) != len(matrix)):
            lines = None  # not what this code writes: lines are worked out again when needed
        return LoadedIndex(_LazyPieces(self, f"pieces-{manifest.collection}"), len(owner), chunks,
                           vectors.astype(np.float32), manifest, piece_vectors.astype(np.float32),
                           owner.astype(np.int64), matrix, offsets.astype(np.int64),
                           None if lines is None else lines.astype(np.int64))

    def _read_tokens(self, suffix: str) -> dict[str, np.ndarray]:
        """Token vectors of a build by chunk id ({} when the file is missing or unreadable)."""
        try:
            with np.load(self._tokens_path(suffix), allow_pickle=False) as data:
                ids, offsets, states = data["ids"], data["offsets"], data["states"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return {}
        return {str(cid): states[offsets[i] : offsets[i + 1]] for i, cid in enumerate(ids)}

    def _write_tokens(self, suffix: str, chunks: list[Chunk], vectors: dict[str, tuple[np.ndarray, np.ndarray]],
                      chunk_vectors: list[np.ndarray], token_lines: dict[str, np.ndarray | None] | None = None) -> None:
        """The build's token vectors and its snapshot (chunks and the vectors Chroma holds), atomically."""
        offsets = np.cumsum([0] + [len(vectors[c.id][1]) for c in chunks])
        states = np.concatenate([vectors[c.id][1] for c in chunks]).astype(np.float16) if chunks else np.zeros((0, 0))
        pieces = [vectors[c.id][0] for c in chunks]
        dim = pieces[0].shape[1] if pieces else 0
        text_bytes, text_offsets = _pack([c.text for c in chunks])
        meta_bytes, meta_offsets = _pack([json.dumps(_meta(c), ensure_ascii=False) for c in chunks])
        empty = np.zeros((0, dim), np.float32)
        extra = {}
        lines = [(token_lines or {}).get(c.id) for c in chunks]
        # kept only when every chunk's line numbers line up with its token vectors
        if token_lines is not None and all(v is not None and len(v) == len(vectors[c.id][1])
                                           for v, c in zip(lines, chunks, strict=True)):
            extra["token_lines"] = np.concatenate(lines).astype(np.int32) if chunks else np.zeros(0, np.int32)
        fd, tmp = tempfile.mkstemp(dir=self.index_dir, prefix=".tokens-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(
                    fh, ids=np.array([c.id for c in chunks]), offsets=offsets, states=states,
                    chunk_text_bytes=text_bytes, chunk_text_offsets=text_offsets,
                    chunk_meta_bytes=meta_bytes, chunk_meta_offsets=meta_offsets,
                    chunk_vectors=np.stack(chunk_vectors) if chunks else empty,
                    piece_vectors=np.concatenate(pieces).astype(np.float32) if chunks else empty,
                    piece_owner=np.repeat(np.arange(len(chunks)), [len(p) for p in pieces]).astype(np.int64),
                    **extra,
                )
            os.replace(tmp, self._tokens_path(suffix))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def stored_vectors(self, manifest: Manifest | None, ids: Iterable[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Stored (piece vectors, token vectors) of these chunk ids, where both exist."""
        wanted = list(ids)
        if manifest is None or not wanted:
            return {}
        tokens = self._read_tokens(manifest.collection)
        wanted = [cid for cid in wanted if cid in tokens]
        try:
            pieces = self.client().get_collection(f"pieces-{manifest.collection}", embedding_function=None)
            rows: dict[str, list[tuple[int, np.ndarray]]] = {}
            for i in range(0, len(wanted), _BATCH):
                got = pieces.get(where={"chunk": {"$in": wanted[i : i + _BATCH]}}, include=["embeddings", "metadatas"])
                for pid, vector, meta in zip(got["ids"], got["embeddings"], got["metadatas"], strict=True):
                    rows.setdefault(meta["chunk"], []).append((int(pid.rsplit(":", 1)[1]), vector))
        except IndexProblemError:
            raise
        except Exception as exc:
            raise self._failure(exc) from None
        return {
            cid: (np.asarray([v for _, v in sorted(r, key=lambda x: x[0])], dtype=np.float32),
                  tokens[cid].astype(np.float32))
            for cid, r in rows.items()
        }

    def build(self, chunks: list[Chunk], pieces: dict[str, list[str]],
              vectors: dict[str, tuple[np.ndarray, np.ndarray]], manifest: Manifest,
              token_lines: dict[str, np.ndarray | None] | None = None) -> None:
        """Write new collections aside, then switch the manifest to them and drop the old ones.

        Args:
            chunks: Every chunk the new index holds.
            pieces: Piece texts of every chunk, by chunk id.
            vectors: Per chunk id: its piece vectors (one row per piece) and its token vectors.
            manifest: The manifest to write once complete (its ``collection`` is set here).
            token_lines: Per chunk id: the file line of each token vector (kept in the snapshot when
                every chunk has them and they line up with its token vectors).
        """
        client = self.client()
        suffix = uuid.uuid4().hex[:12]
        self._set_pending(self._pending() | {suffix})
        # generous HNSW search/build breadth: our collections are small, and the default ef made dense
        # results vary by a few points of recall from one build to the next
        space = {"hnsw:space": "cosine", "hnsw:search_ef": 256, "hnsw:construction_ef": 256, "hnsw:M": 32}
        chunks_col = client.create_collection(f"chunks-{suffix}", embedding_function=None, metadata=space)
        pieces_col = client.create_collection(f"pieces-{suffix}", embedding_function=None, metadata=space)
        chunk_vectors = [_unit(vectors[c.id][0]) for c in chunks]
        for i in range(0, len(chunks), _BATCH):
            part = chunks[i : i + _BATCH]
            chunks_col.add(
                ids=[c.id for c in part], embeddings=np.stack(chunk_vectors[i : i + _BATCH]),
                documents=[c.text for c in part], metadatas=[_meta(c) for c in part],
            )
        rows = [(f"{c.id}:{n}", text, vectors[c.id][0][n], c.id)
                for c in chunks for n, text in enumerate(pieces[c.id])]
        for j in range(0, len(rows), _BATCH):
            sub = rows[j : j + _BATCH]
            pieces_col.add(ids=[r[0] for r in sub], documents=[r[1] for r in sub],
                           embeddings=np.stack([r[2] for r in sub]), metadatas=[{"chunk": r[3]} for r in sub])
        self._write_tokens(suffix, chunks, vectors, chunk_vectors, token_lines)
        old = self.read_manifest()
        manifest.collection = suffix
        manifest.updated = time.time()
        self._write_manifest(manifest)  # the switch
        self.drop_unused(keep=suffix, also=old.collection if old else None)

    def _write_manifest(self, manifest: Manifest) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.index_dir, prefix=".manifest-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(asdict(manifest), fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.manifest_path)

    def _pending(self) -> set[str]:
        try:
            return set(json.loads((self.index_dir / PENDING).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return set()

    def _set_pending(self, suffixes: set[str]) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.index_dir, prefix=".pending-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(sorted(suffixes), fh)
        os.replace(tmp, self.index_dir / PENDING)

    def drop_unused(self, keep: str, also: str | None = None) -> None:
        """Delete builds other than ``keep``: the previous one and orphans of killed runs.

        Locally the folder is ours, so every other collection goes; on a server only the builds
        this index made (``also`` and the pending ones) are touched.
        """
        client = self.client()
        names = [getattr(c, "name", c) for c in client.list_collections()]
        if self.chroma_url:
            doomed = ({also} if also else set()) | self._pending()
            names = [n for n in names if n.split("-", 1)[-1] in doomed]
        for name in names:
            if name not in (f"chunks-{keep}", f"pieces-{keep}"):
                client.delete_collection(name)
        for path in self.index_dir.glob("tokens-*.npz"):
            if path != self._tokens_path(keep):
                path.unlink(missing_ok=True)
        self._set_pending(set())

    def verify(self, manifest: Manifest | None) -> None:
        """Open the database and the live collections, raising IndexCorruptError if unreadable."""
        try:
            client = self.client()
            client.list_collections()
            if manifest is not None:
                for kind in ("chunks", "pieces"):
                    client.get_collection(f"{kind}-{manifest.collection}", embedding_function=None).count()
        except IndexProblemError:
            raise
        except Exception as exc:
            raise self._failure(exc) from None

    def wipe(self) -> None:
        """Remove the whole index (used by --rebuild when the old one is unreadable)."""
        if self.chroma_url:  # the server may be fine; drop the builds we can name
            try:
                manifest = self.read_manifest()
            except IndexCorruptError:
                manifest = None
            self.drop_unused(keep="", also=manifest.collection if manifest else None)
        self.close()
        if not self.chroma_url:
            _release_path(self.index_dir / CHROMA_DIR)
        if self.index_dir.exists():
            shutil.rmtree(self.index_dir)

    def close(self) -> None:
        """Release our Chroma client so the folder can be reopened or removed."""
        if self._client is not None:
            close = getattr(self._client, "close", None)
            if callable(close):
                close()
            self._client = None


def _release_path(path: Path) -> None:
    """Stop Chroma's shared in-process system for one folder, whoever opened it.

    Chroma caches one System per folder for the whole process; after the folder is deleted a
    new client would silently reuse the stale one. There is no public per-folder release, so
    this uses the class-level cache (chromadb 1.x) and leaves other folders' clients alone.
    """
    from chromadb.api.shared_system_client import SharedSystemClient

    target = str(path.resolve())
    for identifier in list(SharedSystemClient._identifier_to_system):
        if identifier and str(Path(identifier).resolve()) == target:
            system = SharedSystemClient._identifier_to_system.pop(identifier)
            SharedSystemClient._identifier_to_refcount.pop(identifier, None)
            try:
                system.stop()
            except Exception:  # noqa: BLE001 - a system that never opened (damaged file) has nothing to stop
                pass
