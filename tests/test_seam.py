"""The launcher seam seen from the engine: a backend that loses its node, or fails to close."""

from __future__ import annotations

import threading
from typing import Any

from actors import ChildSink, LaunchSpec, StreamName
from actors.testing import EventRecorder
from messages import Exec, ExecutionStatus, Failed, Started, Stdout
from tests.conftest import EngineFactory, request

RESULT_TIMEOUT = 20.0


class LostChild:
    """A remote child that says one line, then its node disappears."""

    def __init__(self, *, close_raises: bool = False) -> None:
        self.closed = threading.Event()
        self._step = 0
        self._close_raises = close_raises

    @property
    def pid(self) -> int:
        return 4242

    @property
    def node(self) -> str | None:
        return "node-7"

    def pump(self, sink: ChildSink, timeout: float | None) -> None:
        self._step += 1
        if self._step == 1:
            sink.on_output(StreamName.STDOUT, b"partial line\nno newline yet")
        else:
            sink.on_lost("connection reset")

    def wake(self) -> None:
        pass

    def signal_group(self, signum: int) -> None:
        pass

    def abandon(self) -> None:
        pass

    def close(self) -> None:
        self.closed.set()
        if self._close_raises:
            raise RuntimeError("cannot reach the node to clean up")


class LostLauncher:
    """Every child it starts is a ``LostChild``."""

    def __init__(self, **child: Any) -> None:
        self.children: list[LostChild] = []
        self.closed = False
        self._child = child

    def spawn(self, spec: LaunchSpec) -> LostChild:
        child = LostChild(**self._child)
        self.children.append(child)
        return child

    def close(self) -> None:
        self.closed = True


def test_a_lost_node_ends_the_execution_failed_node_lost_with_what_was_received(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(launcher=LostLauncher())
    with EventRecorder(engine) as recorder:
        execution_id = engine.execute(request(Exec(program="anything")))
        result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT)
        terminal = recorder.wait_terminal(execution_id, timeout=RESULT_TIMEOUT)
        events = recorder.of(execution_id)
    assert (result.status, result.exit_code, result.node) == (
        ExecutionStatus.FAILED,
        None,
        "node-7",
    )
    assert result.stdout == "partial line\nno newline yet"
    assert isinstance(terminal, Failed) and terminal.reason == "node_lost"
    assert "node-7" in terminal.message and "connection reset" in terminal.message
    started = [e for e in events if isinstance(e, Started)]
    assert [s.node for s in started] == ["node-7"]
    lines = [line for e in events if isinstance(e, Stdout) for line in e.lines]
    assert lines == ["partial line", "no newline yet"]


def test_a_backend_whose_close_raises_still_ends_the_execution(
    make_engine: EngineFactory,
) -> None:
    launcher = LostLauncher(close_raises=True)
    engine = make_engine(launcher=launcher)
    execution_id = engine.execute(request(Exec(program="anything")))
    result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT)
    assert result.status is ExecutionStatus.FAILED
    assert launcher.children[0].closed.is_set()


def test_shutdown_closes_the_engines_launcher(make_engine: EngineFactory) -> None:
    launcher = LostLauncher()
    engine = make_engine(launcher=launcher)
    engine.shutdown()
    assert launcher.closed
