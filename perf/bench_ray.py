"""RayLauncher against the local launcher, in one run, as ratios; ``ray.get`` as the floor.

    python perf/bench_ray.py                 # starts a local 2-CPU head, about 3 minutes
    python perf/bench_ray.py --smoke         # tiny sizes: proves it runs
    python perf/bench_ray.py --address H:P   # an existing cluster

Figures (medians of ``--repeat`` runs):

- ``true x N``: N executions of ``true`` submitted at once, two at a time (the
  head's 2 CPUs, ``num_cpus=1``), wall time until the last result;
- ``one true``: one execution of ``true`` at a time, per execution;
- ``stream``: one child writing 2,000,000 lines of 60 bytes, until its result;
- the floor: ``ray.get`` of an empty task, one at a time.

Not pyperf: every pyperf worker process would have to join the cluster
(seconds) and warm Ray's workers up again.
"""

from __future__ import annotations

import os

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # before ray is imported

import argparse
import functools
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import ray

from actors import ExecutionEngine
from actors.backends import LocalLauncher
from actors.ray import RayLauncher
from actors.ray.testing import LocalRayHead
from messages import Exec, ExecutionConfig, ExecutionRequest, ExecutionStatus

STREAM = """
import sys
count = int(sys.argv[1])
pad = "x" * 51
out = sys.stdout.buffer
chunk = []
for i in range(count):
    chunk.append(f"{i:07d} {pad}\\n")
    if len(chunk) == 4096:
        out.write("".join(chunk).encode())
        chunk.clear()
out.write("".join(chunk).encode())
"""


def _empty() -> None:
    return None


def make_engine(launcher: Any) -> ExecutionEngine:
    """Two at a time, no log files, room for the whole stream."""
    config = ExecutionConfig.high_throughput(
        max_concurrent_executions=2,
        enable_auto_cleanup=False,
        progress_interval_ms=0,
        log_dir=None,
        max_output_size_bytes=512 * 1024 * 1024,
        max_in_memory_executions=100_000,
    )
    return ExecutionEngine(config, launcher=launcher)


def run_many(engine: ExecutionEngine, count: int) -> float:
    """Seconds for ``count`` executions of ``true`` submitted at once."""
    start = time.perf_counter()
    ids = [engine.execute(ExecutionRequest(command=Exec(program="true"))) for _ in range(count)]
    for execution_id in ids:
        assert engine.get_result(execution_id, timeout=600).status is ExecutionStatus.COMPLETED
    return time.perf_counter() - start


def run_one(engine: ExecutionEngine, count: int) -> float:
    """Seconds per execution of ``true``, one at a time."""
    start = time.perf_counter()
    for _ in range(count):
        execution_id = engine.execute(ExecutionRequest(command=Exec(program="true")))
        engine.get_result(execution_id, timeout=600)
    return (time.perf_counter() - start) / count


def run_stream(engine: ExecutionEngine, lines: int) -> float:
    """Seconds until the result of a child writing ``lines`` lines."""
    command = Exec(program=sys.executable, args=("-c", STREAM, str(lines)))
    start = time.perf_counter()
    execution_id = engine.execute(ExecutionRequest(command=command))
    result = engine.get_result(execution_id, timeout=1200)
    elapsed = time.perf_counter() - start
    assert result.status is ExecutionStatus.COMPLETED, result.error
    assert result.stdout.count("\n") == lines - 1, "lines lost"
    return elapsed


def median(fn: Callable[[], float], repeat: int) -> float:
    """The median of ``repeat`` calls, after one warm-up call."""
    fn()
    return statistics.median(fn() for _ in range(repeat))


def main() -> None:
    """Measure, then print one table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--address", help="an existing cluster (default: start a local head)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one value each")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    count, lines, repeat = (10, 20_000, 1) if args.smoke else (200, 2_000_000, args.repeat)
    tempfile.tempdir = "/tmp"
    with ExitStack() as stack:
        address = args.address
        if address is None:
            address = stack.enter_context(LocalRayHead(num_cpus=2)).address
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        stack.callback(ray.shutdown)
        empty = ray.remote(_empty)
        floor = median(
            lambda: statistics.mean(_timed(lambda: ray.get(empty.remote())) for _ in range(count)),
            repeat,
        )
        rows: list[tuple[str, float, float]] = []
        local = stack.enter_context(make_engine(LocalLauncher()))
        remote = stack.enter_context(make_engine(RayLauncher(address, num_cpus=1.0)))
        figures: tuple[tuple[str, Callable[[ExecutionEngine], float]], ...] = (
            (f"true x {count}, 2 at a time (s)", lambda e: run_many(e, count)),
            ("one true at a time (ms each)", lambda e: 1000 * run_one(e, count // 4)),
            (f"stream of {lines:,} lines (s)", lambda e: run_stream(e, lines)),
        )
        for name, fn in figures:
            here = median(functools.partial(fn, local), repeat)
            there = median(functools.partial(fn, remote), repeat)
            rows.append((name, here, there))
    print(f"floor: ray.get of an empty task, one at a time: {1000 * floor:.2f} ms")
    print(f"{'figure':<36} {'local':>10} {'ray':>10} {'ray/local':>10}")
    for name, here, there in rows:
        print(f"{name:<36} {here:>10.3f} {there:>10.3f} {there / here:>10.2f}")


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
