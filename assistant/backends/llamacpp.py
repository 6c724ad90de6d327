"""Placeholder so the registry can import the module; the Bedrock backend lands in the next commit."""

from __future__ import annotations

from assistant.errors import BackendConfigError


def check(settings) -> str | None:
    """Why the backend cannot be used yet."""
    return "not built yet"


def create(settings, **_: object):
    """Refuse clearly until the backend exists."""
    raise BackendConfigError("The llamacpp backend is not available yet; use --backend extractive.")
