"""Observers that misbehave: blocked, flooded or raising receivers never hold the engine back."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from blinker import Signal

from actors import ExecutionEngine, signals
from actors.testing import EventRecorder
from messages import Exec, ExecutionEvent, ExecutionResult, ExecutionStatus, Started, Stdout
from tests.conftest import EngineFactory, py, request

RESULT_TIMEOUT = 30.0
# A query answered by the supervisor takes microseconds; this only catches a stall.
QUERY_BOUND_S = 5.0
NOT_DELIVERED = re.compile(r"^\[(\d+) lines not delivered: observers fell behind; ")


def flood(count: int) -> Exec:
    """A child writing the lines ``0`` to ``count - 1``, one write (and so one flush) each."""
    return py(f"import sys\nfor i in range({count}): print(i, flush=True)")


@contextmanager
def blocked_observer(
    engine: ExecutionEngine, signal: Signal = signals.event
) -> Iterator[threading.Event]:
    """Connect a receiver that blocks on its first event until the block ends.

    Yields the ``threading.Event`` that is set once the receiver is blocked.
    """
    entered, release = threading.Event(), threading.Event()

    def blocker(_sender: object, *, event: ExecutionEvent) -> None:
        entered.set()
        release.wait(60)

    signal.connect(blocker, sender=engine, weak=False)
    try:
        yield entered
    finally:
        release.set()
        signal.disconnect(blocker, sender=engine)


def stdout_events(recorder: EventRecorder, result: ExecutionResult) -> list[Stdout]:
    recorder.wait_terminal(result.execution_id, timeout=RESULT_TIMEOUT)
    return [e for e in recorder.of(result.execution_id) if isinstance(e, Stdout)]


# -- a blocked observer --------------------------------------------------------------------------


def test_a_blocked_observer_does_not_delay_the_result_of_a_flooding_child(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(max_output_size_bytes=16 * 1024 * 1024)
    with blocked_observer(engine) as blocked:
        execution_id = engine.execute(request(flood(200_000)))
        assert blocked.wait(10)
        result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT)
        assert result.status is ExecutionStatus.COMPLETED
        assert result.stdout.split("\n") == [str(i) for i in range(200_000)]


def test_a_blocked_observer_does_not_delay_status_queries(make_engine: EngineFactory) -> None:
    engine = make_engine(max_output_size_bytes=16 * 1024 * 1024)
    with blocked_observer(engine) as blocked:
        execution_id = engine.execute(request(flood(50_000)))
        assert blocked.wait(10)
        started = time.monotonic()
        assert engine.get_status(execution_id) in (
            ExecutionStatus.RUNNING,
            ExecutionStatus.COMPLETED,
        )
        [summary] = engine.list_executions()
        assert summary.execution_id == execution_id
        assert engine.get_concurrency_metrics().total_submitted == 1
        assert time.monotonic() - started < QUERY_BOUND_S
        engine.get_result(execution_id, timeout=RESULT_TIMEOUT)
        assert engine.get_status(execution_id) is ExecutionStatus.COMPLETED


def test_a_blocked_observer_does_not_delay_other_executions(make_engine: EngineFactory) -> None:
    engine = make_engine(max_output_size_bytes=16 * 1024 * 1024)
    with blocked_observer(engine) as blocked:
        flooding = engine.execute(request(flood(50_000)))
        assert blocked.wait(10)
        others = [engine.execute(request(py(f"print('other {n}')"))) for n in range(3)]
        for n, other in enumerate(others):
            assert engine.get_result(other, timeout=RESULT_TIMEOUT).stdout == f"other {n}"
        assert engine.get_result(flooding, timeout=RESULT_TIMEOUT).success


def test_output_queued_behind_a_blocked_observer_arrives_merged_whole_and_in_order(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(max_output_size_bytes=16 * 1024 * 1024)
    with EventRecorder(engine) as recorder:
        with blocked_observer(engine) as blocked:
            execution_id = engine.execute(request(flood(200_000)))
            assert blocked.wait(10)
            result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT)
        events = stdout_events(recorder, result)
        every = recorder.of(execution_id)
    # One flush per line gives far more reads than this; merging keeps the events few.
    assert len(events) < 1_000
    assert [line for e in events for line in e.lines] == result.stdout.split("\n")
    assert [e.seq for e in every] == list(range(1, len(every) + 1))


def test_lines_beyond_the_budget_of_a_merged_event_are_counted_in_a_last_line(
    make_engine: EngineFactory,
) -> None:
    # The event budget is max_output_size_bytes; stream_to_file keeps lines flowing past it.
    engine = make_engine(max_output_size_bytes=256, oversized_output_strategy="stream_to_file")
    with EventRecorder(engine) as recorder:
        with blocked_observer(engine) as blocked:
            execution_id = engine.execute(request(flood(20_000)))
            assert blocked.wait(10)
            result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT)
        events = stdout_events(recorder, result)
    markers = [NOT_DELIVERED.match(e.lines[-1]) for e in events]
    assert any(markers)
    delivered = [
        line
        for e, m in zip(events, markers, strict=True)
        for line in (e.lines[:-1] if m else e.lines)
    ]
    assert not any(NOT_DELIVERED.match(line) for line in delivered)
    left_out = sum(int(m.group(1)) for m in markers if m)
    assert result.stdout_spill_path is not None
    produced = result.stdout.split("\n") + result.stdout_spill_path.read_text().splitlines()
    assert produced == [str(i) for i in range(20_000)]
    assert len(delivered) + left_out == len(produced)


def test_lifecycle_events_are_all_delivered_behind_a_blocked_observer(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(max_output_size_bytes=256, oversized_output_strategy="stream_to_file")
    with EventRecorder(engine) as recorder:
        with blocked_observer(engine) as blocked:
            ids = [engine.execute(request(flood(20_000))) for _ in range(3)]
            assert blocked.wait(10)
            for execution_id in ids:
                engine.get_result(execution_id, timeout=RESULT_TIMEOUT)
        for execution_id in ids:
            recorder.wait_terminal(execution_id, timeout=RESULT_TIMEOUT)
    for execution_id in ids:
        types = recorder.types(execution_id)
        assert types[0] == "started"
        assert types.count("started") == 1
        assert types[-1] == "completed"
        assert sum(t in ("completed", "failed", "cancelled") for t in types) == 1
        events = recorder.of(execution_id)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))


# -- a raising observer --------------------------------------------------------------------------


def test_a_stdout_receiver_that_raises_does_not_stop_the_next_stdout_receiver(
    engine: ExecutionEngine,
) -> None:
    calls: list[int] = []
    lines: list[str] = []

    def raising(_sender: object, *, event: ExecutionEvent) -> None:
        calls.append(event.seq)
        raise RuntimeError("observer failure")

    def collecting(_sender: object, *, event: ExecutionEvent) -> None:
        assert isinstance(event, Stdout)
        lines.extend(event.lines)

    signals.stdout.connect(raising, sender=engine, weak=False)
    signals.stdout.connect(collecting, sender=engine, weak=False)
    try:
        with EventRecorder(engine) as recorder:
            result = engine.get_result(
                engine.execute(request(flood(5_000))), timeout=RESULT_TIMEOUT
            )
            recorder.wait_terminal(result.execution_id)
    finally:
        signals.stdout.disconnect(raising, sender=engine)
        signals.stdout.disconnect(collecting, sender=engine)
    assert result.status is ExecutionStatus.COMPLETED
    assert calls
    assert lines == [str(i) for i in range(5_000)]
    assert engine.read_logs(result.execution_id).count(" stdout | ") == 5_000


# -- EventRecorder -------------------------------------------------------------------------------


def test_event_recorder_waits_work_from_other_threads(engine: ExecutionEngine) -> None:
    requests = [request(py(f"print({n})")) for n in range(3)]
    got: dict[int, tuple[ExecutionEvent, ExecutionEvent]] = {}

    def wait(n: int) -> None:
        execution_id = requests[n].id
        started = recorder.wait_for(Started, execution_id, timeout=RESULT_TIMEOUT)
        got[n] = (started, recorder.wait_terminal(execution_id, timeout=RESULT_TIMEOUT))

    with EventRecorder(engine) as recorder:
        waiters = [threading.Thread(target=wait, args=(n,)) for n in range(3)]
        for waiter in waiters:
            waiter.start()
        for req in requests:
            engine.execute(req)
        for waiter in waiters:
            waiter.join(RESULT_TIMEOUT)
        assert not any(waiter.is_alive() for waiter in waiters)
    assert sorted(got) == [0, 1, 2]
    for n, (started, terminal) in got.items():
        assert started.execution_id == terminal.execution_id == requests[n].id
        assert started.type == "started"
        assert terminal.type == "completed"
