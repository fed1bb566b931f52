"""``ResultSlot``: a result set once, waited for by any number of threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from actors._slot import ResultSlot
from messages import ExecutionResult, ExecutionStatus

NOW = datetime.now(UTC)
RESULT = ExecutionResult(
    execution_id=uuid4(),
    status=ExecutionStatus.COMPLETED,
    success=True,
    exit_code=0,
    stdout="",
    stderr="",
    queued_at=NOW,
    started_at=NOW,
    completed_at=NOW,
    duration_ms=0,
)


def test_a_waiter_gets_the_result_set_by_another_thread() -> None:
    slot = ResultSlot()
    threading.Timer(0.01, slot.set_result, (RESULT,)).start()
    assert slot.result(timeout=10) is RESULT
    assert slot.done()


def test_every_one_of_many_waiters_gets_the_result() -> None:
    slot = ResultSlot()
    got: list[ExecutionResult] = []
    waiters = [threading.Thread(target=lambda: got.append(slot.result(10))) for _ in range(8)]
    for waiter in waiters:
        waiter.start()
    slot.set_result(RESULT)
    for waiter in waiters:
        waiter.join(10)
    assert got == [RESULT] * 8


def test_a_wait_that_runs_out_raises_timeout_error() -> None:
    slot = ResultSlot()
    with pytest.raises(TimeoutError):
        slot.result(timeout=0.01)
    assert not slot.done()


def test_a_callback_added_before_or_after_the_result_runs_exactly_once() -> None:
    slot = ResultSlot()
    calls: list[str] = []
    slot.add_done_callback(lambda r: calls.append("before"))
    slot.set_result(RESULT)
    slot.add_done_callback(lambda r: calls.append("after"))
    assert calls == ["before", "after"]


def _appender(calls: list[int], i: int) -> Callable[[ExecutionResult], None]:
    return lambda _result: calls.append(i)


def test_callbacks_racing_the_result_each_run_once() -> None:
    for _ in range(200):
        slot = ResultSlot()
        calls: list[int] = []
        adders = [
            threading.Thread(target=slot.add_done_callback, args=(_appender(calls, i),))
            for i in range(4)
        ]
        for adder in adders:
            adder.start()
        slot.set_result(RESULT)
        for adder in adders:
            adder.join(10)
        assert sorted(calls) == [0, 1, 2, 3]
