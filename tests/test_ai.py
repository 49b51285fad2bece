"""The Anthropic paths, with the REAL ``anthropic`` client talking to a loopback stub
(tests/fake_anthropic.py): success, malformed replies, 429, timeout, missing key, refusal, unreachable
server, and redaction of everything sent. CLI tests run `lsm` in a subprocess with ``ANTHROPIC_BASE_URL``
pointing at the stub."""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeHome
from fake_anthropic import FakeAnthropic, Reply, error_reply, message, tool_reply
from test_tagging import add_session, ok, python_project, run, write_files

from llm_session_manager import ai
from llm_session_manager.ai import AIError, AISettings, NoKeyError

KEY = "sk-ant-api03-" + "Zx9" * 30 + "-AA"  # shaped like a real key, so that redaction knows it
TAGS = {
    "tags": [
        {"tag": "Web API", "confidence": 0.9, "reason": "FastAPI service"},
        {"tag": "payments", "confidence": 0.7, "reason": "the README mentions checkout"},
        {"tag": "not ok!", "confidence": 0.6, "reason": "bad characters"},
        {"tag": "python", "confidence": 1.5, "reason": ""},
    ]
}


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


def settings(fake: FakeAnthropic, **kw: Any) -> AISettings:
    return AISettings(**{"api_key": KEY, "base_url": fake.base_url, "timeout": 5.0, **kw})


# ---------------------------------------------------------------------------------------------------
# The module, in process


def test_settings_from_env_and_config() -> None:
    with pytest.raises(NoKeyError, match="ANTHROPIC_API_KEY is not set"):
        ai.settings_from({}, {})
    with pytest.raises(NoKeyError):
        ai.settings_from({"ANTHROPIC_API_KEY": "  "}, {})
    env = {
        "ANTHROPIC_API_KEY": KEY,
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
        "GITHUB_TOKEN": "ghtok-12345678",
    }
    s = ai.settings_from(env, {"ai": {"model": "claude-haiku-5-5", "timeout_seconds": 12}})
    assert (s.api_key, s.model, s.timeout, s.base_url) == (
        KEY,
        "claude-haiku-5-5",
        12.0,
        "http://127.0.0.1:9",
    )
    assert set(s.secrets) == {KEY, "ghtok-12345678"}  # values of secret-looking variables are never sent
    assert ai.settings_from({"ANTHROPIC_API_KEY": KEY}, {}).model == "claude-haiku-4-5"


def test_suggest_tags_sends_a_forced_strict_tool(fake: FakeAnthropic) -> None:
    fake.queue(tool_reply("record_tags", TAGS))
    tags, redacted = ai.suggest_tags(settings(fake, model="claude-haiku-4-5"), "Project type: python")
    assert [(t.tag, t.confidence, t.reason) for t in tags] == [
        ("Web API", 0.9, "FastAPI service"),
        ("payments", 0.7, "the README mentions checkout"),
        ("not ok!", 0.6, "bad characters"),
        ("python", 1.0, "suggested by Claude"),  # clamped; empty reason replaced
    ]
    assert redacted == 0
    [req] = fake.requests
    assert req.path == "/v1/messages"
    assert req.headers.get("authorization") == f"Bearer {KEY}" or req.headers.get("x-api-key") == KEY
    body = req.body
    assert body["model"] == "claude-haiku-4-5"
    assert body["tool_choice"] == {"type": "tool", "name": "record_tags"}
    [tool] = body["tools"]
    assert tool["name"] == "record_tags" and tool["strict"] is True
    assert tool["input_schema"]["additionalProperties"] is False
    assert body["messages"] == [{"role": "user", "content": "Project type: python"}]


def test_describe(fake: FakeAnthropic) -> None:
    fake.queue(
        tool_reply("record_description", {"description": "  A FastAPI shop.\n\nThe session fixed login.  "})
    )
    text, _ = ai.describe(settings(fake), "context")
    assert text == "A FastAPI shop. The session fixed login."  # one paragraph
    assert fake.requests[0].body["tool_choice"] == {"type": "tool", "name": "record_description"}


def test_blocks_are_picked_by_type(fake: FakeAnthropic) -> None:
    content = [
        {"type": "thinking", "thinking": "hmm", "signature": "sig"},
        {"type": "text", "text": "Here you go"},
        {"type": "tool_use", "id": "toolu_1", "name": "record_tags", "input": {"tags": []}},
    ]
    fake.queue(Reply(body=message(content, stop_reason="tool_use")))
    assert ai.suggest_tags(settings(fake), "x")[0] == []


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (tool_reply("record_tags", {"tags": "python, web"}), "no 'tags' array"),
        (tool_reply("record_tags", {"tags": [{"name": "python"}]}), "an item has no 'tag'"),
        (tool_reply("record_tags", ["python"]), "no 'tags' array"),
        (Reply(body=message([{"type": "text", "text": '{"tags": ["python"]}'}])), "had no record_tags call"),
        (Reply(body=message([], stop_reason="max_tokens")), "cut off"),
        (Reply(body={"unexpected": True}), "had no record_tags call"),
    ],
)
def test_malformed_replies_are_errors(fake: FakeAnthropic, reply: Reply, expected: str) -> None:
    fake.queue(reply)
    with pytest.raises(AIError, match=expected):
        ai.suggest_tags(settings(fake), "x")


def test_refusal(fake: FakeAnthropic) -> None:
    fake.queue(
        Reply(body=message([], stop_reason="refusal", stop_details={"type": "refusal", "category": "cyber"}))
    )
    with pytest.raises(AIError, match=r"Claude declined to answer \(cyber\); nothing was changed"):
        ai.suggest_tags(settings(fake), "x")


def test_rate_limit_is_retried_once_then_reported(fake: FakeAnthropic) -> None:
    limited = error_reply(429, "rate_limit_error", "Number of requests has exceeded your rate limit")
    limited.headers["retry-after-ms"] = "10"
    fake.queue(limited, limited)
    with pytest.raises(AIError, match=r"rate limiting this key \(429\); try again later"):
        ai.suggest_tags(settings(fake), "x")
    assert len(fake.requests) == 2  # max_retries = 1


def test_rate_limit_then_success(fake: FakeAnthropic) -> None:
    limited = error_reply(429, "rate_limit_error", "slow down", **{"retry-after-ms": "10"})
    fake.queue(limited, tool_reply("record_tags", {"tags": []}))
    assert ai.suggest_tags(settings(fake), "x")[0] == []


def test_timeout(fake: FakeAnthropic) -> None:
    fake.queue(Reply(body=message([]), delay=5), Reply(body=message([]), delay=5))
    with pytest.raises(AIError, match=r"no reply from the Anthropic API within 0.3 s \(timeout\)"):
        ai.suggest_tags(settings(fake, timeout=0.3), "x")


@pytest.mark.parametrize(
    ("status", "kind", "expected"),
    [
        (401, "authentication_error", "rejected the key in ANTHROPIC_API_KEY (401)"),
        (404, "not_found_error", "does not know model 'claude-haiku-4-5' (404)"),
        (400, "invalid_request_error", "answered 400: prompt is too long"),
    ],
)
def test_status_errors(fake: FakeAnthropic, status: int, kind: str, expected: str) -> None:
    fake.queue(error_reply(status, kind, "prompt is too long"))
    with pytest.raises(AIError) as err:
        ai.suggest_tags(settings(fake), "x")
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_unreachable_server() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    s = AISettings(api_key=KEY, base_url=f"http://127.0.0.1:{port}", timeout=2.0)
    with pytest.raises(AIError, match="cannot reach the Anthropic API"):
        ai.suggest_tags(s, "x")


def test_scrub_removes_secrets() -> None:
    text = "\n".join(
        [
            f"my key is {KEY}",
            "OPENAI_API_KEY=sk-proj-" + "a1B2c3D4" * 6,
            "export DB_PASS=hunter22",
            "STRIPE_SECRET_KEY='rk_live_abcdefghij1234567890'",
            "DATABASE_URL=postgres://shop:s3cret@db:5432/shop",
            "github ghp_" + "a" * 36,
            "the custom value mytokenvalue99 appears",
            "KEYWORDS = are fine",  # too short to be a value: kept
            'author = "Jane Doe"',
        ]
    )
    clean, found = ai.scrub(text, ("mytokenvalue99",))
    for secret in (KEY, "a1B2c3D4", "hunter22", "rk_live_", "s3cret", "ghp_", "mytokenvalue99"):
        assert secret not in clean
    assert 'author = "Jane Doe"' in clean and "KEYWORDS = are fine" in clean
    assert found >= 7


# ---------------------------------------------------------------------------------------------------
# Through the CLI (a subprocess pointed at the stub)


def ai_env(fake: FakeAnthropic, **extra: str) -> dict[str, str]:
    return {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": fake.base_url, **extra}


def secret_project(tmp_path: Path) -> Path:
    """The python project, whose README leaks a token and which has a .env file (never read)."""
    root = python_project(tmp_path)
    write_files(
        root,
        {
            "README.md": "# Shop API\nDeploy with GITHUB_TOKEN=ghp_" + "b" * 36 + "\n",
            ".env": "STRIPE_KEY=sk_live_" + "x" * 24 + "\n",
        },
    )
    return root


def feedback_rows(fake_home: FakeHome) -> int:
    conn = sqlite3.connect(fake_home.lsm_home / "lsm.db")
    try:
        return int(conn.execute("SELECT COUNT(*) FROM tag_feedback").fetchone()[0])
    finally:
        conn.close()


def test_cli_auto_tag_ai_success(fake_home: FakeHome, tmp_path: Path, fake: FakeAnthropic) -> None:
    sid = add_session(
        fake_home, secret_project(tmp_path), "ai-ok", [f"use my key {KEY} to fix the login bug"]
    )
    fake.queue(tool_reply("record_tags", TAGS))
    r = ok(fake_home, "auto-tag", "ai-ok", "--ai", "-f", "json", **ai_env(fake))
    out = json.loads(r.stdout)
    assert out["ai"] == "used"
    by = {s["tag"]: s for s in out["suggestions"]}
    # Claude's tags, made ours ("Web API" -> web-api; "not ok!" dropped); heuristics fill in the rest.
    assert by["web-api"]["source"] == "ai" and by["web-api"]["confidence"] == 0.9
    assert by["python"]["source"] == "ai" and by["python"]["confidence"] == 0.99  # 1.5 -> 1.0 -> capped
    assert by["fastapi"]["source"] == "heuristic"
    assert "not-ok" not in by and "not ok!" not in by
    # What was sent: project facts and prompts, with every secret redacted; never the .env file.
    sent = json.dumps(fake.requests[0].body)
    assert "fastapi" in sent and "fix the login bug" in sent and "Shop API" in sent
    assert KEY not in sent and "ghp_" not in sent and "sk_live_" not in sent
    assert "[REDACTED:" in sent
    assert out["redacted"] >= 2 and "redacted before asking Claude" not in r.stderr  # json mode: no chatter
    assert fake.requests[0].body["model"] == "claude-haiku-4-5"
    listed = json.loads(ok(fake_home, "list", "--all", "-f", "json").stdout)
    assert next(s for s in listed if s["id"] == sid)["tags"] == []  # suggestions only


def test_cli_auto_tag_ai_apply_and_model_from_config(
    fake_home: FakeHome, tmp_path: Path, fake: FakeAnthropic
) -> None:
    add_session(fake_home, python_project(tmp_path), "ai-apply")
    config = fake_home.home / ".config" / "llm-session-manager" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text("ai:\n  model: claude-haiku-5-5\n")
    fake.queue(tool_reply("record_tags", TAGS))
    out = json.loads(
        ok(fake_home, "auto-tag", "ai-apply", "--ai", "--apply", "-f", "json", **ai_env(fake)).stdout
    )
    assert fake.requests[0].body["model"] == "claude-haiku-5-5"
    assert {"web-api", "payments", "python", "fastapi"} <= set(out["added"])
    stats = json.loads(ok(fake_home, "tag-stats", "-f", "json").stdout)
    ai_row = next(r for r in stats["by_source"] if r["source"] == "ai")
    assert ai_row["applied"] == 3 and ai_row["suggested"] == 3  # web-api, payments, python


def test_cli_auto_tag_ai_without_key_falls_back(
    fake_home: FakeHome, tmp_path: Path, fake: FakeAnthropic
) -> None:
    add_session(fake_home, python_project(tmp_path), "ai-nokey")
    r = ok(fake_home, "auto-tag", "ai-nokey", "--ai", "-f", "json", ANTHROPIC_BASE_URL=fake.base_url)
    assert (
        r.stderr.strip() == "lsm: warning: ANTHROPIC_API_KEY is not set; suggesting tags from heuristics only"
    )
    out = json.loads(r.stdout)
    assert out["ai"] == "no-key" and out["suggestions"][0]["tag"] == "python"
    assert fake.requests == []


@pytest.mark.parametrize(
    ("replies", "expected"),
    [
        ([error_reply(429, "rate_limit_error", "limit", **{"retry-after-ms": "10"})] * 2, "(429)"),
        ([tool_reply("record_tags", {"tags": "python"})], "not the expected tag list"),
        ([Reply(body=message([], stop_reason="refusal"))], "declined to answer"),
        ([error_reply(529, "overloaded_error", "Overloaded")] * 2, "answered 529: Overloaded"),
    ],
)
def test_cli_auto_tag_ai_failure_changes_nothing(
    fake_home: FakeHome, tmp_path: Path, fake: FakeAnthropic, replies: list[Reply], expected: str
) -> None:
    sid = add_session(fake_home, python_project(tmp_path), "ai-fail")
    fake.queue(*replies)
    r = run(fake_home, "auto-tag", "ai-fail", "--ai", "--apply", **ai_env(fake))
    assert r.returncode == 1
    assert (
        len(r.stderr.strip().splitlines()) == 1
        and expected in r.stderr
        and r.stderr.startswith("lsm: error:")
    )
    listed = json.loads(ok(fake_home, "list", "--all", "-f", "json").stdout)
    assert next(s for s in listed if s["id"] == sid)["tags"] == []
    assert feedback_rows(fake_home) == 0


def test_cli_auto_tag_ai_timeout(fake_home: FakeHome, tmp_path: Path, fake: FakeAnthropic) -> None:
    add_session(fake_home, python_project(tmp_path), "ai-slow")
    config = fake_home.home / "lsm.yaml"
    config.write_text("ai:\n  timeout_seconds: 0.5\n")
    fake.queue(Reply(body=message([]), delay=5), Reply(body=message([]), delay=5))
    r = run(fake_home, "auto-tag", "ai-slow", "--ai", "--apply", LSM_CONFIG=str(config), **ai_env(fake))
    assert r.returncode == 1
    assert r.stderr.strip() == (
        "lsm: error: no reply from the Anthropic API within 0.5 s (timeout); nothing was changed"
    )
    assert feedback_rows(fake_home) == 0


def test_cli_describe_ai(fake_home: FakeHome, tmp_path: Path, fake: FakeAnthropic) -> None:
    sid = add_session(fake_home, secret_project(tmp_path), "ai-desc")
    ok(fake_home, "tag", "ai-desc", "shop")
    fake.queue(
        tool_reply("record_description", {"description": "A FastAPI shop; the session fixed JWT login."})
    )
    r = ok(fake_home, "describe", "ai-desc", "--ai", "-f", "json", **ai_env(fake))
    assert json.loads(r.stdout)["description"] == "A FastAPI shop; the session fixed JWT login."
    assert (
        ok(fake_home, "describe", "ai-desc", "--show").stdout.strip()
        == "A FastAPI shop; the session fixed JWT login."
    )
    sent = json.dumps(fake.requests[0].body)
    assert "Existing tags: shop" in sent and "Shop API" in sent
    assert "Fix the login bug in the JWT auth endpoint" in sent and "ghp_" not in sent
    assert "fastapi" in sent and "pyproject.toml" in sent
    # Found by search like a hand-written description.
    hits = json.loads(ok(fake_home, "search", "jwt", "-f", "json").stdout)
    assert [h["id"] for h in hits] == [sid]


def test_cli_describe_ai_failures_keep_the_old_description(
    fake_home: FakeHome, tmp_path: Path, fake: FakeAnthropic
) -> None:
    add_session(fake_home, python_project(tmp_path), "ai-keep")
    ok(fake_home, "describe", "ai-keep", "by hand")
    r = run(fake_home, "describe", "ai-keep", "--ai")
    assert r.returncode == 1 and r.stderr.strip() == (
        "lsm: error: ANTHROPIC_API_KEY is not set: describe --ai needs it (or give the description yourself)"
    )
    fake.queue(tool_reply("record_description", {"text": "wrong field"}))
    r = run(fake_home, "describe", "ai-keep", "--ai", **ai_env(fake))
    assert r.returncode == 1 and "had no description" in r.stderr
    fake.queue(error_reply(429, "rate_limit_error", "x"), error_reply(429, "rate_limit_error", "x"))
    r = run(fake_home, "describe", "ai-keep", "--ai", **ai_env(fake))
    assert r.returncode == 1 and "(429)" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert ok(fake_home, "describe", "ai-keep", "--show").stdout.strip() == "by hand"
