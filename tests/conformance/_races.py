"""Conformance: a cancel or a timeout that lands while the launcher is still starting the child."""

from __future__ import annotations

from messages import ExecutionRequest, ExecutionStatus

from ._support import (
    RESULT_TIMEOUT_S,
    EngineMaker,
    SuiteBase,
    py,
    running_with,
    sleep_marker,
)

__all__ = ["Races"]


class Races(SuiteBase):
    """However early a stop arrives, each execution ends once and leaves no process."""

    def test_cancel_right_after_execute_ends_each_execution_once_and_leaves_no_process(
        self, make_conformance_engine: EngineMaker
    ) -> None:
        conformance = make_conformance_engine(max_concurrent_executions=4)
        engine, recorder = conformance.engine, conformance.recorder
        marker = sleep_marker()
        command = py("import time, sys; time.sleep(float(sys.argv[1]))", marker)
        ids = [engine.execute(ExecutionRequest(command=command)) for _ in range(12)]
        for execution_id in ids:
            assert engine.cancel(execution_id) is True
        for execution_id in ids:
            result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT_S)
            assert result.status is ExecutionStatus.CANCELLED
            recorder.wait_terminal(execution_id, timeout=RESULT_TIMEOUT_S)
            events = recorder.of(execution_id)
            assert [e.terminal for e in events].count(True) == 1
            assert events[-1].type == "cancelled"
        assert running_with(marker) == []

    def test_a_timeout_shorter_than_a_spawn_still_ends_timed_out_and_kills_the_child(
        self, make_conformance_engine: EngineMaker
    ) -> None:
        conformance = make_conformance_engine()
        marker = sleep_marker()
        command = py("import time, sys; time.sleep(float(sys.argv[1]))", marker)
        result = conformance.run(command, timeout_ms=1)
        assert (result.status, result.exit_code) == (ExecutionStatus.TIMED_OUT, None)
        assert [e.terminal for e in conformance.events(result)].count(True) == 1
        assert running_with(marker) == []
