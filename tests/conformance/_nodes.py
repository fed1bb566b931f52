"""Conformance: where a child runs, and what happens when its node is lost.

A launcher whose children run elsewhere says so with a ``node`` attribute (the
name ``Started.node`` must carry; absent or None for local children). One that
can lose its node on purpose, for this suite, offers ``kill_node()``.
"""

from __future__ import annotations

from uuid import UUID

import pytest

from messages import ExecutionRequest, ExecutionStatus, Failed, Started

from ._support import RESULT_TIMEOUT_S, ConformanceEngine, SuiteBase, py

__all__ = ["Nodes"]


class Nodes(SuiteBase):
    """``Started.node`` names the node; a lost node fails the execution, the engine serves on."""

    def test_started_names_the_node_the_launcher_runs_children_on(
        self, conformance: ConformanceEngine
    ) -> None:
        result = conformance.run(py("pass"))
        started = conformance.events(result)[0]
        assert isinstance(started, Started)
        assert started.node == getattr(conformance.launcher, "node", None)

    def test_a_lost_node_fails_its_running_execution_with_reason_node_lost(
        self, conformance: ConformanceEngine
    ) -> None:
        engine, recorder = conformance.engine, conformance.recorder
        execution_id = lose_the_node_under_a_running_execution(conformance)
        result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT_S)
        assert (result.status, result.exit_code) == (ExecutionStatus.FAILED, None)
        event = recorder.wait_terminal(execution_id, timeout=RESULT_TIMEOUT_S)
        assert isinstance(event, Failed)
        assert (event.reason, event.exit_code) == ("node_lost", None)

    def test_after_a_lost_node_the_engine_serves_on_and_the_next_execution_runs(
        self, conformance: ConformanceEngine
    ) -> None:
        engine = conformance.engine
        lost = lose_the_node_under_a_running_execution(conformance)
        assert engine.get_result(lost, timeout=RESULT_TIMEOUT_S).status is ExecutionStatus.FAILED
        result = conformance.run(py("print('next')"))
        assert (result.status, result.stdout) == (ExecutionStatus.COMPLETED, "next")


def lose_the_node_under_a_running_execution(conformance: ConformanceEngine) -> UUID:
    """Start a child that says 'up' and sleeps, then kill its node; skip without ``kill_node``."""
    kill_node = getattr(conformance.launcher, "kill_node", None)
    if kill_node is None:
        pytest.skip("this launcher cannot lose its node on purpose (no kill_node)")
    command = py("import time; print('up', flush=True); time.sleep(300)")
    execution_id = conformance.engine.execute(ExecutionRequest(command=command))
    conformance.recorder.wait_for("stdout", execution_id, timeout=RESULT_TIMEOUT_S)
    kill_node()
    return execution_id
