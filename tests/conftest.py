"""Shared fixtures: engines that are always shut down and checked for leaks.

They are built from the pieces of the project's pytest plugin
(``actors.pytest_plugin``, whose fixtures every test here can use too) and of
``actors.testing``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import actors.pytest_plugin
from actors import ExecutionEngine
from actors.testing import ENGINE_THREAD_PREFIX, EventRecorder, LeakCheck
from messages import Exec, ExecutionConfig, ExecutionRequest

pytest_plugins = ["tests.conftest_aws"]

__all__ = ["ENGINE_THREAD_PREFIX", "EngineFactory", "LeakCheck", "py", "request"]


def pytest_configure(config: pytest.Config) -> None:
    """Load the plugin here, not through its ``pytest11`` entry point.

    pyproject's addopts block the entry point (``-p no:cloudops_execution_engine``):
    loaded that early it would import ``actors`` before pytest-cov starts, and
    every module-level line would count as not covered.
    """
    # Registering the same module a second time, under another name, is an error.
    if not config.pluginmanager.is_registered(actors.pytest_plugin):
        config.pluginmanager.register(actors.pytest_plugin, "actors.pytest_plugin")


def py(code: str, *args: str) -> Exec:
    """A command running ``code`` in this Python interpreter (no shell involved)."""
    return Exec(program=sys.executable, args=("-c", code, *args))


def request(command: Any, **fields: Any) -> ExecutionRequest:
    """An ``ExecutionRequest`` for ``command``, with any other fields."""
    return ExecutionRequest(command=command, **fields)


EngineFactory = Callable[..., ExecutionEngine]


@pytest.fixture(autouse=True)
def _private_state_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep every test's default state (the CLI's history file, logs) out of the real home."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
        yield


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    """A fresh log folder for the test's engines."""
    return tmp_path / "logs"


@pytest.fixture
def make_engine(log_dir: Path) -> Iterator[EngineFactory]:
    """Build engines (testing preset, the test's log dir); all shut down and leak-checked.

    Keyword arguments ``event_handler``, ``clock`` and ``launcher`` go to the
    engine; any other keyword overrides a config field. A full ``config=``
    replaces the preset.
    """
    engines: list[ExecutionEngine] = []
    check = LeakCheck()

    def factory(config: ExecutionConfig | None = None, **kwargs: Any) -> ExecutionEngine:
        engine_kwargs = {
            k: kwargs.pop(k) for k in ("event_handler", "clock", "launcher") if k in kwargs
        }
        if config is None:
            config = ExecutionConfig.testing(**({"log_dir": log_dir} | kwargs))
        engine = ExecutionEngine(config, **engine_kwargs)
        engines.append(engine)
        return engine

    yield factory
    for engine in engines:
        engine.shutdown(timeout=15)
    check.assert_no_leaks("shutdown()")


@pytest.fixture
def engine(make_engine: EngineFactory) -> ExecutionEngine:
    """An engine with the testing preset and the test's log dir."""
    return make_engine()


@pytest.fixture
def recorder(engine: ExecutionEngine) -> Iterator[EventRecorder]:
    """Records the events of ``engine``; disconnected before the engine is shut down."""
    with EventRecorder(engine) as rec:
        yield rec
