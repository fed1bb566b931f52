"""Messages the engine's own threads exchange; plain slotted dataclasses.

They never leave the engine, and they are on the hot path (one per execution
or per read), so they skip pydantic validation, which profiling showed costs
more than the dataclass.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from uuid import UUID

from messages import ExecutionRequest, ExecutionResult, ExecutionStatus, FailureReason

__all__ = [
    "AwaitResult",
    "Finished",
    "GetLogPath",
    "KillAll",
    "Outcome",
    "Shutdown",
    "Spawned",
    "SubmitWatched",
    "Tick",
    "cancel_message",
]


@dataclass(frozen=True, slots=True)
class Spawned:
    """Worker → supervisor: the main process is running."""

    execution_id: UUID
    pid: int
    started_at: datetime
    log_path: Path | None
    kill: Callable[[str], None]
    """Asks the execution's runner to kill its group (``cancel`` or ``shutdown``); any thread."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an execution ended, as its worker saw it."""

    status: ExecutionStatus
    reason: FailureReason | None
    exit_code: int | None
    error: str | None
    stdout: str
    stderr: str
    stdout_truncated: bool
    stderr_truncated: bool
    stdout_spill_path: Path | None
    stderr_spill_path: Path | None
    stdout_dropped_bytes: int
    stderr_dropped_bytes: int
    pid: int | None
    started_at: datetime | None
    ended_at: datetime
    log_path: Path | None


@dataclass(frozen=True, slots=True)
class Finished:
    """Worker → supervisor: the execution has ended; the slot can be reused."""

    execution_id: UUID
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class SubmitWatched:
    """Facade → supervisor: ``Submit`` plus the future the facade waits on."""

    request: ExecutionRequest
    waiter: concurrent.futures.Future[ExecutionResult]


@dataclass(frozen=True, slots=True)
class AwaitResult:
    """Facade → supervisor: the result, or a future that gets it."""

    execution_id: UUID


ResultOrFuture = ExecutionResult | concurrent.futures.Future[ExecutionResult]


@dataclass(frozen=True, slots=True)
class GetLogPath:
    """Facade → supervisor: where the execution's log file is."""

    execution_id: UUID


@dataclass(frozen=True, slots=True)
class Shutdown:
    """Facade → supervisor: cancel everything; answers a future of 'no worker left'."""


@dataclass(frozen=True, slots=True)
class KillAll:
    """Facade → supervisor: cancel everything and SIGKILL every group now, without grace."""


@dataclass(frozen=True, slots=True)
class Tick:
    """Ticker → janitor: time for the scheduled cleanup."""


def cancel_message(reason: str) -> str:
    """The ``error`` of an execution cancelled while running (``cancel`` or ``shutdown``)."""
    if reason == "shutdown":
        return "cancelled by engine shutdown; process group killed"
    return "cancelled; process group killed"
