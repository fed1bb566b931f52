"""The benchmark suite still runs: a smoke run with tiny sizes, not timed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


# CI runs only this smoke mode; it takes about 20 s here.
@pytest.mark.timeout(300)
def test_the_benchmark_suite_runs_and_prints_every_figure(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "perf" / "run.py"), "--smoke", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=280,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    for figure in (
        "overhead",
        "throughput at 8",
        "throughput at 64",
        "streaming",
        "latency p50",
        "latency p99",
        "per evicted execution",
        "cleanup that evicts nothing",
        "ratio (spread)",
        "concurrent sleeps",
        "scale-peak-threads",
        "retained-rss-mb",
        "sidecar: status round trip",
    ):
        assert figure in proc.stdout
