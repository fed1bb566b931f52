"""The sidecar's methods: one row each, naming its params and result models.

Each handler takes the engine and the validated params and returns the
result model (or None). ``get_execution_result`` with a wait is not here:
the dispatcher waits on a result future, which holds no thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from actors import ExecutionEngine
from messages import (
    CancelReply,
    CleanupReply,
    ConcurrencyMetrics,
    ExecutionList,
    ExecutionRef,
    ExecutionRequest,
    ExecutionResult,
    ListQuery,
    LogText,
    NoParams,
    ResultQuery,
    StatusReply,
)

__all__ = ["METHODS", "Method"]


@dataclass(frozen=True, slots=True)
class Method:
    """One JSON-RPC method of the sidecar."""

    name: str
    params: type[BaseModel]
    result: type[BaseModel] | None
    """The result's model; None for ``null`` (``shutdown``)."""
    summary: str
    call: Callable[[ExecutionEngine, Any], BaseModel | None]
    nullable: bool = False
    """The result may also be ``null`` (``get_execution_result`` while not terminal)."""


def _execute(engine: ExecutionEngine, params: ExecutionRequest) -> ExecutionRef:
    return ExecutionRef(execution_id=engine.execute(params))


def _status(engine: ExecutionEngine, params: ExecutionRef) -> StatusReply:
    status = engine.get_status(params.execution_id)
    return StatusReply(execution_id=params.execution_id, status=status)


def _result(engine: ExecutionEngine, params: ResultQuery) -> ExecutionResult | None:
    future = engine.result_future(params.execution_id)
    if future.done():
        return future.result()
    future.cancel()  # our own future: cancelling it touches no other waiter
    return None


def _cancel(engine: ExecutionEngine, params: ExecutionRef) -> CancelReply:
    return CancelReply(cancelled=engine.cancel(params.execution_id))


def _list(engine: ExecutionEngine, params: ListQuery) -> ExecutionList:
    return ExecutionList(executions=tuple(engine.list_executions(params.status)))


def _metrics(engine: ExecutionEngine, params: NoParams) -> ConcurrencyMetrics:
    return engine.get_concurrency_metrics()


def _cleanup(engine: ExecutionEngine, params: NoParams) -> CleanupReply:
    return CleanupReply(evicted=engine.cleanup_old_executions())


def _logs(engine: ExecutionEngine, params: ExecutionRef) -> LogText:
    return LogText(text=engine.read_logs(params.execution_id))


def _shutdown(engine: ExecutionEngine, params: NoParams) -> None:
    return None  # the dispatcher ends the sidecar once this answer is queued


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "execute_command",
            ExecutionRequest,
            ExecutionRef,
            "Queue a request; answers its id at once (events follow this answer).",
            _execute,
        ),
        Method(
            "get_execution_status",
            ExecutionRef,
            StatusReply,
            "The execution's status.",
            _status,
        ),
        Method(
            "get_execution_result",
            ResultQuery,
            ExecutionResult,
            "The result; null while not terminal after wait_ms (a wait holds up no other call).",
            _result,
            nullable=True,
        ),
        Method(
            "cancel_execution",
            ExecutionRef,
            CancelReply,
            "Cancel a pending or running execution, killing its process group.",
            _cancel,
        ),
        Method(
            "list_executions",
            ListQuery,
            ExecutionList,
            "Summaries of the executions in memory, newest first.",
            _list,
        ),
        Method(
            "get_concurrency_metrics",
            NoParams,
            ConcurrencyMetrics,
            "The concurrency budget now.",
            _metrics,
        ),
        Method(
            "cleanup_old_executions",
            NoParams,
            CleanupReply,
            "Evict old terminal executions now.",
            _cleanup,
        ),
        Method("read_logs", ExecutionRef, LogText, "The execution's log file.", _logs),
        Method(
            "shutdown",
            NoParams,
            None,
            "Answer null, then cancel everything, kill every process group and exit 0.",
            _shutdown,
        ),
    )
}
