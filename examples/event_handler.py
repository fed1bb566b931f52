"""Watch an engine two ways: an ``EventHandler`` object and blinker receivers.

The handler (any object with ``on_event(event)``) is passed to the engine and
gets every event. The receivers connect to the typed signals of
``actors.signals`` (``started``, ``stdout``, ``stderr``, ``failed``, ...) and to
``signals.event``, with ``sender=engine`` so they hear this engine only. All of
them run on the engine's event-dispatch thread, in order per execution.

blinker holds receivers weakly: a module-level function or a bound method of an
object you keep is fine; a lambda or a closure needs ``weak=False`` (or it is
dropped at once, silently).

Run it from the repository root: ``python examples/event_handler.py``.
"""

from __future__ import annotations

import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from blinker import Signal

from actors import ExecutionEngine, signals
from messages import (
    Cancelled,
    Completed,
    Exec,
    ExecutionConfig,
    ExecutionEvent,
    ExecutionRequest,
    Failed,
    Shell,
    Started,
    Stderr,
    Stdout,
)


def tag(event: ExecutionEvent) -> str:
    """A short tag of the event's execution."""
    return str(event.execution_id)[:8]


class CountingHandler:
    """An ``EventHandler``: counts every event and lets the app wait for the last ones."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._ended = threading.Condition()
        self._terminal = 0

    def on_event(self, event: ExecutionEvent) -> None:
        """Runs on the engine's event-dispatch thread; keep it quick."""
        print(f"handler    [{tag(event)}] #{event.seq} {event.type}", flush=True)
        with self._ended:
            self.counts[event.type] += 1
            if event.terminal:
                self._terminal += 1
                self._ended.notify_all()

    def wait_terminal(self, count: int, timeout: float) -> bool:
        """Block until ``count`` executions have sent their terminal event."""
        with self._ended:
            return self._ended.wait_for(lambda: self._terminal >= count, timeout)


def on_started(engine: ExecutionEngine, *, event: Started) -> None:
    """Receiver of ``signals.started``."""
    print(f"started    [{tag(event)}] pid={event.pid} {event.command}", flush=True)


def on_stdout(engine: ExecutionEngine, *, event: Stdout) -> None:
    """Receiver of ``signals.stdout``: one event carries the lines one read completed."""
    for line in event.lines:
        print(f"stdout     [{tag(event)}] {line}", flush=True)


def on_stderr(engine: ExecutionEngine, *, event: Stderr) -> None:
    """Receiver of ``signals.stderr``."""
    for line in event.lines:
        print(f"stderr     [{tag(event)}] {line}", flush=True)


def on_completed(engine: ExecutionEngine, *, event: Completed) -> None:
    """Receiver of ``signals.completed`` (exit code 0)."""
    print(f"completed  [{tag(event)}] in {event.duration_ms} ms", flush=True)


def on_failed(engine: ExecutionEngine, *, event: Failed) -> None:
    """Receiver of ``signals.failed``: a non-zero exit, a timeout, a spawn error..."""
    print(f"failed     [{tag(event)}] reason={event.reason}: {event.message}", flush=True)


def on_cancelled(engine: ExecutionEngine, *, event: Cancelled) -> None:
    """Receiver of ``signals.cancelled``."""
    print(f"cancelled  [{tag(event)}] after {event.duration_ms} ms", flush=True)


def main() -> int:
    """Run four commands and print what the handler and the receivers get."""
    config = ExecutionConfig.development(
        log_dir=Path(tempfile.gettempdir()) / "engine-example", progress_interval_ms=0
    )
    handler = CountingHandler()
    with ExecutionEngine(config, event_handler=handler) as engine:
        receivers: list[tuple[Signal, Callable[..., None]]] = [
            (signals.started, on_started),
            (signals.stdout, on_stdout),
            (signals.stderr, on_stderr),
            (signals.completed, on_completed),
            (signals.failed, on_failed),
            (signals.cancelled, on_cancelled),
        ]
        for signal, receiver in receivers:
            signal.connect(receiver, sender=engine)

        # A closure would vanish at once with blinker's default weak reference.
        lines_seen = Counter[str]()

        def count_lines(sender: ExecutionEngine, *, event: ExecutionEvent) -> None:
            if isinstance(event, Stdout | Stderr):
                lines_seen[event.type] += len(event.lines)

        signals.event.connect(count_lines, sender=engine, weak=False)

        ids = [
            engine.execute(
                ExecutionRequest(
                    command=Shell(command="echo hello; echo oops >&2; echo world"),
                    labels={"demo": "both streams"},
                )
            ),
            engine.execute(ExecutionRequest(command=Exec(program="uname", args=("-s",)))),
            engine.execute(ExecutionRequest(command=Shell(command="echo giving up; exit 3"))),
            engine.execute(ExecutionRequest(command=Shell(command="sleep 30"))),
        ]
        engine.cancel(ids[-1])
        for execution_id in ids:
            engine.get_result(execution_id, timeout=30)
        # get_result can return before the last events reach the observers:
        # they run on the dispatch thread, the result is ready a moment earlier.
        if not handler.wait_terminal(len(ids), timeout=10):
            print("not every terminal event arrived", file=sys.stderr)
            return 1

        for signal, receiver in receivers:
            signal.disconnect(receiver, sender=engine)
        signals.event.disconnect(count_lines, sender=engine)

    print()
    print("handler counted:", ", ".join(f"{k}={v}" for k, v in sorted(handler.counts.items())))
    print("closure counted:", ", ".join(f"{k}={v}" for k, v in sorted(lines_seen.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
