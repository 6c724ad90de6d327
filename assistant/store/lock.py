"""The index's one-writer lock: a cross-process lock file in the index folder (``filelock``).

Every path that writes the index (``assistant ingest``, the automatic refresh of ``search``/``ask``,
the app, server mode) takes it. It is an OS lock (``flock``), so the kernel releases it when its
process dies, even by SIGKILL: a held lock always means a live writer. Readers never take it;
they read the build the manifest names, which a writer only ever replaces whole.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from assistant.errors import IndexBusyError, IndexNotWritableError

LOCK_NAME = ".writer.lock"


class WriterLock:
    """The writer lock of one index folder."""

    def __init__(self, index_dir: Path) -> None:
        """Remember the folder; nothing is opened until `hold`."""
        self.index_dir = index_dir
        self.path = index_dir / LOCK_NAME

    def _lock(self):
        from filelock import FileLock

        # not thread-local: threads of one process (the app's browser sessions) exclude each other too
        return FileLock(str(self.path), thread_local=False)

    @contextmanager
    def hold(self, wait: bool | float = True) -> Iterator[None]:
        """Hold the lock for the block.

        Args:
            wait: True to wait as long as another writer runs, False to fail at once, or a number of
                seconds to wait at most.

        Raises:
            IndexBusyError: Another process holds it (and ``wait`` ran out).
            IndexNotWritableError: The lock file cannot be created.
        """
        from filelock import Timeout

        timeout = -1 if wait is True else 0 if wait is False else float(wait)
        lock = self._lock()
        try:
            self.index_dir.mkdir(parents=True, exist_ok=True)
            lock.acquire(timeout=timeout)
        except Timeout:
            raise IndexBusyError(
                f"Another process is updating the index in {self.index_dir}; wait for it to finish, "
                "then try again."
            ) from None
        except OSError as exc:
            raise IndexNotWritableError(
                f"Cannot write the index folder {self.index_dir} ({exc.strerror or exc}). "
                "Fix its permissions, or set ASSISTANT_INDEX_DIR to a folder you can write."
            ) from None
        try:
            yield
        finally:
            lock.release()

    def busy(self) -> bool:
        """Whether another process (or thread) holds the lock right now."""
        if not self.path.exists():
            return False
        from filelock import Timeout

        lock = self._lock()
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return True
        except OSError:
            return False  # cannot even open it: nobody can be writing through it
        lock.release()
        return False


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs (on this machine)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True
