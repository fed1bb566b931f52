"""The kinds of execution the soak mixes, each with what its result must look like."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from messages import Exec, ExecutionRequest, ExecutionResult, ExecutionStatus, Shell

from ._probe import Trace

TIMEOUT_MS = 150
KILL_GRACE_MS = 300
FLOOD_LINE = "0123456789abcdef"
FLOOD_LINES = 8_000  # 136 KB: under the soak's output cap
BIG_FLOOD_LINES = 40_000  # 680 KB: over it, so truncated
STDERR_LINES = 5_000
STDIN_TEXT = "one\ntwo\nthree"

Plan = Literal["run", "cancel_now", "cancel_running", "reject_invalid", "reject_duplicate"]
Check = Callable[[ExecutionResult, Trace], list[str]]


@dataclass(frozen=True)
class Kind:
    """One kind of execution: how to build it, what to do with it, what it must end as."""

    name: str
    weight: int
    make: Callable[[str], ExecutionRequest]
    """Builds the request from the run's marker (carried by sleeps, to find leftovers)."""
    check: Check
    plan: Plan = "run"
    ready: Literal["started", "output"] = "started"
    """For ``cancel_running``: cancel after the Started event, or after the first output."""


def _status(
    status: ExecutionStatus, terminal: str, reason: str | None = None
) -> Callable[[ExecutionResult, Trace], list[str]]:
    def check(result: ExecutionResult, trace: Trace) -> list[str]:
        problems = []
        if result.status is not status:
            problems.append(f"status {result.status.value} ({result.error}), expected {status}")
        if trace.terminals[-1:] != [terminal]:
            problems.append(f"terminal events {trace.terminals}, expected [{terminal!r}]")
        if reason is not None and trace.failed_reason != reason:
            problems.append(f"Failed reason {trace.failed_reason}, expected {reason}")
        return problems

    return check


def _all(*checks: Check) -> Check:
    def check(result: ExecutionResult, trace: Trace) -> list[str]:
        return [problem for c in checks for problem in c(result, trace)]

    return check


def _expect(what: str, predicate: Callable[[ExecutionResult], bool]) -> Check:
    def check(result: ExecutionResult, _trace: Trace) -> list[str]:
        return [] if predicate(result) else [f"expected {what}"]

    return check


def _lines_delivered(result: ExecutionResult, trace: Trace) -> list[str]:
    """Stdout/Stderr events carried as many lines as the result, unless observers fell behind."""
    if trace.lines_dropped:
        return []
    expected = (
        len(result.stdout.split("\n")) if result.stdout else 0,
        len(result.stderr.split("\n")) if result.stderr else 0,
    )
    got = (trace.stdout_lines, trace.stderr_lines)
    return [] if got == expected else [f"event lines {got}, result lines {expected}"]


COMPLETED = _all(_status(ExecutionStatus.COMPLETED, "completed"), _lines_delivered)
CANCELLED = _all(
    _status(ExecutionStatus.CANCELLED, "cancelled"),
    _expect("no exit code", lambda r: r.exit_code is None),
)
TIMED_OUT = _all(
    _status(ExecutionStatus.TIMED_OUT, "failed", "timeout"),
    _expect("no exit code", lambda r: r.exit_code is None),
)


def _sleep(marker: str) -> Exec:
    return Exec(program="sleep", args=(f"30.{marker}",))


def _req(command: Exec | Shell, **fields: object) -> ExecutionRequest:
    return ExecutionRequest.model_validate({"command": command, **fields})


MIX: tuple[Kind, ...] = (
    Kind(
        "true",
        20,
        lambda m: _req(Exec(program="true")),
        _all(COMPLETED, _expect("exit 0", lambda r: r.exit_code == 0 and r.success)),
    ),
    Kind(
        "echo",
        10,
        lambda m: _req(Shell(command="echo out; echo err >&2")),
        _all(COMPLETED, _expect("out/err", lambda r: (r.stdout, r.stderr) == ("out", "err"))),
    ),
    Kind(
        "stdin",
        5,
        lambda m: _req(Exec(program="cat"), stdin=STDIN_TEXT),
        _all(COMPLETED, _expect("stdin echoed", lambda r: r.stdout == STDIN_TEXT)),
    ),
    Kind(
        "exit_3",
        10,
        lambda m: _req(Shell(command="echo failing; exit 3")),
        _all(
            _status(ExecutionStatus.FAILED, "failed", "exit_code"),
            _expect("exit 3", lambda r: r.exit_code == 3 and r.stdout == "failing"),
        ),
    ),
    Kind(
        "killed_by_signal",
        4,
        lambda m: _req(Shell(command="kill -9 $$")),
        _all(
            _status(ExecutionStatus.FAILED, "failed", "exit_code"),
            _expect("exit -9", lambda r: r.exit_code == -9),
        ),
    ),
    Kind(
        "spawn_error",
        8,
        lambda m: _req(Exec(program=f"/nonexistent/soak-{m}")),
        _all(
            _status(ExecutionStatus.FAILED, "failed", "spawn_error"),
            _expect(
                "no start, a reason",
                lambda r: r.exit_code is None and r.started_at is None and bool(r.error),
            ),
        ),
    ),
    Kind("timeout", 5, lambda m: _req(_sleep(m), timeout_ms=TIMEOUT_MS), TIMED_OUT),
    Kind(
        "ignores_sigterm",
        2,
        # The trap makes bash and its sleep ignore SIGTERM: only the SIGKILL
        # after kill_grace_ms ends them. The ":" keeps bash from exec'ing sleep.
        lambda m: _req(Shell(command=f"trap '' TERM; sleep 30.{m}; :"), timeout_ms=TIMEOUT_MS),
        TIMED_OUT,
    ),
    Kind("cancel_at_once", 8, lambda m: _req(_sleep(m)), CANCELLED, "cancel_now"),
    Kind("cancel_running", 5, lambda m: _req(_sleep(m)), CANCELLED, "cancel_running"),
    Kind(
        "cancel_ignores_sigterm",
        1,
        # Cancelled once "armed" is out, so only the SIGKILL after the grace ends it.
        lambda m: _req(Shell(command=f"trap '' TERM; echo armed; sleep 30.{m}; :")),
        _all(
            CANCELLED,
            _expect("killed after the grace", lambda r: r.duration_ms >= KILL_GRACE_MS),
        ),
        "cancel_running",
        "output",
    ),
    Kind(
        "flood",
        5,
        lambda m: _req(Shell(command=f"yes {FLOOD_LINE} | head -n {FLOOD_LINES}")),
        _all(
            COMPLETED,
            _expect(
                "every flood line",
                lambda r: (
                    r.stdout == "\n".join([FLOOD_LINE] * FLOOD_LINES) and not r.stdout_truncated
                ),
            ),
        ),
    ),
    Kind(
        "flood_over_cap",
        2,
        lambda m: _req(Shell(command=f"yes {FLOOD_LINE} | head -n {BIG_FLOOD_LINES}")),
        _all(
            _status(ExecutionStatus.COMPLETED, "completed"),
            _expect(
                "truncated with a warning",
                lambda r: (
                    r.stdout_truncated
                    and r.stdout.rsplit("\n", 1)[-1].startswith("[output truncated")
                ),
            ),
        ),
    ),
    Kind(
        "stderr_flood",
        2,
        lambda m: _req(Shell(command=f"yes err | head -n {STDERR_LINES} >&2")),
        _all(COMPLETED, _expect("every stderr line", lambda r: r.stderr.count("\n") == 4_999)),
    ),
    Kind(
        "grandchildren",
        5,
        # Two background sleeps hold the pipes after bash exits: the group is
        # killed after the drain grace and the execution ends anyway.
        lambda m: _req(Shell(command=f"sleep 30.{m} & sleep 30.{m} & echo parent")),
        _all(COMPLETED, _expect("the parent's line", lambda r: r.stdout == "parent")),
    ),
    Kind(
        "closes_stdout_early",
        4,
        lambda m: _req(Shell(command="echo before; exec >&- 2>&-; sleep 0.3")),
        _all(
            COMPLETED,
            _expect("waited for", lambda r: r.stdout == "before" and r.duration_ms >= 250),
        ),
    ),
    Kind(
        "invalid_timeout",
        2,
        lambda m: _req(Exec(program="true"), timeout_ms=10**9),
        lambda r, t: ["an invalid request was accepted"],
        "reject_invalid",
    ),
    Kind(
        "duplicate_id",
        2,
        lambda m: _req(Exec(program="true")),
        lambda r, t: ["a duplicate id was accepted"],
        "reject_duplicate",
    ),
)
