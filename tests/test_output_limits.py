"""Output caps through the engine: ``max_output_size_bytes`` per stream, with real children."""

from __future__ import annotations

import random
import stat
import string
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from actors import ExecutionEngine
from actors.testing import EventRecorder
from messages import Exec, ExecutionResult, ExecutionStatus, Failed, Stdout
from tests._processes import running_with
from tests.conftest import EngineFactory, py, request

# Generous bounds: the machine has 2 noisy cores.
RESULT_TIMEOUT = 45.0
MiB = 1024 * 1024
TRUNCATE = "truncate_with_warning"
FAIL = "fail_execution"
SPILL = "stream_to_file"


def run(engine: ExecutionEngine, command: Exec, **fields: Any) -> ExecutionResult:
    """Execute ``command`` and wait for its result."""
    return engine.get_result(engine.execute(request(command, **fields)), timeout=RESULT_TIMEOUT)


def writes(data: bytes, stream: str = "stdout") -> Exec:
    """A child writing exactly ``data`` (raw bytes) to ``stream``."""
    return py(f"import sys; sys.{stream}.buffer.write({data!r})")


def numbered(count: int) -> Exec:
    """A child writing the lines ``0`` to ``count - 1``."""
    return py(f"import sys\nw = sys.stdout.buffer.write\nfor i in range({count}): w(b'%d\\n' % i)")


def lines_of(data: bytes) -> list[str]:
    """The lines of ``data`` as the engine splits them: ``\\n`` breaks, ``\\r\\n`` one break."""
    text = data.decode("utf-8", "replace").replace("\r\n", "\n")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def spill_lines(path: Path) -> list[str]:
    """The lines of a spill file (it ends each line with ``\\n``)."""
    text = path.read_bytes().decode("utf-8")
    assert text.endswith("\n")
    return text[:-1].split("\n")


def is_warning(line: str) -> bool:
    return line.startswith("[output truncated")


def streamed_stdout(recorder: EventRecorder, result: ExecutionResult) -> list[str]:
    """Every line the ``Stdout`` events of ``result``'s execution delivered, in order."""
    recorder.wait_terminal(result.execution_id)
    return [
        line
        for event in recorder.of(result.execution_id)
        if isinstance(event, Stdout)
        for line in event.lines
    ]


@contextmanager
def peak_rss() -> Iterator[list[int]]:
    """Sample this process's RSS in a background thread; yields ``[before, peak]``."""
    me = psutil.Process()
    figures = [me.memory_info().rss] * 2
    stop = threading.Event()

    def sample() -> None:
        # A sampler, not a synchronisation: the wait is its sampling period.
        while not stop.wait(0.005):
            figures[1] = max(figures[1], me.memory_info().rss)

    sampler = threading.Thread(target=sample, name="rss-sampler", daemon=True)
    sampler.start()
    try:
        yield figures
    finally:
        stop.set()
        sampler.join(5)
        figures[1] = max(figures[1], me.memory_info().rss)


# -- truncate_with_warning -----------------------------------------------------------------------


def test_truncation_keeps_the_head_bytes_up_to_the_limit_plus_one_warning_line(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(max_output_size_bytes=1024, oversized_output_strategy=TRUNCATE)
    data = b"".join(b"%06d\n" % i for i in range(1000))
    result = run(engine, writes(data))
    assert result.status is ExecutionStatus.COMPLETED
    *head, warning = result.stdout.split("\n")
    # 1024 bytes end inside a line: its first bytes are kept as the last head line.
    assert head == data[:1024].decode().split("\n")
    assert is_warning(warning)
    assert "max_output_size_bytes=1024" in warning
    assert [line for line in head if is_warning(line)] == []


def test_truncation_sets_stdout_truncated_and_counts_the_bytes_beyond_the_limit(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(max_output_size_bytes=1024, oversized_output_strategy=TRUNCATE)
    data = b"".join(b"%06d\n" % i for i in range(1000))
    result = run(engine, writes(data))
    assert result.stdout_truncated
    assert result.stdout_dropped_bytes == len(data) - 1024
    assert not result.stderr_truncated
    assert result.stderr_dropped_bytes == 0


def test_a_50_mib_flood_under_a_1_kib_limit_completes_unblocked(
    make_engine: EngineFactory,
) -> None:
    size = 50 * MiB
    code = (
        "import sys\nline = b'x' * 99 + b'\\n'\nw = sys.stdout.buffer.write\n"
        f"for _ in range({size // 100}): w(line)\nw(b'x' * {size % 100})"
    )
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", code], stdout=subprocess.DEVNULL, check=True, timeout=60)
    baseline = time.monotonic() - started

    engine = make_engine(max_output_size_bytes=1024, oversized_output_strategy=TRUNCATE)
    started = time.monotonic()
    result = run(engine, py(code))
    elapsed = time.monotonic() - started

    assert result.status is ExecutionStatus.COMPLETED
    assert result.stdout_dropped_bytes == size - 1024
    assert elapsed < 10 * baseline + 2, f"engine {elapsed:.2f}s, /dev/null {baseline:.2f}s"


FLOOD_5_MIB = py(
    "import sys\nw = sys.stdout.buffer.write\nfor _ in range(52429): w(b'y' * 99 + b'\\n')"
)


def test_after_the_cap_no_more_lines_reach_observers(make_engine: EngineFactory) -> None:
    engine = make_engine(max_output_size_bytes=1024, oversized_output_strategy=TRUNCATE)
    with EventRecorder(engine) as recorder:
        result = run(engine, FLOOD_5_MIB)
        assert streamed_stdout(recorder, result) == result.stdout.split("\n")
    # 10 whole lines and 24 bytes of the next fit in 1024 bytes; then the warning.
    assert len(result.stdout.split("\n")) == 12


def test_after_the_cap_no_more_lines_reach_the_log_file(make_engine: EngineFactory) -> None:
    engine = make_engine(max_output_size_bytes=1024, oversized_output_strategy=TRUNCATE)
    result = run(engine, FLOOD_5_MIB)
    log = engine.read_logs(result.execution_id).splitlines()
    logged = [line.split(" | ", 1)[1] for line in log if " stdout | " in line]
    assert logged == result.stdout.split("\n")
    assert len(log) < 20


# -- fail_execution ------------------------------------------------------------------------------


def endless_writer(marker: str) -> Exec:
    """A child writing lines for ever; ``marker`` finds it among the processes."""
    return py("import sys\nw = sys.stdout.buffer.write\nwhile True: w(b'z' * 99 + b'\\n')", marker)


def test_fail_execution_fails_without_exit_code_naming_the_limit(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(max_output_size_bytes=64 * 1024, oversized_output_strategy=FAIL)
    result = run(engine, endless_writer(f"marker-{uuid.uuid4()}"))
    assert result.status is ExecutionStatus.FAILED
    assert not result.success
    assert result.exit_code is None
    assert result.error is not None
    assert "max_output_size_bytes" in result.error
    assert "stdout" in result.error


def test_fail_execution_emits_failed_with_reason_oversized_output(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(max_output_size_bytes=64 * 1024, oversized_output_strategy=FAIL)
    with EventRecorder(engine) as recorder:
        result = run(engine, endless_writer(f"marker-{uuid.uuid4()}"))
        event = recorder.wait_terminal(result.execution_id)
    assert isinstance(event, Failed)
    assert event.reason == "oversized_output"
    assert event.exit_code is None
    assert "max_output_size_bytes" in event.message


def test_fail_execution_kills_the_writing_child(make_engine: EngineFactory) -> None:
    engine = make_engine(max_output_size_bytes=64 * 1024, oversized_output_strategy=FAIL)
    marker = f"marker-{uuid.uuid4()}"
    result = run(engine, endless_writer(marker))
    assert result.pid is not None
    assert not psutil.pid_exists(result.pid)
    assert running_with(marker) == []


# -- stream_to_file ------------------------------------------------------------------------------


def test_stream_to_file_spills_to_a_private_file_next_to_the_log(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(max_output_size_bytes=4096, oversized_output_strategy=SPILL)
    result = run(engine, numbered(20_000))
    assert result.status is ExecutionStatus.COMPLETED
    spill = result.stdout_spill_path
    assert spill is not None and spill.is_file()
    assert result.log_path is not None
    assert spill.parent == result.log_path.parent
    assert stat.S_IMODE(spill.stat().st_mode) == 0o600
    assert result.stderr_spill_path is None


def test_stream_to_file_head_and_spill_file_hold_every_line_in_order(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(max_output_size_bytes=4096, oversized_output_strategy=SPILL)
    result = run(engine, numbered(20_000))
    assert result.stdout_spill_path is not None
    head = result.stdout.split("\n")
    assert 0 < len(head) < 20_000
    assert head + spill_lines(result.stdout_spill_path) == [str(i) for i in range(20_000)]
    assert not result.stdout_truncated
    assert result.stdout_dropped_bytes == 0


# -- stderr has its own cap ----------------------------------------------------------------------


def test_each_stream_under_the_limit_is_whole_even_when_both_together_exceed_it(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(max_output_size_bytes=1024, oversized_output_strategy=TRUNCATE)
    command = py(
        "import sys\nsys.stdout.buffer.write(b'o' * 999 + b'\\n')\n"
        "sys.stderr.buffer.write(b'e' * 999 + b'\\n')"
    )
    result = run(engine, command)
    assert result.stdout == "o" * 999
    assert result.stderr == "e" * 999
    assert not result.stdout_truncated
    assert not result.stderr_truncated


def test_stderr_beyond_the_limit_is_truncated_while_stdout_stays_whole(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(max_output_size_bytes=1024, oversized_output_strategy=TRUNCATE)
    command = py(
        "import sys\nsys.stdout.buffer.write(b'o' * 1000 + b'\\n')\n"
        "sys.stderr.buffer.write(b'e' * 5000 + b'\\n')"
    )
    result = run(engine, command)
    assert result.stdout == "o" * 1000
    assert not result.stdout_truncated
    assert result.stderr_truncated
    assert result.stderr_dropped_bytes == 5001 - 1024
    first, warning = result.stderr.split("\n")
    assert first == "e" * 1024
    assert is_warning(warning)
    assert "stderr" in warning


# -- pathological output -------------------------------------------------------------------------


def test_a_utf8_character_cut_by_the_limit_is_replaced_not_fatal(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(max_output_size_bytes=1024, oversized_output_strategy=TRUNCATE)
    result = run(engine, writes(b"a" * 1023 + "é".encode() * 100 + b"\n"))
    assert result.status is ExecutionStatus.COMPLETED
    first, warning = result.stdout.split("\n")
    assert first == "a" * 1023 + "\ufffd"
    assert is_warning(warning)


def test_invalid_utf8_in_spilled_output_is_replaced_in_the_spill_file(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(max_output_size_bytes=64, oversized_output_strategy=SPILL)
    data = b"".join(b"ok %02d \xff\xfe end\n" % i for i in range(20))
    result = run(engine, writes(data))
    assert result.status is ExecutionStatus.COMPLETED
    assert result.stdout_spill_path is not None
    # spill_lines decodes strictly: the file holds valid UTF-8.
    spilled = spill_lines(result.stdout_spill_path)
    assert result.stdout.split("\n") + spilled == lines_of(data)
    assert spilled[-1] == "ok 19 \ufffd\ufffd end"


def test_the_last_line_without_newline_reaches_the_spill_file(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(max_output_size_bytes=64, oversized_output_strategy=SPILL)
    result = run(engine, writes(b"line\n" * 30 + b"the tail"))
    assert result.stdout_spill_path is not None
    assert spill_lines(result.stdout_spill_path)[-1] == "the tail"


def test_crlf_endings_are_one_break_in_the_head_and_the_spill_file(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(max_output_size_bytes=64, oversized_output_strategy=SPILL)
    data = b"".join(b"row %02d\r\n" % i for i in range(30))
    result = run(engine, writes(data))
    assert result.stdout_spill_path is not None
    head, spilled = result.stdout.split("\n"), spill_lines(result.stdout_spill_path)
    assert head + spilled == [f"row {i:02d}" for i in range(30)]
    assert head and spilled


BINARY = (
    "import random, sys\n"
    "sys.stdout.buffer.write(random.Random(7).randbytes({size}) + b'\\0' * 1000 + b'\\n')"
)


def test_random_binary_output_with_nul_bytes_arrives_decoded_with_replacement(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(max_output_size_bytes=4 * MiB)
    result = run(engine, py(BINARY.format(size=MiB)))
    assert result.status is ExecutionStatus.COMPLETED
    data = random.Random(7).randbytes(MiB) + b"\0" * 1000 + b"\n"
    assert result.stdout == "\n".join(lines_of(data))
    assert not result.stdout_truncated


def test_random_binary_output_beyond_the_limit_is_truncated_not_fatal(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(max_output_size_bytes=MiB, oversized_output_strategy=TRUNCATE)
    result = run(engine, py(BINARY.format(size=3 * MiB)))
    assert result.status is ExecutionStatus.COMPLETED
    assert result.stdout_truncated
    assert result.stdout_dropped_bytes == 3 * MiB + 1001 - MiB
    assert is_warning(result.stdout.split("\n")[-1])


LONG_LINE = (
    "import string, sys\n"
    "size = {size}\n"
    "text = (string.ascii_lowercase * (size // 26 + 1))[:size]\n"
    "sys.stdout.buffer.write(text.encode())"
)


def test_a_20_mib_line_without_newline_under_a_1_mib_limit_keeps_memory_bounded(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(max_output_size_bytes=MiB, oversized_output_strategy=TRUNCATE)
    with EventRecorder(engine) as recorder, peak_rss() as rss:
        result = run(engine, py(LONG_LINE.format(size=20 * MiB)))
        recorder.wait_terminal(result.execution_id)
    assert result.status is ExecutionStatus.COMPLETED
    assert result.stdout_dropped_bytes == 19 * MiB
    growth = rss[1] - rss[0]
    assert growth < 64 * MiB, f"RSS grew by {growth / MiB:.1f} MiB"


def test_a_20_mib_line_without_newline_is_split_at_max_line_length(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(max_output_size_bytes=64 * MiB, max_line_length=MiB)
    size = 20 * MiB
    result = run(engine, py(LONG_LINE.format(size=size)))
    assert result.status is ExecutionStatus.COMPLETED
    lines = result.stdout.split("\n")
    assert 19 <= len(lines) <= 21
    assert max(map(len, lines)) <= MiB
    assert "".join(lines) == (string.ascii_lowercase * (size // 26 + 1))[:size]
