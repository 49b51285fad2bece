"""Rich tables for sessions, health, reports and tag statistics. Formatting helpers are pure.

Text from transcripts, imports or the user (titles, ids, paths, model names, reasons) goes into a table
as ``cell(text)`` or through ``SafeTable``, and into a markup string only through ``markup_safe``: it is
never read as Rich markup, and its control characters are shown, not sent (``safetext.for_terminal``).

Tables fit the terminal (``fit_table``): each column is measured from its real cells; the columns that
carry figures (ids, context %, tokens, cost) are never cut, optional ones are left out from the least
useful up, and the title takes what is left, ending in an ellipsis. Piped output has no width limit:
every column at its full width, and no line padded with spaces.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, TextIO, cast

from rich import box
from rich.console import Console, ConsoleOptions, JustifyMethod, RenderableType, RenderResult
from rich.markup import escape
from rich.segment import Segment
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
    pasteable_ids,
    short_ids,
    state_label,
)
from llm_session_manager.safetext import for_terminal
from llm_session_manager.service import project_name

# Piped output is as wide as its longest row: a width no table reaches, and lines trimmed at the end.
PIPE_WIDTH = 10_000
GAP = 2  # spaces between two columns of a fitted table
ID_MIN = 6  # shortest id prefix shown
BAR_MIN = 5  # a context bar narrower than this says nothing the percentage does not


class _TrimmedLines(io.TextIOBase):
    """A text stream that drops the spaces at the end of each line (Rich pads cells to their width)."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self._stream = stream
        self._spaces = ""  # trailing spaces held back until we know the line goes on

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._stream, "encoding", None) or "utf-8"

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        lines = (self._spaces + text).split("\n")
        last = lines.pop()
        body = "".join(line.rstrip(" ") + "\n" for line in lines)
        kept = last.rstrip(" ")
        self._spaces = last[len(kept) :]
        self._stream.write(body + kept)
        return len(text)

    def flush(self) -> None:
        self._stream.flush()


def console(stderr: bool = False) -> Console:
    """A console for tables. No emoji codes: ":fire:" in a title stays as typed. When the output is not a
    terminal, rows are never cut or wrapped, and lines carry no trailing spaces."""
    con = Console(stderr=stderr, highlight=False, soft_wrap=False, emoji=False)
    if con.is_terminal:
        return con
    stream = sys.stderr if stderr else sys.stdout
    trimmed = cast("IO[str]", _TrimmedLines(stream))
    return Console(file=trimmed, width=PIPE_WIDTH, highlight=False, soft_wrap=False, emoji=False)


def table_width(con: Console) -> int | None:
    """The width a table may take on ``con``: None (unlimited) when the output is piped."""
    return con.width if con.is_terminal else None


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


# --------------------------------------------------------------------------------------------------
# fitting columns to the terminal


@dataclass
class Col:
    """One column of a fitted table.

    ``cells`` holds one text per row; ``render`` (given the chosen width) draws them instead when the
    column looks different when narrow (the context bar). A column with ``shrink`` None is never cut;
    otherwise it may be cut with an ellipsis down to ``shrink`` characters. ``drop`` 0 means always
    shown; optional columns are left out from the highest ``drop`` down when the row does not fit.
    ``fill`` columns (the title) get what is left after every other column has its full width.
    """

    name: str
    cells: Sequence[Text | str] = ()
    footer: Text | str = ""
    justify: JustifyMethod = "left"
    shrink: int | None = None
    cap: int | None = None
    drop: int = 0
    fill: bool = False
    natural_width: int | None = None  # the full width when ``render`` draws the cells
    render: Callable[[int], Sequence[Text]] | None = None
    _measured: int | None = field(default=None, init=False, repr=False)

    def natural(self, capped: bool = True) -> int:
        full = max(self._cells_width(), _cell_len(self.name), _cell_len(self.footer), self.natural_width or 0)
        return min(full, max(self.cap, len(self.name))) if self.cap and capped else full

    def _cells_width(self) -> int:
        """The widest cell, measured once (the footer and name may change; the cells do not)."""
        if self._measured is None:
            self._measured = max((_cell_len(c) for c in self.cells), default=0)
        return self._measured

    def minimum(self) -> int:
        full = self.natural()
        if self.shrink is None:
            return full
        return min(full, max(self.shrink, len(self.name), _cell_len(self.footer)))


def _cell_len(value: Text | str) -> int:
    text = value if isinstance(value, Text) else Text(for_terminal(str(value)))
    return max((line.cell_len for line in text.split("\n")), default=0)


Step = tuple[str, str, int | None]  # ("add", column, None) or ("grow", column, up to width; None: full)


def fit_widths(
    cols: Sequence[Col], width: int | None, plan: Sequence[Step] = (), gap: int = GAP
) -> dict[str, int]:
    """Name -> width of each column shown. The always-shown columns come first at their narrowest; then
    ``plan`` runs in order: "add" shows an optional column if it fits at its narrowest, "grow" widens a
    shown one with the space left. Without a plan, optional columns are added in order of ``drop``, then
    every column grows to its full width, fill columns last. ``width`` None: every column whole."""
    if width is None:
        return {c.name: c.natural(capped=False) for c in cols}
    by_name = {c.name: c for c in cols}
    steps = list(plan) or _default_plan(cols)
    widths = {c.name: c.minimum() for c in cols if c.drop == 0}
    used = sum(widths.values()) + gap * (len(widths) - 1)
    for action, name, target in steps:
        c = by_name.get(name)
        if c is None:
            continue
        if action == "add" and name not in widths and used + gap + c.minimum() <= width:
            widths[name] = c.minimum()
            used += gap + c.minimum()
        elif action == "grow" and name in widths:
            goal = c.natural() if target is None else min(target, c.natural())
            grow = max(0, min(width - used, goal - widths[name]))
            widths[name] += grow
            used += grow
    order = [c.name for c in cols if c.name in widths]
    return {name: widths[name] for name in order}


def _default_plan(cols: Sequence[Col]) -> list[Step]:
    optional = sorted((c for c in cols if c.drop), key=lambda c: c.drop)
    growing = sorted(cols, key=lambda c: (c.fill, c.drop))
    steps: list[Step] = [("add", c.name, None) for c in optional]
    return steps + [("grow", c.name, None) for c in growing]


def fit_table(
    cols: Sequence[Col], width: int | None, *, plan: Sequence[Step] = (), title: str | None = None
) -> FittedTable:
    """A table of ``cols`` fitted to ``width`` (None: piped, every column whole), with a rule under the
    header and, when a column has a footer, a rule and a totals row."""
    widths = fit_widths(cols, width, plan)
    shown = [c for c in cols if c.name in widths]
    columns = [list(c.render(widths[c.name])) if c.render else list(c.cells) for c in shown]
    footers = any(_cell_len(c.footer) for c in shown)
    return FittedTable(
        [(widths[c.name], c.justify) for c in shown],
        header=[Text(c.name, style="bold") for c in shown],
        rows=[list(row) for row in zip(*columns, strict=True)],
        footer=[_as_text(c.footer, "bold") for c in shown] if footers else None,
        title=title,
    )


class FittedTable:
    """One-line cells at fixed widths, ``GAP`` spaces apart: what ``fit_table`` chose, drawn line by
    line. Rich's Table lays out every cell again (half a second for 400 sessions); here a row is one
    Text, cut with an ellipsis or padded to its widths."""

    def __init__(
        self,
        layout: Sequence[tuple[int, JustifyMethod]],
        header: Sequence[Text],
        rows: Sequence[Sequence[Text | str]],
        footer: Sequence[Text] | None = None,
        title: str | None = None,
    ) -> None:
        self.layout, self.header, self.rows, self.footer, self.title = layout, header, rows, footer, title

    def lines(self) -> list[Text]:
        rule = Text("─" * (sum(w for w, _j in self.layout) + GAP * (len(self.layout) - 1)))
        out = [cell(self.title)] if self.title else []
        out += [self._line(self.header), rule]
        out += [self._line(row) for row in self.rows]
        if self.footer is not None:
            out += [rule, self._line(self.footer)]
        return out

    def _line(self, cells: Sequence[Text | str]) -> Text:
        line = Text()
        for i, (value, (width, justify)) in enumerate(zip(cells, self.layout, strict=True)):
            text = _as_text(value).copy()
            text.truncate(width, overflow="ellipsis")
            short = width - text.cell_len
            if justify == "right":
                text.pad_left(short)
            elif i < len(self.layout) - 1:
                text.pad_right(short)
            line.append_text(text)
            if i < len(self.layout) - 1:
                line.append(" " * GAP)
        return line

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in self.lines():
            yield from line.render(console)
            yield Segment.line()


def _as_text(value: Text | str, style: str = "") -> Text:
    if isinstance(value, Text):
        if style:
            value = value.copy()
            value.stylize(style)
        return value
    return cell(value, style=style)


# --------------------------------------------------------------------------------------------------
# sessions


def display_ids(
    views: Sequence[SessionView], known: Sequence[SessionView] | None = None, *, whole: bool = False
) -> dict[str, str]:
    """Session id -> the id a table shows: the shortest prefix (at least 6 characters) of its native id
    that no other ``known`` session shares, so it can be pasted into any command that takes an id (the
    whole native id when ``whole``). See ``present.pasteable_ids``."""
    pool = [(v.session.agent, v.session.native_id) for v in (known if known is not None else views)]
    pool += [(v.session.agent, v.session.native_id) for v in views]
    ids = pasteable_ids(pool, ID_MIN, 10**6 if whole else ID_MIN + 2)
    return {v.session.id: ids.get(v.session.id, v.session.native_id) for v in views}


def sessions_table(
    views: Sequence[SessionView],
    now: datetime,
    width: int | None = None,
    known: Sequence[SessionView] | None = None,
) -> FittedTable:
    """The session table fitted to ``width`` (None: piped, whole), with a totals row. Ids are the
    shortest prefixes that tell each session apart from every ``known`` one (default: ``views``)."""
    # Piped, nothing is short of room: whole ids, for scripts (with the agent when two agents share one).
    ids = display_ids(views, known, whole=width is None)
    statuses = [_status_text(v) for v in views]
    words = [Text(v.status) for v in views]
    cols = [
        Col("ID", [ids[v.session.id] for v in views], footer="Total"),
        Col("Agent", [v.session.agent for v in views], drop=3),
        Col("Project", [project_name(v) or "-" for v in views], shrink=8, cap=24, drop=2),
        Col("Title", [v.session.title or "-" for v in views], shrink=12, drop=1, fill=True),
        Col(
            "Model",
            [(v.session.model or "-").replace("claude-", "") for v in views],
            cap=24,
            drop=4,
        ),
        Col("Status", statuses, shrink=max((t.cell_len for t in words), default=6)),
        _context_col(views),
        Col("Tokens", [_tokens_cell(v) for v in views], footer=_tokens_total(views), justify="right"),
        Col("Cost", [money(v.cost_usd) for v in views], footer=_cost_total(views), justify="right"),
        Col("Health", [_health_cell(v) for v in views], justify="right"),
        Col("Last", [ago(v.session.last_activity, now) for v in views], justify="right"),
    ]
    count = f"{len(views)} session{'s' if len(views) != 1 else ''}"
    _label_totals(cols, count, width)
    return fit_table(cols, width, plan=SESSION_PLAN)


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


def _status_text(view: SessionView) -> Text:
    label = state_label(view)
    return cell(view.status + (f" ({label[0]})" if label else ""), style=STATUS_STYLE.get(view.status, ""))


def _health_cell(view: SessionView) -> Text:
    h = view.health
    return Text(f"{h.score:.0f}{'~' if h.estimated else ''}", style=HEALTH_STYLE.get(h.status, ""))


def _context_col(views: Sequence[SessionView]) -> Col:
    """The context fill: a 10-cell bar and the percentage, a 5-cell bar when space is short, the
    percentage alone on the narrowest terminals. The percentage is never cut."""
    pcts = [_pct_text(v.context_pct) for v in views]
    pct_width = max((len(p) for p in pcts), default=1)

    def render(width: int) -> list[Text]:
        bar = min(10, width - pct_width - 1)
        out = []
        for v, pct in zip(views, pcts, strict=True):
            if v.context_pct is None:
                out.append(Text("-", style="dim"))
                continue
            drawn, style = context_fill(v.context_pct, max(bar, 1))
            lead = drawn.rsplit(" ", 1)[0] + " " if bar >= BAR_MIN else ""
            out.append(Text(f"{lead}{pct:>{pct_width}}", style=style))
        return out

    return Col(
        "Context",
        shrink=max(pct_width, len("Context")),
        natural_width=10 + 1 + pct_width,
        render=render,
    )


def _pct_text(pct: float | None) -> str:
    return "-" if pct is None else f"{pct:.0f}%"


def _tokens_cell(view: SessionView) -> str:
    """Exact totals as they are; counted or rounded ones marked with "≈"; unreadable ones "?"."""
    s = view.session
    if s.process is not None and not s.transcript_paths:
        return "?"
    text = human_tokens(s.tokens.total)
    return text if s.tokens.source == "exact" else f"≈{text}"


def _tokens_total(views: Sequence[SessionView]) -> str:
    """The tokens of every session with known tokens: "≥" when some are unknown, "≈" when some counted."""
    known = [v for v in views if not (v.session.process is not None and not v.session.transcript_paths)]
    text = human_tokens(sum(v.session.tokens.total for v in known))
    if len(known) < len(views):
        return f"≥{text}"
    return text if all(v.session.tokens.source == "exact" for v in known) else f"≈{text}"


def _cost_total(views: Sequence[SessionView]) -> str:
    """The cost of every priced session; "≥" when some sessions have no known cost."""
    priced = [v.cost_usd for v in views if v.cost_usd is not None]
    text = money(sum(priced))
    return f"≥{text}" if len(priced) < len(views) else text


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
    views: Sequence[SessionView], details: bool, known: Sequence[SessionView] | None = None
) -> Table:
    """Search hits; each id is the shortest prefix naming its session among ``known`` (every session lsm
    sees), so it can be pasted into any command."""
    table = SafeTable(header_style="bold")
    table.add_column("ID", no_wrap=True)
    table.add_column("Project", max_width=20, overflow="ellipsis", no_wrap=True)
    table.add_column("Title", max_width=40, overflow="ellipsis", no_wrap=True)
    table.add_column("Tags", max_width=30, overflow="fold")
    if details:
        table.add_column("Description", max_width=50, overflow="fold")
        table.add_column("Tokens", justify="right", no_wrap=True)
        table.add_column("Health", justify="right", no_wrap=True)
    ids = pasteable_ids([(v.session.agent, v.session.native_id) for v in (known or views)], minimum=8)
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
                _tokens_cell(v),
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
