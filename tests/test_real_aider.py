"""lsm on the chat histories Aider really wrote (tests/fixtures/real/aider-*), against their truth.

Aider's session ids and project paths depend on where the history file is: the truth names them as
captured (under /home/dev), the test maps them to the fake HOME the capture is installed in.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llm_session_manager.agents.aider import AiderReader, section_key, section_turns, session_native_id
from tests.conftest import FakeHome
from tests.real_fixtures import capture_dirs, compare, install

CAPTURES = capture_dirs("aider")
HISTORY = ".aider.chat.history.md"


def _installed(home: Path, truth: dict[str, Any]) -> dict[str, Any]:
    """The truth with each session's id and project path as lsm sees them in the fake HOME."""
    sessions = []
    for want in truth["sessions"]:
        project = home / Path(want["project_path"]).relative_to(truth["home"])
        history = project / HISTORY
        stamp = _header(history.read_text())
        native = session_native_id(str(history), section_key({}, stamp))
        sessions.append({**want, "native_id": native, "project_path": str(project)})
    return {**truth, "sessions": sessions}


def _header(text: str) -> str:
    prefix = "# aider chat started at "
    return next(line[len(prefix) :].strip() for line in text.splitlines() if line.startswith(prefix))


def _rows(tmp_path: Path, capture: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    home = tmp_path / "home"
    fh = FakeHome(home=home, claude=home / ".claude", lsm_home=tmp_path / "lsm-data")
    truth = _installed(home, install(capture, home))
    result = fh.run("list", "--all", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), truth


def test_captures_exist() -> None:
    assert CAPTURES, "no tests/fixtures/real/aider-* capture"


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_every_session_equals_its_truth(tmp_path: Path, capture: Path) -> None:
    rows, truth = _rows(tmp_path, capture)
    report = compare(rows, truth)
    assert {k: v for k, v in report.items() if v} == {}


def _session(tmp_path: Path, capture: Path, project: str) -> Any:
    history = capture / "home" / "work" / project / HISTORY
    folder = tmp_path / project
    folder.mkdir()
    (folder / HISTORY).write_bytes(history.read_bytes())
    reader = AiderReader([str(tmp_path)], 2)
    states = [reader.read(path, key, None) for path, key, _ident in reader.sources()]
    (session,) = reader.sessions(states)
    return session


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_two_line_usage_report_is_read(tmp_path: Path, capture: Path) -> None:
    """With a cache write and a cache hit aider puts the cost on its own line; the usage still counts."""
    session = _session(tmp_path, capture, "aider-oneshot")
    text = Path(session.transcript_paths[0]).read_text()
    assert "received.\nCost: $" in text
    # "1.5k sent, 61 cache write, 313 cache hit, 27 received": input 1500 - 2 * 61 - 313
    assert (session.tokens.input, session.tokens.output) == (1065, 27)
    assert (session.tokens.cache_creation, session.tokens.cache_read) == (61, 313)
    assert session.messages_assistant == 1


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_ask_logged_twice_is_one_prompt(tmp_path: Path, capture: Path) -> None:
    session = _session(tmp_path, capture, "aider-ask")
    text = Path(session.transcript_paths[0]).read_text()
    assert "#### /ask What does notes.txt say?  \n\n#### What does notes.txt say?  \n" in text
    assert (session.messages_user, session.messages_assistant) == (1, 1)
    assert session.title == "What does notes.txt say?"


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_aider_session_cost_is_kept(tmp_path: Path, capture: Path) -> None:
    """The last "Cost: $x message, $y session." figure is aider's own total for the run."""
    session = _session(tmp_path, capture, "aider-chat")
    costs = [
        line for line in Path(session.transcript_paths[0]).read_text().splitlines() if "session." in line
    ]
    assert costs[-1].startswith("Cost: $") and costs[-1].endswith(" session.  ")
    assert session.agent_cost_usd == float(costs[-1].split("$")[2].split(" ")[0])


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_export_leaves_the_usage_report_out(capture: Path) -> None:
    text = (capture / "home" / "work" / "aider-oneshot" / HISTORY).read_text()
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# aider chat started at "))
    turns = section_turns(lines[start + 1 :])
    assert [t["role"] for t in turns] == ["user", "assistant"]
    assert "Tokens:" not in turns[1]["text"] and "Cost:" not in turns[1]["text"]
