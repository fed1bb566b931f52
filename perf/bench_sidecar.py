"""The sidecar over pipes vs the library in-process: a status round trip, 1,000 ``true``.

The client is Python, as simple as a front end's: it writes one JSON line per
request to the sidecar's stdin and reads lines from its stdout, skipping the
``execution_event`` notifications it does not wait for.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from _common import engine, make_runner

from actors import ExecutionEngine
from messages import Exec, ExecutionRequest

ROOT = Path(__file__).resolve().parents[1]
JOBS = 8
_TERMINAL = (b'"type":"completed"', b'"type":"failed"', b'"type":"cancelled"')

# One sidecar and one engine per worker process, reused by every value it measures.
_sidecars: dict[str, Sidecar] = {}
_engines: dict[str, ExecutionEngine] = {}


class Sidecar:
    """``python -m actors serve --stdio`` as a child, driven line by line."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "actors", "serve", "--stdio", "--no-log", "-j", str(JOBS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=os.environ | {"PYTHONPATH": str(ROOT)},
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin: IO[bytes] = self.proc.stdin
        self.stdout: IO[bytes] = self.proc.stdout
        self.next_id = 0
        true = {"command": {"kind": "exec", "program": "true"}}
        self.execution_id: str = self.call("execute_command", true)["execution_id"]

    def call(self, method: str, params: dict[str, Any]) -> Any:
        """One request and its response (notifications read past)."""
        self.next_id += 1
        message = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}
        self.stdin.write(json.dumps(message).encode() + b"\n")
        self.stdin.flush()
        while True:
            line = self.stdout.readline()
            if not line:
                raise RuntimeError("the sidecar closed stdout")
            if b'"method"' not in line:
                return json.loads(line)["result"]

    def run_many(self, count: int) -> None:
        """``count`` x ``true`` in one write; return once every one has ended."""
        lines = []
        for _ in range(count):
            self.next_id += 1
            params = {"command": {"kind": "exec", "program": "true"}}
            message = {"jsonrpc": "2.0", "id": self.next_id, "method": "execute_command"}
            lines.append(json.dumps(message | {"params": params}).encode() + b"\n")
        self.stdin.write(b"".join(lines))
        self.stdin.flush()
        ended = 0
        while ended < count:
            line = self.stdout.readline()
            if not line:
                raise RuntimeError("the sidecar closed stdout")
            if line.startswith(b'{"jsonrpc":"2.0","method":"execution_event"') and any(
                t in line for t in _TERMINAL
            ):
                ended += 1


def sidecar() -> Sidecar:
    """This worker's sidecar."""
    return _sidecars.get("s") or _sidecars.setdefault("s", Sidecar())


def library() -> ExecutionEngine:
    """This worker's in-process engine, at the sidecar's concurrency."""
    return _engines.get("e") or _engines.setdefault("e", engine(max_concurrent_executions=JOBS))


def bench_status_sidecar(loops: int) -> float:
    """``get_execution_status`` through the sidecar, ``loops`` round trips."""
    client = sidecar()
    params = {"execution_id": client.execution_id}
    start = time.perf_counter()
    for _ in range(loops):
        client.call("get_execution_status", params)
    return time.perf_counter() - start


def bench_status_library(loops: int) -> float:
    """``engine.get_status`` in-process, ``loops`` times."""
    eng = library()
    execution_id = eng.execute(ExecutionRequest(command=Exec(program="true")))
    start = time.perf_counter()
    for _ in range(loops):
        eng.get_status(execution_id)
    return time.perf_counter() - start


def bench_many_sidecar(loops: int, count: int) -> float:
    """``count`` x ``true`` through the sidecar, until every terminal event is read."""
    client = sidecar()
    start = time.perf_counter()
    for _ in range(loops):
        client.run_many(count)
    return time.perf_counter() - start


def bench_many_library(loops: int, count: int) -> float:
    """``count`` x ``true`` through the library, until every result is there."""
    eng = library()
    command = Exec(program="true")
    start = time.perf_counter()
    for _ in range(loops):
        ids = [eng.execute(ExecutionRequest(command=command)) for _ in range(count)]
        for execution_id in ids:
            eng.get_result(execution_id, timeout=60)
    return time.perf_counter() - start


if __name__ == "__main__":
    runner, args = make_runner(processes=4, values=3)
    count = 40 if args.smoke else 1000
    runner.bench_time_func("sidecar-status-baseline", bench_status_library)
    runner.bench_time_func("sidecar-status-engine", bench_status_sidecar)
    for name, func in (("baseline", bench_many_library), ("engine", bench_many_sidecar)):
        runner.bench_time_func(f"sidecar-{count}-{name}", func, count, inner_loops=count)
