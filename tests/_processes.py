"""Finding processes and waiting for them to go, for tests that check nothing is left behind."""

from __future__ import annotations

import os
import select
import time
from collections.abc import Iterable

import psutil

__all__ = ["running_with", "wait_gone"]


def wait_gone(pids: Iterable[int], timeout: float) -> list[int]:
    """Wait until every pid has exited (a zombie counts as exited); return those still running.

    A pidfd becomes readable when its process exits, whoever its parent is, so
    this waits on an event rather than polling.
    """
    fds: dict[int, int] = {}
    for pid in pids:
        try:
            fds[os.pidfd_open(pid)] = pid
        except ProcessLookupError:
            continue
    try:
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN)
        pending = set(fds)
        deadline = time.monotonic() + timeout
        while pending and (left := deadline - time.monotonic()) > 0:
            for fd, _event in poller.poll(left * 1000):
                pending.discard(fd)
                poller.unregister(fd)
        return sorted(fds[fd] for fd in pending)
    finally:
        for fd in fds:
            os.close(fd)


def running_with(marker: str) -> list[psutil.Process]:
    """Live processes whose command line contains ``marker``; zombies count as gone."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        if proc.pid == os.getpid() or proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if marker in " ".join(proc.info["cmdline"] or ()):
            found.append(proc)
    return found
