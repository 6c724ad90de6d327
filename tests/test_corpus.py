"""Finding and reading note files: what is read, what is skipped and what the user is told."""

from __future__ import annotations

import os

import pytest

from assistant.errors import CorpusError
from assistant.sources.notes import discover, load_corpus, read_note

MAX = 2_000_000


def _write(path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "corpus"
    _write(root / "a.md", "# A\nalpha\n")
    _write(root / "sub" / "b.markdown", "# B\nbeta\n")
    _write(root / "sub" / "deeper" / "c.txt", "gamma\n")
    _write(root / "sub" / "UPPER.MD", "# Upper\ncase suffix\n")
    _write(root / "image.png", b"\x89PNG\r\n")
    _write(root / "notes.docx", "not a note")
    _write(root / "script.py", "print('hi')\n")
    _write(root / ".hidden" / "secret.md", "# Hidden\n")
    _write(root / "sub" / ".draft.md", "# Draft\n")
    return root


def test_discover_is_recursive_sorted_and_filters(corpus):
    files, warnings = discover(corpus)
    rel = [f.relative_to(corpus).as_posix() for f in files]
    assert rel == ["a.md", "sub/UPPER.MD", "sub/b.markdown", "sub/deeper/c.txt"]
    assert warnings == []


def test_load_corpus_reads_sources_with_forward_slashes(corpus):
    notes, warnings = load_corpus(corpus, MAX)
    by_source = {n.source: n for n in notes}
    assert set(by_source) == {"a.md", "sub/UPPER.MD", "sub/b.markdown", "sub/deeper/c.txt"}
    assert by_source["sub/b.markdown"].text == "# B\nbeta\n"
    assert warnings == []
    assert len({n.digest for n in notes}) == 4
    assert all(len(n.digest) == 64 for n in notes)


def test_digest_changes_with_content(corpus):
    before = {n.source: n.digest for n in load_corpus(corpus, MAX)[0]}
    (corpus / "a.md").write_text("# A\nalpha changed\n", encoding="utf-8")
    after = {n.source: n.digest for n in load_corpus(corpus, MAX)[0]}
    assert before["a.md"] != after["a.md"]
    assert before["sub/b.markdown"] == after["sub/b.markdown"]


def test_empty_file_is_skipped_with_warning(corpus):
    _write(corpus / "empty.md", "")
    _write(corpus / "blank.md", "  \n\n\t\n")
    notes, warnings = load_corpus(corpus, MAX)
    assert {"empty.md", "blank.md"}.isdisjoint(n.source for n in notes)
    assert any(w.startswith("empty.md:") and "empty" in w for w in warnings)
    assert any(w.startswith("blank.md:") and "empty" in w for w in warnings)


def test_binary_file_is_skipped_with_warning(corpus):
    _write(corpus / "blob.md", b"# looks like notes\x00\x01\x02\xff" * 10)
    notes, warnings = load_corpus(corpus, MAX)
    assert "blob.md" not in {n.source for n in notes}
    assert [w for w in warnings if w.startswith("blob.md:")] == [
        "blob.md: skipped, it looks like a binary file, not text notes."
    ]


def test_non_utf8_is_read_with_replacement_and_warning(corpus):
    _write(corpus / "latin.md", "# Caf\xe9\nna\xefve r\xe9sum\xe9\n".encode("latin-1"))
    notes, warnings = load_corpus(corpus, MAX)
    note = next(n for n in notes if n.source == "latin.md")
    assert note.text == "# Caf\ufffd\nna\ufffdve r\ufffdsum\ufffd\n"
    (warning,) = [w for w in warnings if w.startswith("latin.md:")]
    assert "UTF-8" in warning and "U+FFFD" in warning
    assert "offset 5" in warning


def test_utf8_bom_is_stripped_without_warning(corpus):
    _write(corpus / "bom.md", "\ufeff# Title\nbody\n".encode())
    notes, warnings = load_corpus(corpus, MAX)
    assert next(n for n in notes if n.source == "bom.md").text == "# Title\nbody\n"
    assert not [w for w in warnings if w.startswith("bom.md")]


def test_file_over_size_limit_is_skipped_naming_the_limit(corpus):
    _write(corpus / "huge.md", "a" * 5_000_000)
    notes, warnings = load_corpus(corpus, 2_000_000)
    assert "huge.md" not in {n.source for n in notes}
    (warning,) = [w for w in warnings if w.startswith("huge.md:")]
    assert "5.0 MB" in warning
    assert "2.0 MB limit" in warning
    assert "ASSISTANT_MAX_FILE_MB" in warning
    # the same file under a big enough limit is read
    notes, _ = load_corpus(corpus, 6_000_000)
    assert "huge.md" in {n.source for n in notes}


def test_symlink_to_file_outside_is_not_followed(tmp_path, corpus):
    outside = tmp_path / "outside.md"
    _write(outside, "# Outside\nprivate\n")
    os.symlink(outside, corpus / "link.md")
    notes, warnings = load_corpus(corpus, MAX)
    assert "link.md" not in {n.source for n in notes}
    assert "private" not in "".join(n.text for n in notes)
    (warning,) = [w for w in warnings if w.startswith("link.md")]
    assert "outside" in warning and "not followed" in warning


def test_symlink_to_file_inside_is_skipped_as_duplicate(corpus):
    os.symlink(corpus / "a.md", corpus / "alias.md")
    notes, warnings = load_corpus(corpus, MAX)
    assert [n.source for n in notes].count("a.md") == 1
    assert "alias.md" not in {n.source for n in notes}
    assert any(w.startswith("alias.md") for w in warnings)


def test_symlinked_folder_outside_is_not_followed(tmp_path, corpus):
    outside = tmp_path / "elsewhere"
    _write(outside / "x.md", "# X\nfrom elsewhere\n")
    os.symlink(outside, corpus / "linked", target_is_directory=True)
    notes, warnings = load_corpus(corpus, MAX)
    assert not any(n.source.startswith("linked") for n in notes)
    (warning,) = [w for w in warnings if w.startswith("linked")]
    assert "outside" in warning


def test_read_note_on_deleted_file_warns_instead_of_raising(corpus):
    files, _ = discover(corpus)
    victim = files[0]
    victim.unlink()
    note, warning = read_note(victim, corpus, MAX)
    assert note is None
    assert warning == f"{victim.relative_to(corpus).as_posix()}: skipped, it disappeared while being read."


def test_read_note_returns_note_and_no_warning(corpus):
    note, warning = read_note(corpus / "sub" / "deeper" / "c.txt", corpus, MAX)
    assert warning is None
    assert note.source == "sub/deeper/c.txt"
    assert note.text == "gamma\n"


def test_missing_folder_raises_helpful_error(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(CorpusError) as info:
        load_corpus(missing, MAX)
    msg = str(info.value)
    assert str(missing) in msg
    assert "does not exist" in msg
    assert "ASSISTANT_CORPUS_DIR" in msg


def test_file_instead_of_folder_raises(tmp_path):
    f = tmp_path / "file.md"
    f.write_text("# x\n")
    with pytest.raises(CorpusError, match="is a file, not a folder"):
        discover(f)


def test_folder_without_notes_raises(tmp_path):
    root = tmp_path / "corpus"
    _write(root / "readme.pdf", b"%PDF")
    with pytest.raises(CorpusError) as info:
        load_corpus(root, MAX)
    msg = str(info.value)
    assert "No notes to index" in msg and str(root) in msg
    assert ".md" in msg and "ASSISTANT_CORPUS_DIR" in msg


def test_folder_with_only_skipped_notes_says_why(tmp_path):
    root = tmp_path / "corpus"
    _write(root / "empty.md", "")
    with pytest.raises(CorpusError) as info:
        load_corpus(root, MAX)
    assert "1 file(s) skipped" in str(info.value)
    assert "empty.md: skipped, it is empty." in str(info.value)


# --- files that are not regular, names that are not UTF-8, notes in UTF-16/32 -----------------------


def _load_within(corpus, seconds: float = 30.0):
    """load_corpus in this process (for tests that fake os.lstat); a FIFO it blocks on is released, and it fails."""
    import threading

    result: dict = {}
    worker = threading.Thread(target=lambda: result.update(value=load_corpus(corpus, MAX)), daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        for fifo in corpus.rglob("*"):  # a waiting reader is released by a writer opening the pipe
            if fifo.is_fifo():
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(5)
        pytest.fail(f"load_corpus still running after {seconds:.0f} s: it opened a FIFO for reading")
    return result["value"]


def _load_in_subprocess(corpus, seconds: float = 60.0) -> tuple[set[str], list[str]]:
    """load_corpus in its own process, killed after ``seconds``: reading a FIFO blocks, /dev/zero never ends."""
    import json
    import subprocess
    import sys

    code = ("import json, sys; from pathlib import Path; from assistant.sources.notes import load_corpus; "
            "notes, warnings = load_corpus(Path(sys.argv[1]), int(sys.argv[2])); "
            "print(json.dumps([[n.source for n in notes], warnings]))")
    try:
        proc = subprocess.run([sys.executable, "-c", code, str(corpus), str(MAX)], capture_output=True, text=True,
                              timeout=seconds)
    except subprocess.TimeoutExpired:
        pytest.fail(f"load_corpus still running after {seconds:.0f} s: it opened a special file for reading")
    assert proc.returncode == 0, proc.stderr
    sources, warnings = json.loads(proc.stdout)
    return set(sources), warnings


def test_fifo_socket_and_links_to_them_are_skipped_without_blocking(tmp_path, corpus):
    import socket

    os.mkfifo(corpus / "x.md")
    os.symlink("x.md", corpus / "pipe-link.md")
    sock = socket.socket(socket.AF_UNIX)
    sock_dir = tmp_path / "s"  # AF_UNIX paths are short: bind in a short folder, then link it in
    sock_dir.mkdir()
    sock.bind(str(sock_dir / "s.md"))
    os.rename(sock_dir / "s.md", corpus / "sub" / "sock.md")
    try:
        sources, warnings = _load_in_subprocess(corpus)
    finally:
        sock.close()
    assert sources == {"a.md", "sub/UPPER.MD", "sub/b.markdown", "sub/deeper/c.txt"}
    assert "x.md: skipped, it is a named pipe (FIFO), not a regular file." in warnings
    assert "sub/sock.md: skipped, it is a socket, not a regular file." in warnings
    assert [w for w in warnings if w.startswith("pipe-link.md:")] == [
        "pipe-link.md: skipped, a link to another note (links are not followed)."
    ]


@pytest.mark.skipif(os.geteuid() != 0, reason="creating a device file (mknod) needs root")
def test_device_file_is_skipped(corpus):
    import stat

    # /dev/null's numbers: a regression reads it as an empty note instead of eating memory like /dev/zero
    os.mknod(corpus / "null.md", stat.S_IFCHR | 0o644, os.makedev(1, 3))
    sources, warnings = _load_in_subprocess(corpus)
    assert "null.md: skipped, it is a device file, not a regular file." in warnings
    assert len(sources) == 4


def test_fifo_swapped_in_after_the_type_check_is_caught_by_fstat(corpus, monkeypatch):
    """The race: lstat saw a regular file, then a FIFO took its place before the open."""
    os.mkfifo(corpus / "swapped.md")
    regular = os.lstat(corpus / "a.md")
    real_lstat = os.lstat
    monkeypatch.setattr(os, "lstat", lambda p, *a, **k: regular if str(p).endswith("swapped.md")
                        else real_lstat(p, *a, **k))
    notes, warnings = _load_within(corpus)
    assert "swapped.md: skipped, it is a named pipe (FIFO), not a regular file." in warnings
    assert len(notes) == 4


def test_link_swapped_in_after_the_type_check_is_not_followed(tmp_path, corpus, monkeypatch):
    _write(tmp_path / "secret.md", "# Secret\nprivate\n")
    os.symlink(tmp_path / "secret.md", corpus / "swapped.md")
    regular = os.lstat(corpus / "a.md")
    real_lstat = os.lstat
    monkeypatch.setattr(os, "lstat", lambda p, *a, **k: regular if str(p).endswith("swapped.md")
                        else real_lstat(p, *a, **k))
    note, warning = read_note(corpus / "swapped.md", corpus, MAX)
    assert note is None
    assert warning == "swapped.md: skipped, it is a link (links are not followed)."


def test_dangling_symlink_is_named_broken_with_its_target(corpus):
    os.symlink("gone/away.md", corpus / "broken.md")
    os.symlink("loop-b.md", corpus / "loop-a.md")
    os.symlink("loop-a.md", corpus / "loop-b.md")
    notes, warnings = load_corpus(corpus, MAX)
    assert len(notes) == 4
    assert "broken.md: skipped, a broken link: its target gone/away.md does not exist (fix or delete the link)." \
        in warnings
    assert "loop-a.md: skipped, a broken link: its target loop-b.md is a link that never reaches a file " \
        "(fix or delete the link)." in warnings
    assert not any("another note" in w for w in warnings)


def _write_bytes_name(folder, name: bytes, data: bytes) -> None:
    with open(os.path.join(os.fsencode(folder), name), "wb") as fh:
        fh.write(data)


def test_names_that_are_not_utf8_are_indexed_under_a_safe_name(corpus):
    _write_bytes_name(corpus, b"caf\xe9.md", b"# Cafe\nlatin-1 name\n")
    _write_bytes_name(corpus, b"caf\xe8.md", b"# Cafe\nanother latin-1 name\n")
    os.mkdir(os.path.join(os.fsencode(corpus), b"dossier-\xff"))
    _write_bytes_name(corpus / os.fsdecode(b"dossier-\xff"), b"n.md", b"# In a bad folder\n")
    notes, warnings = load_corpus(corpus, MAX)
    by_source = {n.source: n for n in notes}
    assert {"caf\\xe9.md", "caf\\xe8.md", "dossier-\\xff/n.md"} <= set(by_source)
    assert len(notes) == 7  # the four good notes too
    assert by_source["caf\\xe9.md"].text == "# Cafe\nlatin-1 name\n"
    for source in by_source:
        source.encode("utf-8")  # what chunk ids, the manifest and the terminal need
    assert "caf\\xe9.md: its path is not valid UTF-8; indexed under this name, with \\xNN for each bad byte. " \
        "Rename it to UTF-8 to fix." in warnings
    assert any(w.startswith("dossier-\\xff/n.md: its path is not valid UTF-8") for w in warnings)


def test_a_bad_name_never_takes_a_real_name_or_another_bad_names(corpus):
    _write(corpus / "caf\\xe9.md", "# Literal backslash in a valid name\n")
    _write_bytes_name(corpus, b"caf\xe9.md", b"# Bad name\n")
    _write_bytes_name(corpus, b"\\xe9\xff.md", b"# first\n")  # both read as \xe9\xff.md
    _write_bytes_name(corpus, b"\xe9\\xff.md", b"# second\n")
    notes, warnings = load_corpus(corpus, MAX)
    by_source = {n.source: n.text for n in notes}
    assert by_source["caf\\xe9.md"] == "# Literal backslash in a valid name\n"
    assert "caf\\xe9.md: skipped, its path is not valid UTF-8 and, with \\xNN for each bad byte, reads the same " \
        "as another note's; rename it to UTF-8." in warnings
    assert by_source["\\xe9\\xff.md"] in {"# first\n", "# second\n"}
    assert [w for w in warnings if w.startswith("\\xe9\\xff.md: skipped")]
    assert len(notes) == 6


TEXT = "# Caf\u00e9 notes\r\n\r\nQuokka drift \u2013 na\u00efve r\u00e9sum\u00e9 \u20ac5.\r\n"


@pytest.mark.parametrize("data", [
    pytest.param(b"\xff\xfe" + TEXT.encode("utf-16-le"), id="utf-16-le-bom"),
    pytest.param(b"\xfe\xff" + TEXT.encode("utf-16-be"), id="utf-16-be-bom"),
    pytest.param(b"\xff\xfe\x00\x00" + TEXT.encode("utf-32-le"), id="utf-32-le-bom"),
    pytest.param(b"\x00\x00\xfe\xff" + TEXT.encode("utf-32-be"), id="utf-32-be-bom"),
    pytest.param(TEXT.encode("utf-16-le"), id="utf-16-le-no-bom"),
    pytest.param(TEXT.encode("utf-16-be"), id="utf-16-be-no-bom"),
])
def test_utf16_and_utf32_notes_are_read(corpus, data):
    _write(corpus / "wide.txt", data)
    notes, warnings = load_corpus(corpus, MAX)
    assert next(n for n in notes if n.source == "wide.txt").text == TEXT
    assert len(notes) == 5
    assert warnings == []


def test_invalid_utf16_is_read_with_replacement_and_warning(corpus):
    _write(corpus / "broken16.md", b"\xff\xfe" + "# Title\n".encode("utf-16-le") + b"\x00\xd8" + "ok\n".encode(
        "utf-16-le"))  # a lone high surrogate
    notes, warnings = load_corpus(corpus, MAX)
    assert next(n for n in notes if n.source == "broken16.md").text == "# Title\n\ufffdok\n"
    assert warnings == ["broken16.md: not valid UTF-16 (first bad byte at offset 18); read with replacement "
                        "characters (U+FFFD). Re-save it as UTF-8 to fix."]


@pytest.mark.parametrize("data", [
    pytest.param(bytes(range(256)) * 8, id="every-byte"),
    pytest.param(b"\x01\x00\x02\x00\x03\x00\x10\x00" * 300, id="small-16-bit-numbers"),
    pytest.param(b"\xff\xfe\x01\x00\x02\x00\x03\x00" * 300, id="utf-16-bom-then-controls"),
    pytest.param(b"A\x00B\x00\x00\x00" * 300, id="nuls-on-both-sides"),
    pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 50, id="png-header"),
])
def test_binary_files_are_still_skipped_as_binary(corpus, data):
    _write(corpus / "blob.md", data)
    notes, warnings = load_corpus(corpus, MAX)
    assert len(notes) == 4
    assert warnings == ["blob.md: skipped, it looks like a binary file, not text notes."]
