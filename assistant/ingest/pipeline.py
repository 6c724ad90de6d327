"""The build pipeline: notes in, a new live build out, one note file (one segment) at a time.

`run` is called with the writer lock held, once `core.StudyAssistant.ingest` found something to do
(a no-op ingest never imports this module: it is ~10 ms of a 3 ms job). It keeps the segment
of every file whose bytes and build settings are unchanged, chunks the others, reuses the stored
vectors of their unchanged chunks, embeds the rest in batches across files, writes each file's
segment as soon as its vectors are complete (so memory holds one batch and one file's vectors,
not the whole corpus), and then commits the new manifest (`store.IndexStore.commit`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from assistant.embedding.encoders import Embedder, content_vectors
from assistant.embedding.lines import token_line_numbers
from assistant.errors import CorpusError
from assistant.ingest.chunking import piece_texts
from assistant.schema import Chunk, IngestReport, ProgressArg
from assistant.sources.notes import NoteFile, skip_message
from assistant.sources.views import UnreadableError
from assistant.store import Health, IndexStore, Manifest, SegmentData, SegmentError
from assistant.store.keyword import term_counts
from assistant.text.words import tokens

Step = Callable[[str], None]
EMBED_BATCH = 64  # chunks per call to the model (their pieces are batched again inside it)


@dataclass
class _File:
    """One note file being rebuilt: its chunks, what is reused, what is still to embed."""

    note: NoteFile
    chunks: list[Chunk]
    pieces: list[list[str]]
    reusable: set[str] = field(default_factory=set)  # chunk ids whose stored vectors are reused
    old_segment: str | None = None
    vectors: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # id -> (pieces, tokens)
    lines: dict[str, np.ndarray | None] = field(default_factory=dict)
    extras: Future | None = None  # token lines and keyword counts, worked out beside the model

    @property
    def done(self) -> bool:
        return all(c.id in self.vectors for c in self.chunks)


def _unit(vectors: np.ndarray) -> np.ndarray:
    mean = vectors.mean(axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)


def embedding_key(build: dict) -> tuple:
    """What stored vectors depend on: vectors are reused only where this is unchanged."""
    chunker = build.get("chunker", {})
    return build.get("model"), chunker.get("version"), chunker.get("piece_tokens")


@dataclass
class Pipeline:
    """What a build needs: where to write, how to chunk and embed."""

    store: IndexStore
    build: dict
    chunk: Callable[[NoteFile], list[Chunk]]
    tokenizer: Callable[[], object]  # loaded only when a file is chunked (a no-op ingest never needs it)
    embedder: Callable[[], Embedder]
    dim: int

    def plan(self, notes: list[NoteFile], old: Manifest | None, rebuild: bool,
             health: Health) -> tuple[dict[str, dict], list, dict[str, dict]]:
        """Split the notes into segments kept as they are, files to rebuild, and files still skipped.

        A file found unreadable before (a scanned PDF) whose bytes are unchanged is not read again.
        """
        same = old is not None and old.build == self.build and not rebuild
        keep: dict[str, dict] = {}
        skipped: dict[str, dict] = {}
        todo = []
        for note in notes:
            entry = old.files.get(note.source) if same else None
            unreadable = old.skipped.get(note.source) if same else None
            if entry and entry.get("digest") == note.digest and note.source not in health.damaged:
                keep[note.source] = entry
            elif unreadable and unreadable.get("digest") == note.digest:
                skipped[note.source] = unreadable
            else:
                todo.append(note)
        return keep, todo, skipped

    def run(self, notes: list[NoteFile], warnings: list[str], old: Manifest | None, rebuild: bool,
            progress: ProgressArg, step: Step | None, started: float, health: Health, repaired: list[str],
            retire: Sequence[str] = ()) -> IngestReport:
        """Build and commit; returns what changed.

        ``health`` is what a check of ``old`` found (its damaged files are rebuilt, a mismatched server
        copy synced); ``retire``: see `IndexStore.commit`.
        """
        report = step or (lambda name: None)
        keep, todo, skipped = self.plan(notes, old, rebuild, health)
        old_files = old.files if old is not None else {}
        reuse_ok = old is not None and not rebuild and embedding_key(old.build) == embedding_key(self.build)
        files = []
        for note in todo:
            try:
                files.append(self._prepare(note, old_files.get(note.source) if reuse_ok else None))
            except UnreadableError as exc:  # a PDF, HTML page or notebook found unreadable only now, when read
                skipped[note.source] = {"digest": note.digest, "reason": skip_message(note.source, exc)}
        warnings = [*warnings, *(entry["reason"] for entry in skipped.values())]
        if len(skipped) == len(notes):
            first = next(iter(skipped.values()))["reason"]
            raise CorpusError(f"No notes to index: every file was skipped ({first}).")
        fresh = sum(1 for f in files for c in f.chunks if c.id not in f.reusable)
        entries: dict[str, dict] = {}
        written: list[str] = []
        report("planned")
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-lines") as pool:
            for f in self._embed(files, fresh, progress, pool):
                entry = self.store.write_segment(self._segment(f), self.dim)
                entries[f.note.source] = {"digest": f.note.digest, **entry}
                written.append(entry["segment"])
                f.vectors.clear()  # on disk now: memory holds one batch and one file, not the corpus
                f.lines.clear()
                f.extras = None
                report(f"segment {f.note.source}")
        manifest = Manifest(build=dict(self.build), skipped=skipped)
        for note in notes:  # corpus order
            if note.source not in skipped:
                manifest.files[note.source] = keep.get(note.source) or entries[note.source]
        self.store.commit(manifest, written, step, retire)
        kept = sum(e.get("chunks", 0) for e in keep.values())
        reused = sum(len(f.reusable) for f in files)
        chunks = manifest.chunk_count
        return IngestReport(
            files=len(notes) - len(skipped), chunks=chunks, added=fresh,
            removed=max(0, (old.chunk_count if old is not None else 0) - kept - reused),
            unchanged=kept + reused, seconds=time.perf_counter() - started, warnings=warnings, repaired=repaired,
        )

    def _prepare(self, note: NoteFile, old_entry: dict | None) -> _File:
        """Chunk a file and note which chunks' stored vectors can be reused (read later, when embedding)."""
        chunks = self.chunk(note)
        piece_tokens = self.build["chunker"]["piece_tokens"]
        f = _File(note, chunks, [piece_texts(c, self.tokenizer(), piece_tokens) for c in chunks])
        if old_entry is None:
            return f
        try:
            old = self.store.read_segment(old_entry["segment"])
        except SegmentError:
            return f  # a damaged segment is simply not reused
        wanted = {c.id: len(p) for c, p in zip(chunks, f.pieces, strict=True)}
        f.reusable = {c.id for i, c in enumerate(old.chunks) if wanted.get(c.id) == int(old.piece_counts[i])}
        f.old_segment = old.id if f.reusable else None
        return f

    def _reuse(self, f: _File) -> None:
        """Read the reused chunks' stored vectors (only now: a file's worth at a time in memory)."""
        if not f.old_segment:
            return
        try:
            old = self.store.read_segment(f.old_segment)
        except SegmentError:
            f.reusable.clear()  # vanished since planning (it cannot: we hold the lock); embed instead
            return
        for i, c in enumerate(old.chunks):
            if c.id in f.reusable:
                f.vectors[c.id] = (np.array(old.chunk_pieces(i), np.float32), np.array(old.chunk_tokens(i), np.float32))
                f.lines[c.id] = None if old.token_lines is None else np.array(old.chunk_lines(i))

    def _extras(self, f: _File) -> tuple[list[np.ndarray | None], list[dict[str, int]], list[set[str]]]:
        lines = []
        for c, pieces in zip(f.chunks, f.pieces, strict=True):
            known = f.lines.get(c.id)
            try:
                lines.append(known if known is not None else token_line_numbers(c, pieces, self.tokenizer()))
            except Exception:  # noqa: BLE001 - only a speed-up: the segment then records no lines
                lines.append(None)
        return lines, [term_counts(tokens(c.search_text())) for c in f.chunks], [set(tokens(c.text)) for c in f.chunks]

    def _segment(self, f: _File) -> SegmentData:
        lines, terms, text_words = f.extras.result()
        pieces = [f.vectors[c.id][0] for c in f.chunks]
        return SegmentData(
            source=f.note.source, chunks=f.chunks, pieces=f.pieces, piece_vectors=pieces,
            chunk_vectors=[_unit(p) for p in pieces], token_vectors=[f.vectors[c.id][1] for c in f.chunks],
            token_lines=lines, terms=terms, text_words=text_words,
        )

    def _embed(self, files: list[_File], fresh: int, progress: ProgressArg, pool: ThreadPoolExecutor):
        """Embed what is missing in batches across files; yield each file once its vectors are complete.

        A file's token lines and keyword counts need only the tokenizer: they are worked out in
        ``pool`` while the model embeds (onnxruntime releases the GIL).
        """
        bar = None
        if fresh and progress is True:
            from tqdm import tqdm

            self.embedder()  # load (or convert, once) before the bar starts
            bar = tqdm(total=fresh, desc="Embedding notes", unit="chunk", file=sys.stderr, leave=False)
        done = 0
        queue: list[tuple[_File, Chunk, list[str]]] = []
        pending: list[_File] = []
        try:
            for f in files:
                self._reuse(f)
                f.extras = pool.submit(self._extras, f)
                pending.append(f)
                queue += [(f, c, p) for c, p in zip(f.chunks, f.pieces, strict=True) if c.id not in f.vectors]
                while len(queue) >= EMBED_BATCH:
                    batch, queue = queue[:EMBED_BATCH], queue[EMBED_BATCH:]
                    done += self._embed_batch(batch)
                    self._tick(bar, progress, done, fresh, len(batch))
                    yield from self._complete(pending)
                yield from self._complete(pending)
            if queue:
                done += self._embed_batch(queue)
                self._tick(bar, progress, done, fresh, len(queue))
            yield from self._complete(pending)
        finally:
            if bar is not None:
                bar.close()

    @staticmethod
    def _tick(bar, progress: ProgressArg, done: int, total: int, n: int) -> None:
        if bar is not None:
            bar.update(n)
        elif callable(progress):
            progress(done, total)

    @staticmethod
    def _complete(pending: list[_File]):
        while pending and pending[0].done:
            yield pending.pop(0)

    def _embed_batch(self, batch: list[tuple[_File, Chunk, list[str]]]) -> int:
        flat, states = self.embedder().embed_tokens([t for _, _, pieces in batch for t in pieces])
        at = 0
        for f, c, pieces in batch:
            n = len(pieces)
            kept = content_vectors(states[at : at + n])
            f.vectors[c.id] = (flat[at : at + n], np.concatenate(kept) if kept else np.zeros((0, flat.shape[1])))
            at += n
        return len(batch)
