"""Conformance: progress heartbeats, activity on either stream, logs, secrets cut by reads."""

from __future__ import annotations

import itertools
import time

from messages import ExecutionStatus, Progress, Stdout

from ._support import QUICK_END_S, ConformanceEngine, EngineMaker, SuiteBase, py, streamed

__all__ = ["Activity"]


class Activity(SuiteBase):
    """What a running child does shows up as it happens, wherever it runs."""

    def test_progress_events_count_the_bytes_read_so_far_and_never_go_back(
        self, conformance: ConformanceEngine
    ) -> None:
        result = conformance.run(
            py(
                """
                import sys, time
                for i in range(8):
                    print("x" * 99, flush=True)
                    print("e" * 9, file=sys.stderr, flush=True)
                    time.sleep(0.1)
                """
            )
        )
        beats = [e for e in conformance.events(result) if isinstance(e, Progress)]
        assert beats, "no Progress event in 0.8 s at progress_interval_ms=100"
        for earlier, later in itertools.pairwise(beats):
            assert later.elapsed_ms >= earlier.elapsed_ms
            assert later.stdout_bytes >= earlier.stdout_bytes
            assert later.stderr_bytes >= earlier.stderr_bytes
        assert beats[-1].stdout_bytes <= 8 * 100
        assert beats[-1].stderr_bytes <= 8 * 10

    def test_output_on_stderr_alone_keeps_the_idle_timeout_away(
        self, conformance: ConformanceEngine
    ) -> None:
        command = py(
            """
            import sys, time
            for i in range(12):
                print(i, file=sys.stderr, flush=True)
                time.sleep(0.1)
            """
        )
        result = conformance.run(command, idle_timeout_ms=1000)
        assert result.status is ExecutionStatus.COMPLETED
        assert result.stderr == "\n".join(str(i) for i in range(12))

    def test_a_timeout_ends_a_child_that_floods_its_output(
        self, make_conformance_engine: EngineMaker
    ) -> None:
        conformance = make_conformance_engine(max_output_size_bytes=1024)
        begin = time.monotonic()
        flood = "import sys\nw = sys.stdout.buffer.write\nwhile True: w(b'f' * 99 + b'\\n')"
        result = conformance.run(py(flood), timeout_ms=1000)
        assert time.monotonic() - begin < QUICK_END_S
        assert (result.status, result.exit_code) == (ExecutionStatus.TIMED_OUT, None)
        assert result.stdout_truncated

    def test_the_log_holds_the_output_lines_tagged_by_stream(
        self, conformance: ConformanceEngine
    ) -> None:
        result = conformance.run(
            py("import sys; print('to out'); print('to err', file=sys.stderr)")
        )
        log = conformance.engine.read_logs(result.execution_id)
        assert " stdout | to out" in log
        assert " stderr | to err" in log

    def test_a_secret_cut_between_two_writes_is_masked(
        self, make_conformance_engine: EngineMaker
    ) -> None:
        conformance = make_conformance_engine(redact=("s3cr3t-value",))
        command = py(
            """
            import sys, time
            sys.stdout.write("before s3cr3t"); sys.stdout.flush()
            time.sleep(0.2)  # so the first half is read, and sent, on its own
            sys.stdout.write("-value after\\n")
            """
        )
        result = conformance.run(command)
        assert result.stdout == "before *** after"
        assert streamed(conformance.events(result), Stdout) == ["before *** after"]
