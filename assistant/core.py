"""StudyAssistant: the one object the CLI, the UI and the eval use (ingest, retrieve)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from assistant.chunking import CHUNKER_VERSION, chunk_text, piece_texts
from assistant.config import Settings, load_settings
from assistant.corpus import load_corpus
from assistant.embeddings import (
    Embedder,
    ModelInfo,
    RecentQuestions,
    WordPieceTokenizer,
    content_vectors,
    load_embedder,
    model_info,
    resolve_model_dir,
)
from assistant.errors import CorpusError, IndexCorruptError, QuestionError
from assistant.index import ChunkStore, Manifest
from assistant.linevectors import token_line_numbers
from assistant.schema import Answer, Chunk, IndexStatus, IngestReport, RetrievedChunk

ProgressArg = bool | Callable[[int, int], None]
MIN_CHUNK_TOKENS = 48
PIECE_TOKENS = 52
_EMBED_BATCH = 64


class StudyAssistant:
    """Notes in, grounded passages out.

    Example:
        >>> sa = StudyAssistant.from_env()
        >>> sa.ingest().added          # doctest: +SKIP
        >>> sa.retrieve("explain concept drift vs data drift", k=5)  # doctest: +SKIP
    """

    def __init__(self, settings: Settings, embedder: Embedder | None = None, **backend_deps: object) -> None:
        """Wrap the settings; the model and the index open lazily on first use.

        Args:
            settings: Built at the edge with `load_settings`.
            embedder: An already loaded embedder to share (tests, long-running apps).
            **backend_deps: Passed to backend factories, e.g. ``client`` (a bedrock-runtime
                client to use instead of one made from the AWS credential chain).
        """
        self.settings = settings
        self.store = ChunkStore(settings.index_dir, settings.chroma_url)
        self._info: ModelInfo | None = embedder.info if embedder else None
        self._tokenizer: WordPieceTokenizer | None = None
        self._embedder = embedder
        self._question_embedder: RecentQuestions | None = None
        self._retriever = None
        self._backends: dict = {}
        self._backend_deps = backend_deps
        self._gate = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env") -> StudyAssistant:
        """Build from environment variables and ``.env`` (see `.env.example`)."""
        return cls(load_settings(environ, env_file))

    # -- model -----------------------------------------------------------------------------
    @property
    def model_info(self) -> ModelInfo:
        """The embedding model's folder, window and fingerprint (no weights loaded)."""
        if self._info is None:
            self._info = model_info(resolve_model_dir(self.settings.embed_model))
        return self._info

    @property
    def tokenizer(self) -> WordPieceTokenizer:
        """The embedding model's tokenizer, used to size chunks."""
        if self._tokenizer is None:
            self._tokenizer = WordPieceTokenizer(self.model_info.path)
        return self._tokenizer

    @property
    def embedder(self) -> Embedder:
        """The embedding engine (loaded on first use)."""
        if self._embedder is None:
            self._embedder = load_embedder(self.model_info, self.settings.embed_engine, self.settings.cache_dir)
        return self._embedder

    @property
    def question_embedder(self) -> Embedder:
        """The embedder for questions: remembers recent ones, so answering embeds each once."""
        if self._question_embedder is None:
            self._question_embedder = RecentQuestions(self.embedder)
        return self._question_embedder

    @property
    def chunker_settings(self) -> dict:
        """Chunking parameters recorded in the manifest; a change re-chunks every file."""
        return {
            "version": CHUNKER_VERSION,
            "max_tokens": min(self.settings.chunk_tokens, self.model_info.window),
            "min_tokens": MIN_CHUNK_TOKENS,
            "piece_tokens": PIECE_TOKENS,
            "token_vectors": True,
            # builds carry a snapshot for fast opening (3: with each token vector's line); an older
            # build is rebuilt once (reusing its vectors, nothing is embedded again)
            "snapshot": 3,
        }

    def chunk_notes(self, notes: Iterable) -> list[Chunk]:
        """Chunk note files with the current settings."""
        params = self.chunker_settings
        return [
            chunk
            for note in notes
            for chunk in chunk_text(note.text, note.source, self.tokenizer, params["max_tokens"], params["min_tokens"])
        ]

    # -- ingest ----------------------------------------------------------------------------
    def ingest(self, rebuild: bool = False, progress: ProgressArg = True) -> IngestReport:
        """Bring the index in line with the notes folder, embedding only new or changed chunks.

        Idempotent: a second run with nothing changed adds and removes nothing (and returns
        in well under a second without opening the database). A run that fails or is killed
        midway leaves the previous index as it was.

        Args:
            rebuild: Re-embed everything; also recovers a damaged index folder.
            progress: True for a progress bar on stderr, False for none, or a callable
                ``(done, total)`` called as chunks are embedded.

        Returns:
            What was added, removed and kept, with the files skipped and why.

        Raises:
            CorpusError: Missing notes folder or nothing readable in it.
            IndexNotWritableError: The index folder cannot be written.
            IndexCorruptError: The index is damaged and ``rebuild`` is False.
        """
        started = time.perf_counter()
        self.store.check_writable()
        notes, warnings = load_corpus(self.settings.corpus_dir, int(self.settings.max_file_mb * 1e6))
        try:
            old = self.store.read_manifest()
            if rebuild:
                self.store.verify(old)
        except IndexCorruptError:
            if not rebuild:
                raise
            # the old index is unreadable, so nothing in it can be lost: start clean
            self.store.wipe()
            self.store.check_writable()
            old = None
        self._retriever = None
        fingerprint, chunker = self.model_info.fingerprint, self.chunker_settings
        digests = {n.source: n.digest for n in notes}
        if (
            not rebuild and old is not None and old.model == fingerprint and old.chunker == chunker
            and {s: f.get("digest") for s, f in old.files.items()} == digests
        ):
            n = old.chunk_count
            return IngestReport(len(notes), n, 0, 0, n, time.perf_counter() - started, warnings)

        chunks = self.chunk_notes(notes)
        pieces = {c.id: piece_texts(c, self.tokenizer, chunker["piece_tokens"]) for c in chunks}
        same_model = old is not None and old.model == fingerprint
        reuse = {} if rebuild or not same_model else self.store.stored_vectors(old, [c.id for c in chunks])
        reuse = {cid: v for cid, v in reuse.items() if len(v[0]) == len(pieces[cid])}
        if old is None:
            # Chroma takes ~1-2 s to import and open; do it while the model embeds (onnxruntime
            # releases the GIL), instead of after. Errors resurface when build() opens it.
            warm = threading.Thread(target=self._open_quietly, daemon=True)
            warm.start()
        fresh = [c for c in chunks if c.id not in reuse]
        # the file line of each token vector, for per-line scoring at query time (a query process
        # would otherwise tokenize each passage again: 2-4 ms a passage). Worked out while the
        # model embeds (onnxruntime releases the GIL), as the Chroma warm-up above is.
        lines: dict[str, np.ndarray | None] = {}
        liner = threading.Thread(target=self._token_lines, args=(chunks, pieces, lines), daemon=True)
        liner.start()
        vectors = {**reuse, **self._embed(fresh, pieces, progress)}
        liner.join()
        counts: dict[str, int] = {}
        for c in chunks:
            counts[c.source] = counts.get(c.source, 0) + 1
        manifest = Manifest(
            collection="", model=fingerprint, chunker=chunker,
            files={s: {"digest": digests[s], "chunks": counts.get(s, 0)} for s in digests},
        )
        self.store.build(chunks, pieces, vectors, manifest, lines)
        return IngestReport(
            files=len(notes), chunks=len(chunks), added=len(fresh),
            removed=(old.chunk_count if old else 0) - len(reuse), unchanged=len(reuse),
            seconds=time.perf_counter() - started, warnings=warnings,
        )

    def _token_lines(self, chunks: list[Chunk], pieces: dict[str, list[str]],
                     out: dict[str, np.ndarray | None]) -> None:
        try:
            for c in chunks:
                out[c.id] = token_line_numbers(c, pieces[c.id], self.tokenizer)
        except Exception:  # noqa: BLE001 - only a speed-up: the build then records no lines
            out.clear()

    def _open_quietly(self) -> None:
        try:
            self.store.client()
        except Exception:  # noqa: BLE001 - reported by the main thread's own call
            pass

    def _embed(
        self, chunks: list[Chunk], pieces: dict[str, list[str]], progress: ProgressArg,
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per chunk: its piece vectors and its content-token vectors, with a progress bar per batch."""
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if not chunks:
            return out
        embedder = self.embedder  # load (or convert, once) before the bar starts
        bar = None
        if progress is True:
            from tqdm import tqdm

            bar = tqdm(total=len(chunks), desc="Embedding notes", unit="chunk", file=sys.stderr, leave=False)
        try:
            for i in range(0, len(chunks), _EMBED_BATCH):
                batch = chunks[i : i + _EMBED_BATCH]
                flat, states = embedder.embed_tokens([t for c in batch for t in pieces[c.id]])
                at = 0
                for c in batch:
                    n = len(pieces[c.id])
                    kept = content_vectors(states[at : at + n])
                    out[c.id] = (flat[at : at + n], np.concatenate(kept) if kept else np.zeros((0, flat.shape[1])))
                    at += n
                if bar is not None:
                    bar.update(len(batch))
                elif callable(progress):
                    progress(len(out), len(chunks))
        finally:
            if bar is not None:
                bar.close()
        return out

    # -- retrieve --------------------------------------------------------------------------
    def _ensure_retriever(self):
        if self._retriever is None:
            manifest = self.store.read_manifest()
            if manifest is None:
                self.ingest(progress=True)
                manifest = self.store.read_manifest()
            from assistant.retrieval import Retriever

            self._retriever = Retriever(self.store.load(manifest), self.question_embedder, tokenizer=self.tokenizer,
                                        piece_tokens=self.chunker_settings["piece_tokens"])
        return self._retriever

    def retrieve(self, question: str, k: int | None = None, hybrid: bool | None = None) -> list[RetrievedChunk]:
        """The passages of the notes most relevant to a question, best first.

        Builds the index first (with a progress bar) if there is none yet.

        Args:
            question: The student's question.
            k: How many passages (default: ``ASSISTANT_TOP_K``).
            hybrid: Fuse keyword search with dense search (default: ``ASSISTANT_HYBRID``).

        Raises:
            QuestionError: The question is empty, or k is not positive.
        """
        if not question or not question.strip():
            raise QuestionError("The question is empty: type what you want to find in your notes.")
        k = self.settings.top_k if k is None else k
        if k < 1:
            raise QuestionError(f"k must be 1 or more (got {k}).")
        hybrid = self.settings.hybrid if hybrid is None else hybrid
        return self._ensure_retriever().search(question.strip(), k=k, mode="hybrid" if hybrid else "dense")

    @property
    def retriever(self):
        """The loaded `Retriever` (builds the index first if there is none)."""
        return self._ensure_retriever()

    def chunks(self) -> list[Chunk]:
        """Every indexed chunk (for status pages and evaluation)."""
        return list(self._ensure_retriever().chunks)

    def vectors(self) -> np.ndarray:
        """The stored vectors, row-aligned with `chunks()`."""
        return self._ensure_retriever().vectors

    def status(self) -> IndexStatus:
        """What is indexed and whether it is stale: notes, model or chunking changed since the last ingest."""
        manifest = self.store.read_manifest()
        stale: bool | None
        try:
            notes, _ = load_corpus(self.settings.corpus_dir, int(self.settings.max_file_mb * 1e6))
            current = {n.source: n.digest for n in notes}
        except CorpusError:
            current = None
        if manifest is None:
            stale = True if current else None
        elif current is None:
            stale = None
        else:
            stale = (
                current != {s: f.get("digest") for s, f in manifest.files.items()}
                or manifest.model != self.model_info.fingerprint or manifest.chunker != self.chunker_settings
            )
        return IndexStatus(
            corpus_dir=str(self.settings.corpus_dir), index_dir=str(self.settings.index_dir),
            store=self.settings.chroma_url or str(self.settings.index_dir / "chroma"),
            files=len(manifest.files) if manifest else 0, chunks=manifest.chunk_count if manifest else 0,
            updated=manifest.updated if manifest else None, stale=stale, model=str(self.model_info.path),
        )

    # -- answer ----------------------------------------------------------------------------
    @property
    def vocabulary(self):
        """What the notes contain, for the coverage gate (built once per loaded index)."""
        return self._ensure_retriever().vocabulary

    def line_vectors(self, chunk: RetrievedChunk) -> dict[int, np.ndarray] | None:
        """A passage's stored token vectors per file line; None when there are none.

        A stitched passage (neighbouring chunks of one section) gets its chunks' lines together;
        a line missing from the result (its chunk's vectors don't line up) is embedded by the caller.
        """
        retriever = self._ensure_retriever()
        merged: dict[int, np.ndarray] = {}
        for pos in retriever.parts(chunk):
            merged.update(retriever.line_rows(pos) or {})
        return merged or None

    def coverage_evidence(self, question: str, hits: list[RetrievedChunk]) -> dict[str, float]:
        """The coverage gate's features for a question and its passages (see `abstention`)."""
        from assistant.abstention import evidence

        return evidence(question, hits, self.vocabulary)

    def backend(self, name: str | None = None):
        """The answer backend by name (default ``ASSISTANT_BACKEND``), created once and kept warm.

        Raises:
            BackendConfigError: Unknown name (lists the available ones) or not set up.
        """
        from assistant.backends import create_backend

        key = (name or self.settings.backend).strip().lower()
        if key not in self._backends:
            self._backends[key] = create_backend(key, self.settings, embedder=lambda: self.question_embedder,
                                                 line_vectors=self.line_vectors, **self._backend_deps)
        return self._backends[key]

    def _parts(self):
        from assistant.abstention import load_gate
        from assistant.answering import ChainParts
        from assistant.tokens import count_messages, count_tokens

        if self._gate is None:
            self._gate = load_gate()
        tiktoken_dir = str(self.settings.cache_dir / "tiktoken")
        return ChainParts(
            retrieve=lambda q, k, hybrid: self.retrieve(q, k=k, hybrid=hybrid),
            vocabulary=self.vocabulary, gate=self._gate,
            count_messages=lambda messages: count_messages(messages, tiktoken_dir),
            count_text=lambda text: count_tokens(text, tiktoken_dir),
        )

    def stream(
        self, question: str, history: Sequence[Mapping[str, str]] | None = None, backend: str | None = None,
        prompt: str | None = None, k: int | None = None, hybrid: bool | None = None,
    ) -> Iterator[str | Answer]:
        """Answer a question, yielding text pieces as they are generated and then the final `Answer`.

        Args:
            question: The student's question.
            history: Earlier messages, oldest first: dicts with ``role`` (``user`` or
                ``assistant``) and ``content``. A follow-up is rewritten with it before retrieval.
            backend: Backend name (default ``ASSISTANT_BACKEND``).
            prompt: Prompt template name (default ``ASSISTANT_PROMPT``).
            k: Passages to retrieve.
            hybrid: Keyword + dense retrieval.

        Raises:
            QuestionError: Empty question.
            ConfigError: Unknown backend or prompt (the message lists the available ones).
            BackendError: The backend failed; ``partial`` holds the text streamed before it.
        """
        from assistant.answering import run

        engine = self.backend(backend)
        yield from run(question, engine, prompt or self.settings.prompt, self._parts(), history=history, k=k,
                       hybrid=hybrid, max_tokens=self.settings.max_tokens, temperature=self.settings.temperature)

    def answer(
        self, question: str, history: Sequence[Mapping[str, str]] | None = None, backend: str | None = None,
        prompt: str | None = None, k: int | None = None, hybrid: bool | None = None,
    ) -> Answer:
        """Answer a question from the notes, with citations, or say the notes don't cover it.

        Same arguments and errors as `stream`; returns only the final `Answer`.
        """
        final = None
        for event in self.stream(question, history=history, backend=backend, prompt=prompt, k=k, hybrid=hybrid):
            if isinstance(event, Answer):
                final = event
        assert final is not None  # run() always ends with an Answer
        return final

    def close(self) -> None:
        """Release the index and backends (the folder can then be removed or rebuilt by another process)."""
        for engine in self._backends.values():
            engine.close()
        self._backends.clear()
        self._retriever = None
        self.store.close()
