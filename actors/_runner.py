"""The one thread that drives a running child: pipes, stdin, deadlines, kills.

One thread multiplexes both pipes, the child's exit (a pidfd), stdin and a
wake-up eventfd with ``poll``, so it can always be told to stop, even when a
grandchild that escaped the group holds a pipe open. Timeouts, the idle
timeout, the kill grace and progress ticks are deadlines of the same loop, so
no timer threads exist.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import select
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from messages import (
    EventBase,
    ExecutionConfig,
    ExecutionStatus,
    FailureReason,
    OversizedOutputStrategy,
    Progress,
)

from ._exit import process_groups
from ._internal import Outcome, cancel_message
from ._logfile import ExecutionLog
from ._process import Child, describe_exit
from ._streams import StreamCollector

__all__ = ["EmitFn", "Runner"]

_log = logging.getLogger("actors.runner")

# Reads start small and double while they come back full. A 64 KiB read whose
# bytes are mostly unused leaves a hole in the heap next to the output that is
# kept: with 10 KB results that cost 8 KB of RSS per retained execution
# (measured), while a flood still reaches 64 KiB reads after two full ones.
FIRST_READ_SIZE = 16 * 1024
READ_SIZE = 64 * 1024
# After the main process exits, descendants get this long to finish writing to
# the pipes we read; then the group is killed so a background job can never keep
# the execution (and its slot) alive.
DRAIN_GRACE_S = 0.2
# After that kill, a process outside the group (it called setsid) may still hold
# a pipe; we stop reading it this much later rather than wait for ever.
ABANDON_AFTER_S = 0.5
# Without a pidfd (Linux < 5.3) the loop checks for the exit this often.
EXIT_POLL_S = 0.05

EmitFn = Callable[[UUID, type[EventBase], dict[str, Any]], None]

_KILL_STATUS: dict[str, tuple[ExecutionStatus, FailureReason | None]] = {
    "cancel": (ExecutionStatus.CANCELLED, None),
    "shutdown": (ExecutionStatus.CANCELLED, None),
    "timeout": (ExecutionStatus.TIMED_OUT, FailureReason.TIMEOUT),
    "idle": (ExecutionStatus.TIMED_OUT, FailureReason.TIMEOUT),
    "oversized": (ExecutionStatus.FAILED, FailureReason.OVERSIZED_OUTPUT),
}


def _wake_fds() -> tuple[int, int]:
    if hasattr(os, "eventfd"):
        fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        return fd, fd
    return os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)


class Runner:
    """Drives one child from its spawn to its reap; ``run`` never raises."""

    def __init__(
        self,
        *,
        execution_id: UUID,
        child: Child,
        stdin: bytes | None,
        config: ExecutionConfig,
        timeout_ms: int,
        idle_timeout_ms: int | None,
        stdout: StreamCollector,
        stderr: StreamCollector,
        log: ExecutionLog | None,
        emit: EmitFn,
        started_at: datetime,
    ) -> None:
        self._id = execution_id
        self._child = child
        self._stdin = memoryview(stdin) if stdin else None
        self._config = config
        self._timeout_ms = timeout_ms
        self._idle_ms = idle_timeout_ms
        self._out = stdout
        self._err = stderr
        self._log = log
        self._emit = emit
        self._started_at = started_at
        self._start = started_mono = time.monotonic()
        self._kill_request: str | None = None
        self._oversized = "stdout"
        # Loop state: deadlines are monotonic seconds, inf when not armed.
        self._timeout_at = started_mono + timeout_ms / 1000
        self._idle_s = idle_timeout_ms / 1000 if idle_timeout_ms else math.inf
        self._grace_s = config.kill_grace_ms / 1000
        self._progress_s = config.progress_interval_ms / 1000 or math.inf
        self._fail_on_overflow = (
            config.oversized_output_strategy is OversizedOutputStrategy.FAIL_EXECUTION
        )
        self._kill_reason: str | None = None
        self._hard_kill_at = math.inf
        self._exited = False
        self._drain_until = math.inf
        self._abandon_at = math.inf
        self._next_progress = started_mono + self._progress_s
        self._last_output = started_mono
        self._streams: dict[int, StreamCollector] = {}
        self._read_sizes: dict[int, int] = {}
        self._exit_fd: int | None = None
        self._stdin_fd: int | None = None
        self._poller = select.poll()
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = _wake_fds()

    def request_kill(self, reason: str) -> None:
        """Ask the loop to kill the group (``cancel``, ``shutdown``; ``kill``: SIGKILL now)."""
        with self._lock:
            if reason == "kill":
                self._hard_kill_at = -math.inf
                if self._kill_request is None:
                    self._kill_request = "shutdown"
            elif self._kill_request is None:
                self._kill_request = reason
            if self._wake_w < 0:  # the loop has finished and closed its fds
                return
            # Under the lock: run() closes the fds under it, so this never
            # writes to a closed (or reused) fd number.
            # A full wake-up pipe or counter already means "wake up".
            with contextlib.suppress(BlockingIOError):
                if self._wake_r == self._wake_w:
                    os.eventfd_write(self._wake_w, 1)
                else:
                    os.write(self._wake_w, b"\0")

    def run(self) -> Outcome:
        """Drive the child until it is reaped; return how it ended. Never raises."""
        try:
            outcome = self._loop()
        except BaseException as exc:  # the slot must come back whatever happened
            _log.exception("runner of execution %s failed", self._id)
            self._reap()
            outcome = self._outcome(
                ExecutionStatus.FAILED, FailureReason.INTERNAL, None, f"internal error: {exc!r}"
            )
        finally:
            self._out.close()
            self._err.close()
            self._child.close()
            with self._lock:
                os.close(self._wake_r)
                if self._wake_w != self._wake_r:
                    os.close(self._wake_w)
                self._wake_r = self._wake_w = -1
        if self._log is not None:
            self._log.write("engine", [self._summary(outcome)])
            self._log.close()
        return outcome

    def _loop(self) -> Outcome:
        child = self._child
        poller = self._poller
        self._streams = {child.stdout_fd: self._out, child.stderr_fd: self._err}
        for fd in self._streams:
            poller.register(fd, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        self._exit_fd = child.exit_fd
        if self._exit_fd is not None:
            poller.register(self._exit_fd, select.POLLIN)
        self._stdin_fd = child.stdin_fd
        if self._stdin_fd is not None:
            if self._stdin is None:
                self._close_stdin()
            else:
                poller.register(self._stdin_fd, select.POLLOUT)

        while not self._done(time.monotonic()):
            now = time.monotonic()
            self._tick(now)
            wait = self._next_deadline(now) - now
            wait_ms = None if wait == math.inf else max(0, math.ceil(wait * 1000))
            for fd, _event in poller.poll(wait_ms):
                self._on_ready(fd)
            if self._exit_fd is None and not self._exited and child.has_exited():
                self._on_exit()

        self._close_stdin()
        code = self._reap()
        if self._kill_reason is not None:
            status, reason = _KILL_STATUS[self._kill_reason]
            return self._outcome(status, reason, None, self._kill_message(self._kill_reason))
        if code == 0:
            return self._outcome(ExecutionStatus.COMPLETED, None, 0, None)
        return self._outcome(
            ExecutionStatus.FAILED,
            FailureReason.EXIT_CODE,
            code,
            f"the command {describe_exit(code)}",
        )

    def _done(self, now: float) -> bool:
        """True once the main process exited and both pipes are drained (or abandoned)."""
        if not self._exited:
            return False
        if not self._streams:
            return True
        if now >= self._drain_until:
            self._child.signal_group(signal.SIGKILL)
            self._drain_until, self._abandon_at = math.inf, now + ABANDON_AFTER_S
        if now >= self._abandon_at:
            _log.warning(
                "execution %s: a process outside its group holds a pipe; stop reading", self._id
            )
            for fd, collector in list(self._streams.items()):
                self._publish(collector, collector.finish())
                self._poller.unregister(fd)
            self._streams.clear()
            return True
        return False

    def _tick(self, now: float) -> None:
        """Act on the deadlines that have passed: timeouts, kill escalation, progress."""
        if not self._exited:
            if self._kill_reason is None:
                if self._kill_request is not None:
                    self._terminate(self._kill_request, now)
                elif now >= self._timeout_at:
                    self._terminate("timeout", now)
                elif now >= self._last_output + self._idle_s:
                    self._terminate("idle", now)
            if now >= self._hard_kill_at:
                self._child.signal_group(signal.SIGKILL)
                self._hard_kill_at = math.inf
        if now >= self._next_progress:
            self._emit(
                self._id,
                Progress,
                {
                    "elapsed_ms": int((now - self._start) * 1000),
                    "stdout_bytes": self._out.bytes_read,
                    "stderr_bytes": self._err.bytes_read,
                },
            )
            self._next_progress = now + self._progress_s

    def _next_deadline(self, now: float) -> float:
        if self._exited:
            return min(self._drain_until, self._abandon_at, self._next_progress)
        deadline = min(self._hard_kill_at, self._next_progress)
        if self._kill_reason is None:
            deadline = min(deadline, self._timeout_at, self._last_output + self._idle_s)
        if self._exit_fd is None:
            deadline = min(deadline, now + EXIT_POLL_S)
        return deadline

    def _on_ready(self, fd: int) -> None:
        collector = self._streams.get(fd)
        if collector is not None:
            self._on_output(fd, collector)
        elif fd == self._wake_r:
            self._drain_wake()
        elif fd == self._exit_fd:
            self._poller.unregister(fd)
            self._on_exit()
        elif fd == self._stdin_fd and self._feed_stdin(fd):
            self._close_stdin()

    def _on_output(self, fd: int, collector: StreamCollector) -> None:
        size = self._read_sizes.get(fd, FIRST_READ_SIZE)
        try:
            data = os.read(fd, size)
        except OSError:
            data = b""
        if len(data) == size and size < READ_SIZE:
            self._read_sizes[fd] = size * 2
        if not data:
            self._publish(collector, collector.finish())
            self._poller.unregister(fd)
            del self._streams[fd]
            return
        self._last_output = time.monotonic()
        self._publish(collector, collector.feed(data))
        if collector.overflowed and self._fail_on_overflow and self._kill_reason is None:
            self._oversized = collector.name
            self._terminate("oversized", self._last_output)

    def _on_exit(self) -> None:
        self._exited = True
        self._drain_until = time.monotonic() + DRAIN_GRACE_S

    def _terminate(self, reason: str, now: float) -> None:
        """SIGTERM the group now; SIGKILL follows after ``kill_grace_ms``."""
        self._kill_reason = reason
        self._child.signal_group(signal.SIGTERM)
        self._hard_kill_at = min(self._hard_kill_at, now + self._grace_s)

    def _close_stdin(self) -> None:
        if self._stdin_fd is not None:
            with contextlib.suppress(KeyError):
                self._poller.unregister(self._stdin_fd)
            self._stdin_fd = None
        self._child.close_stdin()

    def _reap(self) -> int:
        child = self._child
        child.signal_group(signal.SIGKILL)
        with process_groups.lock:
            process_groups.discard(child.pid)
            return child.wait()

    def _feed_stdin(self, fd: int) -> bool:
        """Write what the pipe takes now; True when stdin is done (or the child closed it)."""
        assert self._stdin is not None
        try:
            written = os.write(fd, self._stdin)
        except BlockingIOError:
            return False
        except OSError:  # EPIPE: the child does not read its stdin; that is its right
            return True
        self._stdin = self._stdin[written:]
        return not self._stdin

    def _drain_wake(self) -> None:
        try:
            if self._wake_r == self._wake_w:
                os.eventfd_read(self._wake_r)
            else:
                os.read(self._wake_r, 512)
        except BlockingIOError:
            pass

    def _publish(self, collector: StreamCollector, lines: list[str]) -> None:
        if not lines:
            return
        if self._log is not None:
            self._log.write(collector.name, lines)
        self._emit(self._id, collector.event_type, {"lines": tuple(lines)})

    def _kill_message(self, reason: str) -> str:
        match reason:
            case "timeout":
                return f"timed out after timeout_ms={self._timeout_ms}; process group killed"
            case "idle":
                return f"no output for idle_timeout_ms={self._idle_ms}; process group killed"
            case "oversized":
                return (
                    f"{self._oversized} exceeded max_output_size_bytes="
                    f"{self._config.max_output_size_bytes} (strategy fail_execution); "
                    "process group killed"
                )
            case _:
                return cancel_message(reason)

    def _outcome(
        self,
        status: ExecutionStatus,
        reason: FailureReason | None,
        exit_code: int | None,
        error: str | None,
    ) -> Outcome:
        return Outcome(
            status=status,
            reason=reason,
            exit_code=exit_code,
            error=error,
            stdout=self._out.text(),
            stderr=self._err.text(),
            stdout_truncated=self._out.truncated,
            stderr_truncated=self._err.truncated,
            stdout_spill_path=self._out.spill_path,
            stderr_spill_path=self._err.spill_path,
            stdout_dropped_bytes=self._out.dropped_bytes,
            stderr_dropped_bytes=self._err.dropped_bytes,
            pid=self._child.pid,
            started_at=self._started_at,
            ended_at=datetime.now(UTC),
            log_path=self._log.path if self._log is not None else None,
        )

    @staticmethod
    def _summary(outcome: Outcome) -> str:
        if outcome.error:
            return f"ended {outcome.status.value}: {outcome.error}"
        return f"ended {outcome.status.value}: exit code {outcome.exit_code}"
