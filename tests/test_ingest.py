"""StudyAssistant.ingest/retrieve on small real corpora: incremental updates, damage, crash safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import chromadb
import chromadb.config
import numpy as np
import pytest
from conftest import CACHE_DIR, NOTES_FILE, REPO, write_notes

from assistant.core import StudyAssistant
from assistant.errors import CorpusError, IndexCorruptError, IndexNotWritableError, QuestionError
from assistant.schema import IngestReport

BATCH = (
    "SageMaker Batch Transform runs inference on a whole dataset stored in Amazon S3 without a "
    "persistent endpoint. It splits the input files, sends them to the model containers and writes "
    "the predictions back to an S3 output prefix. Use it for offline scoring of large datasets when "
    "no real-time latency is needed, and it shuts the instances down once the job finishes."
)
ENDPOINTS = (
    "Real-time endpoints host a model behind an HTTPS API for low-latency predictions. Traffic is "
    "served by one or more production variants, which allows A/B testing of two model versions, and "
    "auto scaling adds or removes instances based on the invocations per instance metric. "
    "Serverless inference is an alternative for spiky or intermittent traffic."
)
MONITOR = (
    "SageMaker Model Monitor captures endpoint requests and responses and compares them with a "
    "baseline computed from the training data. Scheduled monitoring jobs report violations such as "
    "missing features or changed distributions to CloudWatch so that retraining can be triggered. "
    "It supports data quality, model quality, bias drift and feature attribution drift."
)
DATA_DRIFT = (
    "Data drift happens when the statistical properties of the input features change over time, "
    "for example a new customer segment starts using the product and the age distribution moves. "
    "The model was trained on the old distribution, so its predictions degrade although nothing in "
    "the code changed. Compare live feature statistics with the training baseline to detect it."
)
CONCEPT_DRIFT = (
    "Concept drift is a change in the relationship between the inputs and the target variable: the "
    "same features now imply a different label, as when fraudsters change tactics. Input statistics "
    "may look stable, so it is detected by tracking model quality against ground truth labels and "
    "it is fixed by retraining on recent labelled examples or by online learning."
)
GLOSSARY = (
    "Quokka glossary. A hyperparameter is a setting chosen before training such as the learning "
    "rate, the batch size or the number of trees. An epoch is one full pass over the training data.\n"
    "\n"
    "Early stopping halts training when the validation loss stops improving for a few epochs, which "
    "prevents overfitting and saves compute. Regularization such as L1 and L2 penalties shrinks the "
    "weights for the same reason."
)


def sagemaker_md(batch: str = BATCH) -> str:
    return (f"# SageMaker\n\n## Batch Transform\n\n{batch}\n\n## Endpoints\n\n{ENDPOINTS}\n\n"
            f"## Model Monitor\n\n{MONITOR}\n")


def drift_md() -> str:
    return f"# Drift\n\n## Data Drift\n\n{DATA_DRIFT}\n\n## Concept Drift\n\n{CONCEPT_DRIFT}\n"


SMALL_CORPUS = {
    "aws/sagemaker.md": sagemaker_md(),
    "ml/drift.md": drift_md(),
    "glossary.txt": GLOSSARY,
}
SMALL_CHUNKS = 3 + 2 + 1


@pytest.fixture
def small(tmp_path, make_assistant):
    """A small corpus, already ingested once."""
    write_notes(tmp_path / "corpus", SMALL_CORPUS)
    sa = make_assistant(tmp_path)
    report = sa.ingest(progress=False)
    return tmp_path, sa, report


def fresh(tmp: Path, make_assistant, sa: StudyAssistant | None = None) -> StudyAssistant:
    """A new StudyAssistant on the same folders (closing the old one first)."""
    if sa is not None:
        sa.close()
    return make_assistant(tmp)


def test_first_ingest_adds_everything(small):
    _, sa, report = small
    assert isinstance(report, IngestReport)
    assert report.files == 3
    assert report.chunks == SMALL_CHUNKS
    assert (report.added, report.removed, report.unchanged) == (SMALL_CHUNKS, 0, 0)
    assert report.warnings == []
    chunks = sa.chunks()
    assert len(chunks) == SMALL_CHUNKS
    assert {c.source for c in chunks} == {"aws/sagemaker.md", "ml/drift.md", "glossary.txt"}
    assert sa.vectors().shape == (SMALL_CHUNKS, 384)


def test_summary_line_has_the_counts(small):
    _, _, report = small
    line = report.summary()
    assert "\n" not in line
    n = SMALL_CHUNKS
    assert line.startswith(f"Indexed 3 file(s): {n} chunks ({n} added, 0 removed, 0 unchanged) in ")
    assert line.endswith(" s")
    manual = IngestReport(files=2, chunks=10, added=3, removed=4, unchanged=7, seconds=1.26)
    assert manual.summary() == "Indexed 2 file(s): 10 chunks (3 added, 4 removed, 7 unchanged) in 1.3 s"


def test_second_ingest_is_idempotent(small, make_assistant):
    tmp, sa, _ = small
    again = sa.ingest(progress=False)
    assert (again.files, again.chunks, again.added, again.removed, again.unchanged) == (
        3, SMALL_CHUNKS, 0, 0, SMALL_CHUNKS)
    # also from a fresh process-like object on the same folders
    other = fresh(tmp, make_assistant, sa)
    third = other.ingest(progress=False)
    assert (third.added, third.removed, third.unchanged) == (0, 0, SMALL_CHUNKS)


def test_editing_one_section_reembeds_only_that_section(small, make_assistant):
    tmp, sa, _ = small
    old_ids = {c.id for c in sa.chunks()}
    edited = BATCH.replace("offline scoring", "offline scoring (nightly churn predictions)")
    (tmp / "corpus" / "aws" / "sagemaker.md").write_text(sagemaker_md(edited), encoding="utf-8")
    report = sa.ingest(progress=False)
    assert (report.added, report.removed, report.unchanged) == (1, 1, SMALL_CHUNKS - 1)
    assert report.chunks == SMALL_CHUNKS
    new_ids = {c.id for c in sa.chunks()}
    assert len(old_ids - new_ids) == 1 and len(new_ids - old_ids) == 1
    top = sa.retrieve("nightly churn predictions", k=1)[0]
    assert "nightly churn predictions" in top.text
    assert top.heading_path == ["SageMaker", "Batch Transform"]


def test_blank_lines_at_top_shift_lines_without_reembedding(small):
    tmp, sa, _ = small
    before = sa.retrieve("concept drift relationship between inputs and target", k=1)[0]
    assert "Concept drift is a change" in before.text
    path = tmp / "corpus" / "ml" / "drift.md"
    path.write_text("\n\n\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    report = sa.ingest(progress=False)
    assert (report.added, report.removed, report.unchanged) == (0, 0, SMALL_CHUNKS)
    after = sa.retrieve("concept drift relationship between inputs and target", k=1)[0]
    assert after.id == before.id
    assert (after.start_line, after.end_line) == (before.start_line + 3, before.end_line + 3)
    lines = path.read_text(encoding="utf-8").split("\n")
    assert "\n".join(lines[after.start_line - 1 : after.end_line]) == after.text


def test_deleting_a_file_removes_its_chunks(small):
    tmp, sa, _ = small
    (tmp / "corpus" / "ml" / "drift.md").unlink()
    report = sa.ingest(progress=False)
    assert report.files == 2
    assert (report.added, report.removed, report.unchanged) == (0, 2, SMALL_CHUNKS - 2)
    assert report.chunks == SMALL_CHUNKS - 2
    hits = sa.retrieve("data drift versus concept drift", k=10)
    assert hits
    assert all(h.source != "ml/drift.md" for h in hits)


def test_adding_a_file(small):
    tmp, sa, _ = small
    write_notes(tmp / "corpus", {"new/feature-store.md": (
        "# Feature Store\n\nSageMaker Feature Store keeps features in an online store for low-latency "
        "lookups and an offline store in S3 for training, so that the same feature definitions are used "
        "in training and inference. Point-in-time queries avoid leaking future data into training sets.\n")})
    report = sa.ingest(progress=False)
    assert report.files == 4
    assert (report.added, report.removed, report.unchanged) == (1, 0, SMALL_CHUNKS)
    top = sa.retrieve("online and offline feature store", k=1)[0]
    assert top.source == "new/feature-store.md"
    assert top.heading_path == ["Feature Store"]


def test_retrieve_without_index_ingests_first(tmp_path, make_assistant):
    write_notes(tmp_path / "corpus", SMALL_CORPUS)
    sa = make_assistant(tmp_path)
    assert not (tmp_path / "index").exists()
    hits = sa.retrieve("early stopping validation loss", k=3)
    assert (tmp_path / "index" / "manifest.json").is_file()
    assert hits[0].source == "glossary.txt"
    assert hits[0].heading_path == []
    assert len(sa.chunks()) == SMALL_CHUNKS


def test_retrieve_returns_k_results_with_positions(small):
    tmp, sa, _ = small
    hits = sa.retrieve("batch transform offline inference on S3 data", k=4)
    assert len(hits) == 4
    assert hits[0].heading_path == ["SageMaker", "Batch Transform"]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    for h in hits:
        lines = (tmp / "corpus" / h.source).read_text(encoding="utf-8").split("\n")
        assert "\n".join(lines[h.start_line - 1 : h.end_line]) == h.text
    assert len(sa.retrieve("batch transform", k=1)) == 1
    assert len(sa.retrieve("batch transform", k=50)) <= SMALL_CHUNKS


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_empty_question_raises(small, question):
    _, sa, _ = small
    with pytest.raises(QuestionError):
        sa.retrieve(question)


def test_non_positive_k_raises(small):
    _, sa, _ = small
    with pytest.raises(QuestionError, match="k must be 1 or more"):
        sa.retrieve("drift", k=0)


def test_missing_corpus_raises_corpus_error(tmp_path, make_assistant):
    sa = make_assistant(tmp_path)
    with pytest.raises(CorpusError, match="does not exist"):
        sa.ingest(progress=False)


def test_index_folder_that_cannot_be_created(tmp_path, make_assistant):
    write_notes(tmp_path / "corpus", SMALL_CORPUS)
    (tmp_path / "afile").write_text("I am a file")
    sa = make_assistant(tmp_path, index_dir=tmp_path / "afile" / "index")
    with pytest.raises(IndexNotWritableError) as info:
        sa.ingest(progress=False)
    assert str(tmp_path / "afile" / "index") in str(info.value)
    assert "ASSISTANT_INDEX_DIR" in str(info.value)
    with pytest.raises(IndexNotWritableError):
        sa.retrieve("drift")


def test_corrupt_manifest_raises_and_rebuild_recovers(small, make_assistant):
    tmp, sa, _ = small
    sa.close()
    (tmp / "index" / "manifest.json").write_text("{ this is not json", encoding="utf-8")
    sa = make_assistant(tmp)
    with pytest.raises(IndexCorruptError) as info:
        sa.retrieve("batch transform")
    assert "assistant ingest --rebuild" in str(info.value)
    with pytest.raises(IndexCorruptError, match="assistant ingest --rebuild"):
        sa.ingest(progress=False)
    report = sa.ingest(rebuild=True, progress=False)
    assert (report.chunks, report.added) == (SMALL_CHUNKS, SMALL_CHUNKS)
    assert sa.retrieve("batch transform", k=1)[0].heading_path == ["SageMaker", "Batch Transform"]


def test_manifest_with_wrong_fields_is_corrupt(small, make_assistant):
    tmp, sa, _ = small
    sa.close()
    (tmp / "index" / "manifest.json").write_text('{"collection": "x", "unexpected": 1}', encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="assistant ingest --rebuild"):
        make_assistant(tmp).retrieve("batch transform")


def test_corrupt_database_raises_with_rebuild_hint(small, make_assistant):
    tmp, sa, _ = small
    sa.close()
    (tmp / "index" / "chroma" / "chroma.sqlite3").write_bytes(b"garbage, not sqlite " * 500)
    with pytest.raises(IndexCorruptError) as info:
        make_assistant(tmp).retrieve("batch transform")
    assert "assistant ingest --rebuild" in str(info.value)


def test_rebuild_recovers_from_corrupt_database(small, make_assistant):
    tmp, sa, _ = small
    sa.close()
    (tmp / "index" / "chroma" / "chroma.sqlite3").write_bytes(b"garbage, not sqlite " * 500)
    sa = make_assistant(tmp)
    report = sa.ingest(rebuild=True, progress=False)
    assert report.chunks == SMALL_CHUNKS
    assert sa.retrieve("batch transform", k=1)[0].heading_path == ["SageMaker", "Batch Transform"]


def test_rebuild_after_another_assistant_used_the_index(small, make_assistant):
    tmp, sa, _ = small
    assert sa.retrieve("batch transform", k=1)  # this assistant has the index open; it is then dropped
    (tmp / "index" / "manifest.json").write_text("{ damaged", encoding="utf-8")
    other = make_assistant(tmp)
    report = other.ingest(rebuild=True, progress=False)
    assert report.added == SMALL_CHUNKS
    assert other.retrieve("batch transform", k=1)[0].heading_path == ["SageMaker", "Batch Transform"]


def test_missing_collection_is_corrupt_and_rebuild_recovers(small, make_assistant):
    tmp, sa, _ = small
    sa.close()
    client = chromadb.PersistentClient(path=str(tmp / "index" / "chroma"),
                                       settings=chromadb.config.Settings(anonymized_telemetry=False))
    for col in client.list_collections():
        client.delete_collection(getattr(col, "name", col))
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()
    sa = make_assistant(tmp)
    with pytest.raises(IndexCorruptError, match="assistant ingest --rebuild"):
        sa.retrieve("batch transform")
    report = sa.ingest(rebuild=True, progress=False)
    assert report.added == SMALL_CHUNKS
    assert sa.retrieve("batch transform", k=1)[0].heading_path == ["SageMaker", "Batch Transform"]


def test_progress_callable_reports_done_and_total(tmp_path, make_assistant):
    write_notes(tmp_path / "corpus", SMALL_CORPUS)
    calls: list[tuple[int, int]] = []
    make_assistant(tmp_path).ingest(progress=lambda done, total: calls.append((done, total)))
    assert calls and calls[-1] == (SMALL_CHUNKS, SMALL_CHUNKS)


# -- crash safety ------------------------------------------------------------------------------

OLD_FACT = "The quokka cluster stores its checkpoints on the amber volume every ten minutes."
NEW_FACT = "The quokka cluster stores its checkpoints on the violet volume every hour."


def _builds(index_dir: Path) -> set[str]:
    """Build ids of the Chroma collections on disk (a build may write several, e.g. chunks-<id>)."""
    return {name.split("-", 1)[-1] for name in _list_collections(index_dir)}


def _list_collections(index_dir: Path) -> list[str]:
    from chromadb.api.client import SharedSystemClient

    client = chromadb.PersistentClient(path=str(index_dir / "chroma"),
                                       settings=chromadb.config.Settings(anonymized_telemetry=False))
    try:
        return [getattr(c, "name", c) for c in client.list_collections()]
    finally:
        SharedSystemClient.clear_system_cache()


def _kill_when_embedding_progresses(proc: subprocess.Popen, deadline: float = 120.0) -> str:
    """Read stderr until tqdm shows 'Embedding notes' with a non-zero count, then SIGKILL."""
    os.set_blocking(proc.stderr.fileno(), False)
    seen = b""
    start = time.monotonic()
    try:
        while time.monotonic() - start < deadline:
            chunk = proc.stderr.read()
            if chunk:
                seen += chunk
                frames = seen.replace(b"\r", b"\n").split(b"\n")
                if any(b"Embedding notes" in f and b"| 0/" not in f for f in frames):
                    return seen.decode(errors="replace")
            if proc.poll() is not None:
                pytest.fail(f"ingest ended (rc={proc.returncode}) before it could be killed:\n"
                            f"{seen.decode(errors='replace')}")
            time.sleep(0.05)
        pytest.fail(f"no embedding progress seen:\n{seen.decode(errors='replace')}")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)


@pytest.mark.slow
def test_killed_ingest_leaves_previous_index_live(tmp_path, make_assistant):
    corpus = tmp_path / "corpus"
    facts = "# Cluster\n\n## Checkpoints\n\n" + OLD_FACT + "\n"
    write_notes(corpus, {"cluster.md": facts, "ml/drift.md": drift_md()})
    sa = make_assistant(tmp_path)
    assert sa.ingest(progress=False).added == 3
    sa.close()

    # many chunks to embed: the real notes arrive, and the fact changes
    (corpus / "cluster.md").write_text(facts.replace(OLD_FACT, NEW_FACT), encoding="utf-8")
    # the first ~700 lines of the real notes (~90 chunks: two embedding batches), cut at a chapter
    lines = NOTES_FILE.read_text(encoding="utf-8").split("\n")
    cut = next(i for i in range(600, len(lines)) if lines[i].startswith("# "))
    (corpus / "mla-notes.md").write_text("\n".join(lines[:cut]), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(ASSISTANT_CORPUS_DIR=str(corpus), ASSISTANT_INDEX_DIR=str(tmp_path / "index"),
               ASSISTANT_CACHE_DIR=str(CACHE_DIR), HF_HUB_OFFLINE="1", ANONYMIZED_TELEMETRY="False",
               PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "--env-file", "/nonexistent", "ingest"],
                            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stderr = _kill_when_embedding_progresses(proc)
    assert proc.returncode == -signal.SIGKILL, stderr
    # embedding happens before anything is written, so the killed run left nothing behind
    assert len(_builds(tmp_path / "index")) == 1, _list_collections(tmp_path / "index")

    # queries still see the old, complete index
    sa = make_assistant(tmp_path)
    top = sa.retrieve("where does the quokka cluster store checkpoints", k=1)[0]
    assert OLD_FACT in top.text
    assert {c.source for c in sa.chunks()} == {"cluster.md", "ml/drift.md"}

    # the next ingest completes and drops the orphan
    report = sa.ingest(progress=False)
    assert report.files == 3
    assert report.unchanged == 2 and report.removed == 1
    top = sa.retrieve("where does the quokka cluster store checkpoints", k=1)[0]
    assert NEW_FACT in top.text
    sa.close()
    assert len(_builds(tmp_path / "index")) == 1, _list_collections(tmp_path / "index")


def test_orphan_collections_of_a_killed_write_are_ignored_then_dropped(small, make_assistant):
    """A run killed while writing leaves half-built collections: queries never see them."""
    tmp, sa, _ = small
    sa.close()
    client = chromadb.PersistentClient(path=str(tmp / "index" / "chroma"),
                                       settings=chromadb.config.Settings(anonymized_telemetry=False))
    orphan = client.create_collection("pieces-deadbeef0000", embedding_function=None)
    orphan.add(ids=["x:0"], embeddings=[[1.0] + [0.0] * 383], documents=["ORPHAN TEXT"])
    client.create_collection("chunks-deadbeef0000", embedding_function=None)
    assert len(_builds(tmp / "index")) == 2
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()
    sa = make_assistant(tmp)
    assert all("ORPHAN" not in hit.text for hit in sa.retrieve("batch transform", k=10))
    sa.ingest(rebuild=True, progress=False)
    sa.close()
    assert len(_builds(tmp / "index")) == 1


def test_missing_token_vectors_file_is_corrupt_and_rebuild_recovers(small, make_assistant):
    tmp, sa, _ = small
    sa.close()
    [tokens_file] = list((tmp / "index").glob("tokens-*.npz"))
    tokens_file.unlink()
    sa = make_assistant(tmp)
    with pytest.raises(IndexCorruptError, match="token vectors missing.*assistant ingest --rebuild"):
        sa.retrieve("batch transform")
    sa.ingest(rebuild=True, progress=False)
    assert sa.retrieve("batch transform", k=1)[0].heading_path == ["SageMaker", "Batch Transform"]
    assert len(list((tmp / "index").glob("tokens-*.npz"))) == 1


def test_incremental_ingest_reuses_token_vectors(small, make_assistant):
    tmp, sa, _ = small
    (tmp / "corpus" / "added.md").write_text("# Added\n\nKinesis ingests streaming clickstream data.\n")
    report = sa.ingest(progress=False)
    assert report.added == 1 and report.unchanged == SMALL_CHUNKS
    assert len(list((tmp / "index").glob("tokens-*.npz"))) == 1  # the previous build's file is gone
    assert sa.retrieve("streaming clickstream", k=1)[0].source == "added.md"


# -- fast open from the build's snapshot ---------------------------------------------------------


def test_snapshot_holds_exactly_what_chroma_holds(small):
    _, sa, _ = small
    manifest = sa.store.read_manifest()
    fast, slow = sa.store.load(manifest), sa.store.load(manifest, snapshot=False)
    assert fast.chunks == slow.chunks
    assert fast.piece_count == slow.piece_count == len(slow.piece_owner)
    for name in ("piece_owner", "token_matrix", "token_offsets"):
        assert np.array_equal(getattr(fast, name), getattr(slow, name)), name
    for name in ("vectors", "piece_vectors"):  # Chroma's float round trip differs in the last bit
        assert np.allclose(getattr(fast, name), getattr(slow, name), rtol=0, atol=1e-6), name


def test_the_build_records_each_token_vectors_line(small):
    from assistant.chunking import piece_texts
    from assistant.linevectors import line_token_rows
    from assistant.retrieval import Retriever

    _, sa, _ = small
    loaded = sa.store.load(sa.store.read_manifest())
    assert loaded.token_lines is not None and len(loaded.token_lines) == len(loaded.token_matrix)
    recorded = sa.retriever
    # an index read from Chroma has no recorded lines: the retriever tokenizes the passages again
    retokenized = Retriever(sa.store.load(sa.store.read_manifest(), snapshot=False), recorded.embedder,
                            tokenizer=sa.tokenizer, piece_tokens=recorded.piece_tokens)
    assert retokenized.index.token_lines is None
    for pos, chunk in enumerate(recorded.chunks):
        start, end = recorded.index.token_offsets[pos], recorded.index.token_offsets[pos + 1]
        expected = line_token_rows(chunk, piece_texts(chunk, sa.tokenizer, recorded.piece_tokens),
                                   recorded.index.token_matrix[start:end], sa.tokenizer)
        for rows in (recorded.line_rows(pos), retokenized.line_rows(pos)):
            assert rows.keys() == expected.keys()
            assert all(np.array_equal(rows[line], expected[line]) for line in expected)


def test_a_fresh_process_answers_without_importing_chromadb(small):
    tmp, sa, _ = small
    sa.close()
    env = {**os.environ, "ASSISTANT_CORPUS_DIR": str(tmp / "corpus"), "ASSISTANT_INDEX_DIR": str(tmp / "index"),
           "ASSISTANT_CACHE_DIR": str(CACHE_DIR), "HF_HUB_OFFLINE": "1"}
    code = ("import sys\nfrom assistant import StudyAssistant\n"
            "sa = StudyAssistant.from_env(env_file=None)\n"
            "print(sa.answer('what does batch transform do?').citations[0].chunk.heading_path[-1])\n"
            "print('chromadb' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True,
                         timeout=120, check=True).stdout.split("\n")
    assert out[:2] == ["Batch Transform", "False"]


def test_a_build_without_a_snapshot_is_read_from_chroma(small, make_assistant):
    tmp, sa, _ = small
    sa.close()
    [path] = list((tmp / "index").glob("tokens-*.npz"))
    with np.load(path, allow_pickle=False) as data:  # the layout before snapshots: token vectors only
        kept = {k: data[k] for k in ("ids", "offsets", "states")}
    with path.open("wb") as fh:
        np.savez(fh, **kept)
    assert make_assistant(tmp).retrieve("batch transform", k=1)[0].heading_path == ["SageMaker", "Batch Transform"]


def test_a_damaged_snapshot_file_is_a_rebuild_hint_not_a_traceback(small, make_assistant):
    tmp, sa, _ = small
    sa.close()
    [path] = list((tmp / "index").glob("tokens-*.npz"))
    path.write_bytes(path.read_bytes()[:200])  # cut short: not a readable zip any more
    with pytest.raises(IndexCorruptError, match="assistant ingest --rebuild"):
        make_assistant(tmp).retrieve("batch transform")
