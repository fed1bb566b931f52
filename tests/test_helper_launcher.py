"""The helper-process launcher on its own: spawn, output, exit, signals, wake, close, loss."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from actors.backends import LaunchSpec
from actors.testing import LeakCheck
from tests._helper_launcher import HelperChild, HelperProcessLauncher
from tests.conformance._support import sleep_marker, wait_gone

DEADLINE_S = 20.0


class RecordingSink:
    """Collects a child's facts in order."""

    def __init__(self) -> None:
        self.output: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}
        self.eof: list[str] = []
        self.exits: list[int] = []
        self.lost: list[str] = []

    def on_output(self, stream: str, data: bytes) -> None:
        self.output[stream] += data

    def on_eof(self, stream: str) -> None:
        self.eof.append(stream)

    def on_exit(self, status: int) -> None:
        self.exits.append(status)

    def on_lost(self, message: str) -> None:
        self.lost.append(message)

    @property
    def ended(self) -> bool:
        return bool(self.lost) or (bool(self.exits) and len(self.eof) == 2)


def pump_until(child: HelperChild, sink: RecordingSink, done: Callable[[], bool]) -> None:
    """Pump ``child`` into ``sink`` until ``done()``; fail after ``DEADLINE_S``."""
    deadline = time.monotonic() + DEADLINE_S
    while not done():
        left = deadline - time.monotonic()
        assert left > 0, f"not done within {DEADLINE_S}s: {vars(sink)}"
        child.pump(sink, left)


def spec(code: str, *, stdin: bytes | None = None, cwd: Path | None = None) -> LaunchSpec:
    """A child running ``code`` in this Python."""
    return LaunchSpec(argv=(sys.executable, "-c", code), cwd=cwd, stdin=stdin)


@pytest.fixture
def launcher() -> Iterator[HelperProcessLauncher]:
    """A helper launcher; closed after the test, and nothing of it may be left."""
    check = LeakCheck()
    launcher = HelperProcessLauncher()
    yield launcher
    launcher.close()
    check.assert_no_leaks("HelperProcessLauncher.close()")


def run_to_end(launcher: HelperProcessLauncher, launch: LaunchSpec) -> RecordingSink:
    """Spawn, pump to the end, close; the sink holds every fact."""
    child = launcher.spawn(launch)
    sink = RecordingSink()
    try:
        pump_until(child, sink, lambda: sink.ended)
    finally:
        child.close()
    return sink


def test_a_child_streams_its_output_then_reports_both_eofs_and_its_exit(
    launcher: HelperProcessLauncher,
) -> None:
    code = "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"
    sink = run_to_end(launcher, spec(code))
    assert sink.output == {"stdout": bytearray(b"out\n"), "stderr": bytearray(b"err\n")}
    assert sorted(sink.eof) == ["stderr", "stdout"]
    assert sink.exits == [3]
    assert sink.lost == []


def test_the_child_pid_is_its_main_process_on_the_helper(
    launcher: HelperProcessLauncher,
) -> None:
    child = launcher.spawn(spec("import os; print(os.getpid(), os.getppid())"))
    sink = RecordingSink()
    pump_until(child, sink, lambda: sink.ended)
    child.close()
    assert sink.output["stdout"].decode().split() == [str(child.pid), str(launcher.helper_pid)]
    assert child.node == "helper"


def test_a_death_by_signal_reports_minus_the_signal(launcher: HelperProcessLauncher) -> None:
    sink = run_to_end(launcher, spec("import os, signal; os.kill(os.getpid(), signal.SIGKILL)"))
    assert sink.exits == [-signal.SIGKILL]


def test_stdin_bytes_are_written_then_closed(launcher: HelperProcessLauncher) -> None:
    payload = b"x" * (1024 * 1024) + b"end"
    code = "import sys; data = sys.stdin.buffer.read(); print(len(data), data[-3:].decode())"
    sink = run_to_end(launcher, spec(code, stdin=payload))
    assert sink.output["stdout"] == f"{len(payload)} end\n".encode()


def test_without_stdin_the_child_reads_dev_null(launcher: HelperProcessLauncher) -> None:
    sink = run_to_end(launcher, spec("import os; print(os.readlink('/proc/self/fd/0'))"))
    assert sink.output["stdout"] == b"/dev/null\n"


def test_env_and_cwd_reach_the_child(launcher: HelperProcessLauncher, tmp_path: Path) -> None:
    code = "import os; print(os.environ['HELPER_TEST'], os.getcwd())"
    launch = LaunchSpec(
        argv=(sys.executable, "-c", code),
        cwd=tmp_path,
        stdin=None,
        env_overrides={"HELPER_TEST": "yes"},
    )
    sink = run_to_end(launcher, launch)
    assert sink.output["stdout"] == f"yes {os.path.realpath(tmp_path)}\n".encode()


def test_a_spawn_error_raises_the_helpers_os_error(launcher: HelperProcessLauncher) -> None:
    missing = "/nonexistent/helper-test-program"
    launch = LaunchSpec(argv=(missing,), cwd=None, stdin=None)
    with pytest.raises(FileNotFoundError) as info:
        launcher.spawn(launch)
    assert info.value.filename == missing


def test_signal_group_kills_the_child_and_its_grandchildren(
    launcher: HelperProcessLauncher,
) -> None:
    marker = sleep_marker()
    code = (
        "import subprocess, time\n"
        f"s = subprocess.Popen(['sleep', '{marker}']); print(s.pid, flush=True); s.wait()"
    )
    child = launcher.spawn(spec(code))
    sink = RecordingSink()
    pump_until(child, sink, lambda: sink.output["stdout"].endswith(b"\n"))
    child.signal_group(signal.SIGKILL)
    pump_until(child, sink, lambda: sink.ended)
    child.close()
    assert sink.exits == [-signal.SIGKILL]
    assert wait_gone([child.pid, int(sink.output["stdout"])]) == []


def test_wake_makes_a_blocked_pump_return_at_once(launcher: HelperProcessLauncher) -> None:
    child = launcher.spawn(spec("import time; time.sleep(300)"))
    returned = threading.Event()

    def pump() -> None:
        child.pump(RecordingSink(), None)
        returned.set()

    pumper = threading.Thread(target=pump)
    pumper.start()
    child.wake()
    assert returned.wait(DEADLINE_S)
    pumper.join()
    child.close()
    assert wait_gone([child.pid]) == []


def test_close_of_a_running_child_kills_its_group_on_the_helper(
    launcher: HelperProcessLauncher,
) -> None:
    child = launcher.spawn(spec("import time; time.sleep(300)"))
    child.close()
    assert wait_gone([child.pid]) == []


def test_closing_the_launcher_kills_every_child_and_ends_the_helper() -> None:
    check = LeakCheck()
    launcher = HelperProcessLauncher()
    children = [launcher.spawn(spec("import time; time.sleep(300)")) for _ in range(3)]
    launcher.close()
    assert wait_gone([launcher.helper_pid, *(c.pid for c in children)]) == []
    check.assert_no_leaks("HelperProcessLauncher.close()")


def test_a_helper_that_dies_reports_every_child_lost(launcher: HelperProcessLauncher) -> None:
    child = launcher.spawn(spec("import time; time.sleep(300)"))
    os.kill(launcher.helper_pid, signal.SIGKILL)
    sink = RecordingSink()
    pump_until(child, sink, lambda: bool(sink.lost))
    assert "helper" in sink.lost[0]
    # The orphan is no longer the helper's; the test kills its group itself.
    os.killpg(child.pid, signal.SIGKILL)
    assert wait_gone([child.pid]) == []
    child.close()


def test_kill_node_takes_the_helper_and_every_child_down_at_once(
    launcher: HelperProcessLauncher,
) -> None:
    children = [launcher.spawn(spec("import time; time.sleep(300)")) for _ in range(2)]
    helper_pid = launcher.helper_pid
    launcher.kill_node()
    sinks = [RecordingSink() for _ in children]
    for child, sink in zip(children, sinks, strict=True):
        pump_until(child, sink, lambda sink=sink: bool(sink.lost))  # type: ignore[misc]
        child.close()
    assert wait_gone([helper_pid, *(c.pid for c in children)]) == []


def test_the_next_spawn_after_a_lost_helper_runs_on_a_new_one(
    launcher: HelperProcessLauncher,
) -> None:
    first = launcher.helper_pid
    launcher.kill_node()
    sink = run_to_end(launcher, spec("print('again')"))
    assert sink.output["stdout"] == b"again\n"
    assert launcher.helper_pid != first


def test_a_child_that_exits_without_reading_its_stdin_costs_the_helper_nothing(
    launcher: HelperProcessLauncher,
) -> None:
    sink = run_to_end(launcher, spec("print('no reading')", stdin=b"x" * (1024 * 1024)))
    assert (sink.output["stdout"], sink.exits) == (bytearray(b"no reading\n"), [0])
    assert run_to_end(launcher, spec("print('still here')")).output["stdout"] == b"still here\n"


def test_abandon_stops_reading_yet_the_exit_is_still_reported(
    launcher: HelperProcessLauncher,
) -> None:
    marker = sleep_marker()
    # The escapee holds both pipes; the main process waits for SIGUSR1, sent after abandon.
    code = (
        "import signal, subprocess\n"
        "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})\n"
        f"s = subprocess.Popen(['sleep', '{marker}'], start_new_session=True)\n"
        "print(s.pid, flush=True)\n"
        "signal.sigwait({signal.SIGUSR1})"
    )
    child = launcher.spawn(spec(code))
    sink = RecordingSink()
    pump_until(child, sink, lambda: sink.output["stdout"].endswith(b"\n"))
    escaped = int(sink.output["stdout"])
    try:
        child.abandon()
        child.signal_group(signal.SIGUSR1)
        pump_until(child, sink, lambda: bool(sink.exits))
        assert (sink.exits, sink.eof) == ([0], [])
        child.close()
    finally:
        os.kill(escaped, signal.SIGKILL)
    assert wait_gone([child.pid, escaped]) == []
