"""Run every benchmark of perf/ and print a table of ratios against their baselines.

    python perf/run.py            # the full suite (about 15 minutes here)
    python perf/run.py --fast     # pyperf --fast: fewer processes and values
    python perf/run.py --smoke    # tiny sizes, one value each: proves it runs (CI)

Each benchmark script writes pyperf JSON into a temporary folder (or
``--out DIR``); the table shows medians with their median absolute
deviation, the ratio of engine to baseline, the target and whether it is met.
Smoke figures are not performance data.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyperf

HERE = Path(__file__).resolve().parent
SCRIPTS = ("overhead", "throughput", "streaming", "latency", "cleanup", "scale", "sidecar")


@dataclass(frozen=True)
class Target:
    """One line of the table: how to read a pair of benchmarks and what to reach."""

    figure: str
    engine: str
    baseline: str | None
    # "time" = engine/baseline must be <= limit; "speed" = baseline/engine >= limit;
    # "absolute" = the engine's median in seconds must be <= limit; "report" = no target.
    kind: str
    limit: float


def targets(smoke: bool) -> list[Target]:
    """The targets of the performance issues, by benchmark name."""
    small, large = (1_000, 2_000) if smoke else (10_000, 100_000)
    many = 40 if smoke else 1000
    return [
        Target("overhead: one `true`", "overhead-engine", "overhead-baseline", "time", 1.25),
        Target("throughput at 8", "throughput-8-engine", "throughput-8-baseline", "speed", 0.8),
        Target("throughput at 64", "throughput-64-engine", "throughput-64-baseline", "speed", 0.8),
        Target("streaming lines/s", "streaming-engine", "streaming-baseline", "speed", 0.6),
        Target("latency p50", "latency-p50-engine", "latency-p50-baseline", "report", 0.0),
        Target("latency p99", "latency-p99-engine", "latency-p99-baseline", "time", 2.0),
        Target(
            f"cleanup of {small:,}, per evicted execution",
            f"cleanup-{small}-engine",
            None,
            "absolute",
            2e-6,
        ),
        Target(
            f"cleanup of {large:,}, per evicted execution",
            f"cleanup-{large}-engine",
            None,
            "absolute",
            2e-6,
        ),
        Target("cleanup that evicts nothing", "cleanup-empty-engine", None, "absolute", 200e-6),
        Target(
            "1,000 concurrent sleeps (wall)",
            "scale-sleeps-engine",
            "scale-sleeps-baseline",
            "absolute",
            2.5,
        ),
        # The sidecar against the library in-process: reported, no target yet.
        Target(
            "sidecar: status round trip",
            "sidecar-status-engine",
            "sidecar-status-baseline",
            "report",
            0.0,
        ),
        Target(
            f"sidecar: {many:,} `true` (per command)",
            f"sidecar-{many}-engine",
            f"sidecar-{many}-baseline",
            "report",
            0.0,
        ),
    ]


def run_scripts(out: Path, extra: list[str], only: list[str]) -> dict[str, pyperf.Benchmark]:
    """Run each script into ``out``; return every benchmark by name."""
    benchmarks: dict[str, pyperf.Benchmark] = {}
    for name in only:
        result = out / f"{name}.json"
        result.unlink(missing_ok=True)  # pyperf refuses to overwrite -o
        command = [
            sys.executable,
            str(HERE / f"bench_{name}.py"),
            "-o",
            str(result),
            "--figures",
            str(out / "figures.json"),
            *extra,
        ]
        print(f"== {name}: {' '.join(command[1:])}", flush=True)
        subprocess.run(command, check=True)
        for bench in pyperf.BenchmarkSuite.load(str(result)).get_benchmarks():
            benchmarks[bench.get_name()] = bench
    return benchmarks


def fmt(seconds: float) -> str:
    """A time with a unit that fits it."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def describe(bench: pyperf.Benchmark) -> str:
    """Median ± median absolute deviation."""
    if bench.get_nvalue() < 2:
        return fmt(bench.median())
    return f"{fmt(bench.median())} ± {fmt(bench.median_abs_dev())}"


def ratio_spread(engine: pyperf.Benchmark, baseline: pyperf.Benchmark, kind: str) -> str:
    """The range the ratio takes when both medians move by their median absolute deviation."""
    if engine.get_nvalue() < 2 or baseline.get_nvalue() < 2:
        return ""
    e, de = engine.median(), engine.median_abs_dev()
    b, db = baseline.median(), baseline.median_abs_dev()
    if kind == "speed":
        e, de, b, db = b, db, e, de
    if b - db <= 0:
        return ""
    return f" ({(e - de) / (b + db):.2f}-{(e + de) / (b - db):.2f})"


def table(benchmarks: dict[str, pyperf.Benchmark], rows: list[Target]) -> list[str]:
    """The rows of the results table as Markdown.

    The ratio is the engine's median over the baseline's (the baseline's over
    the engine's for speeds); in brackets, its range when each median moves by
    its median absolute deviation.
    """
    lines = [
        "| figure | engine | baseline | ratio (spread) | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        engine = benchmarks.get(row.engine)
        baseline = benchmarks.get(row.baseline) if row.baseline else None
        if engine is None:
            continue
        e = engine.median()
        b = baseline.median() if baseline is not None else None
        spread = ratio_spread(engine, baseline, row.kind) if baseline is not None else ""
        if row.kind == "time" and b:
            ratio, goal, met = f"{e / b:.2f}x{spread}", f"<= {row.limit}x", e / b <= row.limit
        elif row.kind == "speed" and b:
            ratio, goal, met = f"{b / e:.2f}x{spread}", f">= {row.limit}x", b / e >= row.limit
        elif row.kind == "report":
            ratio, goal, met = (f"{e / b:.2f}x{spread}" if b else "-"), "-", True
        else:
            ratio = f"{e / b:.2f}x{spread}" if b else "-"
            goal, met = f"<= {fmt(row.limit)}", e <= row.limit
        base = describe(baseline) if baseline is not None else "-"
        lines.append(
            f"| {row.figure} | {describe(engine)} | {base} | {ratio} | {goal} | "
            f"{'yes' if met else 'NO'} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the suite and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one value each")
    parser.add_argument("--fast", action="store_true", help="pass --fast to pyperf")
    parser.add_argument("--out", type=Path, help="keep the pyperf JSON files here")
    parser.add_argument("--only", nargs="+", choices=SCRIPTS, default=list(SCRIPTS))
    args = parser.parse_args(argv)
    extra = ["--quiet"]
    if args.smoke:
        extra += ["--smoke", "--debug-single-value"]
    elif args.fast:
        extra.append("--fast")
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        (out / "figures.json").unlink(missing_ok=True)
        benchmarks = run_scripts(out, extra, args.only)
        figures_path = out / "figures.json"
        figures = json.loads(figures_path.read_text()) if figures_path.exists() else {}
    print()
    if args.smoke:
        print("SMOKE RUN: tiny sizes, one value each; these are not performance figures.\n")
    print("\n".join(table(benchmarks, targets(args.smoke))))
    if figures:
        print("\n| other figure | median | values |\n|---|---|---|")
        for name, values in sorted(figures.items()):
            ordered = sorted(values)
            print(f"| {name} | {ordered[len(ordered) // 2]:.1f} | {len(values)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
