"""Await results and events from asyncio code without blocking the event loop.

The engine is thread-based: ``get_result`` blocks its caller, and awaiting a pykka
future would block the whole loop. Two bridges keep the loop free:

- results: ``await asyncio.to_thread(engine.get_result, execution_id, timeout)``
  waits on a worker thread while the loop runs on;
- events: a blinker receiver, running on the engine's event-dispatch thread,
  hands each event to the loop with ``loop.call_soon_threadsafe(queue.put_nowait,
  event)``; ``EventStream`` turns that queue into an async iterator.

A ticker coroutine counts while the app waits, to show the loop stays responsive.
Pass ``timeout`` to ``get_result`` rather than wrapping the call in
``asyncio.wait_for``: a thread cannot be cancelled, only the await would end.

Run it from the repository root: ``python examples/asyncio_bridge.py``.
"""

from __future__ import annotations

import asyncio
import itertools
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Self
from uuid import UUID

from actors import ExecutionEngine, signals
from messages import (
    ExecutionConfig,
    ExecutionEvent,
    ExecutionRequest,
    ExecutionResult,
    Shell,
    Stderr,
    Stdout,
)

TICK_S = 0.05


class EventStream:
    """The events of one engine as an async iterator, for one event loop.

    Connect it before submitting, so no event is missed; close it (or leave
    the ``with`` block) before the loop ends.
    """

    def __init__(self, engine: ExecutionEngine, loop: asyncio.AbstractEventLoop) -> None:
        self._engine = engine
        self._loop = loop
        self._queue: asyncio.Queue[ExecutionEvent] = asyncio.Queue()
        # A bound method is held weakly by blinker: the stream must stay referenced
        # while it is connected, which the ``with`` block does.
        signals.event.connect(self._receive, sender=engine)

    def _receive(self, sender: ExecutionEngine, *, event: ExecutionEvent) -> None:
        # The engine's dispatch thread: never touch the asyncio queue directly here.
        self._loop.call_soon_threadsafe(self._queue.put_nowait, event)

    def close(self) -> None:
        """Stop listening."""
        signals.event.disconnect(self._receive, sender=self._engine)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> ExecutionEvent:
        return await self._queue.get()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


async def ticker(ticks: list[float]) -> None:
    """Note the time every ``TICK_S``; gaps would mean something blocked the loop."""
    loop = asyncio.get_running_loop()
    while True:
        ticks.append(loop.time())
        await asyncio.sleep(TICK_S)


async def follow(stream: EventStream, ids: set[UUID]) -> int:
    """Print events as they arrive until every execution in ``ids`` has ended."""
    ended: set[UUID] = set()
    count = 0
    async for event in stream:
        count += 1
        tag = str(event.execution_id)[:8]
        if isinstance(event, Stdout | Stderr):
            for line in event.lines:
                print(f"event  [{tag}] {event.type}: {line}", flush=True)
        elif event.type != "progress":
            print(f"event  [{tag}] {event.type}", flush=True)
        if event.terminal:
            ended.add(event.execution_id)
            if ended >= ids:
                return count
    return count


async def result_of(engine: ExecutionEngine, execution_id: UUID) -> ExecutionResult:
    """Wait for one result on a worker thread; the loop goes on meanwhile."""
    return await asyncio.to_thread(engine.get_result, execution_id, 30)


async def main() -> int:
    """Run three commands, stream their events and await their results concurrently."""
    config = ExecutionConfig.development(log_dir=Path(tempfile.gettempdir()) / "engine-example")
    loop = asyncio.get_running_loop()
    engine = ExecutionEngine(config)
    ticks: list[float] = []
    tick_task = asyncio.create_task(ticker(ticks))
    try:
        with EventStream(engine, loop) as stream:
            # execute() only queues the request: an ask the supervisor answers in
            # microseconds, fine to call on the loop.
            ids = [
                engine.execute(
                    ExecutionRequest(
                        command=Shell(command=f"for i in 1 2 3; do echo {name} $i; sleep 0.2; done")
                    )
                )
                for name in ("alpha", "beta")
            ]
            ids.append(engine.execute(ExecutionRequest(command=Shell(command="sleep 0.3; exit 4"))))
            started = loop.time()
            follower = asyncio.create_task(asyncio.wait_for(follow(stream, set(ids)), 30))
            results = await asyncio.gather(*(result_of(engine, i) for i in ids))
            events = await follower
            waited = loop.time() - started
        for execution_id, result in zip(ids, results, strict=True):
            print(
                f"result [{str(execution_id)[:8]}] {result.status.value} exit={result.exit_code}"
                f" stdout={result.stdout.splitlines()}"
            )
        during = [t for t in ticks if started <= t <= started + waited]
        gaps = [b - a for a, b in itertools.pairwise(during)]
        print(
            f"waited {waited:.2f}s for {events} events and {len(results)} results;"
            f" the ticker ticked {len(during)} times meanwhile"
            f" (longest gap {max(gaps, default=0.0) * 1000:.0f} ms)"
        )
        # A blocked loop would tick once before the wait and once after it.
        responsive = len(during) >= 3
        print("the event loop stayed responsive" if responsive else "the event loop was BLOCKED")
        return 0 if responsive else 1
    finally:
        tick_task.cancel()
        # shutdown() joins threads: off the loop too.
        await asyncio.to_thread(engine.shutdown)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
