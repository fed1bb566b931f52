"""Helpers for tests of code that uses the engine: record events, fake time, find leaks.

``EventRecorder`` listens to one engine's ``signals.event`` and lets a test
block until a given event arrives, without sleeping. ``ManualClock`` is an
eviction clock a test moves by hand. ``LeakCheck`` notes the engine threads,
open fds and child processes at one moment and reports what is new later.

This module never imports pytest: the fixtures built on it live in
``actors.pytest_plugin``. The leak check reads ``/proc`` (Linux only).
"""

from __future__ import annotations

import os
import threading
import time
from types import TracebackType
from typing import Any, Self
from uuid import UUID

from messages import EventBase, ExecutionEvent

from . import signals

__all__ = [
    "ENGINE_THREAD_PREFIX",
    "EventRecorder",
    "LeakCheck",
    "ManualClock",
    "leak_snapshot",
]

ENGINE_THREAD_PREFIX = "execution-engine-"
"""Every thread an engine starts has a name beginning with this."""


class EventRecorder:
    """Records every event an engine (or, with ``sender=None``, any engine) sends.

    Use it as a context manager, or call ``close()`` to disconnect.
    """

    def __init__(self, sender: object | None = None) -> None:
        self.events: list[ExecutionEvent] = []
        self.threads: list[str] = []
        """The name of the thread each event was delivered on, in order."""
        self._cond = threading.Condition()
        self._sender = sender
        # weak=False: the recorder stays connected until close(), whoever holds it.
        if sender is None:
            signals.event.connect(self._receive, weak=False)
        else:
            signals.event.connect(self._receive, sender=sender, weak=False)

    def _receive(self, _sender: Any, *, event: ExecutionEvent) -> None:
        with self._cond:
            self.events.append(event)
            self.threads.append(threading.current_thread().name)
            self._cond.notify_all()

    def of(self, execution_id: UUID) -> list[ExecutionEvent]:
        """The events of one execution, in the order they were delivered."""
        with self._cond:
            return [e for e in self.events if e.execution_id == execution_id]

    def types(self, execution_id: UUID) -> list[str]:
        """The ``type`` of each event of one execution, in order."""
        return [e.type for e in self.of(execution_id)]

    def wait_for(
        self,
        event_type: str | type[EventBase],
        execution_id: UUID | None = None,
        timeout: float = 10.0,
    ) -> ExecutionEvent:
        """Block until an event of ``event_type`` (of ``execution_id``, if given) arrived.

        Raises:
            TimeoutError: no such event within ``timeout`` seconds.
        """
        wanted = (
            event_type if isinstance(event_type, str) else event_type.model_fields["type"].default
        )
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events:
                    if event.type == wanted and execution_id in (None, event.execution_id):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"no {wanted!r} event for {execution_id or 'any execution'} "
                        f"within {timeout}s; got {[e.type for e in self.events][-20:]}"
                    )
                self._cond.wait(left)

    def wait_terminal(self, execution_id: UUID, timeout: float = 10.0) -> ExecutionEvent:
        """Block until the execution's terminal event arrived; return it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events:
                    if event.execution_id == execution_id and event.terminal:
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no terminal event for {execution_id} within {timeout}s")
                self._cond.wait(left)

    def close(self) -> None:
        """Disconnect from the signal."""
        signals.event.disconnect(self._receive)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class ManualClock:
    """A clock that only moves when told: pass it as ``ExecutionEngine(clock=...)``.

    Calling it returns the current time in seconds. Executions end at the
    clock's current time, so ``advance(retention + 1)`` followed by
    ``engine.cleanup_old_executions()`` evicts them without sleeping.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (>= 0); returns the new time.

        Raises:
            ValueError: ``seconds`` is negative (the engine's clock is monotonic).
        """
        if seconds < 0:
            raise ValueError(f"a monotonic clock cannot go back: advance({seconds!r})")
        with self._lock:
            self._now += seconds
            return self._now

    def __repr__(self) -> str:
        return f"ManualClock({self():.3f})"


class LeakCheck:
    """The engine threads, open fds and child processes of this process, now.

    Take one before building an engine and call ``leaks()`` (or
    ``assert_no_leaks()``) after its ``shutdown()``: anything new is a leak.
    Also a context manager that asserts on a clean exit of its block.
    """

    def __init__(self) -> None:
        self.threads = frozenset(threading.enumerate())
        self.fds = _open_fds()
        self.children = frozenset(_descendants(os.getpid()))

    def leaks(self) -> list[str]:
        """What exists now and did not before: engine threads, fds, descendant processes."""
        found = [
            f"thread {t.name}"
            for t in threading.enumerate()
            if t.name.startswith(ENGINE_THREAD_PREFIX) and t.is_alive() and t not in self.threads
        ]
        # Targets under /proc/ are this very listing (and other transient reads).
        found += [
            f"fd {fd} -> {target}"
            for fd, target in sorted(_open_fds().items())
            if fd not in self.fds and not target.startswith("/proc/")
        ]
        found += [
            f"process {pid} ({state}) {_cmdline(pid)}"
            for pid, state in sorted(_descendants(os.getpid()).items())
            if pid not in self.children
        ]
        return found

    def assert_no_leaks(self, what: str = "shutdown()") -> None:
        """Raise ``AssertionError`` listing the leaks, if there are any."""
        leaks = self.leaks()
        if leaks:
            raise AssertionError(f"left behind after {what}: {leaks}")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.assert_no_leaks("the block")


def leak_snapshot() -> LeakCheck:
    """A ``LeakCheck`` taken now."""
    return LeakCheck()


def _open_fds() -> dict[int, str]:
    fds = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            fds[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue  # the fd of the listing itself, closed by now
    return fds


def _descendants(root: int) -> dict[int, str]:
    """Every live process below ``root`` (by parent pid), with its state letter."""
    children: dict[int, list[tuple[int, str]]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
        except OSError:
            continue  # exited while we looked
        # The command name in parentheses may hold spaces and parentheses itself.
        state, ppid = stat.rpartition(")")[2].split()[:2]
        children.setdefault(int(ppid), []).append((int(entry.name), state))
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        for pid, state in children.get(frontier.pop(), []):
            if pid not in found:
                found[pid] = state
                frontier.append(pid)
    return found


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        return []
    return [arg.decode(errors="replace") for arg in raw.split(b"\0") if arg]
