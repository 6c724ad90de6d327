"""The index folder: segments, the manifest that names the live ones, the writer lock, clean-up.

Layout of ``ASSISTANT_INDEX_DIR``::

    manifest.json        the live build (`store.manifest`): per note file, its digest and segment
    segments/<id>/       one note file's chunks and vectors, written once (`store.segments`)
    .writer.lock         the one-writer lock (`store.lock`)
    mirror-id            server mode: the suffix of this index's Chroma collections

Writing (`IndexStore.commit`), in an order that a kill at any step survives: every new segment is
complete on disk (written aside, flushed, renamed into place) before the manifest names it; the
manifest is switched in one rename; only then are segments no manifest names deleted, with any
temporary folder a dead writer left. A reader loads the segments the manifest names; if a
writer's clean-up removed one in between, the reader reads the newer manifest and loads again.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.errors import IndexCorruptError, IndexNotWritableError, IndexProblemError
from assistant.schema import Chunk
from assistant.store import manifest as manifests
from assistant.store.keyword import KeywordIndex, merge_vocabularies
from assistant.store.lock import WriterLock, pid_alive
from assistant.store.manifest import Manifest
from assistant.store.mirror import ChromaMirror
from assistant.store.segments import (
    FILES,
    TMP_PREFIX,
    Segment,
    SegmentData,
    SegmentError,
    TokenFile,
    read_segment,
    remove_tree,
    segment_sizes,
    to_float32,
    write_segment,
)

SEGMENTS = "segments"
MIRROR_ID = "mirror-id"
# Token vectors up to this size (as float32) are read into memory, as every index was before
# segments existed; larger ones are memory-mapped float16 and converted per candidate. The MLA
# notes hold 14k token vectors (22 MB as float32; converting them at load takes ~40 ms), 10
# copies 144k (0.5 s to convert, most of a fresh search), 100 copies 1.4M (2.2 GB as float32).
# Memory-mapped, a warm search of the MLA notes measured 7.5 ms instead of 3.5 ms (question
# embedding aside): the float16 rows of ~60 candidates are converted each time.
IN_MEMORY_TOKENS_MB = 64
# What builds before segments left in the folder (format 1): deleted by the first clean-up.
LEGACY = ("chroma", "pending.json")
LEGACY_GLOBS = ("tokens-*.npz", ".tokens-*.npz", ".pending-*.tmp")
_TMP_PID = re.compile(r"^(?:\.tmp-|\.manifest-|\.probe-)(\d+)-")
Step = Callable[[str], None]


@dataclass
class Health:
    """What a health check found.

    Attributes:
        damaged: Note files whose segment is ``missing`` or ``damaged``.
        mirror: Server mode: what is wrong with the server's copy (None when it matches).
    """

    damaged: dict[str, str] = field(default_factory=dict)
    mirror: str | None = None

    def problems(self) -> list[str]:
        """One line per problem."""
        lines = [f"{source}: its part of the index is {what}" for source, what in self.damaged.items()]
        return lines + ([self.mirror] if self.mirror else [])


class SegmentedRows:
    """Token vectors of several segments as one read-only row space (rows in corpus order).

    Supports what retrieval does with its token matrix: ``rows[a:b]`` (one chunk's rows),
    ``rows[array]`` (rows of one chunk) and `read_many` (several chunks' rows for one product),
    without reading the segments into one array.
    """

    def __init__(self, parts: Sequence) -> None:
        """Chain the parts (2-D arrays, memory maps or `TokenFile`s)."""
        self.parts = list(parts)
        sizes = [len(p) for p in self.parts]
        self.starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        dim = self.parts[0].shape[1] if self.parts else 0
        self.shape = (int(self.starts[-1]), dim)
        self.dtype = self.parts[0].dtype if self.parts else np.dtype(np.float16)

    def __len__(self) -> int:
        return self.shape[0]

    def _part(self, row: int) -> int:
        return int(np.searchsorted(self.starts, row, side="right") - 1)

    def __getitem__(self, key):
        if isinstance(key, slice):
            start, stop, step = key.indices(self.shape[0])
            if step != 1:
                raise IndexError("only contiguous row ranges")
            if stop <= start:
                return np.zeros((0, self.shape[1]), self.dtype)
            first, last = self._part(start), self._part(stop - 1)
            if first == last:
                base = self.starts[first]
                return self.parts[first][start - base : stop - base]
            return np.concatenate([self[max(start, int(self.starts[p])) : min(stop, int(self.starts[p + 1]))]
                                   for p in range(first, last + 1)])
        rows = np.asarray(key, dtype=np.int64)
        if rows.ndim != 1:
            raise IndexError("rows must be a 1-D array")
        if not len(rows):
            return np.zeros((0, self.shape[1]), self.dtype)
        parts = np.searchsorted(self.starts, rows, side="right") - 1
        if np.all(parts == parts[0]):
            return self.parts[int(parts[0])][rows - self.starts[parts[0]]]
        out = np.empty((len(rows), self.shape[1]), self.dtype)
        for p in np.unique(parts):
            where = parts == p
            out[where] = self.parts[int(p)][rows[where] - self.starts[p]]
        return out

    def read_many(self, spans: Sequence[tuple[int, int]]) -> np.ndarray:
        """The rows of several ``(start, stop)`` spans one after another, as float32 (one conversion).

        Each span lies within one part (a chunk's rows are in its file's segment); one read per span.
        """
        if not spans:
            return np.zeros((0, self.shape[1]), np.float32)
        bounds = np.asarray(spans, dtype=np.int64)
        parts = np.searchsorted(self.starts, bounds[:, 0], side="right") - 1
        local = bounds - self.starts[parts][:, None]
        pieces = []
        for p, (a, b) in zip(parts.tolist(), local.tolist(), strict=True):
            part = self.parts[p]
            pieces.append(part.read_bytes(a, b) if isinstance(part, TokenFile) else part[a:b].tobytes())
        return to_float32(np.frombuffer(b"".join(pieces), self.dtype).reshape(-1, self.shape[1]))


@dataclass
class LoadedIndex:
    """The live build, ready for retrieval.

    Attributes:
        chunks: Every chunk, in corpus order.
        vectors: One unit vector per chunk (the normalized mean of its pieces).
        manifest: What was built and how.
        piece_vectors: Every piece vector (dense search scans them exactly up to a limit).
        piece_owner: Row of ``chunks`` each piece belongs to.
        token_matrix: The contextual vectors of every chunk's content word pieces, chunk after chunk
            (float32 in memory; float16 memory-mapped `SegmentedRows` for large indexes).
        token_offsets: Rows ``token_offsets[i]:token_offsets[i + 1]`` of ``token_matrix`` are chunk i's.
        token_lines: The file line each row comes from (0: the chunk's heading, -1: none), or None
            when a segment did not record them (see `embedding.lines`).
        keywords: BM25 over the chunks' keyword tokens.
        text_words: Each chunk's distinct words of its text alone, as ids of ``keywords.words`` (CSR:
            chunk i's are ``ids[indptr[i]:indptr[i + 1]]``), for near-duplicate checks.
        dense: Server mode: the Chroma collections, for HNSW search of large builds (else None).
    """

    chunks: list[Chunk]
    vectors: np.ndarray
    manifest: Manifest
    piece_vectors: np.ndarray
    piece_owner: np.ndarray
    token_matrix: np.ndarray | SegmentedRows
    token_offsets: np.ndarray
    token_lines: np.ndarray | None
    keywords: KeywordIndex
    text_words: tuple[np.ndarray, np.ndarray]
    dense: ChromaMirror | None = None

    @property
    def piece_count(self) -> int:
        """Pieces in the build."""
        return len(self.piece_owner)


def assemble(segments: Sequence[Segment], manifest: Manifest, dim: int, in_memory_mb: float = IN_MEMORY_TOKENS_MB,
             dense: ChromaMirror | None = None) -> LoadedIndex:
    """One `LoadedIndex` from the live segments, in corpus order."""
    chunks = [c for s in segments for c in s.chunks]
    n = len(chunks)
    vectors = np.concatenate([s.chunk_vectors for s in segments]) if n else np.zeros((0, dim), np.float32)
    pieces = np.concatenate([s.piece_vectors for s in segments]) if segments else np.zeros((0, dim), np.float32)
    counts = np.concatenate([s.piece_counts for s in segments]) if segments else np.zeros(0, np.int64)
    owner = np.repeat(np.arange(n), counts).astype(np.int64)
    sizes = np.concatenate([np.diff(s.token_offsets) for s in segments]) if segments else np.zeros(0, np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    total = int(offsets[-1])
    if total * dim * 4 <= in_memory_mb * 1e6:
        matrix = (np.concatenate([np.asarray(s.tokens[:]) for s in segments]).astype(np.float32) if total
                  else np.zeros((0, dim), np.float32))
    else:
        matrix = SegmentedRows([s.tokens for s in segments])
    recorded = bool(segments) and all(s.token_lines is not None for s in segments)
    lines = np.concatenate([s.token_lines for s in segments]) if recorded else None
    words, term_ids, text_ids = merge_vocabularies([s.vocabulary for s in segments], [s.term_ids for s in segments],
                                                   [s.text_ids for s in segments])
    indptr = _chain([s.term_indptr for s in segments])
    text_words = (_chain([s.text_indptr for s in segments]), text_ids)
    term_counts = np.concatenate([s.term_counts for s in segments]) if segments else np.zeros(0, np.int64)
    keywords = KeywordIndex(words, indptr, term_ids, term_counts)
    return LoadedIndex(chunks, vectors.astype(np.float32), manifest, pieces.astype(np.float32), owner, matrix,
                       offsets, lines, keywords, text_words, dense)


def _chain(indptrs: Sequence[np.ndarray]) -> np.ndarray:
    """Several segments' CSR row pointers as one (rows one after another)."""
    if not indptrs:
        return np.zeros(1, np.int64)
    return np.concatenate([[0], np.cumsum(np.concatenate([np.diff(p) for p in indptrs]))]).astype(np.int64)


class IndexStore:
    """One index folder (and, in server mode, its Chroma collections)."""

    def __init__(self, index_dir: Path, chroma_url: str | None = None) -> None:
        """Remember where things live; nothing is opened until needed."""
        self.index_dir = index_dir
        self.chroma_url = chroma_url
        self.lock = WriterLock(index_dir)
        self._mirror: ChromaMirror | None = None
        self._mirror_lock = threading.Lock()

    @property
    def manifest_path(self) -> Path:
        """Where the manifest lives."""
        return self.index_dir / manifests.NAME

    @property
    def segments_dir(self) -> Path:
        """Where the segments live."""
        return self.index_dir / SEGMENTS

    # -- reading ---------------------------------------------------------------------------
    def corrupt(self, why: str) -> IndexCorruptError:
        """Our error for a damaged index, saying what repairs it."""
        return IndexCorruptError(f"The index in {self.index_dir} is damaged ({why}). "
                                 "Run `assistant ingest` to repair it from your notes.")

    def read_manifest(self) -> Manifest | None:
        """The live manifest, or None when no index was ever built here.

        Raises:
            IndexCorruptError: It exists but cannot be used (also for an index built by an older
                version: `assistant ingest` rebuilds it).
            IndexNotWritableError: The folder cannot be read.
        """
        try:
            return manifests.read(self.manifest_path)
        except manifests.OutdatedManifestError:
            raise IndexCorruptError(
                f"The index in {self.index_dir} was built by an older version of the assistant. "
                "Run `assistant ingest` to rebuild it (your notes are embedded again, once).") from None
        except manifests.ManifestError as exc:
            raise self.corrupt(str(exc)) from None
        except NotADirectoryError:
            raise IndexNotWritableError(
                f"The index folder {self.index_dir} is not a folder. Set ASSISTANT_INDEX_DIR to a folder."
            ) from None
        except PermissionError:
            raise IndexNotWritableError(
                f"Cannot read the index folder {self.index_dir} (permission denied). "
                "Fix its permissions, or set ASSISTANT_INDEX_DIR to a folder you can read and write."
            ) from None
        except OSError as exc:
            raise self.corrupt(f"cannot read the manifest: {exc.strerror or exc}") from None

    def health(self, manifest: Manifest) -> Health:
        """What is wrong with the live build on disk (and on the server).

        Checks that every segment the manifest names is there with the sizes it was written with
        (no file is read); in server mode, that the server holds as many chunks and pieces.
        """
        damaged = {}
        for source, entry in manifest.files.items():
            sizes = segment_sizes(self.segments_dir, entry["segment"])
            if sizes is None:
                damaged[source] = "missing"
            elif sizes != entry.get("sizes"):
                damaged[source] = "damaged"
        mirror = None
        if self.chroma_url and manifest.mirror:
            try:
                counts = self.mirror(manifest.mirror).counts()
            except IndexProblemError as exc:
                mirror = str(exc)
            else:
                want = (manifest.chunk_count, manifest.piece_count)
                if counts != want:
                    have = "no collections" if counts is None else f"{counts[0]} chunks and {counts[1]} pieces"
                    mirror = f"the Chroma server holds {have}, the index {want[0]} chunks and {want[1]} pieces"
        return Health(damaged, mirror)

    def problems(self, manifest: Manifest) -> list[str]:
        """`health` as one line per problem: [] when the live build is healthy."""
        return self.health(manifest).problems()

    def read_segment(self, seg_id: str, tokens: str = "mmap") -> Segment:
        """One segment (its token vectors memory-mapped by default: see `segments.read_segment`).

        Raises:
            SegmentError: Missing or damaged.
        """
        return read_segment(self.segments_dir, seg_id, tokens=tokens)

    def load(self, manifest: Manifest, dim: int, in_memory_mb: float = IN_MEMORY_TOKENS_MB) -> LoadedIndex:
        """The build ``manifest`` names, ready for retrieval.

        Raises:
            SegmentError: A segment is missing (perhaps just cleaned up: see `open_live`) or damaged.
        """
        large = manifest.token_count * dim * 4 > in_memory_mb * 1e6
        segments = [self.read_segment(seg, tokens="file" if large else "memory") for seg in manifest.segments()]
        dense = self.mirror(manifest.mirror) if self.chroma_url and manifest.mirror else None
        return assemble(segments, manifest, dim, in_memory_mb, dense)

    def open_live(self, dim: int, in_memory_mb: float = IN_MEMORY_TOKENS_MB, tries: int = 5) -> LoadedIndex | None:
        """Load the live build, or None when there is none.

        A writer that switches the manifest and cleans up while this reads may delete a segment
        the old manifest named; the newer manifest then names segments that exist, so this reads
        it and tries again.

        Raises:
            IndexCorruptError: The manifest or a segment it names is damaged.
        """
        last = ""
        for _ in range(tries):
            manifest = self.read_manifest()
            if manifest is None:
                return None
            try:
                return self.load(manifest, dim, in_memory_mb)
            except SegmentError as exc:
                last = str(exc)
                if self.read_manifest() == manifest:  # nothing moved: it is really damaged
                    break
        raise self.corrupt(last)

    # -- writing (under the writer lock) -----------------------------------------------------
    def check_writable(self) -> None:
        """Create the folder if needed and prove we can write a file in it.

        Raises:
            IndexNotWritableError: With the path and what to do.
        """
        try:
            self.index_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.index_dir, prefix=f".probe-{os.getpid()}-"):
                pass
        except OSError as exc:
            raise IndexNotWritableError(
                f"Cannot write the index folder {self.index_dir} ({exc.strerror or exc}). "
                "Fix its permissions, or set ASSISTANT_INDEX_DIR to a folder you can write."
            ) from None

    def write_segment(self, data: SegmentData, dim: int) -> dict:
        """Write one file's segment; returns its manifest entry fields (without the digest)."""
        seg_id, sizes = write_segment(self.segments_dir, data, dim)
        return {"segment": seg_id, "chunks": len(data.chunks), "pieces": sum(len(p) for p in data.piece_vectors),
                "tokens": sum(len(t) for t in data.token_vectors), "sizes": sizes}

    def mirror_id(self, create: bool = False) -> str | None:
        """The suffix of this index's Chroma collections (made once per index folder)."""
        path = self.index_dir / MIRROR_ID
        try:
            return path.read_text(encoding="utf-8").strip() or None
        except OSError:
            if not create:
                return None
        name = uuid.uuid4().hex[:12]
        path.write_text(name + "\n", encoding="utf-8")
        return name

    def mirror(self, name: str) -> ChromaMirror:
        """This index's collections on the Chroma server (server mode only)."""
        with self._mirror_lock:
            if self._mirror is None or self._mirror.name != name:
                self._mirror = ChromaMirror(self.chroma_url or "", name)
            return self._mirror

    def commit(self, manifest: Manifest, written: Sequence[str], step: Step | None = None,
               retire: Sequence[str] = ()) -> None:
        """Make ``manifest`` the live build, then clean up. Call with the writer lock held.

        Steps, each reported to ``step`` once done: ``mirrored`` (server mode: the new chunks and
        pieces upserted), ``switched`` (the manifest replaced), ``pruned`` (server mode: ids the
        build no longer has deleted), ``cleaned`` (segments no manifest names, and temporary files
        of dead writers, deleted).

        Args:
            manifest: The new build (its segments already written).
            written: Segments written by this ingest (their chunks are upserted to the server whole,
                so their metadata is current; others only where the server lacks them).
            step: Called with each step's name.
            retire: Server mode: suffixes of collections this index used before (a rebuild's old
                ones, a pre-segment build's), deleted once the switch is done.
        """
        report = step or (lambda name: None)
        if self.chroma_url:
            manifest.mirror = self.mirror_id(create=True)
            self._sync_mirror(manifest, written)
            report("mirrored")
        manifests.write(self.manifest_path, manifest)
        report("switched")
        if self.chroma_url:
            chunk_ids, piece_ids = self._build_ids(manifest)
            self.mirror(manifest.mirror).prune(chunk_ids, piece_ids)
            for old in retire:
                if old and old != manifest.mirror:
                    ChromaMirror(self.chroma_url, old).drop()
            report("pruned")
        self.clean(manifest)
        report("cleaned")

    def _build_ids(self, manifest: Manifest) -> tuple[set[str], set[str]]:
        chunk_ids: set[str] = set()
        piece_ids: set[str] = set()
        for seg in manifest.segments():
            segment = self.read_segment(seg)
            for i, c in enumerate(segment.chunks):
                chunk_ids.add(c.id)
                piece_ids.update(f"{c.id}:{n}" for n in range(int(segment.piece_counts[i])))
        return chunk_ids, piece_ids

    def _sync_mirror(self, manifest: Manifest, written: Sequence[str]) -> None:
        mirror = self.mirror(manifest.mirror)
        mirror.upsert((self.read_segment(seg) for seg in written), self.segments_dir)
        counts = mirror.counts()
        if counts is None or counts[0] < manifest.chunk_count or counts[1] < manifest.piece_count:
            # the server lost some (or was never filled): add what it lacks from the other segments
            fresh = set(written)
            mirror.upsert((self.read_segment(s) for s in manifest.segments() if s not in fresh), self.segments_dir,
                          only_missing=True)

    def clean(self, manifest: Manifest | None) -> list[str]:
        """Delete everything but the live build (call with the writer lock held).

        That is: other segments, temporary files of dead writers, what builds before segments left.

        Returns:
            What was deleted (names relative to the index folder).
        """
        keep = set(manifest.segments()) if manifest else set()
        removed = []
        if self.segments_dir.is_dir():
            for path in self.segments_dir.iterdir():
                if path.name in keep:
                    continue
                if path.name.startswith(TMP_PREFIX) and self._live_tmp(path.name):
                    continue
                if path.is_dir():
                    remove_tree(path)
                else:
                    path.unlink(missing_ok=True)
                removed.append(f"{SEGMENTS}/{path.name}")
        if self.index_dir.is_dir():
            for path in self.index_dir.iterdir():
                name = path.name
                legacy = name in LEGACY or any(path.match(g) for g in LEGACY_GLOBS)
                stale_tmp = name.startswith((".manifest-", ".probe-")) and not self._live_tmp(name)
                if legacy or stale_tmp:
                    if path.is_dir():
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        path.unlink(missing_ok=True)
                    removed.append(name)
        return removed

    @staticmethod
    def _live_tmp(name: str) -> bool:
        """Whether a temporary file belongs to a live process other than this one."""
        match = _TMP_PID.match(name)
        return bool(match) and int(match.group(1)) != os.getpid() and pid_alive(int(match.group(1)))

    def size_bytes(self) -> int:
        """Bytes the index folder takes on disk."""
        total = 0
        for root, _, files in os.walk(self.index_dir):
            for name in files:
                try:
                    total += os.stat(os.path.join(root, name)).st_size
                except OSError:
                    pass
        return total

    def new_mirror_id(self) -> str:
        """Start new collections (a rebuild): the old ones serve readers until the switch."""
        (self.index_dir / MIRROR_ID).unlink(missing_ok=True)
        return self.mirror_id(create=True) or ""

    def legacy_collection(self) -> str | None:
        """The collection suffix a pre-segment build (manifest format 1) named, if that is what is here."""
        try:
            data = json.loads(self.manifest_path.read_bytes().decode("utf-8"))
        except (OSError, ValueError, UnicodeDecodeError):
            return None
        if isinstance(data, dict) and data.get("format") == 1 and isinstance(data.get("collection"), str):
            return data["collection"]
        return None

    def close(self) -> None:
        """Forget the server client (reopened on next use)."""
        if self._mirror is not None:
            self._mirror.close()


__all__ = ["FILES", "Health", "IndexStore", "LoadedIndex", "SegmentData", "SegmentError", "SegmentedRows", "assemble"]
