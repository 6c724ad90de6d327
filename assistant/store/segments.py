"""One note file's share of a build, written once and never changed: its segment folder.

A segment holds everything a query needs from one note file: the chunks (text, heading path,
lines), their piece texts, vectors (chunk, pieces, and the contextual vectors of their content word
pieces for late interaction, with the file line each comes from) and their keyword-token counts
(BM25). Builds share segments: an ingest that changes one file writes one new segment, and the
manifest (`store.manifest`) lists which segments make up the live build.

Layout of ``segments/<id>/``:

- ``meta.json``: source, chunks ``[id, heading path, start line, end line, text]`` (then region,
  region start and region end, for a chunk of a PDF page or notebook cell), the keyword
  vocabulary (words in order of first appearance);
- ``pieces.json``: each chunk's piece texts (only server mode reads them: queries need vectors);
- ``arrays.npz``: chunk vectors, piece vectors, pieces per chunk, token offsets and lines, keyword
  counts (CSR: ``term_indptr``, ``term_ids``, ``term_counts``), each chunk's distinct words of its
  text alone (``text_indptr``, ``text_ids``: near-duplicate checks compare them);
- ``tokens.npy``: the token vectors (float16), memory-mapped by large indexes instead of read.

A segment is written into a temporary folder (``.tmp-<pid>-<random>``), each file flushed to disk,
then renamed into place in one step, so a reader finds either no segment or a whole one.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from assistant.schema import Chunk

SEGMENT_FORMAT = 2
FILES = ("meta.json", "arrays.npz", "tokens.npy", "pieces.json")
TMP_PREFIX = ".tmp-"


@dataclass
class SegmentData:
    """What a build computed for one note file (written by `write_segment`).

    Attributes:
        source: The file, relative to the notes folder.
        chunks: Its chunks in file order.
        pieces: Per chunk, its piece texts (what the dense vectors embed).
        piece_vectors: Per chunk, one unit vector per piece (float32).
        chunk_vectors: Per chunk, the normalized mean of its piece vectors.
        token_vectors: Per chunk, the contextual vectors of its content word pieces.
        token_lines: Per chunk, the file line of each token vector (None when unknown).
        terms: Per chunk, its keyword-token counts (`keyword.term_counts`) of heading path and text.
        text_words: Per chunk, the distinct keyword tokens of its text alone (a subset of ``terms``).
    """

    source: str
    chunks: list[Chunk]
    pieces: list[list[str]]
    piece_vectors: list[np.ndarray]
    chunk_vectors: list[np.ndarray]
    token_vectors: list[np.ndarray]
    token_lines: list[np.ndarray | None]
    terms: list[dict[str, int]]
    text_words: list[set[str]]


@dataclass
class Segment:
    """A segment read back: its chunks and arrays (``tokens`` may be memory-mapped)."""

    id: str
    source: str
    chunks: list[Chunk]
    vocabulary: list[str]
    chunk_vectors: np.ndarray
    piece_vectors: np.ndarray
    piece_counts: np.ndarray
    token_offsets: np.ndarray
    token_lines: np.ndarray | None
    tokens: np.ndarray
    term_indptr: np.ndarray
    term_ids: np.ndarray
    term_counts: np.ndarray
    text_indptr: np.ndarray
    text_ids: np.ndarray

    def pieces(self, folder: Path) -> list[list[str]]:
        """Each chunk's piece texts (read on demand: only the server mirror needs them)."""
        try:
            pieces = json.loads((folder / self.id / FILES[3]).read_bytes().decode("utf-8"))
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise SegmentError(f"segment {self.id} is unreadable ({type(exc).__name__}: {exc})") from None
        if len(pieces) != len(self.chunks) or any(len(p) != n for p, n in zip(pieces, self.piece_counts, strict=True)):
            raise SegmentError(f"segment {self.id} is inconsistent (piece texts do not match its pieces)")
        return pieces

    def chunk_tokens(self, i: int) -> np.ndarray:
        """Chunk i's token vectors (float16 rows)."""
        return self.tokens[self.token_offsets[i] : self.token_offsets[i + 1]]

    def chunk_pieces(self, i: int) -> np.ndarray:
        """Chunk i's piece vectors."""
        return self.piece_vectors[self.piece_offsets[i] : self.piece_offsets[i + 1]]

    @cached_property
    def piece_offsets(self) -> np.ndarray:
        """Chunk i's pieces are rows ``piece_offsets[i]:piece_offsets[i + 1]`` of ``piece_vectors``."""
        return np.concatenate([[0], np.cumsum(self.piece_counts)]).astype(np.int64)

    def chunk_lines(self, i: int) -> np.ndarray | None:
        """The file line of each of chunk i's token vectors, when the build recorded them."""
        if self.token_lines is None:
            return None
        return self.token_lines[self.token_offsets[i] : self.token_offsets[i + 1]]


class SegmentError(Exception):
    """A segment folder is missing, incomplete or inconsistent (the store turns it into our error)."""


_CAST: list = []  # [session or None], built on first use
_CAST_LOCK = threading.Lock()


def _cast_session():
    """An onnxruntime session that casts float16 to float32, or None when it cannot be built."""
    with _CAST_LOCK:
        if not _CAST:
            try:
                import onnxruntime as ort
                from onnx import TensorProto, helper

                graph = helper.make_graph(
                    [helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)], "to_float32",
                    [helper.make_tensor_value_info("x", TensorProto.FLOAT16, [None, None])],
                    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, None])])
                model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
                model.ir_version = 8
                options = ort.SessionOptions()
                options.intra_op_num_threads = 1  # no second thread pool spinning beside the embedder's
                options.log_severity_level = 3
                _CAST.append(ort.InferenceSession(model.SerializeToString(), options,
                                                  providers=["CPUExecutionProvider"]))
            except Exception:  # noqa: BLE001 - only a speed-up: numpy converts instead
                _CAST.append(None)
        return _CAST[0]


def to_float32(rows: np.ndarray) -> np.ndarray:
    """2-D float16 rows as float32, bit for bit as ``rows.astype(np.float32)``, but faster when large.

    numpy converts float16 one value at a time (4.1 ms for 1.3M values here, about what one
    question's candidate token vectors hold at 100x the notes, 2-3 times a question); onnxruntime,
    already loaded for the embedding model, does the same cast vectorized in 0.47 ms. A test
    checks every float16 value.
    """
    if rows.dtype != np.float16 or rows.size < 100_000:
        return rows.astype(np.float32)
    session = _cast_session()
    if session is None:
        return rows.astype(np.float32)
    return session.run(None, {"x": np.ascontiguousarray(rows)})[0]


class TokenFile:
    """A segment's ``tokens.npy`` read by row ranges with ``pread``, neither loaded nor mapped.

    A memory map would do the same with less code, but every page it touches (and the kernel's
    read-ahead around it) counts in the process's resident memory: at 100x the notes a search
    process grew to 1.3 GB after 100 questions. Reading just the candidates' rows keeps it flat.
    The open file also keeps a segment readable after a writer's clean-up deletes it.
    """

    def __init__(self, path: Path) -> None:
        """Open the file and read its header (raises OSError/ValueError when it is not a .npy array)."""
        self._fh = open(path, "rb", buffering=0)  # noqa: SIM115 - kept open for the index's lifetime
        try:
            version = np.lib.format.read_magic(self._fh)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if read_header is None:
                raise ValueError(f".npy format {version} is not one np.save writes")
            shape, fortran, dtype = read_header(self._fh)
        except Exception:
            self._fh.close()
            raise
        if fortran or len(shape) != 2:
            self._fh.close()
            raise ValueError("token vectors must be a C-ordered 2-D array")
        self.shape, self.dtype = (int(shape[0]), int(shape[1])), np.dtype(dtype)
        self._start = self._fh.tell()
        self._row = self.shape[1] * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def read_bytes(self, start: int, stop: int) -> bytes:
        """The raw bytes of rows ``start:stop``."""
        if stop <= start:
            return b""
        size = (stop - start) * self._row
        data = os.pread(self._fh.fileno(), size, self._start + start * self._row)
        if len(data) != size:
            raise SegmentError(f"{self._fh.name} is shorter than its header says")
        return data

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop``."""
        return np.frombuffer(self.read_bytes(start, stop), self.dtype).reshape(-1, self.shape[1])

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, slice):
            start, stop, step = key.indices(self.shape[0])
            if step != 1:
                raise IndexError("only contiguous row ranges")
            return self.read(start, stop)
        rows = np.asarray(key, dtype=np.int64)
        if not len(rows):
            return np.zeros((0, self.shape[1]), self.dtype)
        low = int(rows.min())
        return self.read(low, int(rows.max()) + 1)[rows - low]

    def close(self) -> None:
        """Close the file (also done when the object is collected)."""
        self._fh.close()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write(path: Path, write) -> int:
    with open(path, "wb") as fh:
        write(fh)
        fh.flush()
        os.fsync(fh.fileno())
    return path.stat().st_size


def write_segment(folder: Path, data: SegmentData, dim: int) -> tuple[str, list[int]]:
    """Write one segment under ``folder`` (the index's ``segments/``), atomically.

    Args:
        folder: Where segments live (created if needed).
        data: The file's chunks and vectors.
        dim: Vector width (for a file without chunks).

    Returns:
        The new segment's id and the byte size of each of its `FILES` (the manifest keeps them,
        so a health check can tell a damaged segment by its sizes without reading it).
    """
    folder.mkdir(parents=True, exist_ok=True)
    seg_id = uuid.uuid4().hex[:16]
    tmp = folder / f"{TMP_PREFIX}{os.getpid()}-{seg_id}"
    tmp.mkdir()
    vocab: dict[str, int] = {}
    term_ids: list[int] = []
    term_counts: list[int] = []
    indptr = [0]
    for counts in data.terms:
        for word, n in counts.items():
            term_ids.append(vocab.setdefault(word, len(vocab)))
            term_counts.append(n)
        indptr.append(len(term_ids))
    text_ids = [sorted(vocab[w] for w in words) for words in data.text_words]
    meta = {
        "format": SEGMENT_FORMAT, "source": data.source,
        # a PDF page's or notebook cell's chunk also records its region (older segments have none)
        "chunks": [[c.id, list(c.heading_path), c.start_line, c.end_line, c.text]
                   + ([c.region, c.region_start, c.region_end] if c.region else []) for c in data.chunks],
        "vocabulary": list(vocab),
    }
    sizes = [len(t) for t in data.token_vectors]
    tokens = (np.concatenate(data.token_vectors).astype(np.float16) if sum(sizes)
              else np.zeros((0, dim), np.float16))
    arrays = {
        "chunk_vectors": (np.stack(data.chunk_vectors).astype(np.float32) if data.chunks
                          else np.zeros((0, dim), np.float32)),
        "piece_vectors": (np.concatenate(data.piece_vectors).astype(np.float32) if data.chunks
                          else np.zeros((0, dim), np.float32)),
        "piece_counts": np.array([len(p) for p in data.piece_vectors], dtype=np.int32),
        "token_offsets": np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        "term_indptr": np.array(indptr, dtype=np.int64),
        "term_ids": np.array(term_ids, dtype=np.int32),
        "term_counts": np.array(term_counts, dtype=np.int32),
        "text_indptr": np.concatenate([[0], np.cumsum([len(t) for t in text_ids])]).astype(np.int64),
        "text_ids": np.array([i for t in text_ids for i in t], dtype=np.int32),
    }
    # lines are kept only when every chunk has them and they line up with its token vectors
    if all(lines is not None and len(lines) == n for lines, n in zip(data.token_lines, sizes, strict=True)):
        arrays["token_lines"] = (np.concatenate(data.token_lines).astype(np.int32) if data.chunks
                                 else np.zeros(0, np.int32))
    try:
        written = [
            _write(tmp / FILES[0], lambda fh: fh.write(json.dumps(meta, ensure_ascii=False).encode("utf-8"))),
            _write(tmp / FILES[1], lambda fh: np.savez(fh, **arrays)),
            _write(tmp / FILES[2], lambda fh: np.save(fh, tokens)),
            _write(tmp / FILES[3], lambda fh: fh.write(json.dumps(data.pieces, ensure_ascii=False).encode("utf-8"))),
        ]
        _fsync_dir(tmp)
        os.rename(tmp, folder / seg_id)
        _fsync_dir(folder)
    except BaseException:
        remove_tree(tmp)
        raise
    return seg_id, written


def read_segment(folder: Path, seg_id: str, tokens: str = "memory") -> Segment:
    """Read a segment back and check that its parts agree.

    Args:
        folder: The index's ``segments/``.
        seg_id: The segment's id.
        tokens: How to hold the token vectors: ``memory`` (read), ``mmap`` (memory-mapped: a short
            read of a few chunks' rows, as ingest does) or ``file`` (`TokenFile`: large indexes).

    Raises:
        SegmentError: Missing, unreadable or inconsistent (the message says which).
    """
    path = folder / seg_id
    try:
        meta = json.loads((path / FILES[0]).read_bytes().decode("utf-8"))
        with np.load(path / FILES[1], allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        how = tokens
        tokens = (TokenFile(path / FILES[2]) if how == "file"
                  else np.load(path / FILES[2], mmap_mode="r" if how == "mmap" else None, allow_pickle=False))
    except FileNotFoundError as exc:
        raise SegmentError(f"segment {seg_id} is missing ({Path(exc.filename or path).name})") from None
    except (OSError, ValueError, EOFError, UnicodeDecodeError, KeyError) as exc:
        raise SegmentError(f"segment {seg_id} is unreadable ({type(exc).__name__}: {exc})") from None
    try:
        if meta.get("format") != SEGMENT_FORMAT:
            raise ValueError(f"format {meta.get('format')}, expected {SEGMENT_FORMAT}")
        source = meta["source"]
        chunks = [Chunk(str(cid), source, tuple(path_), int(start), int(end), str(text),
                        str(region[0]) if region else "", int(region[1]) if region else 0,
                        int(region[2]) if len(region) > 2 else 0)
                  for cid, path_, start, end, text, *region in meta["chunks"]]
        n = len(chunks)
        offsets, counts = arrays["token_offsets"], arrays["piece_counts"]
        indptr, term_ids = arrays["term_indptr"], arrays["term_ids"]
        lines = arrays.get("token_lines")
        checks = [
            (len(counts) == n, "pieces"),
            (arrays["chunk_vectors"].shape[0] == n, "chunk vectors"),
            (arrays["piece_vectors"].shape[0] == int(counts.sum()), "piece vectors"),
            (len(offsets) == n + 1 and offsets[0] == 0 and np.all(np.diff(offsets) >= 0)
             and offsets[-1] == len(tokens), "token offsets"),
            (len(tokens.shape) == 2 and arrays["piece_vectors"].ndim == 2
             and tokens.shape[1] == arrays["piece_vectors"].shape[1], "vector widths"),
            (lines is None or (lines.ndim == 1 and len(lines) == len(tokens)), "token lines"),
            (len(indptr) == n + 1 and indptr[-1] == len(term_ids) == len(arrays["term_counts"])
             and (not len(term_ids) or 0 <= term_ids.min() and term_ids.max() < len(meta["vocabulary"])),
             "keyword counts"),
            (len(arrays["text_indptr"]) == n + 1 and arrays["text_indptr"][-1] == len(arrays["text_ids"])
             and (not len(arrays["text_ids"]) or arrays["text_ids"].max() < len(meta["vocabulary"])), "text words"),
        ]
        bad = [what for ok, what in checks if not ok]
        if bad:
            raise ValueError(f"{', '.join(bad)} do not match its {n} chunks")
    except (KeyError, TypeError, ValueError) as exc:
        raise SegmentError(f"segment {seg_id} is inconsistent ({exc})") from None
    return Segment(seg_id, source, chunks, meta["vocabulary"], arrays["chunk_vectors"],
                   arrays["piece_vectors"], counts.astype(np.int64), offsets.astype(np.int64),
                   None if lines is None else lines.astype(np.int64), tokens, indptr.astype(np.int64),
                   term_ids.astype(np.int64), arrays["term_counts"].astype(np.int64),
                   arrays["text_indptr"].astype(np.int64), arrays["text_ids"].astype(np.int64))


def segment_sizes(folder: Path, seg_id: str) -> list[int] | None:
    """Byte sizes of a segment's files, or None when one is missing."""
    try:
        return [(folder / seg_id / name).stat().st_size for name in FILES]
    except OSError:
        return None


def remove_tree(path: Path) -> None:
    """Delete a segment (or temporary) folder; what is already gone is fine."""
    import shutil

    shutil.rmtree(path, ignore_errors=True)
