"""lsm on the rollouts Codex CLI really wrote (fixtures/real/codex-*), against their truth.

Each focused test reads one captured rollout, or a part of it, through the reader, so a rule that
breaks shows which line of real Codex output it was about.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llm_session_manager.agents.codex import CodexReader
from llm_session_manager.discovery import classify
from llm_session_manager.models import Session
from tests.real_fixtures import capture_dirs, compare, listed, load_truth

CAPTURES = capture_dirs("codex")


def test_captures_exist() -> None:
    assert CAPTURES, "no tests/fixtures/real/codex-* capture"


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_every_session_equals_its_truth(tmp_path: Path, capture: Path) -> None:
    rows, truth = listed(tmp_path, capture)
    report = compare(rows, truth)
    assert {k: v for k, v in report.items() if v} == {}


def _rollout(capture: Path, scenario: str) -> tuple[Path, dict[str, Any]]:
    """The rollout captured for ``scenario`` (a prefix of its name), and its truth."""
    for want in load_truth(capture)["sessions"]:
        if want["scenario"].startswith(scenario):
            found = list(
                (capture / "home" / ".codex").glob(f"*sessions/**/rollout-*-{want['native_id']}.jsonl")
            )
            assert len(found) == 1, found
            return found[0], want
    raise AssertionError(f"no {scenario!r} session in {capture}")


def _read(tmp_path: Path, lines: list[str]) -> Session:
    """The session the reader makes of these rollout lines alone."""
    codex_home = tmp_path / "codex"
    path = (
        codex_home
        / "sessions"
        / "2026"
        / "01"
        / "01"
        / "rollout-x-00000000-0000-4000-8000-000000000001.jsonl"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines), encoding="utf-8")
    reader = CodexReader(codex_home)
    states = [reader.read(p, key, None) for p, key, _ident in reader.sources()]
    (session,) = reader.sessions(states)
    return session


def _tokens(session: Session) -> dict[str, int]:
    t = session.tokens
    return {
        "input": t.input,
        "output": t.output,
        "cache_creation": t.cache_creation,
        "cache_read": t.cache_read,
    }


def _kinds(line: str) -> tuple[str, str, str]:
    obj = json.loads(line)
    payload = obj.get("payload") or {}
    item = payload.get("item") if isinstance(payload.get("item"), dict) else {}
    return obj.get("type", ""), str(payload.get("type", "")), str(item.get("type", ""))


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_command_results_are_item_completed_command_executions(tmp_path: Path, capture: Path) -> None:
    """Codex 0.171 writes no exec_command_end: a failing command is an item_completed CommandExecution
    with status "failed" and its exit code. Both failures (a failing ls, a missing file) count."""
    path, want = _rollout(capture, "tools")
    lines = path.read_text().splitlines(keepends=True)
    assert not any(_kinds(line)[1] == "exec_command_end" for line in lines)
    results = [json.loads(x)["payload"]["item"] for x in lines if _kinds(x)[2] == "CommandExecution"]
    assert sorted((r["status"], r["exit_code"]) for r in results) == [
        ("completed", 0),
        ("completed", 0),
        ("failed", 1),
        ("failed", 2),
    ]
    session = _read(tmp_path, lines)
    assert (session.tool_calls, session.tool_errors) == (want["tool_calls"], want["tool_errors"]) == (4, 2)
    assert session.repeated_failures == 1  # two different commands failed once each


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_a_command_the_user_ran_is_no_tool_error(tmp_path: Path, capture: Path) -> None:
    """`!ls /nonexistent` in the TUI is a CommandExecution with source "user_shell" and status
    "failed": the user's command, not a tool call of the model's."""
    path, want = _rollout(capture, "interactive")
    lines = path.read_text().splitlines(keepends=True)
    user = [json.loads(x)["payload"]["item"] for x in lines if '"user_shell"' in x and _kinds(x)[2]]
    assert [(u["source"], u["status"]) for u in user] == [("user_shell", "failed")]
    session = _read(tmp_path, lines)
    assert (session.tool_calls, session.tool_errors) == (want["tool_calls"], want["tool_errors"]) == (2, 1)


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_killed_mid_tool_keeps_the_usage_record(tmp_path: Path, capture: Path) -> None:
    """Killed while its command ran: the response's token_usage_record was written, its token_count
    never was (Codex writes that after the tool result)."""
    path, want = _rollout(capture, "killed")
    lines = path.read_text().splitlines(keepends=True)
    kinds = [_kinds(x) for x in lines]
    assert ("token_usage_record", "", "") in kinds
    assert not any(k[1] == "token_count" for k in kinds)
    session = _read(tmp_path, lines)
    assert _tokens(session) == want["tokens"]
    assert session.messages_assistant == 1
    assert session.context_tokens == want["context_tokens"]
    assert session.context_window == want["context_window"]  # from task_started


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_resume_restatement_is_not_a_new_response(tmp_path: Path, capture: Path) -> None:
    """Resuming with another model, Codex re-emits the last token_count (same cumulative total, new
    timestamp), and again after the compaction: without the token_usage_records, the token_count
    events alone must still count every call once."""
    path, want = _rollout(capture, "model switch")
    lines = [x for x in path.read_text().splitlines(keepends=True) if _kinds(x)[0] != "token_usage_record"]
    totals = [
        json.dumps(json.loads(x)["payload"]["info"]["total_token_usage"])
        for x in lines
        if _kinds(x)[1] == "token_count"
    ]
    assert len(totals) > len(set(totals))  # the restatements are there
    session = _read(tmp_path, lines)
    assert _tokens(session) == want["tokens"]
    assert session.messages_assistant == want["messages"]["assistant"]


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_model_switch_compaction_call_is_the_old_models(tmp_path: Path, capture: Path) -> None:
    """Resuming with -m makes Codex compact the history with the old model first: that call is the
    old model's, the ones after it the new model's."""
    path, want = _rollout(capture, "model switch")
    session = _read(tmp_path, path.read_text().splitlines(keepends=True))
    per_model = {m.model: m for m in session.model_usage}
    assert set(per_model) == {"gpt-6.2-sol", want["model"]}
    assert session.model == want["model"]
    assert session.compactions == 1
    assert sum(m.input for m in per_model.values()) == want["tokens"]["input"]


# The process tree of Codex 0.171 while its TUI runs (seen with ps during the capture): the npm
# launcher, the native TUI, the app-server daemon the TUI starts (it writes the rollouts and outlives
# the TUI) and the daemon's updater. Only the TUI is a session; the rollout is linked to it by its cwd.
NATIVE = "/usr/lib/node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex"
DAEMON = "/home/dev/.codex/packages/app-server-daemon/releases/0.171.0-x86_64-unknown-linux-musl/bin/codex"


@pytest.mark.parametrize(
    ("argv", "agent"),
    [
        ([NATIVE, "--dangerously-bypass-approvals-and-sandbox"], "codex"),
        ([NATIVE, "exec", "--skip-git-repo-check", "Wait for it [[slow]]"], "codex"),
        ([NATIVE, "exec", "resume", "--skip-git-repo-check", "--last", "Second question"], "codex"),
        (
            [DAEMON, "app-server", "--listen", "unix://", "--analytics-default-enabled", "--managed-daemon"],
            None,
        ),
        ([DAEMON, "app-server", "daemon", "pid-update-loop"], None),
        ([NATIVE, "remote-control"], None),
        ([NATIVE, "exec-server"], None),
        ([NATIVE, "archive", "01a24270-7ed4-7d43-8776-4836dc409cbc"], None),
        ([NATIVE, "-c", "model=gpt-5.5", "migrate-rollouts"], None),
    ],
)
def test_codex_0171_processes(argv: list[str], agent: str | None) -> None:
    assert classify("codex", argv[0], argv) == agent


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_fork_points_at_its_parent_instead_of_copying(tmp_path: Path, capture: Path) -> None:
    """A 0.171 fork's rollout names the parent's history (``history_base``) and holds only what the
    fork added: the fork owns its own calls and the parent keeps all of its own."""
    fork_path, fork = _rollout(capture, "fork")
    parent_path, parent = _rollout(capture, "tools")
    meta = json.loads(fork_path.read_text().splitlines()[0])["payload"]
    assert meta["history_base"]["thread_id"] == meta["forked_from_id"] == parent["native_id"]
    lines = fork_path.read_text().splitlines(keepends=True) + parent_path.read_text().splitlines(
        keepends=True
    )
    assert (
        sum(1 for x in lines if _kinds(x)[0] == "token_usage_record")
        == fork["messages"]["assistant"] + parent["messages"]["assistant"]
    )
    assert (
        _tokens(_read(tmp_path / "fork", fork_path.read_text().splitlines(keepends=True))) == fork["tokens"]
    )
    assert (
        _tokens(_read(tmp_path / "parent", parent_path.read_text().splitlines(keepends=True)))
        == parent["tokens"]
    )
