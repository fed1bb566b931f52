"""Events per second over SSE to 1 and to 50 clients, against the in-process events() stream.

    python perf/bench_web_sse.py [--smoke]

One workload (executions that each flush many short lines, so many events)
runs three times on one engine: read in-process through ``actors.aio``'s
``events()``, then over a real uvicorn on 127.0.0.1 by 1 and by 50 httpx
clients. Printed: events/s for each and the SSE rates as ratios of the
in-process one (per client: every client receives every event).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time

import httpx
import uvicorn

from actors import ExecutionEngine
from actors.aio import AsyncExecutionEngine
from actors.web import create_app
from actors.web._serve import HubServer
from messages import Exec, ExecutionConfig, ExecutionRequest

TOKEN = "bench-token"
TERMINAL = {"completed", "failed", "cancelled"}


def workload(executions: int, lines: int) -> list[ExecutionRequest]:
    """Executions that each print ``lines`` lines, flushed one by one (one event each)."""
    code = f"import sys\nfor i in range({lines}): print(i, flush=True)"
    return [
        ExecutionRequest(command=Exec(program=sys.executable, args=("-c", code)))
        for _ in range(executions)
    ]


async def in_process(engine: ExecutionEngine, requests: list[ExecutionRequest]) -> float:
    """Events per second read from one ``events()`` stream."""
    aengine = AsyncExecutionEngine(engine=engine)
    count = ended = 0
    async with aengine.events() as stream:
        start = time.perf_counter()
        for request in requests:
            await aengine.execute(request)
        async for event in stream:
            count += 1
            if event.type in TERMINAL:
                ended += 1
                if ended == len(requests):
                    break
    return count / (time.perf_counter() - start)


async def over_sse(url: str, clients: int, requests: list[ExecutionRequest]) -> float:
    """Events per second each of ``clients`` SSE clients received (the mean)."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    limits = httpx.Limits(max_connections=clients + 5)
    async with httpx.AsyncClient(
        base_url=url, headers=headers, limits=limits, timeout=120
    ) as client:
        ready = asyncio.Semaphore(0)

        async def reader() -> int:
            count = ended = 0
            async with client.stream("GET", "/api/events") as response:
                lines = response.aiter_lines()
                await anext(lines)
                ready.release()
                async for line in lines:
                    if line.startswith("event: "):
                        count += 1
                        if line[7:] in TERMINAL:
                            ended += 1
                            if ended == len(requests):
                                return count
            return count

        tasks = [asyncio.create_task(reader()) for _ in range(clients)]
        for _ in range(clients):
            await ready.acquire()
        start = time.perf_counter()
        for request in requests:
            body = request.model_dump(mode="json", exclude={"id"})
            await client.post("/api/executions", json=body)
        counts = await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return sum(counts) / len(counts) / elapsed


def main() -> None:
    """Run the three measurements and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    args = parser.parse_args()
    executions, lines = (4, 50) if args.smoke else (20, 2000)
    config = ExecutionConfig.high_throughput(
        log_dir=None, enable_auto_cleanup=False, progress_interval_ms=0
    )
    with ExecutionEngine(config) as engine:
        app = create_app(engine, token=TOKEN, sse_buffer_events=100_000)
        server = HubServer(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"), app.state.hub
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        url = f"http://127.0.0.1:{server.port}"
        base = asyncio.run(in_process(engine, workload(executions, lines)))
        one = asyncio.run(over_sse(url, 1, workload(executions, lines)))
        fifty = asyncio.run(over_sse(url, 50, workload(executions, lines)))
        server.should_exit = True
        thread.join(30)
    print(f"in-process events(): {base:,.0f} events/s")
    print(f"SSE, 1 client:       {one:,.0f} events/s per client (ratio {one / base:.2f})")
    print(f"SSE, 50 clients:     {fifty:,.0f} events/s per client (ratio {fifty / base:.2f})")


if __name__ == "__main__":
    main()
