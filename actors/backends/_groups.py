"""The process groups of local children not yet reaped, process-wide.

Children run in sessions of their own, so neither the terminal's Ctrl-C nor the
app's exit reaches them; ``actors._atexit`` kills every group recorded here
when the interpreter exits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading

__all__ = ["ProcessGroups", "process_groups"]


class ProcessGroups:
    """The process groups of local children not yet reaped, process-wide."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._ids: set[int] = set()

    def add(self, pgid: int) -> None:
        """Record a group whose leader has just been spawned."""
        with self.lock:
            self._ids.add(pgid)

    def discard(self, pgid: int) -> None:
        """Forget a group; call with ``lock`` held, just before reaping its leader."""
        self._ids.discard(pgid)

    def kill_all(self) -> None:
        """SIGKILL every recorded group (leaders unreaped, so the ids are theirs)."""
        with self.lock:
            for pgid in self._ids:
                with contextlib.suppress(OSError):
                    os.killpg(pgid, signal.SIGKILL)


process_groups = ProcessGroups()
