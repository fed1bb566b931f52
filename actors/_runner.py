"""The one thread that drives a running child, whatever its backend.

The runner pumps the child's facts (output, end of streams, exit, loss of the
node) into its stream collectors, the log and the event sink, and applies the
stop policy's deadlines (timeout, idle timeout, kill grace, drain, abandon)
and the progress ticks between pumps, so no timer threads exist.
"""

from __future__ import annotations

import logging
import math
import signal
import time
from datetime import UTC, datetime
from uuid import UUID

from messages import ExecutionConfig, ExecutionStatus, FailureReason, OversizedOutputStrategy

from ._events import EventSink
from ._logfile import ExecutionLog
from ._outcome import Outcome, StreamOutcome
from ._stop import KillReason, StopAction, StopPolicy
from ._streams import StreamCollector
from .backends import Child, StreamName

__all__ = ["Runner", "kill_message"]

_log = logging.getLogger("actors.runner")


def kill_message(reason: KillReason) -> str:
    """The ``error`` of an execution cancelled while running (``cancel`` or ``shutdown``)."""
    if reason is KillReason.SHUTDOWN:
        return "cancelled by engine shutdown; process group killed"
    return "cancelled; process group killed"


def describe_exit(status: int) -> str:
    """Say how a process ended, from a ``Popen.returncode``-style status."""
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = f"signal {-status}"
        return f"was killed by {name}"
    return f"exited with code {status}"


class Runner:
    """Drives one child from its spawn to its end; ``run`` never raises.

    It is the child's ``ChildSink``: ``pump`` calls ``on_output``, ``on_eof``,
    ``on_exit`` and ``on_lost`` on this same thread.
    """

    def __init__(
        self,
        *,
        execution_id: UUID,
        child: Child,
        config: ExecutionConfig,
        timeout_ms: int,
        idle_timeout_ms: int | None,
        stdout: StreamCollector,
        stderr: StreamCollector,
        log: ExecutionLog | None,
        events: EventSink,
        started_at: datetime,
    ) -> None:
        self._id = execution_id
        self._child = child
        self._config = config
        self._timeout_ms = timeout_ms
        self._idle_ms = idle_timeout_ms
        self._collectors = {StreamName.STDOUT: stdout, StreamName.STDERR: stderr}
        self._open = set(self._collectors)
        self._log = log
        self._events = events
        self._started_at = started_at
        self._start = now = time.monotonic()
        self._stop = StopPolicy(
            now=now,
            timeout_s=timeout_ms / 1000,
            idle_s=idle_timeout_ms / 1000 if idle_timeout_ms else None,
            grace_s=config.kill_grace_ms / 1000,
        )
        self._progress_s = config.progress_interval_ms / 1000 or math.inf
        self._next_progress = now + self._progress_s
        self._fail_on_overflow = (
            config.oversized_output_strategy is OversizedOutputStrategy.FAIL_EXECUTION
        )
        self._oversized = StreamName.STDOUT
        self._exit_status: int | None = None
        self._lost: str | None = None

    def request_kill(self, reason: KillReason, hard: bool = False) -> None:
        """Ask the loop to kill the group (cancel, shutdown; ``hard``: no grace). Any thread."""
        self._stop.request(reason, hard=hard)
        self._child.wake()

    def run(self) -> Outcome:
        """Drive the child until it has ended; return how it ended. Never raises."""
        try:
            outcome = self._loop()
        except BaseException as exc:  # the slot must come back whatever happened
            _log.exception("runner of execution %s failed", self._id)
            self._close_child()
            outcome = self._outcome(
                ExecutionStatus.FAILED, FailureReason.INTERNAL, None, f"internal error: {exc!r}"
            )
        finally:
            for collector in self._collectors.values():
                collector.close()
        if self._log is not None:
            self._log.write("engine", [_summary(outcome)])
            self._log.close()
        return outcome

    # -- ChildSink -------------------------------------------------------------------------------

    def on_output(self, stream: StreamName, data: bytes) -> None:
        """Take one chunk: lines to the log and observers, the cap checked."""
        now = time.monotonic()
        self._stop.output_seen(now)
        collector = self._collectors[stream]
        self._publish(collector, collector.feed(data))
        if collector.overflowed and self._fail_on_overflow and self._stop.reason is None:
            self._oversized = stream
            self._stop.fail(KillReason.OVERSIZED, now)

    def on_eof(self, stream: StreamName) -> None:
        """Flush the stream's last line."""
        if stream in self._open:
            self._open.discard(stream)
            collector = self._collectors[stream]
            self._publish(collector, collector.finish())

    def on_exit(self, status: int) -> None:
        """Note the main process's status; the drain window opens."""
        if self._exit_status is None:
            self._exit_status = status
            self._stop.exited(time.monotonic())

    def on_lost(self, message: str) -> None:
        """The node is gone: end now with what was received."""
        self._lost = message
        for stream in list(self._open):
            self.on_eof(stream)

    # -- the loop --------------------------------------------------------------------------------

    def _loop(self) -> Outcome:
        child, stop = self._child, self._stop
        while not self._done():
            now = time.monotonic()
            for action in stop.due(now):
                self._act(action)
            if now >= self._next_progress:
                self._progress(now)
            if self._done():
                break
            deadline = min(stop.next_deadline(), self._next_progress)
            child.pump(self, None if deadline == math.inf else max(0.0, deadline - now))
        self._close_child()
        if self._lost is not None:
            return self._outcome(
                ExecutionStatus.FAILED, FailureReason.NODE_LOST, None, self._lost_message()
            )
        if stop.reason is not None:
            status, reason = stop.reason.ending
            return self._outcome(status, reason, None, self._kill_message(stop.reason))
        code = self._exit_status
        assert code is not None
        if code == 0:
            return self._outcome(ExecutionStatus.COMPLETED, None, 0, None)
        return self._outcome(
            ExecutionStatus.FAILED,
            FailureReason.EXIT_CODE,
            code,
            f"the command {describe_exit(code)}",
        )

    def _done(self) -> bool:
        if self._lost is not None:
            return True
        return self._exit_status is not None and not self._open

    def _act(self, action: StopAction) -> None:
        if action is StopAction.ABANDON:
            _log.warning(
                "execution %s: a process outside its group holds a pipe; stop reading", self._id
            )
            self._child.abandon()
            for stream in list(self._open):
                self.on_eof(stream)
        else:
            self._child.signal_group(action.value)

    def _progress(self, now: float) -> None:
        self._events.progress(
            self._id,
            elapsed_ms=int((now - self._start) * 1000),
            stdout_bytes=self._collectors[StreamName.STDOUT].bytes_read,
            stderr_bytes=self._collectors[StreamName.STDERR].bytes_read,
        )
        self._next_progress = now + self._progress_s

    def _close_child(self) -> None:
        try:
            self._child.close()
        except Exception:  # a backend's cleanup failing must not lose the outcome
            _log.exception("closing the child of execution %s failed", self._id)

    def _publish(self, collector: StreamCollector, lines: list[str]) -> None:
        if not lines:
            return
        if self._log is not None:
            self._log.write(collector.name, lines)
        self._events.output(self._id, collector.event_type, lines)

    def _lost_message(self) -> str:
        node = self._child.node or "the node"
        return f"lost {node} while running: {self._lost}"

    def _kill_message(self, reason: KillReason) -> str:
        match reason:
            case KillReason.TIMEOUT:
                return f"timed out after timeout_ms={self._timeout_ms}; process group killed"
            case KillReason.IDLE:
                return f"no output for idle_timeout_ms={self._idle_ms}; process group killed"
            case KillReason.OVERSIZED:
                return (
                    f"{self._oversized} exceeded max_output_size_bytes="
                    f"{self._config.max_output_size_bytes} (strategy fail_execution); "
                    "process group killed"
                )
            case _:
                return kill_message(reason)

    def _outcome(
        self,
        status: ExecutionStatus,
        reason: FailureReason | None,
        exit_code: int | None,
        error: str | None,
    ) -> Outcome:
        out, err = self._collectors[StreamName.STDOUT], self._collectors[StreamName.STDERR]
        return Outcome(
            status=status,
            reason=reason,
            exit_code=exit_code,
            error=error,
            stdout=StreamOutcome(out.text(), out.truncated, out.spill_path, out.dropped_bytes),
            stderr=StreamOutcome(err.text(), err.truncated, err.spill_path, err.dropped_bytes),
            pid=self._child.pid,
            node=self._child.node,
            started_at=self._started_at,
            ended_at=datetime.now(UTC),
            log_path=self._log.path if self._log is not None else None,
            duration_ms=int((time.monotonic() - self._start) * 1000),
        )


def _summary(outcome: Outcome) -> str:
    if outcome.error:
        return f"ended {outcome.status.value}: {outcome.error}"
    return f"ended {outcome.status.value}: exit code {outcome.exit_code}"
