"""Bedrock's ConverseStream answered from real AWS event-stream bytes, so nothing reaches AWS.

Shared by tests/test_bedrock.py and the langchain probes (eval/lc_probe/bedrock_probe.py): a
before-send hook on an injected bedrock-runtime client returns the bytes botocore would have read
from the wire, so botocore's own event-stream parser and both clients' stream handling run for real.
"""

from __future__ import annotations

import binascii
import json
import struct
from collections.abc import Iterable


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return struct.pack("B", len(raw_name)) + raw_name + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value


def event_message(event_type: str, payload: dict, message_type: str = "event") -> bytes:
    """One AWS event-stream message (prelude, headers, payload, CRCs), as Bedrock sends it."""
    kind = ":event-type" if message_type == "event" else ":exception-type"
    headers = _header(kind, event_type) + _header(":content-type", "application/json") + \
        _header(":message-type", message_type)
    body = json.dumps(payload).encode()
    total = 12 + len(headers) + len(body) + 4
    prelude = struct.pack(">II", total, len(headers))
    prelude += struct.pack(">I", binascii.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + headers + body
    return message + struct.pack(">I", binascii.crc32(message) & 0xFFFFFFFF)


class RawStream:
    """The raw body botocore reads a streamed response from."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_):
        yield self.data

    def read(self, *_):
        return self.data

    def close(self):  # a real urllib3 response has it; ChatBedrockConverse closes the stream when done
        pass


def stream_bytes(pieces: Iterable[str], error: str | None = None, error_message: str = "slow down") -> bytes:
    """A whole ConverseStream reply: the text pieces, then the end and usage, or an exception event midway."""
    data = event_message("messageStart", {"role": "assistant"})
    for piece in pieces:
        data += event_message("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}})
    if error:
        return data + event_message(error, {"message": error_message}, message_type="exception")
    data += event_message("contentBlockStop", {"contentBlockIndex": 0})
    data += event_message("messageStop", {"stopReason": "end_turn"})
    return data + event_message("metadata", {"usage": {"inputTokens": 321, "outputTokens": 45, "totalTokens": 366},
                                             "metrics": {"latencyMs": 100}})


def serve_bytes(client, data: bytes | list[bytes], calls: list | None = None) -> None:
    """Answer the client's ConverseStream calls with ``data`` (request bodies appended to ``calls``).

    A list answers successive calls in order (the last one again after that).
    """
    from botocore.awsrequest import AWSResponse  # here: the probes that import this module without AWS need no botocore

    replies = list(data) if isinstance(data, list) else [data]

    def before_send(request, **_):
        if calls is not None:
            calls.append(json.loads(request.body))
        body = replies.pop(0) if len(replies) > 1 else replies[0]
        return AWSResponse(request.url, 200, {"content-type": "application/vnd.amazon.eventstream"}, RawStream(body))
    client.meta.events.register("before-send.bedrock-runtime.ConverseStream", before_send)


def serve_stream(client, pieces: Iterable[str], error: str | None = None, error_message: str = "slow down",
                 calls: list | None = None) -> None:
    """Answer the client's ConverseStream calls with these text pieces (see `stream_bytes`)."""
    serve_bytes(client, stream_bytes(pieces, error, error_message), calls)


def serve_streams(client, replies: Iterable[Iterable[str]], calls: list | None = None) -> None:
    """Answer successive ConverseStream calls with successive replies (each a list of text pieces)."""
    serve_bytes(client, [stream_bytes(pieces) for pieces in replies], calls)


def serve_converse(client, reply: str | None, calls: list | None = None):
    """Answer Converse calls (the condense prompt) with ``reply``, or with a ValidationException for None."""
    from botocore.awsrequest import AWSResponse

    def before_send(request, **_):
        if calls is not None:
            calls.append(json.loads(request.body))
        if reply is None:
            return AWSResponse(request.url, 400, {"x-amzn-errortype": "ValidationException",
                                                  "content-type": "application/json"},
                               RawStream(json.dumps({"message": "bad request"}).encode()))
        body = {"output": {"message": {"role": "assistant", "content": [{"text": reply}]}}, "stopReason": "end_turn",
                "usage": {"inputTokens": 50, "outputTokens": 12, "totalTokens": 62}, "metrics": {"latencyMs": 5}}
        return AWSResponse(request.url, 200, {"content-type": "application/json"}, RawStream(json.dumps(body).encode()))
    client.meta.events.register("before-send.bedrock-runtime.Converse", before_send)
