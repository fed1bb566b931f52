"""Resource exhaustion: no fds, no processes, no memory, no disk; the engine keeps serving.

The rlimit tests run in a child Python process, so lowering a limit never
touches the test runner itself.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from actors import LaunchSpec, LocalLauncher
from actors.testing import EventRecorder
from messages import ExecutionStatus, Failed, OversizedOutputStrategy, Shell
from tests.conftest import EngineFactory, py, request

REPO_ROOT = Path(__file__).parents[1]
RESULT_TIMEOUT = 30.0
CHILD_TIMEOUT = 120.0

# Shared by the child scripts: run one request, report how it ended.
CHILD_PRELUDE = """
import json, os, resource, sys
from pathlib import Path

from actors import ExecutionEngine
from actors.testing import EventRecorder
from messages import Exec, ExecutionConfig, ExecutionRequest


def run(engine, recorder, program="true"):
    execution_id = engine.execute(ExecutionRequest(command=Exec(program=program)))
    result = engine.get_result(execution_id, timeout=30)
    terminal = recorder.wait_terminal(execution_id, timeout=30)
    return {
        "status": result.status.value,
        "reason": getattr(terminal, "reason", None),
        "exit_code": result.exit_code,
        "error": result.error,
    }


def lowest_free_fd():
    fd = os.open(os.devnull, os.O_RDONLY)
    os.close(fd)
    return fd


def open_fds():
    return sorted(int(fd) for fd in os.listdir("/proc/self/fd") if int(fd) != lowest_free_fd())
"""

# Lowers RLIMIT_NOFILE to the lowest free fd plus 0, 1, 2... so every step of
# a spawn (log file, pipes, pidfd, eventfd) fails in turn, then restores it.
FD_LIMIT_CHILD = (
    CHILD_PRELUDE
    + """
engine = ExecutionEngine(
    ExecutionConfig.testing(log_dir=Path(sys.argv[1]), enable_auto_cleanup=False)
)
report = {"steps": []}
with EventRecorder(engine) as recorder:
    report["before"] = run(engine, recorder)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    fds_before = open_fds()
    base = lowest_free_fd()
    for extra in range(14):
        resource.setrlimit(resource.RLIMIT_NOFILE, (base + extra, hard))
        try:
            step = run(engine, recorder)
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        report["steps"].append(dict(step, extra=extra))
    report["after"] = run(engine, recorder)
    report["leaked_fds"] = sorted(set(open_fds()) - set(fds_before))
    metrics = engine.get_concurrency_metrics()
    report["running"] = metrics.currently_running
engine.shutdown()
print(json.dumps(report))
"""
)

# RLIMIT_NPROC is not enforced for root: drop to nobody first (everything is
# imported and warmed up before, since nobody cannot read /root). A soft limit
# of 1 then refuses every new task of the user: with an idle pool thread the
# fork of the child fails (EAGAIN); with none, the worker thread cannot start.
NPROC_LIMIT_CHILD = (
    CHILD_PRELUDE
    + """
engine = ExecutionEngine(ExecutionConfig.testing(log_dir=None, enable_auto_cleanup=False))
report = {}
with EventRecorder(engine) as recorder:
    report["before"] = run(engine, recorder)
    try:
        os.setgid(65534)
        os.setuid(65534)
    except OSError as exc:
        report["skip"] = f"cannot drop to nobody: {exc}"
    if "skip" not in report:
        soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
        resource.setrlimit(resource.RLIMIT_NPROC, (1, hard))
        try:
            report["fork_refused"] = run(engine, recorder)
        finally:
            resource.setrlimit(resource.RLIMIT_NPROC, (soft, hard))
        # A running sleep holds the pool thread: the next request needs a new one.
        busy = engine.execute(ExecutionRequest(command=Exec(program="sleep", args=("30",))))
        recorder.wait_for("started", busy, timeout=30)
        resource.setrlimit(resource.RLIMIT_NPROC, (1, hard))
        try:
            report["no_thread"] = run(engine, recorder)
        finally:
            resource.setrlimit(resource.RLIMIT_NPROC, (soft, hard))
        engine.cancel(busy)
        report["after"] = run(engine, recorder)
        report["running"] = engine.get_concurrency_metrics().currently_running
engine.shutdown()
print(json.dumps(report))
"""
)


def run_child(script: str, *args: str) -> dict[str, Any]:
    """Run ``script`` in a fresh interpreter with the repo importable; its last line is JSON."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def assert_resource_spawn_error(outcome: dict[str, Any], symptom: str) -> None:
    assert (outcome["status"], outcome["reason"], outcome["exit_code"]) == (
        "failed",
        "spawn_error",
        None,
    ), outcome
    assert "out of resources" in outcome["error"], outcome
    assert symptom in outcome["error"], outcome


# -- the fd limit (EMFILE) -----------------------------------------------------------------------


@pytest.mark.timeout(180)
def test_spawns_at_the_fd_limit_fail_as_spawn_errors_and_the_engine_keeps_serving(
    tmp_path: Path,
) -> None:
    report = run_child(FD_LIMIT_CHILD, str(tmp_path / "logs"))
    steps = report["steps"]
    assert report["before"]["status"] == "completed"
    # No fd free at all: not even the pipes can be made.
    assert_resource_spawn_error(steps[0], "Too many open files")
    # Every step either ran the command or refused it as a spawn error, wherever
    # in the spawn the limit struck (log file, pipes, pidfd, eventfd).
    for step in steps:
        if step["status"] != "completed":
            assert_resource_spawn_error(step, "Too many open files")
    assert steps[-1]["status"] == "completed", "the sweep never reached a working limit"
    assert report["after"]["status"] == "completed"
    assert report["running"] == 0
    assert report["leaked_fds"] == []


# -- the process limit (EAGAIN) ------------------------------------------------------------------


@pytest.mark.timeout(180)
def test_spawns_at_the_process_limit_fail_as_spawn_errors_and_the_engine_keeps_serving() -> None:
    report = run_child(NPROC_LIMIT_CHILD)
    if "skip" in report:
        pytest.skip(report["skip"])
    assert report["before"]["status"] == "completed"
    assert_resource_spawn_error(report["fork_refused"], "Resource temporarily unavailable")
    no_thread = report["no_thread"]
    assert (no_thread["status"], no_thread["reason"]) == ("failed", "spawn_error"), no_thread
    # Normally "cannot start a worker thread"; the fork's EAGAIN if a pool thread was idle.
    assert any(words in no_thread["error"] for words in ("worker thread", "out of resources")), (
        no_thread
    )
    assert report["after"]["status"] == "completed"
    assert report["running"] == 0


# -- any resource errno from the launcher --------------------------------------------------------


class FailingLauncher:
    """Fails its first spawn with ``OSError(code)``, then starts children normally."""

    def __init__(self, code: int) -> None:
        self._code = code
        self._local = LocalLauncher()
        self._lock = threading.Lock()
        self._failed = False

    def spawn(self, spec: LaunchSpec) -> Any:
        with self._lock:
            fail, self._failed = not self._failed, True
        if fail:
            raise OSError(self._code, os.strerror(self._code))
        return self._local.spawn(spec)


@pytest.mark.parametrize(
    "code", [errno.EAGAIN, errno.EMFILE, errno.ENFILE, errno.ENOMEM], ids=errno.errorcode.get
)
def test_a_spawn_failing_for_lack_of_resources_says_so_and_the_next_one_runs(
    make_engine: EngineFactory, code: int
) -> None:
    engine = make_engine(launcher=FailingLauncher(code), max_concurrent_executions=1)
    with EventRecorder(engine) as recorder:
        refused = engine.execute(request(py("print('never')")))
        follow_up = engine.execute(request(py("print('served')")))
        result = engine.get_result(refused, timeout=RESULT_TIMEOUT)
        terminal = recorder.wait_terminal(refused, timeout=RESULT_TIMEOUT)
        served = engine.get_result(follow_up, timeout=RESULT_TIMEOUT)
    assert (result.status, result.exit_code, result.started_at) == (
        ExecutionStatus.FAILED,
        None,
        None,
    )
    assert isinstance(terminal, Failed)
    assert terminal.reason == "spawn_error"
    assert result.error is not None
    assert "out of resources" in result.error
    assert os.strerror(code) in result.error
    assert f"errno {code}" in result.error
    assert (served.status, served.stdout) == (ExecutionStatus.COMPLETED, "served")
    assert engine.get_concurrency_metrics().currently_running == 0


# -- a full disk for log files -------------------------------------------------------------------

LINES = 2_000
PRINT_LINES = py(
    f"import sys\nfor i in range({LINES}): print(i)\nprint('to stderr', file=sys.stderr)"
)
EXPECTED_STDOUT = "\n".join(str(i) for i in range(LINES))


def errors_from(caplog: pytest.LogCaptureFixture, logger: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith(logger) and r.levelno >= logging.ERROR]


def test_a_log_file_on_a_full_disk_fails_loudly_and_the_result_stays_whole(
    make_engine: EngineFactory, log_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine()
    req = request(PRINT_LINES)
    # /dev/full takes the open and fails every write with ENOSPC.
    (log_dir / f"{req.id}.log").symlink_to("/dev/full")
    result = engine.get_result(engine.execute(req), timeout=RESULT_TIMEOUT)
    assert (result.status, result.exit_code) == (ExecutionStatus.COMPLETED, 0)
    assert (result.stdout, result.stderr) == (EXPECTED_STDOUT, "to stderr")
    errors = errors_from(caplog, "actors")
    assert len(errors) == 1, [r.getMessage() for r in errors]  # once, then the log is off
    assert "No space left on device" in errors[0].getMessage()
    assert str(req.id) in errors[0].getMessage()
    # The next execution gets a log file of its own and is unaffected.
    after = engine.get_result(engine.execute(request(PRINT_LINES)), timeout=RESULT_TIMEOUT)
    assert after.stdout == EXPECTED_STDOUT
    assert after.log_path is not None
    assert "engine | ended completed" in after.log_path.read_text()


def test_a_spill_file_on_a_full_disk_fails_loudly_and_the_result_stays_whole(
    make_engine: EngineFactory, log_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(
        max_output_size_bytes=1024,
        oversized_output_strategy=OversizedOutputStrategy.STREAM_TO_FILE,
    )
    req = request(PRINT_LINES)
    (log_dir / f"{req.id}.stdout.spill").symlink_to("/dev/full")
    result = engine.get_result(engine.execute(req), timeout=RESULT_TIMEOUT)
    assert (result.status, result.exit_code) == (ExecutionStatus.COMPLETED, 0), result.error
    assert EXPECTED_STDOUT.startswith(result.stdout)
    assert result.stdout.count("\n") >= 200  # the head, up to the cap
    assert result.stderr == "to stderr"
    errors = errors_from(caplog, "actors")
    assert errors, "the failing spill file was not reported"
    assert "No space left on device" in errors[0].getMessage()


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Any:
    """A 64 KiB tmpfs, if this machine lets us mount one (root, no seccomp); else skip."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_log_dir_on_a_full_tmpfs_fails_loudly_and_results_stay_whole(
    make_engine: EngineFactory, tiny_tmpfs: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(log_dir=tiny_tmpfs / "logs")
    # 200 KB of output: the first execution fills the disk, the second finds it full.
    flood = Shell(command="yes 0123456789abcdef | head -n 12000")
    results = [engine.get_result(engine.execute(request(flood)), timeout=RESULT_TIMEOUT)]
    results.append(engine.get_result(engine.execute(request(flood)), timeout=RESULT_TIMEOUT))
    for result in results:
        assert (result.status, result.exit_code) == (ExecutionStatus.COMPLETED, 0)
        assert result.stdout == "\n".join(["0123456789abcdef"] * 12000)
    errors = errors_from(caplog, "actors")
    assert len(errors) == 2, [r.getMessage() for r in errors]  # one per execution
    assert all("No space left on device" in r.getMessage() for r in errors)
    assert (
        engine.get_result(
            engine.execute(request(py("print('still serving')"))), timeout=RESULT_TIMEOUT
        ).stdout
        == "still serving"
    )
