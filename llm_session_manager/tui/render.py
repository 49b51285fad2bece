"""The dashboard screen, as a pure function of a snapshot and the view state.

``render(snapshot, state)`` returns a renderable that lays itself out for the console it is printed on
(width and height come from the console at print time, so a resized terminal simply gets the next frame
laid out anew). Top to bottom:

- header: clock, running / total sessions, filters; today's totals and the summed burn rate;
- the session table (one line per session, the selected one marked ``>``), scrolled so the selection is
  visible; columns are dropped from the right of their priority list on narrow terminals;
- the detail pane of the selected session (``Enter`` toggles it): tokens, context and time to compact,
  burn rate, health factors with their reasons, recent errors, the recommendation, the transcript path;
- a footer with the keys, the last message, and the first warning.

``h``/``?`` replaces the table and detail pane with the help. No I/O happens here. Text from the sessions
(titles, ids, paths, models, reasons, warnings) only ever enters a ``Text`` after ``for_terminal``: never
markup, and an escape sequence in a prompt is shown (``␛[2J``), not run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.panel import Panel
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from llm_session_manager.limits import Limit
from llm_session_manager.listing import sort_views
from llm_session_manager.models import SessionView
from llm_session_manager.present import (
    HEALTH_STYLE,
    STATUS_STYLE,
    ago,
    context_fill,
    human_tokens,
    money,
    state_label,
)
from llm_session_manager.safetext import for_terminal
from llm_session_manager.service import is_placeholder, project_name
from llm_session_manager.tui.snapshot import Snapshot


def _context_bar(pct: float | None, width: int = 10) -> Text:
    text, style = context_fill(pct, width)
    return Text(text, style=style)


SORTS = ("last_activity", "context", "health", "burn_rate", "cost", "tokens", "project", "started_at")
SORT_LABELS = {
    "last_activity": "last activity",
    "context": "context fill",
    "health": "health (worst first)",
    "burn_rate": "burn rate",
    "cost": "cost",
    "tokens": "tokens",
    "project": "project",
    "started_at": "start time",
}
SCOPES = ("running", "all")
MARKER = ">"
STATE_STYLE = {
    "waiting": "bold magenta",
    "busy": "bold green",
    "waiting_permission": "bold magenta",
    "waiting_input": "bold magenta",
    "working": "bold green",
    "compacting": "bold yellow",
}

KEYS: tuple[tuple[str, str], ...] = (
    ("q", "quit (Ctrl-C too)"),
    ("r", "refresh now"),
    ("h  ?", "this help (any of h, ?, Esc closes it)"),
    ("↑ ↓  j k", "select a session"),
    ("PgUp PgDn  g G", "a page up / down, first / last"),
    ("Enter", "show / hide the detail pane"),
    ("s", "cycle the sort: " + ", ".join(SORT_LABELS[s] for s in SORTS)),
    ("a", "show all sessions / running ones only"),
)
LEGEND = (
    "Status: active = running and working or written to recently; idle = running, quiet for longer than"
    " idle_minutes; ended = no process. In brackets: what the agent says it does, through its hooks"
    " (working, waiting_permission and the tool, waiting_input, compacting; `lsm hooks install`) or"
    " Claude Code's status file (busy, idle, waiting = needs you).",
    "Tokens: ≈ counted with tiktoken (the agent logs none); ? unknown (no transcript yet).",
    "Health: green healthy, yellow warning, red critical; ~ estimated (context window or tokens guessed).",
    "Today: sessions active since local midnight, with their whole totals. Burn: tokens per minute and"
    " USD per hour over the recent window.",
)


@dataclass(frozen=True)
class ViewState:
    """What the user chose: selected session (by id, so it survives re-sorting), panes, sort, scope."""

    selected: str | None = None
    details: bool = True
    help: bool = False
    sort: str = "last_activity"
    scope: str = "running"
    message: str = ""


def sort_cycle(first: str) -> tuple[str, ...]:
    """The order ``s`` walks through, starting from the configured sort."""
    return SORTS if first in SORTS else (first, *SORTS)


def visible_views(snapshot: Snapshot, state: ViewState) -> list[SessionView]:
    """The table's rows: the scope's sessions in the chosen order."""
    views = [v for v in snapshot.views if state.scope == "all" or v.session.process is not None]
    if state.sort == "burn_rate":
        return sorted(views, key=lambda v: v.burn_rate_tokens_per_min or -1.0, reverse=True)
    return sort_views(views, state.sort)


def selected_index(views: Sequence[SessionView], state: ViewState) -> int:
    """Index of the selected session in ``views``: the first row when it is gone, -1 when none."""
    if not views:
        return -1
    for i, v in enumerate(views):
        if v.session.id == state.selected:
            return i
    return 0


def window(selected: int, count: int, height: int) -> int:
    """First row to show so that ``selected`` is visible, kept near the middle when scrolling."""
    if count <= height or selected < 0:
        return 0
    return max(0, min(selected - height // 2, count - height))


def render(snapshot: Snapshot, state: ViewState) -> RenderableType:
    return Dashboard(snapshot, state)


class Dashboard:
    """Lays the screen out for the size of the console it is printed on."""

    def __init__(self, snapshot: Snapshot, state: ViewState) -> None:
        self.snapshot, self.state = snapshot, state

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        height = options.height or console.height
        opts = options.update(height=None)
        foot = footer(self.snapshot, self.state, width)
        body_height = max(1, height - len(foot))
        body = self.body(console, opts, body_height)
        lines = Segment.set_shape(console.render_lines(body, opts, pad=True), width, body_height)
        lines += [console.render_lines(text, opts, pad=True)[0] for text in foot]
        for line in lines:
            yield from line
            yield Segment.line()

    def body(self, console: Console, options: ConsoleOptions, height: int) -> RenderableType:
        snap, state, width = self.snapshot, self.state, options.max_width
        top = header(snap, width)
        room = height - 2
        if state.help:
            return Group(top, help_panel())
        views = visible_views(snap, state)
        if not views:
            return Group(top, empty_panel(snap, state))
        sel = selected_index(views, state)
        parts: list[RenderableType] = [top]
        # The table keeps up to half the room (all of its rows when fewer); the pane gets the rest.
        keep_rows = min(len(views), max(MIN_TABLE_ROWS, room // 2))
        budget = room - TABLE_CHROME - keep_rows
        pane: list[list[Segment]] = []
        if state.details and budget >= DETAIL_MIN:
            panel = details_panel(views[sel], snap, width)
            pane = console.render_lines(panel, options, pad=False)
            if len(pane) > budget:  # taller than its room: drawn again at that height, border kept
                panel.height = budget
                pane = console.render_lines(panel, options, pad=False)
        rows = max(1, room - TABLE_CHROME - len(pane))
        parts.append(session_table(views, sel, snap, state, width, rows))
        if pane:
            parts.append(Lines(pane))
        return Group(*parts)


class Lines:
    """Lines already rendered (the detail pane, measured once), drawn as they are."""

    def __init__(self, lines: list[list[Segment]]) -> None:
        self.lines = lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in self.lines:
            yield from line
            yield Segment.line()


# ------------------------------------------------------------------------------------------------------
# Header and footer


def header(snap: Snapshot, width: int) -> Text:
    """Two lines: clock, sessions running, filters; today's totals and the summed burn rate."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(" lsm monitor ", style="bold reverse")
    text.append(f"  {snap.time:%H:%M:%S}  ")
    text.append(f"{snap.running} running", style="bold green" if snap.running else "dim")
    text.append(f" of {snap.total} session{_s(snap.total)}")
    if snap.filters:
        text.append(for_terminal("   " + "  ".join(snap.filters)), style="cyan")
    if snap.pending_for is not None:
        text.append(f"   newer data in {snap.pending_for:.0f}s (r: now)", style="yellow")
    t = snap.today
    text.append("\n Today: ", style="bold")
    text.append(f"{t.sessions} session{_s(t.sessions)} · ")
    text.append(("≈" if t.tokens_counted else "") + human_tokens(t.tokens) + " tokens · ")
    text.append(money(t.cost_usd) + ("+?" if t.cost_unknown else ""))
    text.append("    Burn: ", style="bold")
    text.append(burn_text(snap.burn_tokens_per_min, snap.cost_per_hour_usd))
    if t.began_earlier and width >= 110:
        text.append("   (whole sessions; some began before midnight)", style="dim")
    if snap.limits and width >= 100:
        text.append("    Limits: ", style="bold")
        text.append_text(limits_meters(snap.limits, snap.near_percent))
    return text


def limits_meters(limits: Sequence[Limit], near: float) -> Text:
    """ "claude 5h 42% 7d 17% · codex 5h 91%": each agent's current official limits, coloured."""
    text = Text()
    agent = None
    for limit in limits:
        o = limit.observation
        if o.agent != agent:
            text.append((" · " if agent else "") + o.agent.removesuffix("-code") + " ")
            agent = o.agent
        else:
            text.append(" ")
        style = "red" if o.used_percent >= 100 else "yellow" if o.used_percent >= near else "green"
        text.append(f"{for_terminal(o.window)} ")
        text.append(f"{o.used_percent:.0f}%", style=style)
    return text


def burn_text(tokens_per_min: float | None, cost_per_hour: float | None) -> str:
    """ "12k tok/min · $3.10/h", or "-" when nothing is burning."""
    parts = []
    if tokens_per_min is not None:
        parts.append(f"{human_tokens(round(tokens_per_min))} tok/min")
    if cost_per_hour is not None:
        parts.append(f"{money(cost_per_hour)}/h")
    return " · ".join(parts) or "-"


SORT_SHORT = {"last_activity": "last", "burn_rate": "burn", "started_at": "start"}


def footer(snap: Snapshot, state: ViewState, width: int) -> list[Text]:
    """One line of keys (and the last message); one more for the first warning, if any."""
    wide = width >= 110
    sort = SORT_LABELS.get(state.sort, state.sort) if wide else SORT_SHORT.get(state.sort, state.sort)
    scope = {"running": "running only", "all": "all sessions"}[state.scope]
    hints = (
        ("q", "quit"),
        ("r", "refresh"),
        ("↑↓/jk" if wide else "jk", "select"),
        ("Enter" if wide else "⏎", "details"),
        ("s", f"sort: {sort}"),
        ("a", scope if wide else state.scope),
        ("h", "help"),
    )
    keys = Text(no_wrap=True, overflow="ellipsis")
    for key, what in hints:
        keys.append(f" {key} ", style="bold reverse")
        keys.append(f" {what} " if wide else f" {what}")
    if state.message:
        keys.append(f"  {state.message}", style="italic")
    lines = [keys]
    if snap.warnings:
        more = f" (+{len(snap.warnings) - 1} more)" if len(snap.warnings) > 1 else ""
        lines.append(
            Text(
                for_terminal(f" warning: {snap.warnings[0]}{more}"),
                style="yellow",
                no_wrap=True,
                overflow="ellipsis",
            )
        )
    return lines


def _s(n: int) -> str:
    return "" if n == 1 else "s"


# ------------------------------------------------------------------------------------------------------
# The session table

# Columns in the order shown, with the most a cell may take (its text is cut with "…" beyond).
COLUMNS: tuple[tuple[str, int], ...] = (
    ("", 1),
    ("Agent", 12),
    ("ID", 14),
    ("Project", 18),
    ("Model", 16),
    ("Status", 17),
    ("Context", 15),
    ("Tokens", 8),
    ("Cost", 9),
    ("Burn", 15),
    ("Health", 6),
    ("Last", 9),
)
RIGHT = frozenset({"Tokens", "Cost", "Burn", "Health"})
# Left out, in this order, until the table fits the terminal; the rest always stays.
DROP_ORDER = ("Model", "Agent", "Last", "Burn", "Project", "Cost")
SORT_COLUMNS = {
    "last_activity": "Last",
    "context": "Context",
    "health": "Health",
    "burn_rate": "Burn",
    "cost": "Cost",
    "tokens": "Tokens",
    "project": "Project",
}
TABLE_CHROME = 3  # the table's header and rule, and the "more rows" line
MIN_TABLE_ROWS = 3
DETAIL_MIN = 6


def fitting_columns(
    rows: Sequence[dict[str, Text | str]], headers: dict[str, str], width: int
) -> dict[str, int]:
    """The columns to show and their widths: all of them when their widest cells fit ``width``, else
    fewer (DROP_ORDER); when even the essential ones do not fit, the status column gives way."""
    need = {}
    for name, cap in COLUMNS:
        widest = max([cell_len(headers[name])] + [_cell_width(row[name]) for row in rows])
        need[name] = min(cap, widest)
    names = [name for name, _cap in COLUMNS]

    def total() -> int:
        return sum(need[n] for n in names) + 3 * (len(names) - 1)  # " │ " between columns

    for victim in DROP_ORDER:
        if total() <= width:
            break
        names.remove(victim)
    need["Status"] = max(6, need["Status"] - max(0, total() - width))
    return {name: need[name] for name in names}


def _cell_width(cell: Text | str) -> int:
    return cell.cell_len if isinstance(cell, Text) else cell_len(str(cell))


def session_table(
    views: Sequence[SessionView], sel: int, snap: Snapshot, state: ViewState, width: int, rows: int
) -> RenderableType:
    """The sessions from the scroll position, at most ``rows`` of them, and a line saying what is cut.

    Laid out here rather than by ``rich.table.Table``: every row is one line of fixed-width cells, and
    building those directly costs a tenth of a Table's layout, which matters on every frame."""
    start = window(sel, len(views), rows)
    shown = views[start : start + rows]
    bar = 10 if width >= 100 else 5
    cells = [row_cells(view, snap, bar, selected=i == sel) for i, view in enumerate(shown, start)]
    sorted_column = SORT_COLUMNS.get(state.sort)
    headers = {name: name + (" ↓" if name == sorted_column else "") for name, _cap in COLUMNS}
    widths = fitting_columns(cells, headers, width)
    used = sum(widths.values()) + 3 * (len(widths) - 1)
    gap = 3 + max(0, width - used) // max(1, len(widths) - 1)
    head = table_line({n: Text(headers[n]) for n in widths}, widths, gap)
    head.stylize("bold")
    lines = [head, Text("─" * min(width, used + (gap - 3) * (len(widths) - 1)))]
    for i, row in enumerate(cells, start):
        line = table_line(row, widths, gap)
        if i == sel:
            line.stylize("reverse")
        lines.append(line)
    above, below = start, len(views) - start - len(shown)
    note = Text(no_wrap=True, overflow="ellipsis", style="dim")
    if above or below:
        note.append(f" rows {start + 1}-{start + len(shown)} of {len(views)}")
        note.append(f"  ↑ {above} more" if above else "")
        note.append(f"  ↓ {below} more" if below else "")
    lines.append(note)
    return Group(*lines)


def table_line(cells: dict[str, Text | str], widths: dict[str, int], gap: int) -> Text:
    """One table row: each cell cut ("…") or padded to its column's width, columns ``gap`` apart."""
    line = Text(no_wrap=True, overflow="ellipsis")
    for k, (name, width) in enumerate(widths.items()):
        cell = cells[name]
        text = cell.copy() if isinstance(cell, Text) else Text(str(cell))
        text.truncate(width, overflow="ellipsis")
        text.align("right" if name in RIGHT else "left", width)
        if k:
            line.append(" " * gap)
        line.append_text(text)
    return line


def row_cells(view: SessionView, snap: Snapshot, bar: int, selected: bool) -> dict[str, Text | str]:
    s = view.session
    label = state_label(view)
    status = Text(view.status, style=STATUS_STYLE.get(view.status, ""))
    if label:
        status.append(for_terminal(f" ({label[0]})"), style=STATE_STYLE.get(label[1], ""))
    cells: dict[str, Text | str] = {
        "": MARKER if selected else "",
        "Agent": s.agent,
        "ID": snap.short_ids.get(s.id, s.native_id[:8]),
        "Project": project_name(view) or "-",
        "Model": short_model(s.model),
        "Status": status,
        "Context": _context_bar(view.context_pct, bar),
        "Tokens": tokens_text(view),
        "Cost": money(view.cost_usd) if not is_placeholder(s) else "?",
        "Burn": burn_cell(view),
        "Health": Text(
            f"{view.health.score:.0f}{'~' if view.health.estimated else ''}",
            style=HEALTH_STYLE.get(view.health.status, ""),
        ),
        "Last": ago(s.last_activity, snap.time),
    }
    return {name: for_terminal(c) if isinstance(c, str) else c for name, c in cells.items()}


def short_model(model: str | None) -> str:
    """ "claude-sonnet-4-5-20250929" -> "sonnet-4-5": no vendor prefix, no date (the pane has it all)."""
    if not model:
        return "-"
    name = model.removeprefix("claude-")
    head, _, tail = name.rpartition("-")
    return head if len(tail) == 8 and tail.isdigit() and head else name


def tokens_text(view: SessionView) -> str:
    """As `lsm list` shows them: exact as they are, counted ones with "≈", unreadable ones "?"."""
    s = view.session
    if is_placeholder(s):
        return "?"
    return ("" if s.tokens.source == "exact" else "≈") + human_tokens(s.tokens.total)


def burn_cell(view: SessionView) -> str:
    parts = []
    if view.burn_rate_tokens_per_min is not None:
        parts.append(f"{human_tokens(round(view.burn_rate_tokens_per_min))}/m")
    if view.cost_per_hour_usd is not None:
        parts.append(f"{money(view.cost_per_hour_usd)}/h")
    return " ".join(parts) or "-"


# ------------------------------------------------------------------------------------------------------
# The detail pane


def details_panel(view: SessionView, snap: Snapshot, width: int) -> Panel:
    """Everything about the selected session: two columns on a wide terminal; on a narrow one the
    health summary and the advice come first, as the pane may be cut at the bottom."""
    head, factors = health_lines(view)
    advice = advice_lines(view, snap)
    if width >= 120:
        grid = Table.grid(expand=True, padding=(0, 2))
        grid.add_column(ratio=1, overflow="ellipsis")
        grid.add_column(ratio=1, overflow="fold")
        column = (width - 4 - 4) // 2  # the panel's border and padding, then the gap between columns
        grid.add_row(Group(*session_lines(view, snap, column)), Group(*head, *factors, *advice))
        body: RenderableType = grid
    else:
        body = Group(*head, *advice, *session_lines(view, snap, width - 4), *factors)
    s = view.session
    title = Text(for_terminal(f" {s.id} "), style="bold")
    if s.title:
        title.append(for_terminal(f" {s.title[:60]} "))
    return Panel(body, title=title, title_align="left", box=box.ROUNDED, padding=(0, 1))


def _line(*parts: tuple[str, str] | str) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    for part in parts:
        if isinstance(part, tuple):
            text.append(for_terminal(part[0]), style=part[1])
        else:
            text.append(for_terminal(part))
    return text


def keep_tail(path: str, room: int) -> str:
    """A path cut at the front ("…/work/app") to ``room`` cells: its end says the most."""
    if cell_len(path) <= room or room < 2:
        return path
    return "…" + path[-(room - 1) :]


def session_lines(view: SessionView, snap: Snapshot, width: int) -> list[Text]:
    """The session's facts, in lines of at most ``width`` cells (paths are cut at the front)."""
    s, now = view.session, snap.time
    proc = s.process
    label = state_label(view, full=True)
    status = view.status + (f" ({label[0]})" if label else "")
    branch = f"  branch {s.git_branch}" if s.git_branch else ""
    lines = [
        _line(
            ("project ", "dim"),
            keep_tail(s.project_path or "-", width - 8 - len(branch)),
            *((("  branch ", "dim"), s.git_branch) if s.git_branch else ()),
        ),
        _line(
            ("model ", "dim"),
            s.model or "-",
            ("  status ", "dim"),
            (status, STATUS_STYLE.get(view.status, "")),
            *((("  pid ", "dim"), str(proc.pid)) if proc else ()),
        ),
        _line(
            ("started ", "dim"),
            ago(s.started_at, now),
            ("  last activity ", "dim"),
            ago(s.last_activity, now),
        ),
        *tokens_lines(view),
        _line(("context ", "dim"), context_line(view)),
        _line(("burn ", "dim"), burn_text(view.burn_rate_tokens_per_min, view.cost_per_hour_usd)),
        _line(("errors ", "dim"), errors_line(view)),
    ]
    if view.tags or view.description:
        lines.append(_line(("tags ", "dim"), ", ".join(view.tags) or "-", ("  ", ""), view.description or ""))
    paths = s.transcript_paths
    more = f" (+{len(paths) - 1} more)" if len(paths) > 1 else ""
    lines.append(
        _line(("transcript ", "dim"), keep_tail(paths[0] if paths else "-", width - 11 - len(more)) + more)
    )
    return lines


def tokens_lines(view: SessionView) -> list[Text]:
    """The total with its source and cost, then the four parts."""
    s = view.session
    if is_placeholder(s):
        return [_line(("tokens ", "dim"), "unknown (no transcript read yet)")]
    t = s.tokens
    source = {"exact": "exact", "counted": "counted with tiktoken"}.get(t.source, t.source)
    return [
        _line(("tokens ", "dim"), f"{t.total:,} ({source}) · cost {money(view.cost_usd)}"),
        _line(
            ("  in ", "dim"),
            f"{t.input:,}",
            ("  out ", "dim"),
            f"{t.output:,}",
            ("  cache write ", "dim"),
            f"{t.cache_creation:,}",
            ("  cache read ", "dim"),
            f"{t.cache_read:,}",
        ),
    ]


def context_line(view: SessionView) -> str:
    s = view.session
    if s.context_tokens is None:
        return "-"
    text = f"{s.context_tokens:,}"
    if s.context_window:
        text += f" of {s.context_window:,}"
        if view.context_pct is not None:
            text += f" ({view.context_pct:.0f}%)"
    if view.compact_at:
        text += f" · compacts at {view.compact_at:,}"
        if view.minutes_to_compact == 0:
            text += " (reached)"
        elif view.minutes_to_compact is not None:
            text += f" in ~{duration(view.minutes_to_compact)}"
    return text


def duration(minutes: float) -> str:
    if minutes < 1:
        return "<1 min"
    if minutes < 120:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h"


def errors_line(view: SessionView) -> str:
    s = view.session
    parts = []
    recent = s.recent_tool_results
    failed = sum(1 for r in recent if r)
    if s.tool_errors or failed:
        last = f" ({failed} of the last {len(recent)} results)" if recent else ""
        parts.append(f"{s.tool_errors} tool error{_s(s.tool_errors)}{last}")
    if s.repeated_failures >= 2:
        parts.append(f"same command failed {s.repeated_failures}x in a row")
    if s.api_errors:
        parts.append(f"{s.api_errors} API error{_s(s.api_errors)} ({s.recent_api_errors} in the last 30 min)")
    if s.interruptions:
        parts.append(f"{s.interruptions} interruption{_s(s.interruptions)}")
    parts += list(s.fatal_signals)
    return " · ".join(parts) or "none"


def health_lines(view: SessionView) -> tuple[list[Text], list[Text]]:
    """(the score with its caps and warnings, one line per factor with its reason)."""
    h = view.health
    style = HEALTH_STYLE.get(h.status, "")
    head = [
        _line(
            ("health ", "dim"),
            (f"{h.score:.0f}/100 {h.status}", f"bold {style}".strip()),
            (" (estimated)" if h.estimated else "", "dim"),
        )
    ]
    head += [Text(for_terminal(f"  capped: {cap}"), style="red", overflow="fold") for cap in h.caps]
    head += [Text(for_terminal(f"  warning: {w}"), style="yellow", overflow="fold") for w in view.warnings]
    factors = []
    for f in h.factors:
        fstyle = "green" if f.score >= 70 else "yellow" if f.score >= 40 else "red"
        text = Text(overflow="fold")
        text.append(f"  {f.name:<9}", style="dim")
        text.append(f"{f.score:>4.0f}", style=fstyle)
        text.append(for_terminal(f"  {f.reason}"))
        factors.append(text)
    return head, factors


def advice_lines(view: SessionView, snap: Snapshot) -> list[Text]:
    """The recommendations naming this session (see ``recommend.py``)."""
    out: list[Text] = []
    for rec in snap.recommendations:
        if view.session.id not in tuple(getattr(rec, "session_ids", ())):
            continue
        severity = str(getattr(rec, "severity", ""))
        style = {"critical": "bold red", "warning": "yellow"}.get(severity, "cyan")
        text = Text(overflow="fold")
        text.append(for_terminal(f"{getattr(rec, 'kind', 'advice')}: "), style=style)
        text.append(for_terminal(str(getattr(rec, "reason", ""))))
        out.append(text)
        action = str(getattr(rec, "action", ""))
        if action:
            out.append(Text(for_terminal(f"  → {action}"), style="bold", overflow="fold"))
    return out


# ------------------------------------------------------------------------------------------------------
# Help and empty screens


def help_panel() -> Panel:
    keys = Table.grid(padding=(0, 2))
    keys.add_column(style="bold", no_wrap=True)
    keys.add_column(overflow="fold")
    for key, what in KEYS:
        keys.add_row(key, what)
    legend = [Text(line, overflow="fold") for line in LEGEND]
    return Panel(
        Group(keys, Text(""), *legend),
        title=" Help: keys ",
        title_align="left",
        subtitle=" h, ? or Esc to close ",
        box=box.ROUNDED,
    )


def empty_panel(snap: Snapshot, state: ViewState) -> Panel:
    if snap.total and state.scope == "running":
        past = f"{snap.total:,} past session{_s(snap.total)}"
        body = Group(
            Text("No agent is running right now.", style="bold"),
            Text(f"{past} on this machine: press a to show them all."),
            Text("A session appears here as soon as its agent starts (Claude Code, Codex, Gemini CLI, ...)."),
        )
        return Panel(body, box=box.ROUNDED, padding=(1, 2))
    if snap.filters:
        body = Group(
            Text(for_terminal("No session matches " + " ".join(snap.filters) + "."), style="bold"),
            Text("Quit (q) and start `lsm monitor` without the filter, or check `lsm list --all`."),
        )
        return Panel(body, box=box.ROUNDED, padding=(1, 2))
    lines = [
        Text("No AI coding sessions on this machine yet.", style="bold"),
        Text(
            "Start Claude Code, Codex, Gemini CLI, Cursor, Copilot, Aider or Cline: their sessions"
            " show up here at the next refresh."
        ),
    ]
    if snap.roots:
        lines.append(Text("\nlsm looks in:", style="dim"))
        for path, exists in snap.roots[:10]:
            line = for_terminal(f"  {path}" + ("" if exists else "  (not there)"))
            lines.append(Text(line, style="dim", no_wrap=True))
        if len(snap.roots) > 10:
            lines.append(Text(f"  and {len(snap.roots) - 10} more (see `lsm info`)", style="dim"))
    return Panel(Group(*lines), box=box.ROUNDED, padding=(1, 2))
