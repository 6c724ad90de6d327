"""Shared fixtures: one real embedder and tokenizer for the session, one full index of the real notes."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["ANONYMIZED_TELEMETRY"] = "False"

import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from assistant.config import Settings  # noqa: E402
from assistant.core import StudyAssistant  # noqa: E402
from assistant.embedding.encoders import OnnxEmbedder  # noqa: E402
from assistant.embedding.model import bundled_model_dir, model_info  # noqa: E402
from assistant.embedding.tokenizer import WordPieceTokenizer  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CACHE_DIR = REPO / ".cache"
NOTES_FILE = REPO / "corpus" / "aws-mla-c01-notes.md"
GOLD_FILE = REPO / "eval" / "gold.jsonl"


@pytest.fixture(autouse=True)
def no_real_aws(monkeypatch):
    """Any AWS call that is not stubbed fails: no credentials from this machine, and no request
    ever leaves botocore (Stubber and before-send hooks answer before this point)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    from botocore.httpsession import URLLib3Session

    def refuse(self, request):
        raise AssertionError(f"unstubbed AWS call to {request.url}")

    monkeypatch.setattr(URLLib3Session, "send", refuse)


@pytest.fixture(scope="session")
def tokenizer() -> WordPieceTokenizer:
    return WordPieceTokenizer(bundled_model_dir())


@pytest.fixture(scope="session")
def embedder() -> OnnxEmbedder:
    return OnnxEmbedder(model_info(bundled_model_dir()), cache_dir=CACHE_DIR)


@pytest.fixture(scope="session")
def notes_text() -> str:
    return NOTES_FILE.read_text(encoding="utf-8")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for servers the tests start)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(url: str, proc: subprocess.Popen, seconds: float, what: str) -> None:
    """Poll ``url`` until it answers; fail the test (and stop ``proc``) if the server dies or is too slow."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"{what} did not answer at {url} within {seconds:.0f} s (is the loopback interface up?)")
            time.sleep(0.3)


CHROMIUM = Path("/usr/bin/chromium")  # Debian's; browser tests skip without it (.ci/run installs it)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@contextmanager
def serving(folders: Path, prefix: tuple[str, ...] = (), **env: str) -> Iterator[str]:
    """`streamlit run app.py` on 127.0.0.1 over ``folders`` (its corpus/ and index/), run from there; yields its URL.

    ``prefix`` goes before the command (e.g. ``("unshare", "--user")``: see `unprivileged_works`).
    """
    port = free_port()
    environment = {**os.environ, "ASSISTANT_CORPUS_DIR": str(folders / "corpus"),
                   "ASSISTANT_INDEX_DIR": str(folders / "index"), "ASSISTANT_CACHE_DIR": str(CACHE_DIR),
                   "ASSISTANT_STUDY_DIR": str(folders / "study"), "HF_HUB_OFFLINE": "1", **env}
    server = subprocess.Popen(
        [*prefix, sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false"],
        cwd=folders, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{url}/_stcore/health", server, 60, "streamlit run")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def page_over(folder: Path, monkeypatch):
    """An AppTest of the page over ``folder``'s corpus/ and index/, run from that folder (not run yet).

    The page's assistant is an ``st.cache_resource`` shared by every AppTest of this process: it is
    cleared here, or the page would answer from whichever folders an earlier test opened.
    """
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(folder / "corpus"))
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(folder / "index"))
    monkeypatch.setenv("ASSISTANT_CACHE_DIR", str(CACHE_DIR))
    monkeypatch.setenv("ASSISTANT_STUDY_DIR", str(folder / "study"))
    for name in ("ASSISTANT_BACKEND", "ASSISTANT_PROMPT", "ASSISTANT_OPENAI_BASE_URL", "ASSISTANT_OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(folder)
    st.cache_resource.clear()
    return AppTest.from_file(str(REPO / "app.py"), default_timeout=180)


def unprivileged_works() -> bool:
    """Whether `unshare --user` runs here: it drops root's override of file permissions (the process stays
    the files' owner, without capabilities), so tests can show what a read-only folder does."""
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "--user", "true"], capture_output=True).returncode == 0


def make_settings(tmp: Path, **overrides) -> Settings:
    """Settings for a corpus and index under ``tmp`` (the ONNX cache is the repo's)."""
    values = {"corpus_dir": tmp / "corpus", "index_dir": tmp / "index", "cache_dir": CACHE_DIR,
              "study_dir": tmp / "study"}  # never the checkout's own .study
    values.update(overrides)
    return Settings(**values)


def write_notes(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.fixture
def make_assistant(embedder):
    """Factory: a StudyAssistant on ``tmp`` sharing the session embedder; closed at teardown."""
    made: list[StudyAssistant] = []

    def make(tmp: Path, **overrides) -> StudyAssistant:
        sa = StudyAssistant(make_settings(tmp, **overrides), embedder=embedder)
        made.append(sa)
        return sa

    yield make
    for sa in made:
        sa.close()


@pytest.fixture(scope="session")
def notes_assistant(tmp_path_factory, embedder):
    """The ONE full index of the real notes (~180 chunks), shared by the retrieval tests."""
    tmp = tmp_path_factory.mktemp("real-notes")
    (tmp / "corpus").mkdir()
    shutil.copy(NOTES_FILE, tmp / "corpus" / NOTES_FILE.name)
    sa = StudyAssistant(make_settings(tmp), embedder=embedder)
    report = sa.ingest(progress=False)
    assert report.added == report.chunks > 100
    yield sa
    sa.close()


# A writer that SIGKILLs itself once the ingest step named by argv[1] is done (crash-safety tests).
KILL_AT = """
import os, signal, sys
from assistant import StudyAssistant

target = sys.argv[1]

def step(name):
    if name == target:
        os.kill(os.getpid(), signal.SIGKILL)

StudyAssistant.from_env(env_file=None).ingest(progress=False, step=step)
"""
