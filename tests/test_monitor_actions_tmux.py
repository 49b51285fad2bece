"""The monitor's filter, reverse sort and action keys, driven in a real tmux pane.

The pane's shell runs in a PID namespace of its own (``world`` in test_monitor_tmux.py), so process
discovery sees only what the test started there: one fake Claude Code process linked to its session by
its live status file. ``c`` may therefore signal nothing but that process.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

import pytest
from test_monitor_tmux import (
    World,
    save_capture,
    world_fixture,  # noqa: F401 - the `world` fixture
)
from test_running_sessions import SID

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and PID namespaces")

SHORT = SID[:8]
FULL = f"claude-code:{SID}"


def start_monitor(w: World) -> str:
    cmd = shlex.join([sys.executable, "-m", "llm_session_manager", "monitor", "--interval", "1"])
    w.pane.type_line(f"{cmd}; echo EXIT=$?")
    return w.pane.wait_for(lambda t: SHORT in t and "active (busy)" in t, what="the running session")


def marked(text: str) -> str:
    rows = [line for line in text.splitlines() if line.startswith(">")]
    assert len(rows) == 1, text
    return rows[0]


def table_rows(text: str) -> list[str]:
    """The session rows: between the header's rule and the first empty line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("───")) + 1
    rows = []
    for line in lines[start:]:
        if not line.strip() or line.lstrip().startswith(("rows ", "filter:", "said:", "╭")):
            break
        rows.append(line)
    return rows


def quit_monitor(w: World) -> None:
    w.pane.keys("q")
    w.pane.wait_for(lambda t: "EXIT=0" in t, what="the monitor to quit")


def listed(w: World) -> dict[str, dict[str, object]]:
    r = w.fake_home.run("list", "--all", "--format", "json")
    assert r.returncode == 0, r.stderr
    return {o["id"]: o for o in json.loads(r.stdout)}


def test_filter_and_reverse_sort(world: World) -> None:
    w = world
    start_monitor(w)
    w.pane.keys("a")
    text = w.pane.wait_for(lambda t: len(table_rows(t)) == 6, what="all sessions")
    everything = table_rows(text)
    assert SHORT in everything[0]  # the running one was active last

    # / with fields: only ended Claude Code sessions; the filter applies as it is typed.
    w.pane.keys("/")
    w.pane.wait_for(lambda t: "Filter:" in t, what="the filter prompt")
    w.pane.cmd("send-keys", "-t", "mon", "-l", "agent:claude status:ended")
    text = w.pane.wait_for(
        lambda t: len(table_rows(t)) == 5 and "Filter: agent:claude status:ended▏" in t, what="the filter"
    )
    assert SHORT not in "".join(table_rows(text))
    w.pane.keys("Enter")
    w.pane.wait_for(
        lambda t: "Filter:" not in t and "filter: agent:claude status:ended" in t and len(table_rows(t)) == 5,
        what="the filter kept",
    )

    # A word: the title of the running session; a status word that matches nothing.
    w.pane.keys("/")
    for _ in "agent:claude status:ended":
        w.pane.keys("BSpace")
    w.pane.cmd("send-keys", "-t", "mon", "-l", "login")
    text = w.pane.wait_for(
        lambda t: len(table_rows(t)) == 1 and "Filter: login▏" in t, what="one row for 'login'"
    )
    assert SHORT in table_rows(text)[0] and "add a login page" in text
    w.pane.cmd("send-keys", "-t", "mon", "-l", " status:closed")
    w.pane.wait_for(lambda t: "No session matches the filter" in t, what="the empty result")
    save_capture("filter_empty", w.pane.text())

    # Esc clears it: every session again.
    w.pane.keys("Escape")
    w.pane.wait_for(lambda t: len(table_rows(t)) == 6 and "filter cleared" in t, what="the filter cleared")

    # S: the same sort reversed, the arrow turned; s moves on, and its column has the arrow too.
    w.pane.keys("S")
    text = w.pane.wait_for(
        lambda t: "Last ↑" in t and len(table_rows(t)) == 6 and SHORT in table_rows(t)[-1], what="reversed"
    )
    ids = [r.lstrip("> ").split()[0] for r in table_rows(text)]
    assert ids == [r.lstrip("> ").split()[0] for r in everything][::-1]
    for column in ("Context ↓", "Health ↓", "Burn ↓", "Cost ↓", "Tokens ↓", "Project ↓", "Started ↓"):
        w.pane.keys("s")
        w.pane.wait_for(lambda t, c=column: c in t, what=f"the arrow in {column}")  # type: ignore[misc]
    w.pane.keys("S")
    w.pane.wait_for(lambda t: "Started ↑" in t, what="the start-time sort reversed")
    quit_monitor(w)


def test_actions_on_the_selected_session(world: World) -> None:
    w = world
    start_monitor(w)
    text = w.pane.text()
    assert SHORT in marked(text) and f"pid {w.inner_pid}" in text  # our fake agent, nothing else runs

    # t: tag it.
    w.pane.keys("t")
    w.pane.wait_for(lambda t: f"Tags for {SHORT}:" in t, what="the tag prompt")
    w.pane.cmd("send-keys", "-t", "mon", "-l", "reviewed auth")
    w.pane.keys("Enter")
    w.pane.wait_for(lambda t: f"tagged {FULL}: reviewed, auth" in t, what="the tag message")
    w.pane.wait_for(lambda t: "tags auth, reviewed" in t, what="the tags in the detail pane")

    # d: describe it (Esc first cancels).
    w.pane.keys("d")
    w.pane.wait_for(lambda t: f"Description of {SHORT}:" in t, what="the describe prompt")
    w.pane.keys("Escape")
    w.pane.wait_for(lambda t: "describe cancelled" in t, what="cancel")
    w.pane.keys("d")
    w.pane.cmd("send-keys", "-t", "mon", "-l", "login page, [bold]half done[/]")
    w.pane.keys("Enter")
    w.pane.wait_for(
        lambda t: "login page, [bold]half done[/]" in t, what="the description, markup shown as text"
    )
    assert listed(w)[FULL]["description"] == "login page, [bold]half done[/]"
    assert set(listed(w)[FULL]["tags"]) == {"reviewed", "auth"}  # type: ignore[arg-type]

    # e: the Markdown hand-off, written under lsm's data folder; the path is shown.
    w.pane.keys("e")
    text = w.pane.wait_for(lambda t: "hand-off written to" in t, what="the export message")
    handoff = w.fake_home.lsm_home / "handoffs" / f"handoff-claude-code_{SID}.md"
    assert str(handoff)[:60] in text.replace("\n", "")
    body = handoff.read_text(encoding="utf-8")
    assert body.startswith("#") and "add a login page" in body

    # y: the resume command, to the clipboard (OSC 52, here a tmux buffer) and in the status line.
    w.pane.keys("y")
    w.pane.wait_for(
        lambda t: f"copied the resume command: claude --resume {SID}" in t, what="the copy message"
    )
    deadline = time.monotonic() + 10
    while w.pane.cmd("show-buffer").strip() != f"claude --resume {SID}" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert w.pane.cmd("show-buffer").strip() == f"claude --resume {SID}"

    # o: the transcript in $PAGER (it records its arguments); the monitor comes back.
    w.pane.keys("o")
    deadline = time.monotonic() + 10
    while not w.pager_log.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert w.pager_log.read_text().splitlines() == [str(next(w.fake_home.projects.rglob(f"{SID}.jsonl")))]
    text = w.pane.wait_for(lambda t: SHORT in t and " lsm monitor " in t, what="the monitor after the pager")
    assert w.pane.alternate_screen()

    # c: asks first; any key but y cancels, and the agent lives on.
    w.pane.keys("c")
    text = w.pane.wait_for(lambda t: f"Close {SHORT}?" in t, what="the close question")
    assert f"would mark closed and send SIGTERM to pid {w.inner_pid}" in text
    save_capture("close_question", text)
    w.pane.keys("n")
    w.pane.wait_for(lambda t: "close cancelled" in t, what="cancel")
    assert w.agent.is_running() and listed(w)[FULL]["status"] != "closed"

    # c, y: marked closed, the agent's process ended with SIGTERM.
    w.pane.keys("c")
    w.pane.wait_for(lambda t: f"Close {SHORT}?" in t, what="the close question")
    w.pane.keys("y")
    w.pane.wait_for(lambda t: f"(pid {w.inner_pid}): terminated" in t, what="the close message")
    w.agent.wait(timeout=10)
    assert listed(w)[FULL]["status"] == "closed"
    quit_monitor(w)


def test_frame_drawn_before_the_scan_ends(world: World, tmp_path: Path) -> None:
    """A slow first scan: the frame (header, footer, "reading the agents' logs") is on the screen at once."""
    w = world
    slow = tmp_path / "slow_monitor.py"
    slow.write_text(
        "import sys, time\n"
        "import llm_session_manager.tui.snapshot as snap\n"
        "def collect(*a, **k):\n"
        "    time.sleep(3)\n"
        "    return snap.collect(*a, **k)\n"
        "orig = snap.Refresher.__init__\n"
        "def init(self, *a, **k):\n"
        "    k['collect_fn'] = collect\n"
        "    orig(self, *a, **k)\n"
        "snap.Refresher.__init__ = init\n"
        "from llm_session_manager.entry import main\n"
        "sys.argv = ['lsm', 'monitor', '--interval', '1']\n"
        "main()\n",
        encoding="utf-8",
    )
    started = time.monotonic()
    w.pane.type_line(f"{shlex.quote(sys.executable)} {shlex.quote(str(slow))}; echo EXIT=$?")
    # The frame is drawn in pieces: wait for all of it, then check it came before the scan could end.
    text = w.pane.wait_for(
        lambda t: "reading the agents' logs" in t and " lsm monitor " in t and "q  quit" in t,
        what="the first frame",
    )
    assert time.monotonic() - started < 2.5
    save_capture("loading", text)
    w.pane.keys("?")  # keys work while the scan runs
    w.pane.wait_for(lambda t: "Help: keys" in t, what="the help during the scan")
    w.pane.keys("?")
    w.pane.wait_for(lambda t: SHORT in t and "active (busy)" in t, what="the sessions after the scan")
    quit_monitor(w)


def test_slash_tab_searches_what_was_said(world: World) -> None:
    """`/` then Tab: a search of what was said (lsm grep) that keeps the sessions where it was said, in
    every scope — here an ended session, while the table showed running ones only; Esc clears it."""
    w = world
    start_monitor(w)
    w.pane.keys("/")
    w.pane.wait_for(lambda t: "Filter:" in t, what="the filter prompt")
    w.pane.keys("Tab")
    w.pane.wait_for(lambda t: "Search what was said:" in t, what="the content prompt")
    w.pane.cmd("send-keys", "-t", "mon", "-l", '"run that example"')
    w.pane.keys("Enter")
    text = w.pane.wait_for(
        lambda t: "1 session(s) mention" in t and len(table_rows(t)) == 1, what="the one session that said it"
    )
    assert SHORT not in table_rows(text)[0]  # not the running session: the fixture that said it
    expected = next(o for o in listed(w).values() if str(o["native_id"]) == "representative")
    assert str(expected["native_id"])[:8] in table_rows(text)[0]
    assert 'said: "run that example"' in text
    w.pane.keys("Escape")
    w.pane.wait_for(
        lambda t: SHORT in t and len(table_rows(t)) == 1 and "said:" not in t, what="back to running"
    )
    w.pane.keys("/")
    w.pane.keys("Tab")
    w.pane.cmd("send-keys", "-t", "mon", "-l", "zzzunsaidzzz")
    w.pane.keys("Enter")
    w.pane.wait_for(lambda t: "No session mentions" in t, what="the empty search")
    quit_monitor(w)
