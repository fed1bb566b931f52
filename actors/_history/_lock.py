"""One engine per history file: an ``flock`` on a side file.

The kernel drops an ``flock`` when its holder dies, even by SIGKILL, so a
crashed host never leaves the file locked. A POSIX ``lockf`` lock would not do:
it belongs to the process, so a second engine in the same process would get
it too. Each ``HistoryLock`` opens its own file description, and ``flock``
locks conflict between descriptions.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from pathlib import Path

from messages import ExecutionError

__all__ = ["HistoryLock"]

# A host killed while it forks a child leaves that child holding a copy of the
# lock's descriptor until it execs (close-on-exec): the lock outlives its dead
# holder by a few milliseconds. Seen in the crash test; so a taken lock is
# retried this long before another engine is declared to hold it.
_LOCK_WAIT_S = 1.0
_LOCK_POLL_S = 0.01


def _flock_soon(fd: int) -> None:
    deadline = time.monotonic() + _LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise
        time.sleep(_LOCK_POLL_S)


class HistoryLock:
    """An exclusive lock on ``<history file>.lock``, held until ``release()``.

    Raises:
        ExecutionError: another engine holds it; the message names the file
            and, when it can, the holder.
    """

    def __init__(self, history_path: Path) -> None:
        self.path = history_path.with_name(history_path.name + ".lock")
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise ExecutionError(
                f"cannot lock history_path={str(history_path)!r}: {self.path}: {exc}"
            ) from exc
        try:
            _flock_soon(fd)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
            os.close(fd)
            raise ExecutionError(
                f"history_path={str(history_path)!r} is in use by another engine"
                f" ({holder or 'holder unknown'}); one engine per history file"
            ) from None
        except OSError as exc:
            os.close(fd)
            raise ExecutionError(
                f"cannot lock history_path={str(history_path)!r}: {self.path}: {exc}"
            ) from exc
        self._fd: int | None = fd
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        except OSError:
            pass  # only a courtesy for the error message of a second engine

    def release(self) -> None:
        """Drop the lock; idempotent."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the last descriptor of the description drops the flock
