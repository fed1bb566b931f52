"""Waiting for results without a thread per wait: futures plus one deadline thread."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable

__all__ = ["Deadlines"]

_MAX_SLEEP_S = 3600.0
"""A far deadline is slept towards in steps (``Condition.wait`` overflows on huge values)."""


class Deadlines:
    """Runs a callback when its deadline passes, all on one daemon thread.

    ``get_execution_result`` with ``wait_ms`` takes a result future (which
    holds no thread) and one entry here; whichever comes first answers.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._numbers = itertools.count()
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="sidecar-deadlines", daemon=True)
        self._thread.start()

    def at(self, deadline: float, callback: Callable[[], None]) -> None:
        """Call ``callback`` on the deadline thread once ``deadline`` (monotonic) has passed."""
        with self._cond:
            heapq.heappush(self._heap, (deadline, next(self._numbers), callback))
            self._cond.notify()

    def close(self) -> None:
        """Run every callback still waiting now, then end the thread."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(5.0)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(None if timeout is None else min(timeout, _MAX_SLEEP_S))
                if self._closed:
                    due, self._heap = [entry[2] for entry in self._heap], []
                else:
                    due = [heapq.heappop(self._heap)[2]]
            for callback in due:
                callback()
            if self._closed:
                return
