"""The one base class and the shared field types of every message."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

__all__ = ["FrozenModel", "NonEmptyText", "Text", "one_line"]


class FrozenModel(BaseModel):
    """Base of every message: immutable, strict about unknown fields.

    pykka passes messages by reference between threads, so a message must not
    change after it is sent; sequences are tuples for the same reason.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


def _reject_nul(value: str) -> str:
    # A NUL cannot cross execve(): the kernel would silently cut the string there.
    if "\x00" in value:
        raise ValueError(f"must not contain NUL bytes: {value!r}")
    return value


Text = Annotated[str, AfterValidator(_reject_nul)]
"""A string without NUL bytes."""

NonEmptyText = Annotated[str, StringConstraints(min_length=1), AfterValidator(_reject_nul)]
"""A non-empty string without NUL bytes."""


def one_line(text: str, limit: int = 200) -> str:
    """Return ``text`` on a single line, shortened to ``limit`` characters."""
    flat = text.replace("\r\n", "\n").replace("\r", "\n").strip().replace("\n", " \\n ")
    if len(flat) > limit:
        return flat[: limit - 1] + "\u2026"
    return flat
