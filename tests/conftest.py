"""Shared fixtures: engines that are always shut down and checked for leaks."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from actors import ExecutionEngine
from actors.testing import EventRecorder
from messages import Exec, ExecutionConfig, ExecutionRequest

pytest_plugins = ["tests.conftest_aws"]

ENGINE_THREAD_PREFIX = "execution-engine-"


def py(code: str, *args: str) -> Exec:
    """A command running ``code`` in this Python interpreter (no shell involved)."""
    return Exec(program=sys.executable, args=("-c", code, *args))


def request(command: Any, **fields: Any) -> ExecutionRequest:
    """An ``ExecutionRequest`` for ``command``, with any other fields."""
    return ExecutionRequest(command=command, **fields)


def _open_fds() -> dict[str, str]:
    fds = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            fds[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
    return fds


class LeakSnapshot:
    """Threads, fds and child processes before a test, to compare after shutdown."""

    def __init__(self) -> None:
        self.fds = _open_fds()
        self.children = {p.pid for p in psutil.Process().children(recursive=True)}

    def leaks(self) -> list[str]:
        """What exists now that did not before: engine threads, fds, children."""
        found = [
            f"thread {t.name}"
            for t in threading.enumerate()
            if t.name.startswith(ENGINE_THREAD_PREFIX) and t.is_alive()
        ]
        for fd, target in _open_fds().items():
            if fd not in self.fds and not target.startswith("/proc/"):
                found.append(f"fd {fd} -> {target}")
        for child in psutil.Process().children(recursive=True):
            if child.pid not in self.children:
                try:
                    found.append(f"process {child.pid} {child.status()} {child.cmdline()}")
                except psutil.Error:
                    continue
        return found


EngineFactory = Callable[..., ExecutionEngine]


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
    snapshot = LeakSnapshot()

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
    leaks = snapshot.leaks()
    assert not leaks, f"left behind after shutdown(): {leaks}"


@pytest.fixture
def engine(make_engine: EngineFactory) -> ExecutionEngine:
    """An engine with the testing preset and the test's log dir."""
    return make_engine()


@pytest.fixture
def recorder(engine: ExecutionEngine) -> Iterator[EventRecorder]:
    """Records the events of ``engine``; disconnected before the engine is shut down."""
    with EventRecorder(engine) as rec:
        yield rec
