"""The lifecycle hook: internal subscribers learn of every submission, start, end and eviction.

The supervisor only puts a small record on a queue (and only when someone
subscribed), so a subscriber that writes to disk — the history — never slows
it. One daemon thread per engine calls the subscribers, in the order the
supervisor saw the facts; a subscriber that raises is logged and the others
still run.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from messages import ExecutionRequest, ExecutionResult

__all__ = [
    "ExecutionEnded",
    "ExecutionQueued",
    "ExecutionRunning",
    "ExecutionsEvicted",
    "LifecycleFact",
    "LifecycleHook",
]

_log = logging.getLogger("actors.lifecycle")


@dataclass(frozen=True, slots=True)
class ExecutionQueued:
    """An execution was accepted (it is pending or about to run)."""

    request: ExecutionRequest
    description: str
    """The command's description, redacted."""
    queued_at: datetime


@dataclass(frozen=True, slots=True)
class ExecutionRunning:
    """An execution's main process was spawned."""

    execution_id: UUID
    pid: int
    started_at: datetime


@dataclass(frozen=True, slots=True)
class ExecutionEnded:
    """An execution reached its terminal state; ``result`` is what ``get_result`` returns."""

    result: ExecutionResult


@dataclass(frozen=True, slots=True)
class ExecutionsEvicted:
    """Terminal executions dropped from memory by a cleanup, oldest first."""

    execution_ids: tuple[UUID, ...]


LifecycleFact = ExecutionQueued | ExecutionRunning | ExecutionEnded | ExecutionsEvicted
Subscriber = Callable[[LifecycleFact], None]
_STOP = object()


class LifecycleHook:
    """Delivers lifecycle facts to subscribers on a thread of its own, in order."""

    def __init__(self, thread_name: str) -> None:
        self._thread_name = thread_name
        self._subscribers: tuple[Subscriber, ...] = ()
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._idle = threading.Condition(self._lock)
        self._queued = 0
        self._done = 0

    @property
    def active(self) -> bool:
        """True when someone subscribed; the supervisor skips building facts otherwise."""
        return bool(self._subscribers)

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber`` with every later fact; returns a function that unsubscribes."""
        with self._lock:
            self._subscribers = (*self._subscribers, subscriber)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=self._thread_name, daemon=True
                )
                self._thread.start()

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = tuple(s for s in self._subscribers if s is not subscriber)

        return unsubscribe

    def publish(self, fact: LifecycleFact) -> None:
        """Queue ``fact`` for the subscribers; any thread, never blocks."""
        if not self._subscribers:
            return
        with self._lock:
            self._queued += 1
        self._queue.put(fact)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every fact published so far was delivered; False on timeout."""
        with self._idle:
            target = self._queued
            return self._idle.wait_for(lambda: self._done >= target, timeout)

    def stop(self, timeout: float) -> bool:
        """Deliver what is queued, then end the thread; False if it did not end in time."""
        with self._lock:
            thread = self._thread
        if thread is None:
            return True
        self._queue.put(_STOP)
        thread.join(timeout)
        return not thread.is_alive()

    def _run(self) -> None:
        while True:
            fact = self._queue.get()
            if fact is _STOP:
                return
            for subscriber in self._subscribers:
                try:
                    subscriber(fact)  # type: ignore[arg-type]
                except Exception:  # one broken subscriber must not starve the others
                    _log.exception("a lifecycle subscriber raised on %r", fact)
            with self._idle:
                self._done += 1
                self._idle.notify_all()
