"""The one protocol every LLM backend implements, and the request it receives."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class GenerationRequest:
    """What a model is asked: chat messages and sampling limits.

    Attributes:
        messages: Chat messages (``role`` is system, user or assistant; ``content``).
        max_tokens: Most tokens to generate.
        temperature: Sampling temperature.
    """

    messages: list[dict[str, str]] = field(default_factory=list)
    max_tokens: int = 512
    temperature: float = 0.0


@dataclass
class Usage:
    """Token counts a backend reports for its last call (None where it cannot tell)."""

    tokens_in: int | None = None
    tokens_out: int | None = None


@runtime_checkable
class LLMBackend(Protocol):
    """A language model client. Implementations raise only `BackendError` (or subclasses) on failure.

    Attributes:
        name: Registry name (``bedrock``, ``openai``, ``llamacpp``).
        context_tokens: Largest prompt the model reads (used to trim passages); 0 for no limit.
        last_usage: Token counts of the last call, as the backend reports them.
    """

    name: str
    context_tokens: int
    last_usage: Usage

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        """Yield the answer's text in pieces as it is produced."""
        ...

    def complete(self, request: GenerationRequest) -> str:
        """The whole answer at once (short calls: condensing a follow-up)."""
        ...

    def close(self) -> None:
        """Release models, connections or processes."""
        ...
