"""Await results and stream events from asyncio code with ``actors.aio``.

``AsyncExecutionEngine`` is the engine's facade as coroutines. Awaiting a
result holds no thread (it waits on a future of its own), and ``events()``
streams the engine's events into the loop; enter the stream before submitting
so no event is missed. A ticker coroutine counts while the app waits, to show
the loop stays responsive.

Run it from the repository root: ``python examples/asyncio_bridge.py``.
"""

from __future__ import annotations

import asyncio
import itertools
import tempfile
from pathlib import Path
from uuid import UUID

from actors.aio import AsyncExecutionEngine, EventStream
from messages import ExecutionConfig, ExecutionRequest, Shell, Stderr, Stdout

TICK_S = 0.05


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
                break
    return count


async def main() -> int:
    """Run three commands, stream their events and await their results concurrently."""
    config = ExecutionConfig.development(log_dir=Path(tempfile.gettempdir()) / "engine-example")
    loop = asyncio.get_running_loop()
    ticks: list[float] = []
    tick_task = asyncio.create_task(ticker(ticks))
    # Leaving the block shuts down the engine it started, off the loop.
    async with AsyncExecutionEngine(config) as aengine, aengine.events() as stream:
        loop_of = "for i in 1 2 3; do echo {} $i; sleep 0.2; done"
        commands = [loop_of.format("alpha"), loop_of.format("beta"), "sleep 0.3; exit 4"]
        ids = [await aengine.execute(ExecutionRequest(command=Shell(command=c))) for c in commands]
        started = loop.time()
        follower = asyncio.create_task(follow(stream, set(ids)))
        results = await asyncio.gather(*(aengine.get_result(i, timeout=30) for i in ids))
        events = await asyncio.wait_for(follower, 30)
        waited = loop.time() - started
    tick_task.cancel()
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


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
