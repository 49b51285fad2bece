"""`lsm search` names each hit by a prefix unique among every session, not only among the hits, so the id
it prints can be pasted into any command."""

from __future__ import annotations

import json

from conftest import FakeHome


def _session(fh: FakeHome, sid: str, prompt: str) -> None:
    folder = fh.projects / "-work-app"
    folder.mkdir(parents=True, exist_ok=True)
    line = {
        "type": "user",
        "sessionId": sid,
        "uuid": f"u-{sid}",
        "cwd": "/work/app",
        "timestamp": "2026-12-01T10:00:00.000Z",
        "message": {"role": "user", "content": prompt},
    }
    (folder / f"{sid}.jsonl").write_text(json.dumps(line) + "\n")


def test_a_hit_id_is_unique_among_sessions_that_did_not_match(fake_home: FakeHome) -> None:
    _session(fake_home, "abcdef0123-aaaa", "rewrite the billing export")
    _session(fake_home, "abcdef0199-bbbb", "fix the login page")
    fake_home.run("describe", "abcdef0123", "billing export rewrite")
    out = fake_home.run("search", "billing")
    assert out.returncode == 0, out.stderr
    shown = next(w for w in out.stdout.split() if w.startswith("claude-code:abcdef"))
    assert shown == "claude-code:abcdef012"  # 8 characters would also name abcdef0199-bbbb
    health = fake_home.run("health", shown.partition(":")[2], "--format", "json")
    assert health.returncode == 0 and json.loads(health.stdout)["id"] == "claude-code:abcdef0123-aaaa"
