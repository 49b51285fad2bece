"""`lsm list` [``--all``] [``--format json|table``] when no stored output answers it (fastlist.py,
cli/fast_list.py): the scan and the output of the list command (cli/sessions.py uses ``write_list``
too), run without typer, which with click took ~20 ms of every such run to import and build. These are
the runs a user makes while an agent works (each appended line misses the stored output)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llm_session_manager.api.context import Context
    from llm_session_manager.api.sessions import ListQuery
    from llm_session_manager.service import Collected


def warn_scan(result: Collected) -> None:
    """What the scan could not do, on stderr: discovery failures, the first unreadable files."""
    from llm_session_manager.cli.common import warn

    if result.discovery_error:
        warn(result.discovery_error)
    for stats in result.stats.values():
        for err in stats.errors[:5]:
            warn(f"skipped {err}")


def write_list(ctx: Context, query: ListQuery, fmt: str, every: bool) -> None:
    """The listing ``query`` asks for, written to stdout in ``fmt`` (checked by the caller)."""
    import orjson

    from llm_session_manager.api.sessions import list_sessions
    from llm_session_manager.cli.common import emit

    listing = list_sessions(ctx, query)
    warn_scan(listing.collected)
    if fmt == "json":
        listing.write_json(sys.stdout.buffer)
        sys.stdout.flush()
        return
    if fmt != "table":
        emit(fmt, listing.documents())
        return
    from llm_session_manager.cli.session_table import write_listing

    write_listing(orjson.loads(listing.table_rows()), ctx.now(), every)


def scan_main(form: str) -> int:
    """List as the list command would for ``form`` (a fastlist form: ``list`` with ``--all`` or not,
    as JSON or a table); failures end as the CLI's do (guard.py). Returns the exit status."""
    from llm_session_manager import fastlist
    from llm_session_manager.api.sessions import ListQuery
    from llm_session_manager.cli.common import load_env
    from llm_session_manager.cli.guard import guarded
    from llm_session_manager.cli.progress import with_progress

    every = form == fastlist.form_of(True, fastlist.kind_of(form))

    def run() -> None:
        ctx = with_progress(load_env())
        write_list(ctx, ListQuery(all_sessions=every), fastlist.kind_of(form), every)

    guarded(run)
    return 0
