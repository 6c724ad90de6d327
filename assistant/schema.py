"""Typed data shapes shared by the index, retrieval, CLI, UI and eval (no logic here)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Chunk:
    """A contiguous run of lines of one note file, under one heading path.

    Attributes:
        id: Content hash of (source, heading path, text); stable across line shifts.
        source: Path of the file relative to the corpus folder, with forward slashes.
        heading_path: Headings from the top of the document down to this chunk.
        start_line: 1-based first line of the chunk in the file.
        end_line: 1-based last line (inclusive).
        text: The exact lines ``start_line..end_line`` joined with newlines (for an
            over-long single line split into pieces, the piece of that line).
    """

    id: str
    source: str
    heading_path: tuple[str, ...]
    start_line: int
    end_line: int
    text: str

    @property
    def heading(self) -> str:
        """The heading path joined for display, e.g. ``A › B``."""
        return " › ".join(self.heading_path)

    def search_text(self) -> str:
        """Text for keyword search: heading context, then the lines."""
        if not self.heading_path:
            return self.text
        return f"{self.heading}\n{self.text}"


@dataclass(frozen=True)
class RetrievedChunk:
    """A chunk returned by retrieval, with its fused relevance score (higher is better).

    Attributes:
        id: The chunk's content-hash id.
        text: The chunk's lines.
        source: File path relative to the corpus folder.
        heading_path: Heading path from the document top.
        start_line: 1-based first line.
        end_line: 1-based last line (inclusive).
        score: Fused retrieval score in [0, 1] (normalized dense + BM25; comparable within one query).
        similarity: Cosine similarity of the chunk to the question (dense evidence; used
            to judge whether the notes cover a question at all).
    """

    id: str
    text: str
    source: str
    heading_path: list[str]
    start_line: int
    end_line: int
    score: float
    similarity: float = 0.0

    @property
    def heading(self) -> str:
        """The heading path joined for display, e.g. ``A › B``."""
        return " › ".join(self.heading_path)

    def to_dict(self) -> dict:
        """A JSON-ready dict of every field."""
        return {
            "id": self.id,
            "text": self.text,
            "source": self.source,
            "heading_path": list(self.heading_path),
            "start_line": self.start_line,
            "end_line": self.end_line,
            "score": self.score,
            "similarity": self.similarity,
        }


@dataclass
class IngestReport:
    """What one ingest run did.

    Attributes:
        files: Number of note files indexed.
        chunks: Number of chunks in the index after the run.
        added: Chunks embedded and added.
        removed: Chunks deleted (from changed or removed files).
        unchanged: Chunks kept as they were (embeddings reused).
        seconds: Wall time of the run.
        warnings: One line per file that was skipped or read with a caveat.
    """

    files: int = 0
    chunks: int = 0
    added: int = 0
    removed: int = 0
    unchanged: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """The one-line summary printed at the end of an ingest."""
        return (
            f"Indexed {self.files} file(s): {self.chunks} chunks "
            f"({self.added} added, {self.removed} removed, {self.unchanged} unchanged) "
            f"in {self.seconds:.1f} s"
        )


@dataclass(frozen=True)
class IndexStatus:
    """What the index holds, for `assistant status` and the UI's sidebar.

    Attributes:
        corpus_dir: The notes folder.
        index_dir: The index folder.
        store: Where vectors live: the local Chroma folder or the server URL.
        files: Note files in the index.
        chunks: Chunks in the index.
        updated: Unix time of the last ingest that changed something (None: never built).
        stale: Notes were added, changed or removed since (None when the folder is unreadable).
        model: The embedding model folder.
    """

    corpus_dir: str
    index_dir: str
    store: str
    files: int
    chunks: int
    updated: float | None
    stale: bool | None
    model: str
