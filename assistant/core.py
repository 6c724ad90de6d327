"""StudyAssistant: the one object the CLI, the UI and the eval use (ingest, retrieve)."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from assistant import tuning
from assistant.config import Settings, load_settings
from assistant.embedding.encoders import Embedder, RecentQuestions, load_embedder
from assistant.embedding.model import ModelInfo, model_info, resolve_model_dir
from assistant.embedding.tokenizer import WordPieceTokenizer
from assistant.errors import CorpusError, IndexCorruptError, QuestionError
from assistant.ingest.chunking import CHUNKER_VERSION, chunk_text
from assistant.ingest.plan import plan
from assistant.ingest.regions import split_by_region
from assistant.schema import Answer, Chunk, IndexStatus, IngestReport, ProgressArg, Retraction, RetrievedChunk
from assistant.sources.notes import NoteFile, load_corpus
from assistant.sources.views import READERS_VERSION
from assistant.store import IndexStore
from assistant.store.segments import SEGMENT_FORMAT


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
        self.store = IndexStore(settings.index_dir, settings.chroma_url)
        self._info: ModelInfo | None = embedder.info if embedder else None
        self._tokenizer: WordPieceTokenizer | None = None
        self._embedder = embedder
        self._question_embedder: RecentQuestions | None = None
        self._retriever = None
        self._retriever_key: tuple | None = None
        self._retriever_lock = threading.RLock()  # the app answers several browser sessions at once
        self._vocabulary = None
        self._vocabulary_lock = threading.Lock()
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
            self._info = model_info(resolve_model_dir(self.settings.embed_model), self.settings.cache_dir)
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
            "min_tokens": tuning.MIN_CHUNK_TOKENS,
            "piece_tokens": tuning.PIECE_TOKENS,
            "readers": READERS_VERSION,
        }

    @property
    def build_settings(self) -> dict:
        """Everything a build's vectors depend on (kept in the manifest): a change rebuilds the index.

        The embedding model by content fingerprint, the chunker's version and sizes, the segment format.
        """
        return {"model": self.model_info.fingerprint, "chunker": self.chunker_settings, "segments": SEGMENT_FORMAT}

    def _chunk_note(self, note: NoteFile) -> list[Chunk]:
        """A note's chunks; a PDF, HTML page or notebook through its markdown view, cut at its pages or cells.

        Raises:
            UnreadableError: The file cannot be read (the pipeline skips it with the reason).
        """
        params = self.chunker_settings
        view = note.view()
        chunks = chunk_text(view.text, note.source, self.tokenizer, params["max_tokens"], params["min_tokens"],
                            markdown=True if note.converted else None)
        return split_by_region(chunks, view.regions)

    # -- ingest ----------------------------------------------------------------------------
    def ingest(self, rebuild: bool = False, progress: ProgressArg = True, wait: bool | float = True,
               step: Callable[[str], None] | None = None) -> IngestReport:
        """Bring the index in line with the notes folder, embedding only new or changed chunks.

        Idempotent: a second run with nothing changed adds and removes nothing (and returns in
        well under a second). It also repairs: a damaged or missing part of the index, or a
        manifest from an older version, is rebuilt from the notes. One writer at a time: the
        index folder's writer lock is held throughout. A run that fails or is killed midway
        leaves the previous build serving queries, and the next run cleans up after it.

        Args:
            rebuild: Re-embed everything.
            progress: True for a progress bar on stderr, False for none, or a callable
                ``(done, total)`` called as chunks are embedded.
            wait: If another process is writing the index: True to wait for it, False to raise
                `IndexBusyError` at once, or seconds to wait at most.
            step: Called with the name of each durable write step once done (``planned``,
                ``segment <file>`` per file written, then those of `IndexStore.commit`).

        Returns:
            What was added, removed and kept, files skipped and why, what was repaired.

        Raises:
            CorpusError: Missing notes folder or nothing readable in it.
            IndexNotWritableError: The index folder cannot be written.
            IndexBusyError: Another process is writing and ``wait`` ran out.
            IndexUnavailableError: Server mode: the Chroma server failed (the index in use is unchanged).
        """
        started = time.perf_counter()
        # the lock is a file lock (flock): other processes and this process's other threads (the app's
        # browser sessions) are excluded alike
        with self.store.lock.hold(wait):
            self.store.check_writable()
            notes, warnings = load_corpus(self.settings.corpus_dir, int(self.settings.max_file_mb * 1e6))
            build = self.build_settings
            todo = plan(self.store, notes, build, rebuild, bool(self.settings.chroma_url))
            if todo.noop:
                self.store.clean(todo.old)  # nothing to build; what a dead writer left still goes
                n = todo.old.chunk_count
                return IngestReport(len(todo.old.files), n, 0, 0, n, time.perf_counter() - started,
                                    warnings + todo.old.skip_reasons())
            from assistant.ingest.pipeline import Pipeline

            pipeline = Pipeline(self.store, build, self._chunk_note, lambda: self.tokenizer,
                                lambda: self.embedder, self.model_info.dim)
            report = pipeline.run(notes, warnings, todo.old, rebuild, progress, step, started, todo.health,
                                  todo.repaired, todo.retire)
        with self._retriever_lock:
            self._retriever = None
        return report

    # -- retrieve --------------------------------------------------------------------------
    def _manifest_key(self) -> tuple | None:
        try:
            st = self.store.manifest_path.stat()
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def _ensure_retriever(self):
        """The retriever over the live build; reloaded when another process switched the build."""
        with self._retriever_lock:
            key = self._manifest_key()
            if self._retriever is not None and key == self._retriever_key:
                return self._retriever
            index = self.store.open_live(self.model_info.dim)
            if index is None:
                self.ingest(progress=True)
                key = self._manifest_key()
                index = self.store.open_live(self.model_info.dim)
                if index is None:
                    raise IndexCorruptError(f"The index in {self.settings.index_dir} vanished while it was "
                                            "being built. Run `assistant ingest` again.")
            from assistant.retrieval.retriever import Retriever

            self._retriever = Retriever(index, self.question_embedder, tokenizer=self.tokenizer,
                                        piece_tokens=self.chunker_settings["piece_tokens"])
            self._retriever_key = key
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

    def region_text(self, source: str, region: str) -> tuple[str, int, int] | None:
        """One page of an indexed PDF or one cell of a notebook, as indexed, and the numbers of its lines.

        Rebuilt from the index's chunks (they hold every line with text; blank lines come back
        empty), so showing a cited page needs no re-reading of the file.

        Returns:
            The text; its first line's number as the page or cell counts it (1, or 0 for a code cell,
            whose text opens with the view's fence line); and the number of the region's last line as
            counted (a code cell's closing fence comes after it; 0 when an older index did not record
            it). None if the index has no such page or cell.
        """
        chunks = [c for c in self._ensure_retriever().chunks if c.source == source and c.region == region]
        if not chunks:
            return None
        lines: dict[int, str] = {}
        for c in chunks:  # file order: pieces of one over-long line come in order and concatenate back
            for n, line in enumerate(c.text.split("\n"), start=c.start_line):
                lines[n] = lines.get(n, "") + line if c.start_line == c.end_line else line
        first, last = min(lines), max(lines)
        origin, end = chunks[0].region_start, chunks[0].region_end
        return ("\n".join(lines.get(n, "") for n in range(first, last + 1)), first - origin + 1,
                end - origin + 1 if end else 0)

    def vectors(self) -> np.ndarray:
        """The stored vectors, row-aligned with `chunks()`."""
        return self._ensure_retriever().vectors

    def status(self) -> IndexStatus:
        """What is indexed, whether it is stale (notes or settings changed) and healthy, and whether it is busy."""
        problems: list[str] = []
        try:
            manifest = self.store.read_manifest()
        except IndexCorruptError as exc:
            manifest, problems = None, [str(exc).split(". Run `")[0]]  # what to run is the caller's to say
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
            stale = current != manifest.digests() or manifest.build != self.build_settings
        if manifest is not None:
            problems += self.store.problems(manifest)
        store = str(self.store.index_dir)
        if self.settings.chroma_url:
            store += f" and the Chroma server at {self.settings.chroma_url}"
        return IndexStatus(
            corpus_dir=str(self.settings.corpus_dir), index_dir=str(self.settings.index_dir), store=store,
            files=len(manifest.files) if manifest else 0, chunks=manifest.chunk_count if manifest else 0,
            updated=manifest.updated if manifest else None, stale=stale, model=str(self.model_info.path),
            problems=tuple(problems), busy=self.store.lock.busy(),
            skipped=tuple(manifest.skip_reasons()) if manifest else (),
        )

    # -- answer ----------------------------------------------------------------------------
    @property
    def vocabulary(self):
        """What the notes contain, for the coverage gate (built on first use, once per loaded index)."""
        retriever = self._ensure_retriever()
        with self._vocabulary_lock:
            if self._vocabulary is None or self._vocabulary[0] is not retriever:
                from assistant.answer.gate import Vocabulary

                self._vocabulary = (retriever, Vocabulary.of_index(retriever.index))
            return self._vocabulary[1]

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
        from assistant.answer.gate import evidence

        return evidence(question, hits, self.vocabulary, self.question_embedder)

    def _counters(self):
        from assistant.answer.tokens import count_messages, count_tokens

        tiktoken_dir = str(self.settings.cache_dir / "tiktoken")
        return (lambda messages: count_messages(messages, tiktoken_dir),
                lambda text: count_tokens(text, tiktoken_dir))

    def backend(self, name: str | None = None):
        """The answer writer by name (default ``ASSISTANT_BACKEND``), created once and kept warm.

        Raises:
            BackendConfigError: Unknown name (lists the available ones) or not set up.
        """
        from assistant.answer import composers

        key = (name or self.settings.backend).strip().lower()
        if key not in self._backends:
            count_messages, count_text = self._counters()
            selector = None if key == "extractive" else (lambda: self.backend("extractive"))
            self._backends[key] = composers.create(key, self.settings, count_messages, count_text,
                                                   embedder=lambda: self.question_embedder,
                                                   line_vectors=self.line_vectors, selector=selector,
                                                   **self._backend_deps)
        return self._backends[key]

    @property
    def user_gate_path(self) -> Path:
        """Where `assistant calibrate --write` keeps a gate fitted on these notes (the index folder)."""
        from assistant.answer.gate import USER_GATE

        return Path(self.settings.index_dir) / USER_GATE

    @property
    def gate(self):
        """The coverage gate: the student's own (`user_gate_path`) when there is one, else the shipped one.

        Read again when the student's file changes (a calibration in another process).
        """
        from assistant.answer.gate import load_gate

        path = self.user_gate_path
        try:
            key = (path, path.stat().st_mtime_ns)
        except OSError:
            key = None
        if self._gate is None or self._gate[0] != key:
            self._gate = (key, load_gate(path if key else None))
        return self._gate[1]

    def gate_features(self, question: str) -> dict[str, float]:
        """The gate's features for a question, retrieved as the answer chain does (for calibration)."""
        return self.coverage_evidence(question, self.retrieve(question))

    def corpus_digest(self) -> str:
        """A digest of what is indexed (the manifest's file digests): which notes a gate was fitted on."""
        import hashlib

        manifest = self.store.read_manifest()
        digests = sorted((manifest.digests() if manifest else {}).items())
        return hashlib.sha256(repr(digests).encode("utf-8")).hexdigest()[:16]

    def _parts(self):
        from assistant.answer.chain import ChainParts

        return ChainParts(retrieve=lambda q, k, hybrid: self.retrieve(q, k=k, hybrid=hybrid),
                          vocabulary=self.vocabulary, gate=self.gate, embedder=self.question_embedder,
                          fallback=lambda: self.backend("extractive"))

    def stream(
        self, question: str, history: Sequence[Mapping[str, str]] | None = None, backend: str | None = None,
        prompt: str | None = None, k: int | None = None, hybrid: bool | None = None,
    ) -> Iterator[str | Retraction | Answer]:
        """Answer a question, yielding text pieces as they are generated and then the final `Answer`.

        A `Retraction` withdraws the text streamed so far (an LLM answer that failed its checks);
        the pieces after it replace it.

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
        from assistant.answer.chain import run
        from assistant.study.practice import looks_like_practice

        engine = self.backend(backend)
        if looks_like_practice(question):  # a pasted practice question: a cited pick, not a summary of options
            answer = self.practice_answer(question, backend or self.settings.backend)
            yield answer.text
            yield answer
            return
        yield from run(question, engine, prompt or self.settings.prompt, self._parts(), history=history, k=k,
                       hybrid=hybrid)

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

    def check(self, question, backend: str | None = None):
        """Check a practice question against the notes: the option they support, or why they can't decide.

        Args:
            question: A `study.practice.PracticeQuestion`, or its pasted text (options labelled
                A, B, C ... in any common layout).
            backend: ``extractive`` or None (the offline checker), or an LLM backend's name: the
                model reads the offline checker's lines and picks (`study.llm_check`).

        Raises:
            PracticeError: The pasted text has fewer than two labelled options, or repeats one.
        """
        from assistant.study.checker import check_practice
        from assistant.study.practice import PracticeQuestion, parse_practice

        parsed = question if isinstance(question, PracticeQuestion) else parse_practice(question)
        key = (backend or "extractive").strip().lower()
        if key == "extractive":
            return check_practice(self, parsed)
        from assistant.study.llm_check import check_with_llm

        result, notice = check_with_llm(self, parsed, self.backend(key))
        return dataclasses.replace(result, notice=notice)

    def domains(self):
        """Each indexed chunk's exam domain (by chunk id) and why: `study.domains.place_chunks`."""
        from assistant.study.domains import place_chunks

        retriever = self._ensure_retriever()
        # placed once per loaded index: cards, and every practice answer filed, ask for them (~0.3 s)
        if getattr(self, "_placed_for", None) is not retriever:
            self._placed = place_chunks(list(retriever.chunks), np.asarray(retriever.vectors), self.embedder)
            self._placed_for = retriever
        return self._placed

    def _domain_of(self):
        """``(chunk, heading path of a line) -> domain``: the rule cards and practice answers are filed by."""
        from assistant.study.domains import by_headings, follows_guide, load_guide

        placed = self.domains()
        labels, tasks = load_guide()
        guided = follows_guide(placed)

        def domain_of(chunk, path):
            # a line under a heading that names a task is in that task's domain, even inside a chunk
            # that merged several small sections; else its chunk's
            found = by_headings(path, labels, tasks) if guided else None
            return found.domain if found else placed[chunk.id].domain

        return domain_of

    def cards(self):
        """Flashcards from the notes, each filed under its exam domain (`study.cards.extract_cards`)."""
        from assistant.study.cards import extract_cards

        return extract_cards(self.chunks(), self._domain_of())

    def _filed_under(self, result, letters: tuple[str, ...]) -> tuple[str, str]:
        """(domain, heading) of a practice question: where the right option's cited line sits in the notes.

        The first of ``letters`` with a cited line, else any option's, else the best passage; ("", "")
        when the notes gave nothing.
        """
        from assistant.text.sentences import passage_units

        verdicts = {v.letter: v for v in result.options}
        cited = [verdicts[x].citation for x in letters if verdicts.get(x) and verdicts[x].citation]
        cited += [v.citation for v in result.ranked() if v.citation]
        if cited:
            source, line = cited[0].chunk.source, cited[0].start_line or cited[0].chunk.start_line
        elif result.contexts:
            source, line = result.contexts[0].source, result.contexts[0].start_line
        else:
            return "", ""
        chunk = next((c for c in self.chunks() if c.source == source and c.start_line <= line <= c.end_line), None)
        if chunk is None:
            return "", ""
        path = tuple(chunk.heading_path)
        for unit in passage_units(chunk, 0):  # the line's own heading (a chunk may merge small sections)
            if unit.line <= line <= max(unit.line, unit.end_line) and unit.heading_path:
                path = tuple(unit.heading_path)
                break
        return self._domain_of()(chunk, path), " › ".join(path[-2:])

    def record_check(self, result, mine: str, key: str | None = None):
        """Grade and store the student's answer to a checked practice question (`study.grading.grade`).

        Args:
            result: The checker's verdict on the question (`check`).
            mine: The student's letters ("B", "A,C").
            key: The answer key's letters, when the student's source gives them; without one the
                notes' pick is the key.

        Returns:
            (`study.grading.Grade`, when the question is due for review again).

        Raises:
            PracticeError: A bad letter, or nothing to grade against (no key, and the notes can't decide).
            ProgressError: The progress database can't be written.
        """
        from assistant.study.grading import grade, question_text

        graded = grade(result.question, result.pick, mine, key)
        domain, heading = self._filed_under(result, graded.right)
        # the key is kept only when the student gave one: a review without it asks the notes again
        due = self.progress.record(graded.item, "check", domain or "Practice questions", heading, graded.correct,
                                   question=question_text(result.question),
                                   answer=",".join(graded.right) if graded.by == "key" else "")
        return graded, due

    @property
    def progress(self):
        """The student's study progress (`study.progress.Progress`) in ``ASSISTANT_STUDY_DIR``."""
        from assistant.study.progress import Progress

        return Progress(self.settings.study_dir)

    def practice_answer(self, question, backend: str | None = None) -> Answer:
        """A pasted practice question checked (`check`), as a cited `Answer` for chat and the CLI.

        Args:
            question: The pasted text, or a verdict `check` already gave (with the ``backend`` it used).
            backend: As for `check`.
        """
        from assistant.study.checker import PracticeResult
        from assistant.study.grading import question_text
        from assistant.study.render import practice_text

        started = time.perf_counter()
        if isinstance(question, PracticeResult):
            result, text, seconds = question, question_text(question.question), question.seconds
        else:
            result, text = self.check(question, backend), question
            seconds = time.perf_counter() - started
        notice = result.notice
        key = (backend or "extractive").strip().lower()
        offline = key == "extractive" or notice
        how = ("Checked against your notes offline: each option's best line, scored on what the question "
               "requires." if offline else f"The {key} model picked from your notes' lines for each option.")
        return Answer(text=practice_text(result), citations=result.citations,
                      backend="practice checker" if key == "extractive" else f"practice checker + {key}",
                      prompt="practice", seconds=seconds, question=text,
                      standalone_question=text, contexts=result.contexts,
                      notice=" ".join(x for x in (notice, how) if x), practice=result.to_dict())

    def close(self) -> None:
        """Release the index and backends (the folder can then be removed or rebuilt by another process)."""
        for engine in self._backends.values():
            engine.close()
        self._backends.clear()
        self._retriever = None
        self.store.close()
