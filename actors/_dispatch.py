"""The event-dispatch thread: numbers events and hands them to observers.

Readers and the supervisor only enqueue; this one thread builds the event
models, gives each its per-execution ``seq`` and calls the blinker receivers
and the ``EventHandler``. Observers are guests: one that raises is logged and
the others still run; one that is slow delays only other observers, never a
reader, the supervisor or a result.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

from blinker import Signal

from messages import EventBase, ExecutionEvent

from . import signals

__all__ = ["EventDispatcher", "EventHandler"]

_log = logging.getLogger("actors.dispatch")

_STOP = object()


@runtime_checkable
class EventHandler(Protocol):
    """An observer object called with every event of an engine, in order."""

    def on_event(self, event: ExecutionEvent) -> None:
        """Take one event; runs on the engine's event-dispatch thread."""


class EventDispatcher:
    """Owns the dispatch thread and its queue."""

    def __init__(self, sender: object, handler: EventHandler | None, thread_name: str) -> None:
        self._sender = sender
        self._handler = handler
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._seq: dict[UUID, int] = {}
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)
        self._thread.start()

    def emit(self, execution_id: UUID, event_type: type, fields: dict[str, object]) -> None:
        """Queue an event; any thread. ``seq`` is given at dispatch time."""
        self._queue.put((execution_id, event_type, datetime.now(UTC), fields))

    def stop(self, timeout: float) -> bool:
        """Dispatch what is queued, then end the thread; False if it did not end in time."""
        self._queue.put(_STOP)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            try:
                self._dispatch(*item)
            except Exception:  # a bug here must not end event delivery for everyone
                _log.exception("dispatching an event failed")

    def _dispatch(
        self,
        execution_id: UUID,
        event_type: type[EventBase],
        timestamp: datetime,
        fields: dict[str, object],
    ) -> None:
        seq = self._seq.get(execution_id, 0) + 1
        if event_type.terminal:
            self._seq.pop(execution_id, None)
        else:
            self._seq[execution_id] = seq
        typed = signals.SIGNALS_BY_TYPE[event_type.model_fields["type"].default]
        if not (self._handler or typed.receivers or signals.event.receivers):
            return
        event = event_type(execution_id=execution_id, seq=seq, timestamp=timestamp, **fields)
        self._send(typed, event)
        self._send(signals.event, event)
        if self._handler is not None:
            self._call(self._handler.on_event, event)

    def _send(self, signal: Signal, event: EventBase) -> None:
        # blinker's send() stops at the first receiver that raises and skips
        # the rest; calling them one by one keeps every observer isolated.
        if not signal.receivers:
            return
        for receiver in signal.receivers_for(self._sender):
            try:
                receiver(self._sender, event=event)
            except Exception:
                _log.exception("a receiver raised on %r", event)

    def _call(self, fn: Callable[[Any], object], event: EventBase) -> None:
        try:
            fn(event)
        except Exception:
            _log.exception("the event handler raised on %r", event)
