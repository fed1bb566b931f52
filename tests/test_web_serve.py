"""serve_http in a real child process: the URL on stderr, and SIGTERM ends every process group."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx
import psutil
import pytest

from actors.web._serve import allowed_hosts_for, parse_bind

pytestmark = pytest.mark.timeout(90)

SERVE = """
import sys
from actors.web._serve import serve_http
from messages import ExecutionConfig
serve_http(ExecutionConfig.testing(), "127.0.0.1", 0, sys.argv[1], log_level="warning")
"""


def test_sigterm_ends_the_server_and_kills_every_process_group() -> None:
    token = "serve-test-token"
    sigterm_kills_everything([sys.executable, "-c", SERVE, token], token)


def test_the_cli_serve_http_serves_the_app_and_sigterm_kills_every_process_group() -> None:
    token = "cli-serve-token"
    argv = [sys.executable, "-m", "actors", "serve", "--http", "127.0.0.1:0", "--token", token]
    sigterm_kills_everything([*argv, "--no-log"], token)


def test_the_cli_refuses_a_token_without_http() -> None:
    argv = [sys.executable, "-m", "actors", "serve", "--stdio", "--token", "t", "--no-log"]
    proc = subprocess.run(
        argv, check=False, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60
    )
    assert proc.returncode == 2
    assert "--token goes with --http" in proc.stderr


def test_the_cli_refuses_a_bad_http_address_with_a_usage_error() -> None:
    argv = [sys.executable, "-m", "actors", "serve", "--http", "host:http", "--no-log"]
    proc = subprocess.run(
        argv, check=False, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60
    )
    assert proc.returncode == 2
    assert "'host:http'" in proc.stderr


def sigterm_kills_everything(argv: list[str], token: str) -> None:
    """Start a server, run ``sleep 300 & sleep 300`` through it, SIGTERM it: nothing is left."""
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    child = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stderr is not None
        seen: list[str] = []
        match = None
        while match is None and len(seen) < 20:  # uvicorn's own INFO lines may come first
            seen.append(child.stderr.readline())
            match = re.search(r"dashboard: (http://127\.0\.0\.1:(\d+)/)\?token=(\S+)", seen[-1])
        assert match, seen
        assert match.group(3) == token
        base = match.group(1)
        headers = {"Authorization": f"Bearer {token}"}
        body = {"command": {"kind": "shell", "command": "sleep 300 & sleep 300"}}
        execution_id = httpx.post(base + "api/executions", json=body, headers=headers).json()[
            "execution_id"
        ]
        deadline = time.monotonic() + 20
        while (
            httpx.get(base + f"api/executions/{execution_id}", headers=headers).json()["status"]
            != "running"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        sleepers = [p for p in psutil.Process(child.pid).children(recursive=True)]
        assert sleepers
        child.send_signal(signal.SIGTERM)
        child.wait(30)
        child.stderr.close()
        _, alive = psutil.wait_procs(sleepers, timeout=10)
        assert not alive, alive
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_bind_addresses_parse_and_pick_the_hosts_they_allow() -> None:
    assert parse_bind("8080") == ("127.0.0.1", 8080)
    assert parse_bind("0.0.0.0:80") == ("0.0.0.0", 80)
    assert parse_bind("[::1]:9000") == ("::1", 9000)
    with pytest.raises(ValueError, match="PORT"):
        parse_bind("host:http")
    assert allowed_hosts_for("0.0.0.0") is None
    hosts = allowed_hosts_for("127.0.0.1")
    assert hosts is not None
    assert "localhost" in hosts
    assert "[::1]" in (allowed_hosts_for("::1") or ())
