"""How a child is started and stopped: the one seam a remote backend would replace.

Every child runs in a session (and process group) of its own, so a timeout or
a cancel can kill everything it started with one ``killpg``, and the
terminal's Ctrl-C never reaches it behind the engine's back.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from messages import AwsCli, Exec, ExecutionConfig, ExecutionRequest, Script, Shell

__all__ = ["Child", "LaunchSpec", "Launcher", "LocalLauncher", "build_launch_spec"]

_MINIMAL_ENV = ("PATH", "HOME", "LANG")
_POSIX_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox"})


@dataclass(frozen=True, slots=True)
class LaunchSpec:
    """Everything needed to start one child."""

    argv: tuple[str, ...]
    env: dict[str, str] | None
    """The child's whole environment; None inherits this process's as it is."""
    cwd: Path | None
    stdin: bytes | None


def build_launch_spec(request: ExecutionRequest, config: ExecutionConfig) -> LaunchSpec:
    """Turn a request into argv, environment, working dir and stdin bytes."""
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
    aws = isinstance(command, AwsCli)
    if config.inherit_env and not request.env and not aws:
        # Popen passes our own environ straight through, without encoding
        # every variable again (measured: the largest cost of a spawn after fork).
        env = None
    elif config.inherit_env:
        env = dict(os.environ)
    else:
        env = {name: os.environ[name] for name in _MINIMAL_ENV if name in os.environ}
    if env is not None:
        env.update(request.env)
    if env is not None and aws and "AWS_PAGER" not in request.env:
        # The CLI pipes long output through a pager, which waits for a terminal
        # for ever; only the request itself may ask for one.
        env["AWS_PAGER"] = ""
    stdin = None if request.stdin is None else request.stdin.encode("utf-8")
    return LaunchSpec(argv=argv, env=env, cwd=request.working_dir, stdin=stdin)


def _script_args(script: Script) -> tuple[str, ...]:
    # A POSIX shell given `-c TEXT ARG...` makes the first ARG $0, not $1;
    # the script's own name goes there so its args are $1, $2... as in a file.
    # Other interpreters (python -c) already see their args from argv[1] on.
    name = os.path.basename(script.interpreter)
    if name.rstrip("0123456789.") in _POSIX_SHELLS:
        return (name, *script.args)
    return script.args


class Child(Protocol):
    """A started child as the runner sees it: file descriptors and signals."""

    @property
    def pid(self) -> int:
        """The main process's id."""

    @property
    def stdout_fd(self) -> int:
        """Read end of the child's stdout."""

    @property
    def stderr_fd(self) -> int:
        """Read end of the child's stderr."""

    @property
    def stdin_fd(self) -> int | None:
        """Write end of the child's stdin, or None when it reads /dev/null."""

    @property
    def exit_fd(self) -> int | None:
        """An fd that becomes readable when the main process exits, if the OS has one."""

    def has_exited(self) -> bool:
        """True once the main process has exited; it stays unreaped until ``wait``."""

    def signal_group(self, signum: int) -> None:
        """Send ``signum`` to the whole process group; a gone group is not an error."""

    def wait(self) -> int:
        """Reap the main process and return its status (negative for a signal)."""

    def close_stdin(self) -> None:
        """Close the write end of stdin."""

    def close(self) -> None:
        """Close every fd the child still holds open in this process."""


class Launcher(Protocol):
    """Starts children; raises ``OSError`` when a child cannot be started."""

    def spawn(self, spec: LaunchSpec) -> Child:
        """Start a child in a process group of its own."""


class _LocalChild:
    """A ``subprocess.Popen`` child in its own session, with a pidfd when available."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        self._proc = proc
        self._stdout = proc.stdout
        self._stderr = proc.stderr
        self._exit_fd: int | None = None
        if hasattr(os, "pidfd_open"):
            try:
                self._exit_fd = os.pidfd_open(proc.pid)
            except OSError:  # kernels before 5.3: the runner polls instead
                self._exit_fd = None

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def stdout_fd(self) -> int:
        return self._stdout.fileno()

    @property
    def stderr_fd(self) -> int:
        return self._stderr.fileno()

    @property
    def stdin_fd(self) -> int | None:
        return self._proc.stdin.fileno() if self._proc.stdin is not None else None

    @property
    def exit_fd(self) -> int | None:
        return self._exit_fd

    def has_exited(self) -> bool:
        # WNOWAIT leaves the zombie in place: the group id stays reserved until
        # the final killpg, so that kill can never reach a recycled pid.
        try:
            info = os.waitid(os.P_PID, self._proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        return info is not None

    def signal_group(self, signum: int) -> None:
        # The group id is the main pid (start_new_session). While the main process
        # is unreaped its pid cannot be reused, so this never hits a stranger.
        try:
            os.killpg(self._proc.pid, signum)
        except ProcessLookupError:
            pass
        except PermissionError:  # a member changed uid; the rest were still signalled
            pass

    def wait(self) -> int:
        return self._proc.wait()

    def close_stdin(self) -> None:
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self._proc.stdin.close()

    def close(self) -> None:
        self.close_stdin()
        self._stdout.close()
        self._stderr.close()
        if self._exit_fd is not None:
            os.close(self._exit_fd)
            self._exit_fd = None


class LocalLauncher:
    """Runs children on this machine with ``subprocess.Popen``."""

    def spawn(self, spec: LaunchSpec) -> Child:
        """Start the child; never ``preexec_fn``, which forces the slow fork path."""
        proc = subprocess.Popen(
            spec.argv,
            stdin=subprocess.DEVNULL if spec.stdin is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=spec.env,
            cwd=spec.cwd,
            bufsize=0,
            close_fds=True,
            start_new_session=True,
        )
        if proc.stdin is not None:
            os.set_blocking(proc.stdin.fileno(), False)
        return _LocalChild(proc)


def describe_exit(status: int) -> str:
    """Say how a process ended, from a ``Popen.returncode``."""
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = f"signal {-status}"
        return f"was killed by {name}"
    return f"exited with code {status}"
