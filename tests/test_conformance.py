"""The launcher conformance suite, run against every launcher this project ships or fakes."""

from __future__ import annotations

import pytest

from actors.backends import LocalLauncher
from tests._helper_launcher import HelperProcessLauncher
from tests.conformance import ConformanceSuite, LauncherFactory

LAUNCHERS: dict[str, LauncherFactory] = {
    "local": LocalLauncher,
    # Children in a separate helper process over a pipe, as on a remote node.
    "helper": HelperProcessLauncher,
}
"""Each launcher the suite runs against, by test id."""


@pytest.fixture(params=sorted(LAUNCHERS))
def launcher_factory(request: pytest.FixtureRequest) -> LauncherFactory:
    """Makes new launchers of one backend, each test run once per backend."""
    return LAUNCHERS[request.param]


class TestLauncherConformance(ConformanceSuite):
    """Every behaviour of an execution, for each launcher in ``LAUNCHERS``."""
