"""``ExecutionEngine``: the thread-safe facade over the actors."""

from __future__ import annotations

import concurrent.futures
import contextlib
import itertools
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar
from uuid import UUID

import pykka

from messages import (
    Cancel,
    ConcurrencyMetrics,
    EngineStopped,
    ExecutionConfig,
    ExecutionError,
    ExecutionNotFound,
    ExecutionRequest,
    ExecutionResult,
    ExecutionStatus,
    ExecutionSummary,
    GetMetrics,
    GetStatus,
    ListExecutions,
    RunCleanup,
)

from ._atexit import register_engine
from ._dispatch import EventDispatcher, EventHandler
from ._history import ExecutionHistory, attach_history
from ._janitor import JanitorActor
from ._lifecycle import LifecycleHook
from ._logfile import prepare_log_dir
from ._results import ResultWaiters
from ._shutdown import EngineParts, shut_down
from ._slot import ResultSlot
from ._supervisor import SupervisorActor
from ._supervisor_messages import (
    GetLogPath,
    KillAll,
    SubmitWatched,
)
from ._threads import ThreadPool
from .backends import Launcher, LocalLauncher

__all__ = ["ExecutionEngine"]

_log = logging.getLogger("actors.engine")

# Every supervisor handler returns in microseconds; an ask that takes this long
# means the supervisor is gone or wedged, and the caller deserves an error.
_ASK_TIMEOUT_S = 30.0
_engine_numbers = itertools.count(1)
_T = TypeVar("_T")


class ExecutionEngine:
    """Runs commands in the background; every method is safe from any thread.

    Args:
        config: limits and policies; ``ExecutionConfig()`` when omitted.
        event_handler: an object whose ``on_event`` gets every event, in order,
            on the engine's event-dispatch thread.
        clock: the clock of the eviction policy (seconds, monotonic); tests
            pass a fake one to age executions without sleeping.
        launcher: how children are started; the local subprocess launcher
            when omitted.
    """

    def __init__(
        self,
        config: ExecutionConfig | None = None,
        *,
        event_handler: EventHandler | None = None,
        clock: Callable[[], float] = time.monotonic,
        launcher: Launcher | None = None,
    ) -> None:
        self.config = config if config is not None else ExecutionConfig()
        if self.config.log_dir is not None:
            prepare_log_dir(self.config.log_dir)
        self._prefix = f"execution-engine-{next(_engine_numbers)}"
        self._lifecycle = LifecycleHook(f"{self._prefix}-lifecycle")
        # First, before any thread starts: a history file that is refused
        # (another engine's, not a history) raises here and starts nothing.
        self._history = attach_history(
            self.config, self._lifecycle, thread_name=f"{self._prefix}-history"
        )
        self._lock = threading.Lock()
        self._stopped = False
        self._results = ResultWaiters(self._ask, self._history)
        self._dispatcher = EventDispatcher(
            self,
            event_handler,
            f"{self._prefix}-events",
            line_budget=self.config.max_output_size_bytes,
        )
        self._threads = ThreadPool(f"{self._prefix}-worker")
        self._launcher: Launcher = launcher if launcher is not None else LocalLauncher()
        self._supervisor = SupervisorActor.start(
            # The history owns the files of evicted executions: it deletes them when it prunes.
            config=self.config
            if self._history is None
            else self.config.model_copy(update={"delete_logs_on_evict": False}),
            emit=self._dispatcher.emit,
            launcher=self._launcher,
            clock=clock,
            thread_prefix=self._prefix,
            threads=self._threads,
            lifecycle=self._lifecycle,
        )
        self._janitor: pykka.ActorRef[JanitorActor] | None = None
        if self.config.enable_auto_cleanup:
            self._janitor = JanitorActor.start(
                supervisor=self._supervisor,
                interval=self.config.cleanup_interval_secs,
                thread_prefix=self._prefix,
                history=self._history,
            )
        register_engine(self)

    @property
    def supervisor(self) -> pykka.ActorRef[SupervisorActor]:
        """The supervisor actor; it accepts the protocol messages of ``messages``."""
        return self._supervisor

    @property
    def lifecycle(self) -> LifecycleHook:
        """Internal subscribers (the history) learn every submission, start, end and eviction."""
        return self._lifecycle

    @property
    def history(self) -> ExecutionHistory | None:
        """The history file this engine records to, or None (``history_path`` unset)."""
        return self._history

    @property
    def janitor(self) -> pykka.ActorRef[JanitorActor] | None:
        """The janitor actor, or None when ``enable_auto_cleanup`` is off."""
        return self._janitor

    def execute(self, request: ExecutionRequest) -> UUID:
        """Queue ``request`` and return its id at once, also when every slot is busy.

        Raises:
            InvalidRequest: the timeout exceeds ``max_timeout_ms`` or the working
                dir is not a directory.
            DuplicateExecution: the request's id is already known.
            QueueFull: the pending queue is at ``max_queued_executions``.
            EngineStopped: after ``shutdown()``.
        """
        # The facade keeps the future it will wait on, so get_result of an
        # execution submitted here needs no round trip to the supervisor.
        waiter = ResultSlot()
        execution_id: UUID = self._ask(SubmitWatched(request, waiter))
        self._results.remember(execution_id, waiter)
        return execution_id

    def get_status(self, execution_id: UUID) -> ExecutionStatus:
        """The execution's status.

        With a history file, an id evicted from memory or recorded by an earlier
        process is answered from the file.

        Raises:
            ExecutionNotFound: the id is unknown (or evicted, without a history).
        """
        try:
            status: ExecutionStatus = self._ask(GetStatus(execution_id=execution_id))
        except ExecutionNotFound:
            return self._results.from_history(execution_id, ExecutionHistory.status)
        return status

    def get_result(self, execution_id: UUID, timeout: float | None = None) -> ExecutionResult:
        """Block until the execution has ended and return its result.

        With a history file, an id evicted from memory or recorded by an earlier
        process is answered from the file.

        Raises:
            ResultTimeout: ``timeout`` seconds passed first; the execution goes on.
            ExecutionNotFound: the id is unknown (or evicted, without a history).
        """
        if self._stopped:
            raise EngineStopped()
        return self._results.get(execution_id, timeout)

    def result_future(self, execution_id: UUID) -> concurrent.futures.Future[ExecutionResult]:
        """A future of the execution's result, done when it is terminal; holds no thread.

        Each call returns a future of its own: cancelling it affects neither the
        execution nor other waiters.

        Raises:
            ExecutionNotFound: the id is unknown or evicted.
        """
        if self._stopped:
            raise EngineStopped()
        return self._results.future(execution_id)

    def cancel(self, execution_id: UUID) -> bool:
        """Cancel a pending or running execution; False if it had already ended."""
        cancelled: bool = self._ask(Cancel(execution_id=execution_id))
        return cancelled

    def list_executions(self, status: ExecutionStatus | None = None) -> list[ExecutionSummary]:
        """Summaries of the executions in memory, newest first, optionally of one status."""
        rows: list[ExecutionSummary] = self._ask(ListExecutions(status=status))
        return rows

    def read_logs(self, execution_id: UUID) -> str:
        """The execution's log file; "" when it has none (logs off, or never started)."""
        path: Path | None = self._ask(GetLogPath(execution_id))
        if path is None:
            return ""
        try:
            return path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def get_concurrency_metrics(self) -> ConcurrencyMetrics:
        """The concurrency budget now: running, pending, free slots, totals."""
        metrics: ConcurrencyMetrics = self._ask(GetMetrics())
        return metrics

    def cleanup_old_executions(self) -> int:
        """Evict old terminal executions now; returns how many were evicted.

        With a history file, also prunes the file by its retention (and waits for that).
        """
        evicted: int = self._ask(RunCleanup())
        if self._history is not None:
            try:
                self._history.prune()
            except (ExecutionError, TimeoutError) as exc:  # a full disk must not fail a cleanup
                _log.warning("cleanup: the history prune failed: %s", exc)
        return evicted

    def kill_all(self) -> None:
        """Cancel everything pending and SIGKILL every running process group now.

        The executions end ``cancelled``, without waiting for ``kill_grace_ms``;
        a no-op once ``shutdown()`` has stopped the supervisor. For a caller that
        will not wait (a second Ctrl-C).
        """
        # No `_stopped` check: the second Ctrl-C arrives while shutdown() waits
        # out the kill grace, which is exactly when this must still act.
        with contextlib.suppress(pykka.ActorDeadError):
            self._supervisor.tell(KillAll())

    def shutdown(self, timeout: float = 10) -> None:
        """Cancel everything, kill every process group, stop every thread; idempotent.

        Running executions get SIGTERM, then SIGKILL after ``kill_grace_ms``.
        Later calls of the other methods raise ``EngineStopped``.
        """
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        shut_down(
            EngineParts(
                prefix=self._prefix,
                supervisor=self._supervisor,
                janitor=self._janitor,
                lifecycle=self._lifecycle,
                history=self._history,
                threads=self._threads,
                launcher=self._launcher,
                dispatcher=self._dispatcher,
            ),
            timeout,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()

    def _ask(self, message: Any) -> Any:
        if self._stopped:
            raise EngineStopped()
        try:
            return self._supervisor.ask(message, timeout=_ASK_TIMEOUT_S)
        except pykka.ActorDeadError as exc:
            raise EngineStopped() from exc
        except pykka.Timeout as exc:
            raise ExecutionError(
                f"the supervisor did not answer {type(message).__name__} within {_ASK_TIMEOUT_S}s"
            ) from exc
