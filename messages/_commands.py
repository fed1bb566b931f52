"""The four kinds of command an execution can run."""

from __future__ import annotations

import shlex
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from ._base import FrozenModel, NonEmptyText, Text, one_line

__all__ = ["AwsCli", "Command", "Exec", "Script", "Shell"]

_AWS_NAME = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$")]


class Shell(FrozenModel):
    """A command line run by a shell as ``[shell, "-c", command]``."""

    kind: Literal["shell"] = "shell"
    command: NonEmptyText
    """The command line, as typed at a shell prompt."""
    shell: NonEmptyText = "/bin/bash"
    """The shell program that interprets ``command``."""

    def describe(self) -> str:
        """Return the command line on one line."""
        return one_line(self.command)


class Exec(FrozenModel):
    """A program run directly with its arguments; no shell is involved."""

    kind: Literal["exec"] = "exec"
    program: NonEmptyText
    """A path, or a name looked up on the child's PATH."""
    args: tuple[Text, ...] = ()
    """The arguments after the program name."""

    def describe(self) -> str:
        """Return the program and its arguments, quoted as a shell would need."""
        return one_line(shlex.join((self.program, *self.args)))


class Script(FrozenModel):
    """A script text handed to an interpreter as ``[interpreter, "-c", content, *args]``."""

    kind: Literal["script"] = "script"
    content: NonEmptyText
    """The script itself."""
    interpreter: NonEmptyText = "/bin/bash"
    """The program that runs the script; it must accept ``-c TEXT``."""
    args: tuple[Text, ...] = ()
    """Arguments passed to the script after its text."""

    def describe(self) -> str:
        """Return the interpreter and the script's first line."""
        first = next((line for line in self.content.splitlines() if line.strip()), "")
        more = " ..." if len(self.content.strip().splitlines()) > 1 else ""
        return one_line(f"{self.interpreter} script: {first.strip()}{more}")


class AwsCli(FrozenModel):
    """One AWS CLI call, run as ``aws SERVICE OPERATION [options] ARGS``."""

    kind: Literal["aws_cli"] = "aws_cli"
    service: _AWS_NAME
    """The service, for example ``s3api``."""
    operation: _AWS_NAME
    """The operation, for example ``list-buckets``."""
    args: tuple[Text, ...] = ()
    """Further arguments, appended last."""
    profile: Text | None = None
    """``--profile`` when set."""
    region: Text | None = None
    """``--region`` when set."""
    output: Literal["json", "text", "table", "yaml"] | None = "json"
    """``--output`` when set."""

    def argv_tail(self) -> tuple[str, ...]:
        """Return the arguments after the ``aws`` program name."""
        argv = [self.service, self.operation]
        for flag, value in (
            ("--profile", self.profile),
            ("--region", self.region),
            ("--output", self.output),
        ):
            if value is not None:
                argv += [flag, value]
        return (*argv, *self.args)

    def describe(self) -> str:
        """Return the whole ``aws`` command line."""
        return one_line(shlex.join(("aws", *self.argv_tail())))


Command = Annotated[Shell | Exec | Script | AwsCli, Field(discriminator="kind")]
Command.__doc__ = "Any command, told apart by its ``kind`` field."
