"""The messages package: commands, requests, config, results, events, protocol, errors."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from messages import (
    AwsCli,
    Cancel,
    Cancelled,
    Command,
    Completed,
    ConcurrencyMetrics,
    DuplicateExecution,
    EngineStopped,
    Exec,
    ExecutionConfig,
    ExecutionError,
    ExecutionEvent,
    ExecutionNotFound,
    ExecutionRequest,
    ExecutionResult,
    ExecutionStatus,
    ExecutionSummary,
    Failed,
    FailureReason,
    GetMetrics,
    GetResult,
    GetStatus,
    InvalidRequest,
    ListExecutions,
    OversizedOutputStrategy,
    Progress,
    QueueFull,
    ResultTimeout,
    RunCleanup,
    Script,
    Shell,
    Started,
    Stderr,
    Stdout,
    Submit,
    default_log_dir,
)
from messages import errors as errors_module

MiB = 1024 * 1024
ID = uuid.UUID("12345678-1234-5678-1234-567812345678")
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
T1 = T0 + timedelta(seconds=2)

PRESETS: dict[str, Callable[..., ExecutionConfig]] = {
    "production": ExecutionConfig.production,
    "development": ExecutionConfig.development,
    "testing": ExecutionConfig.testing,
    "high_throughput": ExecutionConfig.high_throughput,
    "restricted": ExecutionConfig.restricted,
}


def ok_command() -> Exec:
    return Exec(program="true")


def error_loc(build: Callable[[], object]) -> tuple[int | str, ...]:
    """Build something invalid; return the location of the first validation error."""
    with pytest.raises(ValidationError) as info:
        build()
    return info.value.errors()[0]["loc"]


def assert_round_trips(model: BaseModel) -> None:
    assert type(model).model_validate_json(model.model_dump_json()) == model


# --- commands ---------------------------------------------------------------


def test_shell_runs_bash_by_default() -> None:
    shell = Shell(command="echo hi")
    assert (shell.kind, shell.command, shell.shell) == ("shell", "echo hi", "/bin/bash")


def test_exec_has_no_args_by_default() -> None:
    command = Exec(program="ls")
    assert (command.kind, command.program, command.args) == ("exec", "ls", ())


def test_script_runs_bash_without_args_by_default() -> None:
    script = Script(content="echo hi")
    assert (script.kind, script.interpreter, script.args) == ("script", "/bin/bash", ())


def test_aws_cli_defaults_to_json_output_without_profile_or_region() -> None:
    call = AwsCli(service="s3", operation="ls")
    assert call.kind == "aws_cli"
    assert (call.args, call.profile, call.region, call.output) == ((), None, None, "json")


def test_shell_describes_its_command_line() -> None:
    assert Shell(command="echo hi | wc -c").describe() == "echo hi | wc -c"


def test_a_multi_line_script_is_described_on_one_line() -> None:
    description = Script(content="set -e\necho one\necho two\n").describe()
    assert "\n" not in description
    assert "set -e" in description


def test_a_multi_line_shell_command_is_described_on_one_line() -> None:
    assert "\n" not in Shell(command="echo a\r\necho b\necho c").describe()


def test_exec_describes_its_arguments_quoted_as_a_shell_would_need() -> None:
    command = Exec(program="echo", args=("hello world", "it's", "plain"))
    assert command.describe() == "echo 'hello world' 'it'\"'\"'s' plain"


def test_aws_cli_describes_the_whole_aws_command_line() -> None:
    call = AwsCli(service="s3", operation="ls", region="eu-west-1")
    assert call.describe() == "aws s3 ls --region eu-west-1 --output json"


def test_aws_cli_puts_profile_region_and_output_before_its_args() -> None:
    call = AwsCli(
        service="s3api",
        operation="list-buckets",
        args=("--query", "Buckets[].Name"),
        profile="dev",
        region="us-east-1",
        output="text",
    )
    assert call.describe() == (
        "aws s3api list-buckets --profile dev --region us-east-1 --output text "
        "--query 'Buckets[].Name'"
    )


def test_aws_cli_without_output_omits_the_output_flag() -> None:
    assert AwsCli(service="sts", operation="get-caller-identity", output=None).describe() == (
        "aws sts get-caller-identity"
    )


def test_a_very_long_description_stays_one_bounded_line() -> None:
    description = Shell(command="echo " + "x" * 5000).describe()
    assert "\n" not in description
    assert len(description) <= 200


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"kind": "exec", "program": "true"}, Exec),
        ({"kind": "shell", "command": "true"}, Shell),
        ({"kind": "script", "content": "true"}, Script),
        ({"kind": "aws_cli", "service": "s3", "operation": "ls"}, AwsCli),
    ],
)
def test_the_command_union_picks_the_model_from_kind(
    data: dict[str, Any], expected: type[BaseModel]
) -> None:
    assert type(TypeAdapter(Command).validate_python(data)) is expected


def test_the_command_union_rejects_an_unknown_kind() -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Command).validate_python({"kind": "telnet", "program": "true"})


def test_lists_are_accepted_and_stored_as_tuples() -> None:
    command = Exec.model_validate({"program": "echo", "args": ["a", "b"]})
    assert command.args == ("a", "b")
    assert isinstance(command.args, tuple)


def test_script_and_aws_cli_args_are_tuples_too() -> None:
    script = Script.model_validate({"content": "echo", "args": ["a"]})
    call = AwsCli.model_validate({"service": "s3", "operation": "ls", "args": ["--recursive"]})
    assert isinstance(script.args, tuple)
    assert isinstance(call.args, tuple)


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        (Shell(command="true"), "command", "false"),
        (Exec(program="true"), "args", ("x",)),
        (Script(content="true"), "content", "false"),
        (AwsCli(service="s3", operation="ls"), "region", "eu-west-1"),
    ],
)
def test_a_command_is_frozen(model: BaseModel, field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        setattr(model, field, value)


def test_an_empty_shell_command_is_rejected_naming_the_field() -> None:
    assert error_loc(lambda: Shell(command="")) == ("command",)


def test_an_empty_program_is_rejected_naming_the_field() -> None:
    assert error_loc(lambda: Exec(program="")) == ("program",)


def test_an_empty_script_content_is_rejected_naming_the_field() -> None:
    assert error_loc(lambda: Script(content="")) == ("content",)


def test_a_nul_byte_in_a_shell_command_is_rejected_naming_the_field() -> None:
    assert error_loc(lambda: Shell(command="echo a\x00b")) == ("command",)


def test_a_nul_byte_in_an_argument_is_rejected_naming_the_field() -> None:
    assert error_loc(lambda: Exec(program="echo", args=("ok", "b\x00d"))) == ("args", 1)


def test_a_nul_byte_in_a_script_is_rejected_naming_the_field() -> None:
    assert error_loc(lambda: Script(content="echo\x00")) == ("content",)


def test_an_empty_command_inside_a_request_is_rejected_naming_the_path() -> None:
    loc = error_loc(
        lambda: ExecutionRequest.model_validate({"command": {"kind": "shell", "command": ""}})
    )
    assert loc[0] == "command"
    assert loc[-1] == "command"


@pytest.mark.parametrize("field", ["service", "operation"])
@pytest.mark.parametrize("value", ["S3", "", "-s3", "s3 ls", "s3_api", "s3;rm"])
def test_an_aws_name_off_the_pattern_is_rejected_naming_the_field(field: str, value: str) -> None:
    fields = {"service": "s3", "operation": "ls", field: value}
    assert error_loc(lambda: AwsCli.model_validate(fields)) == (field,)


def test_aws_names_with_digits_and_dashes_are_accepted() -> None:
    call = AwsCli(service="s3api", operation="list-objects-v2")
    assert (call.service, call.operation) == ("s3api", "list-objects-v2")


def test_an_unknown_aws_output_is_rejected_naming_the_field() -> None:
    assert error_loc(
        lambda: AwsCli.model_validate({"service": "s3", "operation": "ls", "output": "xml"})
    ) == ("output",)


@pytest.mark.parametrize(
    "model",
    [
        lambda: Shell.model_validate({"command": "true", "bogus": 1}),
        lambda: Exec.model_validate({"program": "true", "bogus": 1}),
        lambda: Script.model_validate({"content": "true", "bogus": 1}),
        lambda: AwsCli.model_validate({"service": "s3", "operation": "ls", "bogus": 1}),
    ],
)
def test_a_command_rejects_an_unknown_field(model: Callable[[], object]) -> None:
    assert error_loc(model) == ("bogus",)


# --- requests ---------------------------------------------------------------


def test_a_request_has_documented_defaults() -> None:
    req = ExecutionRequest(command=ok_command())
    assert isinstance(req.id, uuid.UUID)
    assert req.timeout_ms is None
    assert req.env == {}
    assert req.working_dir is None
    assert req.stdin is None
    assert req.idle_timeout_ms is None
    assert req.labels == {}


def test_each_request_gets_a_fresh_id() -> None:
    ids = {ExecutionRequest(command=ok_command()).id for _ in range(50)}
    assert len(ids) == 50


def test_a_request_keeps_a_chosen_id() -> None:
    assert ExecutionRequest(id=ID, command=ok_command()).id == ID


def test_a_request_hides_env_from_repr() -> None:
    req = ExecutionRequest(command=ok_command(), env={"API_TOKEN": "hunter2-s3cr3t"})
    assert "hunter2-s3cr3t" not in repr(req)
    assert "hunter2-s3cr3t" not in str(req)


def test_a_request_accepts_a_command_as_a_dict() -> None:
    req = ExecutionRequest.model_validate({"command": {"kind": "shell", "command": "true"}})
    assert isinstance(req.command, Shell)


def test_a_request_is_frozen() -> None:
    req = ExecutionRequest(command=ok_command())
    with pytest.raises(ValidationError):
        req.timeout_ms = 5  # type: ignore[misc]


def test_a_nul_byte_in_an_env_value_is_rejected_naming_the_field() -> None:
    loc = error_loc(lambda: ExecutionRequest(command=ok_command(), env={"A": "x\x00y"}))
    assert loc == ("env", "A")


@pytest.mark.parametrize("name", ["1ABC", "A-B", "A B", "", "A=B", "Ä", "A\x00"])
def test_an_env_name_off_the_pattern_is_rejected_naming_the_field(name: str) -> None:
    loc = error_loc(lambda: ExecutionRequest(command=ok_command(), env={name: "v"}))
    assert loc[0] == "env"


@pytest.mark.parametrize("name", ["A", "_", "_x1", "PATH", "aws_region_2"])
def test_env_names_on_the_pattern_are_accepted(name: str) -> None:
    assert ExecutionRequest(command=ok_command(), env={name: "v"}).env == {name: "v"}


def test_a_nul_byte_in_working_dir_is_rejected_naming_the_field() -> None:
    loc = error_loc(lambda: ExecutionRequest(command=ok_command(), working_dir=Path("/tmp/a\x00")))
    assert loc == ("working_dir",)


def test_a_nul_byte_in_a_label_value_is_rejected_naming_the_field() -> None:
    loc = error_loc(lambda: ExecutionRequest(command=ok_command(), labels={"team": "a\x00"}))
    assert loc == ("labels", "team")


def test_a_nul_byte_in_a_label_name_is_rejected_naming_the_field() -> None:
    loc = error_loc(lambda: ExecutionRequest(command=ok_command(), labels={"te\x00am": "a"}))
    assert loc[0] == "labels"


def test_a_nul_byte_in_stdin_is_rejected_naming_the_field() -> None:
    assert error_loc(lambda: ExecutionRequest(command=ok_command(), stdin="a\x00")) == ("stdin",)


@pytest.mark.parametrize("value", [0, -1, -60_000])
def test_a_timeout_that_is_not_positive_is_rejected_naming_the_field(value: int) -> None:
    loc = error_loc(lambda: ExecutionRequest(command=ok_command(), timeout_ms=value))
    assert loc == ("timeout_ms",)


@pytest.mark.parametrize("value", [0, -1])
def test_an_idle_timeout_that_is_not_positive_is_rejected_naming_the_field(value: int) -> None:
    loc = error_loc(lambda: ExecutionRequest(command=ok_command(), idle_timeout_ms=value))
    assert loc == ("idle_timeout_ms",)


def test_a_request_rejects_an_unknown_field() -> None:
    loc = error_loc(
        lambda: ExecutionRequest.model_validate(
            {"command": {"kind": "exec", "program": "true"}, "retries": 3}
        )
    )
    assert loc == ("retries",)


def test_a_request_without_a_command_is_rejected_naming_the_field() -> None:
    assert error_loc(lambda: ExecutionRequest.model_validate({})) == ("command",)


# --- config -----------------------------------------------------------------


def test_the_config_has_the_documented_defaults() -> None:
    config = ExecutionConfig()
    assert config.max_concurrent_executions == 8
    assert config.max_queued_executions == 10_000
    assert config.default_timeout_ms == 300_000
    assert config.max_timeout_ms == 86_400_000
    assert config.kill_grace_ms == 2_000
    assert config.max_output_size_bytes == 10 * MiB
    assert config.oversized_output_strategy is OversizedOutputStrategy.TRUNCATE_WITH_WARNING
    assert config.log_dir == default_log_dir()
    assert config.execution_retention_secs == 3600.0
    assert config.max_in_memory_executions == 1000
    assert config.enable_auto_cleanup is True
    assert config.cleanup_interval_secs == 300.0
    assert config.progress_interval_ms == 1000
    assert config.inherit_env is True
    assert config.redact == ()


def test_the_default_log_dir_is_a_per_user_state_folder() -> None:
    assert default_log_dir().is_absolute()
    assert "cloudops-execution-engine" in default_log_dir().parts


def test_the_oversized_output_strategies_are_strings() -> None:
    assert {s.value for s in OversizedOutputStrategy} == {
        "truncate_with_warning",
        "fail_execution",
        "stream_to_file",
    }
    assert OversizedOutputStrategy("stream_to_file") == "stream_to_file"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_concurrent_executions", 0),
        ("max_queued_executions", -1),
        ("default_timeout_ms", 0),
        ("max_timeout_ms", 0),
        ("kill_grace_ms", -1),
        ("max_output_size_bytes", 0),
        ("oversized_output_strategy", "ignore"),
        ("execution_retention_secs", 0),
        ("execution_retention_secs", -1.5),
        ("max_in_memory_executions", 0),
        ("cleanup_interval_secs", 0),
        ("progress_interval_ms", -1),
    ],
)
def test_a_config_value_off_its_rule_is_rejected_naming_the_field(
    field: str, value: object
) -> None:
    assert error_loc(lambda: ExecutionConfig.model_validate({field: value})) == (field,)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_queued_executions", 0),
        ("kill_grace_ms", 0),
        ("progress_interval_ms", 0),
        ("log_dir", None),
    ],
)
def test_a_config_accepts_the_edge_of_each_rule(field: str, value: object) -> None:
    assert getattr(ExecutionConfig.model_validate({field: value}), field) == value


def test_a_default_timeout_above_the_max_is_rejected_naming_both_fields() -> None:
    with pytest.raises(ValidationError) as info:
        ExecutionConfig(default_timeout_ms=10_000, max_timeout_ms=5_000)
    message = str(info.value)
    assert "default_timeout_ms" in message
    assert "max_timeout_ms" in message


def test_a_default_timeout_equal_to_the_max_is_accepted() -> None:
    config = ExecutionConfig(default_timeout_ms=5_000, max_timeout_ms=5_000)
    assert config.default_timeout_ms == config.max_timeout_ms


def test_an_empty_redact_string_is_rejected_naming_the_field() -> None:
    assert error_loc(lambda: ExecutionConfig(redact=("secret", ""))) == ("redact", 1)


def test_redact_secrets_are_hidden_from_the_config_repr() -> None:
    assert "t0p-s3cr3t" not in repr(ExecutionConfig(redact=("t0p-s3cr3t",)))


def test_redact_accepts_a_list_and_stores_a_tuple() -> None:
    assert ExecutionConfig.model_validate({"redact": ["a", "b"]}).redact == ("a", "b")


def test_a_config_rejects_an_unknown_field() -> None:
    assert error_loc(lambda: ExecutionConfig.model_validate({"max_workers": 3})) == ("max_workers",)


def test_a_config_is_frozen() -> None:
    config = ExecutionConfig()
    with pytest.raises(ValidationError):
        config.max_concurrent_executions = 2  # type: ignore[misc]


@pytest.mark.parametrize("preset", PRESETS)
def test_each_preset_returns_a_valid_config(preset: str) -> None:
    config = PRESETS[preset]()
    assert isinstance(config, ExecutionConfig)
    assert ExecutionConfig.model_validate(config.model_dump()) == config


@pytest.mark.parametrize("preset", PRESETS)
def test_each_preset_accepts_keyword_overrides(preset: str) -> None:
    config = PRESETS[preset](max_concurrent_executions=3, redact=("pw",))
    assert config.max_concurrent_executions == 3
    assert config.redact == ("pw",)


@pytest.mark.parametrize("preset", PRESETS)
def test_each_preset_validates_its_overrides(preset: str) -> None:
    with pytest.raises(ValidationError):
        PRESETS[preset](max_concurrent_executions=0)


def test_the_testing_preset_logs_under_the_temp_dir() -> None:
    log_dir = ExecutionConfig.testing().log_dir
    assert log_dir is not None
    assert log_dir.is_relative_to(tempfile.gettempdir())


def test_the_testing_preset_is_quicker_and_smaller_than_the_default() -> None:
    default, testing = ExecutionConfig(), ExecutionConfig.testing()
    assert testing.default_timeout_ms < default.default_timeout_ms
    assert testing.cleanup_interval_secs < default.cleanup_interval_secs
    assert testing.max_output_size_bytes < default.max_output_size_bytes


def test_the_restricted_preset_does_not_inherit_the_environment() -> None:
    assert ExecutionConfig.restricted().inherit_env is False


def test_the_restricted_preset_has_a_shorter_default_timeout() -> None:
    restricted = ExecutionConfig.restricted()
    assert restricted.default_timeout_ms < ExecutionConfig().default_timeout_ms


def test_the_restricted_preset_fails_on_oversized_output() -> None:
    strategy = ExecutionConfig.restricted().oversized_output_strategy
    assert strategy is OversizedOutputStrategy.FAIL_EXECUTION


def test_the_high_throughput_preset_allows_more_concurrency_than_the_default() -> None:
    config = ExecutionConfig.high_throughput()
    assert config.max_concurrent_executions > ExecutionConfig().max_concurrent_executions


# --- statuses ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "terminal"),
    [
        (ExecutionStatus.PENDING, False),
        (ExecutionStatus.RUNNING, False),
        (ExecutionStatus.COMPLETED, True),
        (ExecutionStatus.FAILED, True),
        (ExecutionStatus.TIMED_OUT, True),
        (ExecutionStatus.CANCELLED, True),
        (ExecutionStatus.INTERRUPTED, True),
    ],
)
def test_is_terminal_is_true_for_the_last_five_statuses(
    status: ExecutionStatus, terminal: bool
) -> None:
    assert status.is_terminal is terminal


def test_the_status_is_a_str_enum_of_seven_values() -> None:
    assert [s.value for s in ExecutionStatus] == [
        "pending",
        "running",
        "completed",
        "failed",
        "timed_out",
        "cancelled",
        "interrupted",
    ]
    assert isinstance(ExecutionStatus.TIMED_OUT, str)
    assert ExecutionStatus("timed_out") is ExecutionStatus.TIMED_OUT


# --- JSON round trips -------------------------------------------------------


def full_request() -> ExecutionRequest:
    return ExecutionRequest(
        id=ID,
        command=Shell(command="echo $GREETING", shell="/bin/sh"),
        timeout_ms=5_000,
        env={"GREETING": "hello", "_X1": ""},
        working_dir=Path("/tmp"),
        stdin="line one\nline two\n",
        idle_timeout_ms=1_000,
        labels={"team": "ops", "ticket": "OPS-1"},
    )


def full_result() -> ExecutionResult:
    return ExecutionResult(
        execution_id=ID,
        status=ExecutionStatus.FAILED,
        success=False,
        exit_code=-9,
        stdout="a\nb",
        stderr="boom ✗",
        stdout_truncated=True,
        stderr_truncated=False,
        stdout_spill_path=Path("/tmp/x.stdout.spill"),
        stderr_spill_path=None,
        error="killed by signal 9",
        queued_at=T0,
        started_at=T0,
        completed_at=T1,
        duration_ms=2_000,
        log_path=Path("/tmp/x.log"),
    )


EVENTS: list[BaseModel] = [
    Started(execution_id=ID, seq=1, timestamp=T0, pid=4242, command="echo hi"),
    Stdout(execution_id=ID, seq=2, timestamp=T0, lines=("a", "", "é ✓")),
    Stderr(execution_id=ID, seq=3, timestamp=T0, lines=("warning",)),
    Progress(execution_id=ID, seq=4, timestamp=T0, elapsed_ms=1000, stdout_bytes=5, stderr_bytes=8),
    Completed(execution_id=ID, seq=5, timestamp=T1, exit_code=0, duration_ms=2000),
    Failed(
        execution_id=ID,
        seq=5,
        timestamp=T1,
        reason=FailureReason.TIMEOUT,
        exit_code=None,
        message="timed out after 5000 ms",
        duration_ms=5000,
    ),
    Cancelled(execution_id=ID, seq=1, timestamp=T1, duration_ms=0),
]

PROTOCOL: list[BaseModel] = [
    Submit(request=full_request()),
    Cancel(execution_id=ID),
    GetStatus(execution_id=ID),
    GetResult(execution_id=ID),
    ListExecutions(),
    ListExecutions(status=ExecutionStatus.RUNNING),
    GetMetrics(),
    RunCleanup(),
]


@pytest.mark.parametrize(
    "command",
    [
        Shell(command="echo 'hi'\necho there", shell="/bin/sh"),
        Exec(program="/usr/bin/env", args=("a b", "ü")),
        Script(content="#!/bin/sh\necho $1\n", interpreter="/bin/sh", args=("x",)),
        AwsCli(service="s3", operation="ls", args=("s3://b",), profile="p", region="r"),
        AwsCli(service="s3", operation="ls", output=None),
    ],
    ids=lambda c: c.kind,
)
def test_each_command_round_trips_through_json(command: BaseModel) -> None:
    assert_round_trips(command)


def test_a_command_round_trips_through_json_as_the_union() -> None:
    adapter = TypeAdapter(Command)
    command = Script(content="echo hi", args=("a",))
    assert adapter.validate_json(adapter.dump_json(command)) == command


def test_a_full_request_round_trips_through_json() -> None:
    assert_round_trips(full_request())


def test_a_request_with_each_kind_of_command_round_trips_through_json() -> None:
    for command in (
        Shell(command="x"),
        Exec(program="x"),
        Script(content="x"),
        AwsCli(service="s3", operation="ls"),
    ):
        assert_round_trips(ExecutionRequest(command=command))


@pytest.mark.parametrize("preset", PRESETS)
def test_each_preset_config_round_trips_through_json(preset: str) -> None:
    assert_round_trips(PRESETS[preset](redact=("s3cret",)))


def test_a_result_round_trips_through_json() -> None:
    assert_round_trips(full_result())


def test_a_summary_round_trips_through_json() -> None:
    summary = ExecutionSummary(
        execution_id=ID,
        status=ExecutionStatus.RUNNING,
        command="echo hi",
        labels={"team": "ops"},
        queued_at=T0,
        started_at=T0,
        completed_at=None,
        exit_code=None,
        pid=123,
    )
    assert_round_trips(summary)


def test_metrics_round_trip_through_json() -> None:
    metrics = ConcurrencyMetrics(
        max_concurrent=8,
        currently_running=3,
        currently_pending=2,
        available_slots=5,
        total_submitted=10,
        total_finished=5,
    )
    assert_round_trips(metrics)


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.type)
def test_each_event_round_trips_through_json(event: BaseModel) -> None:
    assert_round_trips(event)


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.type)
def test_the_event_union_picks_the_class_from_type(event: BaseModel) -> None:
    parsed = TypeAdapter(ExecutionEvent).validate_json(event.model_dump_json())
    assert type(parsed) is type(event)
    assert parsed == event


def test_the_event_union_rejects_an_unknown_type() -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(ExecutionEvent).validate_python(
            {"type": "exploded", "execution_id": str(ID), "seq": 1, "timestamp": T0.isoformat()}
        )


def test_an_event_needs_a_timezone_aware_timestamp() -> None:
    loc = error_loc(
        lambda: Cancelled(execution_id=ID, seq=1, timestamp=datetime(2024, 1, 1), duration_ms=0)
    )
    assert loc == ("timestamp",)


def test_an_event_seq_starts_at_one() -> None:
    loc = error_loc(lambda: Cancelled(execution_id=ID, seq=0, timestamp=T0, duration_ms=0))
    assert loc == ("seq",)


def test_only_completed_failed_and_cancelled_are_terminal_events() -> None:
    assert {type(e).__name__ for e in EVENTS if e.terminal} == {  # type: ignore[attr-defined]
        "Completed",
        "Failed",
        "Cancelled",
    }


def test_an_event_is_frozen() -> None:
    event = Stdout(execution_id=ID, seq=1, timestamp=T0, lines=("a",))
    with pytest.raises(ValidationError):
        event.lines = ("b",)  # type: ignore[misc]


@pytest.mark.parametrize("message", PROTOCOL, ids=lambda m: type(m).__name__)
def test_each_protocol_message_round_trips_through_json(message: BaseModel) -> None:
    assert_round_trips(message)


def test_a_protocol_message_is_frozen() -> None:
    message = Cancel(execution_id=ID)
    with pytest.raises(ValidationError):
        message.execution_id = uuid.uuid4()  # type: ignore[misc]


def test_a_protocol_message_rejects_an_unknown_field() -> None:
    assert error_loc(lambda: GetMetrics.model_validate({"verbose": True})) == ("verbose",)


def test_list_executions_lists_every_status_by_default() -> None:
    assert ListExecutions().status is None


# --- errors -----------------------------------------------------------------


def test_the_errors_are_re_exported_from_messages() -> None:
    assert errors_module.ExecutionNotFound is ExecutionNotFound
    assert errors_module.InvalidRequest is InvalidRequest
    assert errors_module.ExecutionError is ExecutionError


@pytest.mark.parametrize(
    "error",
    [
        ExecutionNotFound(ID),
        DuplicateExecution(ID),
        InvalidRequest("timeout_ms", 99, "above max_timeout_ms"),
        QueueFull(7),
        ResultTimeout(ID, 1.5),
        EngineStopped(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_every_error_derives_from_execution_error(error: Exception) -> None:
    assert isinstance(error, ExecutionError)


def test_execution_not_found_names_the_id() -> None:
    assert str(ID) in str(ExecutionNotFound(ID))


def test_duplicate_execution_names_the_id() -> None:
    assert str(ID) in str(DuplicateExecution(ID))


def test_invalid_request_names_the_field_the_value_and_the_reason() -> None:
    message = str(InvalidRequest("working_dir", "/no/such/dir", "does not exist"))
    assert "working_dir" in message
    assert "/no/such/dir" in message
    assert "does not exist" in message


def test_invalid_request_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="timeout_ms"):
        raise InvalidRequest("timeout_ms", 99, "too long")


def test_queue_full_names_the_limit() -> None:
    message = str(QueueFull(1234))
    assert "1234" in message
    assert "max_queued_executions" in message


def test_result_timeout_names_the_id_and_the_timeout() -> None:
    message = str(ResultTimeout(ID, 2.5))
    assert str(ID) in message
    assert "2.5" in message


def test_engine_stopped_says_the_engine_was_shut_down() -> None:
    assert "shut down" in str(EngineStopped())


# --- property: arbitrary input only ever raises ValidationError -------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
near_values = st.one_of(
    json_values,
    st.sampled_from(["", "\x00", "true", "echo hi", "/tmp", "A=B", "1A", "s3", "S3", "-1", "json"]),
    st.integers(min_value=-3, max_value=3),
)
good_text = st.text(st.characters(exclude_characters="\x00"), min_size=1, max_size=12)
aws_name = st.from_regex(r"[a-z0-9][a-z0-9-]{0,8}", fullmatch=True)
env_name = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)


Vary = Callable[[st.SearchStrategy[Any]], st.SearchStrategy[Any]]


def exactly(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return good


def mostly(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually a valid value, sometimes a near miss or arbitrary JSON."""
    return st.one_of(good, near_values)


def command_shapes(vary: Vary) -> st.SearchStrategy[dict[str, Any]]:
    maybe_text = vary(good_text | st.none())
    return st.one_of(
        st.fixed_dictionaries(
            {"kind": st.just("shell"), "command": vary(good_text)},
            optional={"shell": vary(good_text)},
        ),
        st.fixed_dictionaries(
            {"kind": st.just("exec"), "program": vary(good_text)},
            optional={"args": vary(st.lists(good_text, max_size=3))},
        ),
        st.fixed_dictionaries(
            {"kind": st.just("script"), "content": vary(good_text)},
            optional={"interpreter": vary(good_text), "args": st.lists(vary(good_text))},
        ),
        st.fixed_dictionaries(
            {"kind": st.just("aws_cli"), "service": vary(aws_name), "operation": vary(aws_name)},
            optional={
                "args": vary(st.lists(good_text, max_size=3)),
                "profile": maybe_text,
                "region": maybe_text,
                "output": vary(st.sampled_from(["json", "text", "table", "yaml", None])),
            },
        ),
    )


def request_shapes(vary: Vary) -> st.SearchStrategy[dict[str, Any]]:
    positive = st.integers(min_value=1, max_value=10**9) | st.none()
    return st.fixed_dictionaries(
        {"command": vary(command_shapes(vary))},
        optional={
            "id": vary(st.uuids().map(str)),
            "timeout_ms": vary(positive),
            "idle_timeout_ms": vary(positive),
            "env": vary(st.dictionaries(env_name, vary(st.text(max_size=8)), max_size=3)),
            "working_dir": vary(st.sampled_from(["/tmp", "relative/dir", ".", "/no/such"])),
            "stdin": vary(st.text(max_size=12) | st.none()),
            "labels": vary(st.dictionaries(good_text, good_text, max_size=3)),
        },
    )


near_request = st.one_of(
    request_shapes(exactly),
    request_shapes(mostly),
    st.fixed_dictionaries(
        {"command": command_shapes(exactly)},
        optional={
            "env": st.dictionaries(st.sampled_from(["1A", "A-B", "", "A\x00"]), near_values),
            "extra": near_values,
        },
    ),
)

count = st.integers(min_value=0, max_value=10**8)
seconds = st.floats(min_value=0.001, max_value=1e6)
config_values: dict[str, st.SearchStrategy[Any]] = {
    name: count for name, field in ExecutionConfig.model_fields.items() if field.annotation is int
}
config_values |= {
    "execution_retention_secs": seconds,
    "cleanup_interval_secs": seconds,
    "max_line_length": st.integers(min_value=64, max_value=10**7),
    "oversized_output_strategy": st.sampled_from([s.value for s in OversizedOutputStrategy]),
    "log_dir": st.none() | st.sampled_from(["/tmp/logs", "relative"]),
    "delete_logs_on_evict": st.booleans(),
    "enable_auto_cleanup": st.booleans(),
    "inherit_env": st.booleans(),
    "redact": st.lists(good_text, max_size=3),
}


def config_shapes(vary: Vary) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {}, optional={name: vary(value) for name, value in config_values.items()}
    )


near_config = st.one_of(
    config_shapes(exactly),
    config_shapes(mostly),
    st.fixed_dictionaries({"bogus": near_values}, optional={"max_concurrent_executions": count}),
)


@settings(max_examples=200, deadline=None)
@given(data=st.one_of(near_request, st.dictionaries(st.text(max_size=10), json_values, max_size=5)))
def test_any_request_input_validates_or_raises_validation_error(data: dict[str, Any]) -> None:
    try:
        req = ExecutionRequest.model_validate(data)
    except pydantic.ValidationError:
        return
    assert_round_trips(req)


@settings(max_examples=200, deadline=None)
@given(data=st.one_of(near_config, st.dictionaries(st.text(max_size=10), json_values, max_size=5)))
def test_any_config_input_validates_or_raises_validation_error(data: dict[str, Any]) -> None:
    try:
        config = ExecutionConfig.model_validate(data)
    except pydantic.ValidationError:
        return
    assert_round_trips(config)


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"command": {"kind": "shell", "command": "echo \ud800"}}, ("command", "shell", "command")),
        ({"command": {"kind": "exec", "program": "true"}, "stdin": "\udcff"}, ("stdin",)),
        (
            {"command": {"kind": "exec", "program": "true"}, "working_dir": "/tmp/\ud800"},
            ("working_dir",),
        ),
    ],
)
def test_a_lone_surrogate_is_rejected_naming_the_field(
    fields: dict[str, Any], loc: tuple[str, ...]
) -> None:
    # It has no UTF-8 form: it could reach neither a child nor JSON.
    with pytest.raises(ValidationError) as caught:
        ExecutionRequest.model_validate(fields)
    assert caught.value.errors()[0]["loc"][: len(loc)] == loc
