"""Run a local ``moto_server`` for tests that drive the real ``aws`` CLI (awscli v1).

Not a test module: ``tests/conftest_aws.py`` wraps :func:`run_moto_server` in the
session-scoped ``moto_endpoint`` fixture.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

STARTUP_TIMEOUT_S = 30.0
POLL_INTERVAL_S = 0.05
STOP_TIMEOUT_S = 5.0
_START_ATTEMPTS = 3  # a new free port per attempt, in case another process grabs ours


@dataclass(frozen=True)
class MotoEndpoint:
    """A running moto server.

    ``env`` holds only the variables an ``aws`` child needs to talk to this server and to
    never read the user's ``~/.aws``; :meth:`child_env` merges them into a full environment.
    """

    url: str
    env: dict[str, str]

    def child_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """``base`` (default ``os.environ``) without any ``AWS_*`` variable, plus ``env``."""
        source = os.environ if base is None else base
        merged = {k: v for k, v in source.items() if not k.startswith("AWS_")}
        merged.update(self.env)
        return merged


def find_program(name: str) -> str | None:
    """Find ``name`` next to ``sys.executable`` (the venv's bin dir) first, then on PATH."""
    candidate = Path(sys.executable).parent / name  # not resolved: keep the venv's bin dir
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which(name)


def free_tcp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _accepts_connections(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=POLL_INTERVAL_S):
            return True
    except OSError:
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT_S)


def _log_tail(log_path: Path, limit: int = 4000) -> str:
    try:
        return log_path.read_text(errors="replace")[-limit:]
    except OSError:
        return "<no log>"


def aws_env(url: str, config_dir: Path) -> dict[str, str]:
    """Variables that point an ``aws`` (v1) child at ``url`` and away from ``~/.aws``."""
    empty = config_dir / "empty"
    empty.touch()
    return {
        "AWS_ENDPOINT_URL": url,  # honoured by awscli v1 (checked with 1.46.3)
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_PAGER": "",
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


@contextlib.contextmanager
def run_moto_server(
    moto_server: str,
    *,
    host: str = "127.0.0.1",
    startup_timeout: float = STARTUP_TIMEOUT_S,
) -> Iterator[MotoEndpoint]:
    """Start ``moto_server -H host -p PORT``, wait until it accepts TCP connections, yield
    its endpoint, and always stop it (terminate, wait 5 s, kill) on exit."""
    with tempfile.TemporaryDirectory(prefix="moto-") as tmp:
        tmp_dir = Path(tmp)
        log_path = tmp_dir / "moto_server.log"
        failures: list[str] = []
        for _attempt in range(_START_ATTEMPTS):
            port = free_tcp_port(host)
            url = f"http://{host}:{port}"
            env = aws_env(url, tmp_dir)
            child_env = MotoEndpoint(url, env).child_env()
            with log_path.open("ab") as log:
                proc = subprocess.Popen(
                    [moto_server, "-H", host, "-p", str(port)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=child_env,
                    cwd=tmp_dir,
                )
            try:
                deadline = time.monotonic() + startup_timeout
                while proc.poll() is None and time.monotonic() < deadline:
                    if _accepts_connections(host, port):
                        break
                    time.sleep(POLL_INTERVAL_S)
                else:
                    # Exited early (e.g. port taken) or never listened before the deadline.
                    code = proc.poll()
                    failures.append(
                        f"port {port}: "
                        + ("exit code " + str(code) if code is not None else "startup timed out")
                    )
                    if code is None:
                        break  # a hung server will not do better on another port
                    continue
                yield MotoEndpoint(url=url, env=env)
                return
            finally:
                _stop(proc)
        raise RuntimeError(
            f"moto_server did not start ({'; '.join(failures)}); log:\n{_log_tail(log_path)}"
        )
