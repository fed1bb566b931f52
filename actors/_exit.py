"""The last resort at interpreter exit: no child outlives an app that forgot shutdown().

Children run in sessions of their own, so neither the terminal's Ctrl-C nor the
app's exit reaches them. Every engine thread is a daemon, so the interpreter
reaches ``atexit`` without waiting for them; there we kill every live process
group at once, then shut the engines down.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import threading
import weakref
from typing import Protocol

__all__ = ["ProcessGroups", "process_groups", "register_engine"]


class _Stoppable(Protocol):
    def shutdown(self, timeout: float = ...) -> None: ...


class ProcessGroups:
    """The process groups of children not yet reaped, process-wide."""

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
_engines: weakref.WeakSet[_Stoppable] = weakref.WeakSet()
_EXIT_SHUTDOWN_TIMEOUT_S = 2.0


def register_engine(engine: _Stoppable) -> None:
    """Have ``engine`` shut down at interpreter exit if the app did not do it."""
    _engines.add(engine)


@atexit.register
def _at_exit() -> None:
    process_groups.kill_all()
    for engine in list(_engines):
        # The interpreter is going away; there is nobody left to tell of a failure.
        with contextlib.suppress(Exception):
            engine.shutdown(timeout=_EXIT_SHUTDOWN_TIMEOUT_S)
