"""Finding and reading the student's note files, with a clear word for every file we skip."""

from __future__ import annotations

import codecs
import errno
import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from assistant import tuning
from assistant.errors import CorpusError
from assistant.sources.views import (
    CONVERTED_SUFFIXES,
    HTML_SUFFIXES,
    NOTEBOOK_SUFFIXES,
    PDF_SUFFIXES,
    UnreadableError,
    View,
)

TEXT_SUFFIXES = (".md", ".markdown", ".txt")
NOTE_SUFFIXES = TEXT_SUFFIXES + CONVERTED_SUFFIXES
# How the formats are named to a user (messages, docs)
FORMATS = ".md, .markdown, .txt, .pdf, .html, .htm or .ipynb"

# UTF-32 first: its little-endian mark starts with UTF-16's (FF FE), and a note never starts with U+0000.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)
_SAMPLE = 8192
# Control characters that plain text does carry; any other one in UTF-16/32 text means it is not text.
_TEXT_CONTROLS = frozenset("\t\n\r\f\v")


@dataclass(frozen=True)
class NoteFile:
    r"""One readable note file.

    Attributes:
        source: Path relative to the corpus folder, with forward slashes (bytes of a name that are not
            UTF-8 are written as ``\xNN``, see :func:`display_name`).
        text: Decoded text (UTF-8, or UTF-16/32 when the file says so; invalid bytes replaced with U+FFFD).
        digest: sha256 of the raw bytes; unchanged digest means nothing to re-chunk.
    """

    source: str
    text: str
    digest: str
    data: bytes = field(default=b"", repr=False, compare=False)
    _view: list = field(default_factory=list, repr=False, compare=False)  # the view, once read

    @property
    def converted(self) -> bool:
        """A PDF, HTML page or notebook: indexed through its markdown view (see `view`)."""
        return self.source.lower().endswith(CONVERTED_SUFFIXES)

    def view(self) -> View:
        """The text to chunk and its page/cell map, read on first call.

        Markdown and text notes are their own view. A PDF, HTML page or notebook is converted
        only here, when it is to be chunked: finding notes (every ``ask`` checks whether the index
        is current) needs only the digest of the bytes, and a PDF takes ~10 ms a page to read.

        Raises:
            UnreadableError: The file cannot be indexed (a scanned or encrypted PDF, a broken notebook...);
                the message says why.
        """
        if not self._view:
            self._view.append(_convert(self))
        return self._view[0]


def display_name(rel: str) -> str:
    r"""A path as it can be shown, stored and hashed: undecodable bytes become ``\xNN``.

    Python hands out a name that is not UTF-8 with surrogate escapes, which cannot be encoded
    (chunk ids, the manifest, the terminal). ``\xNN`` keeps the name readable and tells the bytes apart
    (``caf\xe9`` and ``caf\xe8`` stay two names, where U+FFFD would merge them).
    """
    return os.fsencode(rel).decode("utf-8", "backslashreplace")


def _relative(path: Path, corpus_dir: Path) -> str:
    return path.relative_to(corpus_dir).as_posix()


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
            f"The notes folder {corpus_dir} does not exist. Put your notes ({FORMATS.replace(' or ', ', ')}) "
            "there, or set ASSISTANT_CORPUS_DIR to the folder that has them."
        )
    if not corpus_dir.is_dir():
        raise CorpusError(f"{corpus_dir} is a file, not a folder: set ASSISTANT_CORPUS_DIR to the folder of notes.")
    root = corpus_dir.resolve()
    files: list[Path] = []
    warnings: list[str] = []

    def on_error(err: OSError) -> None:
        warnings.append(f"{display_name(os.fspath(err.filename))}: skipped, cannot list it ({err.strerror}).")

    for dirpath, dirnames, filenames in os.walk(corpus_dir, onerror=on_error):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in list(dirnames):
            full = Path(dirpath) / name
            if full.is_symlink():
                dirnames.remove(name)
                if not _inside(full.resolve(), root):
                    rel = display_name(_relative(full, corpus_dir))
                    warnings.append(f"{rel}: skipped, a link to a folder outside the notes.")
        for name in sorted(filenames):
            full = Path(dirpath) / name
            if name.startswith(".") or not name.lower().endswith(NOTE_SUFFIXES):
                continue
            if full.is_symlink():
                rel = display_name(_relative(full, corpus_dir))
                if not full.exists():  # follows the link: false for a missing target and for a loop of links
                    warnings.append(f"{rel}: skipped, {_broken_link(full)} (fix or delete the link).")
                    continue
                where = "outside the notes folder" if not _inside(full.resolve(), root) else "to another note"
                warnings.append(f"{rel}: skipped, a link {where} (links are not followed).")
                continue
            files.append(full)
    return files, warnings


def _broken_link(link: Path) -> str:
    target = os.readlink(link)
    if os.path.lexists(link.parent / target):  # the target is itself a link that goes nowhere, or a loop
        return f"a broken link: its target {display_name(target)} is a link that never reaches a file"
    return f"a broken link: its target {display_name(target)} does not exist"


def _not_regular(mode: int) -> str | None:
    """Why a file of this type cannot be read as notes, or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "it is a folder"
    if stat.S_ISLNK(mode):
        return "it is a link (links are not followed)"
    kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device file" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a special file")
    return f"it is {kind}, not a regular file"


def _too_big(source: str, size: int, max_bytes: int) -> str:
    return (f"{source}: skipped, {size / 1e6:.1f} MB is over the {max_bytes / 1e6:.1f} MB limit "
            "(raise ASSISTANT_MAX_FILE_MB to index it).")


# Opening a FIFO or a device for reading can block forever (or rewind a tape): the type is checked with
# lstat before opening, and again with fstat on what was opened, in case the file was swapped in between.
# O_NONBLOCK makes that open return at once even for a FIFO; O_NOFOLLOW refuses a link swapped in.
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
               | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0))


def _read_regular(path: Path, source: str, max_bytes: int) -> tuple[bytes | None, str | None]:
    """The bytes of a regular file, or None and why it is skipped; never opens anything else."""
    try:
        why = _not_regular(os.lstat(path).st_mode)
        if why:
            return None, f"{source}: skipped, {why}."
        with os.fdopen(os.open(path, _OPEN_FLAGS), "rb") as fh:
            info = os.fstat(fh.fileno())
            why = _not_regular(info.st_mode)
            if why:
                return None, f"{source}: skipped, {why}."
            if info.st_size > max_bytes:
                return None, _too_big(source, info.st_size, max_bytes)
            data = fh.read(max_bytes + 1)
            if len(data) > max_bytes:  # grew after fstat
                return None, _too_big(source, len(data), max_bytes)
            return data, None
    except FileNotFoundError:
        return None, f"{source}: skipped, it disappeared while being read."
    except PermissionError:
        return None, f"{source}: skipped, permission denied (fix the file's permissions)."
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a link that replaced the file after lstat
            return None, f"{source}: skipped, it is a link (links are not followed)."
        return None, f"{source}: skipped, cannot read it ({exc.strerror})."


def _utf16_without_bom(data: bytes) -> str | None:
    """The UTF-16 byte order of BOM-less text that is mostly ASCII/Latin-1, else None.

    In such text one byte of every pair is NUL: the high byte (odd offsets in LE, even in BE), while the
    other byte almost never is. Binary files put NULs on both sides. Text outside Latin-1 without a BOM
    has no such pattern and cannot be told from binary reliably, so it is not guessed at.
    """
    sample = data[:_SAMPLE]
    if len(data) % 2 or len(sample) < 4:
        return None
    units = len(sample) // 2
    low_nuls, high_nuls = sample[0::2].count(0), sample[1::2].count(0)
    if high_nuls * 2 >= units and low_nuls * 100 < units:
        return "utf-16-le"
    if low_nuls * 2 >= units and high_nuls * 100 < units:
        return "utf-16-be"
    return None


def _decode(data: bytes, source: str) -> tuple[str | None, str | None]:
    """(text, warning); text is None for a binary file."""
    bom, encoding, label = next(((b, e, lab) for b, e, lab in _BOMS if data.startswith(b)), (b"", None, "UTF-8"))
    if encoding is None and b"\x00" in data[:_SAMPLE]:
        encoding = _utf16_without_bom(data)
        if encoding is None:
            return None, f"{source}: skipped, it looks like a binary file, not text notes."
        bom, label = b"", "UTF-16"
    wide = encoding is not None and encoding != "utf-8"
    body = data[len(bom):]
    try:
        text, warning = body.decode(encoding or "utf-8"), None
    except UnicodeDecodeError as exc:
        if wide and not bom:  # a guess that does not decode was a wrong guess
            return None, f"{source}: skipped, it looks like a binary file, not text notes."
        text = body.decode(encoding or "utf-8", errors="replace")
        warning = (f"{source}: not valid {label} (first bad byte at offset {exc.start + len(bom)}); "
                   "read with replacement characters (U+FFFD). Re-save it as UTF-8 to fix.")
    sample = text[:_SAMPLE]
    if "\x00" in sample or (wide and any(c < " " and c not in _TEXT_CONTROLS for c in sample)):
        return None, f"{source}: skipped, it looks like a binary file, not text notes."
    return text, warning


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.I)


def _declared(data: bytes) -> tuple[str, None] | None:
    """An HTML page that is not UTF-8, read in the encoding its ``<meta charset>`` declares (if it has one)."""
    match = _META_CHARSET.search(data[:_SAMPLE])
    if not match:
        return None
    try:
        return data.decode(match.group(1).decode("ascii")), None
    except (LookupError, UnicodeDecodeError):
        return None


def _convert(note: NoteFile) -> View:
    name = note.source.lower()
    if name.endswith(PDF_SUFFIXES):
        from assistant.sources.pdf_reader import read_pdf

        return read_pdf(note.data)
    if name.endswith(HTML_SUFFIXES):
        from assistant.sources.html_reader import read_html

        return read_html(note.text)
    if name.endswith(NOTEBOOK_SUFFIXES):
        from assistant.sources.notebook_reader import read_notebook

        return read_notebook(note.text)
    return View(note.text)


def skip_message(source: str, exc: UnreadableError) -> str:
    """The one line a user reads for a file that was found but could not be read."""
    return f"{source}: skipped, {exc}."


def size_limit(name: str, max_bytes: int) -> int:
    """The byte limit for a file: PDFs and notebooks get more (their bytes are mostly not text)."""
    if name.lower().endswith(PDF_SUFFIXES + NOTEBOOK_SUFFIXES):
        return max_bytes * tuning.CONTAINER_SIZE_FACTOR
    return max_bytes


def read_note(path: Path, corpus_dir: Path, max_bytes: int) -> tuple[NoteFile | None, str | None]:
    """Read one note file.

    Only regular files are opened (a FIFO, socket or device is skipped, a link is not followed).
    UTF-8 is the default; a byte-order mark selects UTF-16 or UTF-32, and BOM-less UTF-16 of mostly
    Latin text is recognised by its NUL bytes.

    Returns:
        (note, warning): note is None when the file is skipped; warning explains a skip, or a
        caveat such as replaced non-UTF-8 bytes.
    """
    source = display_name(_relative(path, corpus_dir))
    data, warning = _read_regular(path, source, size_limit(path.name, max_bytes))
    if data is None:
        return None, warning
    if path.name.lower().endswith(PDF_SUFFIXES):
        if not data.strip():
            return None, f"{source}: skipped, it is empty."
        if b"%PDF-" not in data[:1024]:  # readers accept the header anywhere in the first KB
            return None, f"{source}: skipped, it is not a PDF (no %PDF header); rename or re-export it."
        return NoteFile(source, "", hashlib.sha256(data).hexdigest(), data), None
    text, warning = _decode(data, source)
    if text is not None and warning and path.name.lower().endswith(HTML_SUFFIXES):
        text, warning = _declared(data) or (text, warning)
    if text is None:
        return None, warning
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
    # A file whose name is UTF-8 owns that name; a name that had to be made displayable may not take it,
    # nor may two such names share one (both would update and delete each other's chunks in the index).
    rels = [_relative(p, corpus_dir) for p in paths]
    taken = {rel for rel in rels if display_name(rel) == rel}
    for path, rel in zip(paths, rels, strict=True):
        source = display_name(rel)
        renamed = source != rel
        if renamed:
            if source in taken:
                warnings.append(f"{source}: skipped, its path is not valid UTF-8 and, with \\xNN for each bad byte, "
                                "reads the same as another note's; rename it to UTF-8.")
                continue
            taken.add(source)
        note, warning = read_note(path, corpus_dir, max_bytes)
        if warning:
            warnings.append(warning)
        if note is not None:
            notes.append(note)
            if renamed:
                warnings.append(f"{source}: its path is not valid UTF-8; indexed under this name, with \\xNN for "
                                "each bad byte. Rename it to UTF-8 to fix.")
    if not notes:
        detail = f" ({len(warnings)} file(s) skipped: {warnings[0]})" if warnings else ""
        raise CorpusError(
            f"No notes to index in {corpus_dir}{detail}. Add {FORMATS} files there, "
            "or set ASSISTANT_CORPUS_DIR to the folder that has them."
        )
    return notes, warnings
