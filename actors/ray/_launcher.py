"""The driver side: ``RayLauncher`` and the child it hands the engine's runner.

Each execution is one Ray streaming-generator task (``_node.run_child``) that
reserves ``num_cpus`` while it runs; Ray picks the node. A reader thread per
child pulls the task's frames into a small queue that ``pump`` drains on the
runner's thread, so ``wake`` can always interrupt a wait. Signals go to the
node as a zero-CPU task pinned there; ``close`` releases the task the same
way, and its ``finally`` kills the group and reaps on the node.
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import threading
from ipaddress import ip_address
from typing import Any, cast

import ray
from ray.exceptions import RayError, TaskCancelledError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from actors.backends import Child, ChildSink, LaunchSpec, StreamName

from . import _node

__all__ = ["RayLauncher"]

_log = logging.getLogger("actors.ray")

_STREAMS = (StreamName.STDOUT, StreamName.STDERR)
# Frames queued in the driver per child; beyond them the reader waits, and the
# node's task pauses after _NODE_BACKLOG unread frames (Ray's generator backpressure).
_QUEUE_FRAMES = 16
_NODE_BACKLOG = 16
# How long close() waits for a released task to end.
_CLOSE_WAIT_S = 10.0
_WAKE: tuple[Any, ...] = ("wake",)

_connection_lock = threading.Lock()
_connection_users = 0


def _is_loopback(address: str) -> bool:
    host = address.removeprefix("ray://").rpartition(":")[0] or address
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def _connect(address: str | None) -> bool:
    """Join (or start) a cluster unless this process is connected; True if we connected."""
    global _connection_users  # noqa: PLW0603 - one Ray connection per process
    with _connection_lock:
        if ray.is_initialized():
            if _connection_users:
                _connection_users += 1
                return True
            return False
        if address is None:
            ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        else:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        _connection_users = 1
        return True


def _disconnect() -> None:
    global _connection_users  # noqa: PLW0603
    with _connection_lock:
        _connection_users -= 1
        if _connection_users == 0:
            ray.shutdown()


class RayLauncher:
    """Runs each execution on a node of a Ray cluster, as a task reserving ``num_cpus``.

    One connection per process: a launcher joins the cluster unless the process
    is already connected (then it uses that connection and leaves it open).

    Args:
        address: The cluster, as ``ray.init`` takes it (``"HOST:PORT"``, ``"auto"``,
            ``"ray://HOST:10001"``); None starts or joins a local instance.
        num_cpus: The Ray CPU resource each execution reserves while it runs.

    Raises:
        ValueError: ``num_cpus`` is not a positive number, or ``address`` is a
            loopback address while Ray would replace it with the machine's own.
    """

    def __init__(self, address: str | None = None, *, num_cpus: float = 1.0) -> None:
        if isinstance(num_cpus, bool) or not isinstance(num_cpus, int | float):
            raise ValueError(f"num_cpus must be a number, got {num_cpus!r}")
        if not (num_cpus > 0 and math.isfinite(num_cpus)):
            raise ValueError(f"num_cpus must be a positive number, got {num_cpus!r}")
        if (
            address is not None
            and not ray.is_initialized()
            and _is_loopback(address)
            and _ray_rewrites_loopback()
        ):
            raise ValueError(
                f"address {address!r} is a loopback address, which Ray replaces with this "
                "machine's own address: set RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 in the "
                "environment before ray is imported (the head needs it too)"
            )
        self.address = address
        self.num_cpus = float(num_cpus)
        self._connected = _connect(address)
        self._run = ray.remote(_node.run_child).options(
            num_cpus=self.num_cpus,
            max_retries=0,
            num_returns="streaming",
            _generator_backpressure_num_objects=_NODE_BACKLOG,
        )
        self._signal = ray.remote(_node.signal_group)
        self._lock = threading.Lock()
        self._children: set[_RayChild] = set()
        self._closed = False

    @property
    def node(self) -> str | None:
        """The cluster's node when it has exactly one alive node, else None."""
        nodes: list[dict[str, Any]] = cast(Any, ray).nodes()  # untyped in Ray
        alive = [n["NodeID"] for n in nodes if n.get("Alive")]
        return alive[0] if len(alive) == 1 else None

    def spawn(self, spec: LaunchSpec) -> Child:
        """Start the child on a node; waits until Ray has scheduled it there.

        Raises:
            OSError: the child could not be started, or the cluster failed us first.
        """
        if self._closed:
            raise OSError("the RayLauncher is closed")
        try:
            gen: Any = self._run.remote(spec)
            first: _node.Frame = tuple(ray.get(next(gen)))
        except (RayError, StopIteration) as exc:
            raise OSError(f"Ray could not start the child: {exc}") from exc
        if first[0] == "spawn_error":
            raise OSError(first[1], first[2])
        child = _RayChild(self, gen, first)
        with self._lock:
            self._children.add(child)
        return child

    def _signal_node(self, node: str, pid: int, starttime: str | None, signum: int) -> None:
        """Send ``signum`` to ``pid``'s group on ``node`` (a task pinned there, not awaited)."""
        strategy = NodeAffinitySchedulingStrategy(node, soft=False)
        task = self._signal.options(num_cpus=0, max_retries=0, scheduling_strategy=strategy)
        task.remote(pid, starttime, signum)

    def _forget(self, child: _RayChild) -> None:
        """Drop a closed child from the launcher's set."""
        with self._lock:
            self._children.discard(child)

    def close(self) -> None:
        """Close every child still open, then leave the cluster if this launcher joined it."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            children = list(self._children)
        for child in children:
            child.close()
        if self._connected:
            _disconnect()


def _ray_rewrites_loopback() -> bool:
    from ray._private import ray_constants  # noqa: PLC0415 - private, read only here

    return bool(ray_constants.ENABLE_RAY_CLUSTER)


class _RayChild:
    """A child running in a Ray task; frames arrive through a reader thread."""

    def __init__(self, launcher: RayLauncher, gen: Any, started: _node.Frame) -> None:
        self._launcher = launcher
        self._gen = gen
        self._pid: int = started[1]
        self._starttime: str | None = started[2]
        self._node: str = started[3]
        self.worker_pid: int = started[4]
        """The Ray worker process that runs the child's task (tests kill it)."""
        self._frames: queue.Queue[tuple[Any, ...]] = queue.Queue(_QUEUE_FRAMES)
        self._closing = threading.Event()
        self._ended = False
        self._abandoned = False
        self._exited = False
        self._eofs = 0
        self._reader = threading.Thread(
            target=self._read, name=f"ray-child-{self._node[:8]}-{self._pid}", daemon=True
        )
        self._reader.start()

    @property
    def pid(self) -> int:
        return self._pid

    @property
    def node(self) -> str | None:
        return self._node

    def _read(self) -> None:
        try:
            for ref in self._gen:
                self._put(ray.get(ref))
            self._put(("end",))
        except TaskCancelledError:
            self._put(("end",))
        except RayError as exc:
            self._put(("lost", f"{type(exc).__name__}: {exc}"))
        except Exception as exc:  # the connection itself broke
            _log.exception("reading the frames of child %s on %s failed", self._pid, self._node)
            self._put(("lost", f"{type(exc).__name__}: {exc}"))

    def _put(self, frame: tuple[Any, ...]) -> None:
        # Once closing, frames are dropped but the generator is still read to
        # its end: that end is the sign the node killed the group and reaped.
        while not self._closing.is_set():
            try:
                self._frames.put(frame, timeout=0.1)
                break
            except queue.Full:
                continue

    def pump(self, sink: ChildSink, timeout: float | None) -> None:
        if self._ended:
            return
        try:
            frame = self._frames.get(timeout=timeout)
        except queue.Empty:
            return
        while not self._deliver(frame, sink):
            try:
                frame = self._frames.get_nowait()
            except queue.Empty:
                return

    def _deliver(self, frame: tuple[Any, ...], sink: ChildSink) -> bool:
        """Hand one frame to ``sink``; True once no frame will follow."""
        match frame[0]:
            case "out" if not self._abandoned:
                sink.on_output(_STREAMS[frame[1]], frame[2])
            case "eof":
                self._eofs += 1
                if not self._abandoned:
                    sink.on_eof(_STREAMS[frame[1]])
            case "exit":
                self._exited = True
                sink.on_exit(frame[1])
            case "lost":
                self._ended = True
                sink.on_lost(frame[1])
            case "end":
                self._ended = True
                if not (self._exited and self._eofs == len(_STREAMS)):
                    sink.on_lost("the task on the node ended before its child did")
        return self._ended

    def wake(self) -> None:
        with contextlib.suppress(queue.Full):  # a full queue wakes pump anyway
            self._frames.put_nowait(_WAKE)

    def signal_group(self, signum: int) -> None:
        if self._closing.is_set() or self._ended:
            return
        self._launcher._signal_node(self._node, self._pid, self._starttime, signum)

    def abandon(self) -> None:
        self._abandoned = True

    def close(self) -> None:
        if self._closing.is_set():
            return
        self._closing.set()
        finished = self._exited and self._eofs == len(_STREAMS)
        if self._reader.is_alive() and not finished:
            # Released, the task kills the group and reaps on the node; the
            # reader ends when the task has. A finished child's task ends by itself.
            with contextlib.suppress(RayError):
                self._launcher._signal_node(self._node, self._pid, self._starttime, 0)
        self._reader.join(_CLOSE_WAIT_S)
        self._launcher._forget(self)
