"""How an execution ended, as data, and the one place it becomes a result and an event."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from messages import ExecutionResult, ExecutionStatus, FailureReason

from ._events import EventSink

__all__ = ["Outcome", "StreamOutcome", "finish"]


@dataclass(frozen=True, slots=True)
class StreamOutcome:
    """What one output stream left behind."""

    text: str = ""
    truncated: bool = False
    spill_path: Path | None = None
    dropped_bytes: int = 0


_NO_OUTPUT = StreamOutcome()


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an execution ended: built by whoever saw the end, turned into a result by ``finish``."""

    status: ExecutionStatus
    reason: FailureReason | None = None
    exit_code: int | None = None
    error: str | None = None
    stdout: StreamOutcome = _NO_OUTPUT
    stderr: StreamOutcome = _NO_OUTPUT
    pid: int | None = None
    node: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    log_path: Path | None = None
    duration_ms: int | None = None
    """Measured on a monotonic clock by the runner; else the wall-clock span is used."""

    @classmethod
    def failure(cls, reason: FailureReason, error: str, *, log_path: Path | None = None) -> Outcome:
        """An execution that failed before (or without) running: no output, no exit code."""
        return cls(ExecutionStatus.FAILED, reason, None, error, log_path=log_path)

    def cancelled(self, error: str) -> Outcome:
        """The same ending, as a cancel: what the child did no longer decides the status."""
        return replace(
            self, status=ExecutionStatus.CANCELLED, reason=None, exit_code=None, error=error
        )


def finish(
    execution_id: UUID,
    queued_at: datetime,
    outcome: Outcome,
    events: EventSink,
    redact: Callable[[str], str],
) -> ExecutionResult:
    """Build the result of ``outcome`` and emit its terminal event.

    The only place either happens, whoever saw the end (a runner, a worker
    that could not spawn, the supervisor cancelling a pending execution).
    """
    ended_at = outcome.ended_at or datetime.now(UTC)
    started_at = outcome.started_at
    if outcome.duration_ms is not None:
        # A wall clock stepped by NTP while it ran would lengthen or shorten it.
        duration_ms = outcome.duration_ms
    elif started_at is not None:
        duration_ms = max(0, int((ended_at - started_at).total_seconds() * 1000))
    else:
        duration_ms = 0
    status = outcome.status
    error = outcome.error
    if error is not None:
        error = redact(error)
    result = ExecutionResult(
        execution_id=execution_id,
        status=status,
        success=status is ExecutionStatus.COMPLETED,
        exit_code=outcome.exit_code,
        stdout=outcome.stdout.text,
        stderr=outcome.stderr.text,
        stdout_truncated=outcome.stdout.truncated,
        stderr_truncated=outcome.stderr.truncated,
        stdout_spill_path=outcome.stdout.spill_path,
        stderr_spill_path=outcome.stderr.spill_path,
        stdout_dropped_bytes=outcome.stdout.dropped_bytes,
        stderr_dropped_bytes=outcome.stderr.dropped_bytes,
        error=error,
        queued_at=queued_at,
        started_at=started_at,
        completed_at=ended_at,
        duration_ms=duration_ms,
        log_path=outcome.log_path,
        pid=outcome.pid,
        node=outcome.node,
    )
    if status is ExecutionStatus.COMPLETED:
        events.completed(execution_id, exit_code=0, duration_ms=duration_ms)
    elif status is ExecutionStatus.CANCELLED:
        events.cancelled(execution_id, duration_ms=duration_ms)
    else:
        events.failed(
            execution_id,
            reason=outcome.reason or FailureReason.INTERNAL,
            exit_code=outcome.exit_code,
            message=error or status.value,
            duration_ms=duration_ms,
        )
    return result
