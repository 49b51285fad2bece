"""`lsm serve` without a browser: every /api document equals the CLI's JSON for the same fake HOME, the
guard (Host, Origin, token, CSRF), the pages' escaping of hostile text, /metrics, the static files, and
the refusal to bind a non-loopback address without a token."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeHome
from starlette.testclient import TestClient

from llm_session_manager.api.context import Context
from llm_session_manager.web.app import build_app
from llm_session_manager.web.security import COOKIE

PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"
GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
HOSTILE = f"<script>alert(1)</script> [bold red]boom[/] \x1b]52;c;ZXZpbA==\x07 \x1b[2J key {GITHUB}"
TOKEN = "t0ken-" + "x" * 40


def hostile_session(fake: FakeHome, sid: str = "web-hostile") -> None:
    """A Claude Code transcript whose first prompt (its title) is hostile."""
    folder = fake.projects / "-work-hostile"
    folder.mkdir(parents=True, exist_ok=True)
    base = {"isSidechain": False, "sessionId": sid, "cwd": "/work/hostile"}
    lines = [
        {**base, "type": "user", "timestamp": "2026-12-01T09:59:00.000Z", "uuid": "u1",
         "message": {"role": "user", "content": HOSTILE}},
        {**base, "type": "assistant", "timestamp": "2026-12-01T10:00:00.000Z", "uuid": "a1",
         "requestId": "r1",
         "message": {"id": "m1", "model": "claude-sonnet-4-5-20250929", "role": "assistant",
                     "content": [{"type": "text", "text": "ok"}],
                     "usage": {"input_tokens": 10, "output_tokens": 20, "cache_creation_input_tokens": 0,
                               "cache_read_input_tokens": 0}}},
    ]  # fmt: skip
    (folder / f"{sid}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")


@pytest.fixture
def home(fake_home: FakeHome, monkeypatch: pytest.MonkeyPatch) -> FakeHome:
    """The fixture sessions plus a hostile one; this process sees the same world as `lsm` runs."""
    for key, value in fake_home.env().items():
        if key in ("LSM_DISCOVERY", "LSM_DISCOVERY_UNDER", "NO_COLOR"):
            monkeypatch.setenv(key, value)
    hostile_session(fake_home)
    return fake_home


def client(token: str | None = None, **kwargs: Any) -> TestClient:
    # The sessions page waits for the first scan here (a real server waits 0.5 s, then shows progress).
    app = build_app(Context.from_environment(), token, host="127.0.0.1", port=PORT, first_paint=60)
    return TestClient(app, base_url=BASE, **kwargs)


@pytest.fixture
def web(home: FakeHome) -> Iterator[TestClient]:
    with client() as c:
        yield c


def cli_json(home: FakeHome, *args: str) -> Any:
    result = home.run(*args, "--format", "json")
    assert result.returncode in (0, 10, 11), result.stderr
    return json.loads(result.stdout)


def without_clock(doc: Any) -> Any:
    """A document without the figures that move with the wall clock between two reads."""
    if isinstance(doc, dict):
        return {k: without_clock(v) for k, v in doc.items() if k not in ("resets_in_seconds",)}
    if isinstance(doc, list):
        return [without_clock(v) for v in doc]
    return doc


# ---------------------------------------------------------------------------------------------------
# /api == the CLI's JSON


@pytest.mark.parametrize(
    ("path", "args"),
    [
        ("/api/sessions", ("list", "--all")),
        ("/api/sessions/ses_stage0", ("list", "--all")),  # compared with the one entry below
        ("/api/sessions/claude-code:representative/health", ("health", "representative")),
        ("/api/sessions/web-hostile/health", ("health", "web-hostile")),
        ("/api/recommend", ("recommend",)),
        ("/api/recommend?agent=claude&project=tmp", ("recommend", "--agent", "claude", "--project", "tmp")),
        (
            "/api/report/daily?by=agent&since=2025-01-01&until=2026-01-31&timezone=Europe/Paris&last=3",
            (
                "report",
                "daily",
                "--by",
                "agent",
                "--since",
                "2025-01-01",
                "--until",
                "2026-01-31",
                "--timezone",
                "Europe/Paris",
                "--last",
                "3",
            ),
        ),
        ("/api/report/weekly?start_of_week=sunday", ("report", "weekly", "--start-of-week", "sunday")),
        ("/api/report/daily", ("report", "daily")),
        ("/api/report/monthly?by=agent&by=model", ("report", "monthly", "--by", "agent", "--by", "model")),
        ("/api/report/session", ("report", "session")),
        ("/api/limits", ("limits",)),
        ("/api/budget", ("budget",)),
    ],
)
def test_api_documents_equal_the_cli_json(
    web: TestClient, home: FakeHome, path: str, args: tuple[str, ...]
) -> None:
    answer = web.get(path)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    expected = cli_json(home, *args)
    if path == "/api/sessions/ses_stage0":
        expected = next(d for d in expected if d["native_id"] == "ses_stage0_small")
    assert without_clock(answer.json()) == without_clock(expected)


def test_api_sessions_lists_every_fixture_session(web: TestClient) -> None:
    ids = {d["native_id"] for d in web.get("/api/sessions").json()}
    assert {"ses_stage0_small", "session-alpha", "representative", "web-hostile"} <= ids


def test_api_errors_are_json_with_the_status_they_mean(web: TestClient) -> None:
    missing = web.get("/api/sessions/no-such-session")
    assert missing.status_code == 404 and "no session matches" in missing.json()["error"]
    assert web.get("/api/report/yearly").status_code == 404
    bad = web.get("/api/report/daily?last=many")
    assert bad.status_code == 400 and "whole number" in bad.json()["error"]
    assert web.get("/api/report/daily?since=notadate").status_code == 400
    assert web.get("/api/report/daily?by=colour").status_code == 400
    assert web.get("/api/recommend?agent=nope").status_code == 400
    assert web.get("/api/recommend?agent=claude").status_code == 200


# ---------------------------------------------------------------------------------------------------
# Pages


def test_sessions_page_lists_sessions_with_the_list_columns(web: TestClient) -> None:
    page = web.get("/")
    assert page.status_code == 200
    columns = ("ID", "Agent", "Project", "Title", "Model", "Status", "Context", "Tokens", "Cost", "Health")
    for column in columns:
        assert f">{column}</button>" in page.text
    assert 'data-id="claude-code:session-alpha"' in page.text
    assert 'href="/sessions/claude-code:ses_stage0_small"' in page.text


def test_every_page_renders(web: TestClient) -> None:
    for path in ("/", "/sessions/ses_stage0", "/reports", "/reports?kind=monthly&by=model&last=3", "/limits"):
        page = web.get(path)
        assert page.status_code == 200, (path, page.text[:300])
        assert page.text.startswith("<!doctype html>")
    chart = web.get("/reports?kind=daily&by=agent&last=400").text
    assert '<svg class="chart"' in chart and "<rect" in chart


def test_session_page_shows_health_factors_advice_and_exports(web: TestClient) -> None:
    page = web.get("/sessions/representative").text
    assert "<h2>Health</h2>" in page and "Factor</th>" in page
    for fmt in ("json", "yaml", "markdown"):
        assert f'/sessions/claude-code:representative/export/{fmt}"' in page
    exported = web.get("/sessions/representative/export/json")
    assert exported.status_code == 200
    assert json.loads(exported.text)["session"]["id"] == "claude-code:representative"
    assert 'filename="lsm-representative.json"' in exported.headers["content-disposition"]
    assert web.get("/sessions/representative/export/exe").status_code == 404


def test_hostile_title_is_inert_text_and_redacted(web: TestClient) -> None:
    for path in ("/", "/sessions/web-hostile"):
        page = web.get(path).text
        assert "<script>alert" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "[bold red]boom[/]" in page  # Rich markup is just text in a page
        assert "\x1b" not in page and "\x07" not in page
        assert GITHUB not in page and GITHUB[:16] not in page
        assert "[REDACTED" in page  # the title is cut after the marker's start
    # The page's only scripts are ours.
    assert re.findall(r"<script[^>]*>", web.get("/").text) == ['<script src="/static/app.js" defer>']


def test_security_headers_on_every_answer(web: TestClient) -> None:
    for path in ("/", "/api/sessions", "/static/app.css", "/nope"):
        headers = web.get(path).headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert headers["x-content-type-options"] == "nosniff"


def test_static_files_by_name_only(web: TestClient) -> None:
    assert web.get("/static/app.js").status_code == 200
    assert web.get("/static/app.css").headers["content-type"].startswith("text/css")
    for path in ("/static/app.py", "/static/..%2Fapp.py", "/static/../app.py", "/static/%2e%2e/pages.py"):
        assert web.get(path).status_code == 404, path


# ---------------------------------------------------------------------------------------------------
# The guard


def test_host_header_must_be_ours(web: TestClient) -> None:
    for host in (f"localhost:{PORT}", f"127.0.0.1:{PORT}", f"[::1]:{PORT}"):
        assert web.get("/api/limits", headers={"host": host}).status_code == 200, host
    for host in (f"evil.example:{PORT}", "127.0.0.1:9999", f"127.0.0.1.nip.io:{PORT}", ""):
        assert web.get("/api/limits", headers={"host": host}).status_code == 421, host


def test_another_origin_is_refused(web: TestClient) -> None:
    assert web.get("/api/sessions", headers={"origin": "http://evil.example"}).status_code == 403
    assert web.get("/api/limits", headers={"origin": BASE}).status_code == 200


def test_writes_need_post_and_the_csrf_token(web: TestClient, home: FakeHome) -> None:
    page = web.get("/sessions/ses_stage0").text
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert csrf is not None
    url = "/sessions/claude-code:ses_stage0_small/tags"
    assert web.post(url, data={"add": "nope"}).status_code == 403
    assert web.post(url, data={"add": "nope", "csrf": "0" * 64}).status_code == 403
    assert web.get(url).status_code == 404  # a GET never writes: it names no page
    cross = web.post(url, data={"add": "nope", "csrf": csrf[1]}, headers={"origin": "http://evil.example"})
    assert cross.status_code == 403
    done = web.post(url, data={"add": "web-tag, second", "csrf": csrf[1]}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/sessions/claude-code:ses_stage0_small"
    described = web.post(
        "/sessions/ses_stage0/describe", data={"description": "from the web", "csrf": csrf[1]}
    )
    assert described.status_code == 200
    listed = {d["native_id"]: d for d in cli_json(home, "list", "--all")}
    assert listed["ses_stage0_small"]["tags"] == ["second", "web-tag"]
    assert listed["ses_stage0_small"]["description"] == "from the web"
    removed = web.post(url, data={"remove": "second", "csrf": csrf[1]})
    assert removed.status_code == 200 and "web-tag" in removed.text
    listed = {d["native_id"]: d for d in cli_json(home, "list", "--all")}
    assert listed["ses_stage0_small"]["tags"] == ["web-tag"]


def test_token_bearer_or_login_cookie(home: FakeHome) -> None:
    with client(TOKEN) as web:
        assert web.get("/api/sessions").status_code == 401
        assert web.get("/api/sessions", headers={"authorization": "Bearer wrong"}).status_code == 401
        assert web.get("/api/sessions", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200
        page = web.get("/", headers={"accept": "text/html"}, follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/login"
        assert web.get("/static/app.css").status_code == 200  # the login form's look
        for sneaky in ("/login/../api/sessions", "/static/../api/sessions", "/static/x/../../api/budget"):
            assert web.get(sneaky).status_code in (401, 404), sneaky  # httpx drops the dots itself
        from llm_session_manager.web.security import is_open

        assert is_open("/login") and is_open("/static/app.css")
        raws = ("/login/../api/sessions", "/loginx", "/static/../api", "/static/", "/static/a/b", "/static/.")
        for raw in raws:
            assert not is_open(raw), raw  # as uvicorn passes a path: dot segments kept
        login = web.get("/login").text
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', login)
        assert csrf is not None
        wrong = web.post("/login", data={"token": "nope", "csrf": csrf[1]}, follow_redirects=False)
        assert wrong.status_code == 401 and COOKIE not in wrong.headers.get("set-cookie", "")
        right = web.post("/login", data={"token": TOKEN, "csrf": csrf[1]}, follow_redirects=False)
        assert right.status_code == 303
        cookie = right.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
        assert web.get("/api/sessions").status_code == 200  # the client keeps the cookie
        assert web.get("/metrics").status_code in (200, 404)  # past the guard: served, or no module yet
    with client(TOKEN) as fresh:
        assert fresh.get("/metrics").status_code == 401


def test_metrics_served_from_the_metrics_module_when_there_is_one(
    web: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert web.get("/metrics").status_code in (200, 404)  # the real module, when it has landed
    fake = types.ModuleType("llm_session_manager.metrics")
    seen: list[Context] = []

    def exposition(ctx: Context) -> tuple[bytes, str]:
        seen.append(ctx)
        return b"lsm_sessions 4\n", "text/plain; version=0.0.4; charset=utf-8"

    fake.exposition = exposition  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "llm_session_manager.metrics", fake)
    answer = web.get("/metrics")
    assert answer.status_code == 200 and answer.text == "lsm_sessions 4\n"
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert len(seen) == 1


def test_metrics_404_without_the_module(web: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llm_session_manager.metrics", None)  # import fails: not there
    answer = web.get("/metrics")
    assert answer.status_code == 404


# ---------------------------------------------------------------------------------------------------
# `lsm serve`


def serve(home: FakeHome, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llm_session_manager", "serve", *args],
        env=home.env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(home.home),
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "example.org"])
def test_non_loopback_bind_needs_a_token(home: FakeHome, host: str) -> None:
    result = serve(home, "--host", host, "--port", "0")
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "not a loopback address" in lines[0] and "--token" in lines[0]
    assert result.stdout == ""


def test_empty_token_is_a_usage_error(home: FakeHome) -> None:
    result = serve(home, "--host", "0.0.0.0", "--token", " ")
    assert result.returncode == 2 and result.stderr.count("\n") == 1


def test_busy_port_is_one_line(home: FakeHome) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        result = serve(home, "--port", str(busy.getsockname()[1]))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "cannot listen" in result.stderr


def test_serve_is_documented_in_the_cli_guide() -> None:
    guide = (Path(__file__).resolve().parent.parent / "docs" / "CLI_GUIDE.md").read_text()
    assert "lsm serve" in guide


def growing_session(fake: FakeHome, sid: str = "web-growing") -> None:
    """Three replies in the last minutes, each with a fuller context (40k, 80k, 120k of 200k)."""
    from datetime import datetime, timedelta, timezone

    folder = fake.projects / "-work-growing"
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(timezone.utc)
    lines = []
    for n, minutes in enumerate((9, 5, 1)):
        stamp = (now - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        usage = {
            "input_tokens": 10,
            "output_tokens": 100 * (n + 1),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 40_000 * (n + 1) - 10,
        }
        lines.append({"type": "assistant", "isSidechain": False, "sessionId": sid, "cwd": "/work/growing",
                      "timestamp": stamp, "uuid": f"g-a{n}", "requestId": f"g-r{n}",
                      "message": {"id": f"g-m{n}", "model": "claude-sonnet-4-5-20250929", "role": "assistant",
                                  "content": [{"type": "text", "text": "ok"}], "usage": usage}})  # fmt: skip
    (folder / f"{sid}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")


def test_session_page_charts_from_the_agents_records(web: TestClient, home: FakeHome) -> None:
    """Context fill over time (a line from 20 % to 60 %) and tokens per minute (three bars)."""
    growing_session(home)
    page = web.get("/sessions/web-growing").text
    assert "<h2>Context fill</h2><svg" in page and "<polyline points=" in page
    assert 'aria-label="Context fill from 20% to 60% of the window"' in page
    assert "<h2>Tokens per minute</h2><svg" in page
    assert [f"{n:,} tokens</title>" in page for n in (40_100, 80_200, 120_300)] == [True] * 3
    old = web.get("/sessions/88a8d761").text  # a year old: lsm keeps no context series for it
    assert "No context series" in old and "<h2>Tokens per minute</h2><svg" in old


def test_times_are_local_with_a_countdown_or_an_age() -> None:
    from datetime import datetime, timezone

    from llm_session_manager.web.pages import when

    now = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)
    assert when("2026-12-04T14:05:00Z", now).endswith("(in 2h 05m)")
    assert when("2026-12-04T11:57:00+00:00", now).endswith("(3m ago)")
    assert when(None, now) == "-" and when("not a time", now) == "not a time"


def test_first_scan_still_reading_shows_progress_not_rows() -> None:
    from datetime import datetime, timezone

    from llm_session_manager.web.pages import sessions_page

    page = sessions_page(None, datetime.now(timezone.utc))
    assert "Reading the agents&#x27; logs for the first time" in page or "Reading the agents' logs" in page
    assert "<tbody></tbody>" in page and '<span id="count">0</span>' in page


def test_many_sessions_draw_one_page_of_rows(web: TestClient, home: FakeHome) -> None:
    from datetime import datetime, timezone

    from llm_session_manager.web.pages import Cell, Row, sessions_page

    rows = [
        Row(
            f"claude-code:s{n}",
            f"/sessions/claude-code:s{n}",
            "claude-code",
            "ended",
            "p",
            (Cell("id", f"s{n}", f"s{n}"),),
        )
        for n in range(5000)
    ]
    page = sessions_page(rows, datetime.now(timezone.utc))
    assert page.count("<tr data-id=") == 200
    assert '<span id="count">5000</span>' in page and 'id="more" data-page="200"' in page
    assert '<span id="shown">200</span>' in page


def test_stream_sends_every_row_first_then_what_changed() -> None:
    import orjson

    from llm_session_manager.web.live import _diff
    from llm_session_manager.web.pages import Cell, Row

    def row(sid: str, tokens: str) -> Row:
        return Row(sid, f"/sessions/{sid}", "claude-code", "active", "p", (Cell("tokens", tokens, 1.0),))

    first = [row("a", "1"), row("b", "2")]
    known = {r.id: orjson.dumps(r.as_json()) for r in first}
    snapshot = _diff({}, known, first)
    assert snapshot.startswith(b"event: rows\ndata: [") and snapshot.count(b'"id"') == 2
    later = [row("a", "1"), row("c", "3"), row("b", "5")]
    after = {r.id: orjson.dumps(r.as_json()) for r in later}
    update = _diff(known, after, later).decode()
    assert update.count("event: row\n") == 2 and '"id":"b"' in update and '"id":"c"' in update
    assert '"id":"a"' not in update
    gone = _diff(after, {"a": after["a"]}, [later[0]]).decode()
    assert gone.count("event: gone\n") == 2 and _diff(known, known, first) == b""


def test_memory_search_page_and_api_equal_the_cli(web: TestClient, home: FakeHome) -> None:
    assert web.get("/memory").status_code == 200
    added = home.run("memory-add", "88a8", "The <b>flaky</b> upload test needed a longer timeout")
    assert added.returncode == 0, added.stderr
    answer = web.get("/api/memory/search?q=flaky%20upload%20test")
    assert answer.status_code == 200
    expected = cli_json(home, "memory-search", "flaky upload test")
    assert answer.json() == expected and len(expected) == 1
    page = web.get("/memory?q=flaky+upload+test").text
    assert "The &lt;b&gt;flaky&lt;/b&gt; upload test" in page and "<b>flaky" not in page
    assert 'href="/sessions/claude-code:88a8d761-7b9a-4bf1-a8ca-c1febe6bf358"' in page
    assert "No memory matches" in web.get("/memory?q=nothing+like+it&project=nope").text
    assert web.get("/api/memory/search?q=").status_code == 400


def started(home: FakeHome, *args: str, **env: str) -> tuple[subprocess.Popen[str], str]:
    """`lsm serve --port 0 ARGS` in the fake HOME, once it has printed its address."""
    import select
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "llm_session_manager", "serve", "--port", "0", *args],
        env=home.env(**env),
        cwd=str(home.home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and select.select([proc.stderr], [], [], 1.0)[0] is not None:
        line = proc.stderr.readline()
        if "dashboard at " in line:
            return proc, line.split("dashboard at ", 1)[1].split()[0].rstrip(";")
        if not line:
            break
    proc.kill()
    raise AssertionError(proc.communicate()[1])


@pytest.mark.parametrize(("signal_name", "status"), [("SIGINT", 0), ("SIGTERM", -15)])
def test_stops_at_once_with_a_live_stream_open(home: FakeHome, signal_name: str, status: int) -> None:
    """A browser's open event stream does not hold the server up, and stopping prints nothing."""
    import signal
    import socket
    import time
    from urllib.parse import urlsplit

    proc, url = started(home)
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=30) as conn:
            conn.sendall(f"GET /events HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
            received = b""
            while b": connected" not in received:
                chunk = conn.recv(65536)
                assert chunk, received
                received += chunk
            began = time.monotonic()
            proc.send_signal(getattr(signal, signal_name))
            _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:  # a failed check must not leave a server behind
            proc.kill()
            proc.communicate()
    assert time.monotonic() - began < 1.5
    assert proc.returncode == status
    assert err == "", err


def test_open_starts_the_browser_on_the_address(home: FakeHome, tmp_path: Path) -> None:
    import time

    seen = tmp_path / "opened"
    opener = tmp_path / "opener"
    opener.write_text(f'#!/bin/sh\nprintf %s "$1" > {seen}\n')
    opener.chmod(0o755)
    proc, url = started(home, "--open", BROWSER=str(opener))
    try:
        deadline = time.monotonic() + 30
        while not (seen.exists() and seen.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert seen.read_text() == url
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_token_from_the_config_allows_a_wider_bind(home: FakeHome, tmp_path: Path) -> None:
    """web.token in the config is the token: `--host 0.0.0.0` starts, and asks every request for it."""
    import urllib.error
    import urllib.request

    config = tmp_path / "lsm-config.yaml"
    config.write_text(f"web:\n  token: {TOKEN}\n", encoding="utf-8")
    proc, url = started(home, "--host", "0.0.0.0", LSM_CONFIG=str(config))
    try:
        assert url.startswith("http://127.0.0.1:")  # what a browser on this machine opens
        local = url + "api/limits"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(local, timeout=30)
        assert refused.value.code == 401
        request = urllib.request.Request(local, headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200 and json.loads(answer.read()) == []
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def reply(sid: str, n: int, model: str, output: int, stamp: str) -> dict[str, Any]:
    """One assistant reply of 100 input tokens and ``output`` output tokens."""
    usage = {"input_tokens": 100, "output_tokens": output}
    usage.update(cache_creation_input_tokens=0, cache_read_input_tokens=0)
    message = {"id": f"{sid}-m{n}", "model": model, "role": "assistant", "usage": usage}
    message["content"] = [{"type": "text", "text": "ok"}]
    base = {"type": "assistant", "isSidechain": False, "sessionId": sid, "cwd": f"/work/{sid}"}
    return {**base, "timestamp": stamp, "uuid": f"{sid}-a{n}", "requestId": f"{sid}-r{n}", "message": message}


def test_session_page_splits_tokens_and_cost_by_model(web: TestClient, home: FakeHome) -> None:
    folder = home.projects / "-work-two-models"
    folder.mkdir(parents=True)
    lines = [
        reply("two-models", 0, "claude-sonnet-4-5-20250929", 1000, "2026-12-01T10:00:00.000Z"),
        reply("two-models", 1, "claude-haiku-4-5-20251001", 300, "2026-12-01T10:01:00.000Z"),
    ]
    (folder / "two-models.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    page = web.get("/sessions/two-models").text
    table = page.split("<h2>Per model</h2>", 1)[1].split("</table>", 1)[0]
    assert table.index("claude-sonnet-4-5") < table.index("claude-haiku-4-5")  # most tokens first
    assert "<td class=num>1,100</td>" in table and "<td class=num>400</td>" in table
    doc = web.get("/api/sessions/two-models").json()
    assert "<td class=num>$0.02</td>" in table and "<td class=num>$0.0016</td>" in table
    from llm_session_manager.api.web_views import models_document

    ctx = Context.from_environment()
    models = models_document(ctx, ctx.one("two-models"))
    assert doc["cost_source"] == "table"
    assert sum(m["cost_usd"] for m in models) == pytest.approx(doc["cost_usd"])  # the parts make the whole
    assert "<h2>Per model</h2>" not in web.get("/sessions/web-hostile").text  # one model: no table
