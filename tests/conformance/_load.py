"""Conformance: volume and concurrency through one launcher, and what escapes the group."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import time

from messages import ExecutionRequest, ExecutionStatus, Stdout

from ._support import (
    IGNORES_SIGTERM,
    QUICK_END_S,
    RESULT_TIMEOUT_S,
    ConformanceEngine,
    EngineMaker,
    SuiteBase,
    py,
    running_with,
    sleep_marker,
    streamed,
    wait_gone,
)

__all__ = ["Load"]


class Load(SuiteBase):
    """Many executions and much output through one launcher; nothing mixed up or lost."""

    def test_eight_mib_of_output_arrives_whole_and_in_order(
        self, make_conformance_engine: EngineMaker
    ) -> None:
        conformance = make_conformance_engine(max_output_size_bytes=16 * 1024 * 1024)
        result = conformance.run(
            py(
                """
                import hashlib, sys
                data = b"".join(b"%07d\\n" % i for i in range(1048576))
                sys.stdout.buffer.write(data)
                sys.stderr.write(hashlib.sha256(data).hexdigest())
                """
            )
        )
        lines = result.stdout.split("\n")
        assert len(lines) == 1048576
        data = "".join(f"{line}\n" for line in lines).encode()
        assert hashlib.sha256(data).hexdigest() == result.stderr

    def test_twenty_executions_at_once_each_get_their_own_output_stdin_and_status(
        self, make_conformance_engine: EngineMaker
    ) -> None:
        conformance = make_conformance_engine(max_concurrent_executions=4)
        engine = conformance.engine
        command = py(
            "import sys; n = int(sys.stdin.read()); "
            "[print(f'{n}:{i}') for i in range(500)]; sys.exit(n % 3)"
        )
        ids = [engine.execute(ExecutionRequest(command=command, stdin=str(n))) for n in range(20)]
        results = [engine.get_result(i, timeout=RESULT_TIMEOUT_S * 2) for i in ids]
        for n, (execution_id, result) in enumerate(zip(ids, results, strict=True)):
            expected = [f"{n}:{i}" for i in range(500)]
            assert result.stdout.split("\n") == expected
            assert result.exit_code == n % 3
            conformance.recorder.wait_terminal(execution_id, timeout=RESULT_TIMEOUT_S)
            assert streamed(conformance.recorder.of(execution_id), Stdout) == expected

    def test_a_grandchild_that_escaped_with_setsid_does_not_keep_the_execution_alive(
        self, conformance: ConformanceEngine
    ) -> None:
        marker = sleep_marker()
        command = py(
            f"""
            import subprocess
            escaped = subprocess.Popen(["sleep", "{marker}"], start_new_session=True)
            print(escaped.pid, flush=True)
            """
        )
        begin = time.monotonic()
        execution_id = conformance.engine.execute(ExecutionRequest(command=command))
        printed = conformance.recorder.wait_for("stdout", execution_id, timeout=RESULT_TIMEOUT_S)
        assert isinstance(printed, Stdout)
        escaped_pid = int(printed.lines[0])
        try:
            result = conformance.engine.get_result(execution_id, timeout=RESULT_TIMEOUT_S)
            assert time.monotonic() - begin < QUICK_END_S
            assert (result.status, result.stdout) == (ExecutionStatus.COMPLETED, str(escaped_pid))
            conformance.recorder.wait_terminal(execution_id, timeout=RESULT_TIMEOUT_S)
        finally:
            # Outside the group no launcher can reach it; this test must not leak it.
            with contextlib.suppress(ProcessLookupError):
                os.kill(escaped_pid, signal.SIGKILL)
            assert wait_gone([escaped_pid]) == []
        assert running_with(marker) == []

    def test_cancel_kills_a_child_ignoring_sigterm_after_kill_grace_ms(
        self, conformance: ConformanceEngine
    ) -> None:
        command = IGNORES_SIGTERM
        engine, recorder = conformance.engine, conformance.recorder
        execution_id = engine.execute(ExecutionRequest(command=command))
        recorder.wait_for("stdout", execution_id, timeout=RESULT_TIMEOUT_S)
        started = recorder.of(execution_id)[0]
        assert engine.cancel(execution_id) is True
        result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT_S)
        assert (result.status, result.exit_code) == (ExecutionStatus.CANCELLED, None)
        assert wait_gone([started.pid]) == []  # type: ignore[union-attr]

    def test_shutdown_ends_every_pending_and_running_execution_with_one_terminal_event(
        self, make_conformance_engine: EngineMaker
    ) -> None:
        conformance = make_conformance_engine(max_concurrent_executions=2)
        engine, recorder = conformance.engine, conformance.recorder
        sleeper = py("import time; print('up', flush=True); time.sleep(300)")
        ids = [engine.execute(ExecutionRequest(command=sleeper)) for _ in range(4)]
        for execution_id in ids[:2]:
            recorder.wait_for("stdout", execution_id, timeout=RESULT_TIMEOUT_S)
        pids = [recorder.of(i)[0].pid for i in ids[:2]]  # type: ignore[union-attr]
        engine.shutdown(timeout=15)
        for execution_id in ids:
            recorder.wait_terminal(execution_id, timeout=RESULT_TIMEOUT_S)
            events = recorder.of(execution_id)
            assert [e.terminal for e in events].count(True) == 1
            assert events[-1].type == "cancelled"
        assert wait_gone(pids) == []
