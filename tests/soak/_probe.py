"""What the soak watches: every event, the process's peaks, and what is left afterwards."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from uuid import UUID

import psutil

from messages import ExecutionEvent, Failed, Started, Stderr, Stdout

ENGINE_THREAD_PREFIX = "execution-engine-"
NOT_DELIVERED = "lines not delivered: observers fell behind"


@dataclass(slots=True)
class Trace:
    """What the events of one execution said, kept small (floods send many events)."""

    events: int = 0
    next_seq: int = 1
    seq_errors: list[str] = field(default_factory=list)
    started: bool = False
    terminals: list[str] = field(default_factory=list)
    after_terminal: list[str] = field(default_factory=list)
    failed_reason: str | None = None
    stdout_lines: int = 0
    stderr_lines: int = 0
    lines_dropped: bool = False


class Tally:
    """A receiver of ``signals.event`` that keeps one ``Trace`` per execution.

    Connect it with ``weak=False``; ``wait_terminal``/``wait_started`` block on a
    condition instead of polling.
    """

    def __init__(self) -> None:
        self.traces: dict[UUID, Trace] = {}
        self.terminal_count = 0
        self._cond = threading.Condition()

    def __call__(self, _sender: object, *, event: ExecutionEvent) -> None:
        with self._cond:
            trace = self.traces.get(event.execution_id)
            if trace is None:
                trace = self.traces[event.execution_id] = Trace()
            trace.events += 1
            if event.seq != trace.next_seq:
                trace.seq_errors.append(f"{event.type} seq {event.seq}, expected {trace.next_seq}")
            trace.next_seq = event.seq + 1
            if trace.terminals:
                trace.after_terminal.append(event.type)
            if isinstance(event, Stdout | Stderr):
                if event.lines and NOT_DELIVERED in event.lines[-1]:
                    trace.lines_dropped = True
                if isinstance(event, Stdout):
                    trace.stdout_lines += len(event.lines)
                    self._cond.notify_all()
                else:
                    trace.stderr_lines += len(event.lines)
            elif isinstance(event, Started):
                trace.started = True
                self._cond.notify_all()
            elif event.terminal:
                trace.terminals.append(event.type)
                if isinstance(event, Failed):
                    trace.failed_reason = event.reason
                self.terminal_count += 1
                self._cond.notify_all()

    def wait_started(self, execution_id: UUID, timeout: float) -> bool:
        """Block until the execution's ``Started`` event arrived; False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: (t := self.traces.get(execution_id)) is not None and t.started, timeout
            )

    def wait_output(self, execution_id: UUID, timeout: float) -> bool:
        """Block until the execution's first stdout line arrived; False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: (t := self.traces.get(execution_id)) is not None and t.stdout_lines > 0,
                timeout,
            )

    def wait_terminals(self, ids: set[UUID], timeout: float) -> set[UUID]:
        """Block until every id in ``ids`` had a terminal event; returns those still missing."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                missing = {i for i in ids if not (t := self.traces.get(i)) or not t.terminals}
                left = deadline - time.monotonic()
                if not missing or left <= 0:
                    return missing
                self._cond.wait(left)


def open_fds() -> dict[str, str]:
    """This process's open file descriptors and what they point to."""
    fds = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            fds[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
    return fds


@dataclass(slots=True)
class Peaks:
    rss_bytes: int = 0
    threads: int = 0
    fds: int = 0
    children: int = 0
    samples: int = 0


class Sampler:
    """A background thread sampling RSS, OS threads, fds and child processes."""

    def __init__(self, interval: float = 0.1) -> None:
        self.peaks = Peaks()
        self._interval = interval
        self._stop = threading.Event()
        self._process = psutil.Process()
        self._thread = threading.Thread(target=self._run, name="soak-sampler", daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def sample(self) -> None:
        """Take one sample now."""
        peaks, process = self.peaks, self._process
        with process.oneshot():
            peaks.rss_bytes = max(peaks.rss_bytes, process.memory_info().rss)
            peaks.threads = max(peaks.threads, process.num_threads())
        peaks.fds = max(peaks.fds, len(os.listdir("/proc/self/fd")))
        peaks.children = max(peaks.children, len(process.children()))
        peaks.samples += 1

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.sample()
            except (psutil.Error, OSError):
                continue


class LeakCheck:
    """Threads, fds and child processes before the engine, to compare after ``shutdown()``."""

    def __init__(self, marker: str) -> None:
        self.marker = marker
        self.fds = open_fds()
        self.children = {p.pid for p in psutil.Process().children(recursive=True)}

    def leaks(self) -> list[str]:
        """Engine threads, fds, children or zombies of ours, and live marked processes."""
        found = [
            f"thread {t.name}"
            for t in threading.enumerate()
            if t.name.startswith(ENGINE_THREAD_PREFIX) and t.is_alive()
        ]
        found += [
            f"fd {fd} -> {target}"
            for fd, target in open_fds().items()
            if fd not in self.fds and not target.startswith("/proc/")
        ]
        for child in psutil.Process().children(recursive=True):
            if child.pid not in self.children:
                try:
                    found.append(f"child {child.pid} {child.status()} {child.cmdline()}")
                except psutil.Error:
                    continue
        # Killed grandchildren are re-parented (to init here, which may not reap
        # them): only a live process still carrying the run's marker is a leak.
        for proc in psutil.process_iter(["cmdline", "status"]):
            cmdline = " ".join(proc.info["cmdline"] or [])
            if self.marker in cmdline and proc.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(f"process {proc.pid} {proc.info['status']} {cmdline}")
        return found

    def wait_clean(self, timeout: float) -> list[str]:
        """``leaks()`` once it is empty, or what is still there after ``timeout``.

        SIGKILL is asynchronous and re-parented grandchildren are not ours to
        wait for, so their disappearance is polled against a deadline.
        """
        deadline = time.monotonic() + timeout
        tick = threading.Event()
        while (found := self.leaks()) and time.monotonic() < deadline:
            tick.wait(0.05)
        return found


class LogTally(logging.Handler):
    """Counts the records of one logger tree and keeps the text of its errors.

    While active the tree does not propagate: pytest would otherwise keep every
    record, with its traceback and the frames it holds, for the report, and
    the peak RSS would measure that instead of the engine.
    """

    def __init__(self, logger: str, keep: int = 50) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[tuple[str, str]] = Counter()
        self.errors: list[tuple[str, str]] = []
        self._logger = logging.getLogger(logger)
        self._keep = keep
        self._propagate = self._logger.propagate

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[record.name, record.levelname] += 1
        if record.levelno >= logging.ERROR and len(self.errors) < self._keep:
            cause = f" ({record.exc_info[1]!r})" if record.exc_info else ""
            self.errors.append((record.name, record.getMessage()[:300] + cause))

    def errors_besides(self, logger: str) -> list[str]:
        """The kept error texts of every logger except ``logger``."""
        return [f"{name}: {text}" for name, text in self.errors if name != logger]

    def __enter__(self) -> LogTally:
        self._logger.addHandler(self)
        self._logger.propagate = False
        return self

    def __exit__(self, *_exc: object) -> None:
        self._logger.removeHandler(self)
        self._logger.propagate = self._propagate
