"""`lsm mcp-server --transport http`: a bearer token on every request, and Host/Origin checks against DNS
rebinding on every bind address. A real server process on loopback, real HTTP clients (httpx and the
MCP SDK's streamable-HTTP client), and `lsm mcp-config --transport http` writing the token into clients'
files."""

from __future__ import annotations

import json
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from conftest import FakeHome

from llm_session_manager.mcp.transport import HostRule, is_loopback, token_matches

SIDE = "claude-code:88a8d761-7b9a-4bf1-a8ca-c1febe6bf358"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
LSM = (sys.executable, "-m", "llm_session_manager")
ACCEPT = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


def free_port(host: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def token_path(fake: FakeHome) -> Path:
    return fake.home / ".config" / "llm-session-manager" / "mcp-http-token"


@dataclass
class Server:
    proc: subprocess.Popen[str]
    host: str
    port: int
    token: str

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/mcp"

    def stop(self) -> tuple[int, str]:
        """Ctrl-C, as in a terminal: the server ends cleanly."""
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, err


def start(fake: FakeHome, host: str = "127.0.0.1", *extra: str) -> Server:
    port = free_port(host)
    proc = subprocess.Popen(
        [*LSM, "mcp-server", "--transport", "http", "--host", host, "--port", str(port), *extra],
        env=fake.env(),
        cwd=str(fake.home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"the HTTP server did not start: {proc.communicate()[1]}") from None
            time.sleep(0.1)
    return Server(proc, host, port, token_path(fake).read_text().strip())


@pytest.fixture
def server(fake_home: FakeHome) -> Iterator[Server]:
    srv = start(fake_home)
    try:
        yield srv
    finally:
        if srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.communicate()


def post(srv: Server, headers: dict[str, str] | None = None, path: str = "/mcp") -> httpx.Response:
    url = srv.url.replace("/mcp", path)
    return httpx.post(url, json=INIT, headers={**ACCEPT, **(headers or {})}, timeout=30)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


# ---------------------------------------------------------------------------------------------------
# The token


def test_the_token_is_required_on_every_request(server: Server) -> None:
    assert post(server).status_code == 401
    assert post(server).headers["www-authenticate"].startswith("Bearer")
    assert post(server, bearer("x" * 43)).status_code == 401
    assert post(server, bearer(server.token[:-1])).status_code == 401
    assert post(server, {"authorization": server.token}).status_code == 401  # no scheme
    assert post(server, {"authorization": f"Basic {server.token}"}).status_code == 401
    assert post(server, path="/anything-else").status_code == 401  # the guard covers every path
    ok = post(server, bearer(server.token))
    assert ok.status_code == 200, ok.text
    assert "llm-session-manager" in ok.text
    code, err = server.stop()
    assert code in (0, 130) and "Traceback" not in err


def test_a_header_sent_twice_is_refused(server: Server) -> None:
    headers = [*ACCEPT.items(), ("authorization", f"Bearer {server.token}"), ("authorization", "Bearer x")]
    r = httpx.post(server.url, json=INIT, headers=headers, timeout=30)
    assert r.status_code == 401


def test_token_file_is_private_and_shown_once(fake_home: FakeHome) -> None:
    first = start(fake_home)
    _, err = first.stop()
    file = token_path(fake_home)
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert stat.S_IMODE(file.parent.stat().st_mode) == 0o700
    assert len(first.token) >= 43 and err.count(first.token) == 1 and "made the MCP HTTP token" in err
    second = start(fake_home)
    _, err2 = second.stop()
    assert second.token == first.token and first.token not in err2 and str(file) in err2


def test_a_token_file_others_can_read_is_made_private(fake_home: FakeHome) -> None:
    file = token_path(fake_home)
    file.parent.mkdir(parents=True)
    file.write_text("k" * 43 + "\n")
    file.chmod(0o644)
    srv = start(fake_home)
    _, err = srv.stop()
    assert srv.token == "k" * 43
    assert stat.S_IMODE(file.stat().st_mode) == 0o600 and "readable by others" in err


def test_a_broken_token_file_is_one_clear_line(fake_home: FakeHome) -> None:
    file = token_path(fake_home)
    file.parent.mkdir(parents=True)
    file.write_text("short\n")
    file.chmod(0o600)
    r = fake_home.run("mcp-server", "--transport", "http", "--port", str(free_port()))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert (
        r.stderr.strip()
        == f"lsm: error: {file}: not an MCP HTTP token; remove the file and a new token is made"
    )


def test_compare_is_exact() -> None:
    assert token_matches("Bearer abc", "abc") and token_matches("bearer  abc ", "abc")
    assert not token_matches("Bearer abcd", "abc") and not token_matches("Bearer ", "abc")
    assert not token_matches(None, "abc") and not token_matches("Bearer ábc", "abc")


@pytest.mark.anyio
async def test_the_sdk_client_with_the_token_works(server: Server) -> None:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async with (
        httpx2.AsyncClient(headers=bearer(server.token), timeout=30) as http,
        Client(streamable_http_client(server.url, http_client=http)) as client,
    ):
        result = await client.call_tool("get_session", {"session_id": "88a8"})
        assert not result.is_error and (result.structured_content or {})["id"] == SIDE


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# ---------------------------------------------------------------------------------------------------
# Host and Origin (DNS rebinding)


def test_host_and_origin_are_checked_even_with_the_token(server: Server) -> None:
    auth = bearer(server.token)
    assert post(server, {**auth, "host": f"evil.example:{server.port}"}).status_code == 421
    assert post(server, {**auth, "host": "evil.example"}).status_code == 421
    assert post(server, {**auth, "host": f"127.0.0.1:{server.port + 1}"}).status_code == 421
    assert post(server, {**auth, "host": f"127.0.0.1.evil.example:{server.port}"}).status_code == 421
    assert post(server, {**auth, "origin": "http://evil.example"}).status_code == 403
    assert post(server, {**auth, "origin": "null"}).status_code == 403
    assert post(server, {**auth, "origin": "http://localhost.evil.example:3000"}).status_code == 403
    assert post(server, {**auth, "host": f"localhost:{server.port}"}).status_code == 200
    assert post(server, {**auth, "origin": f"http://127.0.0.1:{server.port}"}).status_code == 200
    assert post(server, {**auth, "origin": "http://localhost:5173"}).status_code == 200
    assert post(server, {"host": "evil.example"}).status_code == 421  # before the token is looked at


def test_another_loopback_address_is_protected_too(fake_home: FakeHome) -> None:
    srv = start(fake_home, "127.0.0.2")
    try:
        auth = bearer(srv.token)
        assert post(srv, {**auth, "host": f"evil.example:{srv.port}"}).status_code == 421
        assert post(srv, {**auth, "origin": "http://evil.example"}).status_code == 403
        assert post(srv, auth).status_code == 200
    finally:
        _, err = srv.stop()
    assert "warning" not in err


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")
def test_ipv6_loopback_written_long_hand(fake_home: FakeHome) -> None:
    srv = start(fake_home, "0:0:0:0:0:0:0:1")
    try:
        auth = bearer(srv.token)
        assert post(srv, {**auth, "host": f"evil.example:{srv.port}"}).status_code == 421
        assert post(srv, auth).status_code == 200  # the client sends Host: [0:0:0:0:0:0:0:1]:port
        assert post(srv, {**auth, "host": f"[::1]:{srv.port}"}).status_code == 200
    finally:
        _, err = srv.stop()
    assert "warning" not in err


def test_loopback_spellings() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "127.255.0.9", "::1", "0:0:0:0:0:0:0:1", "[::1]", "localhost"):
        assert is_loopback(host), host
    assert is_loopback("::ffff:127.0.0.1") and is_loopback("LOCALHOST")
    for host in ("0.0.0.0", "::", "192.168.1.5", "evil.example", "localhost.evil.example", "10.0.0.1"):
        assert not is_loopback(host), host


def test_host_rule() -> None:
    rule = HostRule("0:0:0:0:0:0:0:1", 8000)
    assert rule.host_ok("[::1]:8000") and rule.host_ok("localhost:8000")
    assert not rule.host_ok("[::1]:8001") and not rule.host_ok("evil.example:8000") and not rule.host_ok(None)
    wildcard = HostRule("0.0.0.0", 8000)
    assert wildcard.host_ok("192.168.1.5:8000") and not wildcard.host_ok("attacker.example:8000")
    assert HostRule("127.0.0.1", 80).host_ok("127.0.0.1")  # no port: 80
    assert not HostRule("127.0.0.1", 8000).host_ok("127.0.0.1:notaport")
    assert HostRule.origin_ok(None) and HostRule.origin_ok("https://[::1]:3000")
    assert not HostRule.origin_ok("file://") and not HostRule.origin_ok("http://192.168.1.5")


def test_a_non_loopback_bind_needs_allow_remote(fake_home: FakeHome) -> None:
    r = fake_home.run("mcp-server", "--transport", "http", "--host", "0.0.0.0", "--port", str(free_port()))
    assert r.returncode == 2 and r.stdout == ""
    assert "--allow-remote" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    srv = start(fake_home, "0.0.0.0", "--allow-remote")
    try:
        srv_local = Server(srv.proc, "127.0.0.1", srv.port, srv.token)
        assert post(srv_local, bearer(srv.token)).status_code == 200
        assert post(srv_local, {**bearer(srv.token), "host": f"evil.example:{srv.port}"}).status_code == 421
        assert post(srv_local).status_code == 401
    finally:
        _, err = srv.stop()
    assert "warning: listening on 0.0.0.0" in err and "token" in err


# ---------------------------------------------------------------------------------------------------
# mcp-config writes the token into HTTP clients' files


def test_mcp_config_http_writes_the_header(fake_home: FakeHome) -> None:
    cursor = fake_home.home / ".cursor" / "mcp.json"
    cursor.parent.mkdir()
    cursor.write_text(json.dumps({"mcpServers": {"other": {"command": "x"}}}))
    cursor.chmod(0o644)
    r = fake_home.run("mcp-config", "--client", "cursor", "--transport", "http", "--port", "8123", "--write")
    assert r.returncode == 0, r.stderr
    token = token_path(fake_home).read_text().strip()
    data = json.loads(cursor.read_text())
    assert data["mcpServers"]["other"] == {"command": "x"}
    assert data["mcpServers"]["llm-session-manager"] == {
        "url": "http://127.0.0.1:8123/mcp",
        "headers": {"Authorization": f"Bearer {token}"},
    }
    assert stat.S_IMODE(cursor.stat().st_mode) == 0o600  # it holds the token now
    assert stat.S_IMODE(token_path(fake_home).stat().st_mode) == 0o600

    vscode = fake_home.run("mcp-config", "--client", "vscode", "--transport", "http", "--host", "::1")
    assert vscode.returncode == 0, vscode.stderr
    assert json.loads(vscode.stdout) == {
        "servers": {
            "llm-session-manager": {
                "type": "http",
                "url": "http://[::1]:8000/mcp",
                "headers": {"Authorization": f"Bearer {token}"},
            }
        }
    }
    code = fake_home.run("mcp-config", "--client", "claude-code", "--transport", "http")
    assert code.stdout.strip() == (
        "claude mcp add --transport http --scope user llm-session-manager http://127.0.0.1:8000/mcp "
        f"--header 'Authorization: Bearer {token}'"
    )
    token_path(fake_home).unlink()
    desktop = fake_home.run("mcp-config", "--client", "claude-desktop", "--transport", "http")
    assert desktop.returncode == 2 and "stdio" in desktop.stderr and desktop.stdout == ""
    assert not token_path(fake_home).exists()  # no token made for a refused request


def test_the_written_entry_connects(fake_home: FakeHome) -> None:
    """What mcp-config writes is what the server accepts."""
    srv = start(fake_home)
    try:
        r = fake_home.run("mcp-config", "--client", "cursor", "--transport", "http", "--port", str(srv.port))
        entry = json.loads(r.stdout)["mcpServers"]["llm-session-manager"]
        got = httpx.post(entry["url"], json=INIT, headers={**ACCEPT, **entry["headers"]}, timeout=30)
        assert got.status_code == 200
    finally:
        srv.stop()
