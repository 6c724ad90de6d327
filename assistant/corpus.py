"""Finding and reading the student's note files, with a clear word for every file we skip."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import CorpusError

NOTE_SUFFIXES = (".md", ".markdown", ".txt")


@dataclass(frozen=True)
class NoteFile:
    """One readable note file.

    Attributes:
        source: Path relative to the corpus folder, with forward slashes.
        text: Decoded text (invalid UTF-8 bytes replaced with U+FFFD).
        digest: sha256 of the raw bytes; unchanged digest means nothing to re-chunk.
    """

    source: str
    text: str
    digest: str


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def discover(corpus_dir: Path) -> tuple[list[Path], list[str]]:
    """List note files under ``corpus_dir`` (recursive, sorted), skipping hidden entries.

    Symlinks are not followed out of the corpus: a link whose target lies outside is skipped
    with a warning, and one pointing inside is skipped as a duplicate of its target.

    Returns:
        The files, and one warning line per skipped link.

    Raises:
        CorpusError: The folder does not exist or is not a folder.
    """
    if not corpus_dir.exists():
        raise CorpusError(
            f"The notes folder {corpus_dir} does not exist. Put your notes (.md, .markdown, .txt) "
            "there, or set ASSISTANT_CORPUS_DIR to the folder that has them."
        )
    if not corpus_dir.is_dir():
        raise CorpusError(f"{corpus_dir} is a file, not a folder: set ASSISTANT_CORPUS_DIR to the folder of notes.")
    root = corpus_dir.resolve()
    files: list[Path] = []
    warnings: list[str] = []

    def on_error(err: OSError) -> None:
        warnings.append(f"{err.filename}: skipped, cannot list it ({err.strerror}).")

    for dirpath, dirnames, filenames in os.walk(corpus_dir, onerror=on_error):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in list(dirnames):
            full = Path(dirpath) / name
            if full.is_symlink():
                dirnames.remove(name)
                if not _inside(full.resolve(), root):
                    warnings.append(f"{full.relative_to(corpus_dir)}: skipped, a link to a folder outside the notes.")
        for name in sorted(filenames):
            full = Path(dirpath) / name
            if name.startswith(".") or not name.lower().endswith(NOTE_SUFFIXES):
                continue
            if full.is_symlink():
                where = "outside the notes folder" if not _inside(full.resolve(), root) else "to another note"
                rel = full.relative_to(corpus_dir).as_posix()
                warnings.append(f"{rel}: skipped, a link {where} (links are not followed).")
                continue
            files.append(full)
    return files, warnings


def read_note(path: Path, corpus_dir: Path, max_bytes: int) -> tuple[NoteFile | None, str | None]:
    """Read one note file.

    Returns:
        (note, warning): note is None when the file is skipped; warning explains a skip, or a
        caveat such as replaced non-UTF-8 bytes.
    """
    source = path.relative_to(corpus_dir).as_posix()
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return None, (
                f"{source}: skipped, {size / 1e6:.1f} MB is over the {max_bytes / 1e6:.1f} MB limit "
                "(raise ASSISTANT_MAX_FILE_MB to index it)."
            )
        data = path.read_bytes()
    except FileNotFoundError:
        return None, f"{source}: skipped, it disappeared while being read."
    except IsADirectoryError:
        return None, f"{source}: skipped, it is a folder."
    except PermissionError:
        return None, f"{source}: skipped, permission denied (fix the file's permissions)."
    except OSError as exc:
        return None, f"{source}: skipped, cannot read it ({exc.strerror})."
    if b"\x00" in data[:8192]:
        return None, f"{source}: skipped, it looks like a binary file, not text notes."
    try:
        text = data.decode("utf-8-sig")
        warning = None
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", errors="replace")
        warning = (f"{source}: not valid UTF-8 (first bad byte at offset {exc.start}); "
                   "read with replacement characters (U+FFFD). Re-save it as UTF-8 to fix.")
    if not text.strip():
        return None, f"{source}: skipped, it is empty."
    return NoteFile(source, text, hashlib.sha256(data).hexdigest()), warning


def load_corpus(corpus_dir: Path, max_bytes: int) -> tuple[list[NoteFile], list[str]]:
    """Discover and read every note file.

    Raises:
        CorpusError: The folder is missing, or holds no readable notes.
    """
    paths, warnings = discover(corpus_dir)
    notes: list[NoteFile] = []
    for path in paths:
        note, warning = read_note(path, corpus_dir, max_bytes)
        if warning:
            warnings.append(warning)
        if note is not None:
            notes.append(note)
    if not notes:
        detail = f" ({len(warnings)} file(s) skipped: {warnings[0]})" if warnings else ""
        raise CorpusError(
            f"No notes to index in {corpus_dir}{detail}. Add .md, .markdown or .txt files there, "
            "or set ASSISTANT_CORPUS_DIR to the folder that has them."
        )
    return notes, warnings
