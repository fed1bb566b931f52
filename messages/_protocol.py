"""Requests an app may send to the supervisor actor with ``ask`` or ``tell``."""

from __future__ import annotations

from uuid import UUID

from ._base import FrozenModel
from ._request import ExecutionRequest
from ._results import ExecutionStatus

__all__ = [
    "Cancel",
    "GetMetrics",
    "GetResult",
    "GetStatus",
    "ListExecutions",
    "RunCleanup",
    "Submit",
]


class Submit(FrozenModel):
    """Queue a request; answers the execution id."""

    request: ExecutionRequest


class Cancel(FrozenModel):
    """Cancel a pending or running execution; answers whether it was cancelled now."""

    execution_id: UUID


class GetStatus(FrozenModel):
    """Answers the ``ExecutionStatus``."""

    execution_id: UUID


class GetResult(FrozenModel):
    """Answers the ``ExecutionResult``, or None while the execution has not ended."""

    execution_id: UUID


class ListExecutions(FrozenModel):
    """Answers the executions in memory as summaries, newest first."""

    status: ExecutionStatus | None = None


class GetMetrics(FrozenModel):
    """Answers the ``ConcurrencyMetrics``."""


class RunCleanup(FrozenModel):
    """Evict old terminal executions now; answers how many were evicted."""
