"""What front ends see besides events and results: the CLI's batch summary and errors."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import JsonValue

from ._base import FrozenModel
from ._results import ExecutionStatus

__all__ = ["BatchRow", "BatchSummary", "ErrorInfo"]


class BatchRow(FrozenModel):
    """One command of a CLI batch and how it ended (a row of ``BatchSummary``)."""

    index: int
    """The command's place in the batch, from 1 (its ``[N]`` tag)."""
    execution_id: UUID
    command: str
    """The command's ``describe()``, redacted."""
    status: ExecutionStatus
    exit_code: int | None
    duration_ms: int
    error: str | None
    """The engine's reason for a failed, timed out or cancelled execution."""


class BatchSummary(FrozenModel):
    """The last object ``execution-engine run --json`` writes: how the whole batch ended."""

    type: Literal["summary"] = "summary"
    exit_status: int
    """The CLI's exit status: 0 all completed, 1 any did not, 128 + N on signal N."""
    executions: tuple[BatchRow, ...]


class ErrorInfo(FrozenModel):
    """An error as a front end sees it: its class name, its message, details.

    The CLI writes it (``--json``) for an error that ends a run; the sidecar puts
    ``kind`` and ``data`` into the ``data`` of its JSON-RPC error objects. Never
    holds a secret: errors about a request's ``env`` name the variable only.
    """

    type: Literal["error"] = "error"
    kind: str
    """The error's class name, e.g. ``ExecutionNotFound`` or ``ValidationError``."""
    message: str
    data: dict[str, JsonValue] | None = None
    """Details, e.g. ``{"errors": [...]}`` with pydantic's error list (inputs stripped)."""
