"""A fitted table's cells are cut and padded as plain strings (one segment each, the fast way): the same
bytes as Rich's own Text truncation and padding, wide characters and styles included."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.text import Text

from llm_session_manager.cli.fitted import (
    Col,
    FittedTable,
    Styled,
    _cell_len,
    _fitted,
    _fitted_text,
    fit_table,
)

SAMPLES = [
    "",
    "plain ascii title",
    "日本語のタイトルです",  # two cells per character
    "mixed 日本 and ascii",
    "aïve café ñ",  # one cell, not ASCII
    "emoji 🚀 rocket",
    "x" * 40,
    "tab\tand\x1b[31mescape",  # control characters are shown, not sent
]


def _drawn(renderable: object, color: bool) -> str:
    out = io.StringIO()
    con = Console(file=out, force_terminal=color, color_system="standard" if color else None, width=200)
    con.print(renderable, end="")
    return out.getvalue()


@pytest.mark.parametrize("value", SAMPLES)
@pytest.mark.parametrize("width", [0, 1, 2, 3, 5, 8, 13, 40])
@pytest.mark.parametrize("justify", ["left", "right"])
@pytest.mark.parametrize("last", [False, True])
def test_a_cell_is_cut_as_rich_cuts_it(value: str, width: int, justify: str, last: bool) -> None:
    text = Text(value)
    assert _fitted(value, width, justify, last) == _fitted_text(text, width, justify, last).plain  # type: ignore[arg-type]


@pytest.mark.parametrize("color", [False, True])
def test_a_table_draws_as_the_text_per_row_way(color: bool) -> None:
    cols = [
        Col("ID", ["abc123", "日本語日本語日本語", "x"], footer="Total"),
        Col("Title", [Text(s, style="bold green") for s in SAMPLES[:3]], shrink=4, fill=True),
        Col("Spans", [Text.assemble(("red", "red"), " and ", ("blue", "blue")), "-", "plain"]),
        Col("N", ["1", "22", "333"], footer="356", justify="right"),
    ]
    table = fit_table(cols, 30)
    expected = []
    for cells in [table.header, *table.rows, *([table.footer] if table.footer else [])]:
        line = Text()
        for i, (value, (width, justify)) in enumerate(zip(cells, table.layout, strict=True)):
            if isinstance(value, Styled):
                text = Text(value.plain, style=value.style)
            else:
                text = value if isinstance(value, Text) else Text(str(value))
            line.append_text(_fitted_text(text, width, justify, i == len(table.layout) - 1))
            if i < len(table.layout) - 1:
                line.append("  ")
        expected.append(_drawn(line, color))
    lines = _drawn(table, color).split("\n")
    assert [lines[0], *lines[2:-3], lines[-2]] == expected
    full = sum(w for w, _j in table.layout) + 2 * (len(table.layout) - 1)
    assert max(_cell_len(Text.from_ansi(line)) for line in lines) == full


def test_an_empty_table_has_its_header() -> None:
    drawn = _drawn(FittedTable([(3, "left")], header=[Text("ID")], rows=[]), False)
    assert drawn.splitlines() == ["ID", "───"]


def _listing_data(count: int) -> dict[str, object]:
    titles = [*SAMPLES, "a title long enough to be cut with an ellipsis somewhere in the middle of it"]
    rows = [
        {
            "id": f"{i:06x}",
            "full_id": f"{i:06x}-0000-4000-8000-000000000000",
            "agent": "claude-code" if i % 2 else "codex",
            "project": "日本語-project" if i % 3 == 0 else "app",
            "title": titles[i % len(titles)],
            "model": "sonnet-4-5",
            "status": "active (waiting)" if i % 4 == 0 else "ended",
            "status_word": "active" if i % 4 == 0 else "ended",
            "status_style": "green" if i % 4 == 0 else "dim",
            "context_pct": None if i % 5 == 0 else 12.5 * (i % 8),
            "tokens": f"≈{i}k" if i % 2 else f"{i}k",
            "cost": f"${i}.00",
            "health": f"{90 - i}~" if i % 3 else f"{90 - i}",
            "health_style": "yellow",
            "last": "2026-12-01T10:00:00+00:00",
        }
        for i in range(count)
    ]
    return {"rows": rows, "tokens_total": "≈1.2M", "cost_total": "$12.00", "running": 1}


@pytest.mark.parametrize("color", [False, True])
@pytest.mark.parametrize("width", [30, 45, 60, 72, 90, 120, 200, 10_000])
def test_the_session_table_is_printed_as_rich_crops_it(color: bool, width: int) -> None:
    """print_listing skips Rich's cropping when the table fits (each row one segment when nothing draws a
    style): the same bytes as Rich's own cropping of the same table, narrow terminals included."""
    from datetime import datetime, timezone

    from llm_session_manager.cli.session_table import draw, print_listing

    data = _listing_data(40)
    now = datetime(2026, 12, 5, tzinfo=timezone.utc)

    def console(out: io.StringIO) -> Console:
        return Console(
            file=out,
            force_terminal=color,
            color_system="standard" if color else None,
            width=width,
            highlight=False,
            soft_wrap=False,
            emoji=False,
        )

    from llm_session_manager.cli.fitted import table_width

    ours, theirs = io.StringIO(), io.StringIO()
    print_listing(console(ours), data, now, every=True)  # type: ignore[arg-type]
    rich_way = console(theirs)
    table = draw(data, now, table_width(rich_way))  # type: ignore[arg-type]
    rich_way.print(table)  # cropped by Rich to the console's width
    assert table.width > 0 and len(theirs.getvalue().splitlines()) == 44
    assert ours.getvalue().startswith(theirs.getvalue())
    assert "40 session(s), 1 running." in ours.getvalue()[len(theirs.getvalue()) :]
