"""`lsm list`'s table, drawn from its plain rows (listing_table.TableData) at a moment and a width.

The normal path and the fast path (fast_list.py, from the rows a quiet listing stored) both draw through
``print_listing``, so a stored listing prints exactly what a scan would: only the ages and the terminal
are taken at the time of drawing. Imports no more than fitted.py does (no typer, no scanner).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from llm_session_manager.cli import screen as screens
from llm_session_manager.cli.fitted import (
    Col,
    FittedTable,
    Step,
    Styled,
    fit_table,
    fit_widths,
    styled,
    table_width,
)
from llm_session_manager.listing_table import TableData, TableRow
from llm_session_manager.present import ago, context_fill

if TYPE_CHECKING:
    from rich.console import Console

BAR_MIN = 5  # a context bar narrower than this says nothing the percentage does not
# What a narrower terminal gives up first: the model, then the agent, the context bar (the percentage
# stays), the project; the title keeps at least 12 characters and takes whatever is left at the end.
SESSION_PLAN: tuple[Step, ...] = (
    ("add", "Title", None),
    ("grow", "Title", 24),
    ("add", "Project", None),
    ("grow", "Status", None),
    ("grow", "Project", None),
    ("grow", "Context", None),
    ("add", "Agent", None),
    ("add", "Model", None),
    ("grow", "Model", None),
    ("grow", "Title", None),
)


def write_listing(data: TableData, now: datetime, every: bool) -> None:
    """The table (or why there is none) and the line under it, on standard output: written straight
    when screen.py can draw it as Rich would, else printed by Rich (``print_listing``)."""
    screen = screens.detect()
    text = _listing_text(data, now, every, screen) if screen is not None else None
    if text is None:
        from llm_session_manager.cli.fitted import console

        print_listing(console(), data, now, every)
        return
    sys.stdout.write(text)
    sys.stdout.flush()


def _listing_text(data: TableData, now: datetime, every: bool, screen: screens.Screen) -> str | None:
    rows = data["rows"]
    if not rows:
        return screens.text_lines(_none_found(every), "", screen)
    table = screens.table_text(draw(data, now, screen.width), screen)
    below = screens.text_lines(_below(data), "dim", screen)
    return None if table is None or below is None else table + below


def print_listing(out: Console, data: TableData, now: datetime, every: bool) -> None:
    """The table (or why there is none) and the line under it, on ``out``."""
    rows = data["rows"]
    if not rows:
        out.print(_none_found(every))
        return
    table = draw(data, now, table_width(out))
    # Rich's cropping measures every line again; it cuts none when the table fits (its columns that are
    # always shown may not, on a narrow terminal).
    out.print(table, crop=table.width > out.width)
    out.print(f"[dim]{_below(data)}[/dim]")


def _none_found(every: bool) -> str:
    return f"No sessions found{'' if every else ' (try --all for older sessions)'}."


def _below(data: TableData) -> str:
    """The line under the table (no markup: it is printed in one style)."""
    return (
        f"{len(data['rows'])} session(s), {data['running']} running. Tokens ≈ = not exact (counted with"
        " tiktoken, or rounded in the agent's log); ? = unknown. Health ~ = estimated."
    )


def draw(data: TableData, now: datetime, width: int | None = None) -> FittedTable:
    """The session table fitted to ``width`` (None: piped, every column whole), with a totals row."""
    rows = data["rows"]
    # Piped, nothing is short of room: whole ids, for scripts (with the agent when two agents share one).
    ids = [r["full_id"] if width is None else r["id"] for r in rows]
    cols = [
        Col("ID", ids, footer="Total"),
        Col("Agent", [r["agent"] for r in rows], drop=3),
        Col("Project", [r["project"] for r in rows], shrink=8, cap=24, drop=2),
        Col("Title", [r["title"] for r in rows], shrink=12, drop=1, fill=True),
        Col("Model", [r["model"] for r in rows], cap=24, drop=4),
        Col(
            "Status",
            [styled(r["status"], r["status_style"]) for r in rows],
            shrink=max((len(r["status_word"]) for r in rows), default=6),
        ),
        _context_col(rows),
        Col("Tokens", [r["tokens"] for r in rows], footer=data["tokens_total"], justify="right"),
        Col("Cost", [r["cost"] for r in rows], footer=data["cost_total"], justify="right"),
        Col("Health", [Styled(r["health"], r["health_style"]) for r in rows], justify="right"),
        Col("Last", [ago(_when(r["last"]), now) for r in rows], justify="right"),
    ]
    count = f"{len(rows)} session{'s' if len(rows) != 1 else ''}"
    _label_totals(cols, count, width)
    return fit_table(cols, width, plan=SESSION_PLAN)


def _when(iso: str | None) -> datetime | None:
    return datetime.fromisoformat(iso) if iso is not None else None


def _label_totals(cols: list[Col], label: str, width: int | None) -> None:
    """The session count goes in the footer of the first text column that shows it whole."""
    widths = fit_widths(cols, width, SESSION_PLAN)
    for c in cols:
        if c.name in ("Title", "Project", "Agent", "Model", "Status") and widths.get(c.name, 0) >= len(label):
            c.footer = label
            return
    for c in cols:  # nowhere wide enough: the status column is widened to hold it
        if c.name == "Status":
            c.footer = label


def _context_col(rows: Sequence[TableRow]) -> Col:
    """The context fill: a 10-cell bar and the percentage, a 5-cell bar when space is short, the
    percentage alone on the narrowest terminals. The percentage is never cut."""
    pcts = [_pct_text(r["context_pct"]) for r in rows]
    pct_width = max((len(p) for p in pcts), default=1)

    def render(width: int) -> list[Styled]:
        bar = min(10, width - pct_width - 1)
        out = []
        for r, pct in zip(rows, pcts, strict=True):
            value = r["context_pct"]
            if value is None:
                out.append(Styled("-", "dim"))
                continue
            drawn, style = context_fill(value, max(bar, 1))
            lead = drawn.rsplit(" ", 1)[0] + " " if bar >= BAR_MIN else ""
            out.append(Styled(f"{lead}{pct:>{pct_width}}", style))
        return out

    return Col(
        "Context",
        shrink=max(pct_width, len("Context")),
        natural_width=10 + 1 + pct_width,
        render=render,
    )


def _pct_text(pct: float | None) -> str:
    return "-" if pct is None else f"{pct:.0f}%"
