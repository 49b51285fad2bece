"""Hostile file trees: folder symlink loops end every walk and count each file once; a FIFO, a link to
/dev/zero or an oversize side file where a file is expected never blocks, is never read to the end of
a device, and costs only itself. Every test runs lsm (or the reads) in a child process with a timeout:
a hang fails the test instead of blocking the suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FakeHome
from test_reader_numbers import GOOD_IN, GOOD_OUT, WRITERS

CHILD_TIMEOUT = 30


def listed(fake_home: FakeHome) -> list[dict[str, object]]:
    r = fake_home.run("list", "--all", "--format", "json")  # FakeHome.run fails the test after 120 s
    assert r.returncode == 0, r.stderr
    rows: list[dict[str, object]] = json.loads(r.stdout)
    return rows


def cursor_agent(home: Path) -> str:
    folder = home / ".cursor" / "projects" / "home-u-p" / "agent-transcripts"
    folder.mkdir(parents=True)
    line = {"role": "user", "message": {"content": [{"type": "text", "text": "<user_query>hi</user_query>"}]}}
    (folder / "ca1.jsonl").write_text(json.dumps(line) + "\n")
    return "cursor-agent:ca1"


def loop(link: Path, target: str) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target, target_is_directory=True)


# Where each agent's walk goes, and the loops put there: ``x -> ..`` one level down and ``self -> .``.
LOOP_DIRS = {
    "claude-code": [".claude/projects", ".claude/projects/-p"],
    "copilot-cli": [".copilot/session-state", ".copilot/session-state/p1"],
    "codex": [".codex/sessions", ".codex/sessions/2026", ".codex/sessions/2026/11/01"],
    "gemini": [".gemini/tmp", ".gemini/tmp/proj", ".gemini/tmp/proj/chats"],
    "cline": [".config/Code/User/globalStorage/saoudrizwan.claude-dev/tasks/t1"],
    "copilot": [".config/Code/User/workspaceStorage", ".config/Code/User/workspaceStorage/ws/chatSessions"],
    "cursor": [".config/Cursor/User/globalStorage", ".config/Cursor/User/workspaceStorage"],
    "cursor-agent": [".cursor/projects", ".cursor/projects/home-u-p/agent-transcripts"],
}


def test_folder_symlink_loops_end_every_walk_and_count_each_file_once(fake_home: FakeHome) -> None:
    home = fake_home.home
    ids = {name: write(home, []) for name, write in WRITERS.items()}
    ids["cursor-agent"] = cursor_agent(home)
    for folders in LOOP_DIRS.values():
        for folder in folders:
            loop(home / folder / "self", ".")
            loop(home / folder / "a" / "b", "..")
    rows = listed(fake_home)
    by_id: dict[object, list[dict[str, object]]] = {}
    for row in rows:
        by_id.setdefault(row["id"], []).append(row)
    for agent, sid in ids.items():
        assert len(by_id.get(sid, [])) == 1, (agent, [r["id"] for r in rows])
        tokens = by_id[sid][0]["tokens"]
        assert isinstance(tokens, dict)
        if agent != "cursor-agent":  # its tokens are counted from the text, not logged
            assert (tokens["input"], tokens["output"]) == (GOOD_IN, GOOD_OUT), agent


def transcript_of(home: Path, agent: str) -> Path:
    return {
        "claude-code": home / ".claude/projects/-p/s1.jsonl",
        "copilot-cli": home / ".copilot/session-state/p1/events.jsonl",
        "codex": home / ".codex/sessions/2026/11/01/rollout-2026-11-01T10-00-00-c1.jsonl",
        "gemini": home / ".gemini/tmp/proj/chats/session-g1.jsonl",
        "cline": home / ".config/Code/User/globalStorage/saoudrizwan.claude-dev/tasks/t1/ui_messages.json",
        "copilot": home / ".config/Code/User/workspaceStorage/ws/chatSessions/v1.jsonl",
        "cursor": home / ".config/Cursor/User/globalStorage/state.vscdb",
    }[agent]


def test_fifo_and_dev_zero_in_place_of_transcripts_and_side_files(fake_home: FakeHome) -> None:
    home = fake_home.home
    ids = {name: write(home, []) for name, write in WRITERS.items()}
    # Side files, each a FIFO: Gemini's .project_root and projects.json, Copilot's workspace.json,
    # Cline's task metadata; a second Cline task whose metadata is larger than any real one.
    side = [
        home / ".gemini/tmp/proj/.project_root",
        home / ".gemini/projects.json",
        home / ".config/Code/User/workspaceStorage/ws/workspace.json",
        transcript_of(home, "cline").parent / "task_metadata.json",
    ]
    for path in side:
        os.mkfifo(path)
    big = home / ".config/Code/User/globalStorage/saoudrizwan.claude-dev/tasks/t2"
    big.mkdir()
    (big / "ui_messages.json").write_text(transcript_of(home, "cline").read_text())
    with open(big / "task_metadata.json", "wb") as fh:
        fh.truncate(64 * 1024 * 1024)
    # A FIFO and a /dev/zero link next to each transcript, named like one.
    for agent in ids:
        path = transcript_of(home, agent)
        stem, suffix = path.name.split(".", 1)
        os.mkfifo(path.with_name(f"{stem}-fifo.{suffix}"))
        path.with_name(f"{stem}-zero.{suffix}").symlink_to("/dev/zero")
    rows = {r["id"]: r for r in listed(fake_home)}
    for agent, sid in ids.items():
        tokens = rows[sid]["tokens"]
        assert isinstance(tokens, dict)
        assert (tokens["input"], tokens["output"]) == (GOOD_IN, GOOD_OUT), agent
    assert "cline:t2" in rows  # its oversize metadata is skipped, the task is not


READ_FIFO = """
import os, sys
from llm_session_manager.agents import all_readers
from llm_session_manager.paths import resolve
folder, agent = sys.argv[1:]
reader = next(r for r in all_readers(resolve()) if r.name == agent)
for name in sorted(os.listdir(folder)):
    try:
        reader.read(os.path.join(folder, name), "k", None)
    except OSError:
        continue
    print("read a FIFO:", name)
"""
FIFO_NAMES = (
    "x.jsonl",
    "x.json",
    "ui_messages.json",
    "state.vscdb",
    "store.db",
    "x.txt",
    "x.md",
    "events.jsonl",
)
AGENTS = (
    "claude-code",
    "codex",
    "gemini",
    "cursor",
    "cursor-agent",
    "copilot",
    "copilot-cli",
    "aider",
    "cline",
)


@pytest.mark.parametrize("agent", AGENTS)
def test_a_transcript_replaced_by_a_fifo_after_listing_is_never_waited_on(tmp_path: Path, agent: str) -> None:
    """A reader asked to read a FIFO (swapped in between listing and reading) refuses it at once."""
    folder = tmp_path / "fifos"
    folder.mkdir()
    for name in FIFO_NAMES:
        os.mkfifo(folder / name)
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    r = subprocess.run(
        [sys.executable, "-c", READ_FIFO, str(folder), agent],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("agent", ["cline", "copilot", "gemini"])
def test_export_of_a_session_whose_transcript_became_a_fifo(fake_home: FakeHome, agent: str) -> None:
    sid = WRITERS[agent](fake_home.home, [])
    assert sid in {r["id"] for r in listed(fake_home)}
    path = transcript_of(fake_home.home, agent)
    path.unlink()
    os.mkfifo(path)
    r = fake_home.run("export", sid, "-o", "-", "--format", "json")
    assert "Traceback" not in r.stderr


def test_claude_status_file_and_rollout_head_that_are_fifos_are_never_waited_on(tmp_path: Path) -> None:
    """Discovery reads Claude Code's ``sessions/<pid>.json`` and a Codex rollout's first line."""
    status = tmp_path / "sessions" / "123.json"
    status.parent.mkdir()
    os.mkfifo(status)
    rollout = tmp_path / "rollout.jsonl"
    os.mkfifo(rollout)
    code = (
        "import sys; from pathlib import Path; from llm_session_manager import discovery as d; "
        "print(d._read_json(Path(sys.argv[1])), d._rollout_is_subagent(sys.argv[2]))"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, str(status), str(rollout)],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["None", "False"]


def test_names_that_are_not_utf8_are_passed_over_in_every_agents_tree(fake_home: FakeHome) -> None:
    """A path lsm can neither store nor show as text is no agent's file: one such name beside (or above)
    each transcript failed every listing with a traceback (a listing's signature encodes each path)."""
    home = fake_home.home
    ids = {name: write(home, []) for name, write in WRITERS.items()}
    for agent in ids:
        path = transcript_of(home, agent)
        odd = os.fsencode(path.parent) + b"/odd-\xff-" + os.fsencode(path.name)
        with open(odd, "wb") as fh:
            fh.write(path.read_bytes())
        folder = os.fsencode(path.parent.parent) + b"/caf\xe9"
        os.makedirs(folder, exist_ok=True)
        with open(folder + b"/" + os.fsencode(path.name), "wb") as fh:
            fh.write(path.read_bytes())
    rows = {r["id"]: r for r in listed(fake_home)}
    for agent, sid in ids.items():
        tokens = rows[sid]["tokens"]
        assert isinstance(tokens, dict) and (tokens["input"], tokens["output"]) == (GOOD_IN, GOOD_OUT), agent
    assert not [sid for sid in rows if not sid.isascii()]
