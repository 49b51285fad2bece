"""The console scripts' entry point (``lsm``, ``llm-session-manager``, ``python -m llm_session_manager``).

A few commands run on every event of a host program (an agent's hook, its statusline) and must start in
milliseconds: they are dispatched here to a light, standard-library-only module before the CLI (typer,
rich) is imported. Everything else, ``--help`` of those commands included, goes to the full CLI. The root
help (`lsm --help`, `-h`, `lsm` alone) is drawn with rich alone, without typer (cli/root_help.py).
"""

from __future__ import annotations

import errno
import gc
import os
import sys

# command -> the light module whose ``fast_main(argv)`` runs it and returns the exit status.
FAST_COMMANDS = {
    "hook": "llm_session_manager.hookspool",
    "statusline": "llm_session_manager.statusline",
}
# Subcommands of a fast command that are ordinary CLI commands (they run once, by hand).
CLI_SUBCOMMANDS = {"statusline": ("install", "uninstall")}


def _fast_module(argv: list[str]) -> str | None:
    if not argv or argv[0] not in FAST_COMMANDS:
        return None
    if any(arg in ("-h", "--help") for arg in argv[1:]):
        return None
    if argv[1:2] and argv[1] in CLI_SUBCOMMANDS.get(argv[0], ()):
        return None
    return FAST_COMMANDS[argv[0]]


def _list_form(argv: list[str]) -> str | None:
    """The stored form of `lsm list` [--all] [--format json|table] (fastlist.py), None for any other."""
    if argv[:1] != ["list"]:
        return None
    from llm_session_manager import fastlist

    return fastlist.query_form(argv)


def _answered_fast(argv: list[str]) -> int | None:
    """`lsm list` [--all] [--format json|table] from what its last quiet run stored (fastlist.py): the
    exit status, or None (nothing printed) for the CLI to run."""
    form = _list_form(argv)
    if form is None:
        return None
    from llm_session_manager import fastlist

    if fastlist.kind_of(form) == "json":
        return fastlist.fast_main(form)
    from llm_session_manager.cli.fast_list import fast_main

    return fast_main(form)


def _listed_plain(argv: list[str]) -> int | None:
    """The same forms when nothing stored answers them: scanned and printed as the list command does,
    without typer (cli/plain_list.py). The exit status, or None for the CLI (any other command)."""
    form = _list_form(argv)
    if form is None:
        return None
    from llm_session_manager.cli.plain_list import scan_main

    return scan_main(form)


# What writing to a stream can fail with besides a closed pipe: a full disk or quota, a file too large for
# its system, an I/O error. (Opening a file names it; an OSError that names none was a write or a read.)
_WRITE_FAILURES = {errno.ENOSPC, errno.EFBIG, errno.EIO, getattr(errno, "EDQUOT", errno.ENOSPC)}


# Commands that read every session once and exit. They make hundreds of thousands of objects that live
# until the process ends, and no cyclic garbage worth finding: the cyclic collector is off for the rest
# of the process. It walked the sessions again after the scan and once more as the interpreter exited:
# at 6,000 sessions `lsm list --all` after one appended line 0.88 -> 0.81 s, `lsm report daily`
# 0.82 -> 0.75 s. Servers, the monitor and the memory commands (whose libraries keep their own
# object graphs) keep it.
ONE_SHOT = frozenset(
    {"list", "info", "health", "search", "grep", "report", "tokens", "limits", "budget", "export"}
    | {"batch-export", "tag-stats", "recommend"}
)


def main() -> None:
    argv = sys.argv[1:]
    try:
        if argv[:1] and argv[0] in ONE_SHOT:
            gc.disable()
        if argv[:1] != ["list"]:
            _main(argv)
            return
        from llm_session_manager.sources import handing

        with handing():  # a fast path that misses hands the files it listed to this command's scan
            _main(argv)
    except OSError as exc:
        if exc.errno not in _WRITE_FAILURES or exc.filename is not None:
            raise
        # `lsm … > /dev/full`: one line, not a traceback, and no second complaint when Python flushes.
        sys.stderr.write(f"lsm: error: cannot write: {exc.strerror or exc}\n")
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - stands in for stdout until the exit
        sys.exit(1)


def _root_help(argv: list[str]) -> int | None:
    """The root help's or the version's exit status once printed without typer, or None (nothing printed)
    for the CLI."""
    # root_help.ROOT_HELP and VERSION, without loading it for every command
    if argv not in ([], ["--help"], ["-h"], ["--version"], ["-V"]):
        return None
    from llm_session_manager.cli import root_help

    return root_help.version_main(argv) if argv in root_help.VERSION else root_help.fast_main(argv)


def _main(argv: list[str]) -> None:
    code = _root_help(argv)
    if code is not None:
        sys.exit(code)
    code = _answered_fast(argv)
    if code is None:
        code = _listed_plain(argv)
    if code is not None:
        sys.exit(code)
    module_name = _fast_module(argv)
    if module_name is not None:
        __import__(module_name)
        sys.exit(sys.modules[module_name].fast_main(argv))
    from llm_session_manager.cli import main as cli_main

    cli_main()
