"""Tables in a real terminal: `lsm list`, `health` and `report` run in a pseudo-terminal of 80 to 200
columns over every agent's fixtures. Ids stay pasteable, and context %, tokens and costs are never cut;
no line is wider than the terminal. Piped, the same commands pad nothing and cut nothing."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeHome
from pty_run import run_in_pty
from test_all_agents import everything  # noqa: F401  (the fixture: every agent's sessions in one HOME)

from llm_session_manager.present import human_tokens, money

WIDTHS = (80, 100, 120, 140, 160, 200)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")


def in_pty(fh: FakeHome, cols: int, *args: str, rows: int = 60, **extra: str) -> str:
    """What `lsm ARGS` prints on a terminal ``cols`` wide (winsize and COLUMNS both set); its stderr
    warnings (plain lines, not tables) go to a file (a pipe could fill up and stall the child)."""
    env = fh.env(COLUMNS=str(cols), LINES=str(rows), TERM="xterm-256color", **extra)
    command = [sys.executable, "-m", "llm_session_manager", *args]
    code, out, err = run_in_pty(command, env, (cols, rows), cwd=str(fh.home), timeout=120)
    assert code == 0, (out + err).decode(errors="replace")
    return ANSI.sub("", out.decode()).replace("\r\n", "\n")


def listed(fh: FakeHome) -> list[dict[str, Any]]:
    r = fh.run("list", "--all", "--format", "json")
    assert r.returncode == 0, r.stderr
    rows: list[dict[str, Any]] = json.loads(r.stdout)
    return rows


def matching(prefix: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sessions `lsm health PREFIX` would match (service.resolve_id's rule)."""
    exact = [o for o in rows if prefix in (o["id"], o["native_id"])]
    if len(exact) == 1:
        return exact
    return [o for o in rows if o["native_id"].startswith(prefix) or o["id"].startswith(prefix)]


def table_rows(screen: str, count: int) -> list[str]:
    """The ``count`` body rows of the session table: the lines between the header rule and the totals."""
    lines = screen.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("ID ")) + 2
    return lines[start : start + count]


def tokens_text(o: dict[str, Any]) -> str:
    text = human_tokens(o["tokens"]["total"])
    return text if o["tokens_source"] == "exact" else f"≈{text}"


@pytest.mark.parametrize("cols", WIDTHS)
def test_list_fits_every_width_with_figures_whole(everything: FakeHome, cols: int) -> None:  # noqa: F811
    rows = listed(everything)
    screen = in_pty(everything, cols, "list", "--all")
    assert all(len(line) <= cols for line in screen.splitlines()), screen
    body = table_rows(screen, len(rows))
    shown_ids = set()
    for line in body:
        short = line.split()[0]
        assert "…" not in short and len(short) >= min(6, len(short)), line
        found = matching(short, rows)
        assert len(found) == 1, (short, line)  # pasteable: names exactly one session
        o = found[0]
        shown_ids.add(o["id"])
        assert money(o["cost_usd"]) in line, line
        assert tokens_text(o) in line, line
        if o["context_pct"] is not None:
            assert re.search(rf"(?<![\d.]){o['context_pct']:.0f}%", line), line
    assert shown_ids == {o["id"] for o in rows}
    total = next(line for line in screen.splitlines() if line.startswith("Total"))
    assert f"{len(rows)} sessions" in total
    cost = sum(o["cost_usd"] for o in rows if o["cost_usd"] is not None)
    assert money(cost) in total  # some costs are unknown: shown as "≥$x"
    assert f"≥{money(cost)}" in total
    assert human_tokens(sum(o["tokens"]["total"] for o in rows)) in total
    if cols >= 120:
        assert "Title" in screen and "Project" in screen
    if cols >= 160:
        assert "Agent" in screen and "Model" in screen


def test_printed_ids_resolve_with_lsm_health(everything: FakeHome) -> None:  # noqa: F811
    rows = listed(everything)
    screens = {cols: in_pty(everything, cols, "list", "--all") for cols in (80, 200)}
    ids = [[line.split()[0] for line in table_rows(s, len(rows))] for s in screens.values()]
    assert ids[0] == ids[1]  # the same ids at every width
    for short in sorted(ids[0], key=len)[:4]:
        r = everything.run("health", short, "--format", "json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["id"] == matching(short, rows)[0]["id"]


@pytest.mark.parametrize("cols", (80, 120, 200))
def test_health_keeps_numbers_whole(everything: FakeHome, cols: int) -> None:  # noqa: F811
    screen = in_pty(everything, cols, "health", "88a8d761")
    assert all(len(line) <= cols for line in screen.splitlines()), screen
    for figure in ("context_tokens=144,227", "compact_at=167,000", "relative=0.8636"):
        assert figure in screen, screen
    assert re.search(r"^tokens\s+context_tokens=144,227\s+42\s+40%\s+16\.7\s", screen, re.M), screen


@pytest.mark.parametrize("cols", (80, 120, 200))
def test_recommend_names_sessions_by_pasteable_short_ids(
    everything: FakeHome,  # noqa: F811
    cols: int,
    tmp_path: Path,
) -> None:
    config = tmp_path / "lsm.yaml"
    config.write_text("recommend:\n  daily_cost_limit_usd: 0.0001\n", encoding="utf-8")
    rows = listed(everything)
    r = everything.run("recommend", "--format", "json", LSM_CONFIG=str(config))
    (rec,) = json.loads(r.stdout)
    screen = in_pty(everything, cols, "recommend", LSM_CONFIG=str(config))
    head = next(x for x in screen.splitlines() if x.startswith("1. "))
    shorts = head.split("usage warning", 1)[1].replace(",", " ").split()
    assert len(shorts) == len(rec["session_ids"])
    for short, full in zip(shorts, rec["session_ids"], strict=True):
        assert [o["id"] for o in matching(short, rows)] == [full]  # pasteable: names that session only
        assert full not in screen or len(full.split(":", 1)[1]) <= 8  # a long id is never spelt out
    by_id = {o["id"]: o for o in rows}
    for short, full in zip(shorts, rec["session_ids"], strict=True):
        cost = by_id[full]["cost_usd"]
        if f"{short} $" in rec["reason"] and cost is not None:
            assert f"{short} $" in screen.replace("\n", "")


@pytest.mark.parametrize("cols", (80, 120, 200))
def test_report_tables_fit_with_totals(everything: FakeHome, cols: int) -> None:  # noqa: F811
    r = everything.run("report", "daily", "--since", "2020-01-01", "--by", "agent", "--format", "json")
    doc = json.loads(r.stdout)
    screen = in_pty(everything, cols, "report", "daily", "--since", "2020-01-01", "--by", "agent", "--chart")
    lines = screen.splitlines()
    assert all(len(line) <= cols for line in lines), screen
    for row in doc["rows"]:
        line = next(x for x in lines if x.startswith(row["period"]) and f" {row['agent']} " in x)
        assert f" {human_tokens(row['tokens']['total'])} " in line and money(row["cost_usd"]) in line, line
    total = next(x for x in lines if x.startswith("Total"))
    assert human_tokens(doc["totals"]["tokens"]["total"]) in total
    assert total.split()[-1] == str(doc["totals"]["sessions"])
    session = in_pty(everything, cols, "report", "session", "--since", "2020-01-01")
    assert all(len(line) <= cols for line in session.splitlines()), session
    assert "title" in session and next(x for x in session.splitlines() if x.startswith("Total"))


def test_info_at_80_columns_keeps_its_counts_whole(everything: FakeHome) -> None:  # noqa: F811
    doc = json.loads(everything.run("info", "--format", "json").stdout)
    screen = in_pty(everything, 80, "info")
    assert all(len(line) <= 80 for line in screen.splitlines()), screen
    flat = " ".join(screen.split())  # a long path may wrap; a count never splits
    for name, agent in doc["agents"].items():
        assert f"{name}: {agent['sessions']} session(s), {agent['running']} running," in flat


def test_piped_tables_are_neither_padded_nor_cut(everything: FakeHome) -> None:  # noqa: F811
    rows = listed(everything)
    for args in (("list", "--all"), ("health", "88a8d761"), ("report", "daily", "--since", "2020-01-01")):
        r = everything.run(*args)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert not [x for x in lines if x != x.rstrip()], args  # no trailing padding
    listing = everything.run("list", "--all", COLUMNS="80").stdout
    for o in rows:  # whole ids and titles, whatever COLUMNS says
        line = next(x for x in listing.splitlines() if x.startswith(o["native_id"] + " "))
        assert (o["title"] or "-") in line
    health = everything.run("health", "88a8d761", COLUMNS="80").stdout
    assert "context 144,227 tokens = 86% of the auto-compact point (167,000)" in health
