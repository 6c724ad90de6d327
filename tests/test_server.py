"""Server mode: the live build mirrored into a real `chroma run` on 127.0.0.1, started by the test."""

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


def _start(path: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    proc = subprocess.Popen([str(CHROMA), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    wait_until_serving(f"http://127.0.0.1:{port}/api/v2/heartbeat", proc, 60, "chroma run")
    return proc


@pytest.fixture
def server(tmp_path):
    if not CHROMA.exists():
        pytest.skip("the chroma command is not installed")
    port = free_port()
    proc = _start(tmp_path / "server-data", port)
    yield f"http://127.0.0.1:{port}", port, proc
    proc.terminate()
    proc.wait(timeout=20)


def _client(port: int):
    return chromadb.HttpClient(host="127.0.0.1", port=port,
                               settings=chromadb.config.Settings(anonymized_telemetry=False))


def _ours(port: int) -> dict[str, int]:
    """Our collections on the server and how many rows each holds."""
    client = _client(port)
    return {c.name: c.count() for c in client.list_collections() if c.name != "someone-elses-notes"}


def test_the_build_is_mirrored_on_the_server_and_other_collections_are_left_alone(tmp_path, server,
                                                                                 make_assistant):
    url, port, _ = server
    _client(port).create_collection("someone-elses-notes", embedding_function=None)
    write_notes(tmp_path / "corpus", NOTES)
    sa = make_assistant(tmp_path, chroma_url=url)

    first = sa.ingest(progress=False)
    assert first.added == first.chunks > 0
    ours = _ours(port)
    assert len(ours) == 2 and all(n.startswith(("chunks-", "pieces-")) for n in ours)
    manifest = sa.store.read_manifest()
    assert ours[f"chunks-{manifest.mirror}"] == manifest.chunk_count
    assert ours[f"pieces-{manifest.mirror}"] == manifest.piece_count
    hit = sa.retrieve("what happens when the input distribution changes", k=1)[0]
    assert hit.source == "monitor.md" and "Data drift" in hit.text
    assert sa.status().problems == ()

    assert sa.ingest(progress=False).added == 0  # idempotent
    (tmp_path / "corpus" / "deploy.md").write_text(NOTES["deploy.md"] + "\nAsync inference queues requests.\n")
    second = sa.ingest(progress=False)
    assert second.added >= 1 and second.unchanged >= 1
    manifest = sa.store.read_manifest()
    # the same two collections, updated in place: the old chunk deleted, the new one added
    assert _ours(port) == {f"chunks-{manifest.mirror}": manifest.chunk_count,
                           f"pieces-{manifest.mirror}": manifest.piece_count}
    docs = _client(port).get_collection(f"chunks-{manifest.mirror}").get(include=["documents"])["documents"]
    assert any("Async inference" in d for d in docs)

    sa.ingest(rebuild=True, progress=False)  # new collections; the old ones go after the switch
    rebuilt = sa.store.read_manifest()
    assert rebuilt.mirror != manifest.mirror and set(_ours(port)) == {f"chunks-{rebuilt.mirror}",
                                                                         f"pieces-{rebuilt.mirror}"}
    assert "someone-elses-notes" in {c.name for c in _client(port).list_collections()}
    assert sa.retrieve("batch scoring of a dataset in S3", k=1)[0].source == "deploy.md"


def test_hnsw_search_on_the_server_agrees_with_the_exact_scan(tmp_path, server, make_assistant):
    from assistant.retrieval.retriever import Retriever

    url, _, _ = server
    write_notes(tmp_path / "corpus", NOTES)
    sa = make_assistant(tmp_path, chroma_url=url)
    sa.ingest(progress=False)
    exact = sa.retriever
    via_chroma = Retriever(exact.index, exact.embedder, exact_limit=0, tokenizer=exact.lines.tokenizer,
                           piece_tokens=exact.lines.piece_tokens)  # force the server's HNSW query
    for question in ["what happens when the input distribution changes", "alarms on latency",
                     "batch scoring without an endpoint"]:
        assert [h.id for h in via_chroma.search(question, 3)] == [h.id for h in exact.search(question, 3)]


def test_rows_lost_on_the_server_are_found_and_repaired(tmp_path, server, make_assistant):
    url, port, _ = server
    write_notes(tmp_path / "corpus", NOTES)
    sa = make_assistant(tmp_path, chroma_url=url)
    sa.ingest(progress=False)
    manifest = sa.store.read_manifest()
    _client(port).delete_collection(f"pieces-{manifest.mirror}")
    problems = sa.status().problems
    assert problems and "Chroma server holds" in problems[0]
    report = sa.ingest(progress=False)
    assert report.added == 0 and report.repaired  # nothing embedded again: the segments have it all
    assert _ours(port)[f"pieces-{manifest.mirror}"] == manifest.piece_count
    assert sa.status().problems == ()


def test_a_server_that_dies_mid_ingest_is_one_line_and_the_index_stays(tmp_path, server, make_assistant):
    url, port, proc = server
    write_notes(tmp_path / "corpus", NOTES)
    sa = make_assistant(tmp_path, chroma_url=url)
    sa.ingest(progress=False)
    before = sa.store.read_manifest()
    (tmp_path / "corpus" / "deploy.md").write_text(NOTES["deploy.md"] + "\nAsync inference queues requests.\n")

    def die(step: str) -> None:
        if step.startswith("segment"):  # after the embedding, before the server is written
            proc.kill()
            proc.wait(timeout=20)

    with pytest.raises(IndexUnavailableError) as info:
        sa.ingest(progress=False, step=die)
    assert "\n" not in str(info.value) and "index in use is unchanged" in str(info.value)
    assert sa.store.read_manifest() == before  # still the old build
    assert sa.retrieve("batch scoring of a dataset in S3", k=1)[0].source == "deploy.md"  # answers locally
    restarted = _start(tmp_path / "server-data", port)
    try:
        sa.store.close()
        report = sa.ingest(progress=False)
        assert report.added == 1 and sa.status().problems == ()
    finally:
        restarted.terminate()
        restarted.wait(timeout=20)


def test_unreachable_server_is_a_clear_error(tmp_path, make_assistant):
    write_notes(tmp_path / "corpus", NOTES)
    sa = make_assistant(tmp_path, chroma_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(IndexUnavailableError, match="Cannot reach the Chroma server.*chroma run"):
        sa.ingest(progress=False)




def test_a_kill_between_any_two_write_steps_in_server_mode(tmp_path, server, make_assistant):
    """As tests/test_ingest.py's kill test, with the two server steps (upsert before the switch, delete
    after): a reader sees one whole build, and the next ingest leaves the server equal to the build."""
    import shutil
    import signal

    from conftest import CACHE_DIR, KILL_AT, REPO

    url, port, _ = server
    base = tmp_path / "base"
    write_notes(base / "corpus", NOTES)
    sa = make_assistant(base, chroma_url=url)
    sa.ingest(progress=False)
    mirror = sa.store.read_manifest().mirror
    sa.close()
    (base / "corpus" / "deploy.md").write_text(NOTES["deploy.md"] + "\nAsync inference queues requests.\n")
    steps = ["planned", "segment deploy.md", "mirrored", "switched", "pruned", "cleaned"]
    for n, target in enumerate(steps):
        run = tmp_path / f"kill-{n}"
        shutil.copytree(base, run)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
        env.update(ASSISTANT_CORPUS_DIR=str(run / "corpus"), ASSISTANT_INDEX_DIR=str(run / "index"),
                   ASSISTANT_CACHE_DIR=str(CACHE_DIR), ASSISTANT_CHROMA_URL=url, HF_HUB_OFFLINE="1",
                   PYTHONPATH=str(REPO))
        proc = subprocess.run([sys.executable, "-c", KILL_AT, target], env=env, cwd=REPO, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == -signal.SIGKILL, (target, proc.stderr)
        reader = make_assistant(run, chroma_url=url)
        switched = n >= steps.index("switched")
        texts = [c.text for c in reader.chunks()]
        assert any("Async inference" in t for t in texts) == switched, target
        report = reader.ingest(progress=False)
        assert report.added == (0 if switched else 1), target
        manifest = reader.store.read_manifest()
        assert manifest.mirror == mirror  # every copy of the folder shares the server's collections
        assert _ours(port) == {f"chunks-{mirror}": manifest.chunk_count, f"pieces-{mirror}": manifest.piece_count}
        assert reader.status().problems == (), target
        reader.close()
