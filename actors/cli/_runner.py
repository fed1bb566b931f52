"""``run`` and ``aws``: submit a batch to one engine, show its events, wait for its end.

The main thread only submits, waits for the last terminal event and prints the
summary; the engine's event-dispatch thread shows the output as it arrives.
Ctrl-C (or SIGTERM, SIGHUP) shuts the engine down, which kills every process
group; a second one kills them at once.
"""

from __future__ import annotations

import argparse
import signal
from collections.abc import Callable

from pydantic import ValidationError

from messages import (
    AwsCli,
    Command,
    ExecutionConfig,
    ExecutionError,
    ExecutionRequest,
    ExecutionStatus,
    Shell,
)

from ._args import (
    PROG,
    UsageError,
    close_launcher,
    engine_config,
    engine_launcher,
    one_line,
    read_commands,
)
from ._batch import Batch
from ._history import engine_for_cli
from ._interrupts import Interrupts
from ._views import JsonView, PlainView, Sink, TaggedView, View

__all__ = ["run_aws", "run_batch"]


def _warn(err: Sink) -> Callable[[str], None]:
    return lambda text: err.write(f"{PROG}: warning: {text}\n")


def _requests(commands: list[Command], timeout_ms: int | None) -> list[ExecutionRequest]:
    return [ExecutionRequest(command=command, timeout_ms=timeout_ms) for command in commands]


def _execute(
    args: argparse.Namespace,
    config: ExecutionConfig,
    requests: list[ExecutionRequest],
    view: View,
    err: Sink,
) -> int:
    """Run the batch on one engine; always shut it down; return the exit status."""
    batch = Batch(requests, view)
    # Before Interrupts: a Ray driver installs its own SIGTERM handler on connecting.
    launcher = engine_launcher(args)
    with Interrupts() as interrupts:
        batch.wake = interrupts.wake
        try:
            engine = engine_for_cli(config, _warn(err), event_handler=batch, launcher=launcher)
        except OSError as exc:
            close_launcher(launcher)
            raise UsageError(f"cannot create log dir {config.log_dir}: {exc.strerror}") from None
        except BaseException:
            close_launcher(launcher)
            raise
        interrupts.on_second = engine.kill_all
        try:
            for request in requests:
                if interrupts.signum is not None:
                    break
                engine.execute(request)
            interrupts.wait_until(batch.ended)
            if interrupts.signum is not None:
                name = signal.Signals(interrupts.signum).name
                err.write(
                    f"\n{PROG}: {name}: cancelling every execution and killing its processes\n"
                )
        except ExecutionError as exc:
            raise UsageError(str(exc)) from None
        finally:
            # A second interrupt during this skips the kill grace (see Interrupts).
            engine.shutdown()
        signum = interrupts.signum
    rows = list(batch.rows.values())
    if signum is None:
        status = batch.exit_status()
    else:
        status = 128 + signum
        for row in rows:
            if not row.status.is_terminal:
                row.status, row.error = ExecutionStatus.CANCELLED, "not run: interrupted"
    view.finish(rows, status)
    return status


def run_batch(args: argparse.Namespace, view_out: Sink, err: Sink) -> int:
    """``execution-engine run``: every COMMAND (and --file's) with bash, -j at a time."""
    lines = list(args.commands)
    if args.file is not None:
        lines += read_commands(args.file)
    elif not lines:
        raise UsageError(f"nothing to run: give COMMAND... or --file (see '{PROG} run --help')")
    try:
        requests = _requests([Shell(command=line) for line in lines], args.timeout)
    except ValidationError as exc:
        raise UsageError(f"invalid command: {one_line(exc)}") from None
    config = engine_config(args, args.jobs, len(requests))
    view: View
    if args.json:
        view = JsonView(view_out, err)
    else:
        view = TaggedView.for_terminal(view_out, err, total=len(requests), log_dir=config.log_dir)
    status = _execute(args, config, requests, view, err)
    return 0 if args.exit_zero and status == 1 else status


def run_aws(args: argparse.Namespace, extra: list[str], out: Sink, err: Sink) -> int:
    """``execution-engine aws``: one AWS CLI call, its output passed through."""
    try:
        command = AwsCli(
            service=args.service,
            operation=args.operation,
            args=tuple(extra),
            profile=args.profile,
            region=args.region,
            output=args.output,
        )
        requests = _requests([command], args.timeout)
    except ValidationError as exc:
        raise UsageError(f"invalid aws command: {one_line(exc)}") from None
    view = JsonView(out, err) if args.json else PlainView(out, err)
    return _execute(args, engine_config(args, 1, 1), requests, view, err)
