"""End to end: `python -m llm_session_manager mcp-server` (and `mcp-session-server`) started as a subprocess
in a fake HOME, driven by the SDK's stdio client exactly as Claude Desktop drives it: initialize, list
tools / resources / prompts, call EVERY tool, read EVERY resource, get every prompt. Each result equals
what `lsm … --format json` prints for the same data. Also: stdout carries nothing but JSON-RPC, the HTTP
transport, and the commands' own errors (one line, documented exit status)."""

from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeHome
from mcp import ClientSession, StdioServerParameters, stdio_client
from test_mcp_server import PROMPTS, RESOURCES, SIDE, TEMPLATES, TOOLS
from test_mcp_server import git_project as git_project  # a fixture

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def cli(fake: FakeHome, *args: str) -> str:
    r = fake.run(*args)
    assert r.returncode == 0, r.stderr
    return r.stdout


def cli_json(fake: FakeHome, *args: str) -> Any:
    return json.loads(cli(fake, *args))


@asynccontextmanager
async def stdio_session(fake: FakeHome, *args: str) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "llm_session_manager", *args], env=fake.env(), cwd=str(fake.home)
    )
    errors = (fake.home.parent / "server-stderr.txt").open("w")
    try:
        async with (
            stdio_client(params, errlog=errors) as (read, write),
            ClientSession(read, write) as session,
        ):
            yield session
    finally:
        errors.close()
    assert "Traceback" not in (fake.home.parent / "server-stderr.txt").read_text()


async def tool(session: ClientSession, tool_name: str, /, **args: Any) -> Any:
    result = await session.call_tool(tool_name, args)
    assert not result.is_error, result.content
    return result.structured_content


async def resource(session: ClientSession, uri: str) -> str:
    result = await session.read_resource(uri)
    return result.contents[0].text  # type: ignore[union-attr]


def no_stamp(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "exported_at"}


def no_size(stats: dict[str, Any]) -> dict[str, Any]:
    """Memory stats without the store's size on disk (Chroma's files change size as it reads)."""
    return {**stats, "store": {k: v for k, v in stats["store"].items() if k != "size_bytes"}}


async def test_every_tool_resource_and_prompt_over_stdio(fake_home: FakeHome) -> None:
    cli(fake_home, "tag", "88a8", "auth")
    cli(fake_home, "memory-add", "88a8", "Implemented JWT auth using the jose library", "--tag", "auth")
    async with stdio_session(fake_home, "mcp-server") as s:
        init = await s.initialize()
        assert init.server_info.name == "llm-session-manager" and init.protocol_version
        assert [t.name for t in (await s.list_tools()).tools] == TOOLS
        assert [str(r.uri) for r in (await s.list_resources()).resources] == RESOURCES
        assert [t.uri_template for t in (await s.list_resource_templates()).resource_templates] == TEMPLATES
        assert [p.name for p in (await s.list_prompts()).prompts] == PROMPTS

        # -- every tool: read tools first, compared with the CLI on the same data
        everything = await tool(s, "list_sessions", all_sessions=True)
        assert everything["sessions"] == cli_json(fake_home, "list", "--all", "--format", "json")
        found = await tool(s, "list_sessions", text="decorators")
        assert found["sessions"] == cli_json(fake_home, "search", "decorators", "--format", "json")
        tagged_only = await tool(s, "list_sessions", tag=["auth"], all_sessions=True)
        assert tagged_only["sessions"] == cli_json(
            fake_home, "list", "--all", "--tag", "auth", "--format", "json"
        )
        one = await tool(s, "get_session", session_id="88a8")
        assert one == everything["sessions"][3] and one["id"] == SIDE and one["tags"] == ["auth"]
        assert await tool(s, "get_health", session_id="88a8") == cli_json(
            fake_home, "health", "88a8", "-f", "json"
        )
        recs = await tool(s, "recommend")
        assert recs["recommendations"] == cli_json(fake_home, "recommend", "--format", "json")
        export = await tool(s, "export_session", session_id="88a8", format="json")
        cli_doc = json.loads(cli(fake_home, "export", "88a8", "-o", "-", "--format", "json"))
        assert no_stamp(json.loads(export["content"])) == no_stamp(cli_doc)
        memories = await tool(s, "search_memory", query="how do I do authentication")
        cli_memories = cli_json(fake_home, "memory-search", "how do I do authentication", "--format", "json")
        assert memories["memories"] == cli_memories and memories["count"] == 1

        # -- write tools: what they return is what the CLI prints for the same session afterwards
        tagged = await tool(s, "tag_session", session_id="repr", tags=["python"])
        again = cli_json(fake_home, "tag", "repr", "python", "--format", "json")  # now already tagged
        assert again["added"] == [] and again["already_tagged"] == ["python"]
        assert tagged == {**again, "added": ["python"], "already_tagged": []}
        assert await tool(s, "untag_session", session_id="repr", tags=["python"]) == cli_json(
            fake_home, "describe", "repr", "--show", "--format", "json"
        )
        described = await tool(s, "describe_session", session_id="repr", description="Decorators tutorial")
        assert described == cli_json(fake_home, "describe", "repr", "--show", "--format", "json")
        projected = await tool(s, "set_project", session_id="repr", name="learning")
        assert projected == cli_json(fake_home, "set-project", "repr", "learning", "--format", "json")
        added = await tool(s, "add_memory", session_id="repr", text="functools.wraps keeps the wrapped name")
        again = cli_json(
            fake_home, "memory-add", "repr", "functools.wraps keeps the wrapped name", "-f", "json"
        )
        assert added == {**again, "created": True} and again["created"] is False

        # -- every resource, byte for byte what the CLI prints (JSON, minus the final newline)
        for uri, args in (
            ("sessions://list", ("list", "--all")),
            ("sessions://recent", ("list",)),
            (f"sessions://{SIDE}/health", ("health", SIDE)),
            ("recommendations://current", ("recommend",)),
            ("config://current", ("show-config",)),
        ):
            assert await resource(s, uri) + "\n" == cli(fake_home, *args, "--format", "json"), uri
        listed = json.loads(await resource(s, "sessions://list"))
        [representative] = [x for x in listed if x["id"] == "claude-code:representative"]
        assert json.loads(await resource(s, "sessions://repr")) == representative
        stats = json.loads(await resource(s, "memory://stats"))
        assert no_size(stats) == no_size(cli_json(fake_home, "memory-stats", "--format", "json"))
        assert stats["memories"] == 2

        # -- every prompt
        texts: dict[str, dict[str, str]] = {
            "pick_session": {"task": "continue the decorators tutorial"},
            "review_health": {},
            "handoff": {"session_id": "repr"},
            "find_past_work": {"topic": "JWT authentication"},
        }
        for name, prompt_args in texts.items():
            got = await s.get_prompt(name, prompt_args)
            assert got.messages and got.messages[0].content.text, name  # type: ignore[union-attr]
        past = (await s.get_prompt("find_past_work", texts["find_past_work"])).messages[0].content.text  # type: ignore[union-attr]
        assert "Implemented JWT auth using the jose library" in past and SIDE in past

        # -- errors are tool errors with the CLI's message
        bad = await s.call_tool("get_session", {"session_id": "zzz"})
        assert bad.is_error and "no session matches 'zzz'" in bad.content[0].text  # type: ignore[union-attr]


async def test_session_server_over_stdio(fake_home: FakeHome, git_project: tuple[Path, datetime]) -> None:
    async with stdio_session(fake_home, "mcp-session-server", "live-sess") as s:
        await s.initialize()
        names = [t.name for t in (await s.list_tools()).tools]
        assert names == [
            "get_metrics",
            "get_session",
            "get_health",
            "git_status",
            "files_touched",
            "search_memory",
            "add_memory",
        ]
        listed = {x["id"]: x for x in cli_json(fake_home, "list", "--all", "--format", "json")}
        mine = listed["claude-code:live-session"]
        assert await tool(s, "get_session") == mine
        metrics = await tool(s, "get_metrics")
        assert metrics == {k: mine[k] for k in metrics}
        assert await tool(s, "get_health") == cli_json(
            fake_home, "health", "live-session", "--format", "json"
        )
        git = await tool(s, "git_status")
        assert git["branch"] == "main" and git["ahead"] == 1 and git["unstaged"]["files"] == ["app.py"]
        files = await tool(s, "files_touched")
        assert files["touched"]["count"] == 4 and files["changed_on_disk"]["count"] == 4
        added = await tool(s, "add_memory", text="The login route is in auth.py")
        assert added["project"] == "webapp" and added["created"] is True
        assert (await tool(s, "search_memory", query="where is login handled"))["memories"][0]["id"] == added[
            "id"
        ]
        for uri in (
            "session://info",
            "session://metrics",
            "session://health",
            "session://git",
            "session://files",
        ):
            assert json.loads(await resource(s, uri)), uri
        assert json.loads(await resource(s, "session://info")) == mine


def _rpc(proc: subprocess.Popen[bytes], message: dict[str, Any]) -> None:
    assert proc.stdin is not None
    proc.stdin.write((json.dumps(message) + "\n").encode())
    proc.stdin.flush()


def _read_line(proc: subprocess.Popen[bytes], timeout: float) -> bytes:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "no answer from the server"
    return proc.stdout.readline()


@pytest.mark.skipif(sys.platform == "win32", reason="select() on pipes is POSIX-only")
def test_stdout_is_only_protocol_and_initialize_is_fast(fake_home: FakeHome) -> None:
    """Raw JSON-RPC as Claude Desktop sends it (protocol 2025-06-18): every stdout line is a JSON-RPC
    message, even when tools fail and when the heavy libraries (ChromaDB, onnxruntime, GitPython) load."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "llm_session_manager", "mcp-server"],
        env=fake_home.env(),
        cwd=str(fake_home.home),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        started = time.monotonic()
        _rpc(
            proc,
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "claude-ai", "version": "0.1.0"},
                },
            },
        )
        first = json.loads(_read_line(proc, 30))
        elapsed = time.monotonic() - started
        assert first["id"] == 1 and first["result"]["serverInfo"]["name"] == "llm-session-manager"
        assert first["result"]["protocolVersion"] == "2025-06-18"
        assert elapsed < 10, elapsed  # no scan, no memory store, no git before the first answer
        _rpc(proc, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        calls = [
            ("tools/list", {}),
            ("tools/call", {"name": "list_sessions", "arguments": {"all_sessions": True}}),
            ("tools/call", {"name": "get_session", "arguments": {"session_id": "nope"}}),
            ("resources/read", {"uri": "sessions://nope"}),
            ("prompts/get", {"name": "review_health", "arguments": {}}),
            ("tools/call", {"name": "search_memory", "arguments": {"query": "auth"}}),
            (
                "tools/call",
                {"name": "add_memory", "arguments": {"session_id": "88a8", "text": "JWT via jose"}},
            ),
            ("tools/call", {"name": "export_session", "arguments": {"session_id": "88a8", "format": "yaml"}}),
        ]
        for n, (method, params) in enumerate(calls, 2):
            _rpc(proc, {"jsonrpc": "2.0", "id": n, "method": method, "params": params})
        answers = [json.loads(_read_line(proc, 60)) for _ in calls]
        assert sorted(a["id"] for a in answers) == list(range(2, 2 + len(calls)))
        by_id = {a["id"]: a for a in answers}
        assert by_id[3]["result"]["structuredContent"]["count"] == 5
        assert by_id[4]["result"]["isError"] is True
        assert by_id[5]["error"]["message"] == "no session matches 'nope' (see `lsm list --all`)"
        assert by_id[8]["result"]["structuredContent"]["created"] is True
        assert by_id[9]["result"]["structuredContent"]["content"].startswith("schema_version: 1")
    finally:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        proc.stdin.close()  # end of input: the server exits
        proc.wait(timeout=30)
        out, err = proc.stdout.read(), proc.stderr.read()
    for raw in out.splitlines():  # anything left over must be protocol too
        assert json.loads(raw)["jsonrpc"] == "2.0"
    assert b"Traceback" not in err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_streamable_http_on_loopback(fake_home: FakeHome) -> None:
    from mcp import Client

    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llm_session_manager",
            "mcp-server",
            "--transport",
            "streamable-http",
            "--port",
            str(port),
        ],
        env=fake_home.env(),
        cwd=str(fake_home.home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "the HTTP server did not start"
                time.sleep(0.1)
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        token = (fake_home.home / ".config" / "llm-session-manager" / "mcp-http-token").read_text().strip()
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
            Client(streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http)) as c,
        ):
            assert [t.name for t in (await c.list_tools()).tools] == TOOLS
            result = await c.call_tool("get_session", {"session_id": "88a8"})
            assert not result.is_error and (result.structured_content or {})["id"] == SIDE
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert out == b""  # HTTP mode prints nothing on stdout either
    assert f"MCP server at http://127.0.0.1:{port}/mcp".encode() in err


def test_command_errors_are_one_line(fake_home: FakeHome, tmp_path: Path) -> None:
    bad = fake_home.run("mcp-server", "--transport", "websocket")
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip() == (
        "lsm: error: --transport: unknown transport 'websocket' (one of stdio, streamable-http, http)"
    )
    missing = fake_home.run("mcp-session-server", "zzz")
    assert missing.returncode == 3 and missing.stdout == ""
    assert missing.stderr.strip() == "lsm: error: no session matches 'zzz' (see `lsm list --all`)"
    config = tmp_path / "broken.yaml"
    config.write_text("mcp:\n  read_only: maybe\n", encoding="utf-8")
    broken = fake_home.run("mcp-server", LSM_CONFIG=str(config))
    assert broken.returncode == 1 and broken.stdout == ""
    assert (
        broken.stderr.strip() == f"lsm: error: {config}: 'mcp.read_only' must be true or false, got 'maybe'"
    )
    port = fake_home.run("mcp-server", "--port", "0")
    assert port.returncode == 2 and len(port.stderr.strip().splitlines()) == 1


def test_mcp_is_not_imported_by_other_commands(fake_home: FakeHome) -> None:
    code = (
        "import sys, llm_session_manager.cli as c; print(any(m.split('.')[0] == 'mcp' for m in sys.modules))"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], env=fake_home.env(), capture_output=True, text=True, timeout=60
    )
    assert r.stdout.strip() == "False", r.stderr
