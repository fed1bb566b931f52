"""``execution-engine``: run shell commands (or one AWS CLI call) through the engine.

``run`` submits every command to one ``ExecutionEngine`` and streams their
output as the engine's event-dispatch thread delivers it; the main thread only
submits, waits for the last terminal event and prints the summary. Ctrl-C
(or SIGTERM, SIGHUP) shuts the engine down, which kills every process group.
"""

from __future__ import annotations

import argparse
import math
import os
import select
import signal
import sys
from collections.abc import Callable, Sequence
from contextlib import suppress
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

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

from ._cli_output import Batch, JsonView, PlainView, Sink, TaggedView, View
from ._engine import ExecutionEngine
from .backends._groups import process_groups

__all__ = ["main"]

PROG = "execution-engine"
EXIT_USAGE = 2
_INTERRUPTS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


class UsageError(Exception):
    """A bad command line or input; shown as one line, exit status 2."""


class _Interrupts:
    """SIGINT, SIGTERM and SIGHUP while a batch runs: noted, never raised.

    An exception raised from a signal handler can land inside a lock's
    internals (seen: "release unlocked lock" out of a pykka future in the
    middle of execute()), so the handler only notes the first signal and
    writes to a pipe the main thread waits on. A second one SIGKILLs every
    process group at once instead of waiting for the kill grace.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._read, self._write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._previous: dict[int, Any] = {}
        self._previous_wakeup_fd = -1

    def __enter__(self) -> _Interrupts:
        self._previous = {signum: signal.signal(signum, self._handle) for signum in _INTERRUPTS}
        # The kernel may deliver the signal to any thread; only the main thread
        # runs Python handlers, and it may sit in select() meanwhile. With the
        # pipe as wake-up fd, the C-level handler writes to it from whichever
        # thread got the signal, so select() returns and the handler runs.
        self._previous_wakeup_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        return self

    def __exit__(self, *_: object) -> None:
        signal.set_wakeup_fd(self._previous_wakeup_fd)
        for signum, old in self._previous.items():
            signal.signal(signum, old)
        os.close(self._read)
        os.close(self._write)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
        else:
            process_groups.kill_all()
        self.wake()

    def wake(self) -> None:
        """Wake ``wait_until``; safe from any thread and from a signal handler."""
        with suppress(OSError):  # a full pipe already means "wake up"
            os.write(self._write, b"\0")

    def wait_until(self, done: Callable[[], bool]) -> None:
        """Block until ``done()`` or a signal; ``done``'s owner calls ``wake`` when it may be."""
        while self.signum is None and not done():
            select.select([self._read], [], [])
            with suppress(BlockingIOError):
                os.read(self._read, 512)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line instead of usage plus message."""

    def error(self, message: str) -> NoReturn:
        """Raise ``UsageError``; ``main`` prints it as ``execution-engine: error: ...``."""
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}")
    return value


def _seconds(text: str) -> int:
    """Seconds (a float) to whole milliseconds, at least 1."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text!r}")
    return max(1, math.ceil(value * 1000))


def _size(text: str) -> int:
    """Bytes, with an optional K, M or G suffix (powers of 1024)."""
    unit = text[-1:].upper() if text[-1:].upper() in _SIZE_UNITS else ""
    number = text[: len(text) - len(unit)]
    if not number.isdigit() or int(number) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive size like 65536 or 10M, not {text!r}")
    return int(number) * _SIZE_UNITS[unit]


def _version() -> str:
    try:
        return metadata.version("cloudops-execution-engine")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``execution-engine`` and its ``run`` and ``aws`` commands."""
    parser = _Parser(
        prog=PROG,
        description="Run commands in parallel through the execution engine.",
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(
        dest="verb", required=True, metavar="{run,aws}", parser_class=_Parser
    )
    shared = _Parser(add_help=False, allow_abbrev=False)
    shared.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help="time limit of each command; its process group is killed after it "
        "(default: the engine's default_timeout_ms, 300 s)",
    )
    shared.add_argument(
        "--max-output",
        type=_size,
        metavar="BYTES",
        help="output kept per stream of each command, e.g. 65536 or 10M; the rest is "
        "dropped with a warning line (default: 10M)",
    )
    logs = shared.add_mutually_exclusive_group()
    logs.add_argument(
        "--log-dir",
        type=Path,
        metavar="DIR",
        help="folder of the per-execution log files (default: "
        "$XDG_STATE_HOME/cloudops-execution-engine/logs)",
    )
    logs.add_argument("--no-log", action="store_true", help="write no log files")
    shared.add_argument(
        "--json",
        action="store_true",
        help="write one JSON object per event, then a summary object, and nothing else",
    )
    run = commands.add_parser(
        "run",
        parents=[shared],
        allow_abbrev=False,
        help="run shell commands in parallel",
        description="Run each COMMAND with /bin/bash -c, up to -j at a time, streaming their "
        "output tagged [N] (stderr [N!]). Exit status: 0 all completed, 1 any failed, "
        "timed out or was cancelled, 2 bad usage, 130 interrupted.",
    )
    run.add_argument(
        "-j",
        "--jobs",
        type=_positive_int,
        default=os.cpu_count() or 4,
        metavar="N",
        help="commands running at once (default: the number of CPUs, %(default)s)",
    )
    run.add_argument(
        "--file",
        metavar="FILE",
        help="read commands from FILE, one per line ('-' = stdin); blank lines and "
        "lines starting with # are skipped",
    )
    run.add_argument(
        "--exit-zero",
        action="store_true",
        help="exit 0 even when a command failed or timed out (as ruff --exit-zero); "
        "bad usage and interrupts keep their exit codes",
    )
    run.add_argument("commands", nargs="*", metavar="COMMAND", help="a shell command line")
    aws = commands.add_parser(
        "aws",
        parents=[shared],
        allow_abbrev=False,
        help="run one AWS CLI call",
        usage="%(prog)s [options] SERVICE OPERATION [ARGS...]",
        description="Run 'aws SERVICE OPERATION ARGS...' through the engine; its stdout goes "
        "to stdout, its stderr to stderr. Options this tool does not know are passed to aws; "
        "put them after '--' if they clash with one of its own. Exit status as for run.",
    )
    aws.add_argument("service", metavar="SERVICE", help="e.g. s3api")
    aws.add_argument("operation", metavar="OPERATION", help="e.g. list-buckets")
    aws.add_argument("--profile", metavar="P", help="the AWS profile")
    aws.add_argument("--region", metavar="R", help="the AWS region")
    aws.add_argument(
        "--output",
        choices=("json", "text", "table", "yaml"),
        default="json",
        help="aws's output format (default: %(default)s)",
    )
    return parser


def _read_commands(source: str) -> list[str]:
    """The commands of a batch file (or stdin for '-'): no blank lines, no # comments."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"cannot read {source}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror or exc}") from None
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _one_line(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, error['loc'])) or 'value'}: {error['msg']}"
        for error in exc.errors(include_url=False)
    )


def _requests(commands: list[Command], timeout_ms: int | None) -> list[ExecutionRequest]:
    return [ExecutionRequest(command=command, timeout_ms=timeout_ms) for command in commands]


def _config(args: argparse.Namespace, jobs: int, queued: int) -> ExecutionConfig:
    fields: dict[str, object] = {
        "max_concurrent_executions": jobs,
        "max_queued_executions": max(queued, ExecutionConfig().max_queued_executions),
    }
    if args.max_output is not None:
        fields["max_output_size_bytes"] = args.max_output
    if args.no_log:
        fields["log_dir"] = None
    elif args.log_dir is not None:
        fields["log_dir"] = args.log_dir
    try:
        return ExecutionConfig.model_validate(fields)
    except ValidationError as exc:
        raise UsageError(_one_line(exc)) from None


def _execute(
    config: ExecutionConfig, requests: list[ExecutionRequest], view: View, err: Sink
) -> int:
    """Run the batch on one engine; always shut it down; return the exit status."""
    batch = Batch(requests, view)
    with _Interrupts() as interrupts:
        batch.wake = interrupts.wake
        try:
            engine = ExecutionEngine(config, event_handler=batch)
        except OSError as exc:
            raise UsageError(f"cannot create log dir {config.log_dir}: {exc.strerror}") from None
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
            # A second interrupt during this skips the kill grace (see _Interrupts).
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


def _run(args: argparse.Namespace, out: Sink, err: Sink) -> int:
    lines = list(args.commands)
    if args.file is not None:
        lines += _read_commands(args.file)
    elif not lines:
        raise UsageError(f"nothing to run: give COMMAND... or --file (see '{PROG} run --help')")
    try:
        requests = _requests([Shell(command=line) for line in lines], args.timeout)
    except ValidationError as exc:
        raise UsageError(f"invalid command: {_one_line(exc)}") from None
    config = _config(args, args.jobs, len(requests))
    view: View
    if args.json:
        view = JsonView(out, err)
    else:
        view = TaggedView.for_terminal(out, err, total=len(requests), log_dir=config.log_dir)
    status = _execute(config, requests, view, err)
    return 0 if args.exit_zero and status == 1 else status


def _aws(args: argparse.Namespace, extra: list[str], out: Sink, err: Sink) -> int:
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
        raise UsageError(f"invalid aws command: {_one_line(exc)}") from None
    view = JsonView(out, err) if args.json else PlainView(out, err)
    return _execute(_config(args, 1, 1), requests, view, err)


def _late_commands(extra: list[str]) -> list[str]:
    """Commands given after an option (``run 'a' -j 2 'b'``), which argparse leaves over."""
    split = extra.index("--") if "--" in extra else len(extra)
    unknown = [arg for arg in extra[:split] if arg.startswith("-")]
    if unknown:
        raise UsageError(f"unrecognized arguments: {' '.join(unknown)} (see '{PROG} run --help')")
    return extra[:split] + extra[split + 1 :]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``execution-engine`` with ``argv`` (default ``sys.argv[1:]``); return its exit status."""
    parser = build_parser()
    out, err = Sink(sys.stdout.buffer), Sink(sys.stderr.buffer)
    try:
        args, extra = parser.parse_known_args(argv)
        if args.verb == "aws":
            return _aws(args, extra, out, err)
        args.commands += _late_commands(extra)
        return _run(args, out, err)
    except UsageError as exc:
        err.write(f"{PROG}: error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:  # while reading --file - from a terminal
        return 128 + signal.SIGINT
