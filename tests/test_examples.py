"""Every example runs as is, as the README says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_example(name: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(tmp_path))
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / name)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_basic_example_streams_output_and_reports_each_outcome(tmp_path: Path) -> None:
    proc = run_example("basic.py", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "tick 3" in proc.stdout
    for outcome in ("completed", "failed", "timed_out"):
        assert outcome in proc.stdout
    assert "exited with code 3" in proc.stdout


def test_event_handler_example_feeds_the_handler_and_each_typed_receiver(tmp_path: Path) -> None:
    proc = run_example("event_handler.py", tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for line in ("stdout     [", "stderr     [", "started    [", "completed  [", "cancelled  ["):
        assert line in out
    assert "] hello" in out
    assert "] oops" in out
    assert "reason=exit_code: the command exited with code 3" in out
    # The handler saw every execution end; the weak=False closure counted every line.
    assert "handler counted: cancelled=1, completed=2, failed=1, started=" in out
    assert "closure counted: stderr=1, stdout=4" in out


def test_actor_messages_example_asks_and_tells_the_supervisor_from_several_threads(
    tmp_path: Path,
) -> None:
    proc = run_example("actor_messages.py", tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for n in (1, 2, 3):
        assert f"app-{n}  submitted" in out
        assert f"stdout='worker {n} done'" in out
    assert "GetResult -> None" in out
    assert out.count("result    ") == 6
    assert "metrics   running=" in out
    assert ": cancelled" in out
    assert "ask(Cancel) of an ended execution -> False" in out
    assert "list      2 failed" in out
    assert "cleanup   evicted 7" in out
    assert "error     through ask: ExecutionNotFound" in out


def test_asyncio_bridge_example_awaits_results_and_events_while_the_loop_ticks(
    tmp_path: Path,
) -> None:
    proc = run_example("asyncio_bridge.py", tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for name in ("alpha", "beta"):
        for i in (1, 2, 3):
            assert f"stdout: {name} {i}" in out
        assert f"stdout=['{name} 1', '{name} 2', '{name} 3']" in out
    assert "failed exit=4" in out
    assert "the event loop stayed responsive" in out
