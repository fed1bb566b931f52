"""The SQLite history as an engine uses it: recording, answering, refusing, pruning."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pydantic
import pytest

from actors import ExecutionEngine, ExecutionHistory
from actors.testing import LeakCheck
from messages import (
    ExecutionConfig,
    ExecutionError,
    ExecutionNotFound,
    ExecutionStatus,
    OversizedOutputStrategy,
    Shell,
)
from tests.conftest import EngineFactory, request

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def history_path(tmp_path: Path) -> Path:
    """A history file in a folder that does not exist yet."""
    return tmp_path / "state" / "history.sqlite3"


def _run(engine: ExecutionEngine, command: str, **fields: object) -> ExecutionStatus:
    execution_id = engine.execute(request(Shell(command=command), **fields))
    return engine.get_result(execution_id, timeout=30).status


def _flush(engine: ExecutionEngine) -> ExecutionHistory:
    history = engine.history
    assert history is not None
    assert history.flush(timeout=10)
    return history


def test_a_result_read_back_by_a_later_engine_equals_the_one_get_result_gave(
    make_engine: EngineFactory, history_path: Path
) -> None:
    first = make_engine(history_path=history_path)
    ids = [first.execute(request(Shell(command=c))) for c in ("echo one; echo two >&2", "exit 4")]
    results = [first.get_result(i, timeout=30) for i in ids]
    first.shutdown()
    later = make_engine(history_path=history_path)
    assert [later.get_result(i) for i in ids] == results
    assert [later.get_status(i) for i in ids] == [ExecutionStatus.COMPLETED, ExecutionStatus.FAILED]


def test_an_end_reaches_the_file_within_a_second_without_a_flush(
    make_engine: EngineFactory, history_path: Path
) -> None:
    engine = make_engine(history_path=history_path)
    execution_id = engine.execute(request(Shell(command="echo done")))
    engine.get_result(execution_id, timeout=30)
    ended = time.monotonic()
    reader = ExecutionHistory.open(history_path)
    pause = threading.Event()
    while ExecutionStatus.COMPLETED not in {r.status for r in reader.list()}:
        # The file is another process's view: polling it is the point here.
        assert time.monotonic() - ended < 3.0, "not committed within the promised second"
        pause.wait(0.02)
    assert reader.get(execution_id).stdout == "done"


def test_an_execution_evicted_from_memory_is_answered_from_the_file(
    make_engine: EngineFactory, history_path: Path
) -> None:
    engine = make_engine(history_path=history_path, max_in_memory_executions=1)
    first = engine.execute(request(Shell(command="echo first")))
    result = engine.get_result(first, timeout=30)
    engine.get_result(engine.execute(request(Shell(command="true"))), timeout=30)
    assert engine.cleanup_old_executions() >= 1
    assert all(s.execution_id != first for s in engine.list_executions())
    assert engine.get_status(first) is ExecutionStatus.COMPLETED
    assert engine.get_result(first) == result
    assert engine.result_future(first).result(timeout=5) == result


def test_an_id_unknown_to_memory_and_file_still_raises_not_found(
    make_engine: EngineFactory, history_path: Path
) -> None:
    engine = make_engine(history_path=history_path)
    with pytest.raises(ExecutionNotFound):
        engine.get_status(uuid4())
    with pytest.raises(ExecutionNotFound):
        engine.get_result(uuid4())


def test_history_lists_newest_first_filters_by_status_and_bounds_by_limit(
    make_engine: EngineFactory, history_path: Path
) -> None:
    engine = make_engine(history_path=history_path, max_concurrent_executions=1)
    for command in ("true", "false", "true", "false"):
        _run(engine, command)
    history = _flush(engine)
    rows = history.list()
    assert [r.command for r in rows] == ["false", "true", "false", "true"]
    assert rows == sorted(rows, key=lambda r: r.queued_at, reverse=True)
    assert [r.status for r in history.list(status="failed")] == [ExecutionStatus.FAILED] * 2
    assert len(history.list(limit=3)) == 3
    assert history.count() == 4 and history.count(ExecutionStatus.COMPLETED) == 2
    with pytest.raises(ValueError, match="limit"):
        history.list(limit=0)
    with pytest.raises(ValueError, match="bogus"):
        history.list(status="bogus")


def test_a_pending_execution_is_in_the_file_and_has_no_result_yet(
    make_engine: EngineFactory, history_path: Path
) -> None:
    engine = make_engine(history_path=history_path, max_concurrent_executions=1)
    blocker = engine.execute(request(Shell(command="sleep 30")))
    waiting = engine.execute(request(Shell(command="true")))
    history = _flush(engine)
    assert history.status(waiting) is ExecutionStatus.PENDING
    with pytest.raises(ExecutionError, match="still pending"):
        history.get(waiting)
    engine.cancel(blocker)
    engine.cancel(waiting)


def test_nothing_stored_holds_a_secret_and_env_is_stored_as_names_only(
    make_engine: EngineFactory, history_path: Path
) -> None:
    engine = make_engine(history_path=history_path, redact=("hunter2",))
    execution_id = engine.execute(
        request(
            Shell(command='echo hunter2; test -n "$API_KEY"'),
            env={"API_KEY": "value-never-stored"},
            labels={"who": "hunter2"},
            stdin="hunter2",
        )
    )
    engine.get_result(execution_id, timeout=30)
    history = _flush(engine)
    stored = b"".join(p.read_bytes() for p in history_path.parent.iterdir() if p.is_file())
    assert b"hunter2" not in stored
    assert b"value-never-stored" not in stored
    with sqlite3.connect(history_path) as conn:
        (text,) = conn.execute("SELECT request FROM executions").fetchone()
    conn.close()
    assert '"env":["API_KEY"]' in text
    assert history.get(execution_id).stdout == "***"
    assert history.summary(execution_id).labels == {"who": "***"}


def test_the_file_is_created_0600_in_a_folder_created_0700(
    make_engine: EngineFactory, history_path: Path
) -> None:
    make_engine(history_path=history_path)
    assert stat.S_IMODE(history_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(history_path.parent.stat().st_mode) == 0o700


def test_a_second_engine_on_the_file_in_this_process_is_refused_and_starts_nothing(
    make_engine: EngineFactory, history_path: Path
) -> None:
    engine = make_engine(history_path=history_path)
    _run(engine, "true")
    history = _flush(engine)
    with LeakCheck() as check, pytest.raises(ExecutionError, match="in use by another engine"):
        ExecutionEngine(ExecutionConfig.testing(history_path=history_path))
    assert not check.leaks()
    assert history.count() == 1
    _run(engine, "true")
    assert _flush(engine).count() == 2


def test_a_second_engine_on_the_file_in_another_process_is_refused(
    make_engine: EngineFactory, history_path: Path
) -> None:
    make_engine(history_path=history_path)
    code = (
        "import sys; from actors import ExecutionEngine; from messages import ExecutionConfig\n"
        "ExecutionEngine(ExecutionConfig.testing(history_path=sys.argv[1]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(history_path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )
    assert done.returncode != 0
    assert "in use by another engine" in done.stderr and str(history_path) in done.stderr


@pytest.mark.parametrize(
    "content",
    [b"not a database at all\n" * 50, b""],
    ids=["text", "empty-but-foreign-sqlite"],
)
def test_a_file_that_is_not_a_history_is_refused_and_left_as_it_was(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "foreign.db"
    if content:
        path.write_bytes(content)
    else:
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE notes (body TEXT)")
            conn.execute("INSERT INTO notes VALUES ('mine')")
        conn.close()
    before = path.read_bytes()
    with LeakCheck() as check, pytest.raises(ExecutionError, match="not an execution history"):
        ExecutionEngine(ExecutionConfig.testing(history_path=path))
    assert not check.leaks()
    assert path.read_bytes() == before
    with pytest.raises(ExecutionError, match=str(path)):
        ExecutionHistory.open(path)


def test_a_history_of_a_newer_schema_is_refused_untouched(
    make_engine: EngineFactory, history_path: Path
) -> None:
    make_engine(history_path=history_path).shutdown()
    with sqlite3.connect(history_path) as conn:
        conn.execute("PRAGMA user_version=99")
    conn.close()
    before = history_path.read_bytes()
    with pytest.raises(ExecutionError, match="schema version 99 is newer"):
        ExecutionEngine(ExecutionConfig.testing(history_path=history_path))
    assert history_path.read_bytes() == before


def test_pruning_goes_by_age_then_count_and_deletes_only_the_pruned_rows_files(
    make_engine: EngineFactory, history_path: Path, log_dir: Path
) -> None:
    engine = make_engine(
        history_path=history_path,
        history_max_executions=3,
        max_concurrent_executions=1,
        max_output_size_bytes=4,
        oversized_output_strategy=OversizedOutputStrategy.STREAM_TO_FILE,
    )
    ids = [engine.execute(request(Shell(command=f"echo output-{i}"))) for i in range(5)]
    results = [engine.get_result(i, timeout=30) for i in ids]
    files = [[p for p in (r.log_path, r.stdout_spill_path) if p is not None] for r in results]
    assert all(len(f) == 2 and all(p.exists() for p in f) for f in files)
    history = _flush(engine)
    assert history.prune() == 2
    assert [r.execution_id for r in history.list()] == ids[:1:-1]
    assert not any(p.exists() for f in files[:2] for p in f)
    assert all(p.exists() for f in files[2:] for p in f)
    assert history.prune(now=datetime.now(UTC) + timedelta(days=31)) == 3
    assert history.count() == 0
    assert history.metrics().pruned == 5


def test_cleanup_prunes_the_history_but_never_a_pending_or_running_execution(
    make_engine: EngineFactory, history_path: Path
) -> None:
    engine = make_engine(
        history_path=history_path, history_max_executions=1, max_concurrent_executions=1
    )
    _run(engine, "true")
    running = engine.execute(request(Shell(command="sleep 30")))
    pending = engine.execute(request(Shell(command="true")))
    _flush(engine)
    engine.cleanup_old_executions()
    history = _flush(engine)
    assert {r.execution_id for r in history.list()} == {running, pending}
    engine.cancel(pending)
    engine.cancel(running)


def test_a_reader_in_a_long_read_does_not_hold_up_the_writer(
    make_engine: EngineFactory, history_path: Path
) -> None:
    engine = make_engine(history_path=history_path)
    _run(engine, "true")
    _flush(engine)
    reader = sqlite3.connect(history_path, isolation_level=None)
    try:
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM executions").fetchone() == (1,)
        for _ in range(20):
            _run(engine, "true")
        history = _flush(engine)
        assert reader.execute("SELECT count(*) FROM executions").fetchone() == (1,)
        assert history.count() == 21
    finally:
        reader.close()


def test_readers_in_threads_and_another_process_read_while_the_engine_writes(
    make_engine: EngineFactory, history_path: Path
) -> None:
    engine = make_engine(history_path=history_path, max_concurrent_executions=4)
    _run(engine, "true")
    _flush(engine)
    code = (
        "import sys; from actors import ExecutionHistory\n"
        "h = ExecutionHistory.open(sys.argv[1])\n"
        "n = 0\n"
        "for _ in range(40):\n"
        "    rows = h.list(limit=50); n = max(n, h.count())\n"
        "    [h.get(r.execution_id) for r in rows if r.status.is_terminal]\n"
        "print(n)\n"
    )
    reader = subprocess.Popen(
        [sys.executable, "-c", code, str(history_path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )
    local = ExecutionHistory.open(history_path)
    ids = [engine.execute(request(Shell(command="echo x"))) for _ in range(100)]
    seen = [local.count() for _ in ids]
    for execution_id in ids:
        engine.get_result(execution_id, timeout=30)
    out, _ = reader.communicate(timeout=60)
    assert reader.returncode == 0 and int(out) >= 1
    assert seen == sorted(seen)
    assert _flush(engine).count() == 101


def test_config_refuses_bad_history_settings_and_the_testing_preset_keeps_it_off() -> None:
    assert ExecutionConfig.testing().history_path is None
    assert ExecutionConfig().history_path is None
    with pytest.raises(pydantic.ValidationError, match="history_retention_secs"):
        ExecutionConfig(history_retention_secs=0)
    with pytest.raises(pydantic.ValidationError, match="history_max_executions"):
        ExecutionConfig(history_max_executions=0)


def test_a_history_opened_for_reading_never_writes(tmp_path: Path) -> None:
    with pytest.raises(ExecutionError, match="no history file"):
        ExecutionHistory.open(tmp_path / "missing.sqlite3")
    assert not (tmp_path / "missing.sqlite3").exists()
    config = ExecutionConfig.testing(history_path=tmp_path / "h.sqlite3")
    ExecutionEngine(config).shutdown()
    with ExecutionHistory.open(tmp_path / "h.sqlite3") as history:
        assert history.flush() is True
        assert history.metrics().recorded == 0
        with pytest.raises(ExecutionError, match="read-only"):
            history.prune()
