"""A GGUF model run in process by llama-cpp-python (optional: ``pip install -e '.[llamacpp]'``).

Build note: llama-cpp-python compiles llama.cpp at install time. ``CMAKE_ARGS="-DGGML_NATIVE=OFF"``
gives a portable build (about 4 minutes on a 2-core machine) that runs on any x86-64 CPU.
The model stays loaded between questions (`assistant chat`, the UI), so only the first answer pays
for loading it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

from assistant.backends.base import GenerationRequest, Usage
from assistant.errors import BackendConfigError, BackendError, BackendMissingExtraError
from assistant.extras import LLAMACPP, import_error, problem, require

NEEDS = "The llamacpp backend needs llama-cpp-python"  # + what is missing and the pip command (`llamacpp` extra)


class LlamaCppBackend:
    """Chat completions from a local GGUF file, streamed."""

    name = "llamacpp"

    def __init__(self, model_path: Path, context_tokens: int = 4096, threads: int | None = None) -> None:
        """Keep the settings; the model loads on first use.

        Args:
            model_path: The GGUF file.
            context_tokens: Context window to allocate (prompt + answer).
            threads: CPU threads (default: all cores).
        """
        self.model_path = Path(model_path)
        self.context_tokens = context_tokens
        self.threads = threads or os.cpu_count() or 2
        self.last_usage = Usage()
        self._llama = None
        self._lock = threading.Lock()  # one generation at a time: a Llama object is not thread-safe

    def model(self):
        """The loaded model."""
        if self._llama is None:
            try:
                from llama_cpp import Llama
            except ImportError as exc:  # `create` checked; this covers a backend built directly
                raise import_error(NEEDS, "llamacpp", exc, BackendMissingExtraError) from exc
            if not self.model_path.is_file():
                raise BackendConfigError(f"No GGUF model at {self.model_path}: set ASSISTANT_GGUF to a .gguf file.")
            try:
                self._llama = Llama(model_path=str(self.model_path), n_ctx=self.context_tokens,
                                    n_threads=self.threads, verbose=False)
            except Exception as exc:  # noqa: BLE001 - a bad or unsupported file
                raise BackendConfigError(f"llama.cpp could not load {self.model_path}: {exc}") from exc
        return self._llama

    def complete(self, request: GenerationRequest) -> str:
        """The whole reply at once (the stream, joined)."""
        return "".join(self.stream(request))

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        """The reply as it is generated; a failure midway raises BackendError."""
        llama = self.model()
        self.last_usage = Usage()
        with self._lock:
            try:
                for chunk in llama.create_chat_completion(messages=request.messages, stream=True,
                                                          max_tokens=request.max_tokens,
                                                          temperature=request.temperature):
                    text = chunk["choices"][0].get("delta", {}).get("content") or ""
                    if text:
                        yield text
            except BackendError:
                raise
            except ValueError as exc:  # llama-cpp raises ValueError when the prompt exceeds n_ctx
                raise BackendError(f"The prompt does not fit the model's context ({exc}); lower ASSISTANT_TOP_K "
                                   "or raise ASSISTANT_CONTEXT_TOKENS.") from exc
            except Exception as exc:  # noqa: BLE001
                raise BackendError(f"llama.cpp failed while answering: {exc}") from exc

    def close(self) -> None:
        """Free the model."""
        if self._llama is not None:
            close = getattr(self._llama, "close", None)
            if close:
                close()
            self._llama = None


def check(settings) -> str | None:
    """What is missing to use this backend, or None (the package first: it is the first thing to do)."""
    missing = problem(NEEDS, "llamacpp", LLAMACPP)
    if missing:
        return missing
    if not settings.gguf:
        return "set ASSISTANT_GGUF to a .gguf model file"
    if not Path(settings.gguf).is_file():
        return f"ASSISTANT_GGUF points to {settings.gguf}, which is not a file"
    return None


def create(settings, **_: object) -> LlamaCppBackend:
    """Registry factory.

    Raises:
        BackendMissingExtraError: llama-cpp-python is not installed (the message names the ``llamacpp`` extra).
        BackendConfigError: No model file configured.
    """
    require(NEEDS, "llamacpp", LLAMACPP, BackendMissingExtraError)
    if not settings.gguf:
        raise BackendConfigError("The llamacpp backend is not set up: set ASSISTANT_GGUF to a .gguf model file.")
    return LlamaCppBackend(Path(settings.gguf), context_tokens=settings.context_tokens)
