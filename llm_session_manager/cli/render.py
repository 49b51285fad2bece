"""Rich tables for sessions, health, reports and tag statistics. Formatting helpers are pure.

Text from transcripts, imports or the user (titles, ids, paths, model names, reasons) goes into a table
as ``cell(text)`` or through ``SafeTable``, and into a markup string only through ``markup_safe``: it is
never read as Rich markup, and its control characters are shown, not sent (``safetext.for_terminal``).

Tables fit the terminal (fitted.py: ``fit_table``); the session table itself is session_table.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rich import box
from rich.console import RenderableType
from rich.markup import escape
from rich.style import StyleType
from rich.table import Table
from rich.text import Text

from llm_session_manager.cli.fitted import (
    Col,
    FittedTable,
    _cell_len,
    cell,
    fit_table,
)
from llm_session_manager.cli.fitted import console as console
from llm_session_manager.cli.fitted import table_width as table_width
from llm_session_manager.listing_table import table_data, tokens_cell
from llm_session_manager.models import Health, Session, SessionView
from llm_session_manager.present import (
    HEALTH_STYLE,
    context_fill,
    human_tokens,
    money,
    pasteable_ids,
    short_ids,
)
from llm_session_manager.safetext import for_terminal
from llm_session_manager.service import project_name


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


# --------------------------------------------------------------------------------------------------
# sessions


def sessions_table(
    views: Sequence[SessionView],
    now: datetime,
    width: int | None = None,
    known: Sequence[Session] | None = None,
) -> FittedTable:
    """The session table fitted to ``width`` (None: piped, whole), with a totals row. Ids are the
    shortest prefixes that tell each session apart from every ``known`` one (default: ``views``')."""
    from llm_session_manager.cli.session_table import draw

    return draw(table_data(views, known), now, width)


# --------------------------------------------------------------------------------------------------
# health


def health_table(view: SessionView) -> Table:
    """Every factor of a session's health. A raw value is one ``name=value`` per line, so a number is
    never broken across lines; the reason wraps at words (only it gives way on a narrow terminal)."""
    h: Health = view.health
    title = f"{view.session.id}: {h.score:.0f}/100 {h.status}" + (" (estimated)" if h.estimated else "")
    table = SafeTable(
        title=cell(title),
        show_header=True,
        header_style="bold",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        show_lines=True,
        pad_edge=False,
        collapse_padding=True,
    )
    raws = [Text("\n").join(cell(item) for item in _raw_items(f.raw)) or Text("-") for f in h.factors]
    raw_min = max((_cell_len(r) for r in raws), default=3)
    table.add_column("Factor", no_wrap=True)
    table.add_column("Raw", no_wrap=True, min_width=raw_min)
    table.add_column("Score", justify="right", no_wrap=True)
    table.add_column("Weight", justify="right", no_wrap=True)
    table.add_column("Points", justify="right", no_wrap=True)
    table.add_column("Why", overflow="fold", min_width=12)
    for f, raw in zip(h.factors, raws, strict=True):
        table.add_row(f.name, raw, f"{f.score:.0f}", f"{f.weight:.0%}", f"{f.score * f.weight:.1f}", f.reason)
    return table


def _raw_items(raw: Mapping[str, Any]) -> list[str]:
    return [f"{k}={_fmt(v)}" for k, v in raw.items() if v not in (None, [], "")]


def _fmt(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 10_000:
        return f"{value:,}"
    return str(value)


# --------------------------------------------------------------------------------------------------
# batch previews and search


def preview_table(views: Sequence[SessionView], title: str) -> Table:
    """What a batch command is about to touch."""
    table = SafeTable(title=cell(title), title_justify="left", header_style="bold")
    for name in ("ID", "Project", "Title", "Status", "PID"):
        table.add_column(name, overflow="ellipsis", no_wrap=True, max_width=40 if name != "ID" else None)
    for v in views:
        s = v.session
        table.add_row(
            s.id, project_name(v) or "-", s.title or "-", v.status, str(s.process.pid) if s.process else "-"
        )
    return table


def search_table(
    views: Sequence[SessionView], details: bool, known: Sequence[Session] | None = None
) -> Table:
    """Search hits; each id is the shortest prefix naming its session among ``known`` (every session lsm
    sees; default: the hits'), so it can be pasted into any command."""
    table = SafeTable(header_style="bold")
    table.add_column("ID", no_wrap=True)
    table.add_column("Project", max_width=20, overflow="ellipsis", no_wrap=True)
    table.add_column("Title", max_width=40, overflow="ellipsis", no_wrap=True)
    table.add_column("Tags", max_width=30, overflow="fold")
    if details:
        table.add_column("Description", max_width=50, overflow="fold")
        table.add_column("Tokens", justify="right", no_wrap=True)
        table.add_column("Health", justify="right", no_wrap=True)
    pool = (
        [(s.agent, s.native_id) for s in known]
        if known
        else [(v.session.agent, v.session.native_id) for v in views]
    )
    ids = pasteable_ids(pool, minimum=8)
    for v in views:
        s = v.session
        short = ids.get(s.id, s.native_id)
        row: list[str | Text] = [
            short if short.startswith(f"{s.agent}:") else f"{s.agent}:{short}",
            project_name(v) or "-",
            s.title or "-",
            ", ".join(v.tags) or "-",
        ]
        if details:
            row += [
                v.description or "-",
                tokens_cell(v),
                Text(f"{v.health.score:.0f} {v.health.status}", style=HEALTH_STYLE.get(v.health.status, "")),
            ]
        table.add_row(*row)
    return table


# --------------------------------------------------------------------------------------------------
# usage reports and tag statistics

# (header, key, drop rank): the cache columns give way first, then input and output (total stays).
REPORT_TOKENS = (
    ("input", "input", 5),
    ("output", "output", 4),
    ("cache write", "cache_creation", 7),
    ("cache read", "cache_read", 6),
)


def report_table(
    doc: Mapping[str, Any], by: Sequence[str], kind: str, chart: bool, width: int | None
) -> FittedTable:
    """A usage report with a totals row. The period, session, total, cost and session count are never
    cut; the token parts (cache write first) and the chart give way on a narrow terminal."""
    rows = doc["rows"]
    totals = doc["totals"]
    cols = [Col("period", [r["period"] for r in rows], footer="Total")]
    if kind == "session":
        ids = short_ids([str(r["session_id"]).partition(":")[2] or str(r["session_id"]) for r in rows])
        cols.append(
            Col(
                "session", [ids[str(r["session_id"]).partition(":")[2] or str(r["session_id"])] for r in rows]
            )
        )
        cols.append(Col("title", [r.get("title") or "-" for r in rows], shrink=12, drop=1, fill=True))
    for key in by:
        cols.append(Col(key, [str(r.get(key) or "-") for r in rows], shrink=8, drop=2))
    for name, key, rank in REPORT_TOKENS:
        cols.append(
            Col(
                name,
                [human_tokens(r["tokens"][key]) for r in rows],
                footer=human_tokens(totals["tokens"][key]),
                justify="right",
                drop=rank,
            )
        )
    cols += [
        Col(
            "total",
            [human_tokens(r["tokens"]["total"]) for r in rows],
            footer=human_tokens(totals["tokens"]["total"]),
            justify="right",
        ),
        Col("cost", [money(r["cost_usd"]) for r in rows], footer=money(totals["cost_usd"]), justify="right"),
        Col("sessions", [str(r["sessions"]) for r in rows], footer=str(totals["sessions"]), justify="right"),
    ]
    if chart:
        cols.append(_chart_col([int(r["tokens"]["total"]) for r in rows]))
    return fit_table(cols, width, title=f"{kind} usage ({doc['timezone']})")


def _chart_col(totals: Sequence[int]) -> Col:
    peak = max(totals, default=0) or 1

    def render(width: int) -> list[Text]:
        return [Text("█" * max(1, round(width * t / peak)), style="cyan") for t in totals]

    return Col("", shrink=10, drop=8, natural_width=20, render=render)


def tag_stats_table(
    title: str, rows: Sequence[Any], *, with_tag: bool, with_type: bool, width: int | None
) -> FittedTable:
    """Suggested/accepted/rejected counts per tag, project type or source; counts never cut."""
    cols: list[Col] = []
    if with_tag:
        cols.append(Col("Tag", [r.tag for r in rows], shrink=8))
    if with_type:
        cols.append(Col("Project type", [r.project_type or "-" for r in rows], shrink=8))
    if not with_tag and not with_type:
        cols.append(Col("Source", [r.source or "-" for r in rows], shrink=8))
    for name, attr in (
        ("Suggested", "suggested"),
        ("Accepted", "accepted"),
        ("Rejected", "rejected"),
        ("Applied", "applied"),
    ):
        cols.append(Col(name, [str(getattr(r, attr)) for r in rows], justify="right"))
    rates = ["-" if r.acceptance_rate is None else f"{r.acceptance_rate:.0%}" for r in rows]
    cols.append(Col("Acceptance", rates, justify="right"))
    return fit_table(cols, width, title=title)
