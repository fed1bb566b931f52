"""The history's CLI pieces: ``history`` and ``show`` over a file another engine writes."""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from uuid import uuid4

import pytest

from actors.cli import main
from actors.cli._history import (
    add_history_commands,
    add_history_options,
    default_history_path,
    engine_for_cli,
    history_path,
    run_history,
    run_show,
)
from messages import ExecutionConfig, ExecutionSummary, Shell
from tests.conftest import EngineFactory, request

ROOT = Path(__file__).resolve().parent.parent


def _cli(*argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="execution-engine")
    commands = parser.add_subparsers(dest="verb", required=True)
    add_history_commands(commands)
    args = parser.parse_args(argv)
    out, err = io.StringIO(), io.StringIO()
    code = (run_history if args.verb == "history" else run_show)(args, out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def recorded(make_engine: EngineFactory, tmp_path: Path) -> tuple[Path, list[str]]:
    """A history file an engine (still running) wrote three executions to."""
    path = tmp_path / "history.sqlite3"
    engine = make_engine(history_path=path, max_concurrent_executions=1)
    ids = []
    for command in ("echo hello", "echo oops >&2; exit 2", "echo bye"):
        execution_id = engine.execute(request(Shell(command=command)))
        engine.get_result(execution_id, timeout=30)
        ids.append(str(execution_id))
    assert engine.history is not None and engine.history.flush(timeout=10)
    return path, ids


def test_history_lists_newest_first_as_a_table_while_the_engine_still_runs(
    recorded: tuple[Path, list[str]],
) -> None:
    path, ids = recorded
    code, out, _ = _cli("history", "--history-file", str(path))
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("ID")
    assert [line.split()[0] for line in lines[1:]] == ids[::-1]
    assert "failed" in lines[2] and "exit 2" in lines[2]


def test_history_json_is_one_array_of_summaries_filtered_and_limited(
    recorded: tuple[Path, list[str]],
) -> None:
    path, ids = recorded
    code, out, _ = _cli("history", "--history-file", str(path), "--json", "--status", "completed")
    rows = [ExecutionSummary.model_validate(r) for r in json.loads(out)]
    assert code == 0 and [str(r.execution_id) for r in rows] == [ids[2], ids[0]]
    code, out, _ = _cli("history", "--history-file", str(path), "--json", "--limit", "1")
    assert [r["execution_id"] for r in json.loads(out)] == [ids[2]]


def test_show_prints_status_and_output_or_the_result_as_json(
    recorded: tuple[Path, list[str]],
) -> None:
    path, ids = recorded
    code, out, _ = _cli("show", ids[1], "--history-file", str(path))
    assert code == 0
    assert "status: failed  exit code: 2" in out and "--- stderr ---\noops" in out
    code, out, _ = _cli("show", ids[0], "--history-file", str(path), "--json")
    assert code == 0 and json.loads(out)["stdout"] == "hello"


def test_show_of_an_unknown_id_or_a_missing_file_is_an_error_naming_it(
    recorded: tuple[Path, list[str]], tmp_path: Path
) -> None:
    path, _ = recorded
    unknown = str(uuid4())
    code, _, err = _cli("show", unknown, "--history-file", str(path))
    assert code == 1 and unknown in err
    missing = tmp_path / "none.sqlite3"
    code, _, err = _cli("history", "--history-file", str(missing))
    assert code == 1 and str(missing) in err
    with pytest.raises(SystemExit):
        _cli("show", "not-a-uuid")


def test_a_cli_engine_runs_without_history_and_warns_when_another_holds_the_file(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    path = tmp_path / "history.sqlite3"
    make_engine(history_path=path)
    warnings: list[str] = []
    second = engine_for_cli(ExecutionConfig.testing(history_path=path), warnings.append)
    try:
        assert second.history is None
        assert len(warnings) == 1 and "in use" in warnings[0] and "not recorded" in warnings[0]
        assert second.get_result(second.execute(request(Shell(command="true"))), 30).success
    finally:
        second.shutdown()


def test_history_is_on_by_default_in_the_state_folder_and_off_with_no_history(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    parser = argparse.ArgumentParser()
    add_history_options(parser)
    expected = tmp_path / "cloudops-execution-engine" / "history.sqlite3"
    assert default_history_path() == expected
    assert history_path(parser.parse_args([])) == expected
    assert history_path(parser.parse_args(["--no-history"])) is None
    assert history_path(parser.parse_args(["--history-file", "x.db"])) == Path("x.db")


def _main(capfd: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capfd.readouterr()
    return status, out, err


def test_run_records_to_the_state_folder_and_history_and_show_read_it(
    capfd: pytest.CaptureFixture[str],
) -> None:
    assert _main(capfd, "run", "--no-log", "echo recorded")[0] == 0
    assert _main(capfd, "run", "--no-log", "--no-history", "echo unrecorded")[0] == 0
    status, out, _ = _main(capfd, "history", "--json")
    rows = json.loads(out)
    assert status == 0 and [r["command"] for r in rows] == ["echo recorded"]
    assert default_history_path().is_file()
    status, out, _ = _main(capfd, "show", rows[0]["execution_id"], "--json")
    assert status == 0 and json.loads(out)["stdout"] == "recorded"
    status, _, err = _main(capfd, "history", "--limit", "0")
    assert status == 2 and "--limit" in err


def test_history_and_show_work_while_another_process_writes_the_file(
    capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "history.sqlite3"
    writer = subprocess.Popen(
        [
            *(sys.executable, "-m", "actors", "run", "--no-log", "--history-file", str(path)),
            *("echo first", "sleep 0.3; echo second", "sleep 30"),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )
    try:
        assert writer.stdout is not None
        while "first" not in writer.stdout.readline():  # the batch is running
            pass
        deadline = time.monotonic() + 30
        pause = threading.Event()
        rows: list[dict[str, str]] = []
        while len(rows) < 3 or "completed" not in {r["status"] for r in rows}:
            assert time.monotonic() < deadline, rows
            status, out, err = _main(capfd, "history", "--history-file", str(path), "--json")
            rows = json.loads(out) if status == 0 else []
            pause.wait(0.05)  # another process's file: polling it is the point
        sleeper = next(r for r in rows if "sleep 30" in r["command"])
        status, _, err = _main(capfd, "show", sleeper["execution_id"], "--history-file", str(path))
        assert status == 1 and "no result yet" in err
    finally:
        writer.send_signal(signal.SIGINT)
        writer.communicate(timeout=30)
    status, out, _ = _main(capfd, "history", "--history-file", str(path), "--status", "cancelled")
    assert status == 0 and "sleep 30" in out
