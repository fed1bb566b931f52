"""The facade: shutdown, the context manager, many callers, and apps that forget shutdown()."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from uuid import UUID, uuid4

import psutil
import pytest

from actors import ExecutionEngine
from actors.testing import EventRecorder
from messages import EngineStopped, Exec, ExecutionResult, ExecutionStatus, Started, Stdout
from tests.conftest import ENGINE_THREAD_PREFIX, EngineFactory, py, request

REPO_ROOT = Path(__file__).parents[1]
RESULT_TIMEOUT = 20.0

TRUE = Exec(program="true")

# Starts a grandchild in the same process group, says its pid, then waits for ever.
PARENT_OF_SLEEPER = py(
    "import subprocess, time\n"
    "grandchild = subprocess.Popen(['sleep', '300.4569'])\n"
    "print(grandchild.pid, flush=True)\n"
    "time.sleep(300)\n"
)


def is_alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie counts as dead."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def wait_until_dead(pids: list[int], timeout: float = 10.0) -> list[int]:
    """Wait for ``pids`` to die (SIGKILL is asynchronous); returns those still alive."""
    # Not our children, so nothing to block on: poll their state with a deadline.
    deadline = time.monotonic() + timeout
    tick = threading.Event()
    while (alive := [p for p in pids if is_alive(p)]) and time.monotonic() < deadline:
        tick.wait(0.02)
    return alive


def processes_with_args(*args: str) -> list[psutil.Process]:
    """Live processes whose command line ends with ``args``."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if tuple(cmdline[-len(args) :]) == args and is_alive(proc.pid):
            found.append(proc)
    return found


def wait_until_blocked_in_future_result(thread: threading.Thread, timeout: float = 10.0) -> None:
    """Wait until ``thread`` waits inside a result future's or slot's ``result``.

    A ``get_result`` caller is past the facade's stopped check only once it
    waits on the result's future; no public event marks that moment.
    """
    deadline = time.monotonic() + timeout
    tick = threading.Event()
    while time.monotonic() < deadline:
        frame = sys._current_frames().get(thread.ident or -1)
        while frame is not None:
            code = frame.f_code
            if code.co_name == "result" and code.co_filename.endswith(
                (
                    os.path.join("concurrent", "futures", "_base.py"),
                    os.path.join("actors", "_slot.py"),
                )
            ):
                return
            frame = frame.f_back
        tick.wait(0.005)
    raise TimeoutError(f"{thread.name} did not reach Future.result within {timeout}s")


WAIT_FILES = (os.path.join("concurrent", "futures", "_base.py"), os.path.join("actors", "_slot.py"))


def wait_for_result(
    engine: ExecutionEngine, execution_id: UUID, into: Future[ExecutionResult]
) -> None:
    """Thread body: ``get_result`` of ``execution_id``, its outcome put ``into`` a future."""
    try:
        into.set_result(engine.get_result(execution_id, timeout=30))
    except BaseException as exc:
        into.set_exception(exc)


# -- shutdown ------------------------------------------------------------------------------------


def test_shutdown_cancels_pending_and_running_executions_and_kills_their_processes(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(max_concurrent_executions=1)
    with EventRecorder(engine) as recorder:
        running = engine.execute(request(PARENT_OF_SLEEPER))
        pending = engine.execute(request(TRUE))
        started = recorder.wait_for("started", running)
        stdout = recorder.wait_for("stdout", running)
        assert isinstance(started, Started) and isinstance(stdout, Stdout)
        child_pid, grandchild_pid = started.pid, int(stdout.lines[0])
        assert is_alive(child_pid) and is_alive(grandchild_pid)

        results: dict[UUID, Future[ExecutionResult]] = {}
        waiters = []
        for execution_id in (running, pending):
            results[execution_id] = Future()
            waiters.append(
                threading.Thread(
                    target=wait_for_result, args=(engine, execution_id, results[execution_id])
                )
            )
        for waiter in waiters:
            waiter.start()
        for waiter in waiters:
            wait_until_blocked_in_future_result(waiter)
        engine.shutdown()
        for waiter in waiters:
            waiter.join(timeout=RESULT_TIMEOUT)
        recorder.wait_terminal(running)
        recorder.wait_terminal(pending)
    for execution_id in (running, pending):
        result = results[execution_id].result(timeout=0)
        assert result.status is ExecutionStatus.CANCELLED
        assert result.error is not None and "shutdown" in result.error
    assert results[pending].result().started_at is None
    assert recorder.types(pending) == ["cancelled"]
    assert wait_until_dead([child_pid, grandchild_pid]) == []


def test_shutdown_leaves_no_engine_thread(engine: ExecutionEngine) -> None:
    execution_id = engine.execute(request(Exec(program="sleep", args=("30",))))
    assert engine.get_status(execution_id) is ExecutionStatus.RUNNING
    engine.shutdown()
    alive = [t.name for t in threading.enumerate() if t.name.startswith(ENGINE_THREAD_PREFIX)]
    assert alive == []


def test_shutdown_is_idempotent(engine: ExecutionEngine) -> None:
    engine.execute(request(Exec(program="sleep", args=("30",))))
    engine.shutdown()
    engine.shutdown()
    with pytest.raises(EngineStopped):
        engine.get_concurrency_metrics()


METHODS: dict[str, Callable[[ExecutionEngine, UUID], object]] = {
    "execute": lambda engine, _i: engine.execute(request(TRUE)),
    "get_status": lambda engine, i: engine.get_status(i),
    "get_result": lambda engine, i: engine.get_result(i, timeout=1),
    "cancel": lambda engine, i: engine.cancel(i),
    "list_executions": lambda engine, _i: engine.list_executions(),
    "read_logs": lambda engine, i: engine.read_logs(i),
    "get_concurrency_metrics": lambda engine, _i: engine.get_concurrency_metrics(),
    "cleanup_old_executions": lambda engine, _i: engine.cleanup_old_executions(),
}


@pytest.mark.parametrize("method", METHODS.values(), ids=METHODS.keys())
def test_every_method_raises_engine_stopped_after_shutdown(
    engine: ExecutionEngine, method: Callable[[ExecutionEngine, UUID], object]
) -> None:
    execution_id = engine.execute(request(TRUE))
    engine.get_result(execution_id, timeout=RESULT_TIMEOUT)
    engine.shutdown()
    with pytest.raises(EngineStopped, match="shut down"):
        method(engine, execution_id)


def test_the_context_manager_shuts_the_engine_down_on_exit(make_engine: EngineFactory) -> None:
    with make_engine() as engine:
        execution_id = engine.execute(request(Exec(program="sleep", args=("30",))))
        assert engine.get_status(execution_id) is ExecutionStatus.RUNNING
    alive = [t.name for t in threading.enumerate() if t.name.startswith(ENGINE_THREAD_PREFIX)]
    assert alive == []
    with pytest.raises(EngineStopped):
        engine.get_status(execution_id)


def test_an_engine_used_by_many_threads_at_once_loses_nothing(make_engine: EngineFactory) -> None:
    engine = make_engine(max_concurrent_executions=8)
    barrier = threading.Barrier(8)

    def submit_and_wait() -> list[ExecutionResult]:
        barrier.wait(timeout=10)
        ids = [engine.execute(request(TRUE)) for _ in range(25)]
        return [engine.get_result(i, timeout=60) for i in ids]

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(submit_and_wait) for _ in range(8)]
        results = [r for f in futures for r in f.result(timeout=120)]
    assert len({r.execution_id for r in results}) == 200
    assert all(r.status is ExecutionStatus.COMPLETED for r in results)
    metrics = engine.get_concurrency_metrics()
    assert (metrics.total_submitted, metrics.total_finished) == (200, 200)
    assert len(engine.list_executions()) == 200


# -- an app that never calls shutdown() ----------------------------------------------------------

FORGETFUL_APP = """
import sys
from pathlib import Path

from actors import ExecutionEngine
from actors.testing import EventRecorder
from messages import Exec, ExecutionConfig, ExecutionRequest

log_dir, marker, ending = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
engine = ExecutionEngine(ExecutionConfig.testing(log_dir=log_dir))
with EventRecorder(engine) as recorder:
    execution_id = engine.execute(
        ExecutionRequest(command=Exec(program="sleep", args=(marker,)))
    )
    started = recorder.wait_for("started", execution_id, timeout=20)
print(started.pid, flush=True)
if ending == "interrupt":
    raise KeyboardInterrupt
"""


def run_forgetful_app(tmp_path: Path, marker: str, ending: str) -> tuple[int, int, float]:
    """Run the app as a real process; returns its exit code, the sleep's pid and the wall time."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", FORGETFUL_APP, str(tmp_path / "logs"), marker, ending],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    elapsed = time.monotonic() - began
    assert done.stdout.strip().isdigit(), done.stderr
    return done.returncode, int(done.stdout), elapsed


def test_an_app_that_forgets_shutdown_exits_and_leaves_no_child(tmp_path: Path) -> None:
    marker = "300.4567"
    code, sleep_pid, elapsed = run_forgetful_app(tmp_path, marker, "return")
    assert code == 0
    assert elapsed < 10
    assert wait_until_dead([sleep_pid]) == []
    assert processes_with_args("sleep", marker) == []


def test_an_app_interrupted_by_keyboard_interrupt_exits_and_leaves_no_child(
    tmp_path: Path,
) -> None:
    marker = "300.4568"
    code, sleep_pid, elapsed = run_forgetful_app(tmp_path, marker, "interrupt")
    assert code != 0
    assert elapsed < 10
    assert wait_until_dead([sleep_pid]) == []
    assert processes_with_args("sleep", marker) == []


def test_process_helpers_see_a_live_process() -> None:
    marker = f"300.{uuid4().int % 10**6}"
    with subprocess.Popen(["sleep", marker]) as proc:
        try:
            assert is_alive(proc.pid)
            # Popen returns once execve has begun, which can be before the new
            # command line shows in /proc: look again until it does.
            deadline = time.monotonic() + 10
            tick = threading.Event()
            while not (found := processes_with_args("sleep", marker)):
                assert time.monotonic() < deadline, "sleep never showed in /proc"
                tick.wait(0.01)
            assert [p.pid for p in found] == [proc.pid]
        finally:
            proc.kill()
    assert not is_alive(proc.pid)
