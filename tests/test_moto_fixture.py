"""The ``moto_endpoint`` fixture serves the real ``aws`` CLI."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests._moto import MotoEndpoint

# Harmless when tests/conftest.py loads the same plugin: pytest registers it once.
pytest_plugins = ["tests.conftest_aws"]


@pytest.mark.aws
def test_aws_cli_talks_to_moto(moto_endpoint: MotoEndpoint, aws_cli: str) -> None:
    result = subprocess.run(
        [aws_cli, "sts", "get-caller-identity", "--output", "json"],
        env=moto_endpoint.child_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    identity = json.loads(result.stdout)
    assert identity["Account"] == "123456789012"  # moto's fixed default account
    assert moto_endpoint.url.startswith("http://127.0.0.1:")
