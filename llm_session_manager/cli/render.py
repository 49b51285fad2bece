"""Rich tables for sessions, health and info. Formatting helpers are pure.

Text from transcripts, imports or the user (titles, ids, paths, model names, reasons) goes into a table
as ``cell(text)`` or through ``SafeTable``, and into a markup string only through ``markup_safe``: it is
never read as Rich markup, and its control characters are shown, not sent (``safetext.for_terminal``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.console import Console, RenderableType
from rich.markup import escape
from rich.style import StyleType
from rich.table import Table
from rich.text import Text

from llm_session_manager.models import Health, SessionView
from llm_session_manager.present import (
    HEALTH_STYLE,
    STATUS_STYLE,
    ago,
    context_fill,
    human_tokens,
    money,
    short_ids,
    state_label,
)
from llm_session_manager.safetext import for_terminal
from llm_session_manager.service import project_name


def console(stderr: bool = False) -> Console:
    """A console for tables; when output is piped, wide enough that rows are not cut. No emoji codes:
    ":fire:" in a title stays as typed."""
    con = Console(stderr=stderr, highlight=False, soft_wrap=False, emoji=False)
    if not con.is_terminal:
        con = Console(stderr=stderr, highlight=False, soft_wrap=False, emoji=False, width=200)
    return con


def cell(value: object, style: StyleType = "") -> Text:
    """Untrusted text as a renderable: literal brackets, control characters made visible."""
    return Text(for_terminal(str(value)), style=style)


def markup_safe(value: object) -> str:
    """Untrusted text for a markup string: ``out.print(f"[yellow]warning:[/yellow] {markup_safe(w)}")``."""
    return escape(for_terminal(str(value)))


class SafeTable(Table):
    """A table whose plain-string cells are text, never markup (``[/INST]`` stays as it is)."""

    def add_row(
        self, *renderables: RenderableType | None, style: StyleType | None = None, end_section: bool = False
    ) -> None:
        cells = [cell(r) if isinstance(r, str) else r for r in renderables]
        super().add_row(*cells, style=style, end_section=end_section)


def context_bar(pct: float | None, width: int = 10) -> Text:
    text, style = context_fill(pct, width)
    return Text(text, style=style)


NARROW_DROP = ("Agent", "Model", "Title")


def sessions_table(views: Sequence[SessionView], now: datetime, width: int = 200) -> Table:
    """The session table; on a narrow terminal the agent, model and title columns are left out."""
    table = SafeTable(show_header=True, header_style="bold", pad_edge=False, expand=False)
    drop = set(NARROW_DROP[: 3 if width < 100 else 2 if width < 120 else 1 if width < 140 else 0])
    columns = [
        ("ID", {"no_wrap": True}),
        ("Agent", {"no_wrap": True}),
        ("Project", {"max_width": 18, "overflow": "ellipsis", "no_wrap": True}),
        ("Title", {"max_width": 34, "overflow": "ellipsis", "no_wrap": True}),
        ("Model", {"max_width": 18, "overflow": "ellipsis", "no_wrap": True}),
        ("Status", {"no_wrap": True}),
        ("Context", {"no_wrap": True}),
        ("Tokens", {"justify": "right", "no_wrap": True}),
        ("Cost", {"justify": "right", "no_wrap": True}),
        ("Health", {"justify": "right", "no_wrap": True}),
        ("Last", {"no_wrap": True}),
    ]
    for name, kw in columns:
        if name not in drop:
            table.add_column(name, **kw)  # type: ignore[arg-type]
    names = [name for name, _kw in columns]
    ids = short_ids([v.session.native_id for v in views])
    for v in views:
        s = v.session
        label = state_label(v)
        status = v.status + (f" ({label[0]})" if label else "")
        hstyle = HEALTH_STYLE.get(v.health.status, "")
        cells: tuple[str | Text, ...] = (
            ids[s.native_id],
            s.agent,
            project_name(v) or "-",
            s.title or "-",
            (s.model or "-").replace("claude-", ""),
            cell(status, style=STATUS_STYLE.get(v.status, "")),
            context_bar(v.context_pct),
            _tokens_cell(v),
            money(v.cost_usd),
            Text(f"{v.health.score:.0f}{'~' if v.health.estimated else ''}", style=hstyle),
            ago(s.last_activity, now),
        )
        table.add_row(*(c for name, c in zip(names, cells) if name not in drop))
    return table


def health_table(view: SessionView) -> Table:
    h: Health = view.health
    title = f"{view.session.id}: {h.score:.0f}/100 {h.status}" + (" (estimated)" if h.estimated else "")
    table = SafeTable(title=cell(title), show_header=True, header_style="bold", title_justify="left")
    table.add_column("Factor")
    table.add_column("Raw", overflow="fold")
    table.add_column("Score", justify="right")
    table.add_column("Weight", justify="right")
    table.add_column("Points", justify="right")
    table.add_column("Why", overflow="fold")
    for f in h.factors:
        raw = ", ".join(f"{k}={_fmt(v)}" for k, v in f.raw.items() if v not in (None, [], ""))
        table.add_row(f.name, raw, f"{f.score:.0f}", f"{f.weight:.0%}", f"{f.score * f.weight:.1f}", f.reason)
    return table


def _tokens_cell(view: SessionView) -> str:
    """Exact totals as they are; counted or rounded ones marked with "≈"; unreadable ones "?"."""
    s = view.session
    if s.process is not None and not s.transcript_paths:
        return "?"
    text = human_tokens(s.tokens.total)
    return text if s.tokens.source == "exact" else f"≈{text}"


def _fmt(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 10_000:
        return f"{value:,}"
    return str(value)


def preview_table(views: Sequence[SessionView], title: str) -> Table:
    """What a batch command is about to touch."""
    table = SafeTable(title=cell(title), title_justify="left", header_style="bold")
    for name in ("ID", "Project", "Title", "Status", "PID"):
        table.add_column(name, overflow="ellipsis", no_wrap=True, max_width=40)
    for v in views:
        s = v.session
        table.add_row(
            s.id, project_name(v) or "-", s.title or "-", v.status, str(s.process.pid) if s.process else "-"
        )
    return table


def search_table(views: Sequence[SessionView], details: bool) -> Table:
    table = SafeTable(header_style="bold")
    table.add_column("ID", no_wrap=True)
    table.add_column("Project", max_width=20, overflow="ellipsis", no_wrap=True)
    table.add_column("Title", max_width=40, overflow="ellipsis", no_wrap=True)
    table.add_column("Tags", max_width=30, overflow="fold")
    if details:
        table.add_column("Description", max_width=50, overflow="fold")
        table.add_column("Tokens", justify="right")
        table.add_column("Health", justify="right")
    ids = short_ids([v.session.native_id for v in views])
    for v in views:
        s = v.session
        row: list[str | Text] = [
            f"{s.agent}:{ids[s.native_id]}",
            project_name(v) or "-",
            s.title or "-",
            ", ".join(v.tags) or "-",
        ]
        if details:
            row += [
                v.description or "-",
                _tokens_cell(v),
                Text(f"{v.health.score:.0f} {v.health.status}", style=HEALTH_STYLE.get(v.health.status, "")),
            ]
        table.add_row(*row)
    return table
