"""Submit a few commands, stream their output, wait for the results.

Run it from the repository root: ``python examples/basic.py``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from actors import ExecutionEngine, signals
from messages import Exec, ExecutionConfig, ExecutionRequest, Shell, Stdout


def print_lines(engine: ExecutionEngine, *, event: Stdout) -> None:
    """Print each output line as it arrives, tagged with its execution."""
    tag = str(event.execution_id)[:8]
    for line in event.lines:
        print(f"[{tag}] {line}", flush=True)


def main() -> int:
    """Run three commands at once and report how each ended."""
    config = ExecutionConfig.development(log_dir=Path(tempfile.gettempdir()) / "engine-example")
    signals.stdout.connect(print_lines)
    with ExecutionEngine(config) as engine:
        ids = [
            engine.execute(
                ExecutionRequest(
                    command=Shell(command="for i in 1 2 3; do echo tick $i; sleep 0.1; done")
                )
            ),
            engine.execute(ExecutionRequest(command=Exec(program="uname", args=("-sr",)))),
            engine.execute(ExecutionRequest(command=Shell(command="echo about to fail; exit 3"))),
            engine.execute(ExecutionRequest(command=Shell(command="sleep 30"), timeout_ms=500)),
        ]
        print()
        for execution_id in ids:
            result = engine.get_result(execution_id, timeout=30)
            print(
                f"{str(execution_id)[:8]}  {result.status.value:<10} exit={result.exit_code}"
                f"  {result.duration_ms:>5} ms  {result.error or ''}"
            )
        print(f"\nlogs in {config.log_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
