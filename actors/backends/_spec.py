"""Turning a request into a ``LaunchSpec``: argv, environment, working dir, stdin."""

from __future__ import annotations

import os

from messages import AwsCli, Exec, ExecutionConfig, ExecutionRequest, Script, Shell

from ._seam import LaunchSpec

__all__ = ["build_launch_spec"]

_POSIX_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox"})


def build_launch_spec(request: ExecutionRequest, config: ExecutionConfig) -> LaunchSpec:
    """Turn a request into argv, environment rule, working dir and stdin bytes."""
    command = request.command
    match command:
        case Shell():
            argv: tuple[str, ...] = (command.shell, "-c", command.command)
        case Exec():
            argv = (command.program, *command.args)
        case Script():
            argv = (command.interpreter, "-c", command.content, *_script_args(command))
        case AwsCli():
            argv = ("aws", *command.argv_tail())
    overrides = dict(request.env)
    if isinstance(command, AwsCli) and "AWS_PAGER" not in overrides:
        # The CLI pipes long output through a pager, which waits for a terminal
        # for ever; only the request itself may ask for one.
        overrides["AWS_PAGER"] = ""
    return LaunchSpec(
        argv=argv,
        cwd=request.working_dir,
        stdin=None if request.stdin is None else request.stdin.encode("utf-8"),
        inherit_env=config.inherit_env,
        env_overrides=overrides,
    )


def _script_args(script: Script) -> tuple[str, ...]:
    # A POSIX shell given `-c TEXT ARG...` makes the first ARG $0, not $1;
    # the script's own name goes there so its args are $1, $2... as in a file.
    # Other interpreters (python -c) already see their args from argv[1] on.
    name = os.path.basename(script.interpreter)
    if name.rstrip("0123456789.") in _POSIX_SHELLS:
        return (name, *script.args)
    return script.args
