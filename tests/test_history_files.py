"""The history file over time: recovery, schema upgrades, 100,000 rows, a full disk."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from actors import ExecutionEngine, ExecutionHistory
from actors._history import start_history
from actors._history._rows import to_us
from actors._history._schema import MIGRATIONS, SCHEMA_VERSION, connect_writer, migrate
from actors._lifecycle import ExecutionEnded, ExecutionQueued, ExecutionRunning
from messages import (
    ExecutionConfig,
    ExecutionRequest,
    ExecutionResult,
    ExecutionStatus,
    Shell,
)
from tests.conftest import EngineFactory

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _ended(request: ExecutionRequest, at: datetime) -> ExecutionEnded:
    return ExecutionEnded(
        ExecutionResult(
            execution_id=request.id,
            status=ExecutionStatus.COMPLETED,
            success=True,
            exit_code=0,
            stdout="out",
            stderr="",
            queued_at=at,
            started_at=at,
            completed_at=at,
            duration_ms=0,
        )
    )


def _history(path: Path, **config: object) -> ExecutionHistory:
    return start_history(
        ExecutionConfig.testing(history_path=path, **config),
        thread_name="execution-engine-test-history",
    )


def test_every_field_of_a_result_survives_the_file(tmp_path: Path) -> None:
    # A new ExecutionResult field must get a column: this list fails until it does.
    assert set(ExecutionResult.model_fields) == {
        "execution_id", "status", "success", "exit_code", "stdout", "stderr",
        "stdout_truncated", "stderr_truncated", "stdout_spill_path", "stderr_spill_path",
        "stdout_dropped_bytes", "stderr_dropped_bytes", "error", "queued_at", "started_at",
        "completed_at", "duration_ms", "log_path", "pid", "node",
    }  # fmt: skip
    request = ExecutionRequest(command=Shell(command="x"))
    result = ExecutionResult(
        execution_id=request.id,
        status=ExecutionStatus.TIMED_OUT,
        success=False,
        exit_code=-9,
        stdout="out\nlines",
        stderr="err",
        stdout_truncated=True,
        stderr_truncated=True,
        stdout_spill_path=tmp_path / "o.spill",
        stderr_spill_path=tmp_path / "e.spill",
        stdout_dropped_bytes=5,
        stderr_dropped_bytes=6,
        error="timed out",
        queued_at=NOW,
        started_at=NOW + timedelta(microseconds=1),
        completed_at=NOW + timedelta(seconds=1, microseconds=7),
        duration_ms=1000,
        log_path=tmp_path / "x.log",
        pid=77,
        node="node-1",
    )
    history = _history(tmp_path / "h.sqlite3")
    try:
        history.record(ExecutionQueued(request, "x", NOW))
        history.record(ExecutionRunning(request.id, 77, NOW))
        history.record(ExecutionEnded(result))
        assert history.flush(timeout=10)
        assert history.get(request.id) == result
    finally:
        history.close()


def test_an_engine_marks_what_a_dead_host_left_pending_or_running_interrupted(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    path = tmp_path / "h.sqlite3"
    pending, running = (ExecutionRequest(command=Shell(command="true")) for _ in range(2))
    history = _history(path)
    for request in (pending, running):
        history.record(ExecutionQueued(request, "true", NOW))
    history.record(ExecutionRunning(running.id, 4242, NOW))
    # close() commits but never ends them: as if the host died right after.
    assert history.flush(timeout=10) and history.close()
    engine = make_engine(history_path=path)
    for request, was in ((pending, "pending"), (running, "running")):
        result = engine.get_result(request.id)
        assert result.status is ExecutionStatus.INTERRUPTED and result.exit_code is None
        assert result.error is not None and f"it was {was}" in result.error
        assert f"pid {os.getpid()}" in result.error
    assert engine.get_result(running.id).pid == 4242
    assert engine.list_executions() == []
    assert engine.get_concurrency_metrics().total_submitted == 0


def test_a_file_of_an_older_schema_is_upgraded_with_its_rows_kept(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    path = tmp_path / "v1.sqlite3"
    conn = connect_writer(path)
    assert migrate(conn, path, MIGRATIONS[:1]) == 1
    done = _ended(ExecutionRequest(command=Shell(command="true")), NOW).result
    conn.execute(
        "INSERT INTO executions (id, status, command, labels, request, queued_us, started_us,"
        " completed_us, exit_code, stdout, stderr, duration_ms)"
        " VALUES (?, 'completed', 'true', '{}', '{}', ?, ?, ?, 0, 'out', '', 0)",
        (str(done.execution_id), *(to_us(NOW) for _ in range(3))),
    )
    conn.execute(
        "INSERT INTO executions (id, status, command, labels, request, queued_us, started_us)"
        " VALUES ('5a2f0a3e-0000-4000-8000-000000000001', 'running', 'sleep 9', '{}', '{}', 1, 1)"
    )
    conn.close()
    engine = make_engine(history_path=path)
    assert engine.get_result(done.execution_id) == done
    lost = engine.get_result(__import__("uuid").UUID("5a2f0a3e-0000-4000-8000-000000000001"))
    assert lost.status is ExecutionStatus.INTERRUPTED
    assert lost.error is not None and "an earlier process" in lost.error
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    check.close()


@pytest.mark.timeout(180)
def test_100000_recorded_executions_are_listed_newest_first_and_pruned_to_the_limit(
    tmp_path: Path,
) -> None:
    path = tmp_path / "big.sqlite3"
    history = _history(path, history_max_executions=50_000)
    try:
        requests = [ExecutionRequest(command=Shell(command=f"echo {i}")) for i in range(100_000)]
        for i, request in enumerate(requests):
            at = NOW + timedelta(milliseconds=i)
            history.record(ExecutionQueued(request, f"echo {i}", at))
            history.record(_ended(request, at))
        assert history.flush(timeout=120)
        assert history.count() == 100_000
        newest = history.list(limit=100)
        assert [r.execution_id for r in newest] == [r.id for r in requests[:-101:-1]]
        size = path.stat().st_size
        assert history.prune(now=NOW) == 50_000
        assert history.count() == 50_000
        assert history.list(limit=1)[0].execution_id == requests[-1].id
        assert history.list(limit=50_000)[-1].execution_id == requests[50_000].id
        assert path.stat().st_size < size * 0.75, "the file did not shrink after pruning"
        wal = path.with_name(path.name + "-wal")
        assert not wal.exists() or wal.stat().st_size < 8 * 1024 * 1024
    finally:
        history.close()


_DISK_FULL_HOST = """
import json, logging, resource, signal, sys
from actors import ExecutionEngine
from messages import ExecutionConfig, ExecutionRequest, Shell
logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s")
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
engine = ExecutionEngine(ExecutionConfig.testing(history_path=sys.argv[1], log_dir=None))
def run():
    i = engine.execute(ExecutionRequest(command=Shell(command="echo ok")))
    return engine.get_result(i, timeout=30).stdout
out = {"first": run(), "flushed": engine.history.flush(10)}
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (0, hard))  # no file may grow: the disk is full
out["while_full"] = [run() for _ in range(5)]
out["flush_while_full"] = engine.history.flush(3)
out["metrics_while_full"] = engine.history.metrics().model_dump(mode="json")
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
out["flush_after"] = engine.history.flush(10)
out["metrics_after"] = engine.history.metrics().model_dump(mode="json")
out["count"] = engine.history.count()
engine.shutdown()
print(json.dumps(out))
"""


@pytest.mark.timeout(90)
def test_a_full_disk_stops_nothing_is_reported_once_and_writing_resumes(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    done = subprocess.run(
        [sys.executable, "-c", _DISK_FULL_HOST, str(path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=80,
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["first"] == "ok" and out["flushed"] is True
    assert out["while_full"] == ["ok"] * 5
    assert out["flush_while_full"] is False
    assert out["metrics_while_full"]["healthy"] is False
    assert out["metrics_while_full"]["write_failures"] >= 1
    assert out["metrics_while_full"]["last_error"]
    assert out["flush_after"] is True and out["metrics_after"]["healthy"] is True
    assert out["count"] == 6
    assert done.stderr.count("cannot write") == 1
    assert done.stderr.count("writing again") == 1
    assert ExecutionHistory.open(path).count(ExecutionStatus.COMPLETED) == 6


def test_an_engine_with_history_leaves_no_thread_or_fd_behind(tmp_path: Path) -> None:
    config = ExecutionConfig.testing(history_path=tmp_path / "h.sqlite3", log_dir=None)
    from actors.testing import LeakCheck

    with LeakCheck() as check:
        with ExecutionEngine(config) as engine:
            engine.get_result(engine.execute(ExecutionRequest(command=Shell(command="true"))), 30)
        assert not check.leaks()


def _cap_pages(history: ExecutionHistory, pages: int | None) -> None:
    """Cap the writer's file at ``pages`` (SQLITE_FULL beyond, as a full disk gives)."""
    writer = history._writer
    assert writer is not None
    conn = writer._conn  # the writer thread is idle between batches; a test seam only
    if pages is None:
        pages = 2**30
    conn.execute(f"PRAGMA max_page_count={pages}")


def _read_only(history: ExecutionHistory, on: bool) -> None:
    """Make the writer's connection read-only (SQLITE_READONLY, as a read-only folder gives)."""
    writer = history._writer
    assert writer is not None
    writer._conn.execute(f"PRAGMA query_only={int(on)}")  # a test seam, between batches


@pytest.mark.parametrize("fault", ["full", "readonly"])
def test_a_failing_file_keeps_records_in_memory_logs_once_and_writes_them_later(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    history = _history(tmp_path / "h.sqlite3")
    try:
        first = ExecutionRequest(command=Shell(command="true"))
        history.record(ExecutionQueued(first, "true", NOW))
        assert history.flush(timeout=10)
        with sqlite3.connect(history.path) as conn:
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.close()
        if fault == "full":
            _cap_pages(history, pages)
        else:
            _read_only(history, True)
        big = [ExecutionRequest(command=Shell(command="x" * 50_000)) for _ in range(20)]
        for request in big:
            history.record(ExecutionQueued(request, request.command.describe(), NOW))
        assert history.flush(timeout=10) is False
        assert history.flush(timeout=10) is False
        metrics = history.metrics()
        assert not metrics.healthy and metrics.write_failures >= 2 and metrics.backlog == 20
        assert metrics.last_error is not None
        assert ("full" if fault == "full" else "readonly") in metrics.last_error
        assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
        _cap_pages(history, None)
        _read_only(history, False)
        assert history.flush(timeout=10)
        assert history.metrics().healthy and history.count() == 21
        assert sum("writing again" in r.message for r in caplog.records) == 1
    finally:
        history.close()


def test_closing_while_the_file_is_full_reports_what_was_not_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    history = _history(tmp_path / "h.sqlite3")
    history.record(ExecutionQueued(ExecutionRequest(command=Shell(command="true")), "true", NOW))
    assert history.flush(timeout=10)
    _cap_pages(history, 1)
    request = ExecutionRequest(command=Shell(command="y" * 50_000))
    history.record(ExecutionQueued(request, "y", NOW))
    assert history.close(timeout=10)
    assert any("1 records that could not be written" in r.message for r in caplog.records)
    assert ExecutionHistory.open(tmp_path / "h.sqlite3").count() == 1


@pytest.mark.timeout(180)
def test_the_history_benchmark_runs_in_smoke_mode(tmp_path: Path) -> None:
    figures = tmp_path / "figures.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "perf" / "bench_history.py"),
            "--smoke",
            "--json",
            str(figures),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=170,
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads(figures.read_text())
    assert {"throughput_slowdown", "overhead_slowdown", "list_100_of_2000_ms"} <= set(data)
