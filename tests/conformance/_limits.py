"""Conformance: the output cap under each strategy, and redaction of secrets everywhere."""

from __future__ import annotations

import uuid

from messages import Exec, ExecutionStatus, Failed, Started, Stderr, Stdout

from ._support import EngineMaker, SuiteBase, py, running_with, streamed, wait_gone

__all__ = ["OutputCaps", "Redaction"]

_LINES = b"".join(b"%06d\n" % i for i in range(1000))
_SECRET = "s3cr3t-value"
# The child assembles the secret at run time: it is in the output, not in the argv.
_LEAKY = py(
    """
    import sys
    secret = "s3cr3t" + "-value"
    print(f"token={secret} end", flush=True)
    print(f"err {secret}!", file=sys.stderr, flush=True)
    """
)


class OutputCaps(SuiteBase):
    """``max_output_size_bytes`` per stream, under truncate, fail and spill."""

    def test_truncate_keeps_the_head_and_one_warning_line(
        self, make_conformance_engine: EngineMaker
    ) -> None:
        conformance = make_conformance_engine(
            max_output_size_bytes=1024, oversized_output_strategy="truncate_with_warning"
        )
        result = conformance.run(py(f"import sys; sys.stdout.buffer.write({_LINES!r})"))
        assert result.status is ExecutionStatus.COMPLETED
        assert (result.stdout_truncated, result.stderr_truncated) == (True, False)
        assert result.stdout_dropped_bytes == len(_LINES) - 1024
        *head, warning = result.stdout.split("\n")
        assert head == _LINES[:1024].decode().split("\n")
        assert warning.startswith("[output truncated")
        assert streamed(conformance.events(result), Stdout) == result.stdout.split("\n")

    def test_fail_execution_kills_the_writer_and_fails_with_reason_oversized_output(
        self, make_conformance_engine: EngineMaker
    ) -> None:
        conformance = make_conformance_engine(
            max_output_size_bytes=64 * 1024, oversized_output_strategy="fail_execution"
        )
        marker = f"marker-{uuid.uuid4()}"
        endless = "import sys\nw = sys.stdout.buffer.write\nwhile True: w(b'z' * 99 + b'\\n')"
        result = conformance.run(py(endless, marker))
        assert (result.status, result.exit_code) == (ExecutionStatus.FAILED, None)
        event = conformance.events(result)[-1]
        assert isinstance(event, Failed)
        assert (event.reason, event.exit_code) == ("oversized_output", None)
        assert "max_output_size_bytes" in event.message
        started = conformance.events(result)[0]
        assert isinstance(started, Started)
        assert wait_gone([started.pid]) == []
        assert running_with(marker) == []

    def test_stream_to_file_keeps_the_head_and_spills_every_other_line_in_order(
        self, make_conformance_engine: EngineMaker
    ) -> None:
        conformance = make_conformance_engine(
            max_output_size_bytes=4096, oversized_output_strategy="stream_to_file"
        )
        result = conformance.run(py("for i in range(20000): print(i)"))
        assert result.status is ExecutionStatus.COMPLETED
        assert result.stdout_spill_path is not None
        assert result.stderr_spill_path is None
        head = result.stdout.split("\n")
        spilled = result.stdout_spill_path.read_text().split("\n")
        assert spilled.pop() == ""
        assert 0 < len(head) < 20000
        assert head + spilled == [str(i) for i in range(20000)]
        assert not result.stdout_truncated

    def test_each_stream_has_its_own_cap(self, make_conformance_engine: EngineMaker) -> None:
        conformance = make_conformance_engine(
            max_output_size_bytes=1024, oversized_output_strategy="truncate_with_warning"
        )
        result = conformance.run(
            py(
                """
                import sys
                sys.stdout.buffer.write(b"o" * 1000 + b"\\n")
                sys.stderr.buffer.write(b"e" * 5000 + b"\\n")
                """
            )
        )
        assert (result.stdout, result.stdout_truncated) == ("o" * 1000, False)
        assert result.stderr_truncated
        assert result.stderr.split("\n")[0] == "e" * 1024


class Redaction(SuiteBase):
    """A secret in ``redact`` never leaves the engine: output, events, descriptions."""

    def test_the_secret_is_masked_in_the_result_stdout_and_stderr(
        self, make_conformance_engine: EngineMaker
    ) -> None:
        result = make_conformance_engine(redact=(_SECRET,)).run(_LEAKY)
        assert (result.stdout, result.stderr) == ("token=*** end", "err ***!")

    def test_the_secret_is_masked_in_every_event(
        self, make_conformance_engine: EngineMaker
    ) -> None:
        conformance = make_conformance_engine(redact=(_SECRET,))
        result = conformance.run(_LEAKY)
        events = conformance.events(result)
        assert streamed(events, Stdout) == ["token=*** end"]
        assert streamed(events, Stderr) == ["err ***!"]
        assert all(_SECRET not in event.model_dump_json() for event in events)

    def test_the_secret_is_masked_in_the_command_description(
        self, make_conformance_engine: EngineMaker
    ) -> None:
        conformance = make_conformance_engine(redact=(_SECRET,))
        result = conformance.run(py("print('hi')", _SECRET))
        started = conformance.events(result)[0]
        assert isinstance(started, Started)
        assert _SECRET not in started.command and "***" in started.command
        (summary,) = conformance.engine.list_executions()
        assert _SECRET not in summary.command and "***" in summary.command

    def test_a_spawn_error_naming_the_secret_is_masked(
        self, make_conformance_engine: EngineMaker
    ) -> None:
        conformance = make_conformance_engine(redact=(_SECRET,))
        result = conformance.run(Exec(program=f"/nonexistent/{_SECRET}"))
        assert result.error is not None and _SECRET not in result.error
        event = conformance.events(result)[-1]
        assert isinstance(event, Failed)
        assert event.reason == "spawn_error"
        assert _SECRET not in event.model_dump_json()
