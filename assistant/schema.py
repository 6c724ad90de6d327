"""Typed data shapes shared by the index, retrieval, CLI, UI and eval (no logic here)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

# an ingest's progress: True for a bar on stderr, False for none, or a callable (done, total)
ProgressArg = bool | Callable[[int, int], None]
# a web page's file names (the readers' list, `sources.views`, takes it from here: citing one differs)
HTML_SUFFIXES = (".html", ".htm")


def cited_by_lines(source: str) -> bool:
    """Whether a reader finds a note's passages by line number: not on a web page, which a browser shows without any.

    Text notes are numbered by an editor, PDF pages and notebook cells are counted by the student; an
    HTML page's lines are those of the text it was converted to, which only the app shows.
    """
    return not source.lower().endswith(HTML_SUFFIXES)


def place(source: str, start: int, end: int, region: str = "", region_start: int = 0, region_end: int = 0) -> str:
    """A file and line range as a reader says it: ``a.md, lines 3-5``, ``a.pdf, page 3, line 4``, ``a.html``.

    Lines ``start..end`` are lines of the note's view; within a region (a PDF page, a notebook cell)
    they are counted from the region's first line, which is where the student finds them, and never
    beyond its last (``region_end``, a view line; 0 when an older index did not record it). A web page
    is named alone: the heading path every caller shows beside a place names its section, and the
    quote is what the student searches for in the browser (see docs/decisions/0007-note-formats.md).
    """
    if not region and not cited_by_lines(source):
        return source
    if region:  # region_start may be 0 or less: a cell whose blank first lines the view dropped
        # a code cell's fences are the view's, not the cell's: a range over them is clamped to the cell
        if region_end:
            start, end = min(start, region_end), min(end, region_end)
        start = max(1, start - region_start + 1)
        end = max(start, end - region_start + 1)
        return f"{source}, {region}, {_span(start, end)}"
    return f"{source}, {_span(start, end)}"


def shown_place(source: str, start: int, end: int, region: str = "", region_start: int = 0,
                region_end: int = 0) -> str:
    """`place`, under a passage shown with its lines numbered as indexed (the app's passage view).

    There a web page's lines are named too, as lines of its text (``a.html, text lines 3-5``): they
    are the numbers beside the text shown, not lines of the file.
    """
    if region or cited_by_lines(source):
        return place(source, start, end, region, region_start, region_end)
    return f"{source}, text {_span(start, end)}"


def _span(start: int, end: int) -> str:
    return f"line {start}" if end <= start else f"lines {start}-{end}"


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
        region: The page or cell the lines belong to (``page 3``, ``cell 5``) in a PDF or
            notebook, whose lines are those of its markdown view; empty for other notes.
        region_start: The view line counted as line 1 of the region: line ``n`` is line
            ``n - region_start + 1`` of its page or cell (0 when there is no region).
        region_end: The view line that is the region's last line as the student counts it (a code
            cell's closing fence is the view's, after it); 0 when there is no region or it was not recorded.
    """

    id: str
    source: str
    heading_path: tuple[str, ...]
    start_line: int
    end_line: int
    text: str
    region: str = ""
    region_start: int = 0
    region_end: int = 0

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
    """A passage returned by retrieval, with its fused relevance score (higher is better).

    A passage is one chunk, or neighbouring chunks of one section that ranked among the top
    results together, returned as one run of lines (see `retrieval.STITCH_VECTORS`).

    Attributes:
        id: Content hash of (source, heading path, text): the chunk's own id for a single chunk.
        text: The passage's lines (blank lines between stitched chunks come back empty).
        source: File path relative to the corpus folder.
        heading_path: Heading path from the document top.
        start_line: 1-based first line.
        end_line: 1-based last line (inclusive).
        score: Fused retrieval score in [0, 1] (normalized dense + BM25; comparable within one query).
        similarity: Cosine similarity of the chunk to the question (dense evidence; used
            to judge whether the notes cover a question at all).
        region: The page or cell of a PDF or notebook (see `Chunk.region`); empty otherwise.
        region_start: The view line counted as line 1 of the region (see `Chunk.region_start`).
        region_end: The view line counted as the region's last line (see `Chunk.region_end`).
    """

    id: str
    text: str
    source: str
    heading_path: list[str]
    start_line: int
    end_line: int
    score: float
    similarity: float = 0.0
    region: str = ""
    region_start: int = 0
    region_end: int = 0

    def place(self, start: int | None = None, end: int | None = None) -> str:
        """Where lines of this passage are, as a reader finds them.

        ``notes.md, lines 3-5``, or ``slides.pdf, page 3, lines 4-9`` (counted on the page or in the cell).

        Args:
            start: First line (view line number; default: the passage's first).
            end: Last line (default: the passage's last).
        """
        return place(self.source, self.start_line if start is None else start,
                     self.end_line if end is None else end, self.region, self.region_start, self.region_end)

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
            "region": self.region,
            "region_start": self.region_start,
            "region_end": self.region_end,
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
        repaired: One line per problem of the index found and repaired by this run.
    """

    files: int = 0
    chunks: int = 0
    added: int = 0
    removed: int = 0
    unchanged: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

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
        store: Where vectors live: the index folder, or also the Chroma server's URL.
        files: Note files in the index.
        chunks: Chunks in the index.
        updated: Unix time of the last ingest that changed something (None: never built).
        stale: Notes were added, changed or removed since, or a setting the vectors depend on
            changed (None when the notes folder is unreadable).
        model: The embedding model folder.
        problems: What is wrong with the index (damaged or missing parts, an older format), each
            repaired by a plain `assistant ingest`; empty when it is healthy.
        busy: Another process is updating the index right now.
        skipped: Files the last ingest found but could not read (a scanned PDF...), one line each
            saying why.
    """

    corpus_dir: str
    index_dir: str
    store: str
    files: int
    chunks: int
    updated: float | None
    stale: bool | None
    model: str
    problems: tuple[str, ...] = ()
    busy: bool = False
    skipped: tuple[str, ...] = ()

    @property
    def needs_ingest(self) -> bool:
        """Whether an ingest would change anything (notes or settings changed, or a repair is due)."""
        return bool(self.stale) or bool(self.problems)


@dataclass(frozen=True)
class Citation:
    """One ``[n]`` marker of an answer, resolved to the passage it points at.

    Attributes:
        n: The marker's number as the answer shows it: citations are numbered 1..n in order of
            first use (the backend numbered the passages by rank: see `parse_citations`).
        chunk: The cited passage.
        quote: The sentence(s) of the passage the answer relies on, verbatim from
            ``chunk.text`` (empty when the backend gave no checkable quote).
        start_line: 1-based line of the file where the quote starts (the chunk's first
            line when there is no quote).
        end_line: 1-based line where the quote ends.
    """

    n: int
    chunk: RetrievedChunk
    quote: str = ""
    start_line: int = 0
    end_line: int = 0

    def to_dict(self) -> dict:
        """A JSON-ready dict (the chunk nested)."""
        return {
            "n": self.n,
            "quote": self.quote,
            "start_line": self.start_line or self.chunk.start_line,
            "end_line": self.end_line or self.chunk.end_line,
            "chunk": self.chunk.to_dict(),
        }


@dataclass(frozen=True)
class Retraction:
    """A stream event: the text streamed for this answer so far is withdrawn.

    An LLM attempt that failed its checks; the pieces after the event replace it.

    Attributes:
        reason: One line for the reader: what was wrong and what happens instead.
    """

    reason: str


@dataclass
class Answer:
    """A grounded answer: text with ``[n]`` markers, the passages they cite, and how it was made.

    Attributes:
        text: Markdown with ``[n]`` citation markers (or the abstention message).
        citations: One per distinct marker that survived checking, in order of first use (numbered 1..n).
        abstained: True when the notes don't cover the question.
        backend: Name of the backend that wrote it.
        prompt: Name of the prompt template used.
        seconds: Wall time from question to final answer.
        question: The question as asked.
        standalone_question: The question retrieval actually used (a follow-up rewritten
            with its context; equal to ``question`` otherwise).
        contexts: The passages the backend was given, in the order it numbered them (by rank).
        closest_topics: When abstaining: heading paths of the nearest notes, to ask about instead.
        notice: A line for the reader about how the answer was made (e.g. quoted, not written).
        tokens_in: Prompt tokens sent to an LLM backend (0 for extractive).
        tokens_out: Tokens generated by an LLM backend (0 for extractive).
        dropped_markers: ``[n]`` markers removed because they named no passage.
        unverified_quotes: Quotations in the text not found in the passage they cite.
        evidence: The retrieval evidence the "do the notes cover this" decision used.
        checks: How an LLM answer was checked (`validation.CheckRecord.to_dict`: outcome,
            attempts, problems, markers, supported); empty for the extractive backend.
        practice: For a pasted practice question, the checker's verdict
            (`study.checker.PracticeResult.to_dict`: pick, reason, options); empty otherwise.
    """

    text: str
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False
    backend: str = ""
    prompt: str = ""
    seconds: float = 0.0
    question: str = ""
    standalone_question: str = ""
    contexts: list[RetrievedChunk] = field(default_factory=list)
    closest_topics: list[str] = field(default_factory=list)
    notice: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    dropped_markers: list[int] = field(default_factory=list)
    unverified_quotes: list[str] = field(default_factory=list)
    evidence: dict = field(default_factory=dict)
    checks: dict = field(default_factory=dict)
    practice: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """A JSON-ready dict of every field."""
        return {
            "question": self.question,
            "standalone_question": self.standalone_question,
            "text": self.text,
            "abstained": self.abstained,
            "backend": self.backend,
            "prompt": self.prompt,
            "seconds": round(self.seconds, 4),
            "notice": self.notice,
            "closest_topics": list(self.closest_topics),
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "dropped_markers": list(self.dropped_markers),
            "unverified_quotes": list(self.unverified_quotes),
            "evidence": dict(self.evidence),
            "checks": dict(self.checks),
            "practice": dict(self.practice),
            "citations": [c.to_dict() for c in self.citations],
            "contexts": [c.to_dict() for c in self.contexts],
        }
