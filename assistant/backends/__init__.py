"""LLM backends: one protocol (`LLMBackend`) and a plain registry keyed by name.

Backends are imported only when asked for, so the default extractive composer never pays for boto3,
openai or llama.cpp at start-up, and needs none of them installed: each is a pip extra of the same
name (``bedrock``, ``openai``, ``llamacpp``), and choosing one without it is a one-line
`BackendMissingExtraError` that names the extra (`availability` reports the same).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from assistant.backends.base import GenerationRequest, LLMBackend, Usage
from assistant.config import Settings
from assistant.errors import BackendConfigError

__all__ = ["BACKENDS", "BackendInfo", "GenerationRequest", "LLMBackend", "Usage", "availability", "create_backend"]


@dataclass(frozen=True)
class BackendInfo:
    """A registry entry.

    Attributes:
        module: Module holding the factory (imported lazily).
        factory: Name of ``create(settings, **deps) -> LLMBackend`` in that module.
        needs: What the user must set up, shown when it is missing.
    """

    module: str
    factory: str
    needs: str


BACKENDS: dict[str, BackendInfo] = {
    "bedrock": BackendInfo("assistant.backends.bedrock", "create",
                           "pip install -e '.[bedrock]' (boto3); AWS credentials (aws configure / AWS_PROFILE) "
                           "with access to ASSISTANT_BEDROCK_MODEL in ASSISTANT_BEDROCK_REGION"),
    "openai": BackendInfo("assistant.backends.openai_compat", "create",
                          "pip install -e '.[openai]' (the openai client); an OpenAI-compatible server (Ollama, "
                          "LM Studio, llama.cpp, vLLM): ASSISTANT_OPENAI_BASE_URL and ASSISTANT_OPENAI_MODEL"),
    "llamacpp": BackendInfo("assistant.backends.llamacpp", "create",
                            "pip install -e '.[llamacpp]' and ASSISTANT_GGUF=/path/to/model.gguf"),
}


def create_backend(name: str, settings: Settings, **deps: object) -> LLMBackend:
    """Build a backend by registry name.

    Args:
        name: ``bedrock``, ``openai`` or ``llamacpp``.
        settings: The frozen settings.
        **deps: Shared objects a backend may use: ``embedder`` (a callable returning the loaded
            embedder), ``client`` (a bedrock-runtime client, e.g. with botocore's Stubber).

    Raises:
        BackendConfigError: Unknown name (the message lists the available ones), or the
            backend is not set up (the message says what it needs).
        BackendMissingExtraError: The backend's package is not installed (the message names
            the pip extra); a `BackendConfigError` too.
    """
    info = BACKENDS.get((name or "").strip().lower())
    if info is None:
        raise BackendConfigError(f"Unknown backend {name!r}; available: {', '.join(BACKENDS)}.")
    factory: Callable[..., LLMBackend] = getattr(importlib.import_module(info.module), info.factory)
    return factory(settings, **deps)


def availability(settings: Settings) -> dict[str, tuple[bool, str]]:
    """For each backend: whether it looks usable with these settings, and what it needs if not.

    Cheap checks only (package importable, settings present); nothing is called. A missing package
    is reported first, with the same message `create_backend` would raise (naming the pip extra).
    """
    out: dict[str, tuple[bool, str]] = {}
    for name, info in BACKENDS.items():
        checker = getattr(importlib.import_module(info.module), "check", None)
        try:
            problem = checker(settings) if checker else None
        except Exception as exc:  # noqa: BLE001 - e.g. AWS_PROFILE naming a profile that does not exist
            problem = str(exc)
        out[name] = (problem is None, problem or "ready")
    return out
