"""The stop policy: which signal goes to the group when, for every backend."""

from __future__ import annotations

import math

from actors._stop import ABANDON_AFTER_S, DRAIN_GRACE_S, KillReason, StopAction, StopPolicy
from messages import ExecutionStatus, FailureReason


def policy(
    *, timeout_s: float = 10.0, idle_s: float | None = None, grace_s: float = 2.0
) -> StopPolicy:
    return StopPolicy(now=0.0, timeout_s=timeout_s, idle_s=idle_s, grace_s=grace_s)


def test_nothing_is_due_before_any_deadline() -> None:
    stop = policy()
    assert stop.due(1.0) == []
    assert stop.next_deadline() == 10.0


def test_a_timeout_sends_term_then_kill_after_the_grace() -> None:
    stop = policy(timeout_s=1.0, grace_s=2.0)
    assert stop.due(1.0) == [StopAction.TERM]
    assert stop.reason is KillReason.TIMEOUT
    assert stop.due(2.9) == []
    assert stop.next_deadline() == 3.0
    assert stop.due(3.0) == [StopAction.KILL]
    assert stop.next_deadline() == math.inf


def test_the_idle_timeout_restarts_with_each_output() -> None:
    stop = policy(idle_s=1.0)
    stop.output_seen(0.8)
    assert stop.due(1.5) == []
    assert stop.due(1.8) == [StopAction.TERM]
    assert stop.reason is KillReason.IDLE


def test_a_requested_cancel_wins_over_a_timeout_due_at_the_same_moment() -> None:
    stop = policy(timeout_s=1.0)
    stop.request(KillReason.CANCEL)
    assert stop.due(1.0) == [StopAction.TERM]
    assert stop.reason is KillReason.CANCEL


def test_a_hard_kill_sends_kill_without_waiting_for_the_grace() -> None:
    stop = policy(grace_s=60.0)
    stop.request(KillReason.SHUTDOWN, hard=True)
    assert stop.due(0.5) == [StopAction.TERM, StopAction.KILL]


def test_a_hard_kill_after_a_term_cuts_the_grace_short() -> None:
    stop = policy(grace_s=60.0)
    stop.request(KillReason.SHUTDOWN)
    assert stop.due(0.1) == [StopAction.TERM]
    stop.request(KillReason.SHUTDOWN, hard=True)
    assert stop.due(0.2) == [StopAction.KILL]


def test_after_the_exit_the_group_is_killed_after_the_drain_then_abandoned() -> None:
    stop = policy()
    stop.exited(1.0)
    assert stop.due(1.0) == []
    assert stop.next_deadline() == 1.0 + DRAIN_GRACE_S
    assert stop.due(1.0 + DRAIN_GRACE_S) == [StopAction.KILL]
    abandon_at = 1.0 + DRAIN_GRACE_S + ABANDON_AFTER_S
    assert stop.next_deadline() == abandon_at
    assert stop.due(abandon_at) == [StopAction.ABANDON]


def test_no_timeout_fires_once_the_main_process_has_exited() -> None:
    stop = policy(timeout_s=1.0)
    stop.exited(0.5)
    assert StopAction.TERM not in stop.due(5.0)
    assert stop.reason is None


def test_a_failure_found_by_the_runner_kills_for_that_reason() -> None:
    stop = policy()
    stop.fail(KillReason.OVERSIZED, 0.3)
    assert stop.due(0.3) == [StopAction.TERM]
    assert stop.reason is KillReason.OVERSIZED
    assert stop.next_deadline() == 2.3


def test_each_kill_reason_maps_to_its_ending() -> None:
    assert KillReason.CANCEL.ending == (ExecutionStatus.CANCELLED, None)
    assert KillReason.SHUTDOWN.ending == (ExecutionStatus.CANCELLED, None)
    assert KillReason.TIMEOUT.ending == (ExecutionStatus.TIMED_OUT, FailureReason.TIMEOUT)
    assert KillReason.IDLE.ending == (ExecutionStatus.TIMED_OUT, FailureReason.TIMEOUT)
    assert KillReason.OVERSIZED.ending == (ExecutionStatus.FAILED, FailureReason.OVERSIZED_OUTPUT)
