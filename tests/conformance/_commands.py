"""Conformance: each kind of command runs; the status is the main process's."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from messages import AwsCli, Exec, ExecutionStatus, Failed, Script, Shell, Started

from ._support import ConformanceEngine, SuiteBase, py

__all__ = ["CommandKinds", "ExitStatus"]

_FAKE_AWS = """#!/bin/sh
for arg in "$0" "$@"; do echo "arg=$arg"; done
echo "pager=[${AWS_PAGER-unset}]"
"""


def _fake_aws_path(tmp_path: Path) -> dict[str, str]:
    """An env whose PATH finds a fake ``aws`` that prints its argv and ``AWS_PAGER``."""
    bin_dir = tmp_path / "fake-aws-bin"
    bin_dir.mkdir()
    program = bin_dir / "aws"
    program.write_text(_FAKE_AWS)
    program.chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"}


class CommandKinds(SuiteBase):
    """Shell, Exec, Script and AwsCli each become the argv the contract names."""

    def test_shell_runs_its_command_with_bin_bash_by_default(
        self, conformance: ConformanceEngine
    ) -> None:
        result = conformance.run(Shell(command='echo "$0"; echo "${BASH_VERSION:+bash}"'))
        assert result.status is ExecutionStatus.COMPLETED
        assert result.stdout == "/bin/bash\nbash"

    def test_shell_runs_its_command_with_the_given_shell(
        self, conformance: ConformanceEngine
    ) -> None:
        result = conformance.run(Shell(command='echo "$0"', shell="/bin/sh"))
        assert result.stdout == "/bin/sh"

    def test_exec_passes_its_args_literally_without_a_shell(
        self, conformance: ConformanceEngine
    ) -> None:
        args = ("$HOME", "a b", "*", "`id`", ";", "'quoted'", "")
        result = conformance.run(py("import json, sys; print(json.dumps(sys.argv[1:]))", *args))
        assert result.status is ExecutionStatus.COMPLETED
        assert json.loads(result.stdout) == list(args)

    def test_script_runs_its_content_with_the_interpreter_and_args(
        self, conformance: ConformanceEngine
    ) -> None:
        script = Script(
            content="import sys\nprint('script says', ' '.join(sys.argv[1:]))\n",
            interpreter=sys.executable,
            args=("one", "two words"),
        )
        result = conformance.run(script)
        assert result.status is ExecutionStatus.COMPLETED
        assert result.stdout == "script says one two words"

    def test_a_bash_script_sees_its_args_as_dollar_1_and_up(
        self, conformance: ConformanceEngine
    ) -> None:
        script = Script(content='x=4\necho "$0|$1|$2|$#|$((x * 10))"\n', args=("first", "2nd"))
        result = conformance.run(script)
        assert result.stdout == "bash|first|2nd|2|40"

    def test_aws_cli_runs_aws_from_path_with_its_flags_then_its_args(
        self, conformance: ConformanceEngine, tmp_path: Path
    ) -> None:
        command = AwsCli(
            service="s3",
            operation="ls",
            profile="dev",
            region="eu-west-1",
            args=("s3://bucket", "--recursive"),
        )
        result = conformance.run(command, env=_fake_aws_path(tmp_path))
        assert result.status is ExecutionStatus.COMPLETED
        argv = [line[4:] for line in result.stdout.split("\n") if line.startswith("arg=")]
        assert os.path.basename(argv[0]) == "aws"
        assert argv[1:] == [
            *("s3", "ls", "--profile", "dev", "--region", "eu-west-1", "--output", "json"),
            *("s3://bucket", "--recursive"),
        ]

    def test_aws_cli_gets_an_empty_aws_pager(
        self, conformance: ConformanceEngine, tmp_path: Path
    ) -> None:
        result = conformance.run(AwsCli(service="sts", operation="x"), env=_fake_aws_path(tmp_path))
        assert "pager=[]" in result.stdout.split("\n")

    def test_aws_cli_keeps_an_aws_pager_the_request_sets(
        self, conformance: ConformanceEngine, tmp_path: Path
    ) -> None:
        env = _fake_aws_path(tmp_path) | {"AWS_PAGER": "cat"}
        result = conformance.run(AwsCli(service="sts", operation="x"), env=env)
        assert "pager=[cat]" in result.stdout.split("\n")


class ExitStatus(SuiteBase):
    """The status comes from the main process; a spawn error is a failure without a start."""

    def test_exit_code_zero_completes(self, conformance: ConformanceEngine) -> None:
        result = conformance.run(py("print('ok')"))
        assert (result.status, result.success, result.exit_code) == (
            ExecutionStatus.COMPLETED,
            True,
            0,
        )
        assert conformance.events(result)[-1].type == "completed"

    def test_a_non_zero_exit_fails_with_its_exit_code(self, conformance: ConformanceEngine) -> None:
        result = conformance.run(py("import sys; sys.exit(3)"))
        assert (result.status, result.exit_code) == (ExecutionStatus.FAILED, 3)
        event = conformance.events(result)[-1]
        assert isinstance(event, Failed)
        assert (event.reason, event.exit_code) == ("exit_code", 3)

    def test_death_by_signal_reports_the_negative_signal_number(
        self, conformance: ConformanceEngine
    ) -> None:
        result = conformance.run(py("import os, signal; os.kill(os.getpid(), signal.SIGKILL)"))
        assert (result.status, result.exit_code) == (ExecutionStatus.FAILED, -9)
        event = conformance.events(result)[-1]
        assert isinstance(event, Failed)
        assert (event.reason, event.exit_code) == ("exit_code", -9)

    def test_the_started_pid_is_the_main_process(self, conformance: ConformanceEngine) -> None:
        result = conformance.run(py("import os; print(os.getpid())"))
        started = conformance.events(result)[0]
        assert isinstance(started, Started)
        assert started.pid == int(result.stdout)
        assert result.pid == int(result.stdout)

    @pytest.mark.parametrize(
        "program",
        ["/nonexistent/engine-conformance-program", "engine-conformance-no-such-program"],
        ids=["missing-path", "not-on-path"],
    )
    def test_a_spawn_error_fails_with_reason_spawn_error_and_never_starts(
        self, conformance: ConformanceEngine, program: str
    ) -> None:
        result = conformance.run(Exec(program=program))
        assert (result.status, result.exit_code, result.started_at) == (
            ExecutionStatus.FAILED,
            None,
            None,
        )
        assert result.error is not None and program in result.error
        events = conformance.events(result)
        assert [e.type for e in events] == ["failed"]
        assert isinstance(events[0], Failed)
        assert (events[0].reason, events[0].exit_code, events[0].seq) == ("spawn_error", None, 1)

    def test_a_program_that_is_not_executable_is_a_spawn_error(
        self, conformance: ConformanceEngine, tmp_path: Path
    ) -> None:
        data = tmp_path / "plain-data.txt"
        data.write_text("not a program\n")
        result = conformance.run(Exec(program=str(data)))
        event = conformance.events(result)[-1]
        assert isinstance(event, Failed)
        assert event.reason == "spawn_error"
        assert str(data) in event.message
