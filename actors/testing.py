"""Helpers for tests of code that uses the engine: record events, wait for them.

``EventRecorder`` listens to one engine's ``signals.event`` and lets a test
block until a given event arrives, without sleeping.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any, Self
from uuid import UUID

from messages import EventBase, ExecutionEvent

from . import signals

__all__ = ["EventRecorder"]


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
