"""Shared pieces of the benchmarks: the pyperf runner, sizes, peak sampling.

Every benchmark script pairs an engine figure with a baseline measured in the
same run. ``--smoke`` shrinks every size so CI can run the whole suite in
seconds to prove it still works; smoke figures are not performance data.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyperf

from actors import ExecutionEngine
from messages import ExecutionConfig


def make_runner(
    *, processes: int, values: int, loops: int = 0, warmups: int | None = None
) -> tuple[pyperf.Runner, Any]:
    """A pyperf runner that forwards ``--smoke`` and ``--figures`` to its workers."""

    def forward(cmd: list[str], args: Any) -> None:
        if args.smoke:
            cmd.append("--smoke")
        if args.figures:
            cmd.extend(["--figures", args.figures])

    runner = pyperf.Runner(
        processes=processes,
        values=values,
        loops=loops,
        warmups=warmups,
        add_cmdline_args=forward,
    )
    runner.argparser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    runner.argparser.add_argument(
        "--figures", default="", help="JSON file for figures that are not times"
    )
    args = runner.parse_args()
    return runner, args


def engine(**overrides: Any) -> ExecutionEngine:
    """An engine as a throughput-minded app would configure it (no log files)."""
    settings: dict[str, Any] = {"enable_auto_cleanup": False, "progress_interval_ms": 0}
    return ExecutionEngine(ExecutionConfig.high_throughput(**(settings | overrides)))


def record_figure(args: Any, name: str, value: float) -> None:
    """Append one non-time figure (peak threads, RSS) to the ``--figures`` file."""
    if not args.figures:
        return
    path = Path(args.figures)
    figures: dict[str, list[float]] = json.loads(path.read_text()) if path.exists() else {}
    figures.setdefault(name, []).append(value)
    path.write_text(json.dumps(figures))


def rss_bytes() -> int:
    """This process's resident set size, from /proc."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakSampler:
    """Samples threads and RSS every few milliseconds while a block runs."""

    def __init__(self, interval: float = 0.005) -> None:
        self.peak_threads = 0
        self.peak_rss = 0
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak_threads = max(self.peak_threads, threading.active_count())
            self.peak_rss = max(self.peak_rss, rss_bytes())


def timed(func: Callable[[], None]) -> float:
    """Run ``func`` once and return its wall time in seconds."""
    start = time.perf_counter()
    func()
    return time.perf_counter() - start
