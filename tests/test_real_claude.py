"""lsm on the transcripts Claude Code really wrote (fixtures/real/claude-code-*), against their truth.

The truth comes from the model stub's log (manual_tests/real_agents/capture_claude.py): tokens of the
answers that finished, per session id Claude Code sent, prompts, replies, tool calls and failed tool
results, model, context and Claude Code's own window. The focused tests re-lay the captured files to
pin the rules: a fork's copy of its parent stays the parent's whichever id sorts first, "HEAD" is no
branch, a given name is the title, a logged ``costUSD`` is kept as the agent's own cost.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from llm_session_manager.agents.claude_code import ClaudeCodeReader
from llm_session_manager.models import Session
from tests.conftest import FakeHome
from tests.real_fixtures import capture_dirs, compare, listed, load_truth, truth_of

CAPTURES = capture_dirs("claude-code")
LOW_ID = "00000000-0000-4000-8000-000000000000"
HIGH_ID = "ffffffff-ffff-4fff-bfff-ffffffffffff"


def _forks(capture: Path) -> list[dict[str, Any]]:
    return [w for w in load_truth(capture)["sessions"] if w["scenario"].startswith("fork-")]


def _transcript(capture: Path, native_id: str) -> Path:
    (path,) = (capture / "home" / ".claude" / "projects").glob(f"*/{native_id}.jsonl")
    return path


def _read(projects: Path) -> dict[str, Session]:
    reader = ClaudeCodeReader([projects])
    states = [reader.read(path, key, None) for path, key, _ in reader.sources()]
    return {s.native_id: s for s in reader.sessions(states)}


def _lay_out(tmp_path: Path, files: dict[str, Path]) -> Path:
    """Copy transcripts into one project folder under new ids (native id -> source file)."""
    project = tmp_path / "projects" / "-home-dev-work-claude-fork"
    project.mkdir(parents=True)
    for native_id, src in files.items():
        shutil.copy(src, project / f"{native_id}.jsonl")
    return tmp_path / "projects"


def _tokens(session: Session) -> dict[str, int]:
    t = session.tokens
    return {
        "input": t.input,
        "output": t.output,
        "cache_creation": t.cache_creation,
        "cache_read": t.cache_read,
    }


def test_captures_exist() -> None:
    assert CAPTURES, "no tests/fixtures/real/claude-code-* capture"


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_every_session_equals_its_truth(tmp_path: Path, capture: Path) -> None:
    rows, truth = listed(tmp_path, capture)
    report = compare(rows, truth)
    assert {k: v for k, v in report.items() if v} == {}
    assert len(truth["sessions"]) == len([r for r in rows if r["agent"] == "claude-code"])


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_capture_has_forks_on_both_sides_of_the_parent(capture: Path) -> None:
    """The bug only showed when the fork's id sorted first: the capture must hold that case."""
    parent = truth_of(capture, "fork")["native_id"]
    assert any(f["native_id"] < parent for f in _forks(capture))
    first = _transcript(capture, _forks(capture)[0]["native_id"]).read_text().splitlines()
    assert json.loads(first[0])["type"] == "mode"


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
@pytest.mark.parametrize("fork_id", [LOW_ID, HIGH_ID], ids=["fork-sorts-first", "fork-sorts-last"])
def test_forked_history_stays_with_its_parent(tmp_path: Path, capture: Path, fork_id: str) -> None:
    """A fork copies its parent's lines with the same uuid, requestId and message.id; whichever file
    comes first in path order, the copies are the parent's and the fork owns only what it added."""
    parent, fork = truth_of(capture, "fork"), _forks(capture)[0]
    projects = _lay_out(
        tmp_path,
        {
            parent["native_id"]: _transcript(capture, parent["native_id"]),
            fork_id: _transcript(capture, fork["native_id"]),
        },
    )
    sessions = _read(projects)
    for want, got in ((parent, sessions[parent["native_id"]]), (fork, sessions[fork_id])):
        assert _tokens(got) == want["tokens"]
        assert (got.messages_user, got.messages_assistant) == (
            want["messages"]["user"],
            want["messages"]["assistant"],
        )
        assert (got.tool_calls, got.tool_errors) == (want["tool_calls"], want["tool_errors"])


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_fork_without_its_parent_keeps_the_copied_tokens(tmp_path: Path, capture: Path) -> None:
    """With the parent's file gone (Claude Code deletes old transcripts), nobody else holds the copies:
    their tokens count once, for the fork; its prompts, replies and errors stay its own."""
    parent, fork = truth_of(capture, "fork"), _forks(capture)[0]
    sessions = _read(_lay_out(tmp_path, {fork["native_id"]: _transcript(capture, fork["native_id"])}))
    got = sessions[fork["native_id"]]
    assert _tokens(got) == {k: parent["tokens"][k] + fork["tokens"][k] for k in fork["tokens"]}
    assert (got.messages_user, got.messages_assistant) == (1, fork["messages"]["assistant"])
    assert got.tool_errors == fork["tool_errors"]


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_fork_starts_at_its_own_birth(tmp_path: Path, capture: Path) -> None:
    parent, fork = truth_of(capture, "fork"), _forks(capture)[0]
    files = {s["native_id"]: _transcript(capture, s["native_id"]) for s in (parent, fork)}
    sessions = _read(_lay_out(tmp_path, files))
    started = sessions[fork["native_id"]].started_at
    assert started is not None and started > sessions[parent["native_id"]].started_at  # type: ignore[operator]
    assert sessions[fork["native_id"]].title == fork_prompt(files[fork["native_id"]])


def fork_prompt(path: Path) -> str:
    """The prompt the fork itself was started with (the last typed one in its file)."""
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    prompts = [o["message"]["content"] for o in lines if o.get("type") == "user" and not o.get("isMeta")]
    return str([p for p in prompts if isinstance(p, str)][-1])


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
@pytest.mark.parametrize("scenario", ["interactive", "fork-tui"])
def test_terminal_sessions_start_with_mode_too(tmp_path: Path, capture: Path, scenario: str) -> None:
    """A new session in the terminal UI also begins with a ``mode`` line, and may write its replies
    before its prompt: it copies nothing. A fork made there writes a ``file-history-snapshot``
    (its birth) before the copies."""
    want = truth_of(capture, scenario)
    path = _transcript(capture, want["native_id"])
    assert json.loads(path.read_text().splitlines()[0])["type"] == "mode"
    files = {want["native_id"]: path}
    if scenario == "fork-tui":
        parent = truth_of(capture, "fork")["native_id"]
        files[parent] = _transcript(capture, parent)
    got = _read(_lay_out(tmp_path, files))[want["native_id"]]
    assert _tokens(got) == want["tokens"]
    assert (got.messages_user, got.messages_assistant) == (1, want["messages"]["assistant"])


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_head_is_no_branch(tmp_path: Path, capture: Path) -> None:
    """Claude Code writes ``gitBranch: "HEAD"`` in a folder that is not a git repository."""
    one_shot = truth_of(capture, "one-shot")["native_id"]
    lines = _transcript(capture, one_shot).read_text().splitlines()
    assert {json.loads(x).get("gitBranch") for x in lines} == {None, "HEAD"}
    assert _read(_lay_out(tmp_path, {one_shot: _transcript(capture, one_shot)}))[one_shot].git_branch is None
    branched = tmp_path / "branched"
    branched.mkdir()
    (branched / f"{one_shot}.jsonl").write_text(
        "\n".join(x.replace('"HEAD"', '"main"') for x in lines) + "\n"
    )
    assert (
        _read(_lay_out(branched, {one_shot: branched / f"{one_shot}.jsonl"}))[one_shot].git_branch == "main"
    )


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
@pytest.mark.parametrize("scenario", ["named", "interactive"])
def test_given_name_is_the_title(tmp_path: Path, capture: Path, scenario: str) -> None:
    """``--name`` and ``/rename`` write ``custom-title`` (and ``agent-name``) lines: the name beats the
    first prompt and the title Claude Code generated (``ai-title``)."""
    want = truth_of(capture, scenario)
    path = _transcript(capture, want["native_id"])
    kinds = {json.loads(x)["type"] for x in path.read_text().splitlines()}
    assert {"custom-title", "agent-name"} <= kinds
    session = _read(_lay_out(tmp_path, {want["native_id"]: path}))[want["native_id"]]
    assert session.title == want["title"]


def _with_cost(path: Path, out: Path, costs: list[float], model: str) -> None:
    """The captured transcript as an older Claude Code wrote it: ``costUSD`` on every reply line."""
    lines, seen = [], 0
    for raw in path.read_text().splitlines():
        obj = json.loads(raw)
        if obj.get("type") == "assistant":
            obj["message"]["model"] = model
            obj["costUSD"] = costs[min(seen, len(costs) - 1)]
            seen += 1
        lines.append(json.dumps(obj))
    out.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_logged_cost_is_the_agents_cost(tmp_path: Path, capture: Path) -> None:
    """Where Claude Code logged ``costUSD`` and lsm has no price for the model, the session's cost is
    the agent's own figure, labelled ``agent``; each reply's cost counts once (a reply spans lines)."""
    want = truth_of(capture, "tool-ok")
    home = tmp_path / "home"
    project = home / ".claude" / "projects" / "-home-dev-work-claude-tool-ok"
    project.mkdir(parents=True)
    _with_cost(
        _transcript(capture, want["native_id"]), project / f"{want['native_id']}.jsonl", [0.25], "stub-x"
    )
    session = _read(home / ".claude" / "projects")[want["native_id"]]
    assert session.agent_cost_usd == pytest.approx(0.25 * want["messages"]["assistant"])
    fh = FakeHome(home=home, claude=home / ".claude", lsm_home=tmp_path / "lsm-data")
    result = fh.run("list", "--all", "--format", "json")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert (row["cost_usd"], row["cost_source"]) == (pytest.approx(0.5), "agent")


# The status file Claude Code 2.1.197 wrote for `claude -n lsm-live-two` in tmux, before its first prompt
# (no transcript yet), as seen during the live check; and the name it derives itself when none is given.
STATUS_FILE = {
    "pid": 28725,
    "sessionId": "9f7dd11a-5e2c-4d33-acc0-e968770ba006",
    "cwd": "/home/dev/work/claude-live",
    "startedAt": 1796411855613,
    "procStart": "149062",
    "version": "2.1.197",
    "peerProtocol": 1,
    "kind": "interactive",
    "entrypoint": "cli",
    "name": "lsm-live-two",
    "status": "idle",
    "updatedAt": 1796411855865,
    "statusUpdatedAt": 1796411855212,
}


def test_status_file_name_titles_a_session_without_transcript() -> None:
    """A running session's given name is its title even before its transcript exists; a name Claude
    Code derived itself (``nameSource: "derived"``) is none."""
    from llm_session_manager.discovery import _with_status, parse_status_file
    from llm_session_manager.models import Process
    from llm_session_manager.service import _placeholder

    status = parse_status_file(STATUS_FILE)
    assert status is not None and status.name == "lsm-live-two"
    derived = parse_status_file({**STATUS_FILE, "name": "claude-live-fc", "nameSource": "derived"})
    assert derived is not None and derived.name is None
    proc = _with_status(Process(28725, "claude-code", None, None, None, None), status)
    assert _placeholder(proc, status.session_id).title == "lsm-live-two"
    unnamed = _with_status(Process(28725, "claude-code", None, None, None, None), derived)
    assert _placeholder(unnamed, derived.session_id).title == "(new session, no transcript yet)"
