"""A host process for the history crash test: a mixed workload until it is killed.

Run as ``python -m tests._history_host HISTORY_FILE SEED``. It prints ``ready``
once its engine is up, then loops: submit a few executions of mixed kinds,
wait for the finite ones, ``flush()`` the history, and only after a flush that
returned True print what that flush acknowledged, one line each:

- ``S <id>``: submitted (its row must exist and end terminal);
- ``E <id> <status>``: ended with this status;
- ``R <id>``: running, and running for ever (it must come back ``interrupted``).

Long runners poll this process and exit soon after it dies, so a killed host
leaves no child behind for long.
"""

from __future__ import annotations

import os
import random
import sys
import threading
from pathlib import Path
from uuid import UUID

from actors import ExecutionEngine, ExecutionHistory
from messages import ExecutionConfig, ExecutionRequest, ExecutionStatus, Shell


def _kinds(watcher: str) -> list[tuple[str, int | None]]:
    """Commands and their timeouts: output, failure, a short sleep, a timeout, a long runner."""
    return [
        ("echo out-$RANDOM", None),
        ("echo err >&2; exit 3", None),
        ("sleep 0.02; printf 'a\\nb\\n'", None),
        ("sleep 2", 50),
        (watcher, None),
    ]


def _committed_running(history: ExecutionHistory, execution_id: UUID) -> bool:
    """Wait (bounded) until the file itself says ``running``; True if it does."""
    pause = threading.Event()
    for _ in range(100):
        if history.status(execution_id) is ExecutionStatus.RUNNING:
            return True
        pause.wait(0.01)
        history.flush(timeout=10)
    return False


def main(path: Path, seed: int) -> None:
    """Run the workload on the history at ``path`` until killed."""
    rng = random.Random(seed)
    # The runner exits soon after this host is gone (it is in a session of its own).
    watcher = f"while kill -0 {os.getpid()} 2>/dev/null; do sleep 0.05; done"
    config = ExecutionConfig.testing(
        history_path=path, log_dir=None, max_concurrent_executions=6, kill_grace_ms=50
    )
    engine = ExecutionEngine(config)
    history = engine.history
    assert history is not None
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    watchers: list[UUID] = []
    while True:
        submitted: list[UUID] = []
        finite: list[UUID] = []
        new_watchers: list[UUID] = []
        for _ in range(rng.randint(1, 6)):
            command, timeout_ms = rng.choice(_kinds(watcher))
            if command == watcher and len(watchers) + len(new_watchers) >= 2:
                command = "true"
            request = ExecutionRequest(command=Shell(command=command), timeout_ms=timeout_ms)
            execution_id = engine.execute(request)
            submitted.append(execution_id)
            (new_watchers if command == watcher else finite).append(execution_id)
        if finite and rng.random() < 0.3:
            engine.cancel(finite[-1])
        ended = [(i, engine.get_result(i, timeout=30).status) for i in finite]
        if not history.flush(timeout=10):
            continue
        running = [i for i in new_watchers if _committed_running(history, i)]
        watchers += new_watchers
        lines = [f"S {i}" for i in submitted]
        lines += [f"E {i} {status.value}" for i, status in ended]
        lines += [f"R {i}" for i in running]
        out.write("".join(line + "\n" for line in lines))
        out.flush()


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
