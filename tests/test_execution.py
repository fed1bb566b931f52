"""Real children through the engine: commands, exit status, output, env, stdin, timeouts, ends."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import stat
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

import pytest

from actors import ExecutionEngine
from actors.testing import EventRecorder
from messages import (
    Exec,
    ExecutionConfig,
    ExecutionStatus,
    Failed,
    InvalidRequest,
    Script,
    Shell,
    Started,
    Stdout,
)
from tests._processes import running_with
from tests._processes import wait_gone as wait_for_exit
from tests.conftest import EngineFactory, py, request

# Generous bounds: the targets are about a second, the machine has 2 noisy cores.
RESULT_TIMEOUT_S = 20.0
QUICK_END_S = 5.0
GONE_TIMEOUT_S = 2.0


def code(text: str) -> str:
    """Dedent an indented child program."""
    return textwrap.dedent(text).strip()


def sleep_marker() -> str:
    """A unique ``sleep`` duration, so its processes can be found by their command line."""
    return f"300.{uuid.uuid4().int % 10**9:09d}"


def wait_gone(pids: Iterable[int], timeout: float = GONE_TIMEOUT_S) -> list[int]:
    """Wait until every pid has exited (a zombie counts); return those still running."""
    return wait_for_exit(pids, timeout)


def pids_in(text: str) -> list[int]:
    """The pids a child printed, one per line."""
    return [int(line) for line in text.split("\n") if line.strip()]


def assert_all_gone(pids: list[int], marker: str) -> None:
    """Each pid has exited and no live process carries ``marker`` any more."""
    assert pids, "the child printed no pid: nothing was checked"
    assert wait_gone(pids) == []
    assert running_with(marker) == []


# --- each kind of command runs ----------------------------------------------------------------


def test_shell_runs_its_command_with_bin_bash_by_default(engine: ExecutionEngine) -> None:
    result = engine.get_result(
        engine.execute(request(Shell(command='echo "$0"; echo "${BASH_VERSION:+bash}"'))),
        timeout=RESULT_TIMEOUT_S,
    )
    assert result.status is ExecutionStatus.COMPLETED
    assert result.stdout == "/bin/bash\nbash"


def test_shell_runs_its_command_with_the_given_shell(engine: ExecutionEngine) -> None:
    result = engine.get_result(
        engine.execute(request(Shell(command='echo "$0"', shell="/bin/sh"))),
        timeout=RESULT_TIMEOUT_S,
    )
    assert result.status is ExecutionStatus.COMPLETED
    assert result.stdout == "/bin/sh"


def test_exec_passes_its_args_literally_without_a_shell(engine: ExecutionEngine) -> None:
    args = ("$HOME", "a b", "*", "`id`", ";", "'quoted'")
    command = py("import json, sys; print(json.dumps(sys.argv[1:]))", *args)
    result = engine.get_result(engine.execute(request(command)), timeout=RESULT_TIMEOUT_S)
    assert result.status is ExecutionStatus.COMPLETED
    assert json.loads(result.stdout) == list(args)


def test_script_runs_its_content_with_the_interpreter_and_args(engine: ExecutionEngine) -> None:
    script = Script(
        content=code(
            """
            import sys
            print("script says", " ".join(sys.argv[1:]))
            """
        ),
        interpreter=sys.executable,
        args=("one", "two words"),
    )
    result = engine.get_result(engine.execute(request(script)), timeout=RESULT_TIMEOUT_S)
    assert result.status is ExecutionStatus.COMPLETED
    assert result.stdout == "script says one two words"


def test_script_runs_a_multiline_bash_script_by_default(engine: ExecutionEngine) -> None:
    script = Script(content='x=4\ny=$((x * 10))\necho "$y"\n')
    result = engine.get_result(engine.execute(request(script)), timeout=RESULT_TIMEOUT_S)
    assert result.status is ExecutionStatus.COMPLETED
    assert result.stdout == "40"


def test_exec_finds_a_program_on_the_path_of_the_childs_env(
    engine: ExecutionEngine, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = bin_dir / "engine-test-hello"
    program.write_text("#!/bin/sh\necho found on PATH\n")
    program.chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"}
    result = engine.get_result(
        engine.execute(request(Exec(program="engine-test-hello"), env=env)),
        timeout=RESULT_TIMEOUT_S,
    )
    assert result.status is ExecutionStatus.COMPLETED
    assert result.stdout == "found on PATH"


# --- exit status --------------------------------------------------------------------------------


def test_exit_code_zero_completes_successfully(
    engine: ExecutionEngine, recorder: EventRecorder
) -> None:
    execution_id = engine.execute(request(py("print('ok')")))
    result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT_S)
    assert result.status is ExecutionStatus.COMPLETED
    assert result.success is True
    assert result.exit_code == 0
    assert result.error is None
    assert recorder.wait_terminal(execution_id).type == "completed"


def test_a_non_zero_exit_fails_with_its_exit_code(
    engine: ExecutionEngine, recorder: EventRecorder
) -> None:
    execution_id = engine.execute(request(py("import sys; sys.exit(3)")))
    result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT_S)
    assert result.status is ExecutionStatus.FAILED
    assert result.success is False
    assert result.exit_code == 3
    assert result.error
    event = recorder.wait_terminal(execution_id)
    assert isinstance(event, Failed)
    assert (event.reason, event.exit_code) == ("exit_code", 3)


def test_death_by_signal_reports_the_negative_signal_number(
    engine: ExecutionEngine, recorder: EventRecorder
) -> None:
    command = py("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    execution_id = engine.execute(request(command))
    result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT_S)
    assert result.status is ExecutionStatus.FAILED
    assert result.exit_code == -9
    event = recorder.wait_terminal(execution_id)
    assert isinstance(event, Failed)
    assert (event.reason, event.exit_code) == ("exit_code", -9)


# --- spawn errors -------------------------------------------------------------------------------


def _missing_program(tmp_path: Path) -> tuple[Exec, Path | None]:
    return Exec(program=str(tmp_path / "no-such-program")), None


def _not_executable(tmp_path: Path) -> tuple[Exec, Path | None]:
    data = tmp_path / "plain-data.txt"
    data.write_text("not a program\n")
    data.chmod(0o644)
    return Exec(program=str(data)), None


def _missing_program_in_a_good_working_dir(tmp_path: Path) -> tuple[Exec, Path | None]:
    return Exec(program="engine-test-no-such-program"), tmp_path


@pytest.mark.parametrize(
    "make_command",
    [_missing_program, _not_executable, _missing_program_in_a_good_working_dir],
    ids=["missing-program", "not-executable", "missing-program-in-working-dir"],
)
def test_a_spawn_error_fails_without_starting(
    engine: ExecutionEngine,
    recorder: EventRecorder,
    tmp_path: Path,
    make_command: Callable[[Path], tuple[Exec, Path | None]],
) -> None:
    command, working_dir = make_command(tmp_path)
    execution_id = engine.execute(request(command, working_dir=working_dir))
    result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT_S)
    assert result.status is ExecutionStatus.FAILED
    assert result.exit_code is None
    assert result.error is not None
    assert command.program in result.error
    assert result.started_at is None
    assert result.duration_ms == 0
    event = recorder.wait_terminal(execution_id)
    assert isinstance(event, Failed)
    assert event.reason == "spawn_error"
    assert event.exit_code is None
    assert "started" not in recorder.types(execution_id)


# --- output -------------------------------------------------------------------------------------


def test_stdout_and_stderr_are_captured_separately(engine: ExecutionEngine) -> None:
    command = py(
        code(
            """
            import sys
            print("out one", flush=True)
            print("err one", file=sys.stderr, flush=True)
            print("out two", flush=True)
            print("err two", file=sys.stderr, flush=True)
            """
        )
    )
    result = engine.get_result(engine.execute(request(command)), timeout=RESULT_TIMEOUT_S)
    assert result.stdout == "out one\nout two"
    assert result.stderr == "err one\nerr two"


def test_a_trailing_newline_is_not_doubled(engine: ExecutionEngine) -> None:
    command = py("import sys; sys.stdout.write('a\\nb\\n')")
    result = engine.get_result(engine.execute(request(command)), timeout=RESULT_TIMEOUT_S)
    assert result.stdout == "a\nb"


def test_the_last_line_is_kept_without_a_newline(engine: ExecutionEngine) -> None:
    command = py("import sys; sys.stdout.write('a\\nlast'); sys.stderr.write('only')")
    result = engine.get_result(engine.execute(request(command)), timeout=RESULT_TIMEOUT_S)
    assert result.stdout == "a\nlast"
    assert result.stderr == "only"


def test_crlf_counts_as_one_line_break(engine: ExecutionEngine) -> None:
    command = py("import sys; sys.stdout.buffer.write(b'one\\r\\ntwo\\r\\nthree')")
    result = engine.get_result(engine.execute(request(command)), timeout=RESULT_TIMEOUT_S)
    assert result.stdout == "one\ntwo\nthree"


def test_invalid_utf8_is_replaced(engine: ExecutionEngine) -> None:
    command = py("import sys; sys.stdout.buffer.write(b'ok \\xff\\xfe end\\n')")
    result = engine.get_result(engine.execute(request(command)), timeout=RESULT_TIMEOUT_S)
    assert result.status is ExecutionStatus.COMPLETED
    assert result.stdout == "ok \ufffd\ufffd end"


def test_stdout_events_carry_exactly_the_stdout_lines(
    engine: ExecutionEngine, recorder: EventRecorder
) -> None:
    command = py("for i in range(2000): print(f'line {i}')")
    execution_id = engine.execute(request(command))
    result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT_S)
    recorder.wait_terminal(execution_id)
    streamed = [
        line for e in recorder.of(execution_id) if isinstance(e, Stdout) for line in e.lines
    ]
    assert streamed == [f"line {i}" for i in range(2000)]
    assert "\n".join(streamed) == result.stdout


# --- environment and working dir ----------------------------------------------------------------


def test_the_request_env_reaches_the_child(engine: ExecutionEngine) -> None:
    command = py("import os; print(os.environ['ENGINE_TEST_GREETING'])")
    result = engine.get_result(
        engine.execute(request(command, env={"ENGINE_TEST_GREETING": "hello there"})),
        timeout=RESULT_TIMEOUT_S,
    )
    assert result.stdout == "hello there"


def test_without_inherit_env_the_child_gets_only_path_home_lang_and_the_request_env(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(inherit_env=False)
    # /proc/self/environ is the environment as exec'd: Python's locale coercion
    # (PEP 538) may add LC_CTYPE to os.environ after start-up.
    command = py(
        code(
            """
            import json
            raw = open("/proc/self/environ", "rb").read().decode()
            print(json.dumps(dict(item.split("=", 1) for item in raw.split("\\0") if item)))
            """
        )
    )
    result = engine.get_result(
        engine.execute(request(command, env={"ENGINE_TEST_EXTRA": "yes"})),
        timeout=RESULT_TIMEOUT_S,
    )
    expected = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    assert json.loads(result.stdout) == {**expected, "ENGINE_TEST_EXTRA": "yes"}


def test_working_dir_is_the_childs_cwd(engine: ExecutionEngine, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    result = engine.get_result(
        engine.execute(request(py("import os; print(os.getcwd())"), working_dir=work)),
        timeout=RESULT_TIMEOUT_S,
    )
    assert os.path.realpath(result.stdout) == os.path.realpath(work)


def test_execute_rejects_a_working_dir_that_does_not_exist(
    engine: ExecutionEngine, tmp_path: Path
) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(InvalidRequest, match="working_dir") as info:
        engine.execute(request(py("pass"), working_dir=missing))
    assert str(missing) in str(info.value)
    assert engine.get_concurrency_metrics().total_submitted == 0
    assert engine.list_executions() == []


def test_execute_rejects_a_working_dir_that_is_a_file(
    engine: ExecutionEngine, tmp_path: Path
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    with pytest.raises(InvalidRequest, match="working_dir") as info:
        engine.execute(request(py("pass"), working_dir=a_file))
    assert str(a_file) in str(info.value)
    assert engine.get_concurrency_metrics().total_submitted == 0
    assert engine.list_executions() == []


def test_execute_rejects_a_timeout_above_max_timeout_ms(engine: ExecutionEngine) -> None:
    too_long = engine.config.max_timeout_ms + 1
    with pytest.raises(InvalidRequest, match="timeout_ms") as info:
        engine.execute(request(py("pass"), timeout_ms=too_long))
    assert str(too_long) in str(info.value)
    assert engine.get_concurrency_metrics().total_submitted == 0
    assert engine.list_executions() == []


# --- stdin --------------------------------------------------------------------------------------


def test_stdin_text_is_delivered_then_closed(engine: ExecutionEngine) -> None:
    command = py("import sys; data = sys.stdin.read(); print(data.upper(), end='')")
    result = engine.get_result(
        engine.execute(request(command, stdin="first line\nsecond line\n")),
        timeout=RESULT_TIMEOUT_S,
    )
    assert result.status is ExecutionStatus.COMPLETED
    assert result.stdout == "FIRST LINE\nSECOND LINE"


def test_a_large_stdin_reaches_a_child_that_reads_it_all(engine: ExecutionEngine) -> None:
    payload = ("0123456789abcde\n" * 65536)[:-1] + "!"  # 1 MiB
    command = py(
        "import hashlib, sys; data = sys.stdin.buffer.read(); "
        "print(len(data), hashlib.sha256(data).hexdigest())"
    )
    result = engine.get_result(
        engine.execute(request(command, stdin=payload)), timeout=RESULT_TIMEOUT_S
    )
    expected = hashlib.sha256(payload.encode()).hexdigest()
    assert result.status is ExecutionStatus.COMPLETED
    assert result.stdout == f"{1024 * 1024} {expected}"


def test_a_child_that_never_reads_a_large_stdin_still_completes(engine: ExecutionEngine) -> None:
    command = py("print('ignoring stdin')")
    result = engine.get_result(
        engine.execute(request(command, stdin="x" * (1024 * 1024))), timeout=RESULT_TIMEOUT_S
    )
    assert result.status is ExecutionStatus.COMPLETED
    assert result.stdout == "ignoring stdin"


def test_without_stdin_the_child_reads_eof_at_once(engine: ExecutionEngine) -> None:
    command = py("import sys; print(repr(sys.stdin.read()))")
    result = engine.get_result(engine.execute(request(command)), timeout=RESULT_TIMEOUT_S)
    assert result.status is ExecutionStatus.COMPLETED
    assert result.stdout == "''"


# --- timeouts -----------------------------------------------------------------------------------


def test_timeout_ends_the_execution_as_timed_out(
    engine: ExecutionEngine, recorder: EventRecorder
) -> None:
    marker = sleep_marker()
    command = Shell(command=f"sleep {marker} & sleep {marker} & wait")
    begin = time.monotonic()
    execution_id = engine.execute(request(command, timeout_ms=1000))
    result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT_S)
    assert time.monotonic() - begin < QUICK_END_S
    assert result.status is ExecutionStatus.TIMED_OUT
    assert result.exit_code is None
    assert result.error is not None
    assert "timeout_ms" in result.error
    event = recorder.wait_terminal(execution_id)
    assert isinstance(event, Failed)
    assert (event.reason, event.exit_code) == ("timeout", None)


def test_timeout_kills_every_process_of_the_group(engine: ExecutionEngine) -> None:
    marker = sleep_marker()
    command = Shell(command=f"sleep {marker} & echo $!; sleep {marker} & echo $!; wait")
    execution_id = engine.execute(request(command, timeout_ms=1000))
    result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT_S)
    assert result.status is ExecutionStatus.TIMED_OUT
    pids = pids_in(result.stdout)
    assert len(pids) == 2
    assert_all_gone(pids, marker)


def test_a_child_ignoring_sigterm_is_killed_after_kill_grace_ms(engine: ExecutionEngine) -> None:
    command = py(
        code(
            """
            import signal, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            print("ignoring SIGTERM", flush=True)
            time.sleep(300)
            """
        )
    )
    timeout_ms, grace_ms = 1500, engine.config.kill_grace_ms
    begin = time.monotonic()
    execution_id = engine.execute(request(command, timeout_ms=timeout_ms))
    result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT_S)
    assert time.monotonic() - begin < QUICK_END_S
    assert result.stdout == "ignoring SIGTERM"
    assert result.status is ExecutionStatus.TIMED_OUT
    assert result.exit_code is None
    # SIGTERM at the timeout did nothing; only the SIGKILL a grace later ended it.
    assert result.duration_ms >= timeout_ms + grace_ms - 50


def test_idle_timeout_ends_a_silent_child_as_timed_out(
    engine: ExecutionEngine, recorder: EventRecorder
) -> None:
    command = py("import time; print('then silence', flush=True); time.sleep(300)")
    begin = time.monotonic()
    execution_id = engine.execute(request(command, idle_timeout_ms=500))
    result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT_S)
    assert time.monotonic() - begin < QUICK_END_S
    assert result.status is ExecutionStatus.TIMED_OUT
    assert result.exit_code is None
    assert result.error is not None
    assert "idle_timeout_ms" in result.error
    event = recorder.wait_terminal(execution_id)
    assert isinstance(event, Failed)
    assert event.reason == "timeout"


def test_idle_timeout_spares_a_child_that_prints_regularly(engine: ExecutionEngine) -> None:
    command = py(
        code(
            """
            import time
            for i in range(12):
                print(i, flush=True)
                time.sleep(0.1)
            """
        )
    )
    result = engine.get_result(
        engine.execute(request(command, idle_timeout_ms=700)), timeout=RESULT_TIMEOUT_S
    )
    assert result.status is ExecutionStatus.COMPLETED
    assert result.stdout == "\n".join(str(i) for i in range(12))
    assert result.duration_ms > 700


# --- cancel -------------------------------------------------------------------------------------


def test_cancel_while_running_ends_cancelled_without_exit_code(
    engine: ExecutionEngine, recorder: EventRecorder
) -> None:
    execution_id = engine.execute(request(py("import time; time.sleep(300)")))
    recorder.wait_for("started", execution_id)
    assert engine.cancel(execution_id) is True
    result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT_S)
    assert result.status is ExecutionStatus.CANCELLED
    assert result.exit_code is None
    assert recorder.wait_terminal(execution_id).type == "cancelled"


def test_cancel_while_running_kills_the_process_group(
    engine: ExecutionEngine, recorder: EventRecorder
) -> None:
    marker = sleep_marker()
    command = Shell(command=f"sleep {marker} & echo $!; sleep {marker} & echo $!; wait")
    execution_id = engine.execute(request(command))
    started = recorder.wait_for("started", execution_id)
    assert isinstance(started, Started)
    recorder.wait_for("stdout", execution_id)
    assert engine.cancel(execution_id) is True
    result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT_S)
    assert result.status is ExecutionStatus.CANCELLED
    assert_all_gone([started.pid, *pids_in(result.stdout)], marker)


def test_cancel_of_a_finished_execution_returns_false(engine: ExecutionEngine) -> None:
    execution_id = engine.execute(request(py("pass")))
    result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT_S)
    assert engine.cancel(execution_id) is False
    assert engine.get_status(execution_id) is ExecutionStatus.COMPLETED
    assert engine.get_result(execution_id, timeout=RESULT_TIMEOUT_S) == result


# --- when an execution ends ---------------------------------------------------------------------


def test_a_background_job_holding_the_pipe_does_not_keep_the_execution_alive(
    engine: ExecutionEngine,
) -> None:
    marker = sleep_marker()
    begin = time.monotonic()
    execution_id = engine.execute(request(Shell(command=f"sleep {marker} & echo hi")))
    result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT_S)
    assert time.monotonic() - begin < QUICK_END_S
    assert result.status is ExecutionStatus.COMPLETED
    assert result.stdout == "hi"


def test_a_background_job_holding_the_pipe_is_killed_at_the_end(engine: ExecutionEngine) -> None:
    marker = sleep_marker()
    command = Shell(command=f"sleep {marker} & echo $! >&2; echo hi")
    result = engine.get_result(engine.execute(request(command)), timeout=RESULT_TIMEOUT_S)
    assert result.stdout == "hi"
    assert_all_gone(pids_in(result.stderr), marker)


def test_a_background_job_that_closed_its_pipes_is_killed_at_the_end(
    engine: ExecutionEngine,
) -> None:
    marker = sleep_marker()
    command = Shell(command=f"sleep {marker} >/dev/null 2>&1 & echo $!")
    result = engine.get_result(engine.execute(request(command)), timeout=RESULT_TIMEOUT_S)
    assert result.status is ExecutionStatus.COMPLETED
    assert_all_gone(pids_in(result.stdout), marker)


def test_a_main_process_that_closes_its_pipes_early_is_still_waited_for(
    engine: ExecutionEngine,
) -> None:
    command = py(
        code(
            """
            import os, time
            print("closing my pipes", flush=True)
            os.close(1)
            os.close(2)
            time.sleep(1)
            os._exit(4)
            """
        )
    )
    result = engine.get_result(engine.execute(request(command)), timeout=RESULT_TIMEOUT_S)
    assert result.stdout == "closing my pipes"
    assert result.status is ExecutionStatus.FAILED
    assert result.exit_code == 4
    assert result.duration_ms >= 900


def test_a_grandchild_that_escaped_with_setsid_does_not_keep_the_execution_alive(
    engine: ExecutionEngine, recorder: EventRecorder
) -> None:
    marker = sleep_marker()
    command = py(
        code(
            f"""
            import subprocess
            escaped = subprocess.Popen(["sleep", "{marker}"], start_new_session=True)
            print(escaped.pid, flush=True)
            """
        )
    )
    begin = time.monotonic()
    execution_id = engine.execute(request(command))
    printed = recorder.wait_for("stdout", execution_id)
    assert isinstance(printed, Stdout)
    escaped_pid = int(printed.lines[0])
    try:
        result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT_S)
        assert time.monotonic() - begin < QUICK_END_S
        assert result.status is ExecutionStatus.COMPLETED
        assert result.stdout == str(escaped_pid)
    finally:
        # Outside the group the engine cannot reach it; this test must not leak it.
        with contextlib.suppress(ProcessLookupError):
            os.kill(escaped_pid, signal.SIGKILL)
        assert wait_gone([escaped_pid]) == []
    assert running_with(marker) == []


# --- log files ----------------------------------------------------------------------------------


def _parse_log(text: str) -> list[tuple[datetime, str, str]]:
    """Split each log line into (timestamp, tag, text); fail on a line of another shape."""
    entries = []
    for line in text.splitlines():
        stamp, tag, bar, rest = [*line.split(" ", 3), "", "", ""][:4]
        assert bar == "|", f"not a tagged log line: {line!r}"
        entries.append((datetime.fromisoformat(stamp), tag, rest))
    return entries


def test_read_logs_has_tagged_timestamped_output_and_engine_lines(
    engine: ExecutionEngine,
) -> None:
    command = py("import sys; print('to out'); print('to err', file=sys.stderr)")
    execution_id = engine.execute(request(command))
    engine.get_result(execution_id, timeout=RESULT_TIMEOUT_S)
    entries = _parse_log(engine.read_logs(execution_id))
    tags = [tag for _, tag, _ in entries]
    assert ("stdout", "to out") in [(tag, rest) for _, tag, rest in entries]
    assert ("stderr", "to err") in [(tag, rest) for _, tag, rest in entries]
    assert set(tags) == {"engine", "stdout", "stderr"}
    # One engine line opens the log (the start) and one closes it (the end).
    assert tags[0] == "engine"
    assert tags[-1] == "engine"
    assert all(stamp.tzinfo is not None for stamp, _, _ in entries)


def test_the_log_dir_is_private_and_the_log_file_owner_only(
    engine: ExecutionEngine, log_dir: Path
) -> None:
    result = engine.get_result(engine.execute(request(py("print(1)"))), timeout=RESULT_TIMEOUT_S)
    assert result.log_path is not None
    assert stat.S_IMODE(log_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(result.log_path.stat().st_mode) == 0o600


def test_the_result_log_path_points_to_the_log_file(engine: ExecutionEngine, log_dir: Path) -> None:
    execution_id = engine.execute(request(py("print('logged')")))
    result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT_S)
    assert result.log_path is not None
    assert result.log_path.parent == log_dir
    assert result.log_path.read_text() == engine.read_logs(execution_id)
    assert "logged" in result.log_path.read_text()


def test_without_a_log_dir_there_is_no_log_file(make_engine: EngineFactory, log_dir: Path) -> None:
    engine = make_engine(config=ExecutionConfig.testing(log_dir=None))
    execution_id = engine.execute(request(py("print('not logged')")))
    result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT_S)
    assert result.stdout == "not logged"
    assert result.log_path is None
    assert engine.read_logs(execution_id) == ""
    assert not log_dir.exists()


def test_a_shell_script_sees_its_args_as_dollar_1_and_up(engine: ExecutionEngine) -> None:
    script = Script(content='echo "$0|$1|$2|$#"', args=("first", "second"))
    result = engine.get_result(engine.execute(request(script)), timeout=RESULT_TIMEOUT_S)
    assert result.stdout == "bash|first|second|2"


def test_a_sh_script_sees_its_args_as_dollar_1_and_up(engine: ExecutionEngine) -> None:
    script = Script(content='echo "$1 $#"', interpreter="/bin/sh", args=("only",))
    result = engine.get_result(engine.execute(request(script)), timeout=RESULT_TIMEOUT_S)
    assert result.stdout == "only 1"
