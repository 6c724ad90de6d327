"""Study assistant for the AWS MLA-C01 exam: grounded answers from your own notes."""

from assistant.config import Settings, load_settings
from assistant.core import StudyAssistant
from assistant.errors import (
    AssistantError,
    ConfigError,
    CorpusError,
    EmbeddingError,
    IndexCorruptError,
    IndexNotWritableError,
    IndexUnavailableError,
    MissingExtraError,
    QuestionError,
)
from assistant.schema import Chunk, IngestReport, RetrievedChunk

__all__ = [
    "AssistantError",
    "Chunk",
    "ConfigError",
    "CorpusError",
    "EmbeddingError",
    "IndexCorruptError",
    "IndexNotWritableError",
    "IndexUnavailableError",
    "IngestReport",
    "MissingExtraError",
    "QuestionError",
    "RetrievedChunk",
    "Settings",
    "StudyAssistant",
    "load_settings",
]
