"""The supervisor actor: the state table, the concurrency budget and the queue."""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from messages import (
    Cancel,
    ExecutionConfig,
    ExecutionNotFound,
    ExecutionRequest,
    ExecutionStatus,
    FailureReason,
    GetMetrics,
    GetResult,
    GetStatus,
    ListExecutions,
    RunCleanup,
    Submit,
)

from ._admission import admit
from ._base import TellSafeActor
from ._events import EmitFn, EventSink
from ._execution import WorkerActor
from ._lifecycle import (
    ExecutionEnded,
    ExecutionQueued,
    ExecutionRunning,
    ExecutionsEvicted,
    LifecycleHook,
)
from ._logfile import delete_files
from ._outcome import Outcome, finish
from ._runner import kill_message
from ._slot import ResultSlot
from ._stop import KillReason
from ._streams import Redactor
from ._supervisor_messages import (
    AwaitResult,
    Finished,
    GetLogPath,
    KillAll,
    Shutdown,
    Spawned,
    SubmitWatched,
)
from ._table import ExecutionTable, Record
from ._threads import ThreadPool
from .backends import Launcher

__all__ = ["SupervisorActor"]

_log = logging.getLogger("actors.supervisor")


class SupervisorActor(TellSafeActor):
    """Holds every execution's state; starts a worker per execution when a slot is free.

    Handlers only update the table and send messages, so they return in
    microseconds; nothing here waits on a child.
    """

    def __init__(
        self,
        *,
        config: ExecutionConfig,
        emit: EmitFn,
        launcher: Launcher,
        clock: Callable[[], float],
        thread_prefix: str,
        threads: ThreadPool,
        lifecycle: LifecycleHook | None = None,
    ) -> None:
        super().__init__()
        self._threads = threads
        self._lifecycle = lifecycle if lifecycle is not None else LifecycleHook("unused")
        self._config = config
        self._events = EventSink(emit)
        self._launcher = launcher
        self._clock = clock
        self._prefix = thread_prefix
        self._redact = Redactor(config.redact)
        self._table = ExecutionTable()
        self._stopping = False
        self._drained: concurrent.futures.Future[None] | None = None

    def on_start(self) -> None:
        """Name the thread after the engine, so shutdown can find and join it."""
        threading.current_thread().name = f"{self._prefix}-supervisor"

    def on_receive(self, message: Any) -> Any:
        """Dispatch one message to its handler."""
        match message:
            case Spawned():
                self._guard(self._on_spawned, message)
            case Finished():
                self._guard(self._on_finished, message)
            case SubmitWatched(request=request, waiter=waiter):
                return self._on_submit(request, waiter)
            case Submit(request=request):
                return self._on_submit(request, None)
            case Cancel(execution_id=execution_id):
                return self._on_cancel(execution_id, KillReason.CANCEL)
            case GetStatus(execution_id=execution_id):
                return self._record(execution_id).status
            case GetResult(execution_id=execution_id):
                return self._record(execution_id).result
            case AwaitResult(execution_id=execution_id):
                return self._on_await_result(execution_id)
            case GetLogPath(execution_id=execution_id):
                return self._record(execution_id).log_path
            case ListExecutions(status=status):
                return self._table.summaries(status)
            case GetMetrics():
                return self._table.metrics(self._config.max_concurrent_executions)
            case RunCleanup():
                return self._on_run_cleanup()
            case Shutdown():
                return self._on_shutdown()
            case KillAll():
                return self._on_kill_all()
            case _:
                raise TypeError(f"the supervisor does not understand {message!r}")
        return None

    def _record(self, execution_id: UUID) -> Record:
        try:
            return self._table.records[execution_id]
        except KeyError:
            raise ExecutionNotFound(execution_id) from None

    def _on_submit(
        self,
        request: ExecutionRequest,
        waiter: ResultSlot | None,
    ) -> UUID:
        config, table = self._config, self._table
        timeout_ms = admit(request, config, table, stopping=self._stopping)
        has_slot = table.running < config.max_concurrent_executions
        record = Record(
            request=request,
            description=self._redact(request.command.describe()),
            timeout_ms=timeout_ms,
            queued_at=datetime.now(UTC),
            waiter=waiter,
        )
        table.add(record)
        if self._lifecycle.active:
            self._lifecycle.publish(ExecutionQueued(request, record.description, record.queued_at))
        if has_slot:
            self._start(record)
        else:
            table.pending[request.id] = None
        return request.id

    def _start(self, record: Record) -> None:
        self._table.running += 1
        record.status = ExecutionStatus.RUNNING
        try:
            WorkerActor.start(
                request=record.request,
                timeout_ms=record.timeout_ms,
                description=record.description,
                config=self._config,
                supervisor=self.actor_ref,
                events=self._events,
                launcher=self._launcher,
                redactor=self._redact,
                thread_prefix=self._prefix,
                threads=self._threads,
            )
        except Exception as exc:  # no thread could be started: fail this one, keep serving
            _log.exception("could not start a worker for %s", record.request.id)
            self._end(
                record,
                Outcome.failure(FailureReason.SPAWN_ERROR, f"cannot start a worker thread: {exc}"),
            )

    def _on_spawned(self, message: Spawned) -> None:
        record = self._table.records[message.execution_id]
        record.pid = message.pid
        record.node = message.node
        record.started_at = message.started_at
        record.log_path = message.log_path
        record.kill = message.kill
        if self._lifecycle.active:
            self._lifecycle.publish(
                ExecutionRunning(message.execution_id, message.pid, message.started_at)
            )
        if record.cancel_reason is not None:  # cancelled while it was being spawned
            message.kill(record.cancel_reason, record.hard_kill)

    def _on_finished(self, message: Finished) -> None:
        record = self._table.records[message.execution_id]
        outcome = message.outcome
        record.kill = None
        if record.cancel_reason is not None:
            # Also when the child exited on its own as the kill was on its way:
            # cancel() answered True, so the execution is cancelled.
            outcome = outcome.cancelled(kill_message(record.cancel_reason))
        self._end(record, outcome)

    def _on_cancel(self, execution_id: UUID, reason: KillReason, *, hard: bool = False) -> bool:
        record = self._record(execution_id)
        if record.status is ExecutionStatus.PENDING:
            del self._table.pending[execution_id]
            error = "cancelled by engine shutdown" if reason is KillReason.SHUTDOWN else "cancelled"
            self._end(record, Outcome(ExecutionStatus.CANCELLED, error=f"{error} while pending"))
            return True
        if record.status is ExecutionStatus.RUNNING:
            if record.cancel_reason is None:
                record.cancel_reason = reason
            record.hard_kill = record.hard_kill or hard
            if record.kill is not None:  # else Spawned is on its way and kills then
                record.kill(record.cancel_reason, record.hard_kill)
            return True
        return False

    def _end(self, record: Record, outcome: Outcome) -> None:
        """Make ``record`` terminal: result, terminal event, slot, waiters."""
        table = self._table
        was_running = record.status is ExecutionStatus.RUNNING
        if outcome.log_path is None and record.log_path is not None:
            outcome = replace(outcome, log_path=record.log_path)
        result = finish(record.request.id, record.queued_at, outcome, self._events, self._redact)
        record.status = result.status
        record.result = result
        table.mark_terminal(record, self._clock())
        if self._lifecycle.active:
            self._lifecycle.publish(ExecutionEnded(result))
        if was_running:
            table.running -= 1
            self._fill_slots()
        # Last: the waiting caller wakes, and gets the GIL once this thread blocks.
        if record.waiter is not None:
            record.waiter.set_result(result)

    def _fill_slots(self) -> None:
        table, limit = self._table, self._config.max_concurrent_executions
        while table.pending and table.running < limit:
            execution_id, _ = table.pending.popitem(last=False)
            self._start(table.records[execution_id])
        if self._drained is not None and table.running == 0 and not self._drained.done():
            self._drained.set_result(None)

    def _on_await_result(self, execution_id: UUID) -> Any:
        record = self._record(execution_id)
        if record.result is not None:
            return record.result
        if record.waiter is None:
            record.waiter = ResultSlot()
        return record.waiter

    def _on_run_cleanup(self) -> int:
        # Evicting is dropping the records (the table pops them in one C loop);
        # only delete_logs_on_evict adds work, one unlink per file.
        config = self._config
        evicted = self._table.evict(
            self._clock(), config.execution_retention_secs, config.max_in_memory_executions
        )
        if evicted and config.delete_logs_on_evict:
            delete_files(path for record in evicted for path in record.files())
        if evicted and self._lifecycle.active:
            self._lifecycle.publish(ExecutionsEvicted(tuple(r.request.id for r in evicted)))
        return len(evicted)

    def _on_shutdown(self) -> concurrent.futures.Future[None]:
        self._stopping = True
        self._drained = concurrent.futures.Future()
        self._cancel_all(hard=False)
        self._fill_slots()
        return self._drained

    def _on_kill_all(self) -> None:
        # Like shutdown's cancel, but SIGKILL at once: for a caller (the CLI on a
        # second Ctrl-C, the exit hook) that will not wait for the kill grace.
        self._cancel_all(hard=True)

    def _cancel_all(self, *, hard: bool) -> None:
        for execution_id in list(self._table.pending):
            self._on_cancel(execution_id, KillReason.SHUTDOWN)
        for record in list(self._table.records.values()):
            if record.status is ExecutionStatus.RUNNING:
                self._on_cancel(record.request.id, KillReason.SHUTDOWN, hard=hard)
