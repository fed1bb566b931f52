"""The node side, run in this process: frames of a child, releasing it, signalling its group."""

from __future__ import annotations

import os
import signal
import sys
import time

from actors.backends import LaunchSpec
from actors.ray import _node
from actors.ray.testing import LocalRayHead


def spec(code: str, stdin: bytes | None = None) -> LaunchSpec:
    return LaunchSpec(argv=(sys.executable, "-c", code), cwd=None, stdin=stdin)


def test_a_child_yields_started_then_output_eof_and_exit_in_order(
    ray_head: LocalRayHead,
) -> None:
    code = "import sys; data = sys.stdin.read(); print(data.upper()); sys.exit(4)"
    frames = list(_node.run_child(spec(code, stdin=b"abc" * 100_000)))
    assert frames[0][0] == "started"
    out = b"".join(f[2] for f in frames if f[0] == "out" and f[1] == 0)
    assert out == b"ABC" * 100_000 + b"\n"
    assert ("exit", 4) in frames
    assert sorted(f[1] for f in frames if f[0] == "eof") == [0, 1]


def test_a_program_that_does_not_exist_yields_one_spawn_error() -> None:
    frames = list(_node.run_child(LaunchSpec(argv=("/no/such/x",), cwd=None, stdin=None)))
    assert len(frames) == 1 and frames[0][0] == "spawn_error"


def test_a_child_that_ignores_its_stdin_still_ends(ray_head: LocalRayHead) -> None:
    frames = list(_node.run_child(spec("pass", stdin=b"x" * 1_000_000)))
    assert ("exit", 0) in frames


def test_signal_group_reaches_the_group_and_a_release_ends_a_held_child(
    ray_head: LocalRayHead,
) -> None:
    code = "import subprocess; subprocess.Popen(['sleep', '60'], start_new_session=True)"
    gen = _node.run_child(spec(code + "; import time; time.sleep(60)"))
    _, pid, starttime, _node_id, _worker = next(gen)
    _node.signal_group(pid, starttime, signal.SIGTERM)
    frames = []
    for frame in gen:
        frames.append(frame)
        if frame[0] == "exit":
            break
    assert ("exit", -signal.SIGTERM) in frames
    began = time.monotonic()
    _node.signal_group(pid, starttime, 0)  # the escaped sleep still holds the pipes
    rest = list(gen)
    assert time.monotonic() - began < 5
    assert all(frame[0] != "exit" for frame in rest)


def test_signal_group_spares_a_pid_whose_start_time_differs() -> None:
    _node.signal_group(os.getpid(), "not-my-start-time", signal.SIGKILL)
