"""A bounded pool of daemon threads for calls that wait (``get_execution_result``)."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

__all__ = ["Waiters"]

_log = logging.getLogger("actors.sidecar")
_STOP = None


class Waiters:
    """Runs waiting calls off the reader thread, at most ``size`` at a time.

    Threads start on demand up to ``size``; beyond that a call waits for a
    free thread (and then waits only what is left of its own ``wait_ms``, as
    ``get_result`` is given the remaining time by its caller's deadline).
    Daemon threads: an exit never waits for a waiter.
    """

    def __init__(self, size: int = 32) -> None:
        self._size = size
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], None]) -> None:
        """Run ``job`` on a waiter thread."""
        with self._lock:
            if self._idle <= 0 and len(self._threads) < self._size:
                thread = threading.Thread(
                    target=self._run, name=f"sidecar-waiter-{len(self._threads) + 1}", daemon=True
                )
                self._threads.append(thread)
                self._idle += 1
                thread.start()
            self._idle -= 1
        self._jobs.put(job)

    def close(self) -> None:
        """Tell every thread to end once the jobs before it are done."""
        with self._lock:
            for _ in self._threads:
                self._jobs.put(_STOP)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                return
            try:
                job()
            except Exception:  # a waiter answers its own errors; this is a bug
                _log.exception("a waiting call failed")
            with self._lock:
                self._idle += 1
