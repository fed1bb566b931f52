"""The one base class and the shared field types of every message."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

__all__ = ["FrozenModel", "NonEmptyText", "Text", "TextPath", "check_text", "one_line"]


class FrozenModel(BaseModel):
    """Base of every message: immutable, strict about unknown fields.

    pykka passes messages by reference between threads, so a message must not
    change after it is sent; sequences are tuples for the same reason.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


def check_text(value: str) -> str:
    """Refuse what cannot cross ``execve`` or JSON intact: NUL bytes, lone surrogates."""
    # A NUL would silently cut the string at execve(); a lone surrogate has no
    # UTF-8 form, so the message could not be serialised nor the child given it.
    if "\x00" in value:
        raise ValueError(f"must not contain NUL bytes: {value!r}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"must be valid Unicode text (no lone surrogates): {value!r}") from None
    return value


Text = Annotated[str, AfterValidator(check_text)]
"""A string without NUL bytes or lone surrogates."""

NonEmptyText = Annotated[str, StringConstraints(min_length=1), AfterValidator(check_text)]
"""A non-empty string without NUL bytes or lone surrogates."""


def _check_path(value: Path) -> Path:
    check_text(str(value))
    return value


TextPath = Annotated[Path, AfterValidator(_check_path)]
"""A path whose text has no NUL bytes or lone surrogates."""


def one_line(text: str, limit: int = 200) -> str:
    """Return ``text`` on a single line, shortened to ``limit`` characters."""
    flat = text.replace("\r\n", "\n").replace("\r", "\n").strip().replace("\n", " \\n ")
    if len(flat) > limit:
        return flat[: limit - 1] + "\u2026"
    return flat
