"""SIGINT, SIGTERM and SIGHUP while the engine runs: noted, never raised."""

from __future__ import annotations

import os
import select
import signal
from collections.abc import Callable
from contextlib import suppress
from types import FrameType
from typing import Any

__all__ = ["INTERRUPTS", "Interrupts"]

INTERRUPTS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _nothing() -> None:
    pass


class Interrupts:
    """Notes the first interrupt and wakes the main thread; never raises.

    An exception raised from a signal handler can land inside a lock's
    internals (seen: "release unlocked lock" out of a pykka future in the
    middle of execute()), so the handler only notes the first signal and
    writes to a pipe the main thread waits on. A second one calls
    ``on_second`` (the CLI: ``ExecutionEngine.kill_all``, so every process
    group dies at once instead of after the kill grace).
    """

    def __init__(self, signals: tuple[signal.Signals, ...] = INTERRUPTS) -> None:
        self.signum: int | None = None
        self.on_second: Callable[[], None] = _nothing
        self._signals = signals
        self._read, self._write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._previous: dict[int, Any] = {}
        self._previous_wakeup_fd = -1

    @property
    def fd(self) -> int:
        """The read end of the wake-up pipe, for callers that select on it themselves."""
        return self._read

    def __enter__(self) -> Interrupts:
        self._previous = {signum: signal.signal(signum, self._handle) for signum in self._signals}
        # The kernel may deliver the signal to any thread; only the main thread
        # runs Python handlers, and it may sit in select() meanwhile. With the
        # pipe as wake-up fd, the C-level handler writes to it from whichever
        # thread got the signal, so select() returns and the handler runs.
        self._previous_wakeup_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        return self

    def __exit__(self, *_: object) -> None:
        signal.set_wakeup_fd(self._previous_wakeup_fd)
        for signum, old in self._previous.items():
            signal.signal(signum, old)
        os.close(self._read)
        os.close(self._write)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
        else:
            self.on_second()
        self.wake()

    def wake(self) -> None:
        """Wake ``wait_until``; safe from any thread and from a signal handler."""
        with suppress(OSError):  # a full pipe already means "wake up"
            os.write(self._write, b"\0")

    def drain(self) -> None:
        """Empty the wake-up pipe."""
        with suppress(BlockingIOError):
            os.read(self._read, 512)

    def wait_until(self, done: Callable[[], bool]) -> None:
        """Block until ``done()`` or a signal; ``done``'s owner calls ``wake`` when it may be."""
        while self.signum is None and not done():
            select.select([self._read], [], [])
            self.drain()
