"""The worker actor: one per execution, owner of its child from spawn to reap."""

from __future__ import annotations

import errno
import logging
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pykka

from messages import (
    ExecutionConfig,
    ExecutionRequest,
    ExecutionStatus,
    FailureReason,
    Started,
)

from ._base import EngineActor
from ._exit import process_groups
from ._internal import Finished, Outcome, Spawned
from ._logfile import ExecutionLog
from ._process import Child, Launcher, build_launch_spec
from ._runner import EmitFn, Runner
from ._streams import Redactor, StreamCollector
from ._threads import ThreadPool

__all__ = ["WorkerActor"]

_log = logging.getLogger("actors.worker")

_RESOURCE_ERRNOS = {errno.EAGAIN, errno.EMFILE, errno.ENFILE, errno.ENOMEM}


class WorkerActor(EngineActor):
    """Runs one execution on its own thread: spawn, drive the child, report.

    The actor's thread is the execution's reader thread: ``on_start`` spawns
    the child and runs the ``Runner`` loop until the child is reaped, then
    tells the supervisor ``Finished`` and stops. While the loop runs the inbox
    is not read, so kills do not go through it: ``Spawned`` hands the
    supervisor the runner's ``request_kill``, which wakes the loop through an
    eventfd (see PITFALLS: cancel through the process group and a wake-up fd).
    One thread per execution instead of an actor thread plus a reader thread
    halves thread starts, the largest per-execution cost after the spawn.

    Everything is caught and reported as an outcome: pykka has no
    supervision, and a lost report would leak a slot.
    """

    def __init__(
        self,
        *,
        request: ExecutionRequest,
        timeout_ms: int,
        description: str,
        config: ExecutionConfig,
        supervisor: pykka.ActorRef[Any],
        emit: EmitFn,
        launcher: Launcher,
        redactor: Redactor,
        thread_prefix: str,
        threads: ThreadPool,
    ) -> None:
        super().__init__()
        self._threads = threads
        self._outcome: Outcome | None = None
        self._request = request
        self._timeout_ms = timeout_ms
        self._description = description
        self._config = config
        self._supervisor = supervisor
        self._emit = emit
        self._launcher = launcher
        self._redactor = redactor
        self._prefix = thread_prefix

    def _start_actor_loop(self) -> None:
        # pykka's hook for where an actor's loop runs: a recycled pool thread
        # instead of a new thread per execution.
        self._threads.submit(self._run_and_report)

    def _run_and_report(self) -> None:
        # Finished is told after the actor loop has ended, as the thread's very
        # last act: the supervisor, woken by it, then gets the GIL at once
        # instead of waiting for pykka's teardown on this thread.
        try:
            self._actor_loop()
        finally:
            outcome = self._outcome
            if outcome is None:
                outcome = self._failure(
                    FailureReason.INTERNAL, "internal error: the worker ended early", None
                )
            self._supervisor.tell(Finished(self._request.id, outcome))

    def on_start(self) -> None:
        """Run the whole execution, keep its outcome, stop."""
        threading.current_thread().name = f"{self._prefix}-worker-{str(self._request.id)[:8]}"
        try:
            self._outcome = self._execute()
        except Exception as exc:
            _log.exception("worker of execution %s failed", self._request.id)
            self._outcome = self._failure(FailureReason.INTERNAL, f"internal error: {exc!r}", None)
        self.stop()

    def on_receive(self, message: Any) -> Any:
        """A worker takes no messages: control goes through ``Spawned.kill``."""
        raise TypeError(f"WorkerActor cannot handle {message!r}")

    def _execute(self) -> Outcome:
        config, request = self._config, self._request
        log, log_error = self._open_log()
        spec = build_launch_spec(request, config)
        try:
            child = self._launcher.spawn(spec)
        except (OSError, ValueError) as exc:
            message = self._redactor(_spawn_message(spec.argv[0], exc))
            log_path = None
            if log is not None:
                log.write("engine", [f"spawn failed: {message}"])
                log.close()
                log_path = log.path
            return self._failure(FailureReason.SPAWN_ERROR, message, log_path)
        except BaseException:
            if log is not None:
                log.close()
            raise
        process_groups.add(child.pid)
        try:
            runner = self._prepare(child, spec.stdin, log, log_error)
        except BaseException:
            # Nothing will drive this child: kill and reap it here, or it leaks.
            child.signal_group(signal.SIGKILL)
            with process_groups.lock:
                process_groups.discard(child.pid)
                child.wait()
            child.close()
            if log is not None:
                log.close()
            raise
        return runner.run()

    def _prepare(
        self,
        child: Child,
        stdin: bytes | None,
        log: ExecutionLog | None,
        log_error: str | None,
    ) -> Runner:
        request = self._request
        started_at = datetime.now(UTC)
        if log is not None:
            log.write("engine", [f"started pid {child.pid}: {self._description}"])
        elif log_error is not None:
            _log.error("execution %s runs without a log file: %s", request.id, log_error)
        runner = Runner(
            execution_id=request.id,
            child=child,
            stdin=stdin,
            config=self._config,
            timeout_ms=self._timeout_ms,
            idle_timeout_ms=request.idle_timeout_ms,
            stdout=self._collector("stdout"),
            stderr=self._collector("stderr"),
            log=log,
            emit=self._emit,
            started_at=started_at,
        )
        log_path = log.path if log is not None else None
        self._supervisor.tell(
            Spawned(request.id, child.pid, started_at, log_path, runner.request_kill)
        )
        self._emit(request.id, Started, {"pid": child.pid, "command": self._description})
        return runner

    def _open_log(self) -> tuple[ExecutionLog | None, str | None]:
        if self._config.log_dir is None:
            return None, None
        path = self._config.log_dir / f"{self._request.id}.log"
        try:
            return ExecutionLog(path), None
        except OSError as exc:
            return None, f"cannot open log file {path}: {exc.strerror or exc}"

    def _collector(self, name: str) -> StreamCollector:
        config = self._config
        log_dir = config.log_dir

        def spill_path() -> Path | None:
            return None if log_dir is None else log_dir / f"{self._request.id}.{name}.spill"

        return StreamCollector(
            name,
            limit=config.max_output_size_bytes,
            strategy=config.oversized_output_strategy,
            max_line_length=config.max_line_length,
            redactor=self._redactor,
            spill_path=spill_path,
        )

    @staticmethod
    def _failure(reason: FailureReason, message: str, log_path: Path | None) -> Outcome:
        return Outcome(
            status=ExecutionStatus.FAILED,
            reason=reason,
            exit_code=None,
            error=message,
            stdout="",
            stderr="",
            stdout_truncated=False,
            stderr_truncated=False,
            stdout_spill_path=None,
            stderr_spill_path=None,
            stdout_dropped_bytes=0,
            stderr_dropped_bytes=0,
            pid=None,
            started_at=None,
            ended_at=datetime.now(UTC),
            log_path=log_path,
        )


def _spawn_message(program: str, exc: BaseException) -> str:
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc)
        if exc.errno in _RESOURCE_ERRNOS:
            return f"cannot start {program!r}: out of resources ({reason}, errno {exc.errno})"
        target = exc.filename if exc.filename is not None else program
        return f"cannot start {program!r}: {reason}: {target!r}"
    return f"cannot start {program!r}: {exc}"
