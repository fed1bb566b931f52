"""A thread-based app talking to the supervisor actor with pykka ``ask``/``tell``.

``engine.supervisor`` is a ``pykka.ActorRef`` that takes the protocol messages of
``messages``: ``Submit``, ``GetStatus``, ``GetResult`` (None while the execution
runs; it never blocks the supervisor), ``ListExecutions``, ``GetMetrics``,
``Cancel`` and ``RunCleanup``. Three app threads submit and poll at once; the
main thread watches the metrics, cancels with a fire-and-forget ``tell``, and
evicts. Errors come back through ``ask`` as exceptions.

Every ``ask`` passes ``timeout=``: a lost answer would otherwise wait forever.

Run it from the repository root: ``python examples/actor_messages.py``.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import pykka

from actors import ExecutionEngine
from messages import (
    Cancel,
    ConcurrencyMetrics,
    ExecutionConfig,
    ExecutionNotFound,
    ExecutionRequest,
    ExecutionResult,
    ExecutionStatus,
    ExecutionSummary,
    GetMetrics,
    GetResult,
    GetStatus,
    ListExecutions,
    RunCleanup,
    Shell,
    Submit,
)

ASK_TIMEOUT_S = 5.0
POLL_S = 0.05
print_lock = threading.Lock()


def say(text: str) -> None:
    """Print one line from any thread without interleaving."""
    with print_lock:
        print(f"{threading.current_thread().name:<6} {text}", flush=True)


def ask(supervisor: pykka.ActorRef[Any], message: object) -> Any:
    """``ask`` with a deadline, always."""
    return supervisor.ask(message, timeout=ASK_TIMEOUT_S)


def wait_result(supervisor: pykka.ActorRef[Any], execution_id: UUID) -> ExecutionResult:
    """Poll ``GetResult`` until the execution has ended (the facade's ``get_result`` blocks
    without polling; the protocol never blocks the actor, so a protocol client polls)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        result: ExecutionResult | None = ask(supervisor, GetResult(execution_id=execution_id))
        if result is not None:
            return result
        time.sleep(POLL_S)
    raise TimeoutError(f"{execution_id} did not end in 30 s")


def app_thread(supervisor: pykka.ActorRef[Any], n: int, results: dict[str, str]) -> None:
    """One app thread: submit two commands, check one while it runs, collect both."""
    slow = ExecutionRequest(
        command=Shell(command=f"sleep 0.3; echo worker {n} done"), labels={"app": str(n)}
    )
    quick = ExecutionRequest(command=Shell(command=f"echo quick {n}; exit {n % 2}"))
    slow_id: UUID = ask(supervisor, Submit(request=slow))
    quick_id: UUID = ask(supervisor, Submit(request=quick))
    status: ExecutionStatus = ask(supervisor, GetStatus(execution_id=slow_id))
    early: ExecutionResult | None = ask(supervisor, GetResult(execution_id=slow_id))
    say(f"submitted {str(slow_id)[:8]}: status {status.value}, GetResult -> {early}")
    for execution_id in (slow_id, quick_id):
        result = wait_result(supervisor, execution_id)
        say(
            f"result    {str(execution_id)[:8]}: {result.status.value} "
            f"exit={result.exit_code} stdout={result.stdout!r}"
        )
        results[str(execution_id)] = result.status.value


def main() -> int:
    """Drive the supervisor from three app threads and the main thread."""
    config = ExecutionConfig.development(
        log_dir=Path(tempfile.gettempdir()) / "engine-example",
        max_concurrent_executions=2,  # small, so some requests wait as pending
        execution_retention_secs=0.2,
        enable_auto_cleanup=False,  # this app evicts with RunCleanup itself
    )
    threading.current_thread().name = "main"
    with ExecutionEngine(config) as engine:
        supervisor = engine.supervisor
        long_id: UUID = ask(
            supervisor, Submit(request=ExecutionRequest(command=Shell(command="sleep 60")))
        )
        results: dict[str, str] = {}
        apps = [
            threading.Thread(target=app_thread, args=(supervisor, n, results), name=f"app-{n}")
            for n in (1, 2, 3)
        ]
        for app in apps:
            app.start()

        metrics: ConcurrencyMetrics = ask(supervisor, GetMetrics())
        say(
            f"metrics   running={metrics.currently_running} pending={metrics.currently_pending}"
            f" free={metrics.available_slots} submitted={metrics.total_submitted}"
        )
        # tell: no answer, no waiting. The cancel still happens, in order.
        supervisor.tell(Cancel(execution_id=long_id))
        for app in apps:
            app.join(60)
        say(f"cancelled {str(long_id)[:8]}: {wait_result(supervisor, long_id).status.value}")
        again: bool = ask(supervisor, Cancel(execution_id=long_id))
        say(f"ask(Cancel) of an ended execution -> {again}")

        rows: list[ExecutionSummary] = ask(supervisor, ListExecutions())
        for row in rows:
            say(f"list      {str(row.execution_id)[:8]} {row.status.value:<10} {row.command}")
        failed: list[ExecutionSummary] = ask(
            supervisor, ListExecutions(status=ExecutionStatus.FAILED)
        )
        say(f"list      {len(failed)} failed")

        time.sleep(0.3)  # older than execution_retention_secs now
        evicted: int = ask(supervisor, RunCleanup())
        say(f"cleanup   evicted {evicted}")
        try:
            ask(supervisor, GetStatus(execution_id=long_id))
        except ExecutionNotFound as exc:
            say(f"error     through ask: {type(exc).__name__}: {exc}")
        metrics = ask(supervisor, GetMetrics())
        say(f"metrics   finished={metrics.total_finished} of {metrics.total_submitted}")
    return 0 if len(results) == 6 else 1


if __name__ == "__main__":
    raise SystemExit(main())
