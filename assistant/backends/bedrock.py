"""Amazon Bedrock through the Converse / ConverseStream API (boto3's bedrock-runtime client).

Why boto3 directly and not langchain-aws's ChatBedrockConverse: our backends take plain chat
messages and stream text, and what the student needs from this layer is a precise message for
each failure (no credentials, model access not enabled, wrong region or model id, throttling,
timeouts). botocore's own exceptions carry the error codes we map; the client is also the seam
where tests inject botocore's Stubber. Credentials come from boto3's normal chain only. Measured against
ChatBedrockConverse on the same client: docs/decisions/0005-llm-clients.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from assistant.backends.base import GenerationRequest, Usage
from assistant.errors import BackendConfigError, BackendError, BackendMissingExtraError
from assistant.extras import BEDROCK, import_error, problem, require

NEEDS = "The bedrock backend needs the AWS SDK"  # + what is missing and the pip command (the `bedrock` extra)

RETRIES = 3  # attempts after a throttled call, with exponential backoff
_THROTTLED = {"ThrottlingException", "throttlingException", "TooManyRequestsException",
              "ServiceUnavailableException", "serviceUnavailableException"}


def translate(exc: Exception, model: str, region: str | None) -> BackendError:
    """A botocore/boto3 failure as our error, with what to do about it."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        ReadTimeoutError,
    )

    where = f"model {model!r} in region {region or '(default)'}"
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return BackendConfigError("No AWS credentials found for Bedrock: run `aws configure` (or `aws sso login`), "
                                  "or set AWS_PROFILE; or use --backend extractive to stay offline.")
    if isinstance(exc, NoRegionError):
        return BackendConfigError("No AWS region for Bedrock: set ASSISTANT_BEDROCK_REGION (e.g. us-east-1) "
                                  "or AWS_REGION.")
    if isinstance(exc, ReadTimeoutError | ConnectTimeoutError):
        return BackendError(f"Bedrock did not answer in time ({where}); try again, or raise ASSISTANT_LLM_TIMEOUT.")
    if isinstance(exc, EndpointConnectionError):
        return BackendError(f"Cannot reach Bedrock in {region or 'the default region'}: check your network and "
                            "that the region name is right (ASSISTANT_BEDROCK_REGION).")
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", ""), error.get("Message", "")
        if code in {"AccessDeniedException", "accessDeniedException"}:
            return BackendConfigError(
                f"Bedrock refused access to {where}: enable model access for it in the Bedrock console "
                f"(Model access) and allow bedrock:InvokeModel for your role. AWS said: {message}")
        if code in {"UnrecognizedClientException", "ExpiredTokenException", "InvalidSignatureException"}:
            return BackendConfigError(f"Your AWS credentials were rejected ({code}): refresh them "
                                      "(`aws sso login`, new keys) and try again.")
        if code in {"ResourceNotFoundException", "resourceNotFoundException"}:
            return BackendConfigError(f"Bedrock has no {where}: check ASSISTANT_BEDROCK_MODEL and "
                                      "ASSISTANT_BEDROCK_REGION (not every model is in every region). "
                                      f"AWS said: {message}")
        if code in {"ValidationException", "validationException"}:
            return BackendError(f"Bedrock rejected the request for {where}: {message} "
                                "(check the model id, or lower ASSISTANT_MAX_TOKENS / ASSISTANT_CONTEXT_TOKENS).")
        if code in _THROTTLED:
            return BackendError(f"Bedrock is throttling requests for {where} even after {RETRIES} retries: "
                                "wait a minute, or request a higher quota.")
        if code in {"ModelTimeoutException", "modelTimeoutException"}:
            return BackendError(f"The model timed out ({where}); try again or ask a shorter question.")
        return BackendError(f"Bedrock failed ({code or 'error'}): {message or exc}")
    return BackendError(f"Bedrock failed: {exc}")


class BedrockBackend:
    """Answers with a Bedrock model through Converse (whole reply) and ConverseStream (streamed)."""

    name = "bedrock"

    def __init__(self, model: str, region: str | None = None, client=None, timeout: float = 60.0,
                 context_tokens: int = 4096, sleep: Callable[[float], None] = time.sleep) -> None:
        """Keep the settings; the client is made on first use unless one is given.

        Args:
            model: Bedrock model id or inference profile id.
            region: AWS region; None uses boto3's chain.
            client: A bedrock-runtime client to use (tests inject one with botocore's Stubber).
            timeout: Read timeout in seconds.
            context_tokens: The model's context window.
            sleep: Waits between throttled retries (tests pass a no-op).
        """
        self.model = model
        self.region = region
        self.timeout = timeout
        self.context_tokens = context_tokens
        self.last_usage = Usage()
        self._client = client
        self._sleep = sleep

    def client(self):
        """The bedrock-runtime client (created from boto3's credential chain on first use)."""
        if self._client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError as exc:  # `create` checked; this covers a backend built directly
                raise import_error(NEEDS, "bedrock", exc, BackendMissingExtraError) from exc
            try:
                session = boto3.Session(region_name=self.region) if self.region else boto3.Session()
                # our own retry loop handles throttling (so it can tell the user); botocore's is off
                config = Config(read_timeout=self.timeout, connect_timeout=min(10.0, self.timeout),
                                retries={"max_attempts": 1, "mode": "standard"})
                self._client = session.client("bedrock-runtime", config=config)
            except Exception as exc:  # noqa: BLE001 - translated below
                raise translate(exc, self.model, self.region) from exc
        return self._client

    def _arguments(self, request: GenerationRequest) -> dict:
        system = [{"text": m["content"]} for m in request.messages if m["role"] == "system"]
        messages = [{"role": m["role"], "content": [{"text": m["content"]}]}
                    for m in request.messages if m["role"] in ("user", "assistant")]
        arguments = {
            "modelId": self.model, "messages": messages,
            "inferenceConfig": {"maxTokens": request.max_tokens, "temperature": request.temperature},
        }
        if system:
            arguments["system"] = system
        return arguments

    def _call(self, operation: str, arguments: dict) -> dict:
        """One API call, retried with backoff while Bedrock throttles."""
        client = self.client()  # first: it reports a missing SDK before botocore is imported below
        from botocore.exceptions import ClientError

        for attempt in range(RETRIES + 1):
            try:
                return getattr(client, operation)(**arguments)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in _THROTTLED and attempt < RETRIES:
                    self._sleep(0.5 * 2 ** attempt)
                    continue
                raise translate(exc, self.model, self.region) from exc
            except BackendError:
                raise
            except Exception as exc:  # noqa: BLE001 - every botocore failure becomes our error
                raise translate(exc, self.model, self.region) from exc
        raise AssertionError("unreachable")

    def complete(self, request: GenerationRequest) -> str:
        """The whole reply at once (Converse)."""
        response = self._call("converse", self._arguments(request))
        usage = response.get("usage", {})
        self.last_usage = Usage(usage.get("inputTokens"), usage.get("outputTokens"))
        blocks = response.get("output", {}).get("message", {}).get("content", [])
        return "".join(b.get("text", "") for b in blocks)

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        """The reply as it is generated (ConverseStream); a failure midway raises BackendError."""
        self.last_usage = Usage()
        response = self._call("converse_stream", self._arguments(request))
        try:
            for event in response["stream"]:
                if "contentBlockDelta" in event:
                    text = event["contentBlockDelta"].get("delta", {}).get("text", "")
                    if text:
                        yield text
                elif "metadata" in event:
                    usage = event["metadata"].get("usage", {})
                    self.last_usage = Usage(usage.get("inputTokens"), usage.get("outputTokens"))
        except BackendError:
            raise
        except Exception as exc:  # noqa: BLE001 - an error event or a dropped connection mid-stream
            raise translate(exc, self.model, self.region) from exc

    def close(self) -> None:
        """Nothing to release (the client holds no open stream between calls)."""


def check(settings) -> str | None:
    """Cheap readiness check for the UI: the packages import and a region is known."""
    missing = problem(NEEDS, "bedrock", BEDROCK)
    if missing:
        return missing
    import boto3

    if not (settings.bedrock_region or boto3.Session().region_name):
        return "no AWS region: set ASSISTANT_BEDROCK_REGION or AWS_REGION (and AWS credentials)"
    return None


def create(settings, client=None, **_: object) -> BedrockBackend:
    """Registry factory.

    Raises:
        BackendMissingExtraError: boto3 is not installed (the message names the ``bedrock`` extra).
    """
    require(NEEDS, "bedrock", BEDROCK, BackendMissingExtraError)
    return BedrockBackend(settings.bedrock_model, settings.bedrock_region, client=client,
                          timeout=settings.llm_timeout, context_tokens=settings.context_tokens)
