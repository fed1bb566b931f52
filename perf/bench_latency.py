"""Latency: a line written and flushed by the child until the receiver runs.

The child stamps each line with ``time.monotonic_ns()`` (one clock for every
process on Linux) and waits 5 ms between lines; the receiver subtracts. The
host process is otherwise idle: a host thread busy in Python would add up to
the 5 ms GIL switch interval to every thread-based design, this one included.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from typing import Any

from _common import engine, make_runner

from actors import signals
from messages import Exec, ExecutionRequest

CHILD = """
import sys, time
out = sys.stdout
for _ in range(int(sys.argv[1])):
    out.write(f"{time.monotonic_ns()}\\n")
    out.flush()
    time.sleep(0.005)
"""


def percentile(samples: list[int], q: float) -> float:
    """The ``q`` quantile of ``samples`` in seconds."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e9


def bare_samples(count: int) -> list[int]:
    """Latencies (ns) with a bare reader thread calling ``readline``."""
    samples: list[int] = []
    proc = subprocess.Popen(
        [sys.executable, "-u", "-c", CHILD, str(count)], stdout=subprocess.PIPE, bufsize=0
    )
    assert proc.stdout is not None
    stream = proc.stdout

    def read() -> None:
        while line := stream.readline():
            samples.append(time.monotonic_ns() - int(line))

    reader = threading.Thread(target=read)
    reader.start()
    reader.join()
    proc.wait()
    stream.close()
    return samples


def engine_samples(count: int) -> list[int]:
    """Latencies (ns) through the engine to a ``signals.stdout`` receiver."""
    samples: list[int] = []

    def receive(_sender: Any, *, event: Any) -> None:
        now = time.monotonic_ns()
        samples.extend(now - int(line) for line in event.lines)

    with engine() as eng:
        signals.stdout.connect(receive, sender=eng)
        execution_id = eng.execute(
            ExecutionRequest(
                command=Exec(program=sys.executable, args=("-u", "-c", CHILD, str(count)))
            )
        )
        eng.get_result(execution_id, timeout=60)
        eng.shutdown()
        signals.stdout.disconnect(receive, sender=eng)
    return samples


def bench(loops: int, collect: Any, q: float, count: int) -> float:
    """pyperf value: the ``q`` quantile of one run of ``count`` lines (loops averaged)."""
    return sum(percentile(collect(count), q) for _ in range(loops))


if __name__ == "__main__":
    runner, args = make_runner(processes=5, values=3, loops=1)
    count = 30 if args.smoke else 300
    for name, q in (("p50", 0.5), ("p99", 0.99)):
        runner.bench_time_func(f"latency-{name}-baseline", bench, bare_samples, q, count)
        runner.bench_time_func(f"latency-{name}-engine", bench, engine_samples, q, count)
