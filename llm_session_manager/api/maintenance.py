"""Looking after lsm's own data: the database check and repair, forgetting archived sessions, and the
state of the agents' hooks."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from llm_session_manager.api.context import Context


def doctor(ctx: Context, *, repair: bool) -> dict[str, Any]:
    """`lsm doctor --format json`: the database's problems and, with ``repair`` and a problem, the
    rebuild (the damaged file kept beside it; tags, projects, descriptions and imports carried over)."""
    from llm_session_manager.store import doctor as store_doctor

    path = ctx.paths.db_file
    diag = store_doctor.diagnose(path)
    fixed = store_doctor.repair(path) if repair and not diag.ok else None
    return {
        "database": diag.path,
        "exists": diag.exists,
        "schema_version": diag.schema_version,
        "ok": diag.ok,
        "problems": diag.problems,
        "repaired": fixed is not None,
        "backup": fixed.backup if fixed else None,
        "kept_rows": fixed.kept if fixed else {},
        "lost": fixed.lost if fixed else {},
    }


@dataclass(frozen=True)
class Pruned:
    before: datetime
    dry_run: bool
    forgotten: list[str]

    def document(self) -> dict[str, Any]:
        return {
            "before": self.before.isoformat().replace("+00:00", "Z"),
            "dry_run": self.dry_run,
            "forgotten": self.forgotten,
        }


def prune_archived(ctx: Context, before: datetime, *, dry_run: bool) -> Pruned:
    """Forget archived sessions (their transcripts are gone; lsm kept their numbers) last active before
    ``before``."""
    from llm_session_manager.service import open_db
    from llm_session_manager.store import archive

    if not dry_run:
        ctx.check_writable()
    with ctx.lock, closing(open_db(ctx.paths)) as conn:
        return Pruned(before, dry_run, archive.prune(conn, before, dry_run=dry_run))


def hooks_status(ctx: Context, agents: Sequence[str]) -> dict[str, Any]:
    """`lsm hooks status --format json`: per agent what is installed where and its last event; the spool's
    line counts (after reading what it gained)."""
    from llm_session_manager import hook_install, service
    from llm_session_manager.store import hook_events

    with ctx.lock, closing(service.open_db(ctx.paths)) as conn:
        service.hook_states(conn, ctx.paths)
        seen = hook_events.last_seen_by_agent(conn)
        spool = hook_events.totals(conn)
    rows = [hook_install.status(name, ctx.paths, seen) for name in agents]
    return {"agents": rows, "spool": {"lines": spool.lines, "corrupt_lines": spool.corrupt_lines}}
