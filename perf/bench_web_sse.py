"""Events and lines per second over SSE to 1 and to 50 clients, against in-process events().

    python perf/bench_web_sse.py [--smoke]

One workload (executions that each flush many short lines) runs three times on
one engine: read in-process through ``actors.aio``'s ``events()``, then over a
real uvicorn on 127.0.0.1 by 1 and by 50 httpx clients in a separate process
(as browsers would be: their parsing does not share the server's GIL).
Printed, per reader: events/s and output lines/s, and the SSE rates as ratios
of the in-process ones (per client: every client receives every event). Lines
are the stable figure: a reader that falls behind gets lines merged into fewer,
larger events, so events/s alone rewards falling behind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import threading
import time

import httpx
import uvicorn

from actors import ExecutionEngine
from actors.aio import AsyncExecutionEngine
from actors.web import HubServer, create_app
from messages import Exec, ExecutionConfig, ExecutionRequest

TOKEN = "bench-token"
TERMINAL = {"completed", "failed", "cancelled"}
Rates = tuple[float, float]
"""(events per second, output lines per second)"""

# The SSE clients, in a process of their own: prints "ready" once every client
# is subscribed, then one JSON line per client: events, lines, the monotonic end.
CLIENTS = """
import asyncio, json, sys, time
import httpx
url, token, clients, expected = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
TERMINAL = {"completed", "failed", "cancelled"}

async def main():
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=clients + 5)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=600) as c:
        ready = asyncio.Semaphore(0)

        async def reader():
            events = lines = ended = 0
            kind = None
            async with c.stream("GET", "/api/events") as response:
                it = response.aiter_lines()
                await anext(it)
                ready.release()
                async for line in it:
                    if line.startswith("event: "):
                        kind = line[7:]
                        events += 1
                        if kind in TERMINAL:
                            ended += 1
                            if ended == expected:
                                return events, lines, time.monotonic()
                    elif line.startswith("data: ") and kind in ("stdout", "stderr"):
                        lines += len(json.loads(line[6:])["lines"])
            return events, lines, time.monotonic()

        tasks = [asyncio.create_task(reader()) for _ in range(clients)]
        for _ in range(clients):
            await ready.acquire()
        print("ready", flush=True)
        for events, lines, end in await asyncio.gather(*tasks):
            print(json.dumps([events, lines, end]), flush=True)

asyncio.run(main())
"""


def workload(executions: int, lines: int) -> list[ExecutionRequest]:
    """Executions that each print ``lines`` lines, flushed one by one."""
    code = f"import sys\nfor i in range({lines}): print(i, flush=True)"
    return [
        ExecutionRequest(command=Exec(program=sys.executable, args=("-c", code)))
        for _ in range(executions)
    ]


async def in_process(engine: ExecutionEngine, requests: list[ExecutionRequest]) -> Rates:
    """Events and lines per second read from one ``events()`` stream."""
    aengine = AsyncExecutionEngine(engine=engine)
    events = lines = ended = 0
    async with aengine.events() as stream:
        start = time.monotonic()
        for request in requests:
            await aengine.execute(request)
        async for event in stream:
            events += 1
            if event.type in ("stdout", "stderr"):
                lines += len(event.lines)
            elif event.type in TERMINAL:
                ended += 1
                if ended == len(requests):
                    break
    elapsed = time.monotonic() - start
    return events / elapsed, lines / elapsed


def over_sse(url: str, clients: int, requests: list[ExecutionRequest]) -> Rates:
    """Events and lines per second each of ``clients`` SSE clients received (the means)."""
    argv = [sys.executable, "-c", CLIENTS, url, TOKEN, str(clients), str(len(requests))]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError("the SSE clients did not start")
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
        ) as client:
            start = time.monotonic()
            for request in requests:
                body = request.model_dump(mode="json", exclude={"id"})
                client.post("/api/executions", json=body).raise_for_status()
        results = [json.loads(line) for line in child.stdout]
    if child.returncode != 0 or len(results) != clients:
        raise RuntimeError(f"the SSE clients failed (exit {child.returncode})")
    events = sum(r[0] / (r[2] - start) for r in results) / clients
    lines = sum(r[1] / (r[2] - start) for r in results) / clients
    return events, lines


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
        one = over_sse(url, 1, workload(executions, lines))
        fifty = over_sse(url, 50, workload(executions, lines))
        server.should_exit = True
        thread.join(30)
    for name, (events, lines_s) in (
        ("in-process events()", base),
        ("SSE, 1 client", one),
        ("SSE, 50 clients", fifty),
    ):
        print(
            f"{name:20} {events:9,.0f} events/s {lines_s:10,.0f} lines/s per reader"
            f"  (ratio {events / base[0]:.2f} events, {lines_s / base[1]:.2f} lines)"
        )


if __name__ == "__main__":
    main()
