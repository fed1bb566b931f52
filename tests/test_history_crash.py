"""SIGKILL a real host process at random moments; nothing it acknowledged is ever lost.

Each round starts ``tests._history_host`` on the same history file, kills it
with SIGKILL at a random moment, then opens a fresh engine on the file and
checks every line the host printed after a successful ``flush()``. The master
seed is printed (and taken from ``HISTORY_CRASH_SEED`` when set) so a failing
run can be replayed.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from uuid import UUID

import pytest

from actors import ExecutionEngine
from messages import ExecutionConfig, ExecutionStatus

BATCHES = 10
ROUNDS = 5
ROOT = Path(__file__).resolve().parent.parent


def _kill_at_random(path: Path, seed: int, delay: float) -> list[str]:
    """Run one host, SIGKILL it ``delay`` seconds after it is ready; return its output lines."""
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    host = subprocess.Popen(
        [sys.executable, "-m", "tests._history_host", str(path), str(seed)],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env=env,
    )
    assert host.stdout is not None
    try:
        assert host.stdout.readline() == b"ready\n", "the host did not start"
        chunks: list[bytes] = []
        reader = threading.Thread(target=lambda: chunks.append(host.stdout.read()))  # type: ignore[union-attr]
        reader.start()
        threading.Event().wait(delay)  # the random moment of the kill is the point here
        host.send_signal(signal.SIGKILL)
        host.wait(timeout=30)
        reader.join(timeout=30)
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()
        host.stdout.close()
    text = b"".join(chunks).decode()
    # A line cut by the kill was never acknowledged.
    return text.split("\n")[:-1]


def _check(path: Path, lines: list[str], where: str) -> tuple[int, int]:
    """Open a fresh engine on ``path`` and check every acknowledged line; returns counts."""
    submitted: set[UUID] = set()
    ended: dict[UUID, str] = {}
    running: set[UUID] = set()
    for line in lines:
        kind, text, *rest = line.split()
        if kind == "S":
            submitted.add(UUID(text))
        elif kind == "E":
            ended[UUID(text)] = rest[0]
        else:
            running.add(UUID(text))
    config = ExecutionConfig.testing(history_path=path, log_dir=None, enable_auto_cleanup=False)
    with ExecutionEngine(config) as engine:
        history = engine.history
        assert history is not None
        for execution_id in submitted:
            assert engine.get_status(execution_id).is_terminal, f"{where}: {execution_id}"
        for execution_id, status in ended.items():
            assert engine.get_result(execution_id).status.value == status, f"{where}"
        for execution_id in running:
            result = engine.get_result(execution_id)
            assert result.status is ExecutionStatus.INTERRUPTED, f"{where}: {execution_id}"
            assert result.exit_code is None and result.error and "interrupted" in result.error
        assert history.count(ExecutionStatus.PENDING) == 0, where
        assert history.count(ExecutionStatus.RUNNING) == 0, where
        interrupted = history.count(ExecutionStatus.INTERRUPTED)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)], where
    conn.close()
    return len(submitted), interrupted


MASTER_SEED = int(os.environ.get("HISTORY_CRASH_SEED", random.randrange(2**32)))


# Ten files of five kills each: fifty kills, each test well under the timeouts.
@pytest.mark.timeout(120)
@pytest.mark.parametrize("batch", range(BATCHES))
def test_a_host_killed_at_random_moments_loses_nothing_it_flushed(
    tmp_path: Path, batch: int
) -> None:
    master = MASTER_SEED
    print(f"history crash test: master seed {master} (HISTORY_CRASH_SEED={master} replays it)")
    rng = random.Random(f"{master}-{batch}")
    path = tmp_path / "history.sqlite3"
    acknowledged = interrupted = 0
    for round_ in range(ROUNDS):
        seed, delay = rng.randrange(2**32), rng.uniform(0.0, 0.6)
        where = (
            f"batch {batch} round {round_}, seed {seed}, kill after {delay:.3f}s"
            f" (master seed {master})"
        )
        print(where)
        lines = _kill_at_random(path, seed, delay)
        count, interrupted = _check(path, lines, where)
        acknowledged += count
    print(f"{acknowledged} acknowledged executions checked; {interrupted} interrupted in the file")
    assert acknowledged > ROUNDS, "the hosts acknowledged too little to prove anything"
    assert interrupted > 0, "no execution was ever interrupted"
