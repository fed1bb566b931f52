"""Waiting for results: the facade's futures, per-waiter futures, and the history fallback."""

from __future__ import annotations

import concurrent.futures
import weakref
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from messages import ExecutionNotFound, ExecutionResult, ResultTimeout

from ._history import ExecutionHistory
from ._slot import ResultSlot
from ._supervisor_messages import AwaitResult, ResultOrFuture

__all__ = ["ResultWaiters"]

_T = TypeVar("_T")
# Evicted from memory before its end reached the history file: how long to
# wait for the writer before answering "not found".
_HISTORY_FLUSH_S = 2.0


class ResultWaiters:
    """How the facade waits for results, with no thread per waiter.

    The result slot of an execution submitted through the facade is kept here
    (weakly: it lives in the supervisor's record, so an evicted record drops
    it and its id goes back to ``ExecutionNotFound``); others are asked for.
    """

    def __init__(self, ask: Callable[[Any], Any], history: ExecutionHistory | None) -> None:
        self._ask = ask
        self._history = history
        self._slots: weakref.WeakValueDictionary[UUID, ResultSlot] = weakref.WeakValueDictionary()

    def remember(self, execution_id: UUID, slot: ResultSlot) -> None:
        """Keep the slot the supervisor sets for ``execution_id``."""
        self._slots[execution_id] = slot

    def get(self, execution_id: UUID, timeout: float | None) -> ExecutionResult:
        """Block until the result is there (``ResultTimeout`` after ``timeout`` seconds)."""
        answer = self._answer(execution_id)
        if isinstance(answer, ExecutionResult):
            return answer
        try:
            return answer.result(timeout)
        except TimeoutError:
            raise ResultTimeout(execution_id, timeout if timeout is not None else 0.0) from None

    def future(self, execution_id: UUID) -> concurrent.futures.Future[ExecutionResult]:
        """A future of the caller's own, chained to the engine's."""
        answer = self._answer(execution_id)
        mine: concurrent.futures.Future[ExecutionResult] = concurrent.futures.Future()
        if isinstance(answer, ExecutionResult):
            mine.set_result(answer)
            return mine
        # A future of the waiter's own: one waiter's cancel() on a shared one
        # would break it for every waiter (and the supervisor's set_result).
        answer.add_done_callback(lambda result: _chain(result, mine))
        return mine

    def from_history(self, execution_id: UUID, read: Callable[[ExecutionHistory, UUID], _T]) -> _T:
        """Answer from the history file, or raise ``ExecutionNotFound`` without one."""
        history = self._history
        if history is None:
            raise ExecutionNotFound(execution_id)
        try:
            return read(history, execution_id)
        except ExecutionNotFound:
            if history.metrics().backlog == 0 or not history.flush(timeout=_HISTORY_FLUSH_S):
                raise
        return read(history, execution_id)

    def _answer(self, execution_id: UUID) -> ResultOrFuture:
        answer: ResultOrFuture | None = self._slots.get(execution_id)
        if answer is not None:
            return answer
        try:
            asked: ResultOrFuture = self._ask(AwaitResult(execution_id))
        except ExecutionNotFound:
            return self.from_history(execution_id, ExecutionHistory.get)
        return asked


def _chain(result: ExecutionResult, target: concurrent.futures.Future[ExecutionResult]) -> None:
    # Runs on the thread that set the slot (the supervisor's): cheap, never raises.
    if target.set_running_or_notify_cancel():
        target.set_result(result)
