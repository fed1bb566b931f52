"""The command line of ``execution-engine``: its parser and the checks of what it was given."""

from __future__ import annotations

import argparse
import math
import os
import sys
from importlib import metadata
from pathlib import Path
from typing import NoReturn

from pydantic import ValidationError

from actors.backends import Launcher
from messages import ExecutionConfig

from ._argtypes import positive_int
from ._history import add_history_commands, add_history_options, history_path

__all__ = [
    "EXIT_USAGE",
    "PROG",
    "UsageError",
    "build_parser",
    "engine_config",
    "late_commands",
    "one_line",
    "read_commands",
]

PROG = "execution-engine"
EXIT_USAGE = 2
_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


class UsageError(Exception):
    """A bad command line or input; shown as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line instead of usage plus message."""

    def error(self, message: str) -> NoReturn:
        """Raise ``UsageError``; ``main`` prints it as ``execution-engine: error: ...``."""
        raise UsageError(f"{message} (see '{self.prog} --help')")


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
    """The parser of ``execution-engine`` and its ``run``, ``aws``, ``serve`` and ``schema``."""
    parser = _Parser(
        prog=PROG,
        description="Run commands in parallel through the execution engine.",
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(
        dest="verb",
        required=True,
        metavar="{run,aws,serve,schema,history,show}",
        parser_class=_Parser,
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
    shared.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="run every command on a node of this Ray cluster (the `ray` extra): "
        "HOST:PORT of its head, 'auto', or ray://HOST:10001",
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
    add_history_options(shared)
    json_output = _Parser(add_help=False, allow_abbrev=False)
    json_output.add_argument(
        "--json",
        action="store_true",
        help="write one JSON object per event, then a summary object, and nothing else",
    )
    run = commands.add_parser(
        "run",
        parents=[shared, json_output],
        allow_abbrev=False,
        help="run shell commands in parallel",
        description="Run each COMMAND with /bin/bash -c, up to -j at a time, streaming their "
        "output tagged [N] (stderr [N!]). Exit status: 0 all completed, 1 any failed, "
        "timed out or was cancelled, 2 bad usage, 130 interrupted.",
    )
    _add_jobs(run)
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
        parents=[shared, json_output],
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
    serve = commands.add_parser(
        "serve",
        parents=[shared],
        allow_abbrev=False,
        help="serve the engine to a front end (JSON-RPC over stdio, or HTTP)",
        description="Serve one engine to a front end: --stdio speaks JSON-RPC 2.0 on stdin "
        "and stdout, one JSON object per line, and ends on the shutdown method, end of "
        "stdin, SIGTERM or SIGINT; --http serves the web app and dashboard (the `web` "
        "extra) until SIGTERM or SIGINT. Either way every process group is killed at the end.",
    )
    where = serve.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--stdio",
        action="store_true",
        help="JSON-RPC 2.0 on stdin/stdout, diagnostics on stderr",
    )
    where.add_argument(
        "--http",
        metavar="[HOST:]PORT",
        help="the web app on HOST (default 127.0.0.1) and PORT; the URL with the token is "
        "printed on stderr",
    )
    serve.add_argument(
        "--token",
        metavar="T",
        help="with --http: the token every request must carry (default: a random one)",
    )
    _add_jobs(serve)
    commands.add_parser(
        "schema",
        allow_abbrev=False,
        help="print the sidecar's OpenRPC document",
        description="Write the OpenRPC document of 'serve --stdio' (what rpc.discover "
        "answers) to stdout.",
    )
    add_history_commands(commands)
    return parser


def _add_jobs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-j",
        "--jobs",
        type=positive_int,
        default=os.cpu_count() or 4,
        metavar="N",
        help="commands running at once (default: the number of CPUs, %(default)s)",
    )


def read_commands(source: str) -> list[str]:
    """The commands of a batch file (or stdin for '-'): no blank lines, no # comments."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"cannot read {source}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror or exc}") from None
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def one_line(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, error['loc'])) or 'value'}: {error['msg']}"
        for error in exc.errors(include_url=False)
    )


def engine_config(
    args: argparse.Namespace, jobs: int, queued: int, *, default_timeout_ms: int | None = None
) -> ExecutionConfig:
    fields: dict[str, object] = {
        "max_concurrent_executions": jobs,
        "max_queued_executions": max(queued, ExecutionConfig().max_queued_executions),
    }
    if default_timeout_ms is not None:
        fields["default_timeout_ms"] = default_timeout_ms
    if args.max_output is not None:
        fields["max_output_size_bytes"] = args.max_output
    if args.no_log:
        fields["log_dir"] = None
    elif args.log_dir is not None:
        fields["log_dir"] = args.log_dir
    fields["history_path"] = history_path(args)
    try:
        return ExecutionConfig.model_validate(fields)
    except ValidationError as exc:
        raise UsageError(one_line(exc)) from None


def engine_launcher(args: argparse.Namespace) -> Launcher | None:
    """A ``RayLauncher`` joined to ``--ray ADDRESS``, or None for local children."""
    if args.ray is None:
        return None
    try:
        from actors.ray import RayLauncher  # noqa: PLC0415 - the optional `ray` extra
    except ImportError:
        raise UsageError(
            "--ray needs the ray extra: pip install 'cloudops-execution-engine[ray]'"
        ) from None
    try:
        return RayLauncher(args.ray)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except ConnectionError as exc:
        raise UsageError(f"cannot join the Ray cluster at --ray {args.ray}: {exc}") from None


def close_launcher(launcher: Launcher | None) -> None:
    """Close a launcher no engine took over (an engine closes its own at shutdown)."""
    close = getattr(launcher, "close", None)
    if close is not None:
        close()


def late_commands(extra: list[str]) -> list[str]:
    """Commands given after an option (``run 'a' -j 2 'b'``), which argparse leaves over."""
    split = extra.index("--") if "--" in extra else len(extra)
    unknown = [arg for arg in extra[:split] if arg.startswith("-")]
    if unknown:
        raise UsageError(f"unrecognized arguments: {' '.join(unknown)} (see '{PROG} run --help')")
    return extra[:split] + extra[split + 1 :]
