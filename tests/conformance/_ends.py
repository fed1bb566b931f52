"""Conformance: timeouts, idle timeouts, cancel, and what a command leaves behind."""

from __future__ import annotations

import time

from messages import (
    Cancelled,
    Exec,
    ExecutionRequest,
    ExecutionStatus,
    Failed,
    Shell,
    Started,
    Stdout,
)

from ._support import (
    IGNORES_SIGTERM,
    QUICK_END_S,
    RESULT_TIMEOUT_S,
    ConformanceEngine,
    EngineMaker,
    SuiteBase,
    assert_all_gone,
    pids_in,
    py,
    sleep_marker,
)

__all__ = ["Cancelling", "Leftovers", "Timeouts"]

_TWO_SLEEPERS = "sleep {m} & echo $!; sleep {m} & echo $!; wait"


class Timeouts(SuiteBase):
    """A timeout ends the execution as timed out and kills its whole process group."""

    def test_timeout_ends_the_execution_as_timed_out_with_failed_reason_timeout(
        self, conformance: ConformanceEngine
    ) -> None:
        begin = time.monotonic()
        result = conformance.run(py("import time; time.sleep(300)"), timeout_ms=1000)
        assert time.monotonic() - begin < QUICK_END_S
        assert (result.status, result.exit_code) == (ExecutionStatus.TIMED_OUT, None)
        assert result.error is not None and "timeout_ms" in result.error
        event = conformance.events(result)[-1]
        assert isinstance(event, Failed)
        assert (event.reason, event.exit_code) == ("timeout", None)

    def test_timeout_kills_every_process_of_the_group(self, conformance: ConformanceEngine) -> None:
        marker = sleep_marker()
        result = conformance.run(Shell(command=_TWO_SLEEPERS.format(m=marker)), timeout_ms=1000)
        assert result.status is ExecutionStatus.TIMED_OUT
        started = conformance.events(result)[0]
        assert isinstance(started, Started)
        pids = pids_in(result.stdout)
        assert len(pids) == 2
        assert_all_gone([started.pid, *pids], marker)

    def test_a_child_ignoring_sigterm_is_killed_after_kill_grace_ms(
        self, conformance: ConformanceEngine
    ) -> None:
        command = IGNORES_SIGTERM
        grace_ms = conformance.engine.config.kill_grace_ms
        result = conformance.run(command, timeout_ms=1000)
        assert result.stdout == "ignoring SIGTERM"
        assert result.status is ExecutionStatus.TIMED_OUT
        # SIGTERM at the timeout did nothing; only the SIGKILL a grace later ended it.
        assert result.duration_ms >= 1000 + grace_ms - 50

    def test_idle_timeout_ends_a_silent_child_as_timed_out(
        self, conformance: ConformanceEngine
    ) -> None:
        command = py("import time; print('then silence', flush=True); time.sleep(300)")
        begin = time.monotonic()
        result = conformance.run(command, idle_timeout_ms=500)
        assert time.monotonic() - begin < QUICK_END_S
        assert (result.status, result.exit_code) == (ExecutionStatus.TIMED_OUT, None)
        assert result.stdout == "then silence"
        assert result.error is not None and "idle_timeout_ms" in result.error
        event = conformance.events(result)[-1]
        assert isinstance(event, Failed)
        assert event.reason == "timeout"

    def test_idle_timeout_spares_a_child_that_prints_regularly(
        self, conformance: ConformanceEngine
    ) -> None:
        command = py(
            """
            import time
            for i in range(12):
                print(i, flush=True)
                time.sleep(0.1)
            """
        )
        result = conformance.run(command, idle_timeout_ms=1000)
        assert result.status is ExecutionStatus.COMPLETED
        assert result.stdout == "\n".join(str(i) for i in range(12))


class Cancelling(SuiteBase):
    """Cancel: a pending one never starts; a running one has its process group killed."""

    def test_cancel_of_a_pending_execution_emits_exactly_one_cancelled_event_with_seq_1(
        self, make_conformance_engine: EngineMaker
    ) -> None:
        conformance = make_conformance_engine(max_concurrent_executions=1)
        engine = conformance.engine
        blocker = engine.execute(ExecutionRequest(command=py("import time; time.sleep(300)")))
        conformance.recorder.wait_for("started", blocker, timeout=RESULT_TIMEOUT_S)
        pending = engine.execute(ExecutionRequest(command=py("print('never')")))
        assert engine.get_status(pending) is ExecutionStatus.PENDING
        assert engine.cancel(pending) is True
        result = engine.get_result(pending, timeout=RESULT_TIMEOUT_S)
        assert engine.cancel(blocker) is True
        engine.get_result(blocker, timeout=RESULT_TIMEOUT_S)
        conformance.recorder.wait_terminal(blocker, timeout=RESULT_TIMEOUT_S)
        assert (result.status, result.started_at, result.stdout) == (
            ExecutionStatus.CANCELLED,
            None,
            "",
        )
        events = conformance.recorder.of(pending)
        assert len(events) == 1
        assert isinstance(events[0], Cancelled)
        assert events[0].seq == 1

    def test_cancel_while_running_ends_cancelled_and_kills_the_process_group(
        self, conformance: ConformanceEngine
    ) -> None:
        marker = sleep_marker()
        engine, recorder = conformance.engine, conformance.recorder
        execution_id = engine.execute(ExecutionRequest(command=_two_sleepers(marker)))
        started = recorder.wait_for("started", execution_id, timeout=RESULT_TIMEOUT_S)
        assert isinstance(started, Started)
        printed = recorder.wait_for("stdout", execution_id, timeout=RESULT_TIMEOUT_S)
        assert isinstance(printed, Stdout)
        sleepers = [int(pid) for pid in printed.lines]
        begin = time.monotonic()
        assert engine.cancel(execution_id) is True
        result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT_S)
        assert time.monotonic() - begin < QUICK_END_S
        assert (result.status, result.exit_code) == (ExecutionStatus.CANCELLED, None)
        assert recorder.wait_terminal(execution_id).type == "cancelled"
        assert_all_gone([started.pid, *sleepers], marker)

    def test_cancel_of_a_finished_execution_returns_false_and_changes_nothing(
        self, conformance: ConformanceEngine
    ) -> None:
        result = conformance.run(py("pass"))
        assert conformance.engine.cancel(result.execution_id) is False
        assert conformance.engine.get_result(result.execution_id, timeout=1) == result
        assert [e.type for e in conformance.events(result)][-1] == "completed"


def _two_sleepers(marker: str) -> Exec:
    """A child starting two sleeps in its group, printing both pids in one write, waiting."""
    return py(
        f"""
        import subprocess
        sleeps = [subprocess.Popen(["sleep", "{marker}"]) for _ in range(2)]
        print(f"{{sleeps[0].pid}}\\n{{sleeps[1].pid}}", flush=True)
        for s in sleeps:
            s.wait()
        """
    )


class Leftovers(SuiteBase):
    """A background process never keeps an execution, a reader or a slot alive."""

    def test_a_background_job_holding_the_pipe_does_not_keep_the_execution_alive(
        self, conformance: ConformanceEngine
    ) -> None:
        marker = sleep_marker()
        begin = time.monotonic()
        result = conformance.run(Shell(command=f"sleep {marker} & echo $! >&2; echo hi"))
        assert time.monotonic() - begin < QUICK_END_S
        assert (result.status, result.stdout) == (ExecutionStatus.COMPLETED, "hi")
        assert_all_gone(pids_in(result.stderr), marker)

    def test_a_grandchild_keeping_the_pipe_after_the_main_exit_is_killed(
        self, conformance: ConformanceEngine
    ) -> None:
        marker = sleep_marker()
        command = py(
            f"""
            import subprocess, sys
            grandchild = subprocess.Popen(["sleep", "{marker}"])
            print(grandchild.pid, flush=True)
            sys.exit(5)
            """
        )
        begin = time.monotonic()
        result = conformance.run(command)
        assert time.monotonic() - begin < QUICK_END_S
        # The status is the main process's, not the killed grandchild's.
        assert (result.status, result.exit_code) == (ExecutionStatus.FAILED, 5)
        assert_all_gone(pids_in(result.stdout), marker)

    def test_a_background_job_that_closed_its_pipes_is_killed_at_the_end(
        self, conformance: ConformanceEngine
    ) -> None:
        marker = sleep_marker()
        result = conformance.run(Shell(command=f"sleep {marker} >/dev/null 2>&1 & echo $!"))
        assert result.status is ExecutionStatus.COMPLETED
        assert_all_gone(pids_in(result.stdout), marker)

    def test_a_main_process_that_closes_its_pipes_early_is_still_waited_for(
        self, conformance: ConformanceEngine
    ) -> None:
        command = py(
            """
            import os, time
            print("closing my pipes", flush=True)
            os.close(1)
            os.close(2)
            time.sleep(1)
            os._exit(4)
            """
        )
        result = conformance.run(command)
        assert (result.stdout, result.status, result.exit_code) == (
            "closing my pipes",
            ExecutionStatus.FAILED,
            4,
        )
        assert result.duration_ms >= 900
