"""The worker actor: one per execution, owner of its child from spawn to end."""

from __future__ import annotations

import errno
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pykka

from messages import ExecutionConfig, ExecutionRequest, FailureReason

from ._base import EngineActor
from ._events import EventSink
from ._logfile import ExecutionLog
from ._outcome import Outcome
from ._runner import Runner
from ._streams import Redactor, StreamCollector
from ._supervisor_messages import Finished, Spawned
from ._threads import ThreadPool
from .backends import Child, Launcher, LaunchSpec, build_launch_spec

__all__ = ["WorkerActor"]

_log = logging.getLogger("actors.worker")

_RESOURCE_ERRNOS = {errno.EAGAIN, errno.EMFILE, errno.ENFILE, errno.ENOMEM}


class WorkerActor(EngineActor):
    """Runs one execution on its own thread: spawn, drive the child, report.

    The actor's thread is the execution's runner thread: ``on_start`` spawns
    the child through the launcher and runs the ``Runner`` loop until the
    child has ended, then tells the supervisor ``Finished`` and stops. While
    the loop runs the inbox is not read, so a worker takes no messages: kills
    go through the ``kill`` that ``Spawned`` hands the supervisor, which wakes
    the loop through the child (see PITFALLS: cancel through the process group
    and a wake-up fd). One thread per execution instead of an actor thread
    plus a reader thread halves thread starts, the largest per-execution cost
    after the spawn.

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
        events: EventSink,
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
        self._events = events
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
                outcome = Outcome.failure(
                    FailureReason.INTERNAL, "internal error: the worker ended early"
                )
            self._supervisor.tell(Finished(self._request.id, outcome))

    def on_start(self) -> None:
        """Run the whole execution, keep its outcome, stop."""
        threading.current_thread().name = f"{self._prefix}-worker-{str(self._request.id)[:8]}"
        try:
            self._outcome = self._execute()
        except Exception as exc:
            _log.exception("worker of execution %s failed", self._request.id)
            self._outcome = Outcome.failure(FailureReason.INTERNAL, f"internal error: {exc!r}")
        self.stop()

    def on_receive(self, message: Any) -> Any:
        """A worker takes no messages: control goes through ``Spawned.kill``."""
        raise TypeError(f"WorkerActor cannot handle {message!r}")

    def _execute(self) -> Outcome:
        log, log_error = self._open_log()
        spec = build_launch_spec(self._request, self._config)
        try:
            child = self._launcher.spawn(spec)
        except (OSError, ValueError) as exc:
            return self._spawn_failed(spec, exc, log)
        except BaseException:
            if log is not None:
                log.close()
            raise
        try:
            runner = self._prepare(child, log, log_error)
        except BaseException:
            # Nothing will drive this child: kill and reap it here, or it leaks.
            child.close()
            if log is not None:
                log.close()
            raise
        return runner.run()

    def _spawn_failed(
        self, spec: LaunchSpec, exc: BaseException, log: ExecutionLog | None
    ) -> Outcome:
        message = self._redactor(_spawn_message(spec.argv[0], exc))
        log_path: Path | None = None
        if log is not None:
            log.write("engine", [f"spawn failed: {message}"])
            log.close()
            log_path = log.path
        return Outcome.failure(FailureReason.SPAWN_ERROR, message, log_path=log_path)

    def _prepare(self, child: Child, log: ExecutionLog | None, log_error: str | None) -> Runner:
        request = self._request
        started_at = datetime.now(UTC)
        where = f" on {child.node}" if child.node else ""
        if log is not None:
            log.write("engine", [f"started pid {child.pid}{where}: {self._description}"])
        elif log_error is not None:
            _log.error("execution %s runs without a log file: %s", request.id, log_error)
        runner = Runner(
            execution_id=request.id,
            child=child,
            config=self._config,
            timeout_ms=self._timeout_ms,
            idle_timeout_ms=request.idle_timeout_ms,
            stdout=self._collector("stdout"),
            stderr=self._collector("stderr"),
            log=log,
            events=self._events,
            started_at=started_at,
        )
        log_path = log.path if log is not None else None
        self._supervisor.tell(
            Spawned(request.id, child.pid, child.node, started_at, log_path, runner.request_kill)
        )
        self._events.started(request.id, pid=child.pid, command=self._description, node=child.node)
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


def _spawn_message(program: str, exc: BaseException) -> str:
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc)
        if exc.errno in _RESOURCE_ERRNOS:
            return f"cannot start {program!r}: out of resources ({reason}, errno {exc.errno})"
        target = exc.filename if exc.filename is not None else program
        return f"cannot start {program!r}: {reason}: {target!r}"
    return f"cannot start {program!r}: {exc}"
