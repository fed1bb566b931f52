"""A second interrupt kills at once: the CLI's ``Interrupts`` and ``ExecutionEngine.kill_all``."""

from __future__ import annotations

import os
import signal
import threading
import time

from actors import ExecutionEngine
from actors.cli._interrupts import Interrupts
from actors.testing import EventRecorder
from messages import EngineStopped, Shell
from tests.conftest import EngineFactory, request

GRACE_MS = 30_000


def shutting_down(engine: ExecutionEngine) -> bool:
    """True once ``shutdown()`` has begun (the facade then refuses calls)."""
    try:
        engine.get_concurrency_metrics()
    except EngineStopped:
        return True
    return False


def test_interrupts_notes_the_first_signal_and_calls_on_second_for_the_next() -> None:
    seconds: list[bool] = []
    with Interrupts((signal.SIGUSR1,)) as interrupts:
        interrupts.on_second = lambda: seconds.append(True)
        os.kill(os.getpid(), signal.SIGUSR1)
        interrupts.wait_until(lambda: False)
        assert interrupts.signum == signal.SIGUSR1
        os.kill(os.getpid(), signal.SIGUSR1)
        interrupts.wait_until(lambda: bool(seconds))
    assert seconds == [True]


def test_kill_all_during_shutdown_ends_it_without_waiting_for_the_grace(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(kill_grace_ms=GRACE_MS)
    with EventRecorder(engine) as recorder:
        execution_id = engine.execute(request(Shell(command="trap '' TERM; sleep 300")))
        recorder.wait_for("started", execution_id)
        stopper = threading.Thread(target=engine.shutdown, args=(60,))
        start = time.monotonic()
        stopper.start()
        while not shutting_down(engine):
            assert time.monotonic() - start < 10, "shutdown() did not begin"
        engine.kill_all()
        stopper.join(60)
    assert not stopper.is_alive()
    assert time.monotonic() - start < GRACE_MS / 1000 / 2
