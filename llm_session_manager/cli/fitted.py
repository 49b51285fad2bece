"""Tables fitted to the terminal, drawn line by line: the machinery under every `lsm` table.

``fit_table`` measures each column from its real cells; columns that carry figures are never cut,
optional ones are left out from the least useful up, and a fill column (a title) takes what is left,
ending in an ellipsis. Piped output has no width limit: every column whole, no line padded with spaces.
Cells are ``Text`` made with ``cell``: untrusted text is never read as markup and its control characters
are shown, not sent. Cells of one style can be ``Styled`` pairs, which need no Rich at all: a table of
them is written by screen.py without loading Rich (the list's fast path, fast_list.py), and drawn by
Rich here otherwise. Rich is imported only where a function needs it.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, NamedTuple, TextIO, cast

from llm_session_manager.safetext import for_terminal

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, JustifyMethod, RenderResult
    from rich.segment import Segment
    from rich.style import StyleType
    from rich.text import Text

# Piped output is as wide as its longest row: a width no table reaches, and lines trimmed at the end.
PIPE_WIDTH = 10_000
GAP = 2  # spaces between two columns of a fitted table


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
    from rich.console import Console

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
    from rich.text import Text

    return Text(for_terminal(str(value)), style=style)


class Styled(NamedTuple):
    """A cell of one style (a Rich style name such as "bold green", or ""), drawn as Rich draws a
    ``Text`` of that style with no spans. ``plain`` is shown as it is: make it with ``styled`` when
    it is untrusted."""

    plain: str
    style: str = ""


def styled(value: object, style: str = "") -> Styled:
    """``cell`` without Rich: untrusted text with its control characters made visible."""
    return Styled(for_terminal(str(value)), style)


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
    cells: Sequence[Text | Styled | str] = ()
    footer: Text | Styled | str = ""
    justify: JustifyMethod = "left"
    shrink: int | None = None
    cap: int | None = None
    drop: int = 0
    fill: bool = False
    natural_width: int | None = None  # the full width when ``render`` draws the cells
    render: Callable[[int], Sequence[Text | Styled]] | None = None
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


def _plain(value: Text | Styled | str) -> str:
    """What a cell shows: a ``str`` cell is untrusted text, made safe here."""
    return for_terminal(value) if isinstance(value, str) else value.plain


def _cell_len(value: Text | Styled | str) -> int:
    plain = _plain(value)
    if "\n" in plain:
        return max(_width_of(line) for line in plain.split("\n"))
    return _width_of(plain)


def _width_of(plain: str) -> int:
    """Terminal cells of one line of text, as Rich counts them (printable ASCII: one each)."""
    if plain.isascii() and plain.isprintable():
        return len(plain)
    return (_cell_len_of or _rich_cell_len())(plain)


_cell_len_of: Callable[[str], int] | None = None  # rich.cells.cell_len, imported by the first wide cell


def _rich_cell_len() -> Callable[[str], int]:
    global _cell_len_of
    from rich.cells import cell_len

    _cell_len_of = cell_len
    return cell_len


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
        header=[Styled(c.name, "bold") for c in shown],
        rows=[list(row) for row in zip(*columns, strict=True)],
        footer=[_bold(c.footer) for c in shown] if footers else None,
        title=title,
    )


class FittedTable:
    """One-line cells at fixed widths, ``GAP`` spaces apart: what ``fit_table`` chose, drawn line by
    line. Rich's Table lays out every cell again (half a second for 400 sessions); here each cell is cut
    with an ellipsis or padded to its width and sent as one segment (1,500 rows in ~40 ms)."""

    def __init__(
        self,
        layout: Sequence[tuple[int, JustifyMethod]],
        header: Sequence[Text | Styled],
        rows: Sequence[Sequence[Text | Styled | str]],
        footer: Sequence[Text | Styled] | None = None,
        title: str | None = None,
    ) -> None:
        self.layout, self.header, self.rows, self.footer, self.title = layout, header, rows, footer, title

    @property
    def width(self) -> int:
        """The cells of its widest line (its title aside)."""
        return sum(w for w, _j in self.layout) + GAP * (len(self.layout) - 1)

    def lines(self) -> Iterator[list[Run | Text]]:
        """Each line under the title as what it draws: runs of text in a style (a name or a Rich
        ``Style``; "" draws none), and a ``Text`` for a cell styled in parts. Rich draws them here
        (``__rich_console__``), screen.py without Rich."""
        rule: list[Run | Text] = [("─" * self.width, "")]
        yield self._runs(self.header)
        yield rule
        for row in self.rows:
            yield self._runs(row)
        if self.footer is not None:
            yield rule
            yield self._runs(self.footer)

    def _runs(self, cells: Sequence[Text | Styled | str]) -> list[Run | Text]:
        """One row: each cell cut with an ellipsis or padded to its width, in its style (padding
        included), ``GAP`` spaces between."""
        last = len(self.layout) - 1
        runs: list[Run | Text] = []
        for i, (value, (width, justify)) in enumerate(zip(cells, self.layout, strict=True)):
            if isinstance(value, str):
                runs.append((_fitted(for_terminal(value), width, justify, i == last), ""))
            elif isinstance(value, Styled) or not value.spans:
                runs.append((_fitted(value.plain, width, justify, i == last), value.style))
            else:
                runs.append(_fitted_text(value, width, justify, i == last))
            if i < last:
                runs.append((" " * GAP, ""))
        return runs

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.segment import Segment

        plain = console.color_system is None  # styles draw nothing: each row is one segment
        if self.title:
            yield from cell(self.title).render(console)
            yield Segment.line()
        for line in self.lines():
            yield from _joined(_segments(line, console), plain)
            yield Segment.line()


Run = tuple[str, "StyleType"]  # text, and its style ("" for none)


def _segments(line: Sequence[Run | Text], console: Console) -> Iterator[Segment]:
    """A line's runs as Rich's segments: a run is one segment, a cell styled in parts is drawn by its
    ``Text``."""
    from rich.segment import Segment

    for run in line:
        if isinstance(run, tuple):
            text, style = run
            yield Segment(text, console.get_style(style) if style else None)
        else:
            yield from run.render(console)


def _joined(segments: Iterable[Segment], plain: bool) -> Iterator[Segment]:
    """Each run of segments that draw no style (none, or any when ``plain``: no colour system) as one
    segment: the same bytes, a third as many steps through Rich's rendering (1,500 rows ~2x faster)."""
    from rich.segment import Segment

    run: list[str] = []
    for segment in segments:
        if segment.control is None and (plain or segment.style is None):
            run.append(segment.text)
            continue
        if run:
            yield Segment("".join(run))
            run = []
        yield segment
    if run:
        yield Segment("".join(run))


def _fitted(plain: str, width: int, justify: JustifyMethod, last: bool) -> str:
    """``plain`` cut to ``width`` cells with an ellipsis, padded to it (as ``_fitted_text`` does)."""
    cells = _width_of(plain)
    if cells > width:
        from rich.cells import set_cell_size

        plain = set_cell_size(plain, width - 1) + "…"  # as Text.truncate(overflow="ellipsis") does
        cells = _width_of(plain)
    short = width - cells
    if justify == "right":
        return " " * short + plain
    return plain if last else plain + " " * short


def _fitted_text(value: Text, width: int, justify: JustifyMethod, last: bool) -> Text:
    text = value.copy()
    text.truncate(width, overflow="ellipsis")
    short = width - text.cell_len
    if justify == "right":
        text.pad_left(short)
    elif not last:
        text.pad_right(short)
    return text


def _bold(value: Text | Styled | str) -> Text | Styled:
    """A footer cell in bold: a string all of it, padding included; a ``Text`` (or ``Styled``) its
    text alone, as Rich's ``stylize`` marks it."""
    if isinstance(value, str):
        return styled(value, "bold")
    from rich.text import Text

    text = Text(value.plain, style=value.style) if isinstance(value, Styled) else value.copy()
    text.stylize("bold")
    return text
