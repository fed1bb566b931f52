"""``main``: parse the command line and hand it to its verb."""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence

from actors.backends import Launcher
from messages import ErrorInfo, ExecutionConfig, ExecutionError

from ._args import (
    EXIT_USAGE,
    PROG,
    UsageError,
    build_parser,
    close_launcher,
    engine_config,
    engine_launcher,
    late_commands,
)
from ._history import run_history, run_show
from ._runner import run_aws, run_batch
from ._views import Sink

__all__ = ["main"]


def serve_http_verb(
    config: ExecutionConfig, bind: str, token: str | None, launcher: Launcher | None = None
) -> int:
    """``serve --http``: the web app on uvicorn until SIGINT or SIGTERM."""
    try:
        return _serve_http(config, bind, token, launcher)
    except UsageError:
        close_launcher(launcher)
        raise


def _serve_http(
    config: ExecutionConfig, bind: str, token: str | None, launcher: Launcher | None
) -> int:
    try:
        # Imported here: the CLI works without the `web` extra.
        from actors.web._serve import parse_bind, serve_http  # noqa: PLC0415
    except ImportError as exc:
        raise UsageError(
            f"serve --http needs the web extra (pip install 'cloudops-execution-engine[web]'): "
            f"{exc}"
        ) from None
    try:
        host, port = parse_bind(bind)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    try:
        serve_http(config, host, port, token, launcher=launcher)
    except ExecutionError as exc:  # the history file is another engine's, or not a history
        raise UsageError(str(exc)) from None
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``execution-engine`` with ``argv`` (default ``sys.argv[1:]``); return its exit status."""
    parser = build_parser()
    out, err = Sink(sys.stdout.buffer), Sink(sys.stderr.buffer)
    json_mode = False
    try:
        args, extra = parser.parse_known_args(argv)
        json_mode = bool(getattr(args, "json", False))
        if args.verb in ("history", "show"):
            if extra:
                raise UsageError(f"unrecognized arguments: {' '.join(extra)}")
            verb = run_history if args.verb == "history" else run_show
            return verb(args, sys.stdout, sys.stderr)
        if args.verb == "aws":
            return run_aws(args, extra, out, err)
        if args.verb in ("serve", "schema"):
            if extra:
                raise UsageError(f"unrecognized arguments: {' '.join(extra)}")
            # Imported here: `run` need not load the sidecar.
            from actors.sidecar import serve_stdio, write_schema  # noqa: PLC0415

            if args.verb == "schema":
                return write_schema(out)
            config = engine_config(args, args.jobs, 0, default_timeout_ms=args.timeout)
            if args.http is None and args.token is not None:
                raise UsageError("--token goes with --http")
            launcher = engine_launcher(args)
            if args.http is not None:
                return serve_http_verb(config, args.http, args.token, launcher)
            return serve_stdio(config, launcher=launcher)
        args.commands += late_commands(extra)
        return run_batch(args, out, err)
    except UsageError as exc:
        err.write(f"{PROG}: error: {exc}\n")
        if json_mode:
            out.write(ErrorInfo(kind="UsageError", message=str(exc)).model_dump_json() + "\n")
        return EXIT_USAGE
    except KeyboardInterrupt:  # while reading --file - from a terminal
        return 128 + signal.SIGINT
