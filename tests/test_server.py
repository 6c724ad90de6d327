"""Server mode: the index kept in a real `chroma run` on 127.0.0.1, started by the test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import chromadb
import pytest
from conftest import free_port, wait_until_serving, write_notes

from assistant.errors import IndexUnavailableError

CHROMA = Path(sys.executable).parent / "chroma"
NOTES = {
    "monitor.md": "# Monitoring\n\n## Drift\n\nData drift: the input distribution changes over time.\n\n"
                  "## Alarms\n\nCloudWatch alarms fire when endpoint latency crosses a threshold.\n",
    "deploy.md": "# Deployment\n\nBatch Transform scores a whole dataset in S3 without an endpoint.\n",
}


@pytest.fixture
def server(tmp_path):
    if not CHROMA.exists():
        pytest.skip("the chroma command is not installed")
    port = free_port()
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    proc = subprocess.Popen([str(CHROMA), "run", "--path", str(tmp_path / "server-data"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    wait_until_serving(f"{url}/api/v2/heartbeat", proc, 60, "chroma run")
    yield url, port
    proc.terminate()
    proc.wait(timeout=20)


def _names(port: int) -> set[str]:
    client = chromadb.HttpClient(host="127.0.0.1", port=port,
                                 settings=chromadb.config.Settings(anonymized_telemetry=False))
    return {getattr(c, "name", c) for c in client.list_collections()}


def test_index_lives_on_the_server_and_leaves_other_collections_alone(tmp_path, server, make_assistant):
    url, port = server
    client = chromadb.HttpClient(host="127.0.0.1", port=port,
                                 settings=chromadb.config.Settings(anonymized_telemetry=False))
    client.create_collection("someone-elses-notes", embedding_function=None)
    write_notes(tmp_path / "corpus", NOTES)
    sa = make_assistant(tmp_path, chroma_url=url)

    first = sa.ingest(progress=False)
    assert first.added == first.chunks > 0
    assert not (tmp_path / "index" / "chroma").exists()  # nothing stored locally but the manifest
    hit = sa.retrieve("what happens when the input distribution changes", k=1)[0]
    assert hit.source == "monitor.md" and "Data drift" in hit.text
    ours = _names(port) - {"someone-elses-notes"}
    assert len(ours) == 2 and all(n.startswith(("chunks-", "pieces-")) for n in ours)

    assert sa.ingest(progress=False).added == 0  # idempotent
    (tmp_path / "corpus" / "deploy.md").write_text(NOTES["deploy.md"] + "\nAsync inference queues requests.\n")
    second = sa.ingest(progress=False)
    assert second.added >= 1 and second.unchanged >= 1
    after = _names(port)
    assert "someone-elses-notes" in after
    assert len(after - {"someone-elses-notes"}) == 2 and not (after & ours)  # the old build was dropped

    sa.ingest(rebuild=True, progress=False)
    assert "someone-elses-notes" in _names(port)
    assert sa.retrieve("batch scoring of a dataset in S3", k=1)[0].source == "deploy.md"


def test_unreachable_server_is_a_clear_error(tmp_path, make_assistant):
    write_notes(tmp_path / "corpus", NOTES)
    sa = make_assistant(tmp_path, chroma_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(IndexUnavailableError, match="Cannot reach the Chroma server.*chroma run"):
        sa.ingest(progress=False)
