"""Finding and reading note files: what is read, what is skipped and what the user is told."""

from __future__ import annotations

import os

import pytest

from assistant.corpus import discover, load_corpus, read_note
from assistant.errors import CorpusError

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
