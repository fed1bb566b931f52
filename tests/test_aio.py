"""``actors.aio``: awaiting results and streaming events from asyncio code."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID, uuid4

import pytest

from actors import ExecutionEngine, signals
from actors.aio import AsyncExecutionEngine, EventStream
from actors.testing import LeakCheck
from messages import (
    EngineStopped,
    Exec,
    ExecutionConfig,
    ExecutionEvent,
    ExecutionNotFound,
    ExecutionStatus,
    ResultTimeout,
    Stdout,
)
from tests.conftest import EngineFactory, py, request

T = TypeVar("T")

DEADLINE = 40.0
RESULT_TIMEOUT = 20.0
SLEEPER = py("import time; time.sleep(300)")
THREE_LINES = py("print('one'); print('two'); print('three')")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on a fresh event loop, failing after ``DEADLINE`` seconds."""
    return asyncio.run(asyncio.wait_for(coro, DEADLINE))


def subscriptions(engine: ExecutionEngine) -> tuple[Any, ...]:
    """What ``signals.event`` holds: its receivers, those of ``engine``, its bookkeeping."""
    signal = signals.event
    return (
        set(signal.receivers),
        list(signal.receivers_for(engine)),
        # blinker's own maps; an empty set left for a sender is dropped with the sender.
        {k: set(v) for k, v in signal._by_receiver.items()},
        {k: set(v) for k, v in signal._by_sender.items() if v},
    )


async def until_terminal(stream: EventStream, execution_id: UUID) -> list[ExecutionEvent]:
    """The events of ``execution_id`` read from ``stream`` up to its terminal one."""
    seen: list[ExecutionEvent] = []
    async for event in stream:
        if event.execution_id == execution_id:
            seen.append(event)
            if event.terminal:
                break
    return seen


def stdout_lines(events: list[ExecutionEvent]) -> list[str]:
    return [line for e in events if isinstance(e, Stdout) for line in e.lines]


def test_a_thousand_tasks_awaiting_results_add_no_thread(engine: ExecutionEngine) -> None:
    async def scenario() -> set[ExecutionStatus]:
        aengine = AsyncExecutionEngine(engine=engine)
        ids = [await aengine.execute(request(SLEEPER)) for _ in range(4)]
        before = threading.active_count()
        tasks = [asyncio.create_task(aengine.get_result(ids[n % 4])) for n in range(1000)]
        await asyncio.sleep(0)  # every task has run up to its await
        assert threading.active_count() <= before + 2
        assert not any(t.done() for t in tasks)
        for execution_id in ids:
            await aengine.cancel(execution_id)
        return {r.status for r in await asyncio.gather(*tasks)}

    assert run(scenario()) == {ExecutionStatus.CANCELLED}


def test_a_stream_entered_before_submit_sees_every_event_in_order_ending_terminal(
    engine: ExecutionEngine,
) -> None:
    async def scenario() -> None:
        aengine = AsyncExecutionEngine(engine=engine)
        async with aengine.events() as stream:
            execution_id = await aengine.execute(request(THREE_LINES))
            seen = await until_terminal(stream, execution_id)
        result = await aengine.get_result(execution_id)
        assert seen[0].type == "started"
        assert seen[-1].type == "completed"
        assert [e.seq for e in seen] == list(range(1, len(seen) + 1))
        assert stdout_lines(seen) == result.stdout.splitlines() == ["one", "two", "three"]

    run(scenario())


def test_a_stream_of_one_execution_ends_after_its_terminal_event(
    engine: ExecutionEngine,
) -> None:
    async def scenario() -> None:
        aengine = AsyncExecutionEngine(engine=engine)
        other = await aengine.execute(request(SLEEPER))
        req = request(THREE_LINES)
        async with aengine.events(req.id) as stream:
            await aengine.execute(req)
            seen = [event async for event in stream]
        assert {e.execution_id for e in seen} == {req.id}
        assert seen[-1].terminal
        assert sum(e.terminal for e in seen) == 1
        await aengine.cancel(other)

    run(scenario())


def test_a_stream_of_an_execution_that_already_ended_ends_at_once(
    engine: ExecutionEngine,
) -> None:
    async def scenario() -> list[ExecutionEvent]:
        aengine = AsyncExecutionEngine(engine=engine)
        execution_id = await aengine.execute(request(Exec(program="true")))
        await aengine.get_result(execution_id)
        async with aengine.events(execution_id) as stream:
            return [event async for event in stream]

    assert all(e.terminal for e in run(scenario()))


def test_cancelling_the_consuming_task_unsubscribes_the_stream(engine: ExecutionEngine) -> None:
    before = subscriptions(engine)

    async def scenario() -> None:
        aengine = AsyncExecutionEngine(engine=engine)
        entered = asyncio.Event()

        async def consume() -> None:
            async with aengine.events() as stream:
                entered.set()
                async for _ in stream:
                    pass

        task = asyncio.create_task(consume())
        await entered.wait()
        assert subscriptions(engine) != before
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(scenario())
    assert subscriptions(engine) == before


def test_a_thousand_streams_opened_and_closed_leave_the_signal_as_it_was(
    engine: ExecutionEngine,
) -> None:
    before = subscriptions(engine)

    async def scenario() -> None:
        aengine = AsyncExecutionEngine(engine=engine)
        for _ in range(1000):
            async with aengine.events():
                pass
        streams = [aengine.events(None if n % 2 else uuid4()) for n in range(1000)]
        for stream in streams:
            await stream.__aenter__()
        for stream in streams:
            await stream.__aexit__(None, None, None)

    run(scenario())
    assert subscriptions(engine) == before


def test_two_streams_each_see_every_event(engine: ExecutionEngine) -> None:
    async def scenario() -> None:
        aengine = AsyncExecutionEngine(engine=engine)
        async with aengine.events() as first, aengine.events() as second:
            execution_id = await aengine.execute(request(THREE_LINES))
            a, b = await asyncio.gather(
                until_terminal(first, execution_id), until_terminal(second, execution_id)
            )
        assert stdout_lines(a) == stdout_lines(b) == ["one", "two", "three"]
        assert a[0].type == b[0].type == "started"
        assert a[-1].type == b[-1].type == "completed"

    run(scenario())


def test_a_slow_consumer_of_a_flood_costs_bounded_memory_and_loses_no_line(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(max_output_size_bytes=16 * 1024 * 1024, progress_interval_ms=0)
    flood = py("import sys; sys.stdout.write(''.join(f'line {i}\\n' for i in range(200_000)))")

    async def scenario() -> None:
        aengine = AsyncExecutionEngine(engine=engine)
        async with aengine.events() as stream:
            execution_id = await aengine.execute(request(flood))
            result = await aengine.get_result(execution_id)
            seen = await until_terminal(stream, execution_id)
            peak = stream.peak_buffered
        assert not result.stdout_truncated
        assert stdout_lines(seen) == result.stdout.splitlines()
        assert len(stdout_lines(seen)) == 200_000
        assert [e.seq for e in seen] == list(range(1, len(seen) + 1))
        # Started, the merged output, the terminal event, and whatever was read meanwhile.
        assert peak <= 10

    run(scenario())


def test_a_waiter_that_cancels_its_task_leaves_the_execution_and_other_waiters_alone(
    engine: ExecutionEngine,
) -> None:
    async def scenario() -> None:
        aengine = AsyncExecutionEngine(engine=engine)
        gate = request(py("import sys; print(sys.stdin.readline().strip())"), stdin="go\n")
        execution_id = await aengine.execute(gate)
        quitter = asyncio.create_task(aengine.get_result(execution_id))
        stayer = asyncio.create_task(aengine.get_result(execution_id))
        await asyncio.sleep(0)
        quitter.cancel()
        result = await stayer
        assert quitter.cancelled()
        assert (result.status, result.stdout) == (ExecutionStatus.COMPLETED, "go")
        assert await aengine.get_result(execution_id) == result

    run(scenario())


def test_get_result_raises_result_timeout_when_the_wait_runs_out(engine: ExecutionEngine) -> None:
    async def scenario() -> ExecutionStatus:
        aengine = AsyncExecutionEngine(engine=engine)
        execution_id = await aengine.execute(request(SLEEPER))
        with pytest.raises(ResultTimeout):
            await aengine.get_result(execution_id, timeout=0.05)
        status = await aengine.get_status(execution_id)
        await aengine.cancel(execution_id)
        return status

    assert run(scenario()) is ExecutionStatus.RUNNING


def test_get_result_of_an_unknown_id_raises_execution_not_found(engine: ExecutionEngine) -> None:
    async def scenario() -> None:
        aengine = AsyncExecutionEngine(engine=engine)
        with pytest.raises(ExecutionNotFound):
            await aengine.get_result(request(SLEEPER).id)

    run(scenario())


def test_the_queries_answer_as_the_facade_does(engine: ExecutionEngine) -> None:
    async def scenario() -> None:
        aengine = AsyncExecutionEngine(engine=engine)
        execution_id = await aengine.execute(request(THREE_LINES))
        await aengine.get_result(execution_id)
        assert await aengine.get_status(execution_id) is ExecutionStatus.COMPLETED
        rows = await aengine.list_executions(ExecutionStatus.COMPLETED)
        assert [r.execution_id for r in rows] == [execution_id]
        assert (await aengine.get_concurrency_metrics()).total_finished == 1
        assert await aengine.cleanup_old_executions() == 0
        assert "three" in await aengine.read_logs(execution_id)
        assert await aengine.cancel(execution_id) is False
        assert aengine.engine is engine

    run(scenario())


def test_every_method_raises_engine_stopped_after_shutdown(engine: ExecutionEngine) -> None:
    async def scenario() -> None:
        aengine = AsyncExecutionEngine(engine=engine)
        execution_id = await aengine.execute(request(Exec(program="true")))
        await aengine.shutdown()
        await aengine.shutdown()
        calls: list[Coroutine[Any, Any, Any]] = [
            aengine.execute(request(Exec(program="true"))),
            aengine.get_status(execution_id),
            aengine.get_result(execution_id),
            aengine.cancel(execution_id),
            aengine.list_executions(),
            aengine.get_concurrency_metrics(),
            aengine.cleanup_old_executions(),
            aengine.read_logs(execution_id),
            aengine.events().__aenter__(),
        ]
        for call in calls:
            with pytest.raises(EngineStopped):
                await call

    run(scenario())


def test_shutdown_ends_open_streams_after_the_cancelled_events(engine: ExecutionEngine) -> None:
    async def scenario() -> list[str]:
        aengine = AsyncExecutionEngine(engine=engine)
        async with aengine.events() as stream:
            await aengine.execute(request(SLEEPER))
            await aengine.shutdown()
            return [event.type async for event in stream]

    types = run(scenario())
    assert types[-1] == "cancelled"


def test_leaving_the_block_leaves_a_wrapped_engine_running(engine: ExecutionEngine) -> None:
    async def scenario() -> None:
        async with AsyncExecutionEngine(engine=engine) as aengine:
            execution_id = await aengine.execute(request(Exec(program="true")))
        assert engine.get_result(execution_id, RESULT_TIMEOUT).success

    run(scenario())


def test_leaving_the_block_shuts_down_an_engine_it_started(tmp_path: Path) -> None:
    check = LeakCheck()

    async def scenario() -> ExecutionEngine:
        config = ExecutionConfig.testing(log_dir=tmp_path)
        async with AsyncExecutionEngine(config) as aengine:
            result = await aengine.get_result(await aengine.execute(request(THREE_LINES)))
            assert result.stdout == "one\ntwo\nthree"
            return aengine.engine

    engine = run(scenario())
    with pytest.raises(EngineStopped):
        engine.get_concurrency_metrics()
    check.assert_no_leaks("leaving the async with block")


def test_a_config_and_an_engine_together_are_refused(engine: ExecutionEngine) -> None:
    with pytest.raises(ValueError, match="config"):
        AsyncExecutionEngine(ExecutionConfig(), engine=engine)
