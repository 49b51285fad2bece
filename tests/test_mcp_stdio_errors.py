"""`lsm mcp-server` over stdio with raw JSON lines: every malformed request that carries an id gets a
JSON-RPC error answer (the client never waits forever), the server keeps serving afterwards, and started
by hand in a terminal it says what it is and ends on Ctrl-C without a traceback."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import FakeHome

INIT = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}

# (raw line, the id the answer must carry, the JSON-RPC error code)
MALFORMED: list[tuple[str, Any, int]] = [
    ('{"jsonrpc": "1.0", "id": 11, "method": "tools/list"}', 11, -32600),
    ('{"id": 12, "method": "tools/list"}', 12, -32600),
    ('{"jsonrpc": "2.0", "id": 13, "method": "tools/call", "params": [1, 2]}', 13, -32602),
    ('{"jsonrpc": "2.0", "id": 14, "method": "tools/call", "params": "x"}', 14, -32602),
    ('{"jsonrpc": "2.0", "id": 15, "method": "ping", "params": 5}', 15, -32602),
    ('{"jsonrpc": "2.0", "id": 16}', 16, -32600),
    ('{"jsonrpc": "2.0", "id": 17, "method": 5}', 17, -32600),
    ('{"jsonrpc": "2.0", "id": "s-18", "method": ["tools/list"]}', "s-18", -32600),
    ('{"jsonrpc": "2.0", "id": 19, "method": "nope/unknown"}', 19, -32601),
    ('{"jsonrpc": "2.0", "id": 20, "method": "tools/call", "params": {"name": 5}}', 20, -32602),
    ('{"jsonrpc": "2.0", "id": 21, "method": "resources/read", "params": {}}', 21, -32602),
    ('{"jsonrpc": "2.0", "id": 22, "method": "tools/list", "params": {"cursor": 5}}', 22, -32602),
    # ids that cannot be echoed: the answer carries id null, as JSON-RPC 2.0 says
    ('{"jsonrpc": "2.0", "id": null, "method": "tools/list"}', None, -32600),
    ('{"jsonrpc": "2.0", "id": 1.5, "method": "tools/list"}', None, -32600),
    ('{"jsonrpc": "2.0", "id": true, "method": "tools/list"}', None, -32600),
    ('{"jsonrpc": "2.0", "id": {"a": 1}, "method": "tools/list"}', None, -32600),
    ('{"jsonrpc": "2.0", "id": 23, "method": "tools/list"', None, -32700),
    ('[{"jsonrpc": "2.0", "id": 24, "method": "tools/list"}]', None, -32600),
    ('"just a string"', None, -32600),
]


class Stdio:
    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc

    def send(self, line: str | dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        text = line if isinstance(line, str) else json.dumps(line)
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()

    def answer(self, timeout: float = 20) -> dict[str, Any]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        assert ready, "no answer: the client would wait forever"
        line = self.proc.stdout.readline()
        assert line, "the server closed its stdout"
        message = json.loads(line)
        assert isinstance(message, dict)
        return message


@pytest.fixture
def stdio(fake_home: FakeHome) -> Iterator[Stdio]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "llm_session_manager", "mcp-server"],
        env=fake_home.env(),
        cwd=str(fake_home.home),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    io = Stdio(proc)
    try:
        io.send(INIT)
        assert io.answer(30)["id"] == 0
        io.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        yield io
    finally:
        assert proc.stdin is not None and proc.stderr is not None
        proc.stdin.close()
        proc.wait(timeout=30)
        err = proc.stderr.read()
    assert proc.returncode == 0 and b"Traceback" not in err
    assert b"lsm: this is an MCP server" not in err  # stdin is a pipe: a client started it


@pytest.mark.parametrize(
    ("line", "expected_id", "code"), MALFORMED, ids=[str(i) for i in range(len(MALFORMED))]
)
def test_a_malformed_request_gets_an_error_answer(
    stdio: Stdio, line: str, expected_id: Any, code: int
) -> None:
    stdio.send(line)
    answer = stdio.answer()
    assert answer["jsonrpc"] == "2.0" and answer["id"] == expected_id, answer
    assert answer["error"]["code"] == code and answer["error"]["message"], answer
    stdio.send({"jsonrpc": "2.0", "id": 99, "method": "ping"})  # and the server still serves
    assert stdio.answer() == {"jsonrpc": "2.0", "id": 99, "result": {}}


def test_notifications_and_blank_lines_get_no_answer(stdio: Stdio) -> None:
    for line in (
        "",
        "   ",
        '{"jsonrpc": "2.0", "method": "notifications/nope"}',
        '{"jsonrpc": "1.0", "method": "x"}',
    ):
        stdio.send(line)
    stdio.send({"jsonrpc": "2.0", "id": "after", "method": "ping"})
    assert stdio.answer()["id"] == "after"  # the first answer is the ping's: nothing came before it


def test_a_tool_call_with_invalid_arguments_is_a_tool_error(stdio: Stdio) -> None:
    stdio.send(
        {
            "jsonrpc": "2.0",
            "id": 5,
            "method": "tools/call",
            "params": {"name": "get_session", "arguments": {"session_id": 5}},
        }
    )
    answer = stdio.answer()
    assert answer["id"] == 5 and answer["result"]["isError"] is True


# ---------------------------------------------------------------------------------------------------
# Started by hand in a terminal


def _read_until_exit(fd: int, pid: int, timeout: float) -> tuple[bytes, int | None]:
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            out += chunk
            if not chunk:
                break
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return out, os.waitstatus_to_exitcode(status)
    while time.monotonic() < deadline:  # the terminal closed: the exit status follows at once
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return out, os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    return out, None


@pytest.mark.parametrize("args", [("mcp-server",), ("mcp-session-server", "88a8")])
def test_in_a_terminal_it_says_what_it_is_and_ctrl_c_ends_it(
    fake_home: FakeHome, args: tuple[str, ...]
) -> None:
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: lsm on a terminal, as a user would start it
        os.chdir(fake_home.home)
        # A shell starts it with Ctrl-C delivered and handled by default, whatever the test process
        # inherited or did (a blocked or ignored SIGINT would survive the exec).
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.execve(sys.executable, [sys.executable, "-m", "llm_session_manager", *args], fake_home.env())
    code: int | None = None
    out = rest = b""
    try:
        deadline = time.monotonic() + 60
        while b"Ctrl-C" not in out and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                out += os.read(fd, 4096)
        assert b"lsm: this is an MCP server" in out and b"stdio" in out and b"Ctrl-C" in out, out
        time.sleep(0.5)  # serving now
        os.write(fd, b"\x03")  # Ctrl-C typed in the terminal: SIGINT to the process
        rest, code = _read_until_exit(fd, pid, 20)
    finally:
        if code is None:  # still running (the bug this test is about): stop it
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    assert code in (0, 130), (code, rest)
    assert b"Traceback" not in out + rest, rest


def test_a_hostile_request_is_logged_on_one_safe_line(fake_home: FakeHome) -> None:
    """The SDK logs a failing handler with a multi-line traceback; lsm logs one line, escapes made
    visible (the request's text is hostile: it reaches a terminal when the server runs by hand)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "llm_session_manager", "mcp-server"],
        env=fake_home.env(),
        cwd=str(fake_home.home),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    io = Stdio(proc)
    try:
        io.send(INIT)
        assert io.answer(30)["id"] == 0
        io.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        io.send(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "prompts/get",
                "params": {"name": "\x1b]0;pwned\x07\x1b[2J"},
            }
        )
        assert "error" in io.answer()
    finally:
        assert proc.stdin is not None and proc.stderr is not None
        proc.stdin.close()
        proc.wait(timeout=30)
        err = proc.stderr.read().decode()
    assert "\x1b" not in err and "\x07" not in err and "Traceback" not in err and "│" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lsm: mcp: error: ") and "Unknown prompt" in lines[0], err


def test_closed_stdin_or_stdout_is_no_traceback(fake_home: FakeHome) -> None:
    """Started with stdin closed, the server ends at once; with stdout closed, it says why, in one line."""
    command = f"exec {sys.executable} -m llm_session_manager mcp-server"
    for redirect, code in (("<&-", 0), ("<&- >&-", 1)):
        r = subprocess.run(
            ["/bin/sh", "-c", f"{command} {redirect}"],
            env=fake_home.env(),
            cwd=str(fake_home.home),
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
        assert r.returncode == code and "Traceback" not in r.stderr, (redirect, r.stderr)
    assert r.stderr.strip() == "lsm: error: stdout is closed: an MCP stdio server answers on stdout"


def test_requests_piped_then_stdin_closed_are_all_answered(fake_home: FakeHome) -> None:
    """`printf '…' | lsm mcp-server`: the input ends while requests are still being handled. The SDK
    stopped its handlers at the end of its input, so tools/list or a tool call got no answer."""
    call = {"name": "list_sessions", "arguments": {}}
    requests = [
        INIT,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call},
        {"jsonrpc": "2.0", "id": "three", "method": "ping"},
    ]
    for _ in range(3):  # the race was lost most of the time, not always
        r = subprocess.run(
            [sys.executable, "-m", "llm_session_manager", "mcp-server"],
            input="".join(json.dumps(x) + "\n" for x in requests),
            env=fake_home.env(),
            cwd=str(fake_home.home),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
        answered = {json.loads(line).get("id") for line in r.stdout.splitlines()}
        assert answered == {INIT["id"], 1, 2, "three"}, r.stdout[-500:]


def test_answers_carry_no_raw_c1_or_bidi_character(fake_home: FakeHome) -> None:
    """A title with C1 CSI (U+009B) and a bidi override reaches the client as the same string, written
    as \\u escapes: nothing a terminal would act on if someone runs the server by hand."""
    folder = fake_home.projects / "-tmp-hostile"
    folder.mkdir(parents=True)
    line = {
        "type": "user",
        "sessionId": "hostile-c1",
        "timestamp": "2026-11-01T10:00:00.000Z",
        "message": {"role": "user", "content": "title \x9b31m red \u202e reversed"},
    }
    (folder / "hostile-c1.jsonl").write_text(json.dumps(line) + "\n")
    requests = [
        INIT,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "list_sessions", "arguments": {"status": ["ended"]}},
        },
    ]
    r = subprocess.run(
        [sys.executable, "-m", "llm_session_manager", "mcp-server"],
        input=("".join(json.dumps(x) + "\n" for x in requests)).encode(),
        env=fake_home.env(),
        cwd=str(fake_home.home),
        capture_output=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "\x9b".encode() not in r.stdout and "\u202e".encode() not in r.stdout
    answer = next(json.loads(x) for x in r.stdout.splitlines() if json.loads(x).get("id") == 1)
    assert "\x9b31m red \u202e reversed" in json.dumps(answer, ensure_ascii=False)
