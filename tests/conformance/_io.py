"""Conformance: output lines and batching, stdin, environment and working dir."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from messages import ExecutionRequest, ExecutionStatus, Stderr, Stdout

from ._support import RESULT_TIMEOUT_S, ConformanceEngine, EngineMaker, SuiteBase, py, streamed

__all__ = ["Inputs", "OutputLines"]


class OutputLines(SuiteBase):
    """Lines split on ``\\n`` (``\\r\\n`` is one break); events carry exactly the lines."""

    def test_stdout_and_stderr_are_captured_separately(
        self, conformance: ConformanceEngine
    ) -> None:
        result = conformance.run(
            py(
                """
                import sys
                print("out one", flush=True)
                print("err one", file=sys.stderr, flush=True)
                print("out two", flush=True)
                print("err two", file=sys.stderr, flush=True)
                """
            )
        )
        assert (result.stdout, result.stderr) == ("out one\nout two", "err one\nerr two")

    def test_lines_split_on_newline_without_doubling_a_trailing_one(
        self, conformance: ConformanceEngine
    ) -> None:
        result = conformance.run(py("import sys; sys.stdout.write('a\\n\\nb\\n')"))
        assert result.stdout == "a\n\nb"
        assert streamed(conformance.events(result), Stdout) == ["a", "", "b"]

    def test_crlf_counts_as_one_line_break(self, conformance: ConformanceEngine) -> None:
        result = conformance.run(py("import sys; sys.stdout.buffer.write(b'one\\r\\ntwo\\r\\n3')"))
        assert result.stdout == "one\ntwo\n3"
        assert streamed(conformance.events(result), Stdout) == ["one", "two", "3"]

    def test_the_last_line_is_kept_without_a_newline(self, conformance: ConformanceEngine) -> None:
        result = conformance.run(
            py("import sys; sys.stdout.write('a\\nlast'); sys.stderr.write('e')")
        )
        assert (result.stdout, result.stderr) == ("a\nlast", "e")
        events = conformance.events(result)
        assert streamed(events, Stdout) == ["a", "last"]
        assert streamed(events, Stderr) == ["e"]

    def test_invalid_utf8_is_replaced(self, conformance: ConformanceEngine) -> None:
        result = conformance.run(py("import sys; sys.stdout.buffer.write(b'ok \\xff\\xfe end\\n')"))
        assert result.status is ExecutionStatus.COMPLETED
        assert result.stdout == "ok \ufffd\ufffd end"

    def test_a_utf8_character_split_across_writes_arrives_whole(
        self, conformance: ConformanceEngine
    ) -> None:
        result = conformance.run(
            py(
                """
                import sys, time
                data = "caf\\u00e9 \\u20ac\\n".encode()
                for i in range(len(data)):
                    sys.stdout.buffer.write(data[i:i + 1]); sys.stdout.flush(); time.sleep(0.01)
                """
            )
        )
        assert result.stdout == "caf\u00e9 \u20ac"

    def test_the_stdout_events_concatenated_are_exactly_the_stdout_lines(
        self, conformance: ConformanceEngine
    ) -> None:
        result = conformance.run(py("for i in range(20000): print(f'line {i}')"))
        lines = streamed(conformance.events(result), Stdout)
        assert lines == [f"line {i}" for i in range(20000)]
        assert "\n".join(lines) == result.stdout

    def test_a_flood_of_lines_is_batched_into_fewer_events_than_lines(
        self, conformance: ConformanceEngine
    ) -> None:
        result = conformance.run(py("import sys; sys.stdout.write('x\\n' * 20000)"))
        batches = [e for e in conformance.events(result) if isinstance(e, Stdout)]
        assert sum(len(e.lines) for e in batches) == 20000
        assert len(batches) < 20000 // 10
        assert all(e.lines for e in batches)

    def test_the_stderr_events_concatenated_are_exactly_the_stderr_lines(
        self, conformance: ConformanceEngine
    ) -> None:
        result = conformance.run(py("import sys\nfor i in range(5000): print(i, file=sys.stderr)"))
        lines = streamed(conformance.events(result), Stderr)
        assert lines == [str(i) for i in range(5000)]
        assert "\n".join(lines) == result.stderr

    def test_lines_printed_apart_arrive_as_events_before_the_end(
        self, conformance: ConformanceEngine
    ) -> None:
        command = py("import time; print('first', flush=True); time.sleep(300)")
        execution_id = conformance.engine.execute(ExecutionRequest(command=command))
        first = conformance.recorder.wait_for("stdout", execution_id, timeout=RESULT_TIMEOUT_S)
        assert isinstance(first, Stdout)
        assert first.lines == ("first",)
        assert conformance.engine.cancel(execution_id) is True
        conformance.engine.get_result(execution_id, timeout=RESULT_TIMEOUT_S)


class Inputs(SuiteBase):
    """Stdin is written then closed (or /dev/null); env and working dir reach the child."""

    def test_stdin_text_is_delivered_then_closed(self, conformance: ConformanceEngine) -> None:
        command = py("import sys; data = sys.stdin.read(); print(data.upper(), end='')")
        result = conformance.run(command, stdin="first line\nsecond line\n")
        assert result.status is ExecutionStatus.COMPLETED
        assert result.stdout == "FIRST LINE\nSECOND LINE"

    def test_a_large_stdin_reaches_a_child_that_reads_it_all(
        self, conformance: ConformanceEngine
    ) -> None:
        payload = ("0123456789abcde\n" * 65536)[:-1] + "!"  # 1 MiB
        command = py(
            "import hashlib, sys; data = sys.stdin.buffer.read(); "
            "print(len(data), hashlib.sha256(data).hexdigest())"
        )
        result = conformance.run(command, stdin=payload)
        assert result.stdout == f"{1024 * 1024} {hashlib.sha256(payload.encode()).hexdigest()}"

    def test_a_child_that_never_reads_a_large_stdin_still_completes(
        self, conformance: ConformanceEngine
    ) -> None:
        result = conformance.run(py("print('ignoring stdin')"), stdin="x" * (1024 * 1024))
        assert result.status is ExecutionStatus.COMPLETED
        assert result.stdout == "ignoring stdin"

    def test_without_stdin_the_child_reads_dev_null(self, conformance: ConformanceEngine) -> None:
        command = py(
            "import os, sys; print(repr(sys.stdin.read()), os.readlink('/proc/self/fd/0'))"
        )
        result = conformance.run(command)
        assert result.stdout == "'' /dev/null"

    def test_the_request_env_is_added_to_the_inherited_env(
        self, conformance: ConformanceEngine
    ) -> None:
        command = py("import os; print(os.environ['ENGINE_CONFORMANCE'], 'PATH' in os.environ)")
        result = conformance.run(command, env={"ENGINE_CONFORMANCE": "hello there"})
        assert result.stdout == "hello there True"

    def test_without_inherit_env_the_child_gets_only_path_home_lang_and_the_request_env(
        self, make_conformance_engine: EngineMaker
    ) -> None:
        conformance = make_conformance_engine(inherit_env=False)
        # /proc/self/environ is the environment as exec'd: Python's locale coercion
        # (PEP 538) may add LC_CTYPE to os.environ after start-up.
        command = py(
            """
            import json
            raw = open("/proc/self/environ", "rb").read().decode()
            print(json.dumps(dict(item.split("=", 1) for item in raw.split("\\0") if item)))
            """
        )
        result = conformance.run(command, env={"ENGINE_CONFORMANCE": "yes"})
        expected = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
        assert json.loads(result.stdout) == {**expected, "ENGINE_CONFORMANCE": "yes"}

    def test_working_dir_is_the_childs_cwd(
        self, conformance: ConformanceEngine, tmp_path: Path
    ) -> None:
        work = tmp_path / "work dir"
        work.mkdir()
        result = conformance.run(py("import os; print(os.getcwd())"), working_dir=work)
        assert os.path.realpath(result.stdout) == os.path.realpath(work)
