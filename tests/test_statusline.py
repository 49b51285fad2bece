"""`lsm statusline`: Claude Code 2.1.197's real payloads in, one safe line out, limits recorded; bad input
never fails the host; install/uninstall leave settings.json as it was."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, FakeHome

from llm_session_manager import paths as paths_mod
from llm_session_manager import statusline
from llm_session_manager.hookspool import data_dir

CAPTURED = REPO.parent / "shared" / "fixtures" / "claude" / "captured-2.1.197" / "statusline-payloads.jsonl"
LOCAL = Path(__file__).parent / "fixtures" / "claude" / "statusline-payloads.jsonl"
CCUSAGE = Path(__file__).parent / "fixtures" / "claude" / "statusline-test.json"
SID = "1e1e1e1e-0000-4000-8000-0000000000cc"


def payloads() -> list[dict[str, Any]]:
    """The captured payloads (a copy lives in tests/fixtures so the suite stands alone)."""
    return [json.loads(line) for line in LOCAL.read_text(encoding="utf-8").splitlines()]


def fresh(payload: dict[str, Any], five: float = 42, seven: float = 17, now: float | None = None) -> bytes:
    """A payload whose rate limits reset in the future (the capture's own times pass within hours)."""
    now = time.time() if now is None else now
    doc = json.loads(json.dumps(payload))
    if "rate_limits" in doc:
        doc["rate_limits"]["five_hour"] = {"used_percentage": five, "resets_at": int(now + 3 * 3600)}
        doc["rate_limits"]["seven_day"] = {"used_percentage": seven, "resets_at": int(now + 4 * 86400)}
    return json.dumps(doc).encode()


def run_statusline(fh: FakeHome, data: bytes, *args: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "llm_session_manager", "statusline", *args],
        input=data,
        env=fh.env(**env),
        capture_output=True,
        timeout=60,
        cwd=str(fh.home),
    )


def lsm_json(fh: FakeHome, *args: str) -> Any:
    r = fh.run(*args, "--format", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_the_local_copy_is_the_capture() -> None:
    if CAPTURED.exists():
        assert LOCAL.read_bytes() == CAPTURED.read_bytes()


def test_captured_payloads_print_one_line_and_record_the_limits(fake_home: FakeHome) -> None:
    lines = []
    for payload in payloads():
        r = run_statusline(fake_home, fresh(payload))
        assert r.returncode == 0 and r.stderr == b"", r.stderr
        assert r.stdout.count(b"\n") == 1
        lines.append(r.stdout.decode().rstrip("\n"))
    assert lines[0] == "Opus 4.8 (1M context) │ $0.00"  # at start: no context, no limits yet
    assert lines[2].startswith("Opus 4.8 (1M context) │ ctx 2% │ $0.09 │ 5h 42% ↺")
    assert "│ 7d 17% ↺" in lines[2] and "\x1b" not in lines[2]
    limits = lsm_json(fake_home, "limits")
    by_window = {item["window"]: item for item in limits}
    assert set(by_window) == {"5h", "7d"}
    assert by_window["5h"]["used_percent"] == 42 and by_window["7d"]["used_percent"] == 17
    assert {item["agent"] for item in limits} == {"claude-code"}
    assert {item["source"] for item in limits} == {"statusline"}
    assert all(item["session_id"] == SID and item["stale"] is False for item in limits)
    assert by_window["5h"]["resets_at"] < by_window["7d"]["resets_at"]
    spool = fake_home.lsm_home / "statusline.jsonl"
    assert not spool.exists()  # moved into the store by `lsm limits`
    table = fake_home.run("limits")
    assert table.returncode == 0 and "42%" in table.stdout and "17%" in table.stdout


def test_colour_unless_no_color(fake_home: FakeHome) -> None:
    data = fresh(payloads()[2])
    coloured = run_statusline(fake_home, data, NO_COLOR="")
    assert b"\x1b[32m42%" in coloured.stdout
    plain = run_statusline(fake_home, data)
    assert b"\x1b" not in plain.stdout


@pytest.mark.parametrize("columns", ["20", "40", "60"])
def test_the_line_fits_columns(fake_home: FakeHome, columns: str) -> None:
    r = run_statusline(fake_home, fresh(payloads()[2]), COLUMNS=columns)
    line = r.stdout.decode().rstrip("\n")
    assert 0 < statusline.width_of(line) <= int(columns), line


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage",
        b"[1, 2]",
        b"null",
        b'{"model": 5, "context_window": "x", "rate_limits": {"five_hour": {"used_percentage": "a"}}}',
        b'{"rate_limits": {"five_hour": {"used_percentage": 1e308, "resets_at": -5}}}',
        b"\xff\xfe\x00bad bytes",
        b'{"a": ' * 100_000,
    ],
)
def test_bad_input_prints_a_short_line_and_exits_0(fake_home: FakeHome, data: bytes) -> None:
    r = run_statusline(fake_home, data)
    assert r.returncode == 0
    assert r.stderr == b"", r.stderr
    assert r.stdout.count(b"\n") == 1 and len(r.stdout) < 200


def test_hostile_text_is_shown_not_run(fake_home: FakeHome) -> None:
    payload = payloads()[2]
    payload["model"]["display_name"] = "Opus\x1b]52;c;aGk=\x07\x1b[2J"
    payload["session_name"] = "evil\x9b31m\u202e"
    payload["workspace"]["current_dir"] = "/tmp/\x1b[31mred"
    fmt = "{model} | {session} | {dir}"
    config = fake_home.home / "config.yaml"
    config.write_text(f'statusline:\n  format: "{fmt}"\n', encoding="utf-8")
    r = run_statusline(fake_home, fresh(payload), NO_COLOR="", LSM_CONFIG=str(config))
    out = r.stdout.decode()
    assert "\x1b]" not in out and "\x07" not in out and "\x9b" not in out and "\u202e" not in out
    assert "␛]52;c;aGk=␇␛[2J" in out and "evil\\x9b31m\\u202e" in out and "␛[31mred" in out


def test_a_format_from_the_config(fake_home: FakeHome) -> None:
    config = fake_home.home / "config.yaml"
    config.write_text('statusline:\n  format: "[{model}] | {cost} | s: {session}"\n', encoding="utf-8")
    r = run_statusline(fake_home, fresh(payloads()[2]), LSM_CONFIG=str(config))
    assert r.stdout.decode() == "[Opus 4.8 (1M context)] │ $0.09 │ s: Stub title\n"
    # The first payload has no session name: that segment is left out.
    r = run_statusline(fake_home, fresh(payloads()[0]), LSM_CONFIG=str(config))
    assert r.stdout.decode() == "[Opus 4.8 (1M context)] │ $0.00\n"


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ("{model.__class__}", "unknown field"),
        ("{nope}", "unknown field"),
        ("{model!r}", "unknown field"),
        ("{model", "not a valid template"),
        ("", "1-500 characters"),
    ],
)
def test_a_bad_format_is_a_config_error(fake_home: FakeHome, fmt: str, message: str) -> None:
    config = fake_home.home / "config.yaml"
    config.write_text(f"statusline:\n  format: {json.dumps(fmt)}\n", encoding="utf-8")
    r = fake_home.run("show-config", LSM_CONFIG=str(config))
    assert r.returncode == 1 and message in r.stderr and "statusline.format" in r.stderr
    # The statusline itself still prints its default line.
    line = run_statusline(fake_home, fresh(payloads()[2]), LSM_CONFIG=str(config)).stdout.decode()
    assert line.startswith("Opus 4.8 (1M context) │ ctx 2%")


def test_the_ccusage_payload_has_no_limits(fake_home: FakeHome) -> None:
    r = run_statusline(fake_home, CCUSAGE.read_bytes())
    # Its total_input_tokens is the session's running sum, not the context (anthropics/claude-code
    # #13783), and it has no used_percentage or current_usage: no context figure is shown.
    assert r.stdout.decode() == "Sonnet 4 │ $0.06\n"


def test_time_to_auto_compact_from_the_context_trend() -> None:
    points = [(0.0, 100_000), (600.0, 120_000)]  # 2,000 tokens a minute
    assert statusline.minutes_to_compact(points, 200_000) == pytest.approx((167_000 - 120_000) / 2_000)
    assert statusline.minutes_to_compact([(0.0, 170_000)], 200_000) == 0.0  # past the point
    assert statusline.minutes_to_compact([(0.0, 120_000), (60.0, 110_000)], 200_000) is None  # shrank
    # After a compaction only the growth since counts.
    grown = [(0.0, 150_000), (60.0, 20_000), (660.0, 30_000)]
    assert statusline.minutes_to_compact(grown, 200_000) == pytest.approx(137_000 / 1_000)


def test_compact_countdown_shows_after_two_samples(fake_home: FakeHome) -> None:
    base = payloads()[2]
    run_statusline(fake_home, fresh(base))
    spool = fake_home.lsm_home / "statusline.jsonl"
    lines = spool.read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    first["t"] -= 600  # ten minutes ago, 10,000 tokens fewer
    first["ctx_tokens"] -= 10_000
    spool.write_text(json.dumps(first) + "\n", encoding="utf-8")
    out = run_statusline(fake_home, fresh(base)).stdout.decode()
    assert "compact ~" in out  # 952k tokens left at 1,000 a minute: ~15h52m
    assert "compact ~15h5" in out


def test_compact_countdown_survives_the_spool_moving_into_the_store(fake_home: FakeHome) -> None:
    """`lsm limits` (or the monitor) empties the spool; the trend is still there for the next refresh."""
    base = payloads()[2]
    spool = fake_home.lsm_home / "statusline.jsonl"
    run_statusline(fake_home, fresh(base))
    first = json.loads(spool.read_text(encoding="utf-8"))
    first["t"] -= 600
    first["ctx_tokens"] -= 10_000
    spool.write_text(json.dumps(first) + "\n", encoding="utf-8")
    assert fake_home.run("limits").returncode == 0
    assert not spool.exists()
    assert "compact ~15h5" in run_statusline(fake_home, fresh(base)).stdout.decode()


def test_config_file_matches_paths(tmp_path: Path) -> None:
    for env in (
        {"HOME": str(tmp_path)},
        {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "x")},
        {"HOME": str(tmp_path), "LSM_CONFIG": "~/c.yaml"},
    ):
        assert Path(statusline.config_file(env)) == paths_mod.resolve(env).config_file
        assert Path(data_dir(env)) == paths_mod.resolve(env).data_dir


def test_a_terminal_gets_usage_not_a_wait(fake_home: FakeHome) -> None:
    """A person typing `lsm statusline` is told what it is for instead of a silent wait on stdin."""
    import pty

    leader, follower = pty.openpty()
    try:
        r = subprocess.run(
            [sys.executable, "-m", "llm_session_manager", "statusline"],
            stdin=follower,
            env=fake_home.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert r.returncode == 2 and "usage: lsm statusline" in r.stderr and r.stdout == ""


def test_fast_path_loads_no_cli(fake_home: FakeHome) -> None:
    code = (
        "import sys, io\n"
        "from llm_session_manager import entry\n"
        "sys.argv = ['lsm', 'statusline']\n"
        f"sys.stdin = io.TextIOWrapper(io.BytesIO({fresh(payloads()[2])!r}))\n"
        "try:\n    entry.main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('typer', 'rich', 'orjson', 'yaml', 'click', 'sqlite3') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], env=fake_home.env(), capture_output=True, text=True)
    assert "HEAVY []" in r.stdout, r.stdout + r.stderr
    assert "5h 42%" in r.stdout


# ---------------------------------------------------------------------------------------------------
# install / uninstall


USER_SETTINGS = (
    '{\n    "model": "opus",\n    "env": {"A": "ü"},\n'
    '    "statusLine": {"type": "command", "command": "printf \'mine\\\\n\'", "padding": 1}\n}'
)


def settings(fh: FakeHome) -> Path:
    return fh.claude / "settings.json"


def test_install_leaves_a_user_statusline_alone_without_force(fake_home: FakeHome) -> None:
    path = settings(fake_home)
    path.write_text(USER_SETTINGS, encoding="utf-8")
    before = path.read_bytes()
    r = fake_home.run("statusline", "install")
    assert r.returncode == 0 and "left alone" in r.stdout
    assert path.read_bytes() == before
    assert sorted(p.name for p in fake_home.claude.iterdir()) == ["projects", "settings.json"]


def test_install_force_keeps_the_user_command_and_uninstall_restores_bytes(fake_home: FakeHome) -> None:
    path = settings(fake_home)
    path.write_text(USER_SETTINGS, encoding="utf-8")
    before = path.read_bytes()
    r = fake_home.run("statusline", "install", "--force")
    assert r.returncode == 0 and "installed" in r.stdout, r.stderr
    doc = json.loads(path.read_text(encoding="utf-8"))
    entry = doc["statusLine"]
    assert entry["padding"] == 1 and doc["model"] == "opus" and doc["env"] == {"A": "ü"}
    assert " statusline --then " in entry["command"]
    # Run what Claude Code would run: our line, then the user's.
    out = subprocess.run(
        entry["command"], shell=True, input=fresh(payloads()[2]), env=fake_home.env(), capture_output=True
    )
    assert out.returncode == 0
    line = out.stdout.decode()
    assert line.startswith("Opus 4.8 (1M context) │ ctx 2%") and line.endswith(
        "│ 7d 17% ↺" + line.split("↺")[-1]
    )
    assert line.endswith(" │ mine\n") and line.count("\n") == 1
    again = fake_home.run("statusline", "install", "--force")
    assert "already installed" in again.stdout
    r = fake_home.run("statusline", "uninstall")
    assert r.returncode == 0 and "restored" in r.stdout, r.stdout
    assert path.read_bytes() == before


def test_uninstall_after_a_later_edit_puts_the_user_command_back(fake_home: FakeHome) -> None:
    path = settings(fake_home)
    path.write_text(USER_SETTINGS, encoding="utf-8")
    fake_home.run("statusline", "install", "--force")
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["theme"] = "dark"  # the user changes something while we are installed
    path.write_text(json.dumps(doc, indent=4), encoding="utf-8")
    r = fake_home.run("statusline", "uninstall")
    assert r.returncode == 0
    after = json.loads(path.read_text(encoding="utf-8"))
    assert after["statusLine"] == {"type": "command", "command": "printf 'mine\\n'", "padding": 1}
    assert after["theme"] == "dark"


def test_install_into_no_settings_and_back(fake_home: FakeHome) -> None:
    path = settings(fake_home)
    r = fake_home.run("statusline", "install")
    assert r.returncode == 0, r.stderr
    entry = json.loads(path.read_text(encoding="utf-8"))["statusLine"]
    assert entry["type"] == "command" and entry["command"].endswith(" statusline")
    assert fake_home.run("statusline", "uninstall").returncode == 0
    assert not path.exists()


def test_install_with_other_settings_round_trips(fake_home: FakeHome) -> None:
    path = settings(fake_home)
    path.write_text('{\n\t"hooks": {},\n\t"model": "sonnet"\n}\n', encoding="utf-8")
    before = path.read_bytes()
    assert fake_home.run("statusline", "install").returncode == 0
    assert '\t"statusLine": {' in path.read_text(encoding="utf-8")  # the file's own indentation
    assert fake_home.run("statusline", "uninstall").returncode == 0
    assert path.read_bytes() == before


def test_install_refuses_invalid_json(fake_home: FakeHome) -> None:
    path = settings(fake_home)
    path.write_text('{"model": "opus", // mine\n}', encoding="utf-8")
    before = path.read_bytes()
    r = fake_home.run("statusline", "install")
    assert r.returncode == 1 and "left untouched" in r.stderr
    assert path.read_bytes() == before


def test_bench_script_runs() -> None:
    r = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_statusline.py"), "--runs", "3"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "lsm statusline (console script)" in r.stdout and "p50" in r.stdout


def test_figures_out_of_range_and_long_text_are_left_out(fake_home: FakeHome) -> None:
    payload = payloads()[2]
    payload["cost"]["total_cost_usd"] = -5
    payload["context_window"]["current_usage"] = {"input_tokens": -(10**9)}
    payload["context_window"]["used_percentage"] = float("inf")
    payload["session_id"] = "s" * 100_000
    r = run_statusline(fake_home, fresh(payload))
    assert r.stdout.decode() == "Opus 4.8 (1M context) │ 5h 42% ↺" + r.stdout.decode().split("↺", 1)[1]
    line = (fake_home.lsm_home / "statusline.jsonl").read_bytes()
    assert len(line) < 600 and b'"cost":null' in line and b'"ctx_tokens":null' in line


def test_concurrent_refreshes_lose_no_sample(fake_home: FakeHome) -> None:
    """Eight sessions refreshing at once: one whole spool line each."""
    base = payloads()[2]
    procs = []
    for i in range(8):
        payload = json.loads(fresh(base))
        payload["session_id"] = f"session-{i}"
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "llm_session_manager", "statusline"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=fake_home.env(),
            )
        )
        assert procs[-1].stdin is not None
        procs[-1].stdin.write(json.dumps(payload).encode())
    for proc in procs:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0 and out.count(b"\n") == 1
    lines = (fake_home.lsm_home / "statusline.jsonl").read_text(encoding="utf-8").splitlines()
    assert sorted(json.loads(line)["sid"] for line in lines) == [f"session-{i}" for i in range(8)]


def test_unknown_arguments_get_the_usage_line(fake_home: FakeHome) -> None:
    r = run_statusline(fake_home, fresh(payloads()[2]), "--bogus")
    assert r.returncode == 2 and b"usage: lsm statusline" in r.stderr and r.stdout == b""


def _recent_transcript(fh: FakeHome, sid: str) -> None:
    """A Claude Code session of one exchange, a minute old."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 60))
    folder = fh.projects / "-home-dev-src-app"
    folder.mkdir(parents=True, exist_ok=True)
    common = {"sessionId": sid, "cwd": "/home/dev/src/app", "timestamp": stamp, "version": "2.1.197"}
    user = {**common, "type": "user", "uuid": "u1", "message": {"role": "user", "content": "hello"}}
    usage = {
        "input_tokens": 1200,
        "output_tokens": 80,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }
    reply = {
        **common,
        "type": "assistant",
        "uuid": "a1",
        "parentUuid": "u1",
        "requestId": "req_1",
        "message": {
            "id": "msg_1",
            "role": "assistant",
            "model": "claude-opus-4-8",
            "content": [{"type": "text", "text": "hi"}],
            "usage": usage,
        },
    }
    (folder / f"{sid}.jsonl").write_text(json.dumps(user) + "\n" + json.dumps(reply) + "\n")


def test_health_from_the_last_full_computation_while_it_is_recent(fake_home: FakeHome) -> None:
    from llm_session_manager import healthboard

    payload = payloads()[0]
    sid = payload["session_id"]
    _recent_transcript(fake_home, sid)
    data = fresh(payload)
    before = run_statusline(fake_home, data, NO_COLOR="1")
    assert b"health" not in before.stdout  # nothing computed yet: the part is left out
    view = next(s for s in lsm_json(fake_home, "list") if s["native_id"] == sid)
    shown = run_statusline(fake_home, data, NO_COLOR="1").stdout.decode()
    assert f"health {round(view['health']['score'])}" in shown
    board = Path(data_dir(fake_home.env())) / healthboard.FILE_NAME
    doc = json.loads(board.read_text())
    doc["t"] -= healthboard.MAX_AGE_SECONDS + 1  # ten minutes later, nothing has recomputed it
    board.write_text(json.dumps(doc))
    assert b"health" not in run_statusline(fake_home, data, NO_COLOR="1").stdout
