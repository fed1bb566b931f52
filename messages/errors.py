"""The errors the engine raises; each names what was wrong and the value."""

from __future__ import annotations

from uuid import UUID

__all__ = [
    "DuplicateExecution",
    "EngineStopped",
    "ExecutionError",
    "ExecutionNotFound",
    "InvalidRequest",
    "QueueFull",
    "ResultTimeout",
]


class ExecutionError(Exception):
    """Base of every error the engine raises."""


class ExecutionNotFound(ExecutionError, LookupError):
    """No execution with this id is known (never submitted, or evicted)."""

    def __init__(self, execution_id: UUID) -> None:
        self.execution_id = execution_id
        super().__init__(f"no execution with id {execution_id} (unknown or evicted)")


class DuplicateExecution(ExecutionError):
    """A request's id is already known to the engine."""

    def __init__(self, execution_id: UUID) -> None:
        self.execution_id = execution_id
        super().__init__(f"an execution with id {execution_id} already exists")


class InvalidRequest(ExecutionError, ValueError):
    """A request breaks a rule that depends on the engine's config or the filesystem."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        super().__init__(f"invalid request: {field}={value!r}: {reason}")


class QueueFull(ExecutionError):
    """All slots are busy and the pending queue is at ``max_queued_executions``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"queue full: max_queued_executions={limit} executions already wait")


class ResultTimeout(ExecutionError, TimeoutError):
    """A wait for a result ran out; the execution goes on."""

    def __init__(self, execution_id: UUID, timeout: float) -> None:
        self.execution_id = execution_id
        self.timeout = timeout
        super().__init__(f"execution {execution_id} did not end within timeout={timeout}s")


class EngineStopped(ExecutionError, RuntimeError):
    """The engine was shut down; it accepts no more calls."""

    def __init__(self, what: str = "engine") -> None:
        super().__init__(f"the {what} has been shut down")
