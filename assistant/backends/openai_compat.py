"""Any OpenAI-compatible chat server: Ollama, LM Studio, llama.cpp's server, vLLM (the `openai` client).

The base URL, model and (optional) key come from settings; nothing defaults to OpenAI's own service,
so a missing setting is an error that names it rather than a surprise bill.
"""

from __future__ import annotations

from collections.abc import Iterator

from assistant.backends.base import GenerationRequest, Usage
from assistant.errors import BackendConfigError, BackendError, BackendMissingExtraError
from assistant.extras import OPENAI, import_error, problem, require

NEEDS = "The openai backend needs the openai client"  # + what is missing and the pip command (`openai` extra)


def translate(exc: Exception, base_url: str, model: str) -> BackendError:
    """An openai-client failure as our error, with what to do about it."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return BackendError(f"The server at {base_url} did not answer in time; try again, use a smaller model, "
                            "or raise ASSISTANT_LLM_TIMEOUT.")
    if isinstance(exc, openai.APIConnectionError):
        return BackendError(f"Cannot reach an OpenAI-compatible server at {base_url}: is it running (e.g. "
                            "`ollama serve`)? Check ASSISTANT_OPENAI_BASE_URL.")
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return BackendConfigError(f"The server at {base_url} refused the key: set ASSISTANT_OPENAI_API_KEY.")
    if isinstance(exc, openai.NotFoundError):
        return BackendConfigError(f"The server at {base_url} has no model {model!r}: check ASSISTANT_OPENAI_MODEL "
                                  f"(for Ollama: `ollama pull {model}`).")
    if isinstance(exc, openai.RateLimitError):
        return BackendError(f"The server at {base_url} is rate limiting; wait and try again.")
    if isinstance(exc, openai.BadRequestError):
        return BackendError(f"The server at {base_url} rejected the request: {exc.message} (a smaller "
                            "ASSISTANT_CONTEXT_TOKENS or ASSISTANT_MAX_TOKENS may help).")
    if isinstance(exc, openai.APIStatusError):
        return BackendError(f"The server at {base_url} failed (HTTP {exc.status_code}): {exc.message}")
    return BackendError(f"The OpenAI-compatible backend failed: {exc}")


class OpenAICompatibleBackend:
    """Streams chat completions from an OpenAI-compatible server."""

    name = "openai"

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 60.0,
                 context_tokens: int = 4096) -> None:
        """Keep the settings; the client is made on first use.

        Args:
            base_url: e.g. ``http://127.0.0.1:11434/v1``.
            model: The server's model name.
            api_key: Sent as a bearer token if given (local servers ignore it).
            timeout: Seconds to wait for the server.
            context_tokens: The model's context window.
        """
        self.base_url = base_url
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.context_tokens = context_tokens
        self.last_usage = Usage()
        self._client = None

    def client(self):
        """The openai client pointed at the configured server."""
        if self._client is None:
            try:
                import openai
            except ImportError as exc:  # `create` checked; this covers a backend built directly
                raise import_error(NEEDS, "openai", exc, BackendMissingExtraError) from exc

            # local servers need no key, but the client insists on one being set
            self._client = openai.OpenAI(base_url=self.base_url, api_key=self.api_key or "not-needed",
                                         timeout=self.timeout, max_retries=2)
        return self._client

    def complete(self, request: GenerationRequest) -> str:
        """The whole reply at once (the stream, joined)."""
        return "".join(self.stream(request))

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        """The reply as it is generated; a failure midway raises BackendError."""
        self.last_usage = Usage()
        try:
            chunks = self.client().chat.completions.create(
                model=self.model, messages=request.messages, stream=True, max_tokens=request.max_tokens,
                temperature=request.temperature, stream_options={"include_usage": True},
            )
            for chunk in chunks:
                if chunk.usage is not None:
                    self.last_usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                for choice in chunk.choices or []:
                    if choice.delta and choice.delta.content:
                        yield choice.delta.content
        except BackendError:
            raise
        except Exception as exc:  # noqa: BLE001 - every client failure becomes our error
            raise translate(exc, self.base_url, self.model) from exc

    def close(self) -> None:
        """Close the HTTP connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None


def check(settings) -> str | None:
    """What is missing to use this backend, or None (the package first: it is the first thing to do)."""
    missing = problem(NEEDS, "openai", OPENAI)
    if missing:
        return missing
    if not settings.openai_base_url:
        return "set ASSISTANT_OPENAI_BASE_URL (e.g. http://127.0.0.1:11434/v1 for Ollama) and ASSISTANT_OPENAI_MODEL"
    if not settings.openai_model:
        return "set ASSISTANT_OPENAI_MODEL (the model name on your server)"
    return None


def create(settings, **_: object) -> OpenAICompatibleBackend:
    """Registry factory.

    Raises:
        BackendMissingExtraError: The openai package is not installed (the message names the ``openai`` extra).
        BackendConfigError: The server address or model name is not set.
    """
    require(NEEDS, "openai", OPENAI, BackendMissingExtraError)
    unset = check(settings)
    if unset:
        raise BackendConfigError(f"The openai backend is not set up: {unset}.")
    return OpenAICompatibleBackend(settings.openai_base_url, settings.openai_model, settings.openai_api_key,
                                   timeout=settings.llm_timeout, context_tokens=settings.context_tokens)
