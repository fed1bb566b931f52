"""StreamCollector and Redactor: bytes of one pipe to redacted, capped lines."""

from __future__ import annotations

import itertools
import os
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from actors._streams import Redactor, StreamCollector
from messages import OversizedOutputStrategy, Stderr, Stdout

TRUNCATE = OversizedOutputStrategy.TRUNCATE_WITH_WARNING
FAIL = OversizedOutputStrategy.FAIL_EXECUTION
SPILL = OversizedOutputStrategy.STREAM_TO_FILE
BIG = 1 << 20


def collector(
    *,
    name: str = "stdout",
    limit: int = BIG,
    strategy: OversizedOutputStrategy = TRUNCATE,
    max_line_length: int = BIG,
    secrets: tuple[str, ...] = (),
    spill: Path | None = None,
) -> StreamCollector:
    """A collector built the way ``actors._worker`` builds one."""
    return StreamCollector(
        name,
        limit=limit,
        strategy=strategy,
        max_line_length=max_line_length,
        redactor=Redactor(secrets),
        spill_path=lambda: spill,
    )


def feed_all(stream: StreamCollector, *chunks: bytes) -> list[str]:
    """Feed each chunk, then finish; return every line the calls returned."""
    lines: list[str] = []
    for chunk in chunks:
        lines += stream.feed(chunk)
    return lines + stream.finish()


def reference_lines(data: bytes) -> list[str]:
    """Lines of ``data`` decoded at once: split on ``\\n``, ``\\r\\n`` one break."""
    text = data.decode("utf-8", "replace").replace("\r\n", "\n")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    elif lines[-1].endswith("\r"):
        # The collector also ends a last unterminated line at a trailing "\r".
        lines[-1] = lines[-1][:-1]
    return lines


def spill_lines(path: Path) -> list[str]:
    """The lines of a spill file, split on ``\\n`` only."""
    text = path.read_bytes().decode("utf-8")
    assert text.endswith("\n")
    return text[:-1].split("\n")


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


# --- lines ------------------------------------------------------------------


def test_a_feed_returns_the_lines_it_completed() -> None:
    stream = collector()
    assert stream.feed(b"one\ntwo\nthr") == ["one", "two"]
    assert stream.feed(b"ee\n") == ["three"]
    assert stream.lines == ["one", "two", "three"]


def test_empty_lines_are_kept() -> None:
    assert feed_all(collector(), b"a\n\n\nb\n") == ["a", "", "", "b"]


def test_crlf_counts_as_one_line_break() -> None:
    assert feed_all(collector(), b"a\r\nb\r\n") == ["a", "b"]


def test_crlf_split_across_two_feeds_counts_as_one_line_break() -> None:
    stream = collector()
    assert stream.feed(b"a\r") == []
    assert stream.feed(b"\nb\n") == ["a", "b"]
    assert stream.finish() == []


def test_a_lone_carriage_return_inside_a_line_is_kept() -> None:
    assert feed_all(collector(), b"50%\r100%\n") == ["50%\r100%"]


def test_the_last_line_without_a_newline_is_kept_by_finish() -> None:
    stream = collector()
    assert stream.feed(b"first\nlast") == ["first"]
    assert stream.finish() == ["last"]
    assert stream.lines == ["first", "last"]


def test_finish_after_a_trailing_newline_adds_no_empty_line() -> None:
    stream = collector()
    stream.feed(b"only\n")
    assert stream.finish() == []
    assert stream.text() == "only"


def test_no_output_gives_no_lines() -> None:
    stream = collector()
    assert stream.finish() == []
    assert stream.text() == ""


def test_text_joins_the_kept_lines_with_newlines() -> None:
    stream = collector()
    feed_all(stream, b"a\r\nb\nc")
    assert stream.text() == "a\nb\nc"


def test_a_utf8_character_split_across_two_feeds_decodes_whole() -> None:
    encoded = "café €\n".encode()
    cut = encoded.index(b"\xe2") + 1
    assert feed_all(collector(), encoded[:cut], encoded[cut:]) == ["café €"]


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    assert feed_all(collector(), b"a\xffb\n\xc3(\n") == ["a\ufffdb", "\ufffd("]


def test_a_truncated_utf8_sequence_at_the_end_is_replaced() -> None:
    assert feed_all(collector(), b"ok\n\xe2\x82") == ["ok", "\ufffd"]


def test_bytes_read_counts_every_byte_fed() -> None:
    stream = collector(limit=4)
    feed_all(stream, b"abc\n", b"defgh\n")
    assert stream.bytes_read == 10


def test_the_stream_name_picks_its_event_type() -> None:
    assert collector(name="stdout").event_type is Stdout
    assert collector(name="stderr").event_type is Stderr


# --- truncate_with_warning --------------------------------------------------


def test_truncation_keeps_the_head_bytes_up_to_the_limit_plus_one_warning() -> None:
    data = b"abc\ndefgh\nijk\n"
    stream = collector(limit=6)
    lines = feed_all(stream, data)
    assert "\n".join(stream.lines[:-1]).encode() == data[:6]
    assert stream.lines[-1].startswith("[output truncated")
    assert lines == stream.lines


def test_the_truncation_warning_names_the_stream_and_the_limit() -> None:
    stream = collector(name="stderr", limit=3)
    feed_all(stream, b"abcdef\n")
    assert "stderr" in stream.lines[-1]
    assert "3" in stream.lines[-1]


def test_truncation_sets_truncated_and_overflowed() -> None:
    stream = collector(limit=3)
    feed_all(stream, b"abcdef\n")
    assert stream.truncated
    assert stream.overflowed


def test_truncation_counts_the_dropped_bytes() -> None:
    stream = collector(limit=6)
    feed_all(stream, b"abc\ndefgh\n", b"more\n", b"tail")
    assert stream.dropped_bytes == 4 + 5 + 4


def test_after_truncation_later_feeds_return_nothing() -> None:
    stream = collector(limit=4)
    stream.feed(b"abc\ndef\n")
    assert stream.feed(b"ghi\n") == []
    assert stream.feed(b"jkl") == []
    assert stream.finish() == []


def test_truncation_adds_exactly_one_warning_line() -> None:
    stream = collector(limit=2)
    for _ in range(10):
        stream.feed(b"xxxx\n")
    stream.finish()
    assert sum(line.startswith("[output truncated") for line in stream.lines) == 1


def test_output_exactly_at_the_limit_is_not_truncated() -> None:
    stream = collector(limit=8)
    assert feed_all(stream, b"abc\n", b"def\n") == ["abc", "def"]
    assert not stream.truncated
    assert stream.dropped_bytes == 0


def test_the_head_of_a_multi_feed_stream_is_cut_at_the_limit() -> None:
    stream = collector(limit=10)
    feed_all(stream, b"0123\n", b"5678\nabcd\n")
    assert stream.lines[:-1] == ["0123", "5678"]


# --- fail_execution ---------------------------------------------------------


def test_fail_execution_sets_overflowed_without_a_warning_line() -> None:
    stream = collector(limit=4, strategy=FAIL)
    feed_all(stream, b"abc\ndef\n")
    assert stream.overflowed
    assert not stream.truncated
    assert stream.lines == ["abc"]


def test_fail_execution_drops_and_counts_the_rest() -> None:
    stream = collector(limit=4, strategy=FAIL)
    stream.feed(b"abc\ndef\n")
    assert stream.feed(b"ghi\n") == []
    assert stream.finish() == []
    assert stream.dropped_bytes == 8


# --- stream_to_file ---------------------------------------------------------


def test_stream_to_file_keeps_nothing_lost_when_the_limit_ends_a_line(tmp_path: Path) -> None:
    spill = tmp_path / "out.spill"
    all_lines = [f"line {i}" for i in range(100)]
    data = "".join(line + "\n" for line in all_lines).encode()
    limit = len("".join(line + "\n" for line in all_lines[:10]))
    stream = collector(limit=limit, strategy=SPILL, spill=spill)
    feed_all(stream, *(data[i : i + 37] for i in range(0, len(data), 37)))
    assert stream.lines == all_lines[:10]
    assert stream.lines + spill_lines(spill) == all_lines


def test_stream_to_file_keeps_nothing_lost_when_the_limit_cuts_a_line(tmp_path: Path) -> None:
    spill = tmp_path / "out.spill"
    stream = collector(limit=6, strategy=SPILL, spill=spill)
    feed_all(stream, b"abc\ndefgh\nij\n")
    assert stream.lines + spill_lines(spill) == ["abc", "defgh", "ij"]


def test_stream_to_file_keeps_a_character_that_straddles_the_limit(tmp_path: Path) -> None:
    spill = tmp_path / "out.spill"
    data = "ab€cd\n".encode()
    stream = collector(limit=3, strategy=SPILL, spill=spill)
    feed_all(stream, data)
    assert "".join(stream.lines + spill_lines(spill)) == "ab€cd"


def test_stream_to_file_records_the_spill_path(tmp_path: Path) -> None:
    spill = tmp_path / "out.spill"
    stream = collector(limit=2, strategy=SPILL, spill=spill)
    feed_all(stream, b"ab\ncd\n")
    assert stream.spill_path == spill
    assert not stream.truncated


def test_the_spill_file_is_private_to_the_user(tmp_path: Path) -> None:
    spill = tmp_path / "out.spill"
    feed_all(collector(limit=2, strategy=SPILL, spill=spill), b"ab\ncd\n")
    assert os.stat(spill).st_mode & 0o777 == 0o600


def test_the_spill_file_gets_the_last_line_without_newline(tmp_path: Path) -> None:
    spill = tmp_path / "out.spill"
    feed_all(collector(limit=3, strategy=SPILL, spill=spill), b"ab\n", b"cd\nef")
    assert spill_lines(spill) == ["cd", "ef"]


def test_stream_to_file_returns_the_spilled_lines_to_the_caller(tmp_path: Path) -> None:
    stream = collector(limit=3, strategy=SPILL, spill=tmp_path / "out.spill")
    assert feed_all(stream, b"ab\n", b"cd\n", b"ef\n") == ["ab", "cd", "ef"]


def test_output_within_the_limit_creates_no_spill_file(tmp_path: Path) -> None:
    spill = tmp_path / "out.spill"
    stream = collector(limit=100, strategy=SPILL, spill=spill)
    feed_all(stream, b"ab\ncd\n")
    assert stream.spill_path is None
    assert not spill.exists()


def test_close_releases_the_spill_file_when_finish_never_runs(tmp_path: Path) -> None:
    spill = tmp_path / "out.spill"
    stream = collector(limit=3, strategy=SPILL, spill=spill)
    stream.feed(b"ab\ncd\nef\n")
    stream.close()
    stream.close()
    assert spill_lines(spill) == ["cd", "ef"]


# --- long lines -------------------------------------------------------------


def test_a_long_line_without_newline_is_split_at_max_line_length() -> None:
    stream = collector(max_line_length=10)
    lines = feed_all(stream, *([b"x" * 7] * 5))
    assert lines == ["x" * 10, "x" * 10, "x" * 10, "x" * 5]


def test_a_long_line_keeps_every_character_across_its_pieces() -> None:
    stream = collector(max_line_length=64)
    text = "".join(chr(ord("a") + i % 26) for i in range(1000))
    lines = feed_all(stream, *(text[i : i + 50].encode() for i in range(0, 1000, 50)))
    assert "".join(lines) == text
    assert all(len(line) <= 64 for line in lines)


def test_the_partial_line_buffer_stays_bounded() -> None:
    secret = "topsecret"
    stream = collector(max_line_length=32, secrets=(secret,))
    bound = 32 + len(secret)
    for _ in range(1000):
        stream.feed(b"y" * 13)
        # White-box: the unterminated line is the only buffer that could grow.
        assert len(stream._partial) <= bound


# --- redaction --------------------------------------------------------------


def test_the_redactor_replaces_each_secret() -> None:
    assert Redactor(("pw1", "key")).__call__("pw1 and key and pw1") == "*** and *** and ***"


def test_the_redactor_masks_a_secret_containing_another_as_a_whole() -> None:
    assert Redactor(("abc", "abcdef")).__call__("xabcdefx") == "x***x"


def test_the_redactor_without_secrets_changes_nothing() -> None:
    redact = Redactor(())
    assert redact("anything ***") == "anything ***"
    assert redact.longest == 0


def test_a_secret_in_a_line_is_replaced() -> None:
    stream = collector(secrets=("hunter2",))
    assert feed_all(stream, b"password=hunter2\n") == ["password=***"]
    assert stream.lines == ["password=***"]


def test_a_secret_split_across_two_feeds_is_replaced() -> None:
    assert feed_all(collector(secrets=("hunter2",)), b"pw=hun", b"ter2 ok\n") == ["pw=*** ok"]


def test_a_secret_in_the_last_line_without_newline_is_replaced() -> None:
    assert feed_all(collector(secrets=("hunter2",)), b"pw=hunter2") == ["pw=***"]


def test_a_secret_split_across_a_long_line_cut_is_replaced() -> None:
    secret = "SECRETVALUE"
    data = (("z" * 9 + secret) * 20).encode()
    lines = feed_all(collector(max_line_length=16, secrets=(secret,)), *[bytes([b]) for b in data])
    assert not any(secret[:4] in line for line in lines)
    assert "".join(lines) == ("z" * 9 + "***") * 20


def test_a_secret_in_spilled_output_is_replaced(tmp_path: Path) -> None:
    spill = tmp_path / "out.spill"
    stream = collector(limit=3, strategy=SPILL, spill=spill, secrets=("hunter2",))
    feed_all(stream, b"ok\n", b"pw=hunt", b"er2\n")
    assert "hunter2" not in spill.read_text()
    assert spill_lines(spill) == ["pw=***"]


def test_a_secret_cut_by_the_output_limit_is_masked() -> None:
    stream = collector(limit=7, secrets=("hunter2",))
    feed_all(stream, b"pw=hunter2\n")
    assert not any("hunt" in line for line in stream.lines)


def test_a_secret_cut_by_the_output_limit_is_masked_when_its_rest_comes_later() -> None:
    stream = collector(limit=7, secrets=("hunter2",))
    feed_all(stream, b"pw=hunt", b"e", b"r2\n")
    assert not any("hunt" in line for line in stream.lines)


def test_a_secret_in_the_truncated_head_is_replaced() -> None:
    stream = collector(limit=12, secrets=("hunter2",))
    feed_all(stream, b"pw=hunter2\nlots more output\n")
    assert stream.lines[0] == "pw=***"


# --- properties -------------------------------------------------------------

line_bytes = st.lists(
    st.sampled_from(
        [b"a", b"b", b"\n", b"\r", b"\r\n", b"\xc3\xa9", b"\xe2\x82\xac", b"\xff", b"\xc3"]
    ),
    max_size=80,
).map(b"".join)
any_bytes = st.one_of(line_bytes, st.binary(max_size=200))
cut_points = st.lists(st.integers(min_value=0, max_value=10_000), max_size=20)


@settings(max_examples=300, deadline=None)
@given(data=any_bytes, cuts=cut_points)
def test_any_chunking_gives_the_lines_of_the_whole_decoded_text(
    data: bytes, cuts: list[int]
) -> None:
    stream = collector()
    assert feed_all(stream, *chunked(data, cuts)) == reference_lines(data)
    assert stream.lines == reference_lines(data)


@settings(max_examples=300, deadline=None)
@given(
    data=any_bytes,
    cuts=cut_points,
    limit=st.integers(min_value=1, max_value=250),
    strategy=st.sampled_from([TRUNCATE, FAIL]),
    secrets=st.lists(st.text(alphabet="ab", min_size=1, max_size=3), max_size=2),
)
def test_any_chunking_gives_the_same_lines_as_one_feed(
    data: bytes,
    cuts: list[int],
    limit: int,
    strategy: OversizedOutputStrategy,
    secrets: list[str],
) -> None:
    def build() -> StreamCollector:
        return collector(limit=limit, strategy=strategy, secrets=tuple(secrets))

    whole, pieces = build(), build()
    assert feed_all(pieces, *chunked(data, cuts)) == feed_all(whole, data)
    assert pieces.lines == whole.lines
    assert pieces.dropped_bytes == whole.dropped_bytes


@settings(max_examples=200, deadline=None)
@given(data=any_bytes, cuts=cut_points, limit=st.integers(min_value=1, max_value=250))
def test_stream_to_file_head_and_spill_file_hold_every_line(
    data: bytes, cuts: list[int], limit: int
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        spill = Path(folder) / "out.spill"
        stream = collector(limit=limit, strategy=SPILL, spill=spill)
        feed_all(stream, *chunked(data, cuts))
        spilled = spill_lines(spill) if spill.exists() else []
    assert stream.lines + spilled == reference_lines(data)


@settings(max_examples=300, deadline=None)
@given(
    data=any_bytes,
    cuts=cut_points,
    max_line=st.integers(min_value=64, max_value=90),
    limit=st.integers(min_value=1, max_value=250),
    secrets=st.lists(st.text(alphabet="ab\r", min_size=1, max_size=3), max_size=2),
)
def test_the_kept_text_is_the_returned_lines_joined_however_the_reads_fall(
    data: bytes, cuts: list[int], max_line: int, limit: int, secrets: list[str]
) -> None:
    # The collector keeps each read's text, not its lines: what observers got
    # (cut long lines, redactions, the truncation warning) must be the result.
    stream = collector(limit=limit, max_line_length=max_line, secrets=tuple(secrets))
    lines = feed_all(stream, *chunked(data * 3, cuts))
    assert stream.text() == "\n".join(lines)
    assert stream.lines == lines


def test_a_read_of_many_short_lines_is_kept_as_one_text() -> None:
    stream = collector()
    assert stream.feed(b"a\r\nb\nc\r\n") == ["a", "b", "c"]
    assert stream.text() == "a\nb\nc"
    assert len(stream._texts) == 1
