"""A batch's rows: one per command, and the counts of how far the batch has got."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from messages import BatchRow, ExecutionStatus

__all__ = ["Counts", "Row"]


@dataclass(slots=True)
class Row:
    """One command of the batch and, once it has ended, how it ended."""

    index: int
    execution_id: UUID
    command: str
    status: ExecutionStatus = ExecutionStatus.PENDING
    exit_code: int | None = None
    duration_ms: int = 0
    error: str | None = None
    """The engine's reason for a failed, timed out or cancelled execution."""

    def to_model(self) -> BatchRow:
        """The row as the wire sees it (one of ``BatchSummary.executions``)."""
        return BatchRow(
            index=self.index,
            execution_id=self.execution_id,
            command=self.command,
            status=self.status,
            exit_code=self.exit_code,
            duration_ms=self.duration_ms,
            error=self.error,
        )


@dataclass(frozen=True, slots=True)
class Counts:
    """How far the batch has got."""

    total: int
    pending: int
    running: int
    done: int
    failed: int
    """Of ``done``: the failed and timed out ones."""
