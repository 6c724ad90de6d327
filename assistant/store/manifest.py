"""The manifest: which segments make up the live build, and everything the build depends on.

``manifest.json`` is the one switch of the index: a build is live once the manifest names it, and
it is replaced atomically (written beside, flushed, renamed over). It records, per note file, the
digest of the bytes that were indexed and the segment holding them, and for the whole build what
its vectors depend on (`build`: the embedding model's content fingerprint, the chunker's version
and sizes, the segment format), so a changed setting re-embeds instead of serving old vectors.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

FORMAT = 2
NAME = "manifest.json"


@dataclass
class Manifest:
    """What the live index holds and how it was built.

    Attributes:
        build: What the vectors depend on (model fingerprint, chunker settings, segment format).
        files: Per note file (relative path), in corpus order: ``digest`` (sha256 of its bytes),
            ``segment`` (id), ``chunks``, ``pieces``, ``tokens`` (counts) and ``sizes`` (bytes of
            the segment's files).
        updated: When the build went live (seconds since the epoch).
        mirror: Server mode: the suffix of this index's Chroma collections.
        format: Manifest layout version.
        skipped: Files found but found unreadable when read to be chunked (a scanned PDF, a broken
            notebook): ``digest`` and ``reason`` (the line shown to the user), so they are not read
            again until their bytes change, and every ingest can still say why they are missing.
    """

    build: dict
    files: dict[str, dict] = field(default_factory=dict)
    updated: float = 0.0
    mirror: str | None = None
    format: int = FORMAT
    skipped: dict[str, dict] = field(default_factory=dict)

    @property
    def chunk_count(self) -> int:
        """Chunks in the live build."""
        return sum(f.get("chunks", 0) for f in self.files.values())

    @property
    def piece_count(self) -> int:
        """Pieces (dense vectors) in the live build."""
        return sum(f.get("pieces", 0) for f in self.files.values())

    @property
    def token_count(self) -> int:
        """Token vectors in the live build."""
        return sum(f.get("tokens", 0) for f in self.files.values())

    def segments(self) -> list[str]:
        """The live segments' ids, in corpus order."""
        return [f["segment"] for f in self.files.values()]

    def digests(self) -> dict[str, str]:
        """Per note file, the digest of the bytes indexed (or read and skipped)."""
        return {s: f.get("digest", "") for s, f in {**self.skipped, **self.files}.items()}

    def skip_reasons(self) -> list[str]:
        """Why each skipped file was skipped, one line each."""
        return [str(entry.get("reason", f"{source}: skipped.")) for source, entry in self.skipped.items()]


class ManifestError(Exception):
    """The manifest exists but cannot be used (the message says why)."""


class OutdatedManifestError(ManifestError):
    """The index was built by an older version of the assistant."""


def read(path: Path) -> Manifest | None:
    """The manifest at ``path``, or None when there is none.

    Raises:
        ManifestError: Unparsable or malformed (`OutdatedManifestError` for an older format).
        OSError: The folder cannot be read (the caller says what to do).
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if data.get("format") != FORMAT:
            raise OutdatedManifestError(f"format {data.get('format')}, this version reads {FORMAT}")
        manifest = Manifest(**data)
        if (not isinstance(manifest.build, dict) or not isinstance(manifest.files, dict)
                or not isinstance(manifest.skipped, dict)):
            raise ValueError("build, files and skipped must be objects")
        for source, entry in manifest.files.items():
            if not isinstance(entry, dict) or not isinstance(entry.get("segment"), str):
                raise ValueError(f"no segment for {source}")
        return manifest
    except OutdatedManifestError:
        raise
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"unreadable manifest: {exc}") from None


def write(path: Path, manifest: Manifest) -> None:
    """Replace the manifest atomically: written beside, flushed to disk, renamed over the old one."""
    manifest.updated = time.time()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".manifest-{os.getpid()}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(asdict(manifest), fh, indent=1, ensure_ascii=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a power cut
    finally:
        os.close(dir_fd)
