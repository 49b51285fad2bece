"""The compiled listing of Claude Code's project folders (``_claude_fold.walk``) lists what the Python walk
lists, in the same order: the order files are handed to a cold scan's workers, and so the order of the
merged sessions, depends on it. Held to the Python walk on a tree with every shape a real one has (session
folders, sub-agents, a top-level transcript) and the hostile ones (link loops, links to folders walked
already, dangling links, a FIFO and a folder named like transcripts, hard links, undecodable names)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

import pytest
from conftest import FakeHome

from llm_session_manager.agents import claude_code, common
from llm_session_manager.agents.claude_code import ClaudeCodeReader, Entry, compiled_walk


def walked(reader: ClaudeCodeReader, compiled: bool) -> list[Entry]:
    fast = compiled_walk() if compiled else None
    assert (fast is not None) == compiled
    return list(reader._walked(fast))


def touch(path: Path, text: str = "{}\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def hostile_tree(root: Path) -> Path:
    """A projects folder holding every shape; returns it."""
    projects = root / "projects"
    for p in range(3):
        project = projects / f"-home-u-p{p}"
        for s in range(4):
            touch(project / f"s{p}{s}.jsonl", "x" * (s + 1))
            if s % 2:
                touch(project / f"s{p}{s}" / "subagents" / f"agent-{s}.jsonl")
                touch(project / f"s{p}{s}" / "subagents" / "deeper" / "agent-d.jsonl")
        touch(project / "notes.txt")
    project = projects / "-home-u-p0"
    touch(projects / "top-level.jsonl")  # a transcript right under the root
    (project / "self").symlink_to(".", target_is_directory=True)  # loops
    (project / "s01" / "back").symlink_to("..", target_is_directory=True)
    (project / "again").symlink_to(projects / "-home-u-p1", target_is_directory=True)  # walked already
    (projects / "linked-project").symlink_to(project, target_is_directory=True)
    (project / "gone.jsonl").symlink_to(root / "missing.jsonl")  # dangling, named like a transcript
    (project / "gone-dir").symlink_to(root / "missing", target_is_directory=True)
    os.mkfifo(project / "fifo.jsonl")
    touch(project / "folder.jsonl" / "inside.jsonl")  # a folder named like a transcript
    os.link(project / "s00.jsonl", project / "hard.jsonl")  # one file, two names
    (project / "soft.jsonl").symlink_to(project / "s02.jsonl")
    touch(projects / os.fsdecode(b"-home-u-caf\xe9") / "s.jsonl")  # names that are not UTF-8
    touch(project / os.fsdecode(b"s\xff.jsonl"))
    touch(project / os.fsdecode(b"s\xed\xa0\x80") / "subagents" / "agent-x.jsonl")  # a surrogate's bytes
    (projects / "empty").mkdir()
    return projects


def test_the_compiled_walk_lists_what_python_lists_in_the_same_order(tmp_path: Path) -> None:
    projects = hostile_tree(tmp_path)
    reader = ClaudeCodeReader([projects])
    fast, slow = walked(reader, True), walked(reader, False)
    assert fast == slow
    keys = [key for _path, key, _ident in fast]
    # Each file once, whatever the links; sub-agents under their session; the top-level transcript.
    assert len({ident[:2] for _p, _k, ident in fast}) == len(fast)
    assert keys.count("s01") == 3 and keys.count("s03") == 3  # its transcript and two sub-agents
    assert "top-level" in keys and "folder.jsonl" in keys
    assert not [p for p, _k, _i in fast if not p.isascii()]  # names that are not UTF-8 are no transcripts
    assert not {"gone", "fifo", "notes.txt"} & set(keys)
    assert keys.count("hard") + keys.count("s00") == 1 and keys.count("soft") + keys.count("s02") == 1
    for path, _key, ident in fast:
        st = os.stat(path)
        assert ident == (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def test_roots_sharing_files_and_a_missing_root(tmp_path: Path) -> None:
    projects = hostile_tree(tmp_path)
    roots = [projects, tmp_path / "nowhere", projects / "-home-u-p1", projects]
    reader = ClaudeCodeReader(roots)
    fast = walked(reader, True)
    assert fast == walked(reader, False)
    assert fast[0][0].startswith(f"{projects}/") and "//" not in "".join(p for p, _k, _i in fast)
    assert len({ident[:2] for _p, _k, ident in fast}) == len(fast)  # the second and fourth root add nothing


def test_a_folder_that_vanishes_or_cannot_be_opened_is_listed_as_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A project folder removed between the root's listing and its own is skipped, as os.scandir's
    failure is (the Python walk's ``scandir`` gives no entries)."""
    projects = hostile_tree(tmp_path)
    reader = ClaudeCodeReader([projects])
    real = common.first_visit

    def visit_then_remove(seen: set[tuple[int, int]], path: str) -> bool:
        first = real(seen, path)
        if path.endswith("-home-u-p2"):
            for child in sorted(Path(path).rglob("*"), reverse=True):
                child.rmdir() if child.is_dir() else child.unlink()
            Path(path).rmdir()
        return first

    monkeypatch.setattr(claude_code, "first_visit", visit_then_remove)
    fast = walked(reader, True)
    assert fast and not [p for p, _k, _i in fast if "-home-u-p2" in p]


def test_sources_use_the_compiled_walk_when_it_is_built(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    projects = hostile_tree(tmp_path)
    calls: list[str] = []
    real = compiled_walk()
    assert real is not None  # the test suite runs with the compiled module built (test_claude_fold)

    def noted(folder: str, dirs: set[tuple[int, int]], files: set[tuple[int, int]]) -> Iterable[Entry]:
        calls.append(folder)
        return real(folder, dirs, files)

    monkeypatch.setattr(claude_code, "compiled_walk", lambda: noted)
    listed = list(ClaudeCodeReader([projects]).sources())
    assert listed == walked(ClaudeCodeReader([projects]), False)
    # Each project folder entered once: p0 or the link to it, whichever comes first; p1 unless it was
    # entered through p0's link to it; p2 and the empty one (not the one whose name is not UTF-8).
    assert 3 <= len(calls) == len(set(calls)) <= 4


def test_a_name_that_is_not_utf8_takes_no_listing_down(fake_home: FakeHome) -> None:
    """Such a path can be neither stored nor shown as text: its file is passed over, the others listed
    (it failed every `lsm list` with a traceback)."""
    projects = fake_home.home / ".claude" / "projects" / "-home-u-p"
    touch(projects / "ok.jsonl", (REPLY + "\n"))
    touch(projects / os.fsdecode(b"bad\xff.jsonl"), (REPLY + "\n"))
    touch(projects / os.fsdecode(b"caf\xe9") / "subagents" / "agent-a.jsonl", (REPLY + "\n"))
    r = fake_home.run("list", "--all", "--format", "json")
    assert r.returncode == 0 and not r.stderr, r.stderr
    ids = [row["native_id"] for row in json.loads(r.stdout) if row["agent"] == "claude-code"]
    assert "ok" in ids and not [i for i in ids if i.startswith(("bad", "caf"))], ids


REPLY = json.dumps(
    {
        "type": "assistant",
        "timestamp": "2026-11-20T10:00:00.000Z",
        "requestId": "r1",
        "message": {
            "id": "m1",
            "model": "claude-sonnet-4-5",
            "usage": {"input_tokens": 5, "output_tokens": 7},
        },
    }
)
