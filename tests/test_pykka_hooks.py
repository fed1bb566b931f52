"""The pykka hooks the engine overrides, pinned and checked.

pykka documents ``_create_actor_inbox`` and ``_start_actor_loop`` as "for
implementors of new actor types"; ``_actor_loop`` and ``_handle_failure`` are
private. setup.cfg pins pykka to the 4.5 series, and these tests fail first if a
release moves any of them.
"""

from __future__ import annotations

import inspect
import queue
import threading
from importlib import metadata

import pykka
import pytest

from actors import ExecutionEngine
from actors._base import EngineActor
from messages import Exec, ExecutionStatus
from tests.conftest import request

RESULT_TIMEOUT = 20.0


@pytest.mark.parametrize(
    "hook", ["_create_actor_inbox", "_start_actor_loop", "_actor_loop", "_handle_failure"]
)
def test_pykka_still_has_each_hook_the_engine_overrides(hook: str) -> None:
    assert callable(getattr(pykka.ThreadingActor, hook))


def test_the_handle_failure_hook_takes_the_exception_triple() -> None:
    parameters = list(inspect.signature(pykka.ThreadingActor._handle_failure).parameters)
    assert parameters == ["self", "exception_type", "exception_value", "traceback"]


def test_the_installed_pykka_is_in_the_pinned_series() -> None:
    assert metadata.version("pykka").startswith("4.5.")


def test_an_engine_actor_gets_a_simple_queue_inbox() -> None:
    ref = EngineActor.start()
    try:
        inbox = ref.actor_inbox
        assert isinstance(inbox, queue.SimpleQueue)
    finally:
        ref.stop(timeout=RESULT_TIMEOUT)


def test_a_worker_runs_on_a_recycled_pool_thread(engine: ExecutionEngine) -> None:
    before = {t.name for t in threading.enumerate()}
    for _ in range(3):
        result = engine.get_result(
            engine.execute(request(Exec(program="true"))), timeout=RESULT_TIMEOUT
        )
        assert result.status is ExecutionStatus.COMPLETED
    workers = {t.name for t in threading.enumerate()} - before
    # One pool thread served all three, one after another.
    assert len([name for name in workers if "-worker-" in name]) <= 1
