"""The session table of `lsm list` as plain data: one row of display strings per session.

The CLI draws the table from this (cli/session_table.py), and a quiet listing stores it (fastlist.py) so
that the next `lsm list` draws the very same table without scanning: everything here is fixed once the
sessions are known; what depends on the moment or the terminal (the "Last" ages, the widths) is left
to the drawing. Strings are raw (untrusted) text; the drawing makes them terminal-safe.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, TypedDict

from llm_session_manager.present import (
    HEALTH_STYLE,
    STATUS_STYLE,
    human_tokens,
    money,
    pasteable_ids,
    state_label,
)

if TYPE_CHECKING:
    from llm_session_manager.models import Session, SessionView

ID_MIN = 6  # shortest id prefix shown


class TableRow(TypedDict):
    id: str  # the shortest pasteable prefix (a terminal)
    full_id: str  # the whole id, with its agent when two agents share it (piped output, for scripts)
    agent: str
    project: str
    title: str
    model: str
    status: str  # the status word, and the agent's own state when it says one: "active (waiting)"
    status_word: str
    status_style: str
    context_pct: float | None
    tokens: str
    cost: str
    health: str
    health_style: str
    last: str | None  # the last activity, ISO 8601 (its age is drawn at the moment of drawing)


class Totals(TypedDict):
    tokens_total: str
    cost_total: str
    running: int


class TableData(TypedDict):
    rows: list[TableRow]
    tokens_total: str
    cost_total: str
    running: int


def display_ids(
    views: Sequence[SessionView], known: Sequence[Session] | None = None, *, whole: bool = False
) -> dict[str, str]:
    """Session id -> the id a table shows: the shortest prefix (at least 6 characters) of its native id
    that no other ``known`` session (default: those of ``views``) shares, so it can be pasted into any
    command that takes an id (the whole native id when ``whole``). See ``present.pasteable_ids``."""
    pool = [(v.session.agent, v.session.native_id) for v in views]
    if known is not None:
        pool = [(s.agent, s.native_id) for s in known] + pool
    ids = pasteable_ids(pool, ID_MIN, 10**6 if whole else ID_MIN + 2)
    return {v.session.id: ids.get(v.session.id, v.session.native_id) for v in views}


def table_data(views: Sequence[SessionView], known: Sequence[Session] | None = None) -> TableData:
    """The rows of ``views`` in order, ids told apart from every ``known`` session (default: ``views``)."""
    rows = list(_rows(views, known))
    totals = _totals(views)
    return {"rows": rows, **totals}


def table_chunks(views: Sequence[SessionView], known: Sequence[Session] | None = None) -> Iterator[bytes]:
    """``orjson.dumps(table_data(views, known))``, byte for byte, a row at a time: the rows are never all
    held (8 MB as dicts at 6,000 sessions, while the listing that stores them holds every session)."""
    import orjson

    yield b'{"rows":['
    for i, row in enumerate(_rows(views, known)):
        yield (b"," if i else b"") + orjson.dumps(row)
    yield b"]," + orjson.dumps(_totals(views))[1:]


def _totals(views: Sequence[SessionView]) -> Totals:
    return {
        "tokens_total": tokens_total(views),
        "cost_total": cost_total(views),
        "running": sum(1 for v in views if v.session.process),
    }


def _rows(views: Sequence[SessionView], known: Sequence[Session] | None) -> Iterator[TableRow]:
    from llm_session_manager.service import project_name

    short = display_ids(views, known)
    whole = display_ids(views, known, whole=True)
    for v in views:
        s, label = v.session, state_label(v)
        yield {
            "id": short[s.id],
            "full_id": whole[s.id],
            "agent": s.agent,
            "project": project_name(v) or "-",
            "title": s.title or "-",
            "model": (s.model or "-").replace("claude-", ""),
            "status": v.status + (f" ({label[0]})" if label else ""),
            "status_word": v.status,
            "status_style": STATUS_STYLE.get(v.status, ""),
            "context_pct": v.context_pct,
            "tokens": tokens_cell(v),
            "cost": money(v.cost_usd),
            "health": f"{v.health.score:.0f}{'~' if v.health.estimated else ''}",
            "health_style": HEALTH_STYLE.get(v.health.status, ""),
            "last": s.last_activity.isoformat() if s.last_activity is not None else None,
        }


def tokens_cell(view: SessionView) -> str:
    """Exact totals as they are; counted or rounded ones marked with "≈"; unreadable ones "?"."""
    s = view.session
    if s.process is not None and not s.transcript_paths:
        return "?"
    text = human_tokens(s.tokens.total)
    return text if s.tokens.source == "exact" else f"≈{text}"


def tokens_total(views: Sequence[SessionView]) -> str:
    """The tokens of every session with known tokens: "≥" when some are unknown, "≈" when some counted."""
    known = [v for v in views if not (v.session.process is not None and not v.session.transcript_paths)]
    text = human_tokens(sum(v.session.tokens.total for v in known))
    if len(known) < len(views):
        return f"≥{text}"
    return text if all(v.session.tokens.source == "exact" for v in known) else f"≈{text}"


def cost_total(views: Sequence[SessionView]) -> str:
    """The cost of every priced session; "≥" when some sessions have no known cost."""
    priced = [v.cost_usd for v in views if v.cost_usd is not None]
    text = money(sum(priced))
    return f"≥{text}" if len(priced) < len(views) else text
