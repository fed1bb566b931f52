"""Every example runs as is, as the README says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_example(name: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(tmp_path))
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / name)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_basic_example_streams_output_and_reports_each_outcome(tmp_path: Path) -> None:
    proc = run_example("basic.py", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "tick 3" in proc.stdout
    for outcome in ("completed", "failed", "timed_out"):
        assert outcome in proc.stdout
    assert "exited with code 3" in proc.stdout
