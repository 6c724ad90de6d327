"""StudyAssistant.ingest/retrieve on small real corpora: incremental updates, damage, crash safety."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import CACHE_DIR, KILL_AT, NOTES_FILE, REPO, write_notes

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


def _segments(tmp: Path) -> set[str]:
    return {p.name for p in (tmp / "index" / "segments").iterdir()}


def _live(sa: StudyAssistant) -> set[str]:
    return set(sa.store.read_manifest().segments())


def test_corrupt_manifest_is_reported_and_plain_ingest_repairs_it(small, make_assistant):
    tmp, sa, _ = small
    sa.close()
    (tmp / "index" / "manifest.json").write_text("{ this is not json", encoding="utf-8")
    sa = make_assistant(tmp)
    with pytest.raises(IndexCorruptError) as info:
        sa.retrieve("batch transform")
    assert "damaged" in str(info.value) and "Run `assistant ingest` to repair it" in str(info.value)
    status = sa.status()
    assert status.problems and "unreadable manifest" in status.problems[0] and status.needs_ingest
    report = sa.ingest(progress=False)
    assert (report.chunks, report.added) == (SMALL_CHUNKS, SMALL_CHUNKS)
    assert report.repaired and "unreadable manifest" in report.repaired[0]
    assert sa.retrieve("batch transform", k=1)[0].heading_path == ["SageMaker", "Batch Transform"]
    assert sa.status().problems == () and _segments(tmp) == _live(sa)  # the unreachable old segments went


def test_manifest_with_wrong_fields_is_corrupt(small, make_assistant):
    tmp, sa, _ = small
    sa.close()
    (tmp / "index" / "manifest.json").write_text('{"format": 2, "unexpected": 1}', encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="unreadable manifest.*assistant ingest"):
        make_assistant(tmp).retrieve("batch transform")


def test_a_missing_segment_is_found_and_only_its_file_embedded_again(small, make_assistant):
    tmp, sa, _ = small
    manifest = sa.store.read_manifest()
    shutil.rmtree(tmp / "index" / "segments" / manifest.files["ml/drift.md"]["segment"])
    sa = fresh(tmp, make_assistant, sa)
    assert sa.status().problems == ("ml/drift.md: its part of the index is missing",)
    with pytest.raises(IndexCorruptError, match="missing.*assistant ingest"):
        sa.retrieve("concept drift")
    report = sa.ingest(progress=False)
    assert (report.added, report.unchanged) == (2, SMALL_CHUNKS - 2)
    assert report.repaired == ["ml/drift.md: its part of the index is missing"]
    assert sa.retrieve("what is concept drift", k=1)[0].source == "ml/drift.md"
    assert sa.status().problems == ()


@pytest.mark.parametrize("damage", ["truncate tokens", "garbage arrays", "bad meta"])
def test_a_damaged_segment_is_one_line_and_plain_ingest_repairs_it(small, make_assistant, damage):
    tmp, sa, _ = small
    folder = tmp / "index" / "segments" / sa.store.read_manifest().files["aws/sagemaker.md"]["segment"]
    sa.close()
    if damage == "truncate tokens":
        data = (folder / "tokens.npy").read_bytes()
        (folder / "tokens.npy").write_bytes(data[: len(data) // 2])
    elif damage == "garbage arrays":
        size = (folder / "arrays.npz").stat().st_size
        (folder / "arrays.npz").write_bytes(b"x" * size)  # same size: only reading tells
    else:
        (folder / "meta.json").write_text('{"format": 1, "chunks": [["a"]]}', encoding="utf-8")
    sa = make_assistant(tmp)
    with pytest.raises(IndexCorruptError) as info:
        sa.retrieve("batch transform")
    assert "\n" not in str(info.value) and "assistant ingest" in str(info.value)
    if damage != "garbage arrays":  # a size change is seen without reading the segment
        assert sa.status().problems == ("aws/sagemaker.md: its part of the index is damaged",)
        assert sa.ingest(progress=False).added == 3
    else:
        assert sa.ingest(rebuild=True, progress=False).added == SMALL_CHUNKS
    assert sa.retrieve("batch transform", k=1)[0].heading_path == ["SageMaker", "Batch Transform"]


def test_an_index_from_the_previous_version_is_rebuilt_and_its_files_removed(small, make_assistant):
    tmp, sa, _ = small
    sa.close()
    index = tmp / "index"
    shutil.rmtree(index)
    index.mkdir()
    (index / "manifest.json").write_text('{"collection": "0123abcd", "model": "x", "chunker": {}, "files": {}, '
                                         '"updated": 1.0, "format": 1}', encoding="utf-8")
    (index / "chroma").mkdir()
    (index / "chroma" / "chroma.sqlite3").write_bytes(b"old database")
    (index / "tokens-0123abcd.npz").write_bytes(b"old vectors")
    (index / "pending.json").write_text("[]")
    sa = make_assistant(tmp)
    assert "older version" in sa.status().problems[0]
    with pytest.raises(IndexCorruptError, match="older version.*assistant ingest"):
        sa.retrieve("batch transform")
    report = sa.ingest(progress=False)
    assert report.added == SMALL_CHUNKS and "older version" in report.repaired[0]
    assert sorted(p.name for p in index.iterdir()) == [".writer.lock", "manifest.json", "segments"]


def test_a_changed_chunk_size_chunks_again(small, make_assistant):
    tmp, sa, _ = small
    assert sa.ingest(progress=False).added == 0
    smaller = make_assistant(tmp, chunk_tokens=64)  # the stored sections don't fit: they are cut again
    assert smaller.status().stale is True
    report = smaller.ingest(progress=False)
    assert report.chunks > SMALL_CHUNKS and report.added > 0
    assert smaller.status().stale is False and smaller.ingest(progress=False).added == 0


class _Renamed:
    """The session's embedder recorded under another fingerprint: how ingest sees another model."""

    def __init__(self, inner, info):
        self.inner, self.info = inner, info

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_another_embedding_model_embeds_everything_again(small, embedder):
    import dataclasses

    from conftest import make_settings

    tmp, sa, _ = small
    other = StudyAssistant(make_settings(tmp), embedder=_Renamed(embedder, dataclasses.replace(
        embedder.info, fingerprint="0" * 16)))
    try:
        assert other.status().stale is True
        report = other.ingest(progress=False)
        assert (report.added, report.unchanged) == (SMALL_CHUNKS, 0)  # no old vector is reused
        assert other.status().stale is False
        assert sa.status().stale is True  # and back: the first model's vectors are gone
    finally:
        other.close()


def test_the_model_fingerprint_is_its_content(tmp_path):
    """A fine-tune of the same model (same config, tokenizer and file sizes) is another model."""
    from assistant.embedding.model import bundled_model_dir, model_info

    copy = tmp_path / "model"
    shutil.copytree(bundled_model_dir(), copy)
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1000] ^= 0x01  # one bit of one weight
    same_size = bytes(data)
    assert model_info(copy, tmp_path / "cache").fingerprint == model_info(bundled_model_dir()).fingerprint
    weights.write_bytes(same_size)
    changed = model_info(copy, tmp_path / "cache")
    assert changed.fingerprint != model_info(bundled_model_dir()).fingerprint
    assert model_info(copy, tmp_path / "cache").fingerprint == changed.fingerprint  # remembered, same answer


def test_progress_callable_reports_done_and_total(tmp_path, make_assistant):
    write_notes(tmp_path / "corpus", SMALL_CORPUS)
    calls: list[tuple[int, int]] = []
    make_assistant(tmp_path).ingest(progress=lambda done, total: calls.append((done, total)))
    assert calls and calls[-1] == (SMALL_CHUNKS, SMALL_CHUNKS)


# -- crash safety, one writer, clean-up ---------------------------------------------------------

OLD_FACT = "The quokka cluster stores its checkpoints on the amber volume every ten minutes."
NEW_FACT = "The quokka cluster stores its checkpoints on the violet volume every hour."
OLD_PORT = "The wombat service listens on port 7001 behind the internal load balancer."
NEW_PORT = "The wombat service listens on port 9443 behind the public load balancer."


def _env(tmp: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(ASSISTANT_CORPUS_DIR=str(tmp / "corpus"), ASSISTANT_INDEX_DIR=str(tmp / "index"),
               ASSISTANT_CACHE_DIR=str(CACHE_DIR), HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO), **extra)
    return env


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


def _real_notes_head() -> str:
    """The first ~700 lines of the real notes (~90 chunks: two embedding batches), cut at a chapter."""
    lines = NOTES_FILE.read_text(encoding="utf-8").split("\n")
    cut = next(i for i in range(600, len(lines)) if lines[i].startswith("# "))
    return "\n".join(lines[:cut])


@pytest.mark.slow
def test_killed_while_embedding_leaves_previous_index_live(tmp_path, make_assistant):
    corpus = tmp_path / "corpus"
    facts = "# Cluster\n\n## Checkpoints\n\n" + OLD_FACT + "\n"
    write_notes(corpus, {"cluster.md": facts, "ml/drift.md": drift_md()})
    sa = make_assistant(tmp_path)
    assert sa.ingest(progress=False).added == 3
    live = _live(sa)
    sa.close()

    # many chunks to embed: the real notes arrive, and the fact changes
    (corpus / "cluster.md").write_text(facts.replace(OLD_FACT, NEW_FACT), encoding="utf-8")
    (corpus / "mla-notes.md").write_text(_real_notes_head(), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "--env-file", "/nonexistent", "ingest"],
                            env=_env(tmp_path), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stderr = _kill_when_embedding_progresses(proc)
    assert proc.returncode == -signal.SIGKILL, stderr

    # queries still see the old, complete index
    sa = make_assistant(tmp_path)
    assert sa.status().problems == () and _live(sa) == live
    top = sa.retrieve("where does the quokka cluster store checkpoints", k=1)[0]
    assert OLD_FACT in top.text
    assert {c.source for c in sa.chunks()} == {"cluster.md", "ml/drift.md"}

    # the next ingest completes and cleans up what the killed one wrote
    report = sa.ingest(progress=False)
    assert report.files == 3
    assert report.unchanged == 2 and report.removed == 1
    top = sa.retrieve("where does the quokka cluster store checkpoints", k=1)[0]
    assert NEW_FACT in top.text
    assert _segments(tmp_path) == _live(sa)




def _two_file_notes(cluster: str, port: str) -> dict[str, str]:
    return {"cluster.md": f"# Cluster\n\n## Checkpoints\n\n{cluster}\n",
            "wombat.md": f"# Wombat\n\n## Network\n\n{port}\n", "ml/drift.md": drift_md()}


@pytest.mark.slow
def test_a_kill_between_any_two_write_steps_leaves_one_whole_build(tmp_path, make_assistant):
    """Kill the writer after each durable step of an ingest that changes two files: a fresh reader then
    sees the old build or the new one, whole (both facts old or both new), the index is healthy, and
    the next ingest finishes the job and leaves nothing behind."""
    base = tmp_path / "base"
    write_notes(base / "corpus", _two_file_notes(OLD_FACT, OLD_PORT))
    sa = make_assistant(base)
    sa.ingest(progress=False)
    sa.close()
    write_notes(base / "corpus", _two_file_notes(NEW_FACT, NEW_PORT))
    (base / "corpus" / "ml" / "drift.md").unlink()  # a file removed too

    # the steps of this ingest, recorded on a copy
    probe = tmp_path / "probe"
    shutil.copytree(base, probe)
    steps: list[str] = []
    make_assistant(probe).ingest(progress=False, step=steps.append)
    assert steps == ["planned", "segment cluster.md", "segment wombat.md", "switched", "cleaned"]

    for n, target in enumerate(steps):
        run = tmp_path / f"kill-{n}"
        shutil.copytree(base, run)
        proc = subprocess.run([sys.executable, "-c", KILL_AT, target], env=_env(run), cwd=REPO,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == -signal.SIGKILL, (target, proc.stderr)
        reader = make_assistant(run)
        assert reader.status().problems == (), target
        text = " ".join(h.text for h in reader.retrieve("quokka checkpoints wombat port", k=5))
        switched = steps.index("switched") <= n
        expected = (NEW_FACT, NEW_PORT) if switched else (OLD_FACT, OLD_PORT)
        assert all(fact in text for fact in expected), (target, text)
        assert not any(fact in text for fact in {OLD_FACT, OLD_PORT, NEW_FACT, NEW_PORT} - set(expected)), target
        assert {c.source for c in reader.chunks()} == ({"cluster.md", "wombat.md"} if switched
                                                       else {"cluster.md", "wombat.md", "ml/drift.md"})
        report = reader.ingest(progress=False)
        assert report.added == (0 if switched else 2), target
        assert _segments(run) == _live(reader), target  # nothing left behind
        assert not [p for p in (run / "index").iterdir() if p.name.startswith((".manifest-", ".probe-"))]


INGEST = """
import json
from assistant import StudyAssistant
report = StudyAssistant.from_env(env_file=None).ingest(progress=False)
print(json.dumps({"added": report.added, "unchanged": report.unchanged, "chunks": report.chunks}))
"""


@pytest.mark.slow
def test_two_processes_ingesting_at_once_take_turns(tmp_path, make_assistant):
    write_notes(tmp_path / "corpus", {"mla-notes.md": _real_notes_head(), "ml/drift.md": drift_md()})
    procs = [subprocess.Popen([sys.executable, "-c", INGEST], env=_env(tmp_path), cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outs]
    # one embedded everything; the other waited for it, found nothing left to do and said so (which
    # printed first is up to the scheduler: the waiter polls the lock and its no-op takes ~3 ms)
    reports = sorted((json.loads(o[0].strip().splitlines()[-1]) for o in outs), key=lambda r: -r["added"])
    assert reports[0]["added"] == reports[0]["chunks"] > 60
    assert reports[1]["added"] == 0 and reports[1]["unchanged"] == reports[0]["chunks"]
    sa = make_assistant(tmp_path)
    assert sa.status().problems == () and _segments(tmp_path) == _live(sa)
    assert sa.retrieve("what is concept drift", k=1)[0].source == "ml/drift.md"


HOLD_LOCK = """
import sys, time
from pathlib import Path
from assistant.store.lock import WriterLock
with WriterLock(Path(sys.argv[1])).hold():
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_writer_that_cannot_wait_is_told_another_is_writing(small, make_assistant):
    from assistant.errors import IndexBusyError

    tmp, sa, _ = small
    (tmp / "corpus" / "added.md").write_text("# Added\n\nKinesis ingests streaming clickstream data.\n")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(tmp / "index"), "30"], env=_env(tmp),
                              cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        status = sa.status()
        assert status.busy and status.stale
        with pytest.raises(IndexBusyError, match="Another process is updating the index"):
            sa.ingest(progress=False, wait=False)
        with pytest.raises(IndexBusyError):
            sa.ingest(progress=False, wait=0.3)
        # readers are never blocked: they answer from the current build
        assert sa.retrieve("batch transform", k=1)[0].heading_path == ["SageMaker", "Batch Transform"]
    finally:
        holder.kill()
        holder.wait(timeout=30)
    # the lock died with its process
    assert not sa.status().busy
    assert sa.ingest(progress=False, wait=False).added == 1


def test_the_writer_lock_excludes_threads_and_its_portable_fallback_is_the_same_lock(tmp_path):
    import threading

    from assistant.errors import IndexBusyError
    from assistant.store.lock import WriterLock

    lock = WriterLock(tmp_path / "index")
    assert not lock.busy()
    outcome: list[str] = []

    def other_thread() -> None:
        try:
            with lock.hold(wait=False):
                outcome.append("got it")
        except IndexBusyError:
            outcome.append("busy")

    with lock.hold(wait=False):
        assert lock.busy()
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert outcome == ["busy"] and not lock.busy()
    # filelock (used where fcntl does not exist) takes the same flock: each side sees the other
    with lock._hold_portable(wait=False):
        assert lock.busy()
        with pytest.raises(IndexBusyError), lock.hold(wait=0.2):
            pass
    with lock.hold(wait=False):
        assert lock._busy_portable()


READ_LOOP = """
import json, sys, time
from assistant import StudyAssistant
from assistant.errors import AssistantError
sa = StudyAssistant.from_env(env_file=None)
seen, errors, end = [], [], time.time() + float(sys.argv[1])
while time.time() < end:
    try:
        sa.close()  # as a fresh process would: open the live build every time
        hits = sa.retrieve("quokka checkpoints wombat port", k=5)
        text = " ".join(h.text for h in hits)
        seen.append([fact in text for fact in sys.argv[2:]])
    except AssistantError as exc:
        errors.append(str(exc))
print(json.dumps({"seen": seen, "errors": errors}))
"""


@pytest.mark.slow
def test_readers_during_writes_see_whole_builds_and_never_fail(tmp_path, make_assistant):
    write_notes(tmp_path / "corpus", _two_file_notes(OLD_FACT, OLD_PORT))
    writer = make_assistant(tmp_path)
    writer.ingest(progress=False)
    facts = [OLD_FACT, OLD_PORT, NEW_FACT, NEW_PORT]
    readers = [subprocess.Popen([sys.executable, "-c", READ_LOOP, "12", *facts], env=_env(tmp_path), cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    time.sleep(3)  # the readers are up
    for n in range(6):  # flip both facts, in both files, back and forth
        notes = _two_file_notes(NEW_FACT, NEW_PORT) if n % 2 == 0 else _two_file_notes(OLD_FACT, OLD_PORT)
        write_notes(tmp_path / "corpus", notes)
        assert writer.ingest(progress=False).added == 2
    outs = [r.communicate(timeout=120) for r in readers]
    for out, err in outs:
        assert out.strip(), err
        result = json.loads(out.strip().splitlines()[-1])
        assert result["errors"] == [], result["errors"]
        assert len(result["seen"]) > 5
        # each answer comes from one build: both old facts, or both new ones
        assert all(s in ([True, True, False, False], [False, False, True, True]) for s in result["seen"])
    assert _segments(tmp_path) == _live(writer)


def test_after_ten_edits_only_the_live_build_remains(tmp_path, make_assistant):
    write_notes(tmp_path / "corpus", {"mla-notes.md": _real_notes_head(), "ml/drift.md": drift_md()})
    sa = make_assistant(tmp_path)
    sa.ingest(progress=False)
    for n in range(10):  # a one-line edit each time
        with (tmp_path / "corpus" / "ml" / "drift.md").open("a", encoding="utf-8") as fh:
            fh.write(f"\nRevision note {n}: drift checks run weekly.\n")
        assert sa.ingest(progress=False).added >= 1
    edited = sa.store.size_bytes()
    assert _segments(tmp_path) == _live(sa) and len(_live(sa)) == 2
    fresh_copy = tmp_path / "fresh"
    shutil.copytree(tmp_path / "corpus", fresh_copy / "corpus")
    other = make_assistant(fresh_copy)
    other.ingest(progress=False)
    assert edited <= 1.2 * other.store.size_bytes()


def test_clean_up_removes_what_dead_writers_left_and_keeps_a_live_ones(small, make_assistant):
    tmp, sa, _ = small
    segments = tmp / "index" / "segments"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    (segments / f".tmp-{dead}-0123456789abcdef").mkdir()
    (segments / f".tmp-{dead}-0123456789abcdef" / "tokens.npy").write_bytes(b"half written")
    (segments / "0000orphan000000").mkdir()  # a segment no manifest names
    (tmp / "index" / f".manifest-{dead}-x.tmp").write_text("{}")
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (segments / f".tmp-{alive.pid}-fedcba9876543210").mkdir()  # another writer's, in progress
        report = sa.ingest(progress=False)  # nothing changed: clean-up still runs
        assert report.added == 0
        assert _segments(tmp) == _live(sa) | {f".tmp-{alive.pid}-fedcba9876543210"}
        assert not list((tmp / "index").glob(".manifest-*"))
    finally:
        alive.kill()
        alive.wait()
    sa.ingest(progress=False)
    assert _segments(tmp) == _live(sa)


def test_incremental_ingest_reuses_token_vectors(small, make_assistant):
    tmp, sa, _ = small
    before = sa.retriever.index
    (tmp / "corpus" / "added.md").write_text("# Added\n\nKinesis ingests streaming clickstream data.\n")
    report = sa.ingest(progress=False)
    assert report.added == 1 and report.unchanged == SMALL_CHUNKS
    assert sa.retrieve("streaming clickstream", k=1)[0].source == "added.md"
    after = sa.retriever.index
    for pos, chunk in enumerate(before.chunks):  # the same stored vectors, untouched
        new = [c.id for c in after.chunks].index(chunk.id)
        a, b = before.token_offsets[pos], before.token_offsets[pos + 1]
        c, d = after.token_offsets[new], after.token_offsets[new + 1]
        assert np.array_equal(before.token_matrix[a:b], after.token_matrix[c:d])


def test_an_edit_rewrites_only_the_edited_files_segment(small, make_assistant):
    tmp, sa, _ = small
    manifest = sa.store.read_manifest()
    (tmp / "corpus" / "glossary.txt").write_text(GLOSSARY + "\n\nA batch is a slice of the training data.\n")
    sa.ingest(progress=False)
    after = sa.store.read_manifest()
    assert after.files["aws/sagemaker.md"]["segment"] == manifest.files["aws/sagemaker.md"]["segment"]
    assert after.files["ml/drift.md"]["segment"] == manifest.files["ml/drift.md"]["segment"]
    assert after.files["glossary.txt"]["segment"] != manifest.files["glossary.txt"]["segment"]


# -- reading the build ---------------------------------------------------------------------------


def test_the_build_records_each_token_vectors_line(small):
    import dataclasses

    from assistant.embedding.lines import line_token_rows
    from assistant.ingest.chunking import piece_texts
    from assistant.retrieval.retriever import Retriever

    _, sa, _ = small
    recorded = sa.retriever
    loaded = recorded.index
    assert loaded.token_lines is not None and len(loaded.token_lines) == len(loaded.token_matrix)
    # without recorded lines, the retriever tokenizes the passages again: the same split
    retokenized = Retriever(dataclasses.replace(loaded, token_lines=None), recorded.embedder,
                            tokenizer=sa.tokenizer, piece_tokens=recorded.lines.piece_tokens)
    for pos, chunk in enumerate(recorded.chunks):
        start, end = recorded.index.token_offsets[pos], recorded.index.token_offsets[pos + 1]
        expected = line_token_rows(chunk, piece_texts(chunk, sa.tokenizer, recorded.lines.piece_tokens),
                                   recorded.index.token_matrix[start:end], sa.tokenizer)
        for rows in (recorded.line_rows(pos), retokenized.line_rows(pos)):
            assert rows.keys() == expected.keys()
            assert all(np.array_equal(rows[line], expected[line]) for line in expected)


def test_a_fresh_process_answers_without_importing_chromadb(small):
    tmp, sa, _ = small
    sa.close()
    code = ("import sys\nfrom assistant import StudyAssistant\n"
            "sa = StudyAssistant.from_env(env_file=None)\n"
            "print(sa.answer('what does batch transform do?').citations[0].chunk.heading_path[-1])\n"
            "print('chromadb' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], env=_env(tmp), cwd=REPO, capture_output=True, text=True,
                         timeout=120, check=True).stdout.split("\n")
    assert out[:2] == ["Batch Transform", "False"]


def test_a_process_picks_up_a_build_another_process_made(small, make_assistant):
    tmp, sa, _ = small
    assert sa.retrieve("streaming clickstream", k=1)[0].source != "added.md"
    (tmp / "corpus" / "added.md").write_text("# Added\n\nKinesis ingests streaming clickstream data.\n")
    other = make_assistant(tmp)
    other.ingest(progress=False)
    assert sa.retrieve("streaming clickstream", k=1)[0].source == "added.md"  # no restart needed
