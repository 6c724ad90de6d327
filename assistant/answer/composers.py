"""The answer writers a student can pick, by name: ``extractive`` (no model) and the LLM backends.

One registry for the CLI, the app and the eval: `NAMES` in the order shown, `availability` for the
app's sidebar, `create` for the chain. LLM backends come from `backends` (imported lazily there).
"""

from __future__ import annotations

from collections.abc import Callable

from assistant.backends import BACKENDS, create_backend
from assistant.backends import availability as backend_availability
from assistant.config import Settings
from assistant.errors import BackendConfigError

from .compose import Composer, LLMComposer

EXTRACTIVE = "extractive"
NAMES: tuple[str, ...] = (EXTRACTIVE, *BACKENDS)


def availability(settings: Settings) -> dict[str, tuple[bool, str]]:
    """For each name: whether it looks usable with these settings, and what it needs if not (cheap checks)."""
    return {EXTRACTIVE: (True, "ready"), **backend_availability(settings)}


def create(name: str, settings: Settings, count_messages: Callable[[list[dict[str, str]]], int],
           count_text: Callable[[str], int], **deps: object) -> Composer:
    """The composer for a name.

    Args:
        name: ``extractive``, ``bedrock``, ``openai`` or ``llamacpp`` (any case).
        settings: The frozen settings (answer length, temperature, backend settings).
        count_messages: Token counter for chat prompts.
        count_text: Token counter for text.
        **deps: ``embedder`` and ``line_vectors`` for the extractive composer; ``client`` (a
            bedrock-runtime client) and the like for LLM backends; ``selector`` (returns the
            extractive composer) for LLM templates that show only the selected lines.

    Raises:
        BackendConfigError: Unknown name (the message lists the available ones), or the backend
            is not set up (the message says what it needs).
    """
    key = (name or "").strip().lower()
    if key == EXTRACTIVE:
        from .extractive import create as create_extractive

        return create_extractive(settings, **deps)
    if key not in BACKENDS:
        raise BackendConfigError(f"Unknown backend {name!r}; available: {', '.join(NAMES)}.")
    selector = deps.pop("selector", None)
    backend = create_backend(key, settings, **deps)
    return LLMComposer(backend, count_messages, count_text, settings.max_tokens, settings.temperature,
                       checks=settings.answer_checks, selector=selector)  # type: ignore[arg-type]
