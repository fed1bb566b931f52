"""Typed emission of events: one method per kind of event, checked where it is called.

Emitters (a runner, the supervisor) name every field as a keyword with its
type, so a typo or a wrong type fails in the emitting thread (and under mypy),
not later on the dispatch thread where it could only be logged. The dispatcher
then numbers the events and builds the models.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from messages import (
    Cancelled,
    Completed,
    EventBase,
    Failed,
    FailureReason,
    Progress,
    Started,
    Stderr,
    Stdout,
)

__all__ = ["EmitFn", "EventSink"]

EmitFn = Callable[[UUID, type[EventBase], dict[str, Any]], None]


class EventSink:
    """Hands typed events of any execution to the dispatcher's ``emit``; any thread."""

    __slots__ = ("_emit",)

    def __init__(self, emit: EmitFn) -> None:
        self._emit = emit

    def started(self, execution_id: UUID, *, pid: int, command: str, node: str | None) -> None:
        """The main process was spawned."""
        fields: dict[str, Any] = {"pid": pid, "command": command}
        if node is not None:
            fields["node"] = node
        self._emit(execution_id, Started, fields)

    def output(
        self, execution_id: UUID, event_type: type[Stdout | Stderr], lines: list[str]
    ) -> None:
        """Whole lines one read completed (``Stdout`` or ``Stderr``)."""
        self._emit(execution_id, event_type, {"lines": tuple(lines)})

    def progress(
        self, execution_id: UUID, *, elapsed_ms: int, stdout_bytes: int, stderr_bytes: int
    ) -> None:
        """A heartbeat of a running execution."""
        self._emit(
            execution_id,
            Progress,
            {"elapsed_ms": elapsed_ms, "stdout_bytes": stdout_bytes, "stderr_bytes": stderr_bytes},
        )

    def completed(self, execution_id: UUID, *, exit_code: int, duration_ms: int) -> None:
        """The terminal event of a success."""
        self._emit(execution_id, Completed, {"exit_code": exit_code, "duration_ms": duration_ms})

    def failed(
        self,
        execution_id: UUID,
        *,
        reason: FailureReason,
        exit_code: int | None,
        message: str,
        duration_ms: int,
    ) -> None:
        """The terminal event of a failure or a timeout."""
        self._emit(
            execution_id,
            Failed,
            {
                "reason": FailureReason(reason),
                "exit_code": exit_code,
                "message": message,
                "duration_ms": duration_ms,
            },
        )

    def cancelled(self, execution_id: UUID, *, duration_ms: int) -> None:
        """The terminal event of a cancel."""
        self._emit(execution_id, Cancelled, {"duration_ms": duration_ms})
