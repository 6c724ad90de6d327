"""The one protocol every answer backend implements, and the request it receives."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from assistant.schema import RetrievedChunk


@dataclass(frozen=True)
class GenerationRequest:
    """Everything a backend may use to write an answer.

    LLM backends send ``messages`` (the prompt template filled with the numbered passages);
    the extractive backend reads ``question``, ``sides`` and ``contexts`` directly.

    Attributes:
        question: The standalone question.
        contexts: The passages, numbered ``[1]..[n]`` in this order.
        messages: Chat messages (``role`` is system, user or assistant; ``content``).
        sides: The things a comparison question contrasts, or None.
        max_tokens: Most tokens to generate.
        temperature: Sampling temperature.
        max_words: Longest answer the prompt template asks for (used by the extractive backend).
    """

    question: str
    contexts: list[RetrievedChunk] = field(default_factory=list)
    messages: list[dict[str, str]] = field(default_factory=list)
    sides: tuple[str, ...] | None = None
    max_tokens: int = 512
    temperature: float = 0.0
    max_words: int = 150


@dataclass
class Usage:
    """Token counts a backend reports for its last call (None where it cannot tell)."""

    tokens_in: int | None = None
    tokens_out: int | None = None


@runtime_checkable
class LLMBackend(Protocol):
    """An answer writer. Implementations raise only `BackendError` (or subclasses) on failure.

    Attributes:
        name: Registry name (``extractive``, ``bedrock``, ...).
        writes_prose: False for a backend that quotes the notes instead of writing.
        context_tokens: Largest prompt the model reads (used to trim passages); 0 for no limit.
        last_usage: Token counts of the last call, as the backend reports them.
    """

    name: str
    writes_prose: bool
    context_tokens: int
    last_usage: Usage

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        """Yield the answer's text in pieces as it is produced."""
        ...

    def close(self) -> None:
        """Release models, connections or processes."""
        ...
