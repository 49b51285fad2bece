"""Cline / Roo Code / Kilo Code reader: tasks under each editor's global storage and Cline's data
folder, exact usage from ``api_req_started``, models from ``task_metadata.json`` / ``<model>`` tags,
damaged files, and the real CLI."""

from __future__ import annotations

import json
import pickle
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeHome

from llm_session_manager.agents.cline import (
    API_FILE,
    META_FILE,
    UI_FILE,
    ClineReader,
    model_at,
    task_roots,
)
from llm_session_manager.models import Session
from llm_session_manager.paths import resolve

FIX = Path(__file__).parent / "fixtures" / "cline"
CLINE_TASK = "1733000000000"
ROO_TASK = "3f2b8c1e-5d4a-4b7e-9c1f-2a6d8e0b4c7a"
ROO_API_TASK = "9a1c7e3d-2b6f-4e8a-b5d0-c4f2e6a8b1d3"
CLINE_EXT = "saoudrizwan.claude-dev"
ROO_EXT = "rooveterinaryinc.roo-cline"


def storage(home: Path, ext: str, editor: str = "Code") -> Path:
    return home / ".config" / editor / "User" / "globalStorage" / ext / "tasks"


def install(home: Path) -> None:
    """The fixtures laid out as VS Code keeps them."""
    shutil.copytree(FIX / "cline" / CLINE_TASK, storage(home, CLINE_EXT) / CLINE_TASK)
    for task in (ROO_TASK, ROO_API_TASK):
        shutil.copytree(FIX / "roo" / task, storage(home, ROO_EXT) / task)


def reader_for(home: Path, **env: str) -> ClineReader:
    return ClineReader.from_paths(resolve({"HOME": str(home), "LSM_HOME": str(home / "lsm"), **env}))


def read_all(reader: ClineReader) -> dict[str, Session]:
    states = [reader.read(path, key, None) for path, key, _ident in reader.sources()]
    return {s.native_id: s for s in reader.sessions(states)}


def ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, timezone.utc)


@pytest.fixture
def sessions(tmp_path: Path) -> dict[str, Session]:
    home = tmp_path / "home"
    install(home)
    return read_all(reader_for(home))


# --------------------------------------------------------------------------------------------------
# the Cline task


def test_cline_task_totals(sessions: dict[str, Session]) -> None:
    s = sessions[CLINE_TASK]
    # requests (tokensIn, tokensOut, cacheWrites, cacheReads), model from task_metadata.json:
    #   ts …01000  12, 310, 14250,     0   claude-3-5-sonnet (entry at …00500)
    #   ts …06000   4, 655,  2100, 14250   claude-3-5-sonnet
    #   ts …21000  20, 120,     0, 16350   claude-3-5-sonnet  (cancelled by the user: still billed)
    #   ts …41000   9, 842,   480, 16350   claude-3-7-sonnet  (entry at …35000)
    # one request's text is cut-off JSON (skipped), one is still "Loading..." (no tokens yet)
    usage = {m.model: (m.input, m.output, m.cache_creation, m.cache_read) for m in s.model_usage}
    assert usage == {
        "claude-3-5-sonnet-20241022": (12 + 4 + 20, 310 + 655 + 120, 14250 + 2100, 14250 + 16350),
        "claude-3-7-sonnet-20250219": (9, 842, 480, 16350),
    }
    assert (s.tokens.input, s.tokens.output, s.tokens.cache_creation, s.tokens.cache_read) == (
        45,
        1927,
        16830,
        46950,
    )
    assert s.tokens.total == 65752
    assert s.tokens.source == "exact"
    assert s.model == "claude-3-7-sonnet-20250219"
    assert s.models == ("claude-3-5-sonnet-20241022", "claude-3-7-sonnet-20250219")


def test_cline_task_details(sessions: dict[str, Session]) -> None:
    s = sessions[CLINE_TASK]
    assert s.id == f"cline:{CLINE_TASK}" and s.agent == "cline"
    assert s.title == "Add a --verbose flag to the CLI and document it in the README"
    assert s.project_path == "/home/dev/projects/tool"  # "# Current Working Directory (…) Files"
    assert s.started_at == ms(1733000000000) and s.last_activity == ms(1733000057000)
    assert (s.messages_user, s.messages_assistant) == (2, 4)  # task + user_feedback; answered requests
    assert (s.tool_calls, s.tool_errors) == (3, 1)  # say tool, ask tool, ask command; say error
    assert (s.api_errors, s.interruptions) == (1, 1)  # api_req_failed; cancelReason user_cancelled
    assert (s.recent_api_errors, s.recent_interruptions) == (1, 1)
    assert s.skipped_lines == 2  # the cut-off request JSON and the bare number 42
    assert (s.context_tokens, s.peak_context_tokens) == (9 + 480 + 16350, 9 + 480 + 16350)
    assert s.compactions == 0 and s.turns_since_compaction == 2
    assert s.context_window is None and s.context_window_source == ""
    assert len(s.transcript_paths) == 2
    # burn-rate buckets per minute and model; context after each request
    assert s.usage_buckets == (
        (1733000000000 // 60000, "claude-3-5-sonnet-20241022", 36, 1085, 16350, 30600),
        (1733000041000 // 60000, "claude-3-7-sonnet-20250219", 9, 842, 480, 16350),
    )
    assert s.context_series == (
        (1733000001, 14262),
        (1733000006, 16354),
        (1733000021, 16370),
        (1733000041, 16839),
    )


# --------------------------------------------------------------------------------------------------
# Roo Code tasks


def test_roo_task_openai_protocol_and_condense(sessions: dict[str, Session]) -> None:
    s = sessions[ROO_TASK]
    # apiProtocol "openai": tokensIn includes the cached tokens: 10500 - 8000 and 4000 - 2500
    assert (s.tokens.input, s.tokens.output, s.tokens.cache_creation, s.tokens.cache_read) == (
        2500 + 1500,
        700 + 250,
        0,
        8000 + 2500,
    )
    assert s.tokens.total == 15450
    assert s.model == "gpt-4.1"  # <model> in the request's environment details
    assert s.title == "[Roo Code] Refactor the parser into smaller functions"
    assert s.project_path == "/home/dev/parser"  # "# Current Workspace Directory (…) Files"
    assert (s.compactions, s.turns_since_compaction) == (1, 0)
    assert s.last_compaction_at == ms(1745000010000)
    assert (s.context_tokens, s.peak_context_tokens) == (1500 + 2500, 2500 + 8000)
    assert s.context_series == ((1745000010, 3000), (1745000012, 4000))  # from the condense on
    assert (s.messages_user, s.messages_assistant, s.tool_calls) == (1, 2, 1)


def test_roo_task_model_and_cwd_from_api_history(sessions: dict[str, Session]) -> None:
    s = sessions[ROO_API_TASK]
    assert (s.tokens.input, s.tokens.output, s.tokens.cache_creation, s.tokens.total) == (30, 400, 5000, 5430)
    assert s.model == "claude-sonnet-4-20250514"
    assert s.project_path == "C:\\Users\\dev\\utils"  # JSON escapes undone
    assert s.title == "[Roo Code] Write tests for utils"
    assert any(p.endswith(API_FILE) for p in s.transcript_paths)


def test_all_fixture_totals(sessions: dict[str, Session]) -> None:
    assert sorted(sessions) == sorted([CLINE_TASK, ROO_TASK, ROO_API_TASK])
    assert sum(s.tokens.total for s in sessions.values()) == 65752 + 15450 + 5430


# --------------------------------------------------------------------------------------------------
# sources and roots


def test_sources_pick_the_files_each_task_needs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    install(home)
    (storage(home, ROO_EXT) / "empty-task").mkdir()  # no ui_messages.json: not a session
    names = sorted((key, Path(path).name) for path, key, _ident in reader_for(home).sources())
    assert names == [
        (CLINE_TASK, META_FILE),
        (CLINE_TASK, UI_FILE),
        (ROO_TASK, UI_FILE),  # its api_conversation_history.json is not there
        (ROO_API_TASK, API_FILE),
        (ROO_API_TASK, UI_FILE),
    ]


def test_other_editors_cli_data_dir_and_kilo(tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(FIX / "cline" / CLINE_TASK, storage(home, CLINE_EXT, "Cursor") / CLINE_TASK)
    shutil.copytree(
        FIX / "roo" / ROO_TASK,
        home
        / ".vscode-server"
        / "data"
        / "User"
        / "globalStorage"
        / "kilocode.kilo-code"
        / "tasks"
        / ROO_TASK,
    )
    cli = tmp_path / "cline-home"
    shutil.copytree(FIX / "roo" / ROO_API_TASK, cli / "data" / "tasks" / ROO_API_TASK)
    found = read_all(reader_for(home, CLINE_DIR=str(cli)))
    assert sorted(found) == sorted([CLINE_TASK, ROO_TASK, ROO_API_TASK])
    assert found[ROO_TASK].title == "[Kilo Code] Refactor the parser into smaller functions"
    # Cline's own data folder: a Cline task, so no "[Roo Code]" and no api history read
    assert found[ROO_API_TASK].title == "Write tests for utils"
    assert found[ROO_API_TASK].model is None and found[ROO_API_TASK].project_path is None


def test_cline_data_dir_variables(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "LSM_HOME": str(tmp_path / "lsm")}
    assert task_roots(resolve(env))[0][0] == tmp_path / ".cline" / "data" / "tasks"
    env["CLINE_DIR"] = str(tmp_path / "c")
    assert task_roots(resolve(env))[0][0] == tmp_path / "c" / "data" / "tasks"
    env["CLINE_DIR"] = "~/cl"
    assert task_roots(resolve(env))[0][0] == tmp_path / "cl" / "data" / "tasks"
    env["CLINE_DATA_DIR"] = str(tmp_path / "d")
    assert task_roots(resolve(env))[0][0] == tmp_path / "d" / "tasks"
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    env["APPDATA"] = str(tmp_path / "appdata")
    roots = [str(p) for p, _ext in task_roots(resolve(env))]
    assert str(tmp_path / "xdg" / "Code" / "User" / "globalStorage" / CLINE_EXT / "tasks") in roots
    assert str(tmp_path / "appdata" / "Code" / "User" / "globalStorage" / ROO_EXT / "tasks") in roots


def test_roots_for_lsm_info(tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(FIX / "cline" / CLINE_TASK, storage(home, CLINE_EXT, "VSCodium") / CLINE_TASK)
    roots = reader_for(home).roots()
    # always: Cline's data folder and VS Code's three extension folders; others only when present
    assert roots[:4] == [
        (str(home / ".cline" / "data" / "tasks"), False),
        (str(storage(home, CLINE_EXT)), False),
        (str(storage(home, ROO_EXT)), False),
        (str(storage(home, "kilocode.kilo-code")), False),
    ]
    assert roots[4:] == [(str(storage(home, CLINE_EXT, "VSCodium")), True)]


def test_reader_is_picklable(tmp_path: Path) -> None:
    reader = reader_for(tmp_path)
    assert pickle.loads(pickle.dumps(reader)).task_roots == reader.task_roots


# --------------------------------------------------------------------------------------------------
# models and damaged files


def test_model_at() -> None:
    models = [[100, "a"], [200, "b"]]
    assert model_at(models, 150) == "a"
    assert model_at(models, 200) == "b"
    assert model_at(models, 50) == "a"  # older than every entry: the first
    assert model_at(models, None) == "b"
    assert model_at([], 10) is None


def write_task(folder: Path, messages: Any, meta: Any = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ui = folder / UI_FILE
    ui.write_text(messages if isinstance(messages, str) else json.dumps(messages), encoding="utf-8")
    if meta is not None:
        (folder / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
    return ui


def request(**fields: Any) -> dict[str, Any]:
    return {"ts": fields.pop("ts", 1000), "type": "say", "say": "api_req_started", "text": json.dumps(fields)}


def test_message_model_info_wins_over_metadata(tmp_path: Path) -> None:
    home = tmp_path / "home"
    meta = {"model_usage": [{"ts": 1, "model_id": "from-metadata", "model_provider_id": "x", "mode": "act"}]}
    first = request(ts=10, tokensIn=1, tokensOut=2, cacheWrites=0, cacheReads=0)
    first["modelInfo"] = {"modelId": "claude-sonnet-4-5", "providerId": "anthropic", "mode": "act"}
    later = request(ts=20, tokensIn=3, tokensOut=4, cacheWrites=0, cacheReads=0)  # the model carries on
    task = {"ts": 5, "type": "say", "say": "task", "text": "t"}
    write_task(storage(home, CLINE_EXT) / "1", [task, first, later], meta)
    s = read_all(reader_for(home))["1"]
    assert {m.model: m.input for m in s.model_usage} == {"claude-sonnet-4-5": 4}


def test_unknown_model_and_odd_numbers(tmp_path: Path) -> None:
    home = tmp_path / "home"
    messages = [
        {"ts": 1, "type": "say", "say": "task", "text": "  spaced\n  title  "},
        request(ts=2, tokensIn=10.0, tokensOut=-5, cacheWrites="7", cacheReads=True),
        {"ts": "later", "type": "say", "say": "text", "text": "no usable time"},
        request(ts=3, tokensIn=None),
        {"ts": 4, "type": "say", "say": "api_req_started", "text": "[1, 2]"},
        {"ts": 5, "type": "say", "say": "api_req_finished", "text": '{"tokensIn": 1, "tokensOut": 1}'},
    ]
    write_task(storage(home, CLINE_EXT) / "2", messages)
    s = read_all(reader_for(home))["2"]
    # A figure out of range (-5, "7", true) or a time that is not a number costs its whole message.
    assert (s.tokens.input, s.tokens.output, s.tokens.cache_creation, s.tokens.cache_read) == (1, 1, 0, 0)
    assert s.model is None and s.models == ()
    assert [m.model for m in s.model_usage] == ["unknown"]
    assert s.title == "spaced title"
    assert s.skipped_lines == 3  # the odd request, the odd time, the request whose text is a JSON array
    assert s.last_activity == ms(5)


def test_truncated_ui_file_keeps_what_was_read(tmp_path: Path) -> None:
    home = tmp_path / "home"
    install(home)
    reader = reader_for(home)
    ui = storage(home, CLINE_EXT) / CLINE_TASK / UI_FILE
    before = reader.read(str(ui), CLINE_TASK, None)
    whole = ui.read_bytes()
    ui.write_bytes(whole[: len(whole) // 2])  # caught while Cline rewrites it
    during = reader.read(str(ui), CLINE_TASK, before)
    assert during.data["broken"] is True
    assert during.data["reqs"] == before.data["reqs"]
    (s,) = reader.sessions([during])
    assert s.tokens.total == 65752 and s.skipped_lines == 2 + 1
    # nothing read before: an empty session that says it skipped the file
    (blank,) = reader.sessions([reader.read(str(ui), CLINE_TASK, None)])
    assert (blank.tokens.total, blank.skipped_lines, blank.title) == (0, 1, None)
    # and when Cline has finished writing, everything is back
    ui.write_bytes(whole)
    (s,) = reader.sessions([reader.read(str(ui), CLINE_TASK, during)])
    assert (s.tokens.total, s.skipped_lines) == (65752, 2)


def test_not_an_array_and_broken_metadata(tmp_path: Path) -> None:
    home = tmp_path / "home"
    folder = storage(home, CLINE_EXT) / "3"
    write_task(folder, {"not": "a list"})
    (folder / META_FILE).write_text("{broken", encoding="utf-8")
    s = read_all(reader_for(home))["3"]
    assert (s.tokens.total, s.skipped_lines) == (0, 2)


def test_metadata_without_messages_is_no_session(tmp_path: Path) -> None:
    home = tmp_path / "home"
    install(home)
    reader = reader_for(home)
    meta = storage(home, CLINE_EXT) / CLINE_TASK / META_FILE
    assert reader.sessions([reader.read(str(meta), CLINE_TASK, None)]) == []


# --------------------------------------------------------------------------------------------------
# end to end: the real CLI in a fake HOME


def test_cli_lists_cline_and_roo_sessions(tmp_path: Path) -> None:
    home = tmp_path / "home"
    install(home)
    fake = FakeHome(home=home, claude=home / ".claude", lsm_home=tmp_path / "lsm-data")
    result = fake.run("list", "--all", "--format", "json", LSM_AIDER_ROOTS=str(tmp_path / "none"))
    assert result.returncode == 0, result.stderr
    rows = {r["native_id"]: r for r in json.loads(result.stdout) if r["agent"] == "cline"}
    assert sorted(rows) == sorted([CLINE_TASK, ROO_TASK, ROO_API_TASK])
    s = rows[CLINE_TASK]
    assert s["tokens"] == {
        "input": 45,
        "output": 1927,
        "cache_creation": 16830,
        "cache_read": 46950,
        "total": 65752,
        "source": "exact",
    }
    assert (s["tokens_source"], s["model"], s["project_path"]) == (
        "exact",
        "claude-3-7-sonnet-20250219",
        "/home/dev/projects/tool",
    )
    s = rows[ROO_TASK]
    assert (s["tokens"]["total"], s["model"], s["project_path"]) == (15450, "gpt-4.1", "/home/dev/parser")
    assert rows[ROO_API_TASK]["model"] == "claude-sonnet-4-20250514"
    assert rows[CLINE_TASK]["cost_usd"] is not None  # claude-3-7-sonnet is priced


def test_every_request_counts_at_its_own_minute_for_reports(tmp_path: Path) -> None:
    """A task that ran over two days is reported on both: usage_history holds each request's tokens at
    the minute Cline timed it, and sums to the task's totals."""
    from datetime import datetime, timezone

    home = tmp_path / "home"
    day1 = 1_764_806_400_000  # 2025-12-04 00:00 UTC, in ms
    day2 = day1 + 86_400_000 + 3_600_000
    task = {"ts": day1, "type": "say", "say": "task", "text": "long task"}
    early = request(ts=day1 + 60_000, tokensIn=100, tokensOut=10, cacheWrites=5, cacheReads=7)
    late = request(ts=day2, tokensIn=200, tokensOut=20, cacheWrites=0, cacheReads=3)
    write_task(storage(home, CLINE_EXT) / "3", [task, early, late])
    s = read_all(reader_for(home))["3"]
    assert [(row[0], row[2], row[3], row[4], row[5]) for row in s.usage_history] == [
        ((day1 + 60_000) // 60_000, 100, 10, 5, 7),
        (day2 // 60_000, 200, 20, 0, 3),
    ]
    assert sum(row[2] for row in s.usage_history) == s.tokens.input
    days = {datetime.fromtimestamp(row[0] * 60, timezone.utc).date().isoformat() for row in s.usage_history}
    assert days == {"2025-12-04", "2025-12-05"}
