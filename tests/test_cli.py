"""The `assistant` command through click's CliRunner (real settings, model and index)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import CACHE_DIR, unprivileged_works, write_notes

from assistant.cli import main

NOTES = {
    "drift.md": (
        "# Drift\n\n## Data Drift\n\nData drift happens when the statistical properties of the input "
        "features change over time, for example when a new customer segment starts using the product, "
        "so a model trained on the old distribution degrades although its code never changed. Compare "
        "live feature statistics with the training baseline to detect it early.\n\n## Concept Drift\n\n"
        "Concept drift is a change in the relationship between the inputs and the target variable: the "
        "same features now imply a different label, as when fraudsters change their tactics. It is "
        "detected by tracking model quality against ground truth labels and fixed by retraining.\n"
    ),
    "deploy/endpoints.md": (
        "# Endpoints\n\nReal-time endpoints serve low-latency predictions behind an HTTPS API; "
        "production variants allow A/B testing and auto scaling follows the invocations metric. "
        "Batch Transform scores whole datasets in S3 without any endpoint.\n"
    ),
}
KEYS = {"id", "text", "source", "heading_path", "start_line", "end_line", "score"}


def env_for(tmp: Path, **extra: str | None) -> dict[str, str | None]:
    env: dict[str, str | None] = {
        "ASSISTANT_CORPUS_DIR": str(tmp / "corpus"),
        "ASSISTANT_INDEX_DIR": str(tmp / "index"),
        "ASSISTANT_CACHE_DIR": str(CACHE_DIR),
        "ASSISTANT_STUDY_DIR": str(tmp / "study"),
        "ASSISTANT_EMBED_MODEL": None,
        "ASSISTANT_EMBED_ENGINE": None,
        "ASSISTANT_TOP_K": None,
        "ASSISTANT_HYBRID": None,
        "ASSISTANT_CHUNK_TOKENS": None,
        "ASSISTANT_MAX_FILE_MB": None,
        "HF_HUB_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
    }
    env.update(extra)
    return env


def run(tmp: Path, *args: str, env_file: Path | None = None, **extra: str | None):
    env_file = env_file if env_file is not None else tmp / "no-such.env"
    return CliRunner().invoke(main, ["--env-file", str(env_file), *args], env=env_for(tmp, **extra))


def one_error_line(result) -> str:
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.output
    assert result.stdout == ""
    return lines[0]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("cli")
    write_notes(tmp / "corpus", NOTES)
    result = run(tmp, "ingest", "-q")
    assert result.exit_code == 0, result.output
    return tmp


def test_help_lists_commands(tmp_path):
    for flag in ("--help", "-h"):
        result = CliRunner().invoke(main, [flag])
        assert result.exit_code == 0
        assert "ingest" in result.output and "search" in result.output
    result = CliRunner().invoke(main, ["search", "--help"])
    assert result.exit_code == 0
    assert "--json" in result.output and "--top-k" in result.output


def test_ingest_prints_summary_and_warnings(tmp_path):
    write_notes(tmp_path / "corpus", NOTES)
    (tmp_path / "corpus" / "empty.md").write_text("")
    (tmp_path / "corpus" / "blob.txt").write_bytes(b"\x00\x01binary")
    result = run(tmp_path, "ingest", "-q")
    assert result.exit_code == 0, result.output
    out = result.stdout.strip().splitlines()
    assert len(out) == 1
    assert out[0].startswith("Indexed 2 file(s): 3 chunks (3 added, 0 removed, 0 unchanged) in ")
    warnings = result.stderr.strip().splitlines()
    assert "warning: empty.md: skipped, it is empty." in warnings
    assert "warning: blob.txt: skipped, it looks like a binary file, not text notes." in warnings
    assert len(warnings) == 2
    again = run(tmp_path, "ingest")
    assert again.exit_code == 0
    assert "(0 added, 0 removed, 3 unchanged)" in again.stdout


def test_ingest_rebuild_reembeds_everything(indexed):
    result = run(indexed, "ingest", "--rebuild", "-q")
    assert result.exit_code == 0, result.output
    assert "Indexed 2 file(s): 3 chunks (3 added, 3 removed, 0 unchanged)" in result.stdout


def test_search_json(indexed):
    result = run(indexed, "search", "what is concept drift", "--json", "-k", "2")
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert isinstance(hits, list) and len(hits) == 2
    for hit in hits:
        assert isinstance(hit, dict)
        assert KEYS <= set(hit)
        assert isinstance(hit["heading_path"], list)
        assert isinstance(hit["start_line"], int) and isinstance(hit["end_line"], int)
        assert isinstance(hit["score"], float)
        lines = (indexed / "corpus" / hit["source"]).read_text().split("\n")
        assert "\n".join(lines[hit["start_line"] - 1 : hit["end_line"]]) == hit["text"]
    assert hits[0]["heading_path"] == ["Drift", "Concept Drift"]
    assert hits[0]["source"] == "drift.md"


def test_search_dense_only_and_default_k(indexed):
    result = run(indexed, "search", "batch transform", "--json", "--dense-only")
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert len(hits) == 3  # default k 5, but the index holds only 3 chunks
    assert hits[0]["source"] == "deploy/endpoints.md"


def test_search_k_from_env_file(indexed, tmp_path):
    env_file = tmp_path / "settings.env"
    env_file.write_text("ASSISTANT_TOP_K=1\n")
    result = run(indexed, "search", "drift", "--json", env_file=env_file)
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 1


def test_search_text_output(indexed):
    result = run(indexed, "search", "auto scaling of endpoints", "-k", "1")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("[1] Endpoints\n")
    assert "deploy/endpoints.md:1-" in result.stdout
    assert "score" in result.stdout and "similarity" in result.stdout


def test_blank_question_is_one_error_line(indexed):
    line = one_error_line(run(indexed, "search", "   "))
    assert "empty" in line


def test_zero_k_is_a_usage_error(indexed):
    result = run(indexed, "search", "drift", "-k", "0")
    assert result.exit_code == 2
    assert "Invalid value" in result.stderr and "-k" in result.stderr


def test_missing_corpus_is_one_error_line(tmp_path):
    line = one_error_line(run(tmp_path, "ingest"))
    assert str(tmp_path / "corpus") in line
    assert "does not exist" in line and "ASSISTANT_CORPUS_DIR" in line
    # search on a missing index builds it first, so it reports the same problem
    line = one_error_line(run(tmp_path, "search", "drift"))
    assert "does not exist" in line


def test_unwritable_index_folder_is_one_error_line(tmp_path):
    write_notes(tmp_path / "corpus", NOTES)
    (tmp_path / "afile").write_text("not a folder")
    bad = tmp_path / "afile" / "index"
    line = one_error_line(run(tmp_path, "ingest", "-q", ASSISTANT_INDEX_DIR=str(bad)))
    assert str(bad) in line
    line = one_error_line(run(tmp_path, "search", "drift", ASSISTANT_INDEX_DIR=str(bad)))
    assert "ASSISTANT_INDEX_DIR" in line


def test_bad_setting_is_one_error_line(indexed):
    line = one_error_line(run(indexed, "search", "drift", ASSISTANT_TOP_K="many"))
    assert "ASSISTANT_TOP_K" in line


def test_several_bad_settings_are_one_error_line_naming_each(tmp_path):
    env_file = tmp_path / "settings.env"
    env_file.write_text("ASSISTANT_EMBED_ENGINE=torch\n")
    line = one_error_line(run(tmp_path, "status", env_file=env_file, ASSISTANT_TOP_K="many", ASSISTANT_HYBRID="2"))
    for shown in ("ASSISTANT_TOP_K='many'", "ASSISTANT_HYBRID='2'", "ASSISTANT_EMBED_ENGINE='torch'"):
        assert shown in line


def test_a_damaged_index_is_shown_by_status_and_repaired_by_the_next_question(tmp_path):
    write_notes(tmp_path / "corpus", NOTES)
    assert run(tmp_path, "ingest", "-q").exit_code == 0
    (tmp_path / "index" / "manifest.json").write_text("garbage")
    status = run(tmp_path, "status")
    assert status.exit_code == 0 and "health         The index in" in status.stdout
    assert "run `assistant ingest` to repair it" in status.stdout
    result = run(tmp_path, "search", "drift", "--json")
    assert result.exit_code == 0, result.output
    assert "The index needs repair" in result.stderr and "repaired: The index in" in result.stderr
    assert json.loads(result.stdout)[0]["source"] == "drift.md"
    assert "health         ok" in run(tmp_path, "status").stdout


HOLD_LOCK = """
import sys, time
from pathlib import Path
from assistant.store.lock import WriterLock
with WriterLock(Path(sys.argv[1])).hold():
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _subprocess_env(tmp: Path) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update({k: v for k, v in env_for(tmp).items() if v is not None})
    return env


def test_questions_while_another_process_writes_answer_from_the_index_as_it_is(tmp_path):
    import subprocess
    import sys

    write_notes(tmp_path / "corpus", NOTES)
    assert run(tmp_path, "ingest", "-q").exit_code == 0
    write_notes(tmp_path / "corpus", {"new/quokka.md": "# Quokka\n\nThe quokka cluster keeps checkpoints in S3.\n"})
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(tmp_path / "index"), "4"],
                              env=_subprocess_env(tmp_path), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        assert "writer         another process is updating the index" in run(tmp_path, "status").stdout
        result = run(tmp_path, "search", "what is concept drift", "--json")
        assert result.exit_code == 0, result.output
        assert "Another process is updating the index: answering from the index as it is" in result.stderr
        assert json.loads(result.stdout)[0]["source"] == "drift.md"
        # an explicit ingest waits for the other writer, then does what is left
        waited = run(tmp_path, "ingest", "-q")
        assert waited.exit_code == 0, waited.output
        assert "waiting for it to finish" in waited.stderr and "1 added" in waited.stdout
    finally:
        holder.kill()
        holder.wait(timeout=30)


@pytest.mark.skipif(not unprivileged_works(), reason="needs `unshare --user` to drop root's permission override")
@pytest.mark.parametrize("command", [["search", "data drift"], ["ingest", "-q"]])
def test_unreadable_index_folder_is_one_error_line_and_loses_nothing(indexed, command):
    import os
    import subprocess
    import sys

    index = indexed / "index"
    env = {k: v for k, v in env_for(indexed).items() if v is not None}
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}, **env}
    os.chmod(index, 0)
    try:
        # as root the permission bits would be ignored: run the real CLI without that override
        proc = subprocess.run(["unshare", "--user", sys.executable, "-m", "assistant.cli",
                               "--env-file", str(indexed / "no-such.env"), *command],
                              capture_output=True, text=True, env=env, cwd=indexed, timeout=120)
    finally:
        os.chmod(index, 0o755)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), proc.stderr
    assert "permission denied" in lines[0].lower() and str(index) in lines[0]
    # nothing was lost: with permissions back, the index answers without re-embedding
    result = run(indexed, "ingest", "-q")
    assert result.exit_code == 0 and "0 added, 0 removed" in result.stdout
    hits = json.loads(run(indexed, "search", "data drift", "--json").stdout)
    assert hits[0]["source"] == "drift.md"


@pytest.mark.skipif(not unprivileged_works(), reason="needs `unshare --user` to drop root's permission override")
def test_a_read_only_index_with_changed_notes_still_answers(tmp_path):
    import os
    import subprocess
    import sys

    write_notes(tmp_path / "corpus", NOTES)
    assert run(tmp_path, "ingest", "-q").exit_code == 0
    write_notes(tmp_path / "corpus", {"new/quokka.md": "# Quokka\n\nThe quokka cluster keeps checkpoints in S3.\n"})
    index = tmp_path / "index"
    modes = {p: p.stat().st_mode for p in [index, *index.rglob("*")]}
    for path in modes:
        os.chmod(path, 0o555 if path.is_dir() else 0o444)
    try:
        proc = subprocess.run(["unshare", "--user", sys.executable, "-m", "assistant.cli", "--env-file",
                               str(tmp_path / "no-such.env"), "search", "what is concept drift", "--json"],
                              capture_output=True, text=True, env=_subprocess_env(tmp_path), cwd=tmp_path, timeout=120)
    finally:
        for path, mode in modes.items():
            os.chmod(path, mode)
    assert proc.returncode == 0, proc.stderr
    assert "warning: cannot update the index, so answering from it as it is" in proc.stderr
    assert json.loads(proc.stdout)[0]["source"] == "drift.md"


def test_status_reports_counts_and_staleness(tmp_path):
    write_notes(tmp_path / "corpus", NOTES)
    before = run(tmp_path, "status")
    assert before.exit_code == 0 and "0 file(s), 0 chunks; last ingest never" in before.stdout
    assert "notes changed  yes" in before.stdout
    assert run(tmp_path, "ingest", "-q").exit_code == 0
    fresh = run(tmp_path, "status")
    assert "2 file(s)" in fresh.stdout and "notes changed  no" in fresh.stdout
    (tmp_path / "corpus" / "drift.md").write_text(NOTES["drift.md"] + "\nMore notes.\n", encoding="utf-8")
    assert "notes changed  yes" in run(tmp_path, "status").stdout


def test_search_updates_a_stale_index_first(tmp_path):
    write_notes(tmp_path / "corpus", NOTES)
    assert run(tmp_path, "ingest", "-q").exit_code == 0
    write_notes(tmp_path / "corpus", {"new/quokka.md": "# Quokka\n\nThe quokka cluster keeps checkpoints in S3.\n"})
    result = run(tmp_path, "search", "where are quokka checkpoints kept", "--json")
    assert result.exit_code == 0, result.output
    assert "updating the index first" in result.stderr and "1 added" in result.stderr
    assert json.loads(result.stdout)[0]["source"] == "new/quokka.md"
    again = run(tmp_path, "search", "where are quokka checkpoints kept", "--json")
    assert "updating" not in again.stderr  # up to date now: no second ingest


def test_ask_streams_a_cited_answer_then_sources(indexed):
    result = run(indexed, "ask", "what is the difference between data drift and concept drift?")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "**data drift:**" in out.lower() and "**concept drift:**" in out.lower() and "[1]" in out
    assert "Sources" in out and "drift.md, line" in out
    assert "Quoted from your notes" in result.stderr and "extractive" in result.stderr


def test_ask_json_has_answer_fields(indexed):
    result = run(indexed, "ask", "how are real-time endpoints scaled?", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"text", "citations", "abstained", "backend", "prompt", "seconds", "contexts"} <= set(data)
    assert data["backend"] == "extractive" and not data["abstained"]
    assert data["citations"] and data["citations"][0]["chunk"]["source"] in {"drift.md", "deploy/endpoints.md"}


def test_ask_unknown_backend_and_prompt_are_one_error_line(indexed):
    assert "available: extractive" in one_error_line(run(indexed, "ask", "what is drift?", "--backend", "nope"))
    error = one_error_line(run(indexed, "ask", "what is drift?", "--prompt", "nope"))
    assert "available: default, short-answers, whole-passages" in error
    assert "empty" in one_error_line(run(indexed, "ask", "  "))


def test_chat_keeps_history_for_follow_ups_and_survives_errors(indexed):
    result = CliRunner().invoke(
        main, ["--env-file", str(indexed / "no-such.env"), "chat"], env=env_for(indexed),
        input="explain concept drift vs data drift\n\nand how do I detect it?\n/new\n/quit\n",
    )
    assert result.exit_code == 0, result.output
    assert "Answering: how do I detect concept drift and data drift?" in result.stderr
    assert "New chat." in result.stdout


# --- bad inputs: each is one line, and the rest of the notes is still indexed ------------------------


def run_real(tmp: Path, *args: str | bytes, seconds: float = 120):
    """The real `assistant` in its own process (bytes arguments reach it as a terminal sends them)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in env_for(tmp).items() if v is not None}
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}, **env}
    try:
        return subprocess.run([sys.executable, "-m", "assistant.cli", "--env-file", str(tmp / "no-such.env"), *args],
                              capture_output=True, env=env, cwd=tmp, timeout=seconds)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`assistant {' '.join(map(str, args))}` still running after {seconds:.0f} s")


def test_fifo_in_the_notes_does_not_hang_ingest_search_or_status(tmp_path):
    import os

    write_notes(tmp_path / "corpus", NOTES)
    os.mkfifo(tmp_path / "corpus" / "x.md")
    warning = "warning: x.md: skipped, it is a named pipe (FIFO), not a regular file."
    ingest = run_real(tmp_path, "ingest", "-q")
    assert ingest.returncode == 0, ingest.stderr
    assert ingest.stderr.decode().strip().splitlines() == [warning]
    assert ingest.stdout.decode().startswith("Indexed 2 file(s): 3 chunks (3 added")
    status = run_real(tmp_path, "status")
    assert status.returncode == 0, status.stderr
    assert "2 file(s), 3 chunks" in status.stdout.decode() and "notes changed  no" in status.stdout.decode()
    search = run_real(tmp_path, "search", "what is concept drift", "--json", "-k", "1")
    assert search.returncode == 0, search.stderr
    assert json.loads(search.stdout)[0]["source"] == "drift.md"


def test_bad_names_wide_encodings_and_broken_links_are_one_warning_each(tmp_path):
    import os

    corpus = tmp_path / "corpus"
    write_notes(corpus, NOTES)
    with open(os.path.join(os.fsencode(corpus), b"caf\xe9.md"), "wb") as fh:  # a Latin-1 name
        fh.write(b"# Wombat\n\nThe wombat job exports its metrics to CloudWatch every minute.\n")
    (corpus / "notepad.txt").write_bytes(  # what Windows Notepad writes for "Unicode"
        "\ufeff# Quokka\r\n\r\nThe quokka cluster keeps its checkpoints in S3.\r\n".encode("utf-16-le"))
    os.symlink("nowhere.md", corpus / "gone.md")
    result = run(tmp_path, "ingest", "-q")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Indexed 4 file(s)")
    assert sorted(result.stderr.strip().splitlines()) == [
        "warning: caf\\xe9.md: its path is not valid UTF-8; indexed under this name, with \\xNN for each bad byte. "
        "Rename it to UTF-8 to fix.",
        "warning: gone.md: skipped, a broken link: its target nowhere.md does not exist (fix or delete the link).",
    ]
    hits = json.loads(run(tmp_path, "search", "where does the quokka cluster keep checkpoints", "--json").stdout)
    assert hits[0]["source"] == "notepad.txt" and "checkpoints in S3" in hits[0]["text"]
    hits = json.loads(run(tmp_path, "search", "wombat metrics CloudWatch", "--json").stdout)
    assert hits[0]["source"] == "caf\\xe9.md"
    status = run(tmp_path, "status")
    assert "4 file(s)" in status.stdout and "notes changed  no" in status.stdout


def test_question_with_bytes_that_are_not_utf8_is_used_with_one_warning(indexed):
    # what Python makes of `assistant search $'concept drift caf\xe9'` typed in a Latin-1 terminal
    for args in (["search", "what is concept drift caf\udce9", "--json"],
                 ["ask", "what is concept drift caf\udce9", "--json"]):
        result = run(indexed, *args)
        assert result.exit_code == 0, result.output
        assert result.stderr.strip().splitlines() == [
            "warning: QUESTION is not valid UTF-8, using 'what is concept drift caf\ufffd' (U+FFFD for each bad "
            "byte); set your terminal to UTF-8 (e.g. LANG=C.UTF-8) to fix."]
        data = json.loads(result.stdout)
        source = data[0]["source"] if args[0] == "search" else data["citations"][0]["chunk"]["source"]
        assert source == "drift.md"


def test_question_with_nothing_readable_is_one_error_line(indexed):
    for command in ("search", "ask"):
        line = one_error_line(run(indexed, command, "\udcff\udcfe "))
        assert line == ("Error: QUESTION is not valid UTF-8 and nothing readable is left of it: set your terminal "
                        "to UTF-8 (e.g. LANG=C.UTF-8) and type it again.")


@pytest.mark.parametrize("args", [
    ["ask", "what is drift?", "--backend", "extractiv\udce9"],
    ["ask", "what is drift?", "--prompt", "d\udce9faut"],
    ["chat", "--backend", "\udcff"],
    ["eval", "--variants", "d\udce9faut", "--dry-run"],
    ["eval", "--name", "essai-\udce9", "--dry-run"],
    ["eval", "--judge", "bedrock", "--judge-metrics", "fid\udce9lit\udce9", "--dry-run"],
])
def test_names_with_bytes_that_are_not_utf8_are_one_error_line(indexed, args):
    line = one_error_line(run(indexed, *args))
    option = next(a for a in args if a.startswith("--") and a not in ("--dry-run", "--judge"))
    assert line.startswith(f"Error: {option} '")
    assert "\ufffd" in line and line.endswith("is not valid UTF-8: set your terminal to UTF-8 (e.g. LANG=C.UTF-8) "
                                              "and type it again.")


def test_bytes_that_are_not_utf8_in_real_argv(indexed):
    nothing = run_real(indexed, b"search", b"\xff")
    assert nothing.returncode == 1
    assert nothing.stderr.decode().strip().splitlines() == [
        "Error: QUESTION is not valid UTF-8 and nothing readable is left of it: set your terminal to UTF-8 "
        "(e.g. LANG=C.UTF-8) and type it again."]
    assert nothing.stdout == b""
    latin = run_real(indexed, b"ask", b"caf\xe9 concept drift", b"--json")
    assert latin.returncode == 0, latin.stderr
    assert latin.stderr.decode().strip().splitlines() == [
        "warning: QUESTION is not valid UTF-8, using 'caf\ufffd concept drift' (U+FFFD for each bad byte); "
        "set your terminal to UTF-8 (e.g. LANG=C.UTF-8) to fix."]
    assert json.loads(latin.stdout)["citations"][0]["chunk"]["source"] == "drift.md"
