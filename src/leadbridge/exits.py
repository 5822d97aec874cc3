"""What stops a command, and the exit code it stops with.

Free of imports on purpose: the command line catches these around every command, and loading
the modules that raise them (SQLAlchemy, pydantic, the SDKs) just to name the classes would
make ``leadbridge --help`` as slow as a sync.
"""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_BUSY = 0, 1, 2, 3


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key, the problem and the fix."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class CannotStart(Exception):
    """The command cannot go on, for a reason its message explains to an operator."""

    exit_code = EXIT_CONFIG
