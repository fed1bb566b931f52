"""RayLauncher on a local head: output, exit codes, cancel, spawn errors, lost workers."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest

from actors import ExecutionEngine
from actors.ray import RayLauncher
from actors.ray.testing import LocalRayHead
from actors.testing import EventRecorder
from messages import (
    Exec,
    ExecutionConfig,
    ExecutionRequest,
    ExecutionStatus,
    Failed,
    Started,
    Stdout,
)

RESULT_TIMEOUT_S = 60.0


def py(code: str) -> Exec:
    return Exec(program=sys.executable, args=("-c", code))


@pytest.fixture
def engine(ray_head: LocalRayHead, tmp_path: Path) -> Iterator[ExecutionEngine]:
    launcher = RayLauncher(ray_head.address, num_cpus=0.1)
    config = ExecutionConfig.testing(log_dir=tmp_path, max_concurrent_executions=4)
    with ExecutionEngine(config, launcher=launcher) as engine:
        yield engine


def test_an_execution_streams_its_lines_and_exit_code_back_from_the_node(
    engine: ExecutionEngine,
) -> None:
    with EventRecorder(engine) as recorder:
        execution_id = engine.execute(
            ExecutionRequest(command=py("print('a'); print('b'); import sys; sys.exit(3)"))
        )
        result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT_S)
        recorder.wait_terminal(execution_id, timeout=RESULT_TIMEOUT_S)
    assert (result.status, result.exit_code, result.stdout) == (ExecutionStatus.FAILED, 3, "a\nb")
    started = recorder.of(execution_id)[0]
    assert isinstance(started, Started)
    assert started.node


def test_stdin_and_env_reach_the_child_on_the_node(engine: ExecutionEngine) -> None:
    code = "import os, sys; print(sys.stdin.read().upper(), os.environ['X_RAY'])"
    execution_id = engine.execute(
        ExecutionRequest(command=py(code), stdin="hello", env={"X_RAY": "yes"})
    )
    result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT_S)
    assert result.stdout == "HELLO yes"


def test_a_missing_program_fails_as_a_spawn_error(engine: ExecutionEngine) -> None:
    execution_id = engine.execute(ExecutionRequest(command=Exec(program="/no/such/program")))
    result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT_S)
    assert result.status is ExecutionStatus.FAILED
    assert "No such file" in (result.error or "")


def test_cancel_kills_the_remote_process_group(engine: ExecutionEngine) -> None:
    with EventRecorder(engine) as recorder:
        code = (
            "import subprocess, time; subprocess.Popen(['sleep', '300']); "
            "print('up', flush=True); time.sleep(300)"
        )
        execution_id = engine.execute(ExecutionRequest(command=py(code)))
        recorder.wait_for("stdout", execution_id, timeout=RESULT_TIMEOUT_S)
        started = recorder.of(execution_id)[0]
        assert isinstance(started, Started)
        began = time.monotonic()
        assert engine.cancel(execution_id)
        result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT_S)
    assert result.status is ExecutionStatus.CANCELLED
    assert time.monotonic() - began < 15
    deadline = time.monotonic() + 10
    while group_alive(started.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not group_alive(started.pid)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_killed_ray_worker_ends_its_execution_node_lost_and_the_next_one_runs(
    engine: ExecutionEngine,
) -> None:
    with EventRecorder(engine) as recorder:
        code = "import os, time; print(os.getppid(), flush=True); time.sleep(300)"
        execution_id = engine.execute(ExecutionRequest(command=py(code)))
        recorder.wait_for("stdout", execution_id, timeout=RESULT_TIMEOUT_S)
        worker_pid = int(engine_stdout(recorder, execution_id))
        os.kill(worker_pid, signal.SIGKILL)
        result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT_S)
        event = recorder.wait_terminal(execution_id, timeout=RESULT_TIMEOUT_S)
    assert (result.status, result.exit_code) == (ExecutionStatus.FAILED, None)
    assert isinstance(event, Failed) and event.reason == "node_lost"
    nxt = engine.execute(ExecutionRequest(command=py("print('next')")))
    assert engine.get_result(nxt, timeout=RESULT_TIMEOUT_S).stdout == "next"


def engine_stdout(recorder: EventRecorder, execution_id: UUID) -> str:
    for event in recorder.of(execution_id):
        if isinstance(event, Stdout):
            return event.lines[0]
    raise AssertionError("no stdout")
