"""What the engine answers: statuses, results, summaries, metrics."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from uuid import UUID

from pydantic import AwareDatetime

from ._base import FrozenModel

__all__ = ["ConcurrencyMetrics", "ExecutionResult", "ExecutionStatus", "ExecutionSummary"]


class ExecutionStatus(StrEnum):
    """Where an execution is in its life."""

    PENDING = "pending"
    """Waiting in the queue for a slot."""
    RUNNING = "running"
    """Holding a slot; its process may still be starting."""
    COMPLETED = "completed"
    """Exited with code 0."""
    FAILED = "failed"
    """Non-zero exit, spawn error, oversized output or internal error."""
    TIMED_OUT = "timed_out"
    """Killed for running past its timeout or idle timeout."""
    CANCELLED = "cancelled"
    """Cancelled by a caller or by shutdown."""
    INTERRUPTED = "interrupted"
    """Pending or running when the process hosting its engine died (found by history recovery)."""

    @property
    def is_terminal(self) -> bool:
        """True once the execution has ended."""
        return self not in (ExecutionStatus.PENDING, ExecutionStatus.RUNNING)


class ExecutionResult(FrozenModel):
    """The outcome of an execution that has ended."""

    execution_id: UUID
    status: ExecutionStatus
    success: bool
    """True when the status is ``completed``."""
    exit_code: int | None
    """The exit code; a signal death is ``-signum``; None without a normal exit."""
    stdout: str
    """Decoded UTF-8 (invalid bytes replaced), lines joined with ``\\n``."""
    stderr: str
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    stdout_spill_path: Path | None = None
    """Where the part of stdout beyond the limit went (``stream_to_file``)."""
    stderr_spill_path: Path | None = None
    stdout_dropped_bytes: int = 0
    """Bytes of stdout read past the limit and not kept (``truncate_with_warning``)."""
    stderr_dropped_bytes: int = 0
    error: str | None = None
    """Why it did not complete, for failed, timed out or cancelled executions."""
    queued_at: AwareDatetime
    started_at: AwareDatetime | None
    completed_at: AwareDatetime
    duration_ms: int
    """From start to end; 0 if it never started."""
    log_path: Path | None = None
    pid: int | None = None
    """The main process's id, if one was spawned (on its node)."""
    node: str | None = None
    """The node that ran it, for remote launchers; None for a local child."""


class ExecutionSummary(FrozenModel):
    """One row of ``list_executions``."""

    execution_id: UUID
    status: ExecutionStatus
    command: str
    """The command's ``describe()``, redacted."""
    labels: dict[str, str]
    queued_at: AwareDatetime
    started_at: AwareDatetime | None
    completed_at: AwareDatetime | None
    exit_code: int | None
    pid: int | None


class ConcurrencyMetrics(FrozenModel):
    """The concurrency budget at one moment."""

    max_concurrent: int
    currently_running: int
    currently_pending: int
    """Executions waiting for a slot."""
    available_slots: int
    total_submitted: int
    total_finished: int
