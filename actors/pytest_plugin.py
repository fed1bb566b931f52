"""pytest fixtures for code that uses the execution engine.

Installing ``cloudops-execution-engine`` registers this module through the
``pytest11`` entry point (``cloudops_execution_engine``); without the package
installed, load it with ``pytest -p actors.pytest_plugin``. Fixtures:

- ``execution_engine``: an ``ExecutionEngine`` (the testing preset, a log dir
  under ``tmp_path``, no janitor, the ``engine_clock``), shut down at teardown,
  then checked for leaks: an engine thread, an fd or a child process left over
  fails the test.
- ``event_recorder``: an ``actors.testing.EventRecorder`` on that engine.
- ``engine_clock``: the ``ManualClock`` the engine evicts by. Age executions
  with ``engine_clock.advance(seconds)``, then evict with
  ``execution_engine.cleanup_old_executions()``.
- ``execution_engine_config``: the engine's config; override this fixture in a
  ``conftest.py`` to change limits for a folder of tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from messages import ExecutionConfig

from ._engine import ExecutionEngine
from .testing import EventRecorder, LeakCheck, ManualClock

__all__ = [
    "engine_clock",
    "event_recorder",
    "execution_engine",
    "execution_engine_config",
]

# Longer than the testing preset's kill grace: a shutdown that needs more is a bug.
_SHUTDOWN_TIMEOUT_S = 15.0


@pytest.fixture
def engine_clock() -> ManualClock:
    """The eviction clock of ``execution_engine``; it starts at 0 and moves only when told."""
    return ManualClock()


@pytest.fixture
def execution_engine_config(tmp_path: Path) -> ExecutionConfig:
    """``ExecutionConfig.testing()`` with logs under ``tmp_path`` and no janitor.

    Without the janitor nothing is evicted behind the test's back: eviction
    happens when the test calls ``cleanup_old_executions()``.
    """
    return ExecutionConfig.testing(
        log_dir=tmp_path / "execution-engine-logs", enable_auto_cleanup=False
    )


@pytest.fixture
def execution_engine(
    execution_engine_config: ExecutionConfig, engine_clock: ManualClock
) -> Iterator[ExecutionEngine]:
    """An engine for one test; shut down and leak-checked at teardown."""
    check = LeakCheck()
    engine = ExecutionEngine(execution_engine_config, clock=engine_clock)
    try:
        yield engine
    finally:
        engine.shutdown(timeout=_SHUTDOWN_TIMEOUT_S)
    leaks = check.leaks()
    if leaks:
        pytest.fail(
            f"execution_engine left behind after shutdown(): {'; '.join(leaks)}", pytrace=False
        )


@pytest.fixture
def event_recorder(execution_engine: ExecutionEngine) -> Iterator[EventRecorder]:
    """Records every event of ``execution_engine``; disconnected before it shuts down."""
    with EventRecorder(execution_engine) as recorder:
        yield recorder
