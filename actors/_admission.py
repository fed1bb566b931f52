"""Admission: the checks a request passes before the supervisor accepts it.

They depend on the engine's config, the filesystem and the state table, so
they run on the supervisor's thread, before anything is queued or spawned;
each error names the field and the value.
"""

from __future__ import annotations

from messages import (
    DuplicateExecution,
    EngineStopped,
    ExecutionConfig,
    ExecutionRequest,
    InvalidRequest,
    QueueFull,
)

from ._table import ExecutionTable

__all__ = ["admit"]


def admit(
    request: ExecutionRequest, config: ExecutionConfig, table: ExecutionTable, *, stopping: bool
) -> int:
    """Check ``request`` against the config and the table; return its effective ``timeout_ms``.

    Raises:
        EngineStopped: the engine is shutting down.
        DuplicateExecution: the request's id is already known.
        InvalidRequest: the timeout exceeds ``max_timeout_ms``, or the working dir is
            missing or not a directory.
        QueueFull: every slot is busy and the queue is at ``max_queued_executions``.
    """
    if stopping:
        raise EngineStopped()
    if request.id in table.records:
        raise DuplicateExecution(request.id)
    timeout_ms = request.timeout_ms or config.default_timeout_ms
    if timeout_ms > config.max_timeout_ms:
        raise InvalidRequest(
            "timeout_ms", timeout_ms, f"exceeds max_timeout_ms={config.max_timeout_ms}"
        )
    if request.working_dir is not None and not request.working_dir.is_dir():
        reason = "is not a directory" if request.working_dir.exists() else "does not exist"
        raise InvalidRequest("working_dir", str(request.working_dir), reason)
    has_slot = table.running < config.max_concurrent_executions
    if not has_slot and len(table.pending) >= config.max_queued_executions:
        raise QueueFull(config.max_queued_executions)
    return timeout_ms
