"""A real third-party client: examples/sidecar_client.mjs with the npm package json-rpc-2.0."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests._sidecar import ROOT

EXAMPLES = ROOT / "examples"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def node_or_skip() -> str:
    """The node program; a skip outside CI when it (or the npm package) is missing."""
    node = shutil.which("node")
    if node is None:
        if IN_CI:
            pytest.fail("node is missing, and under CI=true the Node client test must run")
        pytest.skip("node is not installed (install Node 20 to run the Node sidecar client)")
    if not (EXAMPLES / "node_modules" / "json-rpc-2.0").is_dir():
        if IN_CI:
            pytest.fail("examples/node_modules is missing: .ci/run runs `npm ci` in examples/")
        pytest.skip("run `npm ci` in examples/ first (installs json-rpc-2.0)")
    return node


def test_the_node_client_runs_a_command_and_prints_its_events_and_result() -> None:
    node = node_or_skip()
    env = os.environ | {"PYTHON": sys.executable, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [node, "sidecar_client.mjs", "echo from node"],
        cwd=EXAMPLES,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    types = [line.split()[2] for line in lines if line.startswith("event ")]
    assert types[0] == "started"
    assert types[-1] == "completed"
    result = json.loads(next(line for line in lines if line.startswith("result "))[7:])
    assert (result["status"], result["stdout"]) == ("completed", "from node")
    assert "error -32602 ValidationError" in lines
    assert lines[-1] == "sidecar exited 0"
