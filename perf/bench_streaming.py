"""Streaming: 1,000,000 lines of 60 bytes to one counting receiver vs a bare reader.

The baseline is what a user would write by hand: one reader thread,
``os.read(fd, 65536)``, an incremental UTF-8 decoder, split into lines, all
text kept, nothing else per read. The engine side has one ``signals.stdout``
receiver counting lines; the result keeps the whole stdout; no log file.
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

from actors import signals
from messages import Exec, ExecutionRequest

# 60-byte lines written in 4,096-line blocks from one precomputed buffer, so the
# child costs next to nothing and the reading side is what is measured.
CHILD = """
import sys
count = int(sys.argv[1])
line = b"0123456789" * 5 + b"abcdefghi\\n"
block = line * 4096
out = sys.stdout.buffer
for _ in range(count // 4096):
    out.write(block)
out.write(line * (count % 4096))
out.flush()
"""


def child(count: int) -> list[str]:
    """The child's argv."""
    return [sys.executable, "-c", CHILD, str(count)]


def check(lines: int, text: str, count: int, who: str) -> None:
    """Every line arrived and the whole text was kept."""
    if lines != count or len(text) != count * 60 - 1 or not text.startswith("0123456789"):
        raise AssertionError(f"{who} lost lines: {lines} of {count}")


def bench_bare(loops: int, count: int) -> float:
    """One reader thread: os.read 64 KiB, incremental decode, split, keep the text."""
    total = 0.0
    for _ in range(loops):
        kept: list[str] = []
        start = time.perf_counter()
        proc = subprocess.Popen(child(count), stdout=subprocess.PIPE, bufsize=0)
        assert proc.stdout is not None
        fd = proc.stdout.fileno()

        def read(fd: int = fd, kept: list[str] = kept) -> None:
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            partial = ""
            while data := os.read(fd, 65536):
                text = partial + decoder.decode(data)
                end = text.rfind("\n")
                if end < 0:
                    partial = text
                    continue
                kept.extend(text[:end].split("\n"))
                partial = text[end + 1 :]
            if partial:
                kept.append(partial)

        reader = threading.Thread(target=read)
        reader.start()
        reader.join()
        proc.wait()
        text = "\n".join(kept)
        total += time.perf_counter() - start
        proc.stdout.close()
        check(len(kept), text, count, "the bare reader")
    return total


class Counter:
    """A ``signals.stdout`` receiver that counts lines."""

    def __init__(self) -> None:
        self.lines = 0

    def __call__(self, _sender: Any, *, event: Any) -> None:
        self.lines += len(event.lines)


def bench_engine(loops: int, count: int) -> float:
    """The engine with one receiver on ``signals.stdout`` counting lines."""
    total = 0.0
    for _ in range(loops):
        counter = Counter()
        with engine(max_output_size_bytes=count * 60 + 1024) as eng:
            signals.stdout.connect(counter, sender=eng)
            start = time.perf_counter()
            program, *args = child(count)
            execution_id = eng.execute(
                ExecutionRequest(command=Exec(program=program, args=tuple(args)))
            )
            result = eng.get_result(execution_id, timeout=120)
            eng.shutdown()  # drains the event thread: every line has reached the receiver
            total += time.perf_counter() - start
            signals.stdout.disconnect(counter, sender=eng)
        check(counter.lines, result.stdout, count, "the engine")
    return total


if __name__ == "__main__":
    runner, args = make_runner(processes=4, values=3, loops=1)
    count = 20_000 if args.smoke else 1_000_000
    runner.bench_time_func("streaming-baseline", bench_bare, count, inner_loops=count)
    runner.bench_time_func("streaming-engine", bench_engine, count, inner_loops=count)
