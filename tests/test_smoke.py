"""The shortest path through the engine: one command, one result."""

from __future__ import annotations

from actors import ExecutionEngine
from actors.testing import EventRecorder
from messages import ExecutionStatus, Shell
from tests.conftest import request


def test_echo_completes_with_its_output(engine: ExecutionEngine, recorder: EventRecorder) -> None:
    execution_id = engine.execute(request(Shell(command="echo hello")))
    result = engine.get_result(execution_id, timeout=10)
    assert result.status is ExecutionStatus.COMPLETED
    assert result.stdout == "hello"
    recorder.wait_terminal(execution_id)
    assert recorder.types(execution_id) == ["started", "stdout", "completed"]
