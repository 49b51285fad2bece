"""What the monitor's action keys do to the selected session. Each function calls the use case the
matching `lsm` command calls (``api.sessions.tag`` and ``describe``, ``api.exports.export_document``,
``api.organise.close`` as `lsm batch-close`) and returns the line the status bar shows; nothing here
draws. A refused input (a bad tag) raises ``LsmError``, whose message the monitor shows instead."""

from __future__ import annotations

import base64
import os
import re
import shlex
import shutil
from collections.abc import Mapping
from pathlib import Path

from llm_session_manager import exporting
from llm_session_manager.api.context import Context
from llm_session_manager.errors import UsageError
from llm_session_manager.models import SessionView
from llm_session_manager.paths import Paths
from llm_session_manager.resume import resume_command

HANDOFF_DIR = "handoffs"
# Transcripts that are databases (Cursor's state.vscdb, Copilot's) are no text for a pager.
NOT_TEXT = (".vscdb", ".db", ".sqlite", ".sqlite3")


def add_tags(ctx: Context, view: SessionView, text: str) -> str:
    """`lsm tag ID TAG…`: the words of ``text`` as tags (the same rules: letters, digits, . _ -)."""
    from llm_session_manager.api import sessions

    words = text.split()
    if not words:
        raise UsageError("no tag given")
    change = sessions.tag(ctx, view, words)
    if not change.changed:
        return f"{view.session.id} is already tagged {', '.join(change.unchanged)}"
    return f"tagged {view.session.id}: {', '.join(change.changed)}"


def describe(ctx: Context, view: SessionView, text: str) -> str:
    """`lsm describe ID TEXT`; an empty text clears the description."""
    from llm_session_manager.api import sessions

    after = sessions.describe(ctx, view, text)
    sid = view.session.id
    return f"described {sid}" if after.description else f"cleared the description of {sid}"


def handoff_path(paths: Paths, view: SessionView) -> Path:
    """A new file under lsm's data folder: ``handoffs/handoff-<agent>_<id>.md`` (``-2``, ``-3``… when
    taken; an export never overwrites). The id comes from a log: only safe characters stay."""
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", f"handoff-{view.session.agent}_{view.session.native_id}")[:140]
    folder = paths.data_dir / HANDOFF_DIR
    candidate = folder / f"{stem}.md"
    n = 2
    while candidate.exists():
        candidate = folder / f"{stem}-{n}.md"
        n += 1
    return candidate


def export_handoff(ctx: Context, view: SessionView) -> Path:
    """`lsm export ID -o FILE --format markdown`: the redacted Markdown hand-off; returns its path."""
    from llm_session_manager.api import exports

    doc = exports.export_document(ctx, view, full=False, transcript=True)
    target = handoff_path(ctx.paths, view)
    exporting.write_output(exporting.render(doc, "markdown"), str(target), force=False)
    return target


def close_preview(ctx: Context, view: SessionView) -> str:
    """What closing would do (`lsm batch-close --dry-run`), for the confirmation prompt."""
    from llm_session_manager.api import organise

    outcome = organise.close(ctx, [view], dry_run=True)[0]
    return outcome.detail or outcome.action


def close(ctx: Context, view: SessionView, timeout: float = 5.0) -> str:
    """`lsm batch-close ID --force`: mark closed, end the agent's process with SIGTERM (never a reused
    pid, never an editor)."""
    if view.status == "closed":
        return f"{view.session.id} is already closed"
    from llm_session_manager.api import organise

    o = organise.close(ctx, [view], dry_run=False, timeout=timeout)[0]
    pid = f" (pid {o.pid})" if o.pid else ""
    return f"{o.session_id}{pid}: {o.action}{': ' + o.detail if o.detail else ''}"


def copy_text(view: SessionView) -> tuple[str, str]:
    """(what ``y`` copies, what that is): the resume command when the agent has one, else the id."""
    command = resume_command(view.session)
    return (command, "resume command") if command else (view.session.id, "id")


def osc52(text: str) -> str:
    """The escape sequence that asks the terminal (and tmux, with set-clipboard on) to copy ``text``."""
    return "\x1b]52;c;" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "\x07"


def pager_argv(view: SessionView, env: Mapping[str, str]) -> list[str]:
    """``$PAGER`` (default ``less``) and the session's transcript files that are text."""
    files = [
        p for p in view.session.transcript_paths if not p.lower().endswith(NOT_TEXT) and os.path.isfile(p)
    ]
    if not files:
        raise UsageError(f"{view.session.id} has no transcript file to open")
    try:
        pager = shlex.split(env.get("PAGER") or "") or ["less"]
    except ValueError:
        raise UsageError("$PAGER cannot be parsed (unbalanced quotes)") from None
    if shutil.which(pager[0]) is None:
        raise UsageError(f"pager not found: {pager[0]} (set $PAGER)")
    return [*pager, *files]
