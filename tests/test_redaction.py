"""Secrets in ``redact`` never leave the engine: output, events, logs, spill files, descriptions."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from actors import ExecutionEngine
from actors.testing import EventRecorder
from messages import (
    Exec,
    ExecutionConfig,
    ExecutionResult,
    ExecutionStatus,
    Failed,
    Started,
    Stderr,
    Stdout,
)
from tests.conftest import EngineFactory, py, request

RESULT_TIMEOUT = 20.0
SECRET = "s3cr3t-value"

# The child assembles the secret at run time, so it is in its output but not in its argv.
LEAKY = py(
    "import sys\nsecret = 's3cr3t' + '-value'\n"
    "print(f'token={secret} end', flush=True)\n"
    "print(f'err {secret}!', file=sys.stderr, flush=True)"
)


@pytest.fixture
def engine(make_engine: EngineFactory) -> ExecutionEngine:
    """An engine that redacts ``SECRET``."""
    return make_engine(redact=(SECRET,))


def run(engine: ExecutionEngine, command: Exec, **fields: Any) -> ExecutionResult:
    """Execute ``command`` and wait for its result."""
    return engine.get_result(engine.execute(request(command, **fields)), timeout=RESULT_TIMEOUT)


# -- output --------------------------------------------------------------------------------------


def test_the_secret_is_masked_in_the_result_stdout_and_stderr(engine: ExecutionEngine) -> None:
    result = run(engine, LEAKY)
    assert result.stdout == "token=*** end"
    assert result.stderr == "err ***!"


def test_the_secret_is_masked_in_stdout_and_stderr_events(engine: ExecutionEngine) -> None:
    with EventRecorder(engine) as recorder:
        result = run(engine, LEAKY)
        recorder.wait_terminal(result.execution_id)
        events = recorder.of(result.execution_id)
    out = [line for e in events if isinstance(e, Stdout) for line in e.lines]
    err = [line for e in events if isinstance(e, Stderr) for line in e.lines]
    assert out == ["token=*** end"]
    assert err == ["err ***!"]
    assert all(SECRET not in event.model_dump_json() for event in events)


def test_the_secret_is_masked_in_read_logs(engine: ExecutionEngine) -> None:
    result = run(engine, LEAKY)
    log = engine.read_logs(result.execution_id)
    assert "stdout | token=*** end" in log
    assert "stderr | err ***!" in log
    assert SECRET not in log


def test_the_secret_is_absent_from_the_raw_log_file(engine: ExecutionEngine) -> None:
    result = run(engine, LEAKY)
    assert result.log_path is not None
    raw = result.log_path.read_bytes()
    assert SECRET.encode() not in raw
    assert b"***" in raw


def test_the_secret_is_masked_in_the_spill_file(make_engine: EngineFactory) -> None:
    engine = make_engine(
        redact=(SECRET,), max_output_size_bytes=64, oversized_output_strategy="stream_to_file"
    )
    command = py("secret = 's3cr3t' + '-value'\nfor i in range(50): print(f'{i} {secret} {i}')")
    result = run(engine, command)
    assert result.stdout_spill_path is not None
    spilled = result.stdout_spill_path.read_text().splitlines()
    assert spilled[-1] == "49 *** 49"
    assert SECRET not in result.stdout_spill_path.read_text()
    assert SECRET not in result.stdout


def test_a_secret_split_across_two_reads_is_masked(engine: ExecutionEngine) -> None:
    command = py(
        "import sys, time\n"
        "sys.stdout.write('before s3cr3t'); sys.stdout.flush()\n"
        # The pause makes the engine read the first half on its own.
        "time.sleep(0.2)\n"
        "sys.stdout.write('-value after\\n')"
    )
    with EventRecorder(engine) as recorder:
        result = run(engine, command)
        recorder.wait_terminal(result.execution_id)
        events = recorder.of(result.execution_id)
    assert result.stdout == "before *** after"
    assert [line for e in events if isinstance(e, Stdout) for line in e.lines] == [
        "before *** after"
    ]


def test_two_secrets_where_one_contains_the_other_are_both_masked(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(redact=("s3cr3t", SECRET))
    command = py("s = 's3cr3t'\nprint(f'a {s}-value b {s} c')")
    result = run(engine, command)
    assert result.stdout == "a *** b *** c"


# -- descriptions and errors ---------------------------------------------------------------------

SECRET_IN_ARGV = Exec(program=sys.executable, args=("-c", "print('fine')", SECRET))


def test_the_secret_is_masked_in_the_listed_command(engine: ExecutionEngine) -> None:
    result = run(engine, SECRET_IN_ARGV)
    [summary] = engine.list_executions()
    assert summary.execution_id == result.execution_id
    assert summary.command.endswith(" ***")
    assert SECRET not in summary.command


def test_the_secret_is_masked_in_the_started_event_command(engine: ExecutionEngine) -> None:
    with EventRecorder(engine) as recorder:
        result = run(engine, SECRET_IN_ARGV)
        started = recorder.wait_for(Started, result.execution_id)
    assert isinstance(started, Started)
    assert started.command.endswith(" ***")
    assert SECRET not in started.command


def test_the_secret_is_masked_in_the_logged_command(engine: ExecutionEngine) -> None:
    result = run(engine, SECRET_IN_ARGV)
    log = engine.read_logs(result.execution_id)
    assert "***" in log
    assert SECRET not in log


SPAWN_FAILURE = Exec(program=f"/no/such/dir/{SECRET}/prog")


def test_a_spawn_error_naming_the_secret_is_masked_in_the_result_error(
    engine: ExecutionEngine,
) -> None:
    result = run(engine, SPAWN_FAILURE)
    assert result.status is ExecutionStatus.FAILED
    assert result.error is not None
    assert "/no/such/dir/***/prog" in result.error
    assert SECRET not in result.error


def test_a_spawn_error_naming_the_secret_is_masked_in_the_failed_event(
    engine: ExecutionEngine,
) -> None:
    with EventRecorder(engine) as recorder:
        result = run(engine, SPAWN_FAILURE)
        event = recorder.wait_terminal(result.execution_id)
    assert isinstance(event, Failed)
    assert event.reason == "spawn_error"
    assert "***" in event.message
    assert SECRET not in event.message


def test_a_spawn_error_naming_the_secret_is_masked_in_the_log(engine: ExecutionEngine) -> None:
    result = run(engine, SPAWN_FAILURE)
    assert result.log_path is not None
    log = result.log_path.read_text()
    assert "spawn failed" in log
    assert SECRET not in log


# -- the config ----------------------------------------------------------------------------------


def test_the_config_repr_does_not_show_the_secrets() -> None:
    config = ExecutionConfig.testing(redact=(SECRET, "other-secret"))
    assert SECRET not in repr(config)
    assert "other-secret" not in repr(config)
    assert SECRET not in str(config)
