"""``examples/tk_monitor.py`` shows every execution and its output, on a virtual X server."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# X servers use /tmp whatever TMPDIR says.
X_TMP = Path("/tmp")
X_SOCKETS = X_TMP / ".X11-unix"
XVFB_START_TIMEOUT_S = 10.0


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(what: str, reason: str) -> None:
    """Skip without ``what``; under CI=true, fail instead: CI must provide it."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: .ci/run must provide {what})", pytrace=False)
    pytest.skip(reason)


def need_tkinter() -> None:
    try:
        import tkinter  # noqa: F401
    except ImportError as exc:
        require("tkinter", f"this Python ({sys.executable}) has no tkinter: {exc}")


def free_display() -> int:
    """A display number with neither a lock file nor a socket."""
    for number in range(99, 1000):
        lock = X_TMP / f".X{number}-lock"
        if not lock.exists() and not (X_SOCKETS / f"X{number}").exists():
            return number
    raise RuntimeError("no free X display number between 99 and 999")


@pytest.fixture
def display() -> Iterator[str]:
    """A fresh Xvfb server; its DISPLAY value. Killed at teardown."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        require("Xvfb", "Xvfb is not installed (Debian: apt-get install -y xvfb)")
    need_tkinter()
    number = free_display()
    # -displayfd would be neater, but the socket appearing is enough and portable.
    server = subprocess.Popen(
        [str(xvfb), f":{number}", "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + XVFB_START_TIMEOUT_S
        while not (X_SOCKETS / f"X{number}").exists():
            if server.poll() is not None:
                err = server.stderr.read().decode(errors="replace") if server.stderr else ""
                pytest.fail(f"Xvfb :{number} exited with {server.returncode}: {err[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"Xvfb :{number} did not open its socket in {XVFB_START_TIMEOUT_S}s")
            time.sleep(0.02)
        yield f":{number}"
    finally:
        server.terminate()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stderr is not None:
            server.stderr.close()


def run_monitor(display: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(tmp_path), DISPLAY=display)
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / "tk_monitor.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def parse(stdout: str) -> tuple[dict[str, tuple[str, str]], dict[str, list[str]]]:
    """The tree rows (id -> command, status) and each output pane (id -> lines)."""
    rows: dict[str, tuple[str, str]] = {}
    panes: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        if m := re.fullmatch(r"row (\w{8}) \| (.*) \| (\w+)", line):
            rows[m[1]] = (m[2], m[3])
        elif m := re.fullmatch(r"text (\w{8}) \| (.*)", line):
            panes.setdefault(m[1], []).append(m[2])
    return rows, panes


def test_the_monitor_lists_each_execution_with_its_output_and_final_status(
    display: str, tmp_path: Path
) -> None:
    proc = run_monitor(display, tmp_path, "--self-test")
    assert proc.returncode == 0, proc.stderr
    rows, panes = parse(proc.stdout)
    by_command = {command: (short, status) for short, (command, status) in rows.items()}
    expected = {
        'for i in 1 2 3; do echo "count $i"; sleep 0.1; done': (
            "completed",
            ["count 1", "count 2", "count 3", "[completed] exit 0"],
        ),
        "echo to stdout; echo to stderr >&2": ("completed", ["to stdout", "to stderr"]),
        "echo about to fail; exit 3": ("failed", ["about to fail", "exited with code 3"]),
        "echo sleeping; sleep 30": ("timed_out", ["sleeping", "[timed_out] timed out"]),
        "echo waiting to be cancelled; sleep 30": (
            "cancelled",
            ["waiting to be cancelled", "[cancelled]"],
        ),
    }
    assert set(by_command) == set(expected), proc.stdout
    for command, (status, fragments) in expected.items():
        short, shown = by_command[command]
        assert shown == status, f"{command!r}: {shown}\n{proc.stdout}"
        pane = "\n".join(panes[short])
        for fragment in fragments:
            assert fragment in pane, f"{command!r}: {fragment!r} not in\n{pane}"
    counts = panes[by_command['for i in 1 2 3; do echo "count $i"; sleep 0.1; done'][0]]
    assert counts[:3] == ["count 1", "count 2", "count 3"]


def test_the_self_test_mode_can_also_be_chosen_by_environment(
    display: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TK_MONITOR_SELF_TEST", "1")
    proc = run_monitor(display, tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows, _ = parse(proc.stdout)
    assert len(rows) == 5
    assert {status for _, status in rows.values()} == {
        "completed",
        "failed",
        "timed_out",
        "cancelled",
    }


def test_without_a_display_the_monitor_says_so_and_exits_2(tmp_path: Path) -> None:
    need_tkinter()
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "tk_monitor.py"), "--self-test"],
        env=dict(env, PYTHONPATH=str(ROOT), TMPDIR=str(tmp_path)),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "cannot open a window" in proc.stderr
