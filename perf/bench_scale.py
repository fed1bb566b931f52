"""Scale: 1,000 concurrent ``sleep 1``, and memory with 10,000 retained results.

Wall time is the pyperf value; peak threads and RSS go to the figures file.
The baseline starts the same sleeps with bare ``Popen`` from one thread and
waits for them.
"""

from __future__ import annotations

import gc
import subprocess
import time

from _common import PeakSampler, engine, make_runner, record_figure, rss_bytes

from messages import Exec, ExecutionRequest

ARGS = None


def bench_sleeps_bare(loops: int, count: int, seconds: str) -> float:
    """``count`` x ``Popen(['sleep', seconds])`` at once, then wait for all."""
    total = 0.0
    for _ in range(loops):
        start = time.perf_counter()
        procs = [subprocess.Popen(["sleep", seconds]) for _ in range(count)]
        for proc in procs:
            proc.wait()
        total += time.perf_counter() - start
    return total


def bench_sleeps_engine(loops: int, count: int, seconds: str) -> float:
    """``count`` x ``sleep`` at ``max_concurrent_executions=count``."""
    total = 0.0
    for _ in range(loops):
        with engine(max_concurrent_executions=count, max_output_size_bytes=1024) as eng:
            with PeakSampler() as peak:
                start = time.perf_counter()
                command = Exec(program="sleep", args=(seconds,))
                ids = [eng.execute(ExecutionRequest(command=command)) for _ in range(count)]
                results = [eng.get_result(i, timeout=120) for i in ids]
                total += time.perf_counter() - start
            if any(not r.success for r in results):
                raise AssertionError("a sleep did not complete")
        record_figure(ARGS, "scale-peak-threads", peak.peak_threads)
        record_figure(ARGS, "scale-peak-rss-mb", peak.peak_rss / 2**20)
    return total


def bench_retained(loops: int, count: int, size: int) -> float:
    """Run ``count`` executions printing ``size`` bytes; RSS growth while retained."""
    total = 0.0
    for _ in range(loops):
        gc.collect()
        before = rss_bytes()
        with engine(max_in_memory_executions=count + 10, max_concurrent_executions=8) as eng:
            command = Exec(program="printf", args=(f"%{size - 1}s\\n", "x"))
            start = time.perf_counter()
            ids = [eng.execute(ExecutionRequest(command=command)) for _ in range(count)]
            results = [eng.get_result(i, timeout=120) for i in ids]
            total += time.perf_counter() - start
            del results
            gc.collect()
            record_figure(ARGS, "retained-rss-mb", (rss_bytes() - before) / 2**20)
        # The floor: the same output kept as plain strings.
        gc.collect()
        before = rss_bytes()
        texts = [("x" * (size - 1)) + str(i) for i in range(count)]
        record_figure(ARGS, "retained-rss-baseline-mb", (rss_bytes() - before) / 2**20)
        del texts
    return total


if __name__ == "__main__":
    runner, ARGS = make_runner(processes=3, values=1, loops=1)
    count, seconds = (50, "0.1") if ARGS.smoke else (1000, "1")
    runner.bench_time_func("scale-sleeps-baseline", bench_sleeps_bare, count, seconds)
    runner.bench_time_func("scale-sleeps-engine", bench_sleeps_engine, count, seconds)
    retained = 200 if ARGS.smoke else 10_000
    runner.bench_time_func("scale-retained", bench_retained, retained, 10 * 1024)
