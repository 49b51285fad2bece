"""Shell completion: the session ids and tags a shell offers after `lsm health `, `lsm tag `, `--tag `.

Answered from the database alone (``store.lookup``): no scan of the agents' files, so a completion is
as quick as one SQLite read, and it shows the sessions as lsm last listed them. Never raises."""

from __future__ import annotations

from llm_session_manager.paths import Paths
from llm_session_manager.safetext import for_terminal

MAX_CHOICES = 200  # a shell shows no more than this usefully; the most recent sessions come first


def session_id_choices(paths: Paths, incomplete: str) -> list[tuple[str, str]]:
    """(id, title) of the sessions whose native id starts with ``incomplete`` (the native id is offered);
    when none does, or ``incomplete`` names an agent (``codex:``), those whose full ``agent:native`` id
    does (the full id is offered). Most recently active first."""
    from llm_session_manager.store.lookup import session_names

    names = sorted(session_names(paths.db_file), key=lambda n: n.last_activity or "", reverse=True)
    natives = [(n.native_id, n.title) for n in names if n.native_id.startswith(incomplete)]
    if ":" in incomplete or not natives:
        natives = [(n.id, n.title) for n in names if n.id.startswith(incomplete)]
    out: list[tuple[str, str]] = []
    for value, title in natives:
        if for_terminal(value) != value or any(c.isspace() for c in value):
            continue  # an id a shell cannot take back as typed
        out.append((value, for_terminal(title or "")))
        if len(out) >= MAX_CHOICES:
            break
    return out


def tag_choices(paths: Paths, incomplete: str) -> list[str]:
    from llm_session_manager.store.lookup import tag_names

    start = incomplete.strip().lower()
    return [t for t in tag_names(paths.db_file) if t.startswith(start) and for_terminal(t) == t]
