"""``result_future``: waiting for a result without a thread, one future per waiter."""

from __future__ import annotations

import threading
from typing import cast
from uuid import UUID, uuid4

import pytest

from actors import ExecutionEngine
from messages import Exec, ExecutionNotFound, ExecutionStatus, Submit
from tests.conftest import EngineFactory, py, request

RESULT_TIMEOUT = 20.0

SLEEPER = py("import time; time.sleep(300)")


def test_result_future_is_done_with_the_result_when_the_execution_ends(
    engine: ExecutionEngine,
) -> None:
    execution_id = engine.execute(request(py("print('hi')")))
    result = engine.result_future(execution_id).result(RESULT_TIMEOUT)
    assert (result.status, result.stdout) == (ExecutionStatus.COMPLETED, "hi")


def test_result_future_of_an_ended_execution_is_already_done(engine: ExecutionEngine) -> None:
    execution_id = engine.execute(request(Exec(program="true")))
    engine.get_result(execution_id, timeout=RESULT_TIMEOUT)
    future = engine.result_future(execution_id)
    assert future.done()
    assert future.result().execution_id == execution_id


def test_result_future_of_an_unknown_id_raises_execution_not_found_at_once(
    engine: ExecutionEngine,
) -> None:
    with pytest.raises(ExecutionNotFound):
        engine.result_future(uuid4())


def test_result_future_of_an_execution_submitted_as_an_actor_message_works(
    engine: ExecutionEngine,
) -> None:
    execution_id = cast(
        UUID,
        engine.supervisor.ask(
            Submit(request=request(py("print('actor')"))), timeout=RESULT_TIMEOUT
        ),
    )
    result = engine.result_future(execution_id).result(RESULT_TIMEOUT)
    assert result.stdout == "actor"


def test_a_waiter_that_cancels_its_future_affects_no_other_waiter(
    engine: ExecutionEngine,
) -> None:
    release = engine.execute(request(py("import sys; sys.stdin.read()"), stdin="go"))
    first, second = engine.result_future(release), engine.result_future(release)
    assert first.cancel()
    result = second.result(RESULT_TIMEOUT)
    assert result.status is ExecutionStatus.COMPLETED
    assert engine.get_result(release, timeout=RESULT_TIMEOUT) == result


def test_waiting_on_many_result_futures_adds_no_thread(engine: ExecutionEngine) -> None:
    ids = [engine.execute(request(SLEEPER)) for _ in range(3)]
    before = threading.active_count()
    futures = [engine.result_future(i) for i in ids for _ in range(300)]
    assert threading.active_count() == before
    for execution_id in ids:
        engine.cancel(execution_id)
    statuses = {f.result(RESULT_TIMEOUT).status for f in futures}
    assert statuses == {ExecutionStatus.CANCELLED}


def test_kill_all_ends_running_and_pending_executions_cancelled_without_grace(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(max_concurrent_executions=1, kill_grace_ms=60_000)
    # Ignores SIGTERM: only a SIGKILL ends it before the 60 s grace.
    stubborn = py(
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(300)\n"
    )
    running = engine.execute(request(stubborn))
    pending = engine.execute(request(SLEEPER))
    engine.kill_all()
    assert engine.get_result(running, timeout=RESULT_TIMEOUT).status is ExecutionStatus.CANCELLED
    assert engine.get_result(pending, timeout=RESULT_TIMEOUT).status is ExecutionStatus.CANCELLED
