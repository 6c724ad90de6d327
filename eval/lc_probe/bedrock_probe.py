"""ChatBedrockConverse on our injected bedrock-runtime client vs our BedrockBackend: streaming, usage,
errors, per-call overhead. Nothing leaves the machine (Stubber, before-send hooks, sends refused).

    /work/main/.venv/bin/python eval/lc_probe/bedrock_probe.py --calls 300
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, __file__.rsplit("/", 1)[0])
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2]))
from common import MODEL, make_client, median_ms, refuse_real_sends, safe_env_here, serve_stream  # noqa: E402

safe_env_here()
refuse_real_sends()

import botocore.exceptions as bex  # noqa: E402
from botocore.stub import Stubber  # noqa: E402
from langchain_aws import ChatBedrockConverse  # noqa: E402

from assistant.backends.base import GenerationRequest  # noqa: E402
from assistant.backends.bedrock import BedrockBackend, translate  # noqa: E402

MESSAGES = [{"role": "system", "content": "Answer from the notes."}, {"role": "user", "content": "what is drift?"}]
LC_MESSAGES = [("system", "Answer from the notes."), ("human", "what is drift?")]
PIECES = ["**Concept drift:** the relationship ", "between inputs and the target changes [1]. ",
          "**Data drift:** the input distribution changes [2]."]


def lc_model(client):
    # the control-plane client is injected too, so constructing the model makes no client of its own
    return ChatBedrockConverse(model=MODEL, client=client, bedrock_client=client, temperature=0, max_tokens=512)


def lc_text(chunk) -> str:
    return chunk.text if isinstance(chunk.text, str) else chunk.text()


def stubber_stream_check() -> None:
    print("## can botocore's Stubber serve a successful converse_stream?")
    client = make_client()
    with Stubber(client) as stub:
        try:
            stub.add_response("converse_stream", {"stream": [
                {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "hi"}}}]})
            print("yes")
        except Exception as exc:  # noqa: BLE001
            print(f"no: {type(exc).__name__}: {str(exc).splitlines()[-1][:160]}")
    print("(errors can: add_client_error('converse_stream', ...); text is served by a before-send hook with "
          "event-stream bytes, as tests/test_bedrock.py does)")
    print()


def streaming() -> None:
    print("## streaming through the before-send hook (real event-stream bytes)")
    client = make_client()
    serve_stream(client, PIECES)
    seen, usage = [], None
    for chunk in lc_model(client).stream(LC_MESSAGES):
        if lc_text(chunk):
            seen.append(lc_text(chunk))
        if chunk.usage_metadata:
            usage = chunk.usage_metadata
    print(f"langchain pieces={len(seen)} same_text={''.join(seen) == ''.join(PIECES)} usage_metadata={usage}")
    client = make_client()
    serve_stream(client, PIECES)
    backend = BedrockBackend(MODEL, "us-east-1", client=client)
    ours = list(backend.stream(GenerationRequest(messages=MESSAGES)))
    print(f"ours      pieces={len(ours)} same_text={''.join(ours) == ''.join(PIECES)} last_usage={backend.last_usage}")
    print()


ERRORS = [
    ("AccessDeniedException", 403, "You don't have access to the model with the specified model ID."),
    ("ResourceNotFoundException", 404, "Could not resolve the foundation model from the provided model identifier."),
    ("ValidationException", 400, "Input is too long for requested model."),
    ("ValidationException", 400, "The provided model identifier is invalid."),
    ("ThrottlingException", 429, "Too many requests, please wait before trying again."),
    ("UnrecognizedClientException", 403, "The security token included in the request is invalid."),
    ("ModelTimeoutException", 408, "Model has timed out in processing the request."),
]


def describe(exc: BaseException) -> str:
    mro = [c.__name__ for c in type(exc).__mro__[1:4]]
    code = exc.response.get("Error", {}).get("Code") if isinstance(exc, bex.ClientError) else None
    return f"{type(exc).__name__} (bases {mro}; ClientError={isinstance(exc, bex.ClientError)}; code={code})"


def mapped_same(exc: BaseException, ours_message: str) -> bool:
    return str(translate(exc, MODEL, "us-east-1")) == ours_message


def call_errors() -> None:
    print("## ClientError on the converse_stream call (botocore Stubber)")
    print("| code | message | langchain raises | our translate() on it == our backend's message |")
    print("|---|---|---|---|")
    for code, status, message in ERRORS:
        client = make_client()
        with Stubber(client) as stub:
            stub.add_client_error("converse_stream", code, message, status)
            try:
                list(lc_model(client).stream(LC_MESSAGES))
                lc_exc = None
            except Exception as exc:  # noqa: BLE001
                lc_exc = exc
        client = make_client()
        backend = BedrockBackend(MODEL, "us-east-1", client=client, sleep=lambda s: None)
        with Stubber(client) as stub:
            for _ in range(4 if code == "ThrottlingException" else 1):
                stub.add_client_error("converse_stream", code, message, status)
            try:
                list(backend.stream(GenerationRequest(messages=MESSAGES)))
            except Exception as exc:  # noqa: BLE001
                ours = str(exc)
        print(f"| {code} | {message[:40]} | {describe(lc_exc)} | {mapped_same(lc_exc, ours)} |")
    print()


def midstream_errors() -> None:
    print("## error event after text was streamed (event-stream exception message)")
    for code, message in [("throttlingException", "slow down"), ("modelStreamErrorException", "model broke"),
                          ("validationException", "Input is too long for requested model.")]:
        client = make_client()
        serve_stream(client, ["Concept drift is "], error=code, error_message=message)
        got = []
        try:
            for chunk in lc_model(client).stream(LC_MESSAGES):
                if lc_text(chunk):
                    got.append(lc_text(chunk))
        except Exception as exc:  # noqa: BLE001
            print(f"{code}: partial={got} raised {describe(exc)}")
            print(f"    our translate(): {translate(exc, MODEL, 'us-east-1')}")
    print()


def transport_errors() -> None:
    print("## failures below the API (no credentials, endpoint unreachable, read timeout)")
    saved = {k: os.environ.pop(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    try:
        import boto3

        bare = boto3.Session(region_name="us-east-1").client("bedrock-runtime")
        try:
            list(lc_model(bare).stream(LC_MESSAGES))
        except Exception as exc:  # noqa: BLE001
            print(f"no credentials: {type(exc).__name__}: {exc} -> ours: {translate(exc, MODEL, 'us-east-1')}")
    finally:
        os.environ.update(saved)
    saved = {k: os.environ.pop(k) for k in ("AWS_DEFAULT_REGION", "AWS_REGION") if k in os.environ}
    try:
        ChatBedrockConverse(model=MODEL)  # no client given, no region anywhere
    except Exception as exc:  # noqa: BLE001
        print(f"no region, ChatBedrockConverse builds its own client: {type(exc).__name__}: "
              f"{' '.join(str(exc).split())[:230]}")
    try:
        BedrockBackend(MODEL).client()
    except Exception as exc:  # noqa: BLE001
        print(f"   ours: {type(exc).__name__}: {exc}")
    finally:
        os.environ.update(saved)
    for error in (bex.EndpointConnectionError(endpoint_url="https://bedrock-runtime.us-east-1.amazonaws.com"),
                  bex.ReadTimeoutError(endpoint_url="https://bedrock-runtime.us-east-1.amazonaws.com")):
        client = make_client()

        def fail(request, _error=error, **_):
            raise _error
        client.meta.events.register("before-send.bedrock-runtime.ConverseStream", fail)
        try:
            list(lc_model(client).stream(LC_MESSAGES))
        except Exception as exc:  # noqa: BLE001
            print(f"{type(error).__name__}: langchain raises {type(exc).__name__} (same object: {exc is error})")
    # a stream that ends without messageStop (connection dropped after some text)
    from common import event_message, serve_bytes

    client = make_client()
    data = event_message("messageStart", {"role": "assistant"}) + event_message(
        "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "half"}})
    serve_bytes(client, data)
    try:
        list(lc_model(client).stream(LC_MESSAGES))
    except Exception as exc:  # noqa: BLE001
        print(f"stream cut before messageStop: langchain raises {type(exc).__name__}: {exc}")
    client = make_client()
    serve_bytes(client, data)
    backend = BedrockBackend(MODEL, "us-east-1", client=client)
    print(f"   ours on the same cut stream: {list(backend.stream(GenerationRequest(messages=MESSAGES)))} "
          f"(no error; usage {backend.last_usage})")
    print()


def overhead(calls: int) -> None:
    print(f"## per-call overhead, stubbed ConverseStream ({len(PIECES)} pieces), {calls} calls each, interleaved")
    client_lc, client_ours = make_client(), make_client()
    serve_stream(client_lc, PIECES)
    serve_stream(client_ours, PIECES)
    model = lc_model(client_lc)
    backend = BedrockBackend(MODEL, "us-east-1", client=client_ours)
    request = GenerationRequest(messages=MESSAGES)
    first = {"langchain": [], "ours": []}
    whole = {"langchain": [], "ours": []}
    for i in range(calls + 10):
        for name in ("ours", "langchain"):
            t0 = time.perf_counter()
            t_first = None
            stream = model.stream(LC_MESSAGES) if name == "langchain" else backend.stream(request)
            for piece in stream:
                if t_first is None and (lc_text(piece) if name == "langchain" else piece):
                    t_first = time.perf_counter()
            t_end = time.perf_counter()
            if i >= 10:  # warm-up calls dropped
                first[name].append(t_first - t0)
                whole[name].append(t_end - t0)
    for name in ("ours", "langchain"):
        print(f"{name:9s} time to first piece {median_ms(first[name])} ms, whole call {median_ms(whole[name])} ms")
    print(f"langchain adds {round(median_ms(first['langchain']) - median_ms(first['ours']), 2)} ms to the first "
          f"piece and {round(median_ms(whole['langchain']) - median_ms(whole['ours']), 2)} ms per call")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    stubber_stream_check()
    streaming()
    call_errors()
    midstream_errors()
    transport_errors()
    overhead(args.calls)


if __name__ == "__main__":
    main()
