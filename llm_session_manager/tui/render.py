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

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.panel import Panel
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from llm_session_manager.limits import Limit, countdown
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
from llm_session_manager.resume import resume_command
from llm_session_manager.safetext import for_terminal, without_secrets
from llm_session_manager.service import is_placeholder, project_name
from llm_session_manager.tui.query import matches, parse_query
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
NEEDS_YOU = frozenset({"waiting", "waiting_permission", "waiting_input"})
SPARK = "▁▂▃▄▅▆▇█"
SPARK_CHARS, SPARK_MINUTES = 15, 2  # the Activity column: 15 characters of 2 minutes = the last 30 min

KEYS: tuple[tuple[str, str], ...] = (
    ("q", "quit (Ctrl-C too)"),
    ("r", "refresh now"),
    ("h  ?", "this help (any of h, ?, Esc closes it)"),
    ("↑ ↓  j k", "select a session"),
    ("PgUp PgDn  g G", "a page up / down, first / last"),
    ("Enter", "show / hide the detail pane"),
    ("/", "filter: words, agent:NAME status:STATUS project:NAME tag:TAG (Enter keeps it, Esc clears)"),
    ("/ Tab", "search what was said in every session (lsm grep; FTS5 syntax; Enter searches, Esc clears)"),
    ("Esc", "clear the filter"),
    ("s", "cycle the sort: " + ", ".join(SORT_LABELS[s] for s in SORTS)),
    ("S", "reverse the sort (the arrow in the sorted column turns)"),
    ("a", "show all sessions / running ones only"),
    ("t", "tag the selected session (type tags, Enter)"),
    ("d", "describe the selected session (opens on the current description; Enter saves, empty clears)"),
    ("e", "export a Markdown hand-off of the selected session (the path is shown)"),
    ("c", "close the selected session: mark it closed and end its process (asks y/N first)"),
    ("y", "copy the resume command (or the id) to the clipboard (OSC 52) and show it"),
    ("Y", "copy the session id"),
    ("o", "open the transcript in $PAGER (default less); quit the pager to come back"),
)
LEGEND = (
    "Status: active = running and working or written to recently; idle = running, quiet for longer than"
    " idle_minutes; ended = no process. In brackets: what the agent says it does, through its hooks"
    " (working, compacting, needs you: the tool waiting for approval or a question; `lsm hooks install`)"
    " or Claude Code's status file (busy, idle, needs you).",
    "Tokens: ≈ counted with tiktoken (the agent logs none); ? unknown (no transcript yet).",
    "Health: green healthy, yellow warning, red critical; ~ estimated (context window or tokens guessed).",
    "Today: tokens and cost of the replies since local midnight (as `lsm report daily`). Burn: tokens per"
    " minute and USD per hour of the running sessions over the last 30 minutes; Activity: their tokens"
    " per 2 minutes over the same window.",
    "Limits: the agents' own 5 h / 7 d figures (`lsm budget`), the time to their reset after ↻.",
)


@dataclass(frozen=True)
class Prompt:
    """A line being typed: a filter, tags, a description, or the y/N of a close (``detail`` says what
    closing does). ``target`` is the session acted on, fixed when the prompt opened."""

    kind: str  # "filter" | "content" | "tag" | "describe" | "close"
    text: str = ""
    target: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class ViewState:
    """What the user chose: selected session (by id, so it survives re-sorting), panes, sort and its
    direction, scope, filter, and the prompt being typed."""

    selected: str | None = None
    details: bool = True
    help: bool = False
    sort: str = "last_activity"
    scope: str = "running"
    message: str = ""
    reverse: bool = False
    filter: str = ""
    prompt: Prompt | None = None
    # A search of what was said (`/` then Tab): its query, and the sessions that match, best first.
    content: str = ""
    content_ids: tuple[str, ...] = ()


def sort_cycle(first: str) -> tuple[str, ...]:
    """The order ``s`` walks through, starting from the configured sort."""
    return SORTS if first in SORTS else (first, *SORTS)


class _LastRows:
    """The rows of the last (sessions, scope, filter, sort) asked for: the loop and the render ask for
    the same rows several times a frame, and a quiet tick's snapshot keeps the same sessions (only its
    clock moves), so filtering and sorting thousands of sessions is done once per collect and view. The
    sessions are held, so an ``is`` test is enough to know they are the same."""

    def __init__(self) -> None:
        self.views: tuple[SessionView, ...] | None = None
        self.key: tuple[object, ...] = ()
        self.rows: list[SessionView] = []


_LAST_ROWS = _LastRows()


def visible_views(snapshot: Snapshot, state: ViewState) -> list[SessionView]:
    """The table's rows: the scope's sessions that pass the filter, in the chosen order."""
    key = (state.scope, state.filter, state.sort, state.reverse, state.content, state.content_ids)
    last = _LAST_ROWS
    if last.views is not snapshot.views or last.key != key:
        last.views, last.key, last.rows = snapshot.views, key, _visible_views(snapshot, state)
    return list(last.rows)


def _visible_views(snapshot: Snapshot, state: ViewState) -> list[SessionView]:
    query = parse_query(state.filter)
    said = set(state.content_ids) if state.content else None  # a content search looks at every session
    views = [
        v
        for v in snapshot.views
        if (said is not None or state.scope == "all" or v.session.process is not None)
        and (said is None or v.session.id in said)
        and (not query or matches(v, query))
    ]
    if state.sort == "burn_rate":
        ordered = sorted(views, key=lambda v: _burn_of(v) or -1.0, reverse=True)
    else:
        ordered = sort_views(views, state.sort)
    return ordered[::-1] if state.reverse else ordered


def _burn_of(view: SessionView) -> float | None:
    """The burn rate shown: a running session's only (an ended one is not spending)."""
    return view.burn_rate_tokens_per_min if view.session.process is not None else None


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
        room = height - len(top.plain.split("\n"))
        if state.help:
            return Group(top, help_panel())
        if snap.loading:
            return Group(top, loading_panel(snap))
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
    """Two lines, three with limit figures: clock, sessions running, filters; today's spend and the
    running sessions' burn rate; each agent's official limits with their reset countdown."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(" lsm monitor ", style="bold reverse")
    text.append(f"  {snap.time:%H:%M:%S}  ")
    if snap.loading:
        text.append("reading the agents' logs…", style="bold yellow")
        if snap.progress is not None and snap.progress.bytes:
            p = snap.progress
            text.append(f" {min(100, 100 * p.bytes_done // p.bytes)}%", style="bold yellow")
    else:
        text.append(f"{snap.running} running", style="bold green" if snap.running else "dim")
        text.append(f" of {snap.total} session{_s(snap.total)}")
    if snap.filters:
        text.append(for_terminal("   " + "  ".join(snap.filters)), style="cyan")
    if snap.pending_for is not None:
        text.append(f"   newer data in {snap.pending_for:.0f}s (r: now)", style="yellow")
    t = snap.today
    text.append("\n Today: ", style="bold")
    text.append(money(t.cost_usd) + ("+?" if t.cost_unknown else ""), style="bold")
    text.append(" · " + ("≈" if t.tokens_counted else "") + human_tokens(t.tokens) + " tokens")
    text.append(f" · {t.sessions} session{_s(t.sessions)}")
    if width >= 110:
        text.append(" (by reply time)", style="dim")
    text.append("    Burn: ", style="bold")
    text.append(burn_text(snap.burn_tokens_per_min, snap.cost_per_hour_usd))
    if width >= 110:
        text.append(" (running)", style="dim")
    if snap.limits:
        text.append("\n Limits: ", style="bold")
        text.append_text(limits_meters(snap.limits, snap.near_percent, snap.time, bars=width >= 140))
    return text


def limits_meters(limits: Sequence[Limit], near: float, now: datetime, *, bars: bool = True) -> Text:
    """ "claude 5h ████░░░░ 42% ↻2h 05m  7d 17% ↻3d 4h · codex 5h 91% ↻1h 10m": each agent's current
    official limits, coloured by how full, with the time to their reset."""
    text = Text()
    agent = None
    for limit in limits:
        o = limit.observation
        if o.agent != agent:
            text.append((" · " if agent else "") + for_terminal(o.agent.removesuffix("-code")) + " ")
            agent = o.agent
        else:
            text.append("  ")
        style = "red" if o.used_percent >= 100 else "yellow" if o.used_percent >= near else "green"
        text.append(f"{for_terminal(o.window)} ")
        if bars:
            filled = max(0, min(8, round(o.used_percent / 100 * 8)))
            text.append("█" * filled + "░" * (8 - filled) + " ", style=style)
        text.append(f"{o.used_percent:.0f}%", style=style)
        if o.resets_at is not None:
            text.append(f" ↻{countdown(o.resets_at - now)}", style="dim")
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
PROMPT_TITLES = {
    "filter": "Filter",
    "content": "Search what was said",
    "tag": "Tags for {id}",
    "describe": "Description of {id}",
}


def footer(snap: Snapshot, state: ViewState, width: int) -> list[Text]:
    """The prompt being typed, or one line of keys (and the last message); one more for the first
    warning, if any."""
    lines = [prompt_line(state, snap, width) if state.prompt else keys_line(state, width)]
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


def keys_line(state: ViewState, width: int) -> Text:
    """The last message first (what an action did), then as many key hints as fit, the most useful
    first; ``?`` lists them all."""
    wide = width >= 110
    sort = SORT_LABELS.get(state.sort, state.sort) if wide else SORT_SHORT.get(state.sort, state.sort)
    sort += " ↑" if state.reverse else ""
    scope = {"running": "running only", "all": "all sessions"}[state.scope]
    hints = [
        ("q", "quit"),
        ("?", "help"),
        ("/", _slash_hint(state)),
        ("s", f"sort: {sort}"),
        ("a", scope if wide else state.scope),
    ]
    if wide:
        hints += [("S", "reverse"), ("⏎", "details"), ("t", "tag"), ("d", "describe"), ("e", "export")]
        hints += [("c", "close"), ("y", "copy"), ("o", "open"), ("r", "refresh")]
    keys = Text(no_wrap=True, overflow="ellipsis")
    if state.message:
        keys.append(for_terminal(f" {state.message} "), style="bold italic")
        keys.append(" ")
    for key, what in hints:
        piece = f" {for_terminal(what)} " if wide else f" {for_terminal(what)}"
        if keys.cell_len + len(key) + 2 + cell_len(piece) > width and key not in ("q", "?"):
            break
        keys.append(f" {key} ", style="bold reverse")
        keys.append(piece)
    return keys


def _slash_hint(state: ViewState) -> str:
    if state.content:
        return f"said: {state.content}"
    return f"filter: {state.filter}" if state.filter else "filter"


def prompt_line(state: ViewState, snap: Snapshot, width: int) -> Text:
    """ "Filter: agent:codex jwt▏  Enter keep · Esc clear", or "Close 5f0c2b1e?  y  closes, …"."""
    prompt = state.prompt
    assert prompt is not None
    shown = snap.short_ids.get(prompt.target or "", prompt.target or "")
    line = Text(no_wrap=True, overflow="ellipsis")
    if prompt.kind == "close":  # the answer first: on a narrow terminal the detail is what gets cut
        line.append(for_terminal(f" Close {shown}? "), style="bold red")
        line.append(" y ", style="bold reverse")
        line.append(" closes, any other key cancels: ")
        line.append(for_terminal(prompt.detail))
        return line
    title = PROMPT_TITLES.get(prompt.kind, prompt.kind).format(id=shown)
    line.append(for_terminal(f" {title}: "), style="bold")
    line.append(for_terminal(prompt.text))
    line.append("▏", style="blink")
    help_text = {
        "filter": "Enter keep · Tab search what was said · Esc clear",
        "content": "Enter search · Tab back to the filter · Esc clear",
    }.get(prompt.kind, "Enter save · Esc cancel")
    line.append(f"   {help_text}", style="dim")
    return line


def _s(n: int) -> str:
    return "" if n == 1 else "s"


# ------------------------------------------------------------------------------------------------------
# The session table

# Columns in the order shown, with the most a cell may take (its text is cut with "…" beyond). The
# title takes what the others leave, from TITLE_MIN up to its cap.
COLUMNS: tuple[tuple[str, int], ...] = (
    ("", 1),
    ("ID", 40),
    ("Title", 60),
    ("Project", 18),
    ("Agent", 12),
    ("Model", 16),
    ("Status", 20),
    ("Context", 16),
    ("Tokens", 8),
    ("Cost", 12),
    ("Burn", 20),
    ("Activity", SPARK_CHARS),
    ("Health", 6),
    ("Last", 9),
    ("Started", 9),
)
RIGHT = frozenset({"Tokens", "Cost", "Burn", "Health"})
# Left out, in this order, until the table fits the terminal; the marker, Title, Project, Status and
# Context always stay, and so does the sorted column. The caps above are wider than any figure (an id
# prefix, a cost, a rate), so a number is shown whole or its column is left out, never cut.
DROP_ORDER = ("Started", "Model", "Agent", "Activity", "Burn", "Last", "Cost", "Tokens", "Health", "ID")
SORT_COLUMNS = {
    "last_activity": "Last",
    "context": "Context",
    "health": "Health",
    "burn_rate": "Burn",
    "cost": "Cost",
    "tokens": "Tokens",
    "project": "Project",
    "started_at": "Started",
}
GAP = 2  # spaces between columns, at the least
TITLE_MIN = 14
TABLE_CHROME = 3  # the table's header and rule, and the "more rows" line
MIN_TABLE_ROWS = 3
DETAIL_MIN = 6


def fitting_columns(
    rows: Sequence[dict[str, Text | str]], headers: dict[str, str], width: int, keep: str | None = None
) -> dict[str, int]:
    """The columns to show and their widths: all of them when they fit ``width`` with the title at its
    least, else fewer (DROP_ORDER, never ``keep``); then the title grows into what is left. When even
    the essential ones do not fit, the status and the project give way."""
    need = {}
    for name, cap in COLUMNS:
        widest = max([0] + [_cell_width(row[name]) for row in rows])
        need[name] = max(cell_len(headers[name]), min(cap, widest))  # a header (and its arrow) is never cut
    title_want = need["Title"]
    # The title's least share grows with the terminal: on a wide one it wins over the minor columns.
    need["Title"] = min(title_want, max(TITLE_MIN, width // 5))
    names = [name for name, _cap in COLUMNS]

    def total() -> int:
        return sum(need[n] for n in names) + GAP * (len(names) - 1)

    for victim in DROP_ORDER:
        if total() <= width:
            break
        if victim != keep:
            names.remove(victim)
    need["Title"] = min(title_want, need["Title"] + max(0, width - total()))
    for name, least in (("Status", 6), ("Project", 8), ("Title", 6)):
        over = total() - width
        if over > 0 and need[name] > least:
            need[name] = max(least, need[name] - over)
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
    bar = 10 if width >= 120 else 5
    compact = width < 120
    cells = [row_cells(view, snap, bar, i == sel, compact) for i, view in enumerate(shown, start)]
    sorted_column = SORT_COLUMNS.get(state.sort)
    arrow = " ↑" if state.reverse else " ↓"
    headers = {name: name + (arrow if name == sorted_column else "") for name, _cap in COLUMNS}
    widths = fitting_columns(cells, headers, width, keep=sorted_column)
    used = sum(widths.values()) + GAP * (len(widths) - 1)
    gap = GAP + min(2, max(0, width - used) // max(1, len(widths) - 1))
    head = table_line({n: Text(headers[n]) for n in widths}, widths, gap)
    head.stylize("bold")
    lines = [head, Text("─" * min(width, used + (gap - GAP) * (len(widths) - 1)))]
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
    if state.filter:
        note.append(for_terminal(f"  filter: {state.filter}"), style="cyan")
    if state.content:
        note.append(for_terminal(f"  said: {state.content}"), style="cyan")
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


def shown_state(view: SessionView, *, full: bool = False) -> tuple[str, str] | None:
    """(text, style key) of the agent's own state as the monitor words it: every waiting state is
    "needs you" (with the tool or question after a colon); nothing when it only repeats the status
    (an idle session whose agent says idle)."""
    label = state_label(view, full=full)
    if label is None:
        return None
    text, key = label
    if key in NEEDS_YOU:
        rest = text[len(key) :].strip() if text.startswith(key) else ""
        text = "needs you" + (f": {rest}" if rest else "")
    if text == view.status:
        return None
    return text, key


def status_cell(view: SessionView, compact: bool) -> Text:
    """ "active (needs you)"; on a narrow terminal only the agent's state when it has one ("needs you")."""
    label = shown_state(view)
    if compact and label:
        return Text(for_terminal(label[0]), style=STATE_STYLE.get(label[1], ""))
    status = Text(view.status, style=STATUS_STYLE.get(view.status, ""))
    if label:
        status.append(for_terminal(f" ({label[0]})"), style=STATE_STYLE.get(label[1], ""))
    return status


def row_cells(
    view: SessionView, snap: Snapshot, bar: int, selected: bool, compact: bool = False
) -> dict[str, Text | str]:
    s = view.session
    cells: dict[str, Text | str] = {
        "": MARKER if selected else "",
        "ID": snap.short_ids.get(s.id, s.native_id[:8]),
        "Title": without_secrets(s.title) or "-",
        "Project": project_name(view) or "-",
        "Agent": s.agent,
        "Model": short_model(s.model),
        "Status": status_cell(view, compact),
        "Context": _context_bar(view.context_pct, bar),
        "Tokens": tokens_text(view),
        "Cost": money(view.cost_usd) if not is_placeholder(s) else "?",
        "Burn": burn_cell(view),
        "Activity": Text(sparkline(view, snap.time), style="cyan"),
        "Health": Text(
            f"{view.health.score:.0f}{'~' if view.health.estimated else ''}",
            style=HEALTH_STYLE.get(view.health.status, ""),
        ),
        "Last": ago(s.last_activity, snap.time),
        "Started": ago(s.started_at, snap.time),
    }
    return {name: for_terminal(c) if isinstance(c, str) else c for name, c in cells.items()}


def sparkline(view: SessionView, now: datetime, chars: int = SPARK_CHARS, step: int = SPARK_MINUTES) -> str:
    """A running session's tokens per ``step`` minutes over the last ``chars * step`` minutes, as
    block characters scaled to its own busiest step (a blank step: nothing billed). Empty for a session
    that is not running, or that billed nothing in the window."""
    if view.session.process is None:
        return ""
    end = int(now.timestamp() // 60) + 1
    start = end - chars * step
    sums = [0] * chars
    for minute, _model, inp, out, cc, cr in view.session.usage_buckets:
        if start <= minute < end:
            sums[(minute - start) // step] += inp + out + cc + cr
    top = max(sums)
    if not top:
        return ""
    return "".join(" " if v == 0 else SPARK[min(7, max(0, math.ceil(v / top * 8) - 1))] for v in sums)


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
    """A running session's burn rate; "-" for one that is not running (it spends nothing now)."""
    if view.session.process is None:
        return "-"
    parts = []
    if view.burn_rate_tokens_per_min is not None:
        parts.append(f"{human_tokens(round(view.burn_rate_tokens_per_min))}/m")
    if view.cost_per_hour_usd is not None:
        parts.append(f"{money(view.cost_per_hour_usd)}/h")
    return " ".join(parts) or "-"


# ------------------------------------------------------------------------------------------------------
# The detail pane


def details_panel(view: SessionView, snap: Snapshot, width: int) -> Panel:
    """Everything about the selected session, facts first: on a wide terminal the facts on the left and
    health with the advice on the right; on a narrow one the facts, then health and advice."""
    head, factors = health_lines(view)
    advice = advice_lines(view, snap)
    if width >= 120:
        grid = Table.grid(expand=True, padding=(0, 2))
        grid.add_column(ratio=1, overflow="ellipsis")
        grid.add_column(ratio=1, overflow="fold")
        column = (width - 4 - 4) // 2  # the panel's border and padding, then the gap between columns
        grid.add_row(Group(*session_lines(view, snap, column)), Group(*head, *advice, *factors))
        body: RenderableType = grid
    else:
        body = Group(*session_lines(view, snap, width - 4), *head, *advice, *factors)
    s = view.session
    title = Text(for_terminal(f" {s.id} "), style="bold")
    if s.title:
        title.append(for_terminal(f" {(without_secrets(s.title) or '')[:60]} "))
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
    label = shown_state(view, full=True)
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
        _line(("burn ", "dim"), burn_text(_burn_of(view), view.cost_per_hour_usd if proc else None)),
        _line(("errors ", "dim"), errors_line(view)),
    ]
    command = resume_command(s)
    if command:
        lines.append(_line(("resume ", "dim"), command))
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
    """The recommendations naming this session (see ``recommend.py``), sessions named by short id."""
    out: list[Text] = []
    for rec in snap.recommendations:
        ids = tuple(getattr(rec, "session_ids", ()))
        if view.session.id not in ids:
            continue
        severity = str(getattr(rec, "severity", ""))
        style = {"critical": "bold red", "warning": "yellow"}.get(severity, "cyan")
        text = Text(overflow="fold")
        text.append(for_terminal(f"{getattr(rec, 'kind', 'advice')}: "), style=style)
        text.append(for_terminal(with_short_ids(str(getattr(rec, "reason", "")), ids, snap)))
        out.append(text)
        action = with_short_ids(str(getattr(rec, "action", "")), ids, snap)
        if action:
            out.append(Text(for_terminal(f"  → {action}"), style="bold", overflow="fold"))
    return out


def with_short_ids(text: str, ids: Sequence[str], snap: Snapshot) -> str:
    """``text`` with each session id in ``ids`` (whole, or its native part) written as its short id:
    every lsm command accepts it, and a screen of 36-character UUIDs says less."""
    by_native = {sid.partition(":")[2]: snap.short_ids.get(sid) for sid in ids}
    for sid in sorted(ids, key=len, reverse=True):
        short = snap.short_ids.get(sid)
        if short:
            text = text.replace(sid, short)
    for native, short in sorted(by_native.items(), key=lambda kv: len(kv[0]), reverse=True):
        if native and short:
            text = text.replace(native, short)
    return text


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


def loading_panel(snap: Snapshot) -> Panel:
    lines = [
        Text("Reading the agents' logs…", style="bold"),
        Text("The first scan of a long history takes a few seconds; the sessions appear here when it ends."),
    ]
    p = snap.progress
    if p is not None and p.files:
        done = p.bytes_done / p.bytes if p.bytes else p.files_done / p.files
        filled = max(0, min(30, round(done * 30)))
        line = Text("\n")
        line.append("█" * filled + "░" * (30 - filled), style="yellow")
        line.append(f"  {p.files_done:,} of {p.files:,} files · {_mb(p.bytes_done)} of {_mb(p.bytes)} MB")
        lines.append(line)
    return Panel(Group(*lines), box=box.ROUNDED, padding=(1, 2))


def _mb(nbytes: int) -> str:
    return f"{nbytes / 1_000_000:,.1f}"


def empty_panel(snap: Snapshot, state: ViewState) -> Panel:
    if state.content:
        body = Group(
            Text(for_terminal(f"No session mentions '{state.content}'."), style="bold"),
            Text("Esc clears the search; / then Tab searches again."),
        )
        return Panel(body, box=box.ROUNDED, padding=(1, 2))
    if state.filter:
        where = "running sessions (a: all sessions)" if state.scope == "running" else "all sessions"
        body = Group(
            Text(for_terminal(f"No session matches the filter '{state.filter}' in {where}."), style="bold"),
            Text("Esc clears the filter; / changes it."),
        )
        return Panel(body, box=box.ROUNDED, padding=(1, 2))
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
