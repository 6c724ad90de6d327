"""The error hierarchy: every failure a user can fix is an AssistantError whose message says how."""

from __future__ import annotations


class AssistantError(Exception):
    """Root of every error the CLI and UI show as a one-line message (never a traceback)."""


class ConfigError(AssistantError):
    """A setting is missing or malformed (env var, .env file, model path)."""


class CorpusError(AssistantError):
    """The notes folder is missing, empty, or holds nothing we can read."""


class IndexProblemError(AssistantError):
    """Base for problems with the on-disk index."""


class IndexNotWritableError(IndexProblemError):
    """The index folder cannot be created or written."""


class IndexUnavailableError(IndexProblemError):
    """The Chroma server named by ASSISTANT_CHROMA_URL cannot be reached."""


class IndexCorruptError(IndexProblemError):
    """The index folder exists but cannot be read back; `assistant ingest` repairs it."""


class IndexBusyError(IndexProblemError):
    """Another process is writing the index right now (the one-writer lock is taken)."""


class QuestionError(AssistantError):
    """The question itself is unusable (empty, whitespace only)."""


class EmbeddingError(AssistantError):
    """The embedding model could not be loaded or run."""


class BackendError(AssistantError):
    """An answer backend failed (unreachable, refused, timed out); the message says what to do.

    Attributes:
        partial: Text the backend had already streamed before it failed ("" if none).
    """

    def __init__(self, message: str, partial: str = "") -> None:
        """Keep the message and whatever was streamed before the failure."""
        super().__init__(message)
        self.partial = partial


class BackendConfigError(BackendError, ConfigError):
    """A backend is unknown, or not set up (missing package, model file, server address)."""


class MissingExtraError(ConfigError):
    """An optional part is used without its pip extra installed; the message names the extra to install.

    Attributes:
        extra: The extra(s) to install, as written between the brackets (``bedrock``, ``eval,bedrock``).
    """

    def __init__(self, message: str, extra: str) -> None:
        """Keep the message and the extra it names."""
        super().__init__(message)
        self.extra = extra


class BackendMissingExtraError(MissingExtraError, BackendConfigError):
    """A backend's package is not installed.

    Also a `BackendConfigError`, so every caller that handles a backend that is not set up (the CLI's
    partial-answer handling, the app's chat) handles this one the same way.
    """
