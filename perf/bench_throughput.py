"""Throughput: 1,000 ``true`` at 8 and 64 slots vs a thread pool of the same size."""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from _common import engine, make_runner

from messages import Exec, ExecutionRequest


def run_true(_: int) -> None:
    subprocess.run(["true"], capture_output=True, check=False)


def bench_pool(loops: int, size: int, count: int) -> float:
    """``count`` x ``subprocess.run(['true'])`` on a ``ThreadPoolExecutor(size)``."""
    total = 0.0
    for _ in range(loops):
        with ThreadPoolExecutor(size) as pool:
            start = time.perf_counter()
            list(pool.map(run_true, range(count)))
            total += time.perf_counter() - start
    return total


def bench_engine(loops: int, size: int, count: int) -> float:
    """``count`` executions of ``true`` at ``max_concurrent_executions=size``."""
    total = 0.0
    command = Exec(program="true")
    for _ in range(loops):
        with engine(max_concurrent_executions=size) as eng:
            start = time.perf_counter()
            ids = [eng.execute(ExecutionRequest(command=command)) for _ in range(count)]
            for execution_id in ids:
                eng.get_result(execution_id, timeout=60)
            total += time.perf_counter() - start
    return total


if __name__ == "__main__":
    runner, args = make_runner(processes=5, values=2, loops=1)
    count = 40 if args.smoke else 1000
    for size in (8, 64):
        runner.bench_time_func(
            f"throughput-{size}-baseline", bench_pool, size, count, inner_loops=count
        )
        runner.bench_time_func(
            f"throughput-{size}-engine", bench_engine, size, count, inner_loops=count
        )
