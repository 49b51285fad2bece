"""Lines for the person at the terminal (cli.common.say) quote text from logs: its control characters are
shown, never sent."""

from __future__ import annotations

import json

from conftest import FakeHome


def test_auto_tag_note_shows_a_hostile_project_path(fake_home: FakeHome) -> None:
    cwd = "/gone/\x1b]52;c;ZXZpbA==\x07/proj"
    folder = fake_home.projects / "-gone-proj"
    folder.mkdir(parents=True)
    common = {"sessionId": "hostile-cwd", "cwd": cwd, "timestamp": "2026-12-01T10:00:00.000Z"}
    user = {
        **common,
        "type": "user",
        "uuid": "u1",
        "message": {"role": "user", "content": "add a login page"},
    }
    (folder / "hostile-cwd.jsonl").write_text(json.dumps(user) + "\n")
    out = fake_home.run("auto-tag", "hostile-cwd")
    assert out.returncode == 0, out.stderr
    assert "is not here" in out.stderr
    assert "\x1b" not in out.stderr and "\x07" not in out.stderr
