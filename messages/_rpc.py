"""The params and results of the sidecar's JSON-RPC methods (``serve --stdio``).

``execute_command`` takes an ``ExecutionRequest``; ``get_concurrency_metrics``
answers ``ConcurrencyMetrics`` and ``get_execution_result`` an
``ExecutionResult``; the rest are these small models.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from ._base import FrozenModel
from ._results import ExecutionStatus, ExecutionSummary

__all__ = [
    "CancelReply",
    "CleanupReply",
    "ExecutionList",
    "ExecutionRef",
    "ListQuery",
    "LogText",
    "NoParams",
    "ResultQuery",
    "StatusReply",
]

_MAX_WAIT_MS = 24 * 3600 * 1000


class NoParams(FrozenModel):
    """The params of a method that takes none: ``{}`` (or no params at all)."""


class ExecutionRef(FrozenModel):
    """One execution by id: the params of status, cancel and logs; execute's result."""

    execution_id: UUID


class ResultQuery(FrozenModel):
    """The params of ``get_execution_result``."""

    execution_id: UUID
    wait_ms: int = Field(default=0, ge=0, le=_MAX_WAIT_MS)
    """How long to wait for the end; 0 answers at once (``null`` while not terminal)."""


class ListQuery(FrozenModel):
    """The params of ``list_executions``."""

    status: ExecutionStatus | None = None
    """Only executions with this status; None for all."""


class StatusReply(FrozenModel):
    """The result of ``get_execution_status``."""

    execution_id: UUID
    status: ExecutionStatus


class CancelReply(FrozenModel):
    """The result of ``cancel_execution``."""

    cancelled: bool
    """True if it was pending or running and is now cancelled; False if it had ended."""


class ExecutionList(FrozenModel):
    """The result of ``list_executions``: newest first."""

    executions: tuple[ExecutionSummary, ...]


class CleanupReply(FrozenModel):
    """The result of ``cleanup_old_executions``."""

    evicted: int


class LogText(FrozenModel):
    """The result of ``read_logs``: the execution's log file ("" when it has none)."""

    text: str
