"""``Batch``: the engine's event handler for one CLI run; rows, counts, the end."""

from __future__ import annotations

import threading
from collections.abc import Callable

from messages import (
    Cancelled,
    Completed,
    ExecutionEvent,
    ExecutionRequest,
    ExecutionStatus,
    Failed,
    Started,
)

from ._rows import Counts, Row
from ._views import View

__all__ = ["Batch"]


def _nothing() -> None:
    pass


class Batch:
    """The executions of one run: their rows, their counts, and when the last one ends.

    It is the engine's ``EventHandler``: ``on_event`` runs on the event-dispatch
    thread, the only thread that changes the rows while the engine runs.
    """

    def __init__(self, requests: list[ExecutionRequest], view: View) -> None:
        self.rows = {
            request.id: Row(index, request.id, request.command.describe())
            for index, request in enumerate(requests, 1)
        }
        self._view = view
        self._running = self._ended = self._failed = 0
        self._all_ended = threading.Event()
        self.wake: Callable[[], None] = _nothing
        """Called (on the dispatch thread) once every execution has ended."""
        if not self.rows:
            self._all_ended.set()

    def on_event(self, event: ExecutionEvent) -> None:
        """Update the row of the event's execution and show the event."""
        row = self.rows.get(event.execution_id)
        if row is None:
            return
        if isinstance(event, Started):
            row.status = ExecutionStatus.RUNNING
            self._running += 1
        elif isinstance(event, Completed | Failed | Cancelled):
            self._end(row, event)
        self._view.show(event, row, self.counts())
        if self._ended == len(self.rows) or self._view.broken:
            self._all_ended.set()
            self.wake()

    def _end(self, row: Row, event: Completed | Failed | Cancelled) -> None:
        if row.status is ExecutionStatus.RUNNING:
            self._running -= 1
        self._ended += 1
        row.duration_ms = event.duration_ms
        if isinstance(event, Completed):
            row.status, row.exit_code = ExecutionStatus.COMPLETED, event.exit_code
        elif isinstance(event, Failed):
            timed_out = event.reason == "timeout"
            row.status = ExecutionStatus.TIMED_OUT if timed_out else ExecutionStatus.FAILED
            row.exit_code, row.error = event.exit_code, event.message
            self._failed += 1
        else:
            row.status, row.error = ExecutionStatus.CANCELLED, "cancelled"

    def counts(self) -> Counts:
        """How many executions are pending, running, done, and failed among the done."""
        total = len(self.rows)
        pending = total - self._running - self._ended
        return Counts(total, pending, self._running, self._ended, self._failed)

    def ended(self) -> bool:
        """True once every execution has ended (or nobody reads the output any more)."""
        return self._all_ended.is_set()

    def exit_status(self) -> int:
        """0 when every execution completed, 1 otherwise."""
        ok = all(row.status is ExecutionStatus.COMPLETED for row in self.rows.values())
        return 0 if ok and not self._view.broken else 1
