"""Races: many threads on the same ids, cancel against completion, shutdown against submit."""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

import psutil
import pytest

from actors.testing import EventRecorder
from messages import (
    DuplicateExecution,
    EngineStopped,
    Exec,
    ExecutionNotFound,
    ExecutionRequest,
    ExecutionStatus,
    ResultTimeout,
)
from tests.conftest import EngineFactory, request

RESULT_TIMEOUT = 60.0
TERMINAL_EVENT = {
    ExecutionStatus.COMPLETED: "completed",
    ExecutionStatus.FAILED: "failed",
    ExecutionStatus.TIMED_OUT: "failed",
    ExecutionStatus.CANCELLED: "cancelled",
}


def run_marker() -> str:
    """Digits, so ``sleep 30.<marker>`` is a valid duration naming this test's sleeps."""
    return f"{uuid.uuid4().int % 10**9:09d}"


def sleep(marker: str, seconds: int = 30) -> Exec:
    return Exec(program="sleep", args=(f"{seconds}.{marker}",))


def live_processes_with(marker: str) -> list[str]:
    """Live (not zombie) processes anywhere whose command line carries ``marker``."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if marker in cmdline and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(f"{proc.pid} {cmdline}")
    return found


def wait_no_process_with(marker: str, timeout: float = 10.0) -> list[str]:
    """Poll until no live process carries ``marker`` (SIGKILL is asynchronous)."""
    tick = threading.Event()
    for _ in range(int(timeout / 0.05)):
        if not live_processes_with(marker):
            return []
        tick.wait(0.05)
    return live_processes_with(marker)


def terminal_types(recorder: EventRecorder, execution_id: UUID) -> list[str]:
    return [e.type for e in recorder.of(execution_id) if e.terminal]


def event_problems(recorder: EventRecorder, execution_id: UUID) -> list[str]:
    """Exactly one terminal event, the last; seq 1, 2, 3... without gaps."""
    events = recorder.of(execution_id)
    problems = []
    if [e.seq for e in events] != list(range(1, len(events) + 1)):
        problems.append(f"seqs {[e.seq for e in events]}")
    terminals = [e.type for e in events if e.terminal]
    if len(terminals) != 1 or not events[-1].terminal:
        problems.append(f"events {[e.type for e in events]}")
    return [f"{execution_id}: {p}" for p in problems]


# -- many threads on the same ids ----------------------------------------------------------------


def test_many_threads_on_the_same_ids_raise_only_documented_errors_and_end_each_once(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(max_concurrent_executions=4, max_in_memory_executions=1000)
    marker = run_marker()
    requests = [
        request([Exec(program="true"), Exec(program="sleep", args=("0.05",)), sleep(marker)][i % 3])
        for i in range(45)
    ]
    accepted: Counter[UUID] = Counter()
    cancelled_now: set[UUID] = set()
    errors: Counter[str] = Counter()
    unexpected: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def hammer(seed: int) -> None:
        rng = random.Random(seed)
        barrier.wait(timeout=10)
        for _ in range(150):
            req = rng.choice(requests)
            operation = rng.choice(
                ["execute", "execute", "cancel", "status", "result", "cleanup", "list", "metrics"]
            )
            try:
                if operation == "execute":
                    engine.execute(req)
                    with lock:
                        accepted[req.id] += 1
                elif operation == "cancel":
                    if engine.cancel(req.id):
                        with lock:
                            cancelled_now.add(req.id)
                elif operation == "status":
                    engine.get_status(req.id)
                elif operation == "result":
                    engine.get_result(req.id, timeout=rng.choice([0.0, 0.01]))
                elif operation == "cleanup":
                    engine.cleanup_old_executions()
                elif operation == "list":
                    engine.list_executions()
                else:
                    engine.get_concurrency_metrics()
            except (DuplicateExecution, ExecutionNotFound, ResultTimeout) as exc:
                with lock:
                    errors[f"{operation}: {type(exc).__name__}"] += 1
            except Exception as exc:
                with lock:
                    unexpected.append(f"{operation} {req.id}: {exc!r}")

    with EventRecorder(engine) as recorder:
        with ThreadPoolExecutor(8) as pool:
            for future in [pool.submit(hammer, seed) for seed in range(8)]:
                future.result(timeout=120)
        for req in requests:  # those no thread happened to submit
            if req.id not in accepted:
                engine.execute(req)
                accepted[req.id] += 1
        for req in requests[2::3]:  # the 30 s sleeps nobody cancelled
            engine.cancel(req.id)
        results = {r.id: engine.get_result(r.id, timeout=RESULT_TIMEOUT) for r in requests}
        for execution_id in results:
            recorder.wait_terminal(execution_id, timeout=RESULT_TIMEOUT)
        engine.shutdown(timeout=30)  # drains the event queue: a late duplicate would show

    assert unexpected == []
    assert [i for i, n in accepted.items() if n != 1] == []
    assert errors["execute: DuplicateExecution"] > 0  # the race did happen
    assert [i for i in cancelled_now if results[i].status is not ExecutionStatus.CANCELLED] == []
    assert all(r.status.is_terminal for r in results.values())
    problems = [p for i in results for p in event_problems(recorder, i)]
    problems += [
        f"{i}: {r.status} but {terminal_types(recorder, i)}"
        for i, r in results.items()
        if terminal_types(recorder, i) != [TERMINAL_EVENT[r.status]]
    ]
    assert problems == []
    assert wait_no_process_with(marker) == []


# -- cancel racing completion --------------------------------------------------------------------

CANCEL_RACES = 400


@pytest.mark.timeout(180)
def test_cancel_racing_completion_ends_each_execution_once(make_engine: EngineFactory) -> None:
    """``cancel`` lands before, while and just after ``true`` finishes, hundreds of times."""
    engine = make_engine(max_concurrent_executions=8, progress_interval_ms=0)
    answers: dict[UUID, bool] = {}
    unexpected: list[str] = []
    lock = threading.Lock()

    def race(seed: int, recorder: EventRecorder) -> None:
        rng = random.Random(seed)
        jitter = threading.Event()  # never set: wait() is the deliberate jitter
        for _ in range(CANCEL_RACES // 4):
            execution_id = engine.execute(request(Exec(program="true")))
            moment = rng.choice(["at_once", "started", "started", "jitter", "jitter"])
            if moment != "at_once":
                recorder.wait_for("started", execution_id, timeout=RESULT_TIMEOUT)
            if moment == "jitter":
                jitter.wait(rng.uniform(0, 0.004))
            try:
                answer = engine.cancel(execution_id)
            except Exception as exc:
                with lock:
                    unexpected.append(f"cancel({execution_id}) raised {exc!r}")
                answer = False
            with lock:
                answers[execution_id] = answer

    with EventRecorder(engine) as recorder:
        with ThreadPoolExecutor(4) as pool:
            for future in [pool.submit(race, seed, recorder) for seed in range(4)]:
                future.result(timeout=170)
        results = {i: engine.get_result(i, timeout=RESULT_TIMEOUT) for i in answers}
        for execution_id in results:
            recorder.wait_terminal(execution_id, timeout=RESULT_TIMEOUT)
        engine.shutdown(timeout=30)

    assert unexpected == []
    wrong = [
        f"{i}: cancel() {answers[i]}, status {r.status.value}"
        for i, r in results.items()
        if r.status is not (ExecutionStatus.CANCELLED if answers[i] else ExecutionStatus.COMPLETED)
    ]
    assert wrong == []
    problems = [p for i in results for p in event_problems(recorder, i)]
    problems += [
        f"{i}: {r.status} but {terminal_types(recorder, i)}"
        for i, r in results.items()
        if terminal_types(recorder, i) != [TERMINAL_EVENT[r.status]]
    ]
    assert problems == []
    # Both sides of the race were reached, or the test proved nothing.
    assert 0 < sum(answers.values()) < len(answers)


# -- shutdown racing submissions -----------------------------------------------------------------


@pytest.mark.timeout(180)
@pytest.mark.parametrize("round_", range(3))
def test_shutdown_racing_submissions_leaves_no_orphan(
    make_engine: EngineFactory, round_: int
) -> None:
    engine = make_engine(max_concurrent_executions=4)
    marker = run_marker()
    accepted: list[UUID] = []
    refused: Counter[str] = Counter()
    unexpected: list[str] = []
    cond = threading.Condition()
    commands: list[Callable[[], ExecutionRequest]] = [
        lambda: request(sleep(marker)),
        lambda: request(Exec(program="true")),
        lambda: request(Exec(program="sh", args=("-c", f"sleep 30.{marker} & sleep 30.{marker}"))),
    ]

    def submit(seed: int) -> None:
        rng = random.Random(seed)
        while True:
            try:
                execution_id = engine.execute(rng.choice(commands)())
            except EngineStopped:
                with cond:
                    refused["EngineStopped"] += 1
                return
            except Exception as exc:
                with cond:
                    unexpected.append(repr(exc))
                return
            with cond:
                accepted.append(execution_id)
                cond.notify_all()

    with EventRecorder(engine) as recorder, ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(submit, round_ * 10 + i) for i in range(4)]
        with cond:
            assert cond.wait_for(lambda: len(accepted) >= 20 + 10 * round_, timeout=60)
        engine.shutdown(timeout=30)
        for future in futures:
            future.result(timeout=60)

    assert unexpected == []
    assert refused["EngineStopped"] == 4
    with pytest.raises(EngineStopped):
        engine.get_status(accepted[0])
    problems = [p for i in accepted for p in event_problems(recorder, i)]
    assert problems == []
    assert wait_no_process_with(marker) == []
