"""The event-dispatch thread: numbers events and hands them to observers.

Readers and the supervisor only enqueue; this one thread builds the event
models, gives each its per-execution ``seq`` and calls the blinker receivers
and the ``EventHandler``. Observers are guests: one that raises is logged and
the others still run; one that is slow delays only other observers, never a
reader, the supervisor or a result.

Output costs per read, not per line: a read's lines travel as the tuple the
reader made, untouched, into the ``Stdout``/``Stderr`` event, which is built
without validation (the engine made every field itself; validating would
check each line again, 21 us per event of 1,000 lines here). Lines are
copied and counted only when a slow observer makes events merge.
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

from messages import (
    Cancelled,
    Completed,
    EventBase,
    ExecutionEvent,
    Failed,
    Progress,
    Started,
    Stderr,
    Stdout,
)

from . import signals

__all__ = ["EventDispatcher", "EventHandler"]

_log = logging.getLogger("actors.dispatch")

_STOP = object()
_RECEIVER_TRIES = 5


@runtime_checkable
class EventHandler(Protocol):
    """An observer object called with every event of an engine, in order."""

    def on_event(self, event: ExecutionEvent) -> None:
        """Take one event; runs on the engine's event-dispatch thread."""


class _Pending:
    """An event waiting in the queue; output and progress may still merge into it."""

    __slots__ = (
        "chars",
        "dropped",
        "event_type",
        "execution_id",
        "fields",
        "merged",
        "seq",
        "taken",
        "timestamp",
    )

    def __init__(
        self, execution_id: UUID, event_type: type[EventBase], fields: dict[str, Any], seq: int
    ) -> None:
        self.execution_id = execution_id
        self.event_type = event_type
        self.seq = seq
        self.timestamp = datetime.now(UTC)
        self.fields = fields
        self.taken = False
        # Set on the first merge into a line event: its lines as a list, their characters.
        self.merged: list[str] | None = None
        self.chars = 0
        self.dropped = 0


_LINE_EVENTS = (Stdout, Stderr)
_LINE_FIELDS = frozenset({"execution_id", "seq", "timestamp", "lines"})


def _line_event(
    event_type: type[EventBase], execution_id: UUID, seq: int, timestamp: datetime, lines: Any
) -> EventBase:
    """A ``Stdout``/``Stderr`` event from fields the engine made, without validation.

    pydantic's own unpickling path (``__setstate__``) sets the instance's
    state in four assignments: on the latency path it costs half of
    ``model_construct``, which walks every field. tests/test_events.py checks
    the event equals a validated one.
    """
    # A frozen event must not share a list its emitter could change.
    lines = lines if type(lines) is tuple else tuple(lines)
    event = event_type.__new__(event_type)
    event.__setstate__(
        {
            "__dict__": {
                "execution_id": execution_id,
                "seq": seq,
                "timestamp": timestamp,
                "type": event_type.model_fields["type"].default,
                "lines": lines,
            },
            "__pydantic_fields_set__": set(_LINE_FIELDS),
            "__pydantic_extra__": None,
            "__pydantic_private__": None,
        }
    )
    return event


_SIGNAL_OF: dict[type[EventBase], Signal] = {
    event_type: signals.SIGNALS_BY_TYPE[event_type.model_fields["type"].default]
    for event_type in (Started, Stdout, Stderr, Progress, Completed, Failed, Cancelled)
}


class EventDispatcher:
    """Owns the dispatch thread and its queue.

    When observers fall behind, new output of an execution is merged into its
    last queued ``Stdout``/``Stderr`` event (and a new ``Progress`` replaces a
    queued one) instead of queueing more events, so a slow observer costs
    memory in proportion to the output, not to the number of reads. Lines
    merged beyond ``line_budget`` characters per event are not delivered; the
    event ends with one line saying how many were left out. Lifecycle events
    are never merged or dropped, and the order of events is kept.
    """

    def __init__(
        self,
        sender: object,
        handler: EventHandler | None,
        thread_name: str,
        line_budget: int,
    ) -> None:
        self._sender = sender
        self._handler = handler
        self._line_budget = line_budget
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._last: dict[UUID, _Pending] = {}
        self._seq: dict[UUID, int] = {}
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)
        self._thread.start()

    def emit(self, execution_id: UUID, event_type: type[EventBase], fields: dict[str, Any]) -> None:
        """Queue an event; any thread.

        ``seq`` is given here, under the lock, to each event that is queued or
        skipped; output merged into a queued event takes no number of its own,
        so the numbers observers see have no gaps. When nobody listens (no
        receiver, no handler) the event is numbered and dropped at once: no
        queue, no wake-up of the dispatch thread.
        """
        typed = _SIGNAL_OF[event_type]
        listening = bool(self._handler or typed.receivers or signals.event.receivers)
        with self._lock:
            last = self._last.get(execution_id)
            if listening and last is not None and not last.taken and last.event_type is event_type:
                if event_type in _LINE_EVENTS:
                    self._merge_lines(last, fields["lines"])
                    return
                if event_type is Progress:
                    last.fields, last.timestamp = fields, datetime.now(UTC)
                    return
            seq = self._seq.get(execution_id, 0) + 1
            if event_type.terminal:
                self._seq.pop(execution_id, None)
                self._last.pop(execution_id, None)
            else:
                self._seq[execution_id] = seq
            if not listening:
                self._last.pop(execution_id, None)
                return
            pending = _Pending(execution_id, event_type, fields, seq)
            if not event_type.terminal:
                self._last[execution_id] = pending
            self._queue.put(pending)

    def _merge_lines(self, pending: _Pending, lines: tuple[str, ...]) -> None:
        # Only here, when an observer has fallen behind, are lines copied and counted.
        if pending.merged is None:
            pending.merged = list(pending.fields["lines"])
            pending.chars = sum(map(len, pending.merged))
        if pending.dropped:
            pending.dropped += len(lines)
            return
        chars = sum(map(len, lines))
        if pending.chars + chars > self._line_budget:
            pending.dropped += len(lines)
        else:
            pending.merged.extend(lines)
            pending.chars += chars

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
            with self._lock:
                item.taken = True
            try:
                self._dispatch(item)
            except Exception:  # a bug here must not end event delivery for everyone
                _log.exception("dispatching an event failed")

    def _dispatch(self, item: _Pending) -> None:
        execution_id, event_type = item.execution_id, item.event_type
        typed = _SIGNAL_OF[event_type]
        if not (self._handler or typed.receivers or signals.event.receivers):
            return
        if event_type in _LINE_EVENTS:
            lines = item.merged
            if lines is None:
                lines = item.fields["lines"]
            elif item.dropped:
                lines.append(
                    f"[{item.dropped} lines not delivered: observers fell behind; "
                    "the result and the log have them]"
                )
            event: EventBase = _line_event(
                event_type, execution_id, item.seq, item.timestamp, lines
            )
        else:
            event = event_type(
                execution_id=execution_id, seq=item.seq, timestamp=item.timestamp, **item.fields
            )
        self._send(typed, event)
        self._send(signals.event, event)
        if self._handler is not None:
            self._call(self._handler.on_event, event)

    def _send(self, signal: Signal, event: EventBase) -> None:
        # blinker's send() stops at the first receiver that raises and skips
        # the rest; calling them one by one keeps every observer isolated.
        if not signal.receivers:
            return
        for receiver in self._receivers(signal):
            try:
                receiver(self._sender, event=event)
            except Exception:
                _log.exception("a receiver raised on %r", event)

    def _receivers(self, signal: Signal) -> list[Any]:
        # blinker copies its receiver sets while another thread may connect or
        # disconnect; that rare "set changed size" race is retried, not fatal.
        for _ in range(_RECEIVER_TRIES - 1):
            try:
                return list(signal.receivers_for(self._sender))
            except RuntimeError:
                continue
        return list(signal.receivers_for(self._sender))

    def _call(self, fn: Callable[[Any], object], event: EventBase) -> None:
        try:
            fn(event)
        except Exception:
            _log.exception("the event handler raised on %r", event)
