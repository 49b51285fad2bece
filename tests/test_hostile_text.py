"""Hostile transcript text through every front end.

Claude transcripts in the fake HOME whose first prompts hold Rich markup, unmatched closing tags, ANSI and
OSC escape sequences (clipboard, window title), DCS, C1 controls, CR/BS/BEL, bidi overrides, pasted
credentials, a very long line and wide characters; a description and a project name with the same. Every
front end must exit 0 with no traceback, keep brackets literal, let no escape byte reach a terminal, and
show no secret anywhere (JSON keeps the text exact, secrets aside).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from io import StringIO
from typing import Any

import pytest
from conftest import FakeHome
from rich.console import Console

from llm_session_manager import safetext
from llm_session_manager.safetext import for_terminal, json_for_terminal, title_line, without_secrets

ANTHROPIC = "sk-ant-api03-" + "Zz9" * 30 + "-AA"
AWS_KEY = "AKIAQ4TZ7RJ2M5XK8WPL"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq8Rt3nKm1"
GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
SECRETS = (ANTHROPIC, AWS_KEY, AWS_SECRET, GITHUB)
# A piece that must not survive either: a key cut in half by the 80-character title limit.
FRAGMENTS = tuple(s[:16] for s in SECRETS)

MARKUP = "hostile [/INST] arr[i] [bold]x [/quote]"
PROMPTS = {
    "h-markup": MARKUP,
    "h-csi": "hostile \x1b[31mred\x1b[0m \x1b[2J",
    "h-osc": "hostile \x1b]0;pwned\x07 \x1b]52;c;ZXZpbA==\x07",
    "h-dcs": "hostile \x1bP1$r0m\x1b\\ lone\x1b end",
    "h-c1": "hostile \x9b31m c1 \x9d0;t\x9c",
    "h-crbs": "hostile 10%\rDONE\x08\x08\x07",
    "h-bidi": "hostile \u202eevil\u202c \u2066iso\u2069",
    "h-anthropic": f"hostile please use {ANTHROPIC} for the API",
    "h-straddle": "hostile " + "a" * 50 + " " + ANTHROPIC,  # the key crosses the title's cut
    "h-aws": f"hostile AWS {AWS_KEY} and aws_secret_access_key={AWS_SECRET}",
    "h-github": f"hostile token {GITHUB}",
    "h-long": "hostile " + "[/INST] " * 3000,
    "h-wide": "hostile 修复 🐛 漢字 ✅ [/x] 👩‍💻",
}
DESCRIPTION = f"hostile [/INST] desc \x1b]52;c;ZXZpbA==\x07 key {GITHUB}\nsecond line"
PROJECT = "[/p] \x1b]0;proj\x07"
STRAY = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
SGR = re.compile(r"\x1b\[[0-9;]*m")  # Rich's own colours on a forced terminal


def user_line(sid: str, text: str) -> dict[str, Any]:
    return {
        "type": "user",
        "isSidechain": False,
        "sessionId": sid,
        "cwd": "/work/hostile",
        "timestamp": "2026-12-01T09:59:00.000Z",
        "message": {"role": "user", "content": text},
    }


HOSTILE_MODEL = "claude-[/INST]\x1b]0;m\x07-9"  # an unknown model: quoted in warnings


def assistant_line(sid: str, model: str = "claude-sonnet-4-5-20250929") -> dict[str, Any]:
    return {
        "type": "assistant",
        "isSidechain": False,
        "sessionId": sid,
        "cwd": "/work/hostile",
        "timestamp": "2026-12-01T10:00:00.000Z",
        "requestId": f"r-{sid}",
        "uuid": f"u-{sid}",
        "message": {
            "id": f"m-{sid}",
            "model": model,
            "role": "assistant",
            "content": [{"type": "text", "text": "ok [/INST] \x1b[2J"}],
            "usage": {
                "input_tokens": 10,
                "output_tokens": 20,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
        },
    }


def write_hostile(fake: FakeHome) -> None:
    folder = fake.projects / "-work-hostile"
    folder.mkdir(parents=True, exist_ok=True)
    for sid, prompt in PROMPTS.items():
        lines = [user_line(sid, prompt), assistant_line(sid)]
        (folder / f"{sid}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    lines = [user_line("h-model", "hostile model"), assistant_line("h-model", HOSTILE_MODEL)]
    (folder / "h-model.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")


@pytest.fixture
def hostile(fake_home: FakeHome, monkeypatch: pytest.MonkeyPatch) -> FakeHome:
    monkeypatch.setenv("LSM_DISCOVERY", "off")
    write_hostile(fake_home)
    ok(fake_home.run("describe", "h-markup", DESCRIPTION))
    ok(fake_home.run("set-project", "h-markup", PROJECT))
    return fake_home


def ok(result: Any) -> str:
    """stdout + stderr of a command that must succeed without a traceback."""
    both = result.stdout + result.stderr
    assert result.returncode == 0, both
    assert "Traceback" not in both and "MarkupError" not in both, both
    return str(both)


def assert_no_secret(text: str) -> None:
    for secret in SECRETS + FRAGMENTS:
        assert secret not in text, secret


def assert_terminal_safe(text: str) -> None:
    """What reaches a terminal: no ESC, BEL, C1 or bidi override; no secret."""
    assert "\x1b" not in text
    assert not STRAY.search(text), repr(STRAY.search(text))
    assert_no_secret(text)


def assert_forced_terminal_safe(text: str) -> None:
    """A forced terminal gets Rich's colour codes and nothing else."""
    for raw in ("\x1b[31mred", "\x1b[2J", "\x1b]", "\x1bP", "\x07"):
        assert raw not in text
    assert_terminal_safe(SGR.sub("", text))


# ---------------------------------------------------------------------------------------------------
# The pure rules


def test_for_terminal_makes_every_control_visible() -> None:
    assert for_terminal("a\x1b[31mb") == "a␛[31mb"
    assert for_terminal("\x1b]52;c;ZXZp\x07") == "␛]52;c;ZXZp␇"
    assert for_terminal("x\ry\x08\x7f") == "x␍y␈␡"
    assert for_terminal("csi \x9b31m") == "csi \\x9b31m"
    assert for_terminal("\u202eevil") == "\\u202eevil"
    assert for_terminal("lone \ud800") == "lone \ufffd"
    assert for_terminal("a\nb\tc\r\nd") == "a b c d"
    assert for_terminal("a\nb\tc\r\nd\re", multiline=True) == "a\nb\tc\nd␍e"
    for text in ("plain [/INST] arr[i] 修复 🐛 👩‍💻", ""):
        assert for_terminal(text) is text  # nothing to do: the very same string


def test_title_line_redacts_before_the_cut() -> None:
    title = title_line(PROMPTS["h-straddle"], 80)
    assert len(title) <= 80 and "[REDACTED:" in title
    assert_no_secret(title)
    assert title_line("  a \n b\tc  ", 80) == "a b c"
    assert title_line("x" * 100, 80) == "x" * 79 + "…"


def test_title_line_never_keeps_a_lone_surrogate() -> None:
    assert title_line("a\ud800b", 80) == "a\ufffdb"


def test_json_for_terminal_escapes_what_json_leaves_raw() -> None:
    import orjson

    value = {"t": "a\x9bb\u202ec\u2028d…é\x1b", "x": ["\u061c\u200e\u2066", "plain"]}
    out = json_for_terminal(orjson.dumps(value))
    assert json.loads(out) == value
    text = out.decode()
    assert not STRAY.search(text) and "\u2028" not in text and "…é" in text
    assert "\\u009b" in text and "\\u202e" in text
    plain = orjson.dumps({"t": "nothing to do"})
    assert json_for_terminal(plain) is plain


def test_without_secrets_keeps_text_and_types() -> None:
    assert without_secrets(None) is None
    assert without_secrets("") == ""
    assert without_secrets(MARKUP) == MARKUP
    assert without_secrets(f"k {ANTHROPIC}") == "k [REDACTED:anthropic-key]"


def test_redactor_digest_is_stable() -> None:
    assert safetext.redactor_digest() == safetext.redactor_digest()
    assert re.fullmatch(r"[0-9a-f]{16}", safetext.redactor_digest())


# ---------------------------------------------------------------------------------------------------
# The CLI


def by_native(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["native_id"]: row for row in rows}


def test_list_json_keeps_text_exact_but_no_secret(hostile: FakeHome) -> None:
    result = hostile.run("list", "--all", "--format", "json")
    ok(result)
    assert_terminal_safe(result.stdout)  # JSON escapes C0 itself, and lsm escapes C1 and bidi
    rows = by_native(json.loads(result.stdout))
    assert rows["h-c1"]["title"] == PROMPTS["h-c1"]
    assert rows["h-markup"]["title"] == MARKUP
    assert rows["h-csi"]["title"] == PROMPTS["h-csi"]  # JSON escapes ESC itself
    assert rows["h-osc"]["title"] == PROMPTS["h-osc"]
    assert rows["h-bidi"]["title"] == PROMPTS["h-bidi"]
    assert rows["h-wide"]["title"] == PROMPTS["h-wide"]
    assert rows["h-anthropic"]["title"] == "hostile please use [REDACTED:anthropic-key] for the API"
    assert "[REDACTED:" in rows["h-straddle"]["title"]
    assert "[REDACTED:aws-access-key]" in rows["h-aws"]["title"]
    assert rows["h-github"]["title"] == "hostile token [REDACTED:github-token]"
    assert rows["h-markup"]["description"].startswith("hostile [/INST] desc \x1b]52;c;")
    assert "[REDACTED:github-token]" in rows["h-markup"]["description"]
    assert rows["h-markup"]["project"] == PROJECT


@pytest.mark.parametrize("args", [("list", "--all"), ("list",), ("list", "--all", "--project", "hostile")])
def test_list_table_piped(hostile: FakeHome, args: tuple[str, ...]) -> None:
    result = hostile.run(*args)
    ok(result)
    assert_terminal_safe(result.stdout + result.stderr)
    if args == ("list",):
        return  # nothing recent: the point is that it runs
    out = result.stdout
    assert "[/INST] arr[i] [bold]x" in out  # literal, not markup
    assert "␛[31mred" in out and "␛]0;pwned␇" in out
    assert "hostile token [REDACTED:" in out


def test_list_table_on_a_forced_terminal(hostile: FakeHome) -> None:
    result = hostile.run("list", "--all", FORCE_COLOR="1", NO_COLOR="", COLUMNS="230")
    ok(result)
    assert_forced_terminal_safe(result.stdout)
    assert "[/INST] arr[i] [bold]x" in SGR.sub("", result.stdout)


def test_search_table_details_and_json(hostile: FakeHome) -> None:
    table = hostile.run("search", "hostile", "--details")
    ok(table)
    assert_terminal_safe(table.stdout + table.stderr)
    assert "[/INST]" in table.stdout and "[REDACTED:github-token]" in table.stdout
    forced = hostile.run("search", "hostile", "--details", FORCE_COLOR="1", NO_COLOR="")
    ok(forced)
    assert_forced_terminal_safe(forced.stdout)
    as_json = hostile.run("search", "hostile", "--format", "json")
    ok(as_json)
    assert_no_secret(as_json.stdout)
    assert by_native(json.loads(as_json.stdout))["h-markup"]["title"] == MARKUP
    nothing = hostile.run("search", "nomatch\x1b]0;x\x07")
    ok(nothing)
    assert_terminal_safe(nothing.stdout + nothing.stderr)


def test_batch_previews(hostile: FakeHome) -> None:
    tagged = hostile.run("batch-tag", "*hostile*", "seen")
    ok(tagged)
    assert_terminal_safe(tagged.stdout + tagged.stderr)
    assert "[/INST]" in tagged.stderr
    closing = hostile.run("batch-close", "*hostile*", "--dry-run")
    ok(closing)
    assert_terminal_safe(closing.stdout + closing.stderr)
    assert "␛[31mred" in closing.stderr


def test_health_describe_and_set_project_output(hostile: FakeHome) -> None:
    for args in (
        ("health", "h-markup"),
        ("health", "h-osc"),
        ("health", "h-model"),
        ("info",),
        ("describe", "h-markup", "--show"),
        ("set-project", "h-osc", PROJECT),
        ("tag", "h-csi", "x"),
    ):
        result = hostile.run(*args)
        ok(result)
        assert_terminal_safe(result.stdout + result.stderr)
    warned = hostile.run("health", "h-model").stdout
    assert "claude-[/INST]␛]0;m␇-9" in warned  # the unknown-model warning quotes it literally
    shown = hostile.run("describe", "h-markup", "--show").stdout
    assert shown.startswith("hostile [/INST] desc ␛]52;c;") and "\nsecond line" in shown


def test_error_lines_quoting_input_are_safe(hostile: FakeHome) -> None:
    result = hostile.run("health", "nope\x1b]0;t\x07[/INST]")
    assert result.returncode == 3 and "Traceback" not in result.stderr
    assert_terminal_safe(result.stderr)
    assert "[/INST]" in result.stderr


def test_markdown_export_to_stdout(hostile: FakeHome) -> None:
    for sid in ("h-csi", "h-osc", "h-anthropic", "h-markup"):
        result = hostile.run("export", sid, "-o", "-", "--format", "markdown")
        ok(result)
        assert_terminal_safe(result.stdout + result.stderr)
    csi = hostile.run("export", "h-csi", "-o", "-", "--format", "markdown").stdout
    assert "␛[2J" in csi and "\n" in csi


def test_json_export_to_stdout_is_exact_json(hostile: FakeHome) -> None:
    for sid in ("h-osc", "h-c1", "h-bidi"):
        result = hostile.run("export", sid, "-o", "-", "--format", "json")
        ok(result)
        assert_terminal_safe(result.stdout)
        assert json.loads(result.stdout)["session"]["title"] == PROMPTS[sid]


# ---------------------------------------------------------------------------------------------------
# In-process renderers: the monitor, the recommendation text, the tables on a terminal console


def forced_console(width: int = 160, height: int = 60) -> tuple[Console, StringIO]:
    buf = StringIO()
    return Console(file=buf, force_terminal=True, width=width, height=height, color_system="truecolor"), buf


@pytest.fixture
def views(hostile: FakeHome) -> list[Any]:
    from llm_session_manager import config
    from llm_session_manager.paths import resolve
    from llm_session_manager.service import collect

    paths = resolve()
    return collect(paths, config.load(paths.config_file), processes=False).views


def test_monitor_render_with_each_hostile_session_selected(views: list[Any]) -> None:
    from llm_session_manager import config
    from llm_session_manager.paths import resolve
    from llm_session_manager.scan import ScanStats
    from llm_session_manager.service import Collected
    from llm_session_manager.tui.render import ViewState, render
    from llm_session_manager.tui.snapshot import build_snapshot

    cfg = config.load(resolve().config_file)
    collected = Collected(views, {"claude-code": ScanStats(errors=["bad \x1b]0;t\x07 [/x].jsonl"])})
    snap = build_snapshot(collected, cfg, datetime.now(timezone.utc), project="hostile\x1b[2J")
    snap_all = build_snapshot(collected, cfg, datetime.now(timezone.utc))
    seen = ""
    for view in views:
        if not view.session.native_id.startswith("h-"):
            continue
        for width in (200, 100):
            con, buf = forced_console(width=width)
            con.print(render(snap_all, ViewState(selected=view.session.id, scope="all", details=True)))
            frame = buf.getvalue()
            assert_forced_terminal_safe(frame)
            seen += SGR.sub("", frame)
    assert "[/INST] arr[i] [bold]x" in seen and "␛]0;pwned␇" in seen and "[REDACTED:anthropic-key]" in seen
    con, buf = forced_console()
    con.print(render(snap, ViewState(scope="all")))  # the filter quoted in the header and empty pane
    assert_forced_terminal_safe(buf.getvalue())


def test_tables_on_a_terminal_console(views: list[Any]) -> None:
    from llm_session_manager.cli.render import health_table, preview_table, search_table, sessions_table

    hostile_views = [v for v in views if v.session.native_id.startswith("h-")]
    con, buf = forced_console(width=250)
    con.print(sessions_table(hostile_views, datetime.now(timezone.utc), 250))
    con.print(search_table(hostile_views, details=True))
    con.print(preview_table(hostile_views, "Would close [/INST]"))
    for view in hostile_views:
        con.print(health_table(view))
    out = buf.getvalue()
    assert_forced_terminal_safe(out)
    assert "[/INST] arr[i] [bold]x" in SGR.sub("", out)


def test_recommendation_lines_quote_text_safely() -> None:
    from llm_session_manager.cli.recommend_cmd import render_lines
    from llm_session_manager.recommend import Recommendation

    rec = Recommendation(
        "merge",
        "info",
        ("claude-code:h-osc\x1b]0;t\x07",),
        f"same project '[/p] \x1b]52;c;ZXZp\x07' [/INST] {ANTHROPIC[:5]}",
        "lsm export x [/INST] \x1b[2J",
        1.0,
    )
    con, buf = forced_console()
    for line in render_lines([rec]):
        con.print(line)
    out = buf.getvalue()
    assert_forced_terminal_safe(out)
    assert "[/INST]" in out and "␛]52;c;ZXZp␇" in out


# ---------------------------------------------------------------------------------------------------
# MCP: tools and resources serve the same redacted text


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@asynccontextmanager
async def mcp_client() -> AsyncIterator[Any]:
    from mcp import Client

    from llm_session_manager.mcp.server import build_server

    async with Client(build_server()) as client:
        yield client


@pytest.mark.anyio
async def test_mcp_tools_and_resources_carry_no_secret(hostile: FakeHome) -> None:
    async with mcp_client() as client:
        listed = await client.call_tool("list_sessions", {"all_sessions": True})
        assert not listed.is_error, listed.content
        payloads = [json.dumps(listed.structured_content)]
        rows = by_native(listed.structured_content["sessions"])
        assert rows["h-markup"]["title"] == MARKUP
        assert rows["h-anthropic"]["title"] == "hostile please use [REDACTED:anthropic-key] for the API"
        for sid in PROMPTS:
            one = await client.call_tool("get_session", {"session_id": f"claude-code:{sid}"})
            assert not one.is_error, one.content
            payloads.append(json.dumps(one.structured_content))
            payloads.append(one.content[0].text)  # type: ignore[union-attr]
        for uri in ("sessions://list", "sessions://claude-code:h-aws", "sessions://claude-code:h-markup"):
            result = await client.read_resource(uri)
            payloads.append(result.contents[0].text)  # type: ignore[union-attr]
        found = await client.call_tool("list_sessions", {"text": "hostile", "all_sessions": True})
        payloads.append(json.dumps(found.structured_content))
    for text in payloads:
        assert_no_secret(text)
    assert any("[REDACTED:github-token]" in text for text in payloads)


def test_redaction_happens_once_in_the_scan(hostile: FakeHome) -> None:
    """A title reaches the merged cache already redacted: a warm listing redacts nothing again."""
    from llm_session_manager import config
    from llm_session_manager.paths import resolve
    from llm_session_manager.service import collect

    paths = resolve()
    cfg = config.load(paths.config_file)
    collect(paths, cfg, processes=False)  # fills the merged cache
    safetext._redacted.cache_clear()
    warm = collect(paths, cfg, processes=False)
    titles = {v.session.native_id: v.session.title for v in warm.views}
    assert titles["h-anthropic"] == "hostile please use [REDACTED:anthropic-key] for the API"
    # Only our own metadata (one description, one project) went through the redactor this time.
    assert safetext._redacted.cache_info().misses <= 2


def test_hostile_file_names_are_ids_shown_safely(fake_home: FakeHome) -> None:
    """A session file named with markup and escapes: its id is shown, never run."""
    folder = fake_home.projects / "-work-hostile"
    folder.mkdir(parents=True, exist_ok=True)
    name = "evil[bold]x\x1b]0;t\x07"  # no "/" in a file name
    lines = [user_line(name, "hostile name"), assistant_line(name)]
    (folder / f"{name}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    for args in (("list", "--all"), ("search", "hostile"), ("info",), ("health", "evil")):
        result = fake_home.run(*args, LSM_DISCOVERY="off")
        ok(result)
        assert_terminal_safe(result.stdout + result.stderr)
    assert "claude-code:evil[bold]x␛]0;t␇: " in fake_home.run("health", "evil", LSM_DISCOVERY="off").stdout


def test_markdown_hand_off_files_show_escapes_never_run_them(hostile: FakeHome) -> None:
    """A hand-off written to a file is read with cat or a pager: the same rule as on stdout."""
    out = hostile.home / "handoffs"
    for sid in ("h-csi", "h-osc", "h-c1", "h-bidi"):
        ok(hostile.run("export", sid, "-o", str(out / f"{sid}.md"), "--parents"))
    ok(hostile.run("batch-export", "*hostile*", "-o", str(out / "batch"), "--parents", "-f", "markdown"))
    files = sorted(out.rglob("*.md"))
    assert len(files) > 4
    for f in files:
        assert_terminal_safe(f.read_text(encoding="utf-8"))
    assert "␛[2J" in (out / "h-csi.md").read_text(encoding="utf-8")


def test_a_secret_typed_on_the_command_line_is_not_echoed(hostile: FakeHome) -> None:
    named = hostile.run("set-project", "h-csi", f"key {GITHUB}")
    ok(named)
    assert "[REDACTED:github-token]" in named.stderr
    missing = hostile.run("health", ANTHROPIC)
    assert missing.returncode == 3 and "[REDACTED:anthropic-key]" in missing.stderr
    too_long = hostile.run("tag", "h-csi", ANTHROPIC)
    assert too_long.returncode == 2
    for result in (named, missing, too_long):
        assert_no_secret(result.stdout + result.stderr)


def test_arguments_that_are_not_utf8_are_stored_not_a_traceback(hostile: FakeHome) -> None:
    """Bytes that are not UTF-8 reach Python as lone surrogates, which SQLite cannot store."""
    for args in (("describe", "h-csi", "caf\udce9 latin-1"), ("set-project", "h-csi", "caf\udce9")):
        ok(hostile.run(*args))
    shown = json.loads(ok(hostile.run("describe", "h-csi", "--show", "--format", "json")))
    assert shown["description"] == "caf\ufffd latin-1" and shown["project"] == "caf\ufffd"


@pytest.mark.anyio
async def test_mcp_errors_quoting_an_argument_carry_no_secret(hostile: FakeHome) -> None:
    """An unknown id or a refused value is quoted in the error: a credential in it is redacted."""
    async with mcp_client() as client:
        texts = []
        for name, args in (
            ("get_session", {"session_id": ANTHROPIC}),
            ("get_health", {"session_id": f"key {GITHUB}"}),
            ("set_project", {"session_id": ANTHROPIC, "name": "x"}),
            ("add_memory", {"session_id": "claude-code:h-csi", "text": f"aws_access_key_id = {AWS_KEY}"}),
            ("get_budget", {"agent": f"aws_access_key_id = {AWS_KEY}"}),  # refused by the SDK's own check
            ("export_session", {"session_id": "claude-code:h-csi", "format": f"key={AWS_KEY}"}),
        ):
            result = await client.call_tool(name, args)
            assert result.is_error, (name, result.content)
            texts.append(result.content[0].text)  # type: ignore[union-attr]
        with pytest.raises(Exception) as missing:
            await client.read_resource(f"sessions://{ANTHROPIC}")
        texts.append(str(missing.value))
    for text in texts:
        assert_no_secret(text)
    assert "[REDACTED:anthropic-key]" in texts[0]
