"""User-facing errors: printed as one clear line by the CLI, exit code 2."""

from __future__ import annotations


class UserError(Exception):
    """A mistake in input the user controls (config, inventory, arguments).

    The message must name the file, line or field, say what is wrong and what is allowed.
    It must never contain a credential.
    """

    exit_code = 2


class InputError(UserError):
    """Several input problems at once, each already formatted as ``file:line: field: problem``."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))
