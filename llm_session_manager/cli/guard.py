"""How every command ends when it fails: one line on stderr and a documented exit status, never a
traceback. Shared by the Typer application (typer_app.py) and the commands that run without it
(plain_list.py); nothing here imports typer."""

from __future__ import annotations

import sys
from collections.abc import Callable

from llm_session_manager.errors import LsmError
from llm_session_manager.safetext import for_terminal, without_secrets


def guarded(run: Callable[[], object]) -> None:
    """Call ``run``; a failure exits as the CLI documents it (``LsmError``: its line and exit code; an
    interrupt: 130; a closed pipe: 0; a database that cannot be used: 1, naming the file)."""
    try:
        run()
    except LsmError as exc:
        # An error may quote what was typed: a pasted credential is not echoed back.
        sys.stderr.write(for_terminal(without_secrets(f"lsm: error: {exc}")) + "\n")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("lsm: interrupted\n")
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:
        store_failure(exc)
        raise


def store_failure(exc: Exception) -> None:
    """A damaged, missing-table or read-only database: one line naming the file and the way out."""
    import sqlite3

    if isinstance(exc, sqlite3.Error):
        from llm_session_manager.paths import resolve
        from llm_session_manager.store.db import explain

        sys.stderr.write(for_terminal(f"lsm: error: {explain(exc, resolve().db_file)}") + "\n")
        sys.exit(1)
