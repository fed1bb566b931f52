"""The whole conformance suite as one class a backend's test module subclasses."""

from __future__ import annotations

from ._activity import Activity
from ._commands import CommandKinds, ExitStatus
from ._ends import Cancelling, Leftovers, Timeouts
from ._io import Inputs, OutputLines
from ._lifecycle import Lifecycle
from ._limits import OutputCaps, Redaction
from ._load import Load
from ._nodes import Nodes
from ._races import Races

__all__ = ["ConformanceSuite"]


class ConformanceSuite(
    CommandKinds,
    ExitStatus,
    OutputLines,
    Inputs,
    Timeouts,
    Cancelling,
    Leftovers,
    OutputCaps,
    Redaction,
    Lifecycle,
    Load,
    Activity,
    Nodes,
    Races,
):
    """Every behaviour of an execution, run against the launcher under test.

    A backend's test module subclasses it as ``Test<Backend>...`` and gives it a
    ``launcher_factory`` fixture (a callable making a new launcher), either in
    the class or at module level::

        @pytest.fixture
        def launcher_factory() -> LauncherFactory:
            return RayLauncher

        class TestRayLauncherConformance(ConformanceSuite):
            pass
    """
