"""``execution-engine run --ray ADDRESS``: the batch runs on the cluster."""

from __future__ import annotations

import pytest

from actors.cli import main
from actors.ray.testing import LocalRayHead


def test_run_with_ray_runs_the_batch_on_the_cluster_and_exits_zero(
    ray_head: LocalRayHead, capfd: pytest.CaptureFixture[str]
) -> None:
    status = main(["run", "--ray", ray_head.address, "--no-log", "echo on-the-node"])
    out, _err = capfd.readouterr()
    assert status == 0
    assert "on-the-node" in out
