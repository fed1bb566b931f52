"""pytest plugin: the session-scoped ``moto_endpoint`` fixture.

Load it from ``tests/conftest.py`` with ``pytest_plugins = ["tests.conftest_aws"]``
(or from a test module, as ``tests/test_moto_fixture.py`` does).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from tests._moto import MotoEndpoint, find_program, run_moto_server

__all__ = ["MotoEndpoint", "aws_cli", "moto_endpoint"]


def _require(name: str) -> str:
    path = find_program(name)
    if path is None:
        reason = (
            f"`{name}` not found next to {os.path.dirname(sys.executable)} nor on PATH; "
            "install the test extra: pip install -e '.[test]'"
        )
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(reason + " (CI=true: the test extra must provide it)", pytrace=False)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def aws_cli() -> str:
    """Path of the ``aws`` program (awscli v1)."""
    return _require("aws")


@pytest.fixture(scope="session")
def moto_endpoint(aws_cli: str) -> Iterator[MotoEndpoint]:
    """A ``moto_server`` on a free 127.0.0.1 port for the whole session, stopped at teardown."""
    with run_moto_server(_require("moto_server")) as endpoint:
        yield endpoint
