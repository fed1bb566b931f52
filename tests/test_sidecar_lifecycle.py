"""The sidecar's end (stdin closed, SIGTERM) and a client that stops reading."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests._sidecar import Sidecar

# The engine's default kill grace is 2 s; the contract gives the groups that plus 1 s.
GONE_WITHIN_S = 2.0 + 1.0
# A loaded CI machine: the sidecar itself takes a while to start and to exit.
EXIT_WITHIN_S = 30.0


def group_alive(pgid: int) -> bool:
    """True while any process is in the process group."""
    for process in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(process.info["pid"]) == pgid and process.status() != "zombie":
                return True
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return False


def start_stubborn_group(client: Sidecar) -> int:
    """Run a command whose group has a child ignoring SIGTERM; the group's id."""
    command = "trap '' TERM; sleep 300 & sleep 300; wait"
    params: dict[str, Any] = {"command": {"kind": "shell", "command": command}}
    execution_id = client.call("execute_command", params)["execution_id"]
    started = client.wait_for(
        lambda m: (
            isinstance(m, dict)
            and m.get("method") == "execution_event"
            and m["params"]["execution_id"] == execution_id
        )
    )
    assert isinstance(started, dict)
    pid: int = started["params"]["pid"]
    assert group_alive(pid)
    return pid


def wait_gone(pgid: int, within: float) -> float:
    """Seconds until the group is empty; fails after ``within``."""
    start = time.monotonic()
    while group_alive(pgid):
        assert time.monotonic() - start < within, f"process group {pgid} still alive"
        time.sleep(0.05)
    return time.monotonic() - start


def test_closing_stdin_kills_every_group_and_exits_0(tmp_path: Path) -> None:
    client = Sidecar(log_dir=tmp_path / "logs")
    pgid = start_stubborn_group(client)
    client.stdin.close()
    wait_gone(pgid, GONE_WITHIN_S + 5.0)  # + the time to notice EOF on a busy machine
    assert client.proc.wait(EXIT_WITHIN_S) == 0
    client.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_kills_every_group_and_ends_the_sidecar(tmp_path: Path, signum: int) -> None:
    client = Sidecar(log_dir=tmp_path / "logs")
    pgid = start_stubborn_group(client)
    client.proc.send_signal(signum)
    wait_gone(pgid, GONE_WITHIN_S + 5.0)
    assert client.proc.wait(EXIT_WITHIN_S) == 128 + signum
    client.close()


def test_a_client_that_stops_reading_stalls_nothing_and_costs_bounded_memory(
    tmp_path: Path,
) -> None:
    client = Sidecar("--max-output", "4M", log_dir=tmp_path / "logs", read=False)
    # 40 MB of short lines, far more than the pipe and the writer's backlog hold.
    code = "import sys\nfor i in range(4_000_000): sys.stdout.write('line %d\\n' % i)"
    params = {"command": {"kind": "exec", "program": "python3", "args": ["-c", code]}}
    client.request("execute_command", params)
    sidecar = psutil.Process(client.proc.pid)
    # The engine goes on: the child finishes although nobody reads the sidecar.
    deadline = time.monotonic() + 60
    while True:
        children = [p for p in sidecar.children(recursive=True) if p.status() != "zombie"]
        seen_child = bool(children) or time.monotonic() > deadline - 55
        if seen_child and not children:
            break
        assert time.monotonic() < deadline, "the child did not finish while the client slept"
        time.sleep(0.1)
    assert sidecar.memory_info().rss < 400 * 1024 * 1024
    client.start_reading()
    answer = client.response(1000)
    execution_id = answer["result"]["execution_id"]
    terminal = client.terminal(execution_id)
    assert terminal["type"] == "completed"
    seqs = [e["seq"] for e in client.events(execution_id)]
    assert seqs == list(range(1, len(seqs) + 1))
    result = client.call("get_execution_result", {"execution_id": execution_id})
    assert result["status"] == "completed"
    assert result["stdout_truncated"] is True
    assert client.close() == 0
