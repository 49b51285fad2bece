"""Errors that reach the user as one line on stderr with a defined exit status.

Exit codes are part of the CLI contract: 0 ok, 1 error, 2 usage, 3 not found.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3


class LsmError(Exception):
    """Base class: ``str(err)`` is the one line the user sees."""

    exit_code = EXIT_ERROR


class ConfigError(LsmError):
    exit_code = EXIT_ERROR


class UsageError(LsmError):
    exit_code = EXIT_USAGE


class NotFoundError(LsmError):
    exit_code = EXIT_NOT_FOUND


class AmbiguousIdError(LsmError):
    exit_code = EXIT_NOT_FOUND


class StoreError(LsmError):
    exit_code = EXIT_ERROR
