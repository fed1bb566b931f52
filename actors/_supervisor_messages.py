"""The messages the supervisor takes from the facade, the workers and the janitor.

Plain slotted dataclasses: they never leave the engine and are on the hot path
(one or two per execution), where pydantic validation cost more than the
dataclass in profiling. The public protocol messages are in ``messages``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from uuid import UUID

from messages import ExecutionRequest, ExecutionResult

from ._outcome import Outcome
from ._slot import ResultSlot
from ._stop import KillReason

__all__ = [
    "AwaitResult",
    "Finished",
    "GetLogPath",
    "KillAll",
    "KillFn",
    "ResultOrFuture",
    "Shutdown",
    "Spawned",
    "SubmitWatched",
    "Tick",
]

KillFn = Callable[[KillReason, bool], None]
"""Asks an execution's runner to kill its group: ``kill(reason, hard)``; any thread."""


@dataclass(frozen=True, slots=True)
class Spawned:
    """Worker → supervisor: the main process is running."""

    execution_id: UUID
    pid: int
    node: str | None
    started_at: datetime
    log_path: Path | None
    kill: KillFn


@dataclass(frozen=True, slots=True)
class Finished:
    """Worker → supervisor: the execution has ended; the slot can be reused."""

    execution_id: UUID
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class SubmitWatched:
    """Facade → supervisor: ``Submit`` plus the future the facade waits on."""

    request: ExecutionRequest
    waiter: ResultSlot


@dataclass(frozen=True, slots=True)
class AwaitResult:
    """Facade → supervisor: the result, or a future that gets it."""

    execution_id: UUID


ResultOrFuture = ExecutionResult | ResultSlot


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
