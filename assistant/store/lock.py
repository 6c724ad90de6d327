"""The index's one-writer lock: an OS lock on a file in the index folder.

Every path that writes the index (``assistant ingest``, the automatic refresh of ``search``/``ask``,
the app, server mode) takes it. It is ``flock``, so the kernel releases it when its process dies,
even by SIGKILL: a held lock always means a live writer. Readers never take it; they read the build
the manifest names, which a writer only ever replaces whole.

Why ``fcntl.flock`` by hand and not ``filelock`` (which is the same ``flock`` underneath): importing
filelock 4.x costs 32-51 ms here, paid by every ``assistant`` call (each checks whether a writer is
busy) and more than a no-op ingest's whole work (~3 ms). The lock file is never deleted, so no
process can lock a file another has just unlinked. Where ``fcntl`` does not exist (Windows),
filelock does the job.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from assistant.errors import IndexBusyError, IndexNotWritableError

LOCK_NAME = ".writer.lock"
POLL = 0.05  # seconds between tries while waiting for another writer


class WriterLock:
    """The writer lock of one index folder."""

    def __init__(self, index_dir: Path) -> None:
        """Remember the folder; nothing is opened until `hold`."""
        self.index_dir = index_dir
        self.path = index_dir / LOCK_NAME

    def _busy_error(self) -> IndexBusyError:
        return IndexBusyError(f"Another process is updating the index in {self.index_dir}; wait for it to finish, "
                              "then try again.")

    def _not_writable(self, exc: OSError) -> IndexNotWritableError:
        return IndexNotWritableError(
            f"Cannot write the index folder {self.index_dir} ({exc.strerror or exc}). "
            "Fix its permissions, or set ASSISTANT_INDEX_DIR to a folder you can write.")

    @contextmanager
    def hold(self, wait: bool | float = True) -> Iterator[None]:
        """Hold the lock for the block.

        Threads of one process exclude each other too (each takes its own open file).

        Args:
            wait: True to wait as long as another writer runs, False to fail at once, or a number of
                seconds to wait at most.

        Raises:
            IndexBusyError: Another process (or thread) holds it, and ``wait`` ran out.
            IndexNotWritableError: The lock file cannot be created.
        """
        try:
            import fcntl
        except ImportError:  # no flock here: filelock's native lock
            with self._hold_portable(wait):
                yield
            return
        try:
            self.index_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise self._not_writable(exc) from None
        try:
            deadline = None if wait is True else time.monotonic() + (0.0 if wait is False else float(wait))
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if deadline is not None and time.monotonic() >= deadline:
                        raise self._busy_error() from None
                    time.sleep(POLL)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    @contextmanager
    def _hold_portable(self, wait: bool | float) -> Iterator[None]:
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.path), thread_local=False)
        try:
            self.index_dir.mkdir(parents=True, exist_ok=True)
            lock.acquire(timeout=-1 if wait is True else 0 if wait is False else float(wait))
        except Timeout:
            raise self._busy_error() from None
        except OSError as exc:
            raise self._not_writable(exc) from None
        try:
            yield
        finally:
            lock.release()

    def busy(self) -> bool:
        """Whether another process (or thread) holds the lock right now (a hint: it may change at once)."""
        try:
            import fcntl
        except ImportError:
            return self._busy_portable()
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return False  # no lock file (never written), or unreadable: nobody writes through it
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # shared: probes never exclude each other
        except BlockingIOError:
            return True
        except OSError:
            return False
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        finally:
            os.close(fd)

    def _busy_portable(self) -> bool:
        if not self.path.exists():
            return False
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.path), thread_local=False)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return True
        except OSError:
            return False
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
