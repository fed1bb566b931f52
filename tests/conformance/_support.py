"""The suite's fixtures and helpers: engines built on the launcher under test, process checks.

A backend's test module supplies one fixture, ``launcher_factory``: a callable
that returns a new launcher. Every engine of the suite gets a launcher of its
own, is shut down after the test, its launcher closed (if it has ``close``),
and then nothing may be left: no engine thread, fd or process (``LeakCheck``),
and every slot of the engine must have come back before shutdown.
"""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from actors import ExecutionEngine
from actors.testing import EventRecorder, LeakCheck
from messages import (
    EngineStopped,
    Exec,
    ExecutionConfig,
    ExecutionEvent,
    ExecutionRequest,
    ExecutionResult,
    Stderr,
    Stdout,
)
from tests._processes import running_with
from tests._processes import wait_gone as wait_for_exit

__all__ = [
    "GONE_TIMEOUT_S",
    "IGNORES_SIGTERM",
    "QUICK_END_S",
    "RESULT_TIMEOUT_S",
    "ConformanceEngine",
    "EngineMaker",
    "LauncherFactory",
    "SuiteBase",
    "assert_all_gone",
    "code",
    "pids_in",
    "py",
    "running_with",
    "sleep_marker",
    "streamed",
    "wait_gone",
]

# Generous bounds: the targets are about a second; the machine has 2 noisy cores,
# and a remote backend adds a hop.
RESULT_TIMEOUT_S = 30.0
QUICK_END_S = 8.0
GONE_TIMEOUT_S = 5.0

LauncherFactory = Callable[[], Any]
"""Makes a new launcher of the backend under test (typed loosely: the seam is moving)."""


class ConformanceEngine:
    """An engine on the launcher under test, with a recorder of its events.

    Args:
        engine: the engine.
        recorder: records every event of ``engine`` from its construction on.
        launcher: the launcher under test that ``engine`` uses.
    """

    def __init__(self, engine: ExecutionEngine, recorder: EventRecorder, launcher: Any) -> None:
        self.engine = engine
        self.recorder = recorder
        self.launcher = launcher
        """The engine's launcher (a test may reach its hooks, e.g. ``kill_node``)."""

    def run(self, command: Any, **fields: Any) -> ExecutionResult:
        """Execute ``command`` (with any other request fields); wait for its terminal event."""
        execution_id = self.engine.execute(ExecutionRequest(command=command, **fields))
        result = self.engine.get_result(execution_id, timeout=RESULT_TIMEOUT_S)
        self.recorder.wait_terminal(execution_id, timeout=RESULT_TIMEOUT_S)
        return result

    def events(self, result: ExecutionResult) -> list[ExecutionEvent]:
        """The events of ``result``'s execution, in delivery order."""
        return self.recorder.of(result.execution_id)


EngineMaker = Callable[..., ConformanceEngine]


def _slots_back(engine: ExecutionEngine) -> str | None:
    """None when nothing runs or waits and every slot is free; else what is wrong.

    The supervisor frees an execution's slot before it completes the result's
    waiters, so once every result was awaited this holds at once, with no wait.
    """
    try:
        metrics = engine.get_concurrency_metrics()
    except EngineStopped:  # the test shut it down itself
        return None
    if (
        metrics.currently_running == 0
        and metrics.currently_pending == 0
        and metrics.available_slots == metrics.max_concurrent
        and metrics.total_finished == metrics.total_submitted
    ):
        return None
    return f"slots not back after the test: {metrics}"


class SuiteBase:
    """Fixtures shared by every part of the suite; a backend supplies ``launcher_factory``."""

    @pytest.fixture
    def make_conformance_engine(
        self, launcher_factory: LauncherFactory, tmp_path: Path
    ) -> Iterator[EngineMaker]:
        """Build engines (testing preset) on new launchers; all checked and shut down."""
        check = LeakCheck()
        made: list[tuple[ConformanceEngine, Any]] = []

        def make(**overrides: Any) -> ConformanceEngine:
            config = ExecutionConfig.testing(**({"log_dir": tmp_path / "logs"} | overrides))
            launcher = launcher_factory()
            try:
                engine = ExecutionEngine(config, launcher=launcher)
            except BaseException:
                _close(launcher)
                raise
            conformance = ConformanceEngine(engine, EventRecorder(engine), launcher)
            made.append((conformance, launcher))
            return conformance

        yield make
        problems = []
        for conformance, launcher in made:
            if (problem := _slots_back(conformance.engine)) is not None:
                problems.append(problem)
            conformance.recorder.close()
            conformance.engine.shutdown(timeout=15)
            _close(launcher)
        check.assert_no_leaks("shutdown() and the launcher's close()")
        assert problems == []

    @pytest.fixture
    def conformance(self, make_conformance_engine: EngineMaker) -> ConformanceEngine:
        """An engine with the testing preset on the launcher under test."""
        return make_conformance_engine()


def _close(launcher: Any) -> None:
    close = getattr(launcher, "close", None)
    if close is not None:
        close()


def py(source: str, *args: str) -> Exec:
    """A command running ``source`` (dedented) in this Python interpreter, no shell involved."""
    return Exec(program=sys.executable, args=("-c", code(source), *args))


def code(text: str) -> str:
    """Dedent an indented child program."""
    return textwrap.dedent(text).strip()


def streamed(events: Iterable[ExecutionEvent], kind: type[Stdout | Stderr]) -> list[str]:
    """Every line the events of ``kind`` delivered, in order."""
    return [line for event in events if isinstance(event, kind) for line in event.lines]


def sleep_marker() -> str:
    """A unique ``sleep`` duration, so its processes can be found by their command line."""
    return f"300.{uuid.uuid4().int % 10**9:09d}"


def pids_in(text: str) -> list[int]:
    """The pids a child printed, one per line."""
    return [int(line) for line in text.split("\n") if line.strip()]


def wait_gone(pids: Iterable[int], timeout: float = GONE_TIMEOUT_S) -> list[int]:
    """Wait until every pid has exited (a zombie counts); return those still running."""
    return wait_for_exit(pids, timeout)


def assert_all_gone(pids: list[int], marker: str) -> None:
    """Each pid has exited and no live process carries ``marker`` any more."""
    assert pids, "no pid to check: the test checked nothing"
    assert wait_gone(pids) == []
    assert running_with(marker) == []


IGNORES_SIGTERM = py(
    """
    import signal, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("ignoring SIGTERM", flush=True)
    time.sleep(300)
    """
)
"""A child that says so, then ignores SIGTERM: only the SIGKILL after the grace ends it."""
