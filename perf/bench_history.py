"""History: throughput and overhead with history on against off, listing and pruning.

    python perf/bench_history.py            # the full run
    python perf/bench_history.py --quick    # fewer rounds (the README's figures)
    python perf/bench_history.py --smoke    # tiny sizes: proves it runs; not data

Self-contained (no pyperf): the on and off runs alternate round by round in one
process, so machine noise (two shared cores here) hits both alike, and the
ratio of their medians is the figure. The 100,000-row file for listing and
pruning is built once, through the history's own writer.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from actors import ExecutionEngine, ExecutionHistory
from actors._history import start_history
from actors._lifecycle import ExecutionEnded, ExecutionQueued
from messages import (
    Exec,
    ExecutionConfig,
    ExecutionRequest,
    ExecutionResult,
    ExecutionStatus,
    Shell,
)

TRUE = Exec(program="true")


def _engine(history: Path | None, slots: int) -> ExecutionEngine:
    return ExecutionEngine(
        ExecutionConfig.high_throughput(
            max_concurrent_executions=slots,
            enable_auto_cleanup=False,
            history_path=history,
        )
    )


def throughput(history: Path | None, count: int) -> float:
    """Seconds for ``count`` executions of ``true`` at 8 slots, submitted at once."""
    with _engine(history, 8) as engine:
        start = time.perf_counter()
        ids = [engine.execute(ExecutionRequest(command=TRUE)) for _ in range(count)]
        for execution_id in ids:
            engine.get_result(execution_id, timeout=60)
        if engine.history is not None:
            engine.history.flush(timeout=60)  # on is done when it is on disk
        return time.perf_counter() - start


def overhead(history: Path | None, count: int) -> float:
    """Seconds per execution of ``true``, one after another (execute + get_result)."""
    with _engine(history, 8) as engine:
        start = time.perf_counter()
        for _ in range(count):
            engine.get_result(engine.execute(ExecutionRequest(command=TRUE)), timeout=30)
        if engine.history is not None:
            engine.history.flush(timeout=60)
        return (time.perf_counter() - start) / count


def build(path: Path, rows: int, keep: int) -> ExecutionHistory:
    """A history of ``rows`` finished executions, written by its writer thread."""
    history = start_history(
        ExecutionConfig.testing(history_path=path, history_max_executions=keep),
        thread_name="execution-engine-bench-history",
    )
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(rows):
        at = base + timedelta(milliseconds=i)
        request = ExecutionRequest(command=Shell(command=f"echo {i}"))
        history.record(ExecutionQueued(request, f"echo {i}", at))
        result = ExecutionResult(
            execution_id=request.id,
            status=ExecutionStatus.COMPLETED,
            success=True,
            exit_code=0,
            stdout=f"{i}",
            stderr="",
            queued_at=at,
            started_at=at,
            completed_at=at,
            duration_ms=1,
        )
        history.record(ExecutionEnded(result))
    assert history.flush(timeout=600)
    return history


def _size(path: Path) -> int:
    """Bytes of the database and its write-ahead log."""
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def main() -> None:
    """Run every figure and print them (and ``--json``'s file)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; not data")
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()
    rounds = 2 if args.smoke else 3 if args.quick else 7
    count = 20 if args.smoke else 500
    sequential = 10 if args.smoke else 200
    rows, keep = (2_000, 1_000) if args.smoke else (100_000, 50_000)
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
        folder = Path(tmp)
        times: dict[str, list[float]] = {k: [] for k in ("tp-off", "tp-on", "oh-off", "oh-on")}
        for i in range(rounds):
            file = folder / f"round-{i}.sqlite3"
            times["tp-off"].append(throughput(None, count))
            times["tp-on"].append(throughput(file, count))
            times["oh-off"].append(overhead(None, sequential))
            times["oh-on"].append(overhead(file, sequential))
        median = {k: statistics.median(v) for k, v in times.items()}
        figures["throughput_off_per_s"] = count / median["tp-off"]
        figures["throughput_on_per_s"] = count / median["tp-on"]
        figures["throughput_slowdown"] = median["tp-on"] / median["tp-off"] - 1
        figures["overhead_off_ms"] = median["oh-off"] * 1000
        figures["overhead_on_ms"] = median["oh-on"] * 1000
        figures["overhead_slowdown"] = median["oh-on"] / median["oh-off"] - 1
        start = time.perf_counter()
        history = build(folder / "big.sqlite3", rows, keep)
        figures[f"build_{rows}_s"] = time.perf_counter() - start
        try:
            reader = ExecutionHistory.open(history.path)
            lists = []
            for _ in range(50):
                start = time.perf_counter()
                assert len(reader.list(limit=100)) == 100
                lists.append(time.perf_counter() - start)
            figures[f"list_100_of_{rows}_ms"] = statistics.median(lists) * 1000
            size = _size(history.path)
            start = time.perf_counter()
            pruned = history.prune(now=datetime(2026, 1, 1, tzinfo=UTC), timeout=600)
            figures[f"prune_{pruned}_s"] = time.perf_counter() - start
            figures["file_mb_before_after_prune"] = [
                size / 1e6,
                _size(history.path) / 1e6,
            ]
        finally:
            history.close()
    for name, value in figures.items():
        print(f"{name:32} {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
