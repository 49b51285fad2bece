"""The MCP servers in-process (the SDK's in-memory client against the real server objects): the surface,
every tool, resource and prompt, errors as tool errors, read-only mode, and the per-session server's git
and file insight on a real git repository built by the test.

Results are compared with what the real CLI prints for the same fake HOME (`FakeHome.run`)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeHome
from mcp import Client

from llm_session_manager.mcp.server import build_server, mask_secrets
from llm_session_manager.mcp.session import build_session_server

SIDE = "claude-code:88a8d761-7b9a-4bf1-a8ca-c1febe6bf358"
REPR = "claude-code:representative"
FAKE_KEY = "sk-ant-api03-" + "Zz9" * 30 + "-AA"
TOOLS = [
    "list_sessions",
    "get_session",
    "get_health",
    "recommend",
    "get_budget",
    "get_usage_report",
    "export_session",
    "search_conversations",
    "search_memory",
    "tag_session",
    "untag_session",
    "describe_session",
    "set_project",
    "add_memory",
]
WRITE_TOOLS = {"tag_session", "untag_session", "describe_session", "set_project", "add_memory"}
RESOURCES = [
    "sessions://list",
    "sessions://recent",
    "recommendations://current",
    "limits://budget",
    "memory://stats",
    "config://current",
]
TEMPLATES = ["sessions://{session_id}", "sessions://{session_id}/health"]
PROMPTS = ["pick_session", "review_health", "handoff", "find_past_work"]

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _no_discovery(monkeypatch: pytest.MonkeyPatch) -> None:
    """Processes running on the test machine are not part of any test's world."""
    monkeypatch.setenv("LSM_DISCOVERY", "off")


def cli_json(fake: FakeHome, *args: str) -> Any:
    r = fake.run(*args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@asynccontextmanager
async def connect(config: dict[str, Any] | None = None) -> AsyncIterator[Client]:
    async with Client(build_server(config=config)) as client:
        yield client


async def call(client: Client, tool: str, **args: Any) -> Any:
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content
    return result.structured_content


async def call_error(client: Client, tool: str, **args: Any) -> str:
    result = await client.call_tool(tool, args)
    assert result.is_error and result.structured_content is None
    text = result.content[0].text  # type: ignore[union-attr]
    assert text.startswith(f"Error executing tool {tool}: "), text
    return text.removeprefix(f"Error executing tool {tool}: ")


async def read(client: Client, uri: str) -> str:
    result = await client.read_resource(uri)
    assert len(result.contents) == 1 and result.contents[0].mime_type == "application/json"
    return result.contents[0].text  # type: ignore[union-attr]


async def prompt_text(client: Client, name: str, **args: str) -> str:
    result = await client.get_prompt(name, args)
    assert len(result.messages) == 1 and result.messages[0].role == "user"
    return result.messages[0].content.text  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------------
# The main server: surface


async def test_surface_is_exactly_the_documented_one(fake_home: FakeHome) -> None:
    async with connect() as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
        assert list(tools) == TOOLS
        assert [str(r.uri) for r in (await c.list_resources()).resources] == RESOURCES
        templates = (await c.list_resource_templates()).resource_templates
        assert [t.uri_template for t in templates] == TEMPLATES
        assert [p.name for p in (await c.list_prompts()).prompts] == PROMPTS
    # Nothing destructive, ever.
    assert not [name for name in tools if any(w in name for w in ("close", "kill", "delete", "remove"))]
    for name, tool in tools.items():
        assert tool.description and tool.output_schema, name
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is (name not in WRITE_TOOLS), name
        if name in WRITE_TOOLS:
            assert tool.annotations.destructive_hint is False
    # Typed arguments: enums for statuses, sort keys and export formats; bounds on limits.
    props = tools["list_sessions"].input_schema["properties"]
    status_items = props["status"]["anyOf"][0]["items"]
    assert status_items["enum"] == ["active", "idle", "ended", "closed", "imported", "archived"]
    assert "tokens" in props["sort"]["anyOf"][0]["enum"]
    assert props["limit"]["anyOf"][0]["minimum"] == 1
    export = tools["export_session"].input_schema
    assert export["required"] == ["session_id"]
    assert export["properties"]["format"]["enum"] == ["json", "yaml", "markdown"]
    assert set((tools["list_sessions"].output_schema or {})["required"]) == {"sessions", "count"}


async def test_initialize_tells_who_we_are(fake_home: FakeHome) -> None:
    async with connect() as c:
        assert c.server_info is not None and c.server_info.name == "llm-session-manager"
        assert "list_sessions" in (c.instructions or "")


# ---------------------------------------------------------------------------------------------------
# Tools, compared with the CLI


async def test_list_sessions_is_lsm_list(fake_home: FakeHome) -> None:
    async with connect() as c:
        everything = await call(c, "list_sessions", all_sessions=True)
        recent = await call(c, "list_sessions")
        by_tokens = await call(c, "list_sessions", all_sessions=True, sort="tokens", limit=2)
        tmp = await call(c, "list_sessions", project="tmp", status=["ended"])
        none = await call(c, "list_sessions", agent="codex", all_sessions=True)
    expected = cli_json(fake_home, "list", "--all", "--format", "json")
    assert everything == {"sessions": expected, "count": 5}
    assert recent["sessions"] == cli_json(fake_home, "list", "--format", "json") == []
    assert by_tokens["sessions"] == cli_json(
        fake_home, "list", "--all", "--sort", "tokens", "-n", "2", "-f", "json"
    )
    assert [s["id"] for s in by_tokens["sessions"]] == [SIDE, "claude-code:session-alpha"]
    assert tmp["sessions"] == cli_json(fake_home, "list", "-p", "tmp", "-s", "ended", "-f", "json")
    assert {s["id"] for s in tmp["sessions"]} == {
        REPR,
        "claude-code:ses_stage0_small",
        "claude-code:0a1b2c3d-4e5f-4061-8071-2a3b4c5d6e7f",
    }
    assert none == {"sessions": [], "count": 0}


async def test_list_sessions_with_text_is_lsm_search(fake_home: FakeHome) -> None:
    async with connect() as c:
        found = await call(c, "list_sessions", text="decorators")
        narrowed = await call(c, "list_sessions", text="decorators", agent="codex")
    expected = cli_json(fake_home, "search", "decorators", "--format", "json")
    assert found == {"sessions": expected, "count": 1}
    assert found["sessions"][0]["id"] == REPR and found["sessions"][0]["score"] > 0
    assert narrowed["count"] == 0


async def test_bad_arguments_are_tool_errors(fake_home: FakeHome) -> None:
    async with connect() as c:
        assert "cannot read 'last tuesday'" in await call_error(c, "list_sessions", since="last tuesday")
        assert "status" in await call_error(c, "list_sessions", status=["running"])
        assert "limit" in await call_error(c, "list_sessions", limit=0)
        assert "give some words" in await call_error(c, "list_sessions", text="!!!")


async def test_get_session_and_health(fake_home: FakeHome) -> None:
    async with connect() as c:
        one = await call(c, "get_session", session_id="88a8")
        health = await call(c, "get_health", session_id=SIDE)
    listed = {s["id"]: s for s in cli_json(fake_home, "list", "--all", "--format", "json")}
    assert one == listed[SIDE]
    assert one["tokens"]["total"] == 306073 and one["context_pct"] == 72.1
    assert health == cli_json(fake_home, "health", "88a8", "--format", "json")
    assert health["score"] == 69.0 and {f["name"] for f in health["factors"]} >= {"tokens", "errors"}


async def test_unknown_and_ambiguous_ids_are_clear_tool_errors(fake_home: FakeHome) -> None:
    async with connect() as c:
        assert await call_error(c, "get_session", session_id="zzz") == (
            "no session matches 'zzz' (see `lsm list --all`)"
        )
        message = await call_error(c, "get_health", session_id="claude-code:")
        assert message.startswith("'claude-code:' matches 5 sessions: ") and "give more characters" in message
        assert "no session matches" in await call_error(c, "export_session", session_id="zzz")


async def test_recommend_is_lsm_recommend(fake_home: FakeHome) -> None:
    async with connect() as c:
        recs = await call(c, "recommend")
        mine = await call(c, "recommend", agent="claude-code", project="tmp")
    assert recs == {"recommendations": cli_json(fake_home, "recommend", "--format", "json"), "count": 0}
    assert mine == {"recommendations": [], "count": 0}


def _without_stamp(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "exported_at"}


async def test_export_session_is_lsm_export_redacted(fake_home: FakeHome, tmp_path: Path) -> None:
    secret_session(fake_home)
    async with connect() as c:
        md = await call(c, "export_session", session_id="secretive")
        as_json = await call(c, "export_session", session_id="secretive", format="json")
        short = await call(c, "export_session", session_id="88a8", format="yaml", include_transcript=False)
    assert md["session_id"] == "claude-code:secretive" and md["format"] == "markdown" and md["redacted"]
    assert md["content"].startswith("# Session hand-off: ")
    assert FAKE_KEY not in md["content"] and "[REDACTED:anthropic-key]" in md["content"]
    cli = fake_home.run("export", "secretive", "-o", "-", "--format", "json")
    assert cli.returncode == 0, cli.stderr
    assert _without_stamp(json.loads(as_json["content"])) == _without_stamp(json.loads(cli.stdout))
    assert FAKE_KEY not in as_json["content"]
    assert "conversation:\n  included: false" in short["content"]


async def test_write_tools_change_what_the_cli_shows(fake_home: FakeHome) -> None:
    async with connect() as c:
        tagged = await call(c, "tag_session", session_id="88a8", tags=["Auth", "jwt", "auth"])
        untagged = await call(c, "untag_session", session_id="88a8", tags=["jwt"])
        described = await call(c, "describe_session", session_id="88a8", description="  JWT login flow ")
        projected = await call(c, "set_project", session_id="88a8", name=" auth  service ")
        assert "bad tag 'no spaces'" in await call_error(
            c, "tag_session", session_id="88a8", tags=["no spaces"]
        )
        assert "tags" in await call_error(c, "tag_session", session_id="88a8", tags=[])
        assert "description" in await call_error(c, "describe_session", session_id="88a8", description="")
        found = await call(c, "list_sessions", text="jwt login")
        filtered = await call(c, "list_sessions", tag=["auth"], all_sessions=True)
    assert tagged == {
        "id": SIDE,
        "tags": ["auth", "jwt"],
        "project": "claude-code-log",
        "description": None,
        "added": ["auth", "jwt"],
        "already_tagged": [],
    }
    assert untagged["tags"] == ["auth"]
    assert described["description"] == "JWT login flow"
    assert projected == {
        "id": SIDE,
        "tags": ["auth"],
        "project": "auth service",
        "description": "JWT login flow",
    }
    assert cli_json(fake_home, "describe", "88a8", "--show", "--format", "json") == projected
    assert [s["id"] for s in found["sessions"]] == [SIDE]
    assert [s["id"] for s in filtered["sessions"]] == [SIDE]
    async with connect() as c:
        cleared = await call(c, "set_project", session_id="88a8", name="")
    assert cleared["project"] == "claude-code-log"  # back to the folder name


async def test_read_only_config_leaves_the_write_tools_out(fake_home: FakeHome) -> None:
    from llm_session_manager.config import DEFAULTS

    cfg = json.loads(json.dumps(DEFAULTS))
    cfg["mcp"]["read_only"] = True
    async with connect(cfg) as c:
        names = [t.name for t in (await c.list_tools()).tools]
        assert names == [t for t in TOOLS if t not in WRITE_TOOLS]
        refused = await c.call_tool("tag_session", {"session_id": "88a8", "tags": ["x"]})
        assert refused.is_error and refused.content[0].text == "Unknown tool: tag_session"  # type: ignore[union-attr]
        assert (await call(c, "get_session", session_id="88a8"))["tags"] == []


async def test_read_only_from_the_config_file(fake_home: FakeHome, monkeypatch: pytest.MonkeyPatch) -> None:
    config = fake_home.home / "lsm.yaml"
    config.write_text("mcp:\n  read_only: true\n", encoding="utf-8")
    monkeypatch.setenv("LSM_CONFIG", str(config))
    async with connect() as c:
        assert not WRITE_TOOLS & {t.name for t in (await c.list_tools()).tools}


# ---------------------------------------------------------------------------------------------------
# Resources


async def test_resources_are_the_cli_json(fake_home: FakeHome) -> None:
    async with connect() as c:
        listed = await read(c, "sessions://list")
        recent = await read(c, "sessions://recent")
        one = await read(c, f"sessions://{SIDE}")
        by_prefix = await read(c, "sessions://88a8")
        health = await read(c, "sessions://88a8/health")
        recs = await read(c, "recommendations://current")
        config = await read(c, "config://current")
    # Byte for byte what the CLI prints (minus its final newline).
    assert listed + "\n" == fake_home.run("list", "--all", "--format", "json").stdout
    assert recent + "\n" == fake_home.run("list", "--format", "json").stdout
    assert health + "\n" == fake_home.run("health", "88a8", "--format", "json").stdout
    assert recs + "\n" == fake_home.run("recommend", "--format", "json").stdout
    assert config + "\n" == fake_home.run("show-config", "--format", "json").stdout
    assert json.loads(one) == json.loads(by_prefix) == json.loads(listed)[3]


async def test_unknown_session_resource_is_a_clear_error(fake_home: FakeHome) -> None:
    from mcp.shared.exceptions import MCPError

    async with connect() as c:
        with pytest.raises(MCPError) as info:
            await c.read_resource("sessions://zzz")
        assert str(info.value) == "no session matches 'zzz' (see `lsm list --all`)"
        with pytest.raises(MCPError):
            await c.read_resource("nothing://here")


def test_config_secrets_are_masked() -> None:
    cfg = {
        "health": {"weights": {"tokens": 0.4}},
        "ai": {"model": "claude-haiku-4-5", "api_key": "abc123", "token": "", "auth": None},
        "memory": {"server": "http://alice:hunter22@chroma.local:8000"},
        "list": [f"key {FAKE_KEY}"],
    }
    assert mask_secrets(cfg) == {
        "health": {"weights": {"tokens": 0.4}},
        "ai": {"model": "claude-haiku-4-5", "api_key": "***", "token": "", "auth": None},
        "memory": {"server": "http://alice:[REDACTED:url-password]@chroma.local:8000"},
        "list": ["key [REDACTED:anthropic-key]"],
    }


# ---------------------------------------------------------------------------------------------------
# Prompts


async def test_prompts_embed_lsm_numbers(fake_home: FakeHome) -> None:
    async with connect() as c:
        await call(c, "describe_session", session_id="88a8", description="JWT login flow for the API")
        pick = await prompt_text(c, "pick_session", task="finish the JWT login")
        review = await prompt_text(c, "review_health")
        handoff = await prompt_text(c, "handoff", session_id="repr")
        past = await prompt_text(c, "find_past_work", topic="decorators")
        with pytest.raises(Exception, match="no session matches 'zzz'"):
            await c.get_prompt("handoff", {"session_id": "zzz"})
    assert "finish the JWT login" in pick and SIDE in pick and '"context_pct": 72.1' in pick
    assert "Review the health" in review and "recommendations" in review
    assert handoff.count("# Session hand-off: User learned about Python decorators") == 1
    assert "## Files touched" in handoff and "next three steps" in handoff
    assert REPR in past and "Memories saved from past sessions" in past


async def test_handoff_prompt_is_bounded(fake_home: FakeHome, monkeypatch: pytest.MonkeyPatch) -> None:
    from llm_session_manager.mcp import server as mcp_server

    monkeypatch.setattr(mcp_server, "PROMPT_DOC_CHARS", 500)
    async with connect() as c:
        text = await prompt_text(c, "handoff", session_id="88a8")
    assert "the rest is left out here" in text and "export_session" in text
    assert len(text) < 2500


# ---------------------------------------------------------------------------------------------------
# Memory (real embeddings: the packaged all-MiniLM-L6-v2 copy, offline)


async def test_memory_add_search_stats(fake_home: FakeHome) -> None:
    async with connect() as c:
        assert await call(c, "search_memory", query="anything") == {"memories": [], "count": 0}
        saved = await call(
            c,
            "add_memory",
            session_id="88a8",
            text="Implemented JWT auth using the jose library",
            tags=["Auth"],
        )
        again = await call(
            c, "add_memory", session_id=SIDE, text="Implemented JWT auth  using the jose library"
        )
        await call(
            c, "add_memory", session_id="repr", text="Parameterised decorators need a third nested function"
        )
        refused = await call_error(c, "add_memory", session_id="repr", text=f"the key is {FAKE_KEY}")
        empty = await call_error(c, "add_memory", session_id="repr", text="   ")
        found = await call(c, "search_memory", query="how do I do authentication?")
        scoped = await call(c, "search_memory", query="how do I do authentication?", project="tmp")
        by_session = await call(c, "search_memory", query="login", session_id="repr")
        by_tag = await call(c, "search_memory", query="login", tag=["auth"])
        stats = json.loads(await read(c, "memory://stats"))
    assert saved["created"] is True and saved["id"].startswith("mem-") and saved["tags"] == ["auth"]
    assert saved["project"] == "claude-code-log" and saved["session_id"] == SIDE
    assert again == {**saved, "created": False}
    assert "looks like it holds a secret (anthropic-key)" in refused and FAKE_KEY not in refused
    assert "empty" in empty
    assert found["memories"][0]["id"] == saved["id"] and found["count"] == 2
    assert [m["project"] for m in scoped["memories"]] == ["tmp"]
    assert [m["session_id"] for m in by_session["memories"]] == [REPR]
    assert [m["id"] for m in by_tag["memories"]] == [saved["id"]]
    assert stats["memories"] == 2 and stats["by_project"] == {"claude-code-log": 1, "tmp": 1}
    search = cli_json(fake_home, "memory-search", "how do I do authentication?", "--format", "json")
    assert [m["id"] for m in search] == [m["id"] for m in found["memories"]]
    assert stats == cli_json(fake_home, "memory-stats", "--format", "json")


async def test_memory_missing_is_a_reported_gap(fake_home: FakeHome, monkeypatch: pytest.MonkeyPatch) -> None:
    from llm_session_manager.api import memory as memory_api
    from llm_session_manager.mcp import server as mcp_server

    monkeypatch.setattr(memory_api, "memory_module", lambda: None)
    monkeypatch.setattr(mcp_server, "memory_module", lambda: None)
    async with connect() as c:
        gap = "cross-session memory is not available in this lsm installation"
        assert await call_error(c, "search_memory", query="auth") == gap
        assert await call_error(c, "add_memory", session_id="88a8", text="x") == gap
        past = await prompt_text(c, "find_past_work", topic="decorators")
    assert gap in past and REPR in past


# ---------------------------------------------------------------------------------------------------
# The per-session server on a real git repository


def line(kind: str, ts: datetime, cwd: str, n: int, message: dict[str, Any]) -> str:
    """One Claude Code transcript line (the shape of the public fixtures)."""
    obj: dict[str, Any] = {
        "type": kind,
        "timestamp": ts.isoformat().replace("+00:00", "Z"),
        "parentUuid": None,
        "isSidechain": False,
        "userType": "external",
        "cwd": cwd,
        "sessionId": "live-session",
        "version": "2.0.0",
        "gitBranch": "main",
        "uuid": f"uuid-{n}",
        "message": message,
    }
    if kind == "assistant":
        obj["requestId"] = f"req_{n}"
    return json.dumps(obj)


def assistant(n: int, content: list[dict[str, Any]]) -> dict[str, Any]:
    usage = {
        "input_tokens": 10,
        "cache_creation_input_tokens": 100,
        "cache_read_input_tokens": 1000,
        "output_tokens": 50,
    }
    return {
        "id": f"msg_{n}",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": content,
        "stop_reason": "tool_use",
        "usage": usage,
    }


def write_session(
    projects: Path, name: str, cwd: Path, start: datetime, calls: list[tuple[str, dict[str, Any]]]
) -> None:
    """A Claude Code session in ``cwd`` that began at ``start`` and made ``calls`` (tool name, input)."""
    lines = [line("user", start, str(cwd), 0, {"role": "user", "content": "Add login to the app"})]
    for i, (tool, args) in enumerate(calls, 1):
        at = start + timedelta(minutes=i)
        use = {"type": "tool_use", "id": f"toolu_{i}", "name": tool, "input": args}
        lines.append(line("assistant", at, str(cwd), 2 * i, assistant(i, [use])))
        result = {"type": "tool_result", "tool_use_id": f"toolu_{i}", "content": "ok", "is_error": False}
        lines.append(
            line(
                "user", at + timedelta(seconds=5), str(cwd), 2 * i + 1, {"role": "user", "content": [result]}
            )
        )
    folder = projects / ("-" + name)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def secret_session(fake: FakeHome) -> None:
    start = datetime(2025, 5, 1, 9, 0, tzinfo=timezone.utc)
    lines = [
        line(
            "user", start, "/tmp/secretive", 0, {"role": "user", "content": f"use the key {FAKE_KEY} please"}
        ),
        line(
            "assistant",
            start + timedelta(seconds=9),
            "/tmp/secretive",
            1,
            assistant(1, [{"type": "text", "text": "ok"}]),
        ),
    ]
    folder = fake.projects / "-tmp-secretive"
    folder.mkdir(parents=True)
    (folder / "secretive.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def set_mtime(path: Path, when: datetime) -> None:
    os.utime(path, (when.timestamp(), when.timestamp()))


@pytest.fixture
def git_project(fake_home: FakeHome, tmp_path: Path) -> Iterator[tuple[Path, datetime]]:
    """A repository with a remote: one commit before the session, one during it (not pushed), then an
    edited file, a staged new file, an untracked file and an ignored one; the session's transcript."""
    git = pytest.importorskip("git")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    start = now - timedelta(hours=1)
    before, during = start - timedelta(hours=1), start + timedelta(minutes=10)
    repo_dir = tmp_path / "work" / "webapp"
    repo_dir.mkdir(parents=True)
    repo = git.Repo.init(repo_dir, initial_branch="main")
    with repo.config_writer() as cw:
        cw.set_value("user", "name", "Test").set_value("user", "email", "test@example.com")
    (repo_dir / "app.py").write_text("print('hello')\n")
    (repo_dir / "old.py").write_text("x = 1\n")
    (repo_dir / ".gitignore").write_text("*.log\n")
    repo.index.add(["app.py", "old.py", ".gitignore"])
    stamp = before.strftime("%Y-%m-%dT%H:%M:%S+0000")
    repo.index.commit("initial", author_date=stamp, commit_date=stamp)
    remote = git.Repo.init(tmp_path / "remote.git", bare=True)
    repo.create_remote("origin", remote.working_dir).push("main:main")
    repo.git.branch("--set-upstream-to=origin/main", "main")
    (repo_dir / "auth.py").write_text("def login():\n    return True\n")
    repo.index.add(["auth.py"])
    stamp = during.strftime("%Y-%m-%dT%H:%M:%S+0000")
    repo.index.commit("add login", author_date=stamp, commit_date=stamp)
    (repo_dir / "app.py").write_text("print('hello')\nprint('login')\n")  # unstaged edit
    (repo_dir / "staged.py").write_text("y = 2\n")
    repo.index.add(["staged.py"])
    (repo_dir / "notes.txt").write_text("todo\n")  # untracked
    (repo_dir / "debug.log").write_text("noise\n")  # ignored
    for old in ("old.py", ".gitignore"):
        set_mtime(repo_dir / old, before)
    repo.close()
    calls = [
        ("Read", {"file_path": str(repo_dir / "old.py")}),
        ("Write", {"file_path": str(repo_dir / "auth.py"), "content": "def login(): ..."}),
        ("Edit", {"file_path": str(repo_dir / "app.py"), "old_string": "a", "new_string": "b"}),
        ("Edit", {"file_path": str(repo_dir / "app.py"), "old_string": "b", "new_string": "c"}),
        ("Bash", {"command": "pytest -q"}),
        ("Read", {"file_path": "gone.py"}),
    ]
    write_session(fake_home.projects, "live-session", repo_dir, start, calls)
    yield repo_dir, start


@asynccontextmanager
async def session_client(session_id: str, config: dict[str, Any] | None = None) -> AsyncIterator[Client]:
    async with Client(build_session_server(session_id, config=config)) as client:
        yield client


async def test_session_server_surface(fake_home: FakeHome, git_project: tuple[Path, datetime]) -> None:
    async with session_client("claude-code:live-session") as c:
        assert [t.name for t in (await c.list_tools()).tools] == [
            "get_metrics",
            "get_session",
            "get_health",
            "git_status",
            "files_touched",
            "search_memory",
            "add_memory",
        ]
        assert [str(r.uri) for r in (await c.list_resources()).resources] == [
            "session://info",
            "session://metrics",
            "session://health",
            "session://git",
            "session://files",
        ]
        for uri in (
            "session://info",
            "session://metrics",
            "session://health",
            "session://git",
            "session://files",
        ):
            assert json.loads(await read(c, uri))


async def test_session_metrics_are_the_cli_figures(
    fake_home: FakeHome, git_project: tuple[Path, datetime]
) -> None:
    async with session_client("claude-code:live-session") as c:
        metrics = await call(c, "get_metrics")
        full = await call(c, "get_session")
        health = await call(c, "get_health")
    listed = {s["id"]: s for s in cli_json(fake_home, "list", "--all", "--format", "json")}
    mine = listed["claude-code:live-session"]
    assert full == mine
    assert metrics == {k: mine[k] for k in metrics}
    assert set(metrics) >= {
        "context_pct",
        "compact_at",
        "minutes_to_compact",
        "burn_rate_tokens_per_min",
        "health",
    }
    # 6 replies of 10 + 100 + 1000 + 50 tokens; the context is the last reply's 10 + 100 + 1000.
    assert metrics["tokens"]["total"] == 6 * 1160 and metrics["context_tokens"] == 1110
    assert health == cli_json(fake_home, "health", "live-session", "--format", "json")


async def test_session_git_state(fake_home: FakeHome, git_project: tuple[Path, datetime]) -> None:
    repo_dir, _start = git_project
    async with session_client("claude-code:live-session") as c:
        state = await call(c, "git_status", max_commits=5)
    assert state["repo"] is True and state["root"] == str(repo_dir)
    assert state["branch"] == "main" and state["detached"] is False
    assert (state["upstream"], state["ahead"], state["behind"]) == ("origin/main", 1, 0)
    assert state["dirty"] is True
    assert state["staged"] == {"count": 1, "files": ["staged.py"]}
    assert state["unstaged"] == {"count": 1, "files": ["app.py"]}
    assert state["untracked"] == {"count": 1, "files": ["notes.txt"]}  # debug.log is ignored
    commits = state["recent_commits"]
    assert [(c["summary"], c["since_session_start"]) for c in commits] == [
        ("add login", True),
        ("initial", False),
    ]
    diff = state["diff_since_session_start"]
    assert diff["base"] == commits[1]["sha"]
    # Against the commit before the session: auth.py (+2), app.py (+1), staged.py (+1).
    assert (diff["files_changed"], diff["insertions"], diff["deletions"]) == (3, 4, 0)
    assert {f["path"] for f in diff["files"]} == {"auth.py", "app.py", "staged.py"}


async def test_session_files_touched_and_changed(
    fake_home: FakeHome, git_project: tuple[Path, datetime]
) -> None:
    repo_dir, _start = git_project
    async with session_client("claude-code:live-session") as c:
        files = await call(c, "files_touched")
    touched = {Path(f["path"]).name: f for f in files["touched"]["files"]}
    assert files["touched"]["available"] is True and files["touched"]["count"] == 4
    assert touched["app.py"] == {
        "path": str(repo_dir / "app.py"),
        "kind": "edited",
        "tools": ["Edit"],
        "calls": 2,
        "exists": True,
    }
    assert (touched["auth.py"]["kind"], touched["old.py"]["kind"]) == ("edited", "read")
    assert touched["gone.py"]["exists"] is False
    changed = files["changed_on_disk"]
    assert changed["available"] and changed["listed_by"] == "git" and changed["root"] == str(repo_dir)
    by_name = {f["path"]: f for f in changed["files"]}
    # old.py and .gitignore predate the session; debug.log is ignored by git.
    assert set(by_name) == {"app.py", "auth.py", "staged.py", "notes.txt"}
    assert (
        by_name["app.py"]["touched_by_session"] is True
        and by_name["notes.txt"]["touched_by_session"] is False
    )


async def test_session_outside_git_still_works(fake_home: FakeHome, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    (plain / "src").mkdir(parents=True)
    (plain / "node_modules").mkdir()
    start = datetime.now(timezone.utc) - timedelta(minutes=30)
    (plain / "src" / "new.py").write_text("z = 3\n")
    (plain / "node_modules" / "dep.js").write_text("1\n")
    (plain / "old.txt").write_text("old\n")
    set_mtime(plain / "old.txt", start - timedelta(days=1))
    write_session(fake_home.projects, "plain-session", plain, start, [("Write", {"file_path": "src/new.py"})])
    async with session_client("claude-code:plain-session") as c:
        state = await call(c, "git_status")
        files = await call(c, "files_touched")
    assert state == {"repo": False, "reason": f"{plain} is not inside a git repository"}
    changed = files["changed_on_disk"]
    assert changed["listed_by"] == "walk" and [f["path"] for f in changed["files"]] == [
        os.path.join("src", "new.py")
    ]
    assert changed["files"][0]["touched_by_session"] is True  # a relative path, resolved in the project
    assert files["touched"]["files"][0]["exists"] is True


async def test_session_project_not_on_this_machine(fake_home: FakeHome) -> None:
    async with session_client(SIDE) as c:  # recorded on Windows: e:\Workspace\…
        state = await call(c, "git_status")
        files = await call(c, "files_touched")
    assert state["repo"] is False and "is not a folder on this machine" in state["reason"]
    assert files["changed_on_disk"] == {
        "available": False,
        "reason": "the session's project folder is not on this machine",
    }
    assert files["touched"]["available"] is True


async def test_session_memory_is_scoped_to_its_project(
    fake_home: FakeHome, git_project: tuple[Path, datetime]
) -> None:
    async with session_client("claude-code:live-session") as c:
        mine = await call(c, "add_memory", text="Login lives in auth.py; tests with pytest -q", tags=["auth"])
    async with connect() as c:
        await call(c, "add_memory", session_id="repr", text="Login for the docs site uses basic auth")
    async with session_client("claude-code:live-session") as c:
        scoped = await call(c, "search_memory", query="where is the login code?")
        everywhere = await call(c, "search_memory", query="where is the login code?", all_projects=True)
    assert mine["project"] == "webapp" and mine["session_id"] == "claude-code:live-session"
    assert [m["id"] for m in scoped["memories"]] == [mine["id"]]
    assert everywhere["count"] == 2


async def test_session_server_read_only_and_gone(
    fake_home: FakeHome, git_project: tuple[Path, datetime]
) -> None:
    from llm_session_manager.config import DEFAULTS

    cfg = json.loads(json.dumps(DEFAULTS))
    cfg["mcp"]["read_only"] = True
    async with session_client("claude-code:live-session", cfg) as c:
        assert "add_memory" not in {t.name for t in (await c.list_tools()).tools}
        shutil.rmtree(fake_home.projects / "-live-session")
        message = await call_error(c, "get_metrics")
    assert message == "session claude-code:live-session is no longer found (see `lsm list --all`)"


def test_git_payload_without_commits_and_detached(tmp_path: Path) -> None:
    from llm_session_manager.mcp.session import git_payload

    git = pytest.importorskip("git")
    repo = git.Repo.init(tmp_path / "fresh", initial_branch="main")
    (tmp_path / "fresh" / "a.txt").write_text("a\n")
    start = datetime(2020, 1, 1, tzinfo=timezone.utc)
    fresh = git_payload(str(tmp_path / "fresh"), start)
    assert (fresh["branch"], fresh["head"], fresh["ahead"], fresh["recent_commits"]) == (
        "main",
        None,
        None,
        [],
    )
    assert fresh["untracked"] == {"count": 1, "files": ["a.txt"]}
    assert fresh["diff_since_session_start"] == {
        "available": False,
        "reason": "the repository has no commits yet",
    }
    with repo.config_writer() as cw:
        cw.set_value("user", "name", "T").set_value("user", "email", "t@example.com")
    repo.index.add(["a.txt"])
    commit = repo.index.commit("one")
    repo.git.checkout("--detach")
    detached = git_payload(str(tmp_path / "fresh"), start)
    assert (detached["branch"], detached["detached"], detached["head"]) == (None, True, commit.hexsha)
    # Every commit is newer than the session: the diff is against git's empty tree.
    diff = detached["diff_since_session_start"]
    assert diff["base"] is None and (diff["files_changed"], diff["insertions"]) == (1, 1)
    repo.close()
    assert git_payload(None, start) == {"repo": False, "reason": "the session has no project folder"}
