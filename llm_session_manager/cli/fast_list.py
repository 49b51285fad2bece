"""`lsm list` [``--all``] as a table, drawn from the rows its last quiet run stored (fastlist.py keeps
and checks them) at this moment and on this terminal: no typer, no scan, no session decoded. Anything
it cannot answer (no stored rows, a change, a running agent) is left to the full CLI, which prints
the same table from a scan and stores its rows again."""

from __future__ import annotations

import contextlib
from datetime import datetime, timezone


def fast_main(form: str) -> int | None:
    """Draw the stored table of ``form`` (a fastlist table form) and return 0, or None (having printed
    nothing) for the CLI to run."""
    import orjson

    from llm_session_manager import fastlist

    now = datetime.now(timezone.utc)
    try:
        stored = fastlist.stored_output(form, now.timestamp())
        data = orjson.loads(stored) if stored is not None else None
    except Exception:  # a damaged store, a config error…: the CLI reports it properly
        return None
    if not isinstance(data, dict):
        return None
    from llm_session_manager.cli.session_table import write_listing

    with contextlib.suppress(BrokenPipeError):  # `lsm list | head`
        write_listing(data, now, every=form.startswith("list-all"))  # type: ignore[arg-type]
    return 0
