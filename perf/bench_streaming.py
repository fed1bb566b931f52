"""Streaming: 2,000,000 lines of ~60 bytes to one counting receiver vs a bare reader.

Both sides keep the whole text (the engine as the result's stdout, the
baseline as a joined string) and deliver every read's lines with one blinker
send, checking that line numbers arrive in order.
"""

from __future__ import annotations

import codecs
import os
import subprocess
import sys
import threading
import time
from typing import Any

from _common import engine, make_runner
from blinker import Signal

from actors import signals
from messages import Exec, ExecutionRequest

# Each line: a 7-digit number and padding, 60 bytes with its newline.
CHILD = """
import sys
count = int(sys.argv[1])
pad = "x" * 51
out = sys.stdout.buffer
chunk = []
for i in range(count):
    chunk.append(f"{i:07d} {pad}\\n")
    if len(chunk) == 4096:
        out.write("".join(chunk).encode())
        chunk.clear()
out.write("".join(chunk).encode())
"""


class Counter:
    """Counts lines and checks that the line numbers arrive in order."""

    def __init__(self) -> None:
        self.lines = 0

    def __call__(self, _sender: Any, *, event: Any) -> None:
        lines = event.lines
        if int(lines[0][:7]) != self.lines or int(lines[-1][:7]) != self.lines + len(lines) - 1:
            raise AssertionError(f"lines out of order near line {self.lines}")
        self.lines += len(lines)


class _Batch:
    __slots__ = ("lines",)

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines


def bench_bare(loops: int, count: int) -> float:
    """A reader thread: os.read 64 KiB, incremental decode, split, one send per read."""
    total = 0.0
    for _ in range(loops):
        signal = Signal()
        counter = Counter()
        signal.connect(counter)
        kept: list[str] = []
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(count)], stdout=subprocess.PIPE, bufsize=0
        )
        assert proc.stdout is not None
        fd = proc.stdout.fileno()

        def read(fd: int = fd, kept: list[str] = kept, signal: Signal = signal) -> None:
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            partial = ""
            while data := os.read(fd, 65536):
                text = partial + decoder.decode(data)
                end = text.rfind("\n")
                if end < 0:
                    partial = text
                    continue
                lines = text[:end].split("\n")
                partial = text[end + 1 :]
                kept.extend(lines)
                signal.send(None, event=_Batch(lines))

        reader = threading.Thread(target=read)
        reader.start()
        reader.join()
        proc.wait()
        text = "\n".join(kept)
        total += time.perf_counter() - start
        proc.stdout.close()
        if counter.lines != count or len(text) != count * 60 - 1:
            raise AssertionError(f"bare reader lost lines: {counter.lines} of {count}")
    return total


def bench_engine(loops: int, count: int) -> float:
    """The engine with one receiver on ``signals.stdout`` counting lines."""
    total = 0.0
    for _ in range(loops):
        counter = Counter()
        with engine(max_output_size_bytes=count * 60 + 1024) as eng:
            signals.stdout.connect(counter, sender=eng)
            start = time.perf_counter()
            execution_id = eng.execute(
                ExecutionRequest(
                    command=Exec(program=sys.executable, args=("-c", CHILD, str(count)))
                )
            )
            result = eng.get_result(execution_id, timeout=120)
            eng.shutdown()  # drains the event thread: every line has reached the receiver
            total += time.perf_counter() - start
            signals.stdout.disconnect(counter, sender=eng)
        if counter.lines != count or len(result.stdout) != count * 60 - 1:
            raise AssertionError(f"engine lost lines: {counter.lines} of {count}")
    return total


if __name__ == "__main__":
    runner, args = make_runner(processes=4, values=2, loops=1)
    count = 20_000 if args.smoke else 2_000_000
    runner.bench_time_func("streaming-baseline", bench_bare, count, inner_loops=count)
    runner.bench_time_func("streaming-engine", bench_engine, count, inner_loops=count)
