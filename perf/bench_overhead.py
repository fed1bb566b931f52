"""Overhead: one ``true`` end to end, sequentially, vs ``subprocess.run``."""

from __future__ import annotations

import subprocess
import time

from _common import engine, make_runner

from actors import ExecutionEngine
from messages import Exec, ExecutionRequest

# One engine per worker process, reused by every value it measures.
_engines: dict[str, ExecutionEngine] = {}


def bench_baseline(loops: int) -> float:
    """``subprocess.run(['true'], capture_output=True)``, ``loops`` times."""
    start = time.perf_counter()
    for _ in range(loops):
        subprocess.run(["true"], capture_output=True, check=False)
    return time.perf_counter() - start


def bench_engine(loops: int) -> float:
    """``execute`` + ``get_result`` of ``Exec("true")``, ``loops`` times."""
    eng = _engines.get("engine") or _engines.setdefault("engine", engine())
    command = Exec(program="true")
    start = time.perf_counter()
    for _ in range(loops):
        eng.get_result(eng.execute(ExecutionRequest(command=command)), timeout=30)
    return time.perf_counter() - start


if __name__ == "__main__":
    runner, args = make_runner(processes=6, values=3)
    runner.bench_time_func("overhead-baseline", bench_baseline)
    runner.bench_time_func("overhead-engine", bench_engine)
