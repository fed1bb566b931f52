"""A conformance suite for launchers: every behaviour of an execution, per backend.

Subclass ``ConformanceSuite`` in a ``tests/test_*.py`` module and supply a
``launcher_factory`` fixture; see ``tests/test_conformance.py``.
"""

from ._suite import ConformanceSuite
from ._support import ConformanceEngine, EngineMaker, LauncherFactory

__all__ = ["ConformanceEngine", "ConformanceSuite", "EngineMaker", "LauncherFactory"]
