"""The pytest plugin (``actors.pytest_plugin``) and the helpers it is built from.

Each plugin test writes a small test file and runs pytest on it with ``pytester``,
as a user of the installed package would.
"""

from __future__ import annotations

import configparser
import importlib.metadata
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import actors.pytest_plugin
from actors.testing import ENGINE_THREAD_PREFIX, LeakCheck, ManualClock, leak_snapshot

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
ENTRY_POINT = "cloudops_execution_engine"


def plugin_args() -> list[str]:
    """``-p actors.pytest_plugin`` unless the installed package's entry point loads it.

    Loading the module both ways would register it twice, which pytest refuses.
    """
    installed = importlib.metadata.entry_points(group="pytest11", name=ENTRY_POINT)
    if installed and not os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return []
    return ["-p", "actors.pytest_plugin"]


def run(pytester: pytest.Pytester, source: str) -> pytest.RunResult:
    pytester.makepyfile(source)
    return pytester.runpytest("-p", "no:cacheprovider", *plugin_args())


# -- the entry point ------------------------------------------------------------


def test_setup_cfg_registers_the_plugin_under_the_pytest11_entry_point() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    lines = config["options.entry_points"]["pytest11"].strip().splitlines()
    assert f"{ENTRY_POINT} = actors.pytest_plugin" in [line.strip() for line in lines]


def test_an_installed_package_entry_point_loads_this_module() -> None:
    found = importlib.metadata.entry_points(group="pytest11", name=ENTRY_POINT)
    if not found:
        pytest.skip("the package is not installed here (pip install -e . registers it)")
    assert next(iter(found)).load() is actors.pytest_plugin


def test_the_project_conftest_registered_the_plugin_once(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.is_registered(actors.pytest_plugin)


# -- the fixtures -----------------------------------------------------------------


def test_execution_engine_and_event_recorder_run_a_command_and_record_its_events(
    pytester: pytest.Pytester,
) -> None:
    result = run(
        pytester,
        """
        import sys
        from messages import Exec, ExecutionRequest, ExecutionStatus

        def test_it(execution_engine, event_recorder, tmp_path):
            command = Exec(program=sys.executable, args=("-c", "print('hello')"))
            execution_id = execution_engine.execute(ExecutionRequest(command=command))
            stdout = event_recorder.wait_for("stdout", execution_id, timeout=10)
            assert stdout.lines == ("hello",)
            assert event_recorder.wait_terminal(execution_id).type == "completed"
            result = execution_engine.get_result(execution_id, timeout=10)
            assert result.status is ExecutionStatus.COMPLETED
            assert result.log_path.parent == tmp_path / "execution-engine-logs"
            assert execution_engine.janitor is None
        """,
    )
    result.assert_outcomes(passed=1)


def test_engine_clock_advance_then_cleanup_evicts_old_executions(
    pytester: pytest.Pytester,
) -> None:
    result = run(
        pytester,
        """
        import pytest
        from messages import Exec, ExecutionNotFound, ExecutionRequest

        def test_it(execution_engine, engine_clock):
            retention = execution_engine.config.execution_retention_secs
            request = ExecutionRequest(command=Exec(program="true"))
            execution_id = execution_engine.execute(request)
            execution_engine.get_result(execution_id, timeout=10)

            engine_clock.advance(retention - 1)
            assert execution_engine.cleanup_old_executions() == 0
            engine_clock.advance(2)
            assert execution_engine.cleanup_old_executions() == 1
            with pytest.raises(ExecutionNotFound):
                execution_engine.get_status(execution_id)
        """,
    )
    result.assert_outcomes(passed=1)


def test_a_conftest_can_override_the_engine_config(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest
        from messages import ExecutionConfig

        @pytest.fixture
        def execution_engine_config(tmp_path):
            return ExecutionConfig.testing(
                log_dir=None, max_concurrent_executions=1, enable_auto_cleanup=False
            )
        """
    )
    result = run(
        pytester,
        """
        def test_it(execution_engine):
            metrics = execution_engine.get_concurrency_metrics()
            assert metrics.max_concurrent == 1
            assert execution_engine.config.log_dir is None
        """,
    )
    result.assert_outcomes(passed=1)


def test_a_child_process_left_running_fails_the_test_at_teardown(
    pytester: pytest.Pytester,
) -> None:
    result = run(
        pytester,
        """
        import subprocess, sys
        import pytest

        @pytest.fixture
        def reaper():
            # Set up before execution_engine, so torn down after its leak check.
            children = []
            yield children
            for child in children:
                child.kill()
                child.wait()

        def test_it(reaper, execution_engine):
            code = "import time; time.sleep(60)  # leaked-on-purpose"
            reaper.append(subprocess.Popen([sys.executable, "-c", code]))
        """,
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*execution_engine left behind after shutdown(): process * leaked-on-purpose*"]
    )


def test_an_fd_left_open_fails_the_test_at_teardown(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import os
        import pytest

        @pytest.fixture
        def closer():
            fds = []
            yield fds
            for fd in fds:
                os.close(fd)

        def test_it(closer, execution_engine):
            closer.extend(os.pipe())
        """,
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*left behind after shutdown(): fd * -> pipe:*"])


def test_an_engine_left_running_fails_the_test_at_teardown(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import pytest
        from actors import ExecutionEngine
        from messages import ExecutionConfig

        @pytest.fixture
        def stopper():
            engines = []
            yield engines
            for engine in engines:
                engine.shutdown()

        def test_it(stopper, execution_engine):
            stopper.append(ExecutionEngine(ExecutionConfig.testing(log_dir=None)))
        """,
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([f"*left behind after shutdown(): thread {ENGINE_THREAD_PREFIX}*"])


def test_a_failing_test_still_shuts_the_engine_down(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        from messages import Exec, ExecutionRequest

        def test_it(execution_engine):
            execution_engine.execute(ExecutionRequest(command=Exec(program="sleep", args=("60",))))
            assert False, "boom"
        """,
    )
    # Failed, and no teardown error: the running child was killed by shutdown().
    result.assert_outcomes(failed=1)


def test_event_recorder_hears_only_its_own_engine(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        from actors import ExecutionEngine
        from messages import Exec, ExecutionConfig, ExecutionRequest

        def test_it(execution_engine, event_recorder):
            with ExecutionEngine(ExecutionConfig.testing(log_dir=None)) as other:
                theirs = other.execute(ExecutionRequest(command=Exec(program="true")))
                other.get_result(theirs, timeout=10)
            ours = execution_engine.execute(ExecutionRequest(command=Exec(program="true")))
            event_recorder.wait_terminal(ours)
            assert event_recorder.of(theirs) == []
            assert {e.execution_id for e in event_recorder.events} == {ours}
        """,
    )
    result.assert_outcomes(passed=1)


# -- actors.testing ---------------------------------------------------------------


def test_manual_clock_moves_only_when_advanced() -> None:
    clock = ManualClock(5.0)
    assert clock() == 5.0
    assert clock.advance(2.5) == 7.5
    assert clock() == 7.5
    with pytest.raises(ValueError, match="cannot go back"):
        clock.advance(-1)


def test_leak_check_reports_a_new_child_process_until_it_is_reaped() -> None:
    check = leak_snapshot()
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=-1)
    try:
        leaks = check.leaks()
        assert any(f"process {child.pid} " in leak for leak in leaks), leaks
        assert any(leak.startswith("fd ") for leak in leaks), leaks
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait()
    assert check.leaks() == []


def test_leak_check_reports_a_new_engine_thread_but_not_older_ones() -> None:
    release = threading.Event()
    older = threading.Thread(target=release.wait, name=f"{ENGINE_THREAD_PREFIX}older")
    older.start()
    try:
        check = LeakCheck()
        newer = threading.Thread(target=release.wait, name=f"{ENGINE_THREAD_PREFIX}newer")
        newer.start()
        assert check.leaks() == [f"thread {ENGINE_THREAD_PREFIX}newer"]
        with pytest.raises(AssertionError, match="left behind after the block"), LeakCheck():
            threading.Thread(target=release.wait, name=f"{ENGINE_THREAD_PREFIX}x").start()
    finally:
        release.set()
    for thread in threading.enumerate():
        if thread.name.startswith(ENGINE_THREAD_PREFIX):
            thread.join(5)
    assert check.leaks() == []


def test_actors_testing_does_not_import_pytest_or_psutil() -> None:
    code = (
        "import sys, actors.testing; "
        "print(sorted({'pytest', 'psutil', '_pytest'} & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip() == "[]"
