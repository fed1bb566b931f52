"""A local Ray head for the whole session, on loopback, and the driver's connection to it.

The environment is set before anything imports ``ray``: Ray reads
``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER`` once, at import, and without it the
driver swaps 127.0.0.1 for the machine's address and waits for ever. Without
the ``ray`` extra (part of the test extra), nothing here is collected, except
under ``CI=true``, where that is an error.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Iterator

import pytest

# Before anything imports ray (importing actors.ray does); LocalRayHead checks it.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"

# Starting the head and warming its workers took 20-90 s on a loaded 2-core
# machine (measured), inside the first test's setup.
RAY_TEST_TIMEOUT_S = 240


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run tests/ray last, each with the time a head start may take.

    Last: the driver's connection lives until the session ends, and Ray's
    background threads open and close sockets that other tests' leak checks
    would count.
    """
    here = os.path.dirname(__file__)
    ours = [item for item in items if str(item.path).startswith(here)]
    for item in ours:
        item.add_marker(pytest.mark.timeout(RAY_TEST_TIMEOUT_S))
    items[:] = [item for item in items if not str(item.path).startswith(here)] + ours


if importlib.util.find_spec("ray") is None:
    if os.environ.get("CI") == "true":  # CI must run these, never skip them silently
        raise RuntimeError("CI=true but ray is not installed: pip install -e '.[test,dev]'")
    collect_ignore_glob = ["test_*.py"]
else:
    import ray

    from actors.ray.testing import LocalRayHead

    # As many Ray workers as the tests run tasks at once (20 executions and their
    # signals): started once, kept idle by the head, so no test sees the driver
    # open connections to new workers as its own leak.
    WARM_WORKERS = 24

    def _nap() -> None:
        import time

        time.sleep(1.0)

    @pytest.fixture(scope="session")
    def ray_head() -> Iterator[LocalRayHead]:
        """A 2-CPU head without dashboard, connected; every process of it killed at the end."""
        with LocalRayHead(num_cpus=2) as head:
            ray.init(address=head.address, log_to_driver=False, logging_level=logging.WARNING)
            try:
                nap = ray.remote(_nap).options(num_cpus=0)
                ray.get([nap.remote() for _ in range(WARM_WORKERS)], timeout=300)
                yield head
            finally:
                ray.shutdown()
