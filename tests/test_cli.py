"""The ``execution-engine`` command-line tool, run as a real subprocess (``python -m actors``)."""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import re
import selectors
import signal
import struct
import subprocess
import sys
import termios
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import pytest
from pydantic import TypeAdapter

from actors.cli import main
from actors.cli._batch import Batch
from actors.cli._rows import Row
from actors.cli._table import render_table
from actors.cli._views import CLEAR_LINE, Sink, TaggedView
from messages import (
    Completed,
    ExecutionEvent,
    ExecutionRequest,
    ExecutionStatus,
    Shell,
    Started,
    Stderr,
)
from tests._moto import MotoEndpoint

ROOT = Path(__file__).resolve().parents[1]
CLI = (sys.executable, "-m", "actors")
EVENTS: TypeAdapter[ExecutionEvent] = TypeAdapter(ExecutionEvent)
SGR = re.compile(r"\x1b\[[0-9;]*m")  # an ANSI colour code
# One aws CLI call takes one to two seconds here; leave room for a busy machine.
AWS_TIMEOUT_S = 60.0


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The CLI's environment: this checkout importable, log files under the test's folder."""
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "TERM")}
    return base | {"PYTHONPATH": str(ROOT), "XDG_STATE_HOME": str(tmp_path / "state")}


def cli(
    env: dict[str, str], *args: str, stdin: str | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run the CLI to its end; stdin is /dev/null unless text is given."""
    return subprocess.run(
        [*CLI, *args],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )


def summary_rows(stdout: str) -> dict[int, list[str]]:
    """The summary table's rows by index: [command, status, exit code, duration]."""
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if re.match(r"#\s+Command\s+Status", line))
    rows: dict[int, list[str]] = {}
    for line in lines[header + 1 :]:
        match = re.match(r"\s*(\d+)  (.+?)\s{2,}(\w+)\s+(-|-?\d+)\s+(\S+)$", line)
        if match is None:
            break
        rows[int(match[1])] = [match[2], match[3], match[4], match[5]]
    return rows


def read_until(fd: int, needles: list[bytes], timeout: float) -> bytes:
    """Read ``fd`` until every needle was seen; fail after ``timeout`` seconds or at EOF."""
    seen = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while not all(needle in seen for needle in needles):
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                raise AssertionError(f"{needles} not all seen within {timeout}s: {seen!r}")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(f"EOF before {needles} were all seen: {seen!r}")
            seen += chunk
    return seen


def read_to_end(fd: int, timeout: float) -> bytes:
    """Read a pty's master side until the other side is closed (EIO on Linux)."""
    seen = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                raise AssertionError(f"output did not end within {timeout}s: {seen!r}")
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return seen
            if not chunk:
                return seen
            seen += chunk


def live_processes_with(marker: str) -> list[str]:
    """Processes (not zombies) whose command line contains ``marker``."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(process.info["cmdline"] or ())
        if marker in cmdline and process.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(f"{process.pid} {process.info['status']} {cmdline}")
    return found


# --- run: streaming, tags, the summary, exit status --------------------------------------------


def test_run_streams_every_line_tagged_with_its_command_index(env: dict[str, str]) -> None:
    proc = cli(env, "run", "-j", "2", "echo one; echo two", "echo three")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines.index("[1]  one") < lines.index("[1]  two")
    assert "[2]  three" in lines


def test_stderr_lines_are_marked_with_a_bang_after_the_index(env: dict[str, str]) -> None:
    proc = cli(env, "run", "echo fine; echo oops >&2")
    assert "[1]  fine" in proc.stdout.splitlines()
    assert "[1!] oops" in proc.stdout.splitlines()


def test_without_a_terminal_there_is_no_colour_and_no_status_line(env: dict[str, str]) -> None:
    proc = cli(env, "run", "echo plain", "exit 1")
    assert "\x1b" not in proc.stdout
    assert proc.stderr == ""


def test_the_summary_shows_tag_command_status_exit_code_and_duration(
    env: dict[str, str],
) -> None:
    proc = cli(env, "run", "echo ok", "echo bad; exit 3")
    rows = summary_rows(proc.stdout)
    assert rows[1][:3] == ["echo ok", "completed", "0"]
    assert rows[2][:3] == ["echo bad; exit 3", "failed", "3"]
    assert all(re.fullmatch(r"\d+ms|\d+\.\d\ds", row[3]) for row in rows.values())
    assert "2 commands in" in proc.stdout


def test_exit_status_is_0_when_every_command_completed(env: dict[str, str]) -> None:
    assert cli(env, "run", "true", "echo done").returncode == 0


def test_exit_status_is_1_when_any_command_failed(env: dict[str, str]) -> None:
    assert cli(env, "run", "true", "false").returncode == 1


def test_a_command_past_its_timeout_is_killed_and_shown_as_timed_out(
    env: dict[str, str],
) -> None:
    started = time.monotonic()
    proc = cli(env, "run", "--timeout", "0.5", "sleep 30", "true")
    assert proc.returncode == 1
    assert summary_rows(proc.stdout)[1][1:3] == ["timed_out", "-"]
    assert summary_rows(proc.stdout)[2][1] == "completed"
    assert time.monotonic() - started < 20


def test_commands_may_follow_options(env: dict[str, str]) -> None:
    proc = cli(env, "run", "echo a", "-j", "1", "echo b", "--", "echo -c")
    assert proc.returncode == 0, proc.stderr
    assert [row[0] for row in summary_rows(proc.stdout).values()] == ["echo a", "echo b", "echo -c"]


def test_max_output_truncates_each_stream_with_a_warning(env: dict[str, str]) -> None:
    proc = cli(env, "run", "--max-output", "1K", "for i in $(seq 500); do echo $i; done")
    assert proc.returncode == 0
    assert "[1]  500" not in proc.stdout
    assert "output truncated" in proc.stdout


def test_log_files_go_to_log_dir(env: dict[str, str], tmp_path: Path) -> None:
    proc = cli(env, "run", "--log-dir", str(tmp_path / "logs"), "echo logged")
    assert proc.returncode == 0
    (log,) = (tmp_path / "logs").glob("*.log")
    assert "logged" in log.read_text()


# --- run: where the commands come from ---------------------------------------------------------


def test_file_gives_one_command_per_line_skipping_blanks_and_comments(
    env: dict[str, str], tmp_path: Path
) -> None:
    batch = tmp_path / "batch.txt"
    batch.write_text("# a comment\n\necho first\n   \n  # indented comment\necho second\n")
    proc = cli(env, "run", "--file", str(batch))
    assert proc.returncode == 0, proc.stderr
    assert [row[0] for row in summary_rows(proc.stdout).values()] == ["echo first", "echo second"]


def test_file_dash_reads_the_commands_from_stdin(env: dict[str, str]) -> None:
    proc = cli(env, "run", "--file", "-", stdin="echo from-stdin\n# skipped\nexit 4\n")
    assert proc.returncode == 1
    assert "[1]  from-stdin" in proc.stdout.splitlines()
    assert summary_rows(proc.stdout)[2][1:3] == ["failed", "4"]


def test_the_sample_batch_shows_parallel_output_a_failure_and_a_timeout(
    env: dict[str, str],
) -> None:
    proc = cli(env, "run", "-j", "4", "--timeout", "3", "--file", "examples/batch.txt")
    assert proc.returncode == 1
    statuses = [row[1] for row in summary_rows(proc.stdout).values()]
    assert {"completed", "failed", "timed_out"} <= set(statuses)
    tags = [line.split()[0].rstrip("!]") for line in proc.stdout.splitlines() if line[:1] == "["]
    runs = [tag for i, tag in enumerate(tags) if i == 0 or tags[i - 1] != tag]
    assert len(runs) > len(set(tags)), f"no command's lines were interleaved: {tags}"


# --- run --json ---------------------------------------------------------------------------------


def test_json_writes_one_event_per_line_then_one_summary(env: dict[str, str]) -> None:
    proc = cli(env, "run", "--json", "echo hi; echo err >&2", "exit 5")
    assert proc.returncode == 1
    *event_lines, last = proc.stdout.splitlines()
    events = [EVENTS.validate_json(line) for line in event_lines]
    summary: dict[str, Any] = json.loads(last)
    assert summary["type"] == "summary"
    assert summary["exit_status"] == 1
    executions = {e["execution_id"]: e for e in summary["executions"]}
    assert [e["status"] for e in summary["executions"]] == ["completed", "failed"]
    assert [e["exit_code"] for e in summary["executions"]] == [0, 5]
    for execution_id in executions:
        own = [e for e in events if str(e.execution_id) == execution_id]
        assert [e.seq for e in own] == list(range(1, len(own) + 1))
        assert own[0].type == "started"
        assert own[-1].type in {"completed", "failed"}
    assert any(e.type == "stdout" and e.lines == ("hi",) for e in events)
    assert any(e.type == "stderr" and e.lines == ("err",) for e in events)
    assert proc.stderr == ""


# --- errors: one line, exit status 2 ------------------------------------------------------------


BAD_USAGE = [
    (["run", "--frobnicate", "true"], "unrecognized arguments: --frobnicate"),
    (["run", "--file", "/no/such/batch.txt"], "cannot read /no/such/batch.txt"),
    (["run", "-j", "0", "true"], "-j/--jobs: must be a positive integer"),
    (["run", "--timeout", "-1", "true"], "--timeout: must be a positive number"),
    (["run", "--max-output", "lots", "true"], "--max-output: must be a positive size"),
    (["run"], "nothing to run"),
    (["run", ""], "invalid command"),
    (["run", "--timeout", "1000000", "true"], "exceeds max_timeout_ms"),
    (["aws", "S3", "ls"], "invalid aws command: service"),
    (["launch"], "invalid choice: 'launch'"),
]


@pytest.mark.parametrize(
    ("args", "complaint"), BAD_USAGE, ids=[" ".join(args) for args, _ in BAD_USAGE]
)
def test_bad_usage_gives_one_line_on_stderr_and_exit_status_2(
    env: dict[str, str], args: list[str], complaint: str
) -> None:
    proc = cli(env, *args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith("execution-engine: error: ")
    assert complaint in proc.stderr


def test_help_exits_0(env: dict[str, str]) -> None:
    proc = cli(env, "run", "--help")
    assert proc.returncode == 0
    assert "--timeout SECONDS" in proc.stdout


# --- Ctrl-C -------------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_ctrl_c_cancels_everything_exits_130_and_leaves_no_process(env: dict[str, str]) -> None:
    marker = f"300.{uuid.uuid4().int % 10**9:09d}"
    proc = subprocess.Popen(
        [*CLI, "run", "-j", "3", f"echo one; sleep {marker}", f"echo two; sleep {marker}", "true"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        read_until(proc.stdout.fileno(), [b"[1]  one\n", b"[2]  two\n"], timeout=20)
        assert live_processes_with(marker), "the commands should be running now"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert live_processes_with(marker) == []


# --- on a terminal ------------------------------------------------------------------------------


def run_on_a_pty(env: dict[str, str], *args: str) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal (100 columns) as stdout and stderr."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        proc = subprocess.Popen(
            [*CLI, *args], stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env, cwd=ROOT
        )
        os.close(slave)
        output = read_to_end(master, timeout=30)
        return proc.wait(timeout=10), output.decode()
    finally:
        os.close(master)


def test_on_a_terminal_tags_are_coloured_and_a_status_line_is_redrawn(
    env: dict[str, str],
) -> None:
    status, output = run_on_a_pty(env | {"TERM": "xterm"}, "run", "echo hello", "echo oops >&2")
    assert status == 0
    assert SGR.search(output)
    assert "hello" in output
    assert re.search(r"\r\x1b\[2K(\x1b\[2m)?\d/2 done, \d running, \d pending", output)


def test_no_color_turns_colour_off_but_keeps_the_status_line(env: dict[str, str]) -> None:
    status, output = run_on_a_pty(env | {"TERM": "xterm", "NO_COLOR": "1"}, "run", "echo hi")
    assert status == 0
    assert not SGR.search(output)
    assert "[1]  hi" in output
    assert re.search(r"\d/1 done", output)


# --- aws ----------------------------------------------------------------------------------------


@pytest.fixture
def aws_env(env: dict[str, str], moto_endpoint: MotoEndpoint, aws_cli: str) -> dict[str, str]:
    """The CLI's environment pointed at moto, with the fixture's ``aws`` first on PATH."""
    path = f"{Path(aws_cli).parent}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    return moto_endpoint.child_env(env) | {"PATH": path}


@pytest.mark.aws
def test_aws_prints_the_calls_stdout(aws_env: dict[str, str]) -> None:
    proc = cli(aws_env, "aws", "sts", "get-caller-identity", timeout=AWS_TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["Account"] == "123456789012"


@pytest.mark.aws
def test_aws_passes_options_it_does_not_know_to_the_aws_cli(aws_env: dict[str, str]) -> None:
    bucket = f"cli-test-{uuid.uuid4().hex[:12]}"
    created = cli(
        aws_env,
        *("aws", "s3api", "create-bucket", "--bucket", bucket, "--region", "us-east-1"),
        timeout=AWS_TIMEOUT_S,
    )
    assert created.returncode == 0, created.stderr
    listed = cli(
        aws_env,
        *("aws", "s3api", "list-buckets", "--query", "Buckets[].Name", "--output", "text"),
        timeout=AWS_TIMEOUT_S,
    )
    assert listed.returncode == 0, listed.stderr
    assert bucket in listed.stdout.split()


@pytest.mark.aws
def test_aws_failure_exits_1_with_the_aws_message_on_stderr(aws_env: dict[str, str]) -> None:
    proc = cli(
        aws_env,
        *("aws", "s3api", "get-bucket-location", "--bucket", f"missing-{uuid.uuid4().hex[:12]}"),
        timeout=AWS_TIMEOUT_S,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "NoSuchBucket" in proc.stderr


def test_closing_stdout_early_cancels_the_rest_quietly(env: dict[str, str]) -> None:
    marker = f"300.{uuid.uuid4().int % 10**9:09d}"
    proc = subprocess.Popen(
        [*CLI, "run", "-j", "2", "yes | head -100000", f"echo slow; sleep {marker}"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stderr is not None
    read_until(proc.stdout.fileno(), [b"[1]  y\n"], timeout=20)
    proc.stdout.close()
    assert proc.wait(timeout=20) == 1
    assert proc.stderr.read() == b""
    proc.stderr.close()
    assert live_processes_with(marker) == []


# --- in process: the same paths through main(), so coverage sees them ---------------------------


def run_main(capfd: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Call ``main`` in this process; return its exit status, stdout and stderr."""
    status = main(list(args))
    out, err = capfd.readouterr()
    return status, out, err


def test_main_streams_tagged_lines_and_prints_the_summary(
    capfd: pytest.CaptureFixture[str],
) -> None:
    status, out, err = run_main(
        capfd, "run", "--no-log", "--timeout", "0.5", "echo hi; echo oops >&2", "exit 3", "sleep 9"
    )
    assert status == 1
    assert {"[1]  hi", "[1!] oops"} <= set(out.splitlines())
    rows = summary_rows(out)
    assert [row[1] for row in rows.values()] == ["completed", "failed", "timed_out"]
    assert err == ""


def test_main_json_writes_events_then_the_summary(capfd: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_main(capfd, "run", "--no-log", "--json", "echo hi")
    *events, last = out.splitlines()
    assert status == 0
    assert [EVENTS.validate_json(line).type for line in events][-1] == "completed"
    assert json.loads(last)["executions"][0]["status"] == "completed"


def test_main_reads_file_dash_from_stdin(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("# comment\n\necho piped\n"))
    status, out, _ = run_main(capfd, "run", "--log-dir", str(tmp_path), "--file", "-")
    assert status == 0
    assert "[1]  piped" in out.splitlines()
    assert f"logs: {tmp_path}/" in out


@pytest.mark.parametrize(
    ("args", "complaint"), BAD_USAGE, ids=[" ".join(args) for args, _ in BAD_USAGE]
)
def test_main_bad_usage_returns_2_with_one_line(
    capfd: pytest.CaptureFixture[str], args: list[str], complaint: str
) -> None:
    status, out, err = run_main(capfd, *args)
    assert (status, out) == (2, "")
    assert err.startswith("execution-engine: error: ")
    assert complaint in err
    assert len(err.splitlines()) == 1


def test_main_aws_says_why_when_aws_cannot_start(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    status, out, err = run_main(capfd, "aws", "--no-log", "sts", "get-caller-identity")
    assert (status, out) == (1, "")
    assert "cannot start 'aws'" in err


@pytest.mark.aws
def test_main_aws_prints_the_calls_stdout(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, aws_env: dict[str, str]
) -> None:
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in aws_env.items():
        monkeypatch.setenv(name, value)
    status, out, err = run_main(capfd, "aws", "--no-log", "sts", "get-caller-identity")
    assert status == 0, err
    assert json.loads(out)["Account"] == "123456789012"


def test_main_interrupted_by_sigint_cancels_everything_and_returns_130(
    capfd: pytest.CaptureFixture[str],
) -> None:
    marker = f"300.{uuid.uuid4().int % 10**9:09d}"
    # The child interrupts its parent, this process, where main() turns SIGINT into a shutdown.
    status, out, err = run_main(
        capfd, "run", "--no-log", f"echo go; kill -INT $PPID; sleep {marker}", f"sleep {marker}"
    )
    assert status == 130
    assert "SIGINT: cancelling every execution" in err
    assert [row[1] for row in summary_rows(out).values()] == ["cancelled", "cancelled"]
    assert live_processes_with(marker) == []


# --- the output pieces --------------------------------------------------------------------------


def event(kind: type[Any], execution_id: uuid.UUID, seq: int, **fields: Any) -> Any:
    """An event model as the engine would deliver it."""
    return kind(execution_id=execution_id, seq=seq, timestamp=datetime.now(UTC), **fields)


def test_a_terminal_view_colours_tags_and_redraws_the_status_line() -> None:
    out, err = io.BytesIO(), io.BytesIO()
    request = ExecutionRequest(command=Shell(command="make"))
    view = TaggedView(
        Sink(out), Sink(err), total=1, colour=True, status_line=True, columns=60, log_dir=None
    )
    batch = Batch([request], view)
    batch.on_event(event(Started, request.id, 1, pid=1, command="make"))
    batch.on_event(event(Stderr, request.id, 2, lines=("warning",)))
    batch.on_event(event(Completed, request.id, 3, exit_code=0, duration_ms=1500))
    view.finish(list(batch.rows.values()), batch.exit_status())
    text = out.getvalue().decode()
    assert "\x1b[1;31m!" in text
    assert "warning\n" in text
    assert "\x1b[32mcompleted" in text
    assert "1/1 done, 0 running, 0 pending" in err.getvalue().decode()
    assert err.getvalue().decode().endswith(CLEAR_LINE)


def test_the_summary_table_cuts_long_commands_and_explains_failures_without_an_exit_code() -> None:
    long_command = "echo " + "x" * 200
    rows = [
        Row(1, uuid.uuid4(), long_command, ExecutionStatus.COMPLETED, 0, 61_000),
        Row(2, uuid.uuid4(), "nope", ExecutionStatus.FAILED, None, 0, "cannot start 'nope'"),
    ]
    table = render_table(rows, colour=False, columns=80)
    assert all(len(line) <= 80 for line in table.splitlines())
    assert "xxx..." in table
    assert "1m01s" in table
    assert "[2] cannot start 'nope'" in table


def test_a_sink_whose_reader_is_gone_turns_quiet() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    with os.fdopen(write_end, "wb") as stream:
        sink = Sink(stream)
        sink.write("lost\n")
        sink.write("also lost\n")
        assert sink.broken


def test_exit_zero_turns_a_failed_batch_into_exit_status_0() -> None:
    from actors.cli import main

    assert main(["run", "--no-log", "--exit-zero", "--", "exit 3"]) == 0


def test_exit_zero_keeps_usage_errors_at_exit_status_2() -> None:
    from actors.cli import main

    assert main(["run", "--exit-zero", "-j", "0", "--", "true"]) == 2
