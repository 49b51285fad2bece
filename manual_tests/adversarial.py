#!/usr/bin/env python3
"""Attack lsm as an adversary would, and count what breaks.

Drives every command of the Typer app (enumerated at run time, so a new command is never left out)
with hostile session titles (Rich markup, ESC/OSC/C1/bidi, the generated secret corpus of
tests/fixtures/secrets), hostile imports, damaged/locked/read-only stores, FIFOs, /dev/zero links and
symlink loops in the agents' folders, hostile config values, 8 concurrent writers, malformed MCP stdio
requests, MCP HTTP without/with a wrong token and with an evil Host/Origin, and decoy processes.

Counts per category: inputs tried, crashes (a traceback, or an exit status outside the documented
0/1/2/3/10/11/130), hangs (timeouts), leaks (a corpus secret, a raw ESC, C0, C1 or bidi control in any
stdout/stderr, file written or MCP payload), wrong kills (a decoy signalled), lost writes, and files
changed under the fake HOME outside lsm's own config folder (agents' files: hashed before and after).

Safety: everything runs in a temporary fake HOME with LSM_HOME set; servers bind loopback only; the
decoy scenario runs inside a new PID namespace (`unshare --pid --fork --mount-proc`, needs root or
user namespaces) where lsm can see only the processes this script started. Without it, `batch-close
--force` runs only if `--dry-run` proved that its targets are all this script's own processes.

    .venv/bin/python manual_tests/adversarial.py            # about 3-6 minutes
    .venv/bin/python manual_tests/adversarial.py --keep     # keep the temp dir for a look
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import pty
import random
import select
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from test_secret_corpus import SECRETS, Secret, _windows, leak  # noqa: E402  (the generated corpus)

PY = sys.executable
LSM = [PY, "-m", "llm_session_manager"]
DOCUMENTED = {0, 1, 2, 3, 10, 11, 130}
DEADLINE = time.monotonic() + 9.5 * 60
FAKE_AGENTS = REPO / "tests" / "fake_agents"
LEAKY_ENV = (
    "LSM_",
    "CLAUDE_CONFIG_DIR",
    "XDG_",
    "CODEX_HOME",
    "GEMINI_",
    "COPILOT_HOME",
    "CURSOR_",
    "CLINE_",
    "VSCODE_PORTABLE",
    "APPDATA",
    "TIKTOKEN_CACHE_DIR",
    "ANTHROPIC_",
    "OPENAI_",
)
BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}
CATS = ("inputs", "crashes", "hangs", "leaks", "wrong_kills", "lost_writes", "files_changed")

# --------------------------------------------------------------------------------------------------
# Hostile text

HOSTILE_TITLES = [
    "why does my prompt end with [/INST]",
    "[bold red]markup[/] arr[i] [/quote] [link=https://evil.example]click[/link] [/]",
    "colour \x1b[31mRED\x1b[0m and \x1b[5mblink",
    "title \x1b]0;PWNED-TITLE\x07 set by osc 0",
    "clipboard \x1b]52;c;cHduZWQ=\x07 osc 52",
    "clear \x1b[2J\x1b[H screen and \x1bc reset",
    "c1 \x9b31m csi \x9d0;PWNED-C1\x9c osc \x85 nel",
    "bidi \u202egnp.exe\u202c and \u2066isolate\u2069 \u200f",
    "c0 \x07bell \x08back \x00nul \rcr \x0bvt \x7fdel",
    "emoji 🚀 zero\u200bwidth and a lone surrogate \ud800 here",
    "x" * 20000,
    "[/INST] \x1b]0;PWNED\x07 " + SECRETS[0].context,
]
MARKERS = (b"\x1b]0;PWNED", b"\x1b]52;", b"\xc2\x9b", b"\xc2\x9d", b"\x1b[5m", b"\xe2\x80\xae")


def _jsonable(text: str) -> str:
    """A lone surrogate cannot be written as UTF-8: JSON escapes it (as an agent's logger would)."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace") if "\ud800" not in text else text


# --------------------------------------------------------------------------------------------------
# Results


@dataclass
class Finding:
    category: str
    kind: str
    argv: list[str]
    detail: str


@dataclass
class Tally:
    counts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    findings: list[Finding] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, category: str, kind: str, n: int = 1) -> None:
        with self.lock:
            self.counts[category][kind] += n

    def find(self, category: str, kind: str, argv: list[str], detail: str) -> None:
        with self.lock:
            self.counts[category][kind] += 1
            self.findings.append(Finding(category, kind, [a[:120] for a in argv], detail[:600]))


T = Tally()


def ctrl_problems(text: str) -> list[str]:
    found = []
    if "\x1b" in text:
        found.append("raw ESC")
    if any(ord(c) < 32 and c not in "\n\t" for c in text.replace("\x1b", "")):
        found.append("raw C0 " + repr(next(c for c in text if ord(c) < 32 and c not in "\n\t\x1b")))
    if any(0x80 <= ord(c) <= 0x9F for c in text):
        found.append("raw C1")
    if any(c in BIDI for c in text):
        found.append("raw bidi control")
    return found


def secret_leaks(texts: Iterable[str], secrets: list[Secret] = SECRETS) -> list[str]:
    out = []
    for text in texts:
        if not text:
            continue
        seen = _windows(text)
        out += [f"{s.label}: {found[:24]!r}" for s in secrets if (found := leak(s, text, seen)) is not None]
    return out


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from strings_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings_in(v)


def check_output(
    category: str,
    argv: list[str],
    blob: bytes,
    where: str,
    *,
    terminal: bool = True,
    secrets_ok: bool = False,
) -> None:
    text = blob.decode("utf-8", "replace")
    problems = ctrl_problems(text) if terminal else []
    if not secrets_ok:
        texts = [text]
        with contextlib.suppress(ValueError):
            texts.append("\n".join(strings_in(json.loads(text))))
        problems += [f"secret {x}" for x in secret_leaks(texts)[:3]]
    if problems:
        i = next((text.find(m) for m in ("\x1b", "sk-", "[/") if m in text), 0)
        T.find(category, "leaks", argv, f"{where}: {problems[:4]} near {text[max(0, i - 80) : i + 80]!r}")


# --------------------------------------------------------------------------------------------------
# Running lsm


@dataclass
class World:
    tmp: Path
    home: Path
    lsm_home: Path
    out: Path
    work: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(LEAKY_ENV)}
        env.update(
            HOME=str(self.home),
            LSM_HOME=str(self.lsm_home),
            COLUMNS="160",
            LSM_DISCOVERY="off",
            PYTHONPATH=str(REPO),
            LSM_AIDER_ROOTS=str(self.work),
        )
        env.update(extra)
        return env


@dataclass
class Run:
    argv: list[str]
    rc: int | None
    out: bytes
    err: bytes

    @property
    def text(self) -> str:
        return self.out.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.out)


def argv_bytes(arg: str) -> bytes:
    """An argument as the bytes a shell would pass: NUL cannot be in argv, a lone surrogate is its byte."""
    arg = arg.replace("\x00", "")
    try:
        return arg.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return arg.encode("utf-8", "surrogatepass")


def lsm(
    w: World,
    category: str,
    *args: str,
    stdin: bytes | None = None,
    timeout: float = 30,
    env: dict[str, str] | None = None,
    secrets_ok: bool = False,
    cwd: Path | None = None,
) -> Run:
    argv = list(args)
    T.add(category, "inputs")
    try:
        raw = [argv_bytes(a) for a in argv]
        p = subprocess.run(
            [*LSM, *raw],
            input=stdin if stdin is not None else b"",
            capture_output=True,
            timeout=timeout,
            env=env or w.env(),
            cwd=str(cwd or w.home),
        )
    except subprocess.TimeoutExpired as exc:
        T.find(category, "hangs", argv, f"no exit within {timeout}s")
        return Run(argv, None, exc.stdout or b"", exc.stderr or b"")
    r = Run(argv, p.returncode, p.stdout, p.stderr)
    if b"Traceback (most recent call last)" in p.stderr or p.returncode not in DOCUMENTED:
        T.find(
            category,
            "crashes",
            argv,
            f"rc={p.returncode} stderr tail: {p.stderr[-500:].decode('utf-8', 'replace')}",
        )
    check_output(category, argv, p.stdout, "stdout", secrets_ok=secrets_ok)
    check_output(category, argv, p.stderr, "stderr", secrets_ok=secrets_ok)
    return r


def pool_map(fn: Callable[[Any], Any], items: Iterable[Any], workers: int = 3) -> list[Any]:
    with ThreadPoolExecutor(workers) as ex:
        return list(ex.map(fn, items))


# --------------------------------------------------------------------------------------------------
# The fake world: agents' folders with hostile sessions, FIFOs, links and loops


def iso(delta_min: float = 0) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - delta_min * 60))


def claude_session(
    w: World,
    n: int,
    prompt: str,
    usage: dict[str, Any] | None = None,
    extra_lines: list[str] | None = None,
    cwd: Path | None = None,
) -> str:
    sid = str(uuid.UUID(int=random.Random(n).getrandbits(128), version=4))
    cwd = cwd or w.work / f"proj{n % 7}"
    cwd.mkdir(parents=True, exist_ok=True)
    folder = w.home / ".claude" / "projects" / str(cwd).replace("/", "-")
    folder.mkdir(parents=True, exist_ok=True)
    ts = iso(30 + n)
    base = {"sessionId": sid, "cwd": str(cwd), "timestamp": ts, "isSidechain": False, "version": "2.1.80"}
    lines = [
        json.dumps({**base, "type": "user", "uuid": f"u{n}", "message": {"role": "user", "content": prompt}}),
        json.dumps(
            {
                **base,
                "type": "assistant",
                "uuid": f"a{n}",
                "requestId": f"req_{n}",
                "message": {
                    "id": f"msg_{n}",
                    "model": "claude-sonnet-4-5-20250929",
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "Reply quoting:\n" + prompt},
                        {"type": "tool_use", "id": f"t{n}", "name": "Bash", "input": {"command": prompt}},
                    ],
                    "usage": usage
                    or {
                        "input_tokens": 10,
                        "output_tokens": 20,
                        "cache_creation_input_tokens": 100,
                        "cache_read_input_tokens": 1000,
                    },
                },
            }
        ),
        *(extra_lines or []),
    ]
    (folder / f"{sid}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    return sid


def codex_session(w: World, n: int, prompt: str, total: Any = 1000) -> None:
    sid = f"019fc8be-3658-7ca3-9e29-{n:012d}"
    day = w.home / ".codex" / "sessions" / "2026" / "12" / "01"
    day.mkdir(parents=True, exist_ok=True)
    ts = iso(60 + n)
    usage = {
        "input_tokens": total,
        "cached_input_tokens": 0,
        "output_tokens": 5,
        "reasoning_output_tokens": 0,
        "total_tokens": total,
    }
    lines = [
        {
            "timestamp": ts,
            "type": "session_meta",
            "payload": {
                "id": sid,
                "timestamp": ts,
                "cwd": str(w.work / "proj1"),
                "originator": "codex_cli_rs",
                "cli_version": "0.146.0",
            },
        },
        {
            "timestamp": ts,
            "type": "turn_context",
            "payload": {"cwd": str(w.work / "proj1"), "model": "gpt-5.3-codex"},
        },
        {"timestamp": ts, "type": "event_msg", "payload": {"type": "user_message", "message": prompt}},
        {
            "timestamp": ts,
            "type": "event_msg",
            "payload": {
                "type": "token_count",
                "info": {
                    "total_token_usage": usage,
                    "last_token_usage": usage,
                    "model_context_window": 258400,
                },
            },
        },
        {"timestamp": ts, "type": []},
    ]
    (day / f"rollout-2026-12-01T10-00-00-{sid}.jsonl").write_text(
        "".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8"
    )


def traps(w: World) -> None:
    """FIFOs, /dev/zero links and directory loops where the readers expect files."""
    projects = w.home / ".claude" / "projects"
    trap = projects / "-trap"
    trap.mkdir(parents=True)
    os.mkfifo(trap / "fifo-session.jsonl")
    (trap / "zero-session.jsonl").symlink_to("/dev/zero")
    (trap / "loop").symlink_to(projects)
    (trap / "self").symlink_to(trap)
    (w.home / ".claude" / "sessions").mkdir(parents=True)
    os.mkfifo(w.home / ".claude" / "sessions" / "4242.json")
    codex_day = w.home / ".codex" / "sessions" / "2026" / "12" / "02"
    codex_day.mkdir(parents=True)
    os.mkfifo(codex_day / "rollout-2026-12-02T10-00-00-019fc8be-3658-7ca3-9e29-999999999999.jsonl")
    (codex_day / "loop").symlink_to(w.home / ".codex" / "sessions")
    gem = w.home / ".gemini" / "tmp" / ("ab" * 32)
    (gem / "chats").mkdir(parents=True)
    os.mkfifo(gem / ".project_root")
    os.mkfifo(gem / "chats" / "session-2026-12-01T10-00-0000aaaa.json")
    (gem / "chats" / "zero.jsonl").symlink_to("/dev/zero")
    (w.home / ".gemini" / "tmp" / "loop").symlink_to(w.home / ".gemini")
    ws = w.home / ".config" / "Cursor" / "User" / "workspaceStorage" / "w1"
    ws.mkdir(parents=True)
    os.mkfifo(ws / "workspace.json")
    cop = w.home / ".copilot" / "session-state" / "0a1b2c3d-0000-4000-8000-000000000001"
    cop.mkdir(parents=True)
    os.mkfifo(cop / "events.jsonl")
    (cop / "workspace.yaml").symlink_to("/dev/zero")
    aider = w.work / "proj3"
    aider.mkdir(parents=True, exist_ok=True)
    os.mkfifo(aider / ".aider.chat.history.md")
    (w.work / "proj4").mkdir(parents=True, exist_ok=True)
    (w.work / "proj4" / ".aider.chat.history.md").symlink_to("/dev/zero")
    (w.work / "loop").symlink_to(w.work)


def build_world(tmp: Path) -> tuple[World, dict[str, list[str]]]:
    w = World(tmp, tmp / "home", tmp / "lsm-data", tmp / "out", tmp / "home" / "work")
    for p in (w.home, w.out, w.work):
        p.mkdir(parents=True)
    ids: dict[str, list[str]] = {"hostile": [], "secret": [], "numbers": []}
    for i, title in enumerate(HOSTILE_TITLES):
        ids["hostile"].append(claude_session(w, i, title))
    for s in SECRETS:
        prompt = s.context if s.input is None else f"run this {json.dumps(s.input)}"
        ids["secret"].append(claude_session(w, 1000 + s.n, prompt))
    # Numbers out of range: each costs its line, never the session.
    for j, usage in enumerate(
        [
            {"input_tokens": 2**64, "output_tokens": 1},
            {"input_tokens": 1e30},
            {"input_tokens": -5},
            {"input_tokens": "many"},
            {"input_tokens": None},
            {"input_tokens": float("nan")},
            {"input_tokens": [1]},
        ]
    ):
        ids["numbers"].append(
            claude_session(
                w,
                5000 + j,
                f"numbers case {j}",
                usage=usage,
                extra_lines=['{"type":"user","tool_use_id":[]}', "not json", "{}"],
            )
        )
    for j, total in enumerate([1000, 1e30, 2**70, "big", -1]):
        codex_session(w, j, HOSTILE_TITLES[j % len(HOSTILE_TITLES)] if j else SECRETS[1].context, total)
    traps(w)
    (w.work / "proj0" / "file.py").write_text("print('hello')\n" + SECRETS[2].context + "\n")
    return w, ids


def snapshot(home: Path) -> dict[str, str]:
    """What every path under HOME is (lsm's own config folder aside): content hash, link target or type."""
    state: dict[str, str] = {}
    skip = home / ".config" / "llm-session-manager"
    for root, dirs, files in os.walk(home, followlinks=False):
        if Path(root) == skip or skip in Path(root).parents:
            dirs[:] = []
            continue
        for name in dirs + files:
            p = Path(root) / name
            if p == skip:
                continue
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                state[str(p)] = "link:" + os.readlink(p)
            elif stat.S_ISREG(st.st_mode):
                state[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
            elif stat.S_ISDIR(st.st_mode):
                state[str(p)] = "dir"
            else:
                state[str(p)] = f"mode:{stat.S_IFMT(st.st_mode)}"
    return state


def diff_snapshots(before: dict[str, str], after: dict[str, str]) -> list[str]:
    changed = [f"changed {k}" for k in before if k in after and before[k] != after[k]]
    changed += [f"removed {k}" for k in before if k not in after]
    changed += [f"added {k}" for k in after if k not in before]
    return changed


# --------------------------------------------------------------------------------------------------
# Every command


def leaf_commands() -> dict[tuple[str, ...], Any]:
    """Every command of the Typer app (a group's subcommands too), with its click command."""
    import typer

    from llm_session_manager import cli

    app = getattr(cli, "app", None) or cli._app  # type: ignore[attr-defined]
    out: dict[tuple[str, ...], Any] = {}

    def walk(cmd: Any, path: tuple[str, ...]) -> None:
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(sub, (*path, name))
        else:
            out[path] = cmd

    walk(typer.main.get_command(app), ())
    return out


def generic_plan(cmd: Any, sid: str) -> list[list[str]]:
    """Invocations for a command this script has no plan for: defaults, JSON, and hostile text in
    every option and argument that takes a value."""
    required: list[str] = []
    for p in cmd.params:
        if p.param_type_name == "argument" and p.required:
            required.append(sid)
        elif p.param_type_name == "option" and p.required and not getattr(p, "is_flag", False):
            required += [p.opts[0], "1d"]
    plan = [required]
    if any("--format" in p.opts for p in cmd.params if p.param_type_name == "option"):
        plan.append([*required, "--format", "json"])
    for p in cmd.params:
        if p.param_type_name == "option" and not getattr(p, "is_flag", False) and p.opts[0] != "--format":
            for bad in (
                "[/INST]",
                "\x1b]0;PWNED\x07",
                "99999999d",
                "nan",
                "-1",
                SECRETS[0].secret,
                SECRETS[12].context,
                "a" * 5000,
            ):
                plan.append([*required, p.opts[0], bad])
    return plan


def command_plan(w: World, ids: dict[str, list[str]]) -> dict[tuple[str, ...], list[list[str]]]:
    """Invocations per command, hostile where the command takes text."""
    h, s, n = ids["hostile"], ids["secret"], ids["numbers"]
    some = h[:4] + s[:3] + s[-3:] + n[:3]
    texts = [*HOSTILE_TITLES[:10], SECRETS[3].context]
    raw = ["[/INST]", "\x1b]0;PWNED\x07", "a" * 10000, SECRETS[4].secret, "../../etc/passwd", "*", ""]
    src = w.work / "proj0"
    plan: dict[tuple[str, ...], list[list[str]]] = {
        ("list",): [
            [],
            ["-a"],
            ["-a", "-f", "json"],
            ["-a", "--sort", "cost"],
            ["-a", "--since", "99999999d"],
            ["-a", "--since", "today"],
            ["-a", "-t", "[/x]"],
            ["-a", "-p", "\x1b[2J"],
            ["--agent", "clod"],
            ["-a", "-n", "0"],
            ["-a", "--agent", "codex", "-f", "json"],
            ["-a", "-s", "bogus"],
        ],
        ("info",): [[], ["-f", "json"]],
        ("health",): [[i] for i in some] + [[i, "-f", "json"] for i in some] + [[x] for x in raw],
        ("tag",): [[i, t] for i in some[:4] for t in ("t1", "[/INST]", "\x1b[31mred", SECRETS[5].secret)]
        + [[h[0], "t1"], [h[0], "t1", "-f", "json"]],
        ("untag",): [[h[0], "t1"], [h[0], "never"], [h[0], "[/INST]", "-f", "json"]],
        ("set-project",): [[h[1], "[bold]p[/]"], [h[2], "\x1b]0;PWNED\x07"], [h[3], SECRETS[6].context]],
        ("describe",): [[i, "--show"] for i in some[:4]]
        + [[h[0], t] for t in texts]
        + [[h[1], "caf\udce9"]]
        + [[h[0], "--show", "-f", "json"]],
        ("search",): [
            [t] for t in ("[/INST]", "INST", "PWNED", "\x1b", "sk-ant", "REDACTED", "red", "x" * 3000)
        ]
        + [["INST", "-d"], ["bidi", "-f", "json"], ["", "-f", "json"]],
        ("batch-tag",): [["*", "hostile"], ["[/INST]*", "x"], ["*", "t2", "--all", "-f", "json"]],
        ("batch-close",): [
            ["*", "--dry-run"],
            ["*", "--dry-run", "-f", "json"],
            ["zzz-none", "--force"],
            ["*", "--force", "--timeout", "nan"],
            ["*", "--force", "--timeout", "1e308"],
        ],
        ("reopen",): [[i] for i in some[:4]] + [["zzz"]],
        ("export",): [[i, "-f", f, "-o", "-"] for i in some for f in ("json", "yaml", "markdown")]
        + [
            [h[0], "--full", "-f", "json", "-o", "-"],
            [s[0], "-o", str(w.out / "a.md")],
            [s[0], "-o", str(w.out / "missing" / "x.json")],
            [s[0], "-o", str(w.out / "a.md")],
        ],
        ("import-context",): [],  # attack_imports
        ("batch-export",): [
            ["*", "-o", str(w.out / "be1"), "--parents"],
            ["*", "-o", str(w.out / "be2"), "--parents", "-f", "markdown"],
            ["*", "-o", str(w.out / "be1"), "--force", "-f", "yaml"],
        ],
        ("forget",): [[h[0]], ["zzz"], ["a" * 10000]],
        ("auto-tag",): [[i] for i in some[:4]]
        + [
            [h[0], "--apply"],
            [h[1], "-f", "json"],
            [h[0], "--threshold", "nan"],
            [h[0], "--min-confidence", "inf"],
        ],
        ("tag-stats",): [[], ["-f", "json"], ["-t", "[/x]"]],
        ("memory-add",): [
            [h[0], "note [/INST] \x1b[31m red"],
            [s[0], SECRETS[7].context],
            [h[1], "plain note"],
            [h[2], "caf\udce9 not utf-8"],
        ],
        ("memory-search",): [["[/INST]"], ["note", "-f", "json"]],
        ("memory-list",): [[], ["-f", "json"]],
        ("memory-stats",): [[], ["-f", "json"]],
        ("memory-delete",): [["zzz"], ["../../x"]],
        ("recommend",): [[], ["-f", "json"]],
        ("monitor",): [
            [],
            ["--interval", "nan"],
        ],  # no terminal: a usage error; the TUI runs in attack_monitor
        ("mcp-server",): [
            ["--transport", "bogus"],
            ["--transport", "http", "--host", "0.0.0.0", "--port", "1"],
        ],
        ("mcp-session-server",): [],  # attack_mcp_stdio
        ("mcp-config",): [
            [],
            ["-f", "json"],
            ["-c", "claude-code"],
            ["--transport", "http"],
            ["-c", "bogus"],
            ["--name", "[/INST]\x1b]0;PWNED\x07"],
        ],
        ("tokens",): [
            [str(src)],
            [str(src), "--by-file", "-f", "json"],
            [str(w.home / "nope")],
            [str(w.work / "proj3" / ".aider.chat.history.md")],
            ["/dev/zero"],
            [str(w.work / "loop")],
        ],
        ("limits",): [[], ["-f", "json"], ["--agent", "codex"]],
        ("budget",): [[], ["-f", "json"]],
        ("hook",): [],  # attack_hooks_and_statusline
        ("notify",): [],  # attack_long_running
        ("init-config",): [],  # attack_config
        ("show-config",): [[], ["-f", "json"], ["-f", "yaml"]],
        ("doctor",): [[], ["-f", "json"], ["--repair"]],
        ("statusline", "install"): [],  # attack_hooks_and_statusline (own HOME)
        ("statusline", "uninstall"): [],
        ("hooks", "install"): [],
        ("hooks", "uninstall"): [],
        ("hooks", "status"): [[], ["-f", "json"]],
    }
    return plan


def attack_commands(w: World, ids: dict[str, list[str]]) -> None:
    cat = "commands x hostile titles"
    commands = leaf_commands()
    plan = command_plan(w, ids)
    for c in commands:
        if c not in plan:
            plan[c] = generic_plan(commands[c], ids["hostile"][0])
            print(f"  {' '.join(c)}: no plan of its own, {len(plan[c])} generic hostile invocations")
    jobs: list[list[str]] = []
    for c in commands:
        jobs.append([*c, "--help"])
        jobs += [[*c, *args] for args in plan.get(c, [])]
    # Writers stay in order (tag before untag, close before reopen); readers go three at a time.
    order = {"tag": 0, "untag": 1, "batch-close": 2, "reopen": 3, "forget": 9}
    readers = [j for j in jobs if j[0] not in order]
    writers = sorted((j for j in jobs if j[0] in order), key=lambda j: order[j[0]])
    for j in writers:
        lsm(w, cat, *j, timeout=60)
    pool_map(lambda j: lsm(w, cat, *j, timeout=90), readers)
    r = lsm(w, cat, "list", "-a", "-f", "json")
    listed = {o["native_id"] for o in r.json()} if r.rc == 0 else set()
    lost = [i for i in ids["hostile"] + ids["secret"] + ids["numbers"] if i not in listed]
    if lost:
        T.find(
            cat, "lost_writes", ["list", "-a"], f"{len(lost)} sessions hidden by hostile lines: {lost[:5]}"
        )
    for f in w.out.rglob("*"):
        if f.is_file():
            T.add(cat, "inputs")
            check_output(
                cat, ["file", str(f)], f.read_bytes(), f"file {f.name}", terminal=f.suffix in (".md", ".txt")
            )


# --------------------------------------------------------------------------------------------------
# Imports


def with_id(base: dict[str, Any], full_id: str) -> dict[str, Any]:
    """A copy of an export document under another id (``agent:native``, both fields kept consistent)."""
    doc = json.loads(json.dumps(base))
    agent, _, native = full_id.rpartition(":")
    doc["session"].update(id=full_id, agent=agent or "claude-code", native_id=native)
    return doc


def attack_imports(w: World, ids: dict[str, list[str]]) -> None:  # noqa: C901 (one attack, step by step)
    cat = "hostile imports"
    base_path = w.out / "base.json"
    r = lsm(
        w,
        cat,
        "export",
        ids["secret"][0],
        "--no-redact",
        "--full",
        "-f",
        "json",
        "-o",
        str(base_path),
        secrets_ok=True,
    )
    if r.rc != 0:
        T.find(cat, "crashes", r.argv, "cannot export a base document: " + r.err.decode()[:300])
        return
    base = json.loads(base_path.read_text())
    docs: list[tuple[str, str, str]] = []  # (name, text, input format)

    def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
        yield prefix, value
        if isinstance(value, dict):
            for k, v in value.items():
                yield from paths(v, (*prefix, k))
        elif isinstance(value, list) and value:
            yield from paths(value[0], (*prefix, 0))

    def mutate(path: tuple[Any, ...], new: Any, sid: str) -> dict[str, Any]:
        doc = with_id(base, sid)
        node = doc
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = new
        return doc

    rng = random.Random(13)
    all_paths = [p for p, _ in paths(base) if p]
    for k, p in enumerate(all_paths):
        for new in rng.sample(
            ["many", 2**64, 1e30, -1, [1], {"a": 1}, None, True, "x" * 5000, float("nan")], 3
        ):
            doc = mutate(p, new, f"claude-code:mut-{k}-{rng.randrange(10**6)}")
            docs.append((f"mutate {'.'.join(map(str, p))}={str(new)[:20]}", json.dumps(doc), "json"))
    for bad_id in [
        "/tmp/abs/dir/X:y",
        "../../../escape:y",
        "..\\..\\win:y",
        "a" * 10000,
        "x\x00y:z",
        "\x1b]0;PWNED\x07:y",
        "[/INST]:y",
        "claude-code:" + SECRETS[8].secret,
        ".",
        "..",
        "con:aux",
    ]:
        doc = with_id(base, bad_id)
        docs.append((f"id {bad_id[:30]!r}", json.dumps(doc), "json"))
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(9)
    )
    docs += [
        ("billion laughs", laughs, "yaml"),
        ("not json", "{{{", "json"),
        ("empty", "", "json"),
        ("array", "[1,2]", "json"),
        ("yaml python tag", "!!python/object/apply:os.system ['true']", "yaml"),
        ("deep", "[" * 100000 + "]" * 100000, "json"),
        ("oversize", '{"pad":"' + "x" * (33 * 1024 * 1024) + '"}', "json"),
        ("huge int", '{"session":{"id":"claude-code:big"},"n":' + "9" * 100000 + "}", "json"),
    ]
    files: list[tuple[str, list[str]]] = []
    for k, (name, text, fmt) in enumerate(docs):
        f = w.out / "imports" / f"doc{k}.{fmt}"
        f.parent.mkdir(exist_ok=True)
        f.write_text(text, encoding="utf-8", errors="surrogatepass")
        files.append((name, [str(f), "--input-format", fmt]))
    special = w.out / "imports"
    os.mkfifo(special / "fifo.json")
    (special / "zero.json").symlink_to("/dev/zero")
    files += [
        ("fifo", [str(special / "fifo.json")]),
        ("dev zero", [str(special / "zero.json")]),
        ("folder", [str(special)]),
        ("missing", [str(special / "nope.json")]),
        ("override id", [str(base_path), "--session-id", "../../../over:x"]),
        ("re-import no-redact", [str(base_path)]),
    ]

    def one(item: tuple[str, list[str]]) -> None:
        lsm(w, cat, "import-context", *item[1], timeout=60)

    pool_map(one, files)
    # Everything accepted must list, export and serve; batch-export must stay in its folder.
    before = {p for p in w.tmp.rglob("*")}
    for args in (
        ["list", "-a"],
        ["list", "-a", "-f", "json"],
        ["recommend"],
        ["search", "INST"],
        ["batch-export", "*", "-o", str(w.out / "be-imp"), "--parents"],
        ["batch-export", "*", "-o", str(w.out / "be-imp"), "--force", "-f", "markdown"],
        ["export", "over:x", "-f", "json", "-o", "-"],
        ["info", "-f", "json"],
    ):
        lsm(w, cat, *args, timeout=90)
    after = {p for p in w.tmp.rglob("*")}
    outside = [p for p in after - before if w.out / "be-imp" not in p.parents and p != w.out / "be-imp"]
    outside = [p for p in outside if w.lsm_home not in p.parents and w.home / ".config" not in p.parents]
    if outside:
        T.find(cat, "leaks", ["batch-export"], f"files written outside --output-dir: {outside[:5]}")
    for f in (w.out / "be-imp").rglob("*"):
        if f.is_file():
            T.add(cat, "inputs")
            check_output(
                cat, ["file", f.name[:80]], f.read_bytes(), "batch-export file", terminal=f.suffix == ".md"
            )


# --------------------------------------------------------------------------------------------------
# Stores


def attack_stores(w: World, ids: dict[str, list[str]]) -> None:  # noqa: C901 (one attack, step by step)
    cat = "damaged stores"
    db = w.lsm_home / "lsm.db"
    sid = ids["hostile"][0]

    def fresh(name: str) -> World:
        d = w.tmp / "stores" / name
        d.mkdir(parents=True)
        if db.exists():
            shutil.copy(db, d / "lsm.db")
        return World(w.tmp, w.home, d, w.out, w.work)

    def exercise(x: World, note: str) -> None:
        for args in (
            ["list", "-a"],
            ["tag", sid, "tx"],
            ["describe", sid, "d"],
            ["info"],
            ["doctor"],
            ["doctor", "-f", "json"],
            ["doctor", "--repair"],
            ["list", "-a", "-f", "json"],
        ):
            lsm(x, cat, *args, timeout=60)

    x = fresh("corrupt")
    with open(x.lsm_home / "lsm.db", "r+b") as fh:
        fh.seek(4096 * 2)
        fh.write(os.urandom(4096 * 3))
    exercise(x, "corrupt pages")
    x = fresh("header")
    with open(x.lsm_home / "lsm.db", "r+b") as fh:
        fh.write(b"garbage header!!")
    exercise(x, "garbage header")
    x = fresh("droptable")
    con = sqlite3.connect(x.lsm_home / "lsm.db")
    tables = [r[0] for r in con.execute("select name from sqlite_master where type='table'")]
    con.close()
    for t in tables[:6]:
        y = fresh(f"drop-{t}")
        con = sqlite3.connect(y.lsm_home / "lsm.db")
        con.execute(f'drop table "{t}"')
        con.commit()
        con.close()
        for args in (["list", "-a"], ["tag", sid, "ty"], ["doctor"]):
            lsm(y, cat, *args, timeout=60)
    x = fresh("empty")
    (x.lsm_home / "lsm.db").write_bytes(b"")
    exercise(x, "empty file")
    x = fresh("dir")
    (x.lsm_home / "lsm.db").unlink(missing_ok=True)
    (x.lsm_home / "lsm.db").mkdir()
    for args in (["list", "-a"], ["doctor"]):
        lsm(x, cat, *args, timeout=30)
    x = fresh("fifo")
    (x.lsm_home / "lsm.db").unlink(missing_ok=True)
    os.mkfifo(x.lsm_home / "lsm.db")
    for args in (["list", "-a"], ["doctor"]):
        lsm(x, cat, *args, timeout=30)
    x = World(w.tmp, w.home, w.tmp / "stores" / "homefile", w.out, w.work)
    x.lsm_home.parent.mkdir(exist_ok=True)
    x.lsm_home.write_text("a file, not a folder")
    lsm(x, cat, "list", "-a", timeout=30)
    # Locked: another connection holds an exclusive lock for 20 s.
    x = fresh("locked")
    ready = threading.Event()

    def hold() -> None:
        con = sqlite3.connect(x.lsm_home / "lsm.db", timeout=1, isolation_level=None)
        con.execute("begin exclusive")
        ready.set()
        time.sleep(20)
        con.execute("rollback")
        con.close()

    th = threading.Thread(target=hold)
    th.start()
    ready.wait(5)
    for args in (["list", "-a"], ["tag", sid, "tz"], ["doctor"]):
        lsm(x, cat, *args, timeout=40)
    th.join()
    # Read-only: as root, run lsm as nobody over a store it cannot write.
    x = fresh("readonly")
    runner: list[str] = []
    if os.geteuid() == 0 and shutil.which("setpriv"):
        runner = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        for p in (w.tmp, *w.tmp.parents):
            if p != Path("/"):
                os.chmod(p, os.stat(p).st_mode | 0o005)
        for p in x.lsm_home.rglob("*"):
            with contextlib.suppress(OSError):
                os.chmod(p, (os.stat(p).st_mode | 0o005) & ~0o222)
        os.chmod(x.lsm_home, 0o555)
        os.chmod(x.lsm_home / "lsm.db", 0o444)
    else:
        os.chmod(x.lsm_home / "lsm.db", 0o444)
        os.chmod(x.lsm_home, 0o555)
    for args in (["list", "-a"], ["tag", sid, "tro"], ["describe", sid, "ro"], ["doctor", "--repair"]):
        T.add(cat, "inputs")
        try:
            p = subprocess.run(
                [*runner, *LSM, *args],
                capture_output=True,
                timeout=60,
                env=x.env(HOME=str(w.tmp / "nobody-home")),
                cwd="/",
            )
        except subprocess.TimeoutExpired:
            T.find(cat, "hangs", ["(read-only)", *args], "timeout")
            continue
        if b"Traceback" in p.stderr or p.returncode not in DOCUMENTED:
            T.find(cat, "crashes", ["(read-only)", *args], f"rc={p.returncode} {p.stderr[-400:].decode()}")
        check_output(cat, args, p.stdout + p.stderr, "read-only")
    os.chmod(x.lsm_home, 0o755)


# --------------------------------------------------------------------------------------------------
# Concurrency


def attack_concurrency(w: World, ids: dict[str, list[str]]) -> None:  # noqa: C901 (one attack, step by step)
    cat = "8 concurrent writers"
    targets = ids["secret"][10:18]
    base = w.out / "base.json"
    imported: list[str] = []
    for rnd in range(5):
        jobs = []
        for k, sid in enumerate(targets):
            if k % 3 == 0:
                doc = with_id(json.loads(base.read_text()), f"claude-code:conc-{rnd}-{k}")
                f = w.out / f"conc-{rnd}-{k}.json"
                f.write_text(json.dumps(doc))
                imported.append(f"conc-{rnd}-{k}")
                jobs.append(["import-context", str(f)])
            elif k % 3 == 1:
                jobs.append(["describe", sid, f"desc-{rnd}-{k}"])
            else:
                jobs.append(["tag", sid, f"c{rnd}x{k}"])
        runs = pool_map(lambda j: lsm(w, cat, *j, timeout=60), jobs, workers=8)
        for r in runs:
            if b"locked" in r.err:
                T.find(cat, "crashes", r.argv, "database is locked: " + r.err.decode()[:200])
    listed = lsm(w, cat, "list", "-a", "-f", "json").json()
    by_id = {o["native_id"]: o for o in listed}
    for rnd in range(5):
        for k, sid in enumerate(targets):
            if k % 3 == 2 and f"c{rnd}x{k}" not in (by_id.get(sid, {}).get("tags") or []):
                T.find(cat, "lost_writes", ["tag", sid, f"c{rnd}x{k}"], "tag missing afterwards")
            if k % 3 == 0 and not any(f"conc-{rnd}-{k}" in i for i in by_id):
                T.find(cat, "lost_writes", ["import-context", f"conc-{rnd}-{k}"], "import missing afterwards")
    for k, sid in enumerate(targets):
        if k % 3 == 1 and (by_id.get(sid, {}).get("description") or "") != f"desc-4-{k}":
            T.find(
                cat,
                "lost_writes",
                ["describe", sid],
                f"description is {by_id.get(sid, {}).get('description')!r}",
            )
    # First-run race: 8 commands on a fresh data dir, three times.
    for rnd in range(3):
        x = World(w.tmp, w.home, w.tmp / f"race{rnd}", w.out, w.work)
        jobs = [["tag", ids["hostile"][k % 4], f"race{k}"] if k % 2 else ["list", "-a"] for k in range(8)]
        for r in pool_map(lambda j, x=x: lsm(x, cat, *j, timeout=90), jobs, workers=8):
            if r.rc not in (0, None):
                T.find(cat, "crashes", r.argv, f"first-run race rc={r.rc}: {r.err.decode()[:200]}")


# --------------------------------------------------------------------------------------------------
# Config


def attack_config(w: World) -> None:  # noqa: C901 (one attack, step by step)
    cat = "hostile config"
    defaults = lsm(w, cat, "show-config", "-f", "json").json()["config"]
    numeric: list[str] = []

    def walk(d: dict[str, Any], prefix: str) -> None:
        for k, v in d.items():
            if isinstance(v, dict):
                walk(v, f"{prefix}{k}.")
            elif (isinstance(v, (int, float)) and not isinstance(v, bool)) or v is None:
                numeric.append(prefix + k)

    walk(defaults, "")
    cdir = w.tmp / "configs"
    cdir.mkdir()
    cases: list[tuple[str, str]] = []
    for key in numeric:
        for val in (
            ".nan",
            ".inf",
            "-.inf",
            "-1",
            "1e-9",
            "1e308",
            "100000000000000000000000",
            "'abc'",
            "[]",
        ):
            doc: Any = val
            for part in reversed(key.split(".")):
                doc = f"{{{part}: {doc}}}"
            cases.append((f"{key}={val}", doc + "\n"))
    cases += [
        ("aider depth", "aider: {max_depth: 1000000000}\n"),
        ("aider roots loop", f"aider: {{search_roots: ['{w.work / 'loop'}'], max_depth: 50}}\n"),
        (
            "laughs",
            "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
            "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
            "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n",
        ),
        ("python tag", "idle_minutes: !!python/object/apply:os.system ['true']\n"),
        ("statusline markup", "statusline: {format: '[/INST] \\e]0;PWNED\\a {model}'}\n"),
        ("models markup", "models: {'[/x]\\e[31m': {input: .nan, output: -1}}\n"),
        ("list", "[1, 2]\n"),
        ("binary", "\x00\x01\x02"),
        ("huge", "idle_minutes: 5\n" + "#" * 30_000_000 + "\n"),
    ]
    files: list[Path] = []
    for k, (_name, text) in enumerate(cases):
        f = cdir / f"c{k}.yaml"
        f.write_text(text)
        files.append(f)
    os.mkfifo(cdir / "fifo.yaml")
    (cdir / "zero.yaml").symlink_to("/dev/zero")
    files += [cdir / "fifo.yaml", cdir / "zero.yaml", cdir, cdir / "missing.yaml"]

    def one(f: Path) -> None:
        env = w.env(LSM_CONFIG=str(f))
        for args in (["list", "-a"], ["show-config"]):
            lsm(w, cat, *args, env=env, timeout=30)

    pool_map(one, files)
    sample = [f for f in files if f.is_file()][::7]
    for f in sample:
        env = w.env(LSM_CONFIG=str(f))
        for args in (["recommend"], ["health", "-f", "json", "zzz"], ["statusline"]):
            lsm(w, cat, *args, env=env, timeout=30, stdin=b"{}")
    x = World(w.tmp, w.tmp / "cfg-home", w.lsm_home, w.out, w.work)
    x.home.mkdir()
    for args in (["init-config"], ["init-config"], ["init-config", "--force"]):
        lsm(x, cat, *args, env=x.env())


# --------------------------------------------------------------------------------------------------
# Terminal programs: the monitor in a pty, notify until Ctrl-C


def in_pty(
    argv: list[str], env: dict[str, str], seconds: float, keys: bytes = b"q"
) -> tuple[bytes, int | None]:
    master, slave = pty.openpty()
    os.set_blocking(master, False)
    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    out = bytearray()
    end = time.monotonic() + seconds
    sent = False
    while time.monotonic() < end + 8:
        if not sent and time.monotonic() > end:
            with contextlib.suppress(OSError):
                os.write(master, keys)
            sent = True
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            with contextlib.suppress(OSError):
                out += os.read(master, 65536)
        if p.poll() is not None and sent:
            break
    rc = p.poll()
    if rc is None:
        p.kill()
        p.wait()
    with contextlib.suppress(OSError):
        while True:
            chunk = os.read(master, 65536)
            if not chunk:
                break
            out += chunk
    os.close(master)
    return bytes(out), rc


def attack_terminal(w: World) -> None:
    cat = "monitor (pty) and notify"
    for args in (["monitor"], ["monitor", "--interval", "0.000000001"], ["monitor", "--interval", "inf"]):
        T.add(cat, "inputs")
        env = w.env(TERM="xterm-256color", COLUMNS="200", LINES="50")
        out, rc = in_pty([*LSM, *args], env, 6)
        if rc is None:
            T.find(cat, "hangs", args, "did not end on q")
        elif rc not in DOCUMENTED or b"Traceback" in out:
            T.find(cat, "crashes", args, f"rc={rc} {out[-400:]!r}")
        bad = [m for m in MARKERS if m in out] + secret_leaks([out.decode("utf-8", "replace")])[:3]
        if bad:
            T.find(cat, "leaks", args, f"hostile bytes reached the terminal: {bad}")
    T.add(cat, "inputs")
    p = subprocess.Popen([*LSM, "notify"], env=w.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(3)
    p.send_signal(signal.SIGINT)
    try:
        out, err = p.communicate(timeout=10)
        if p.returncode not in DOCUMENTED or b"Traceback" in err:
            T.find(cat, "crashes", ["notify"], f"rc={p.returncode} {err[-300:]!r}")
        check_output(cat, ["notify"], out + err, "notify")
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        T.find(cat, "hangs", ["notify"], "did not stop on Ctrl-C")


# --------------------------------------------------------------------------------------------------
# Hooks and statusline (their installers change agents' files by design: an own HOME)


def attack_hooks(w: World) -> None:
    cat = "hook, statusline, installers"
    payloads = [
        b"",
        b"{",
        b"[]",
        b"null",
        b'{"hook_event_name": []}',
        b"\xff\xfe" * 1000,
        json.dumps(
            {
                "hook_event_name": "Notification",
                "session_id": "../../x",
                "message": HOSTILE_TITLES[3] + SECRETS[9].context,
                "cwd": "\x1b]0;PWNED\x07",
            }
        ).encode(),
        json.dumps(
            {"hook_event_name": "UserPromptSubmit", "session_id": "a" * 100000, "prompt": SECRETS[10].context}
        ).encode(),
        b'{"session_id":"s","hook_event_name":"Stop","x":' + b"[" * 50000 + b"]" * 50000 + b"}",
        b"x" * (20 * 1024 * 1024),
    ]
    for agent in ("claude-code", "gemini", "codex", "bogus", "../../x"):
        for pl in payloads:
            r = lsm(w, cat, "hook", agent, stdin=pl, timeout=30)
            if r.out:
                T.find(cat, "crashes", r.argv, f"hook printed on stdout: {r.out[:100]!r}")
    statusline = [
        b"",
        b"{",
        json.dumps(
            {
                "model": {"display_name": HOSTILE_TITLES[1] + HOSTILE_TITLES[3]},
                "cost": {"total_cost_usd": 1e308},
                "session_id": SECRETS[11].secret,
                "rate_limits": {"five_hour": {"used_percentage": float("nan")}},
            }
        ).encode(),
        json.dumps(
            {
                "model": "x",
                "context_window": {"used_percentage": -1e30},
                "workspace": {"current_dir": "\x1b[2J"},
            }
        ).encode(),
        (REPO / "tests" / "fixtures" / "claude" / "statusline-test.json").read_bytes(),
    ]
    for pl in statusline:
        lsm(w, cat, "statusline", stdin=pl, timeout=30, env=w.env(COLUMNS="0"))
        lsm(w, cat, "statusline", stdin=pl, timeout=30)
    x = World(w.tmp, w.tmp / "hooks-home", w.tmp / "hooks-data", w.out, w.work)
    (x.home / ".claude").mkdir(parents=True)
    (x.home / ".claude" / "settings.json").write_text('{"hooks": "not a mapping", "statusLine": []}')
    (x.home / ".gemini").mkdir()
    os.mkfifo(x.home / ".gemini" / "settings.json")
    for args in (
        ["hooks", "install"],
        ["hooks", "status", "-f", "json"],
        ["hooks", "install", "--agent", "codex"],
        ["hooks", "uninstall"],
        ["statusline", "install"],
        ["statusline", "install", "--force"],
        ["statusline", "uninstall"],
        ["hooks", "install", "--agent", "bogus"],
    ):
        lsm(x, cat, *args, env=x.env(), timeout=30)


# --------------------------------------------------------------------------------------------------
# MCP


def mcp_stdio(
    argv: list[str], env: dict[str, str], requests: list[bytes], timeout: float = 60
) -> tuple[list[Any], bytes, int | None]:
    p = subprocess.Popen(
        [*LSM, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    try:
        out, err = p.communicate(b"".join(r + b"\n" for r in requests), timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        return [], err, None
    msgs = []
    for line in out.splitlines():
        with contextlib.suppress(ValueError):
            msgs.append(json.loads(line))
    return msgs, out + b"\n" + err, p.returncode


INIT = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "adv", "version": "1"},
    },
}


def rpc(i: int, method: str, params: Any = None) -> bytes:
    msg: dict[str, Any] = {"jsonrpc": "2.0", "id": i, "method": method}
    if params is not None:
        msg["params"] = params
    return json.dumps(msg).encode()


def fill_args(schema: dict[str, Any], sid: str, hostile: str) -> dict[str, Any]:
    args: dict[str, Any] = {}
    for name, prop in (schema.get("properties") or {}).items():
        t = prop.get("type")
        if "session" in name:
            args[name] = sid
        elif t == "string" or "anyOf" in prop:
            args[name] = hostile
        elif t == "integer" or t == "number":
            args[name] = 2**70
        elif t == "array":
            args[name] = [hostile]
        elif t == "boolean":
            args[name] = True
    return args


def attack_mcp_stdio(w: World, ids: dict[str, list[str]]) -> None:  # noqa: C901 (one attack, step by step)
    cat = "MCP stdio"
    sid = ids["hostile"][11]
    init = json.dumps(INIT).encode()
    inited = b'{"jsonrpc":"2.0","method":"notifications/initialized"}'
    for server in (["mcp-server"], ["mcp-session-server", sid], ["mcp-session-server", ids["secret"][0]]):
        msgs, blob, rc = mcp_stdio(
            server, w.env(), [init, inited, rpc(1, "tools/list"), rpc(2, "resources/list")]
        )
        T.add(cat, "inputs")
        tools = next((m["result"]["tools"] for m in msgs if m.get("id") == 1 and "result" in m), [])
        resources = next(
            (m["result"].get("resources", []) for m in msgs if m.get("id") == 2 and "result" in m), []
        )
        if not tools:
            T.find(cat, "crashes", server, f"no tools/list answer, rc={rc}: {blob[-300:]!r}")
            continue
        reqs = [init, inited]
        k = 10
        for tool in tools:
            for hostile in ("[/INST]", HOSTILE_TITLES[3], "a" * 10000, SECRETS[12].context, "../../x", "*"):
                for sess in (sid, ids["secret"][1], "zzz", hostile):
                    reqs.append(
                        rpc(
                            k,
                            "tools/call",
                            {
                                "name": tool["name"],
                                "arguments": fill_args(tool.get("inputSchema", {}), sess, hostile),
                            },
                        )
                    )
                    k += 1
        for res in resources:
            reqs.append(rpc(k, "resources/read", {"uri": res["uri"]}))
            k += 1
        for uri in (
            "sessions://" + sid,
            "sessions://../../etc/passwd",
            "session://" + "a" * 10000,
            "file:///etc/passwd",
        ):
            reqs.append(rpc(k, "resources/read", {"uri": uri}))
            k += 1
        malformed = [
            b"{",
            b"[]",
            b"null",
            b'{"jsonrpc":"2.0","id":900}',
            b'{"jsonrpc":"2.0","id":901,"method":5}',
            b'{"jsonrpc":"1.0","id":902,"method":"tools/list"}',
            b'{"id":903,"method":"tools/list"}',
            b'{"jsonrpc":"2.0","id":904,"method":"tools/call","params":"x"}',
            b'{"jsonrpc":"2.0","id":905,"method":"tools/call","params":{"name":[]}}',
            b'{"jsonrpc":"2.0","id":906,"method":"nope/nope"}',
            b'{"jsonrpc":"2.0","id":{"a":1},"method":"tools/list"}',
            b'{"jsonrpc":"2.0","id":907,"method":"tools/call","params":{"name":"list_sessions","arguments":[]}}',
            b'{"jsonrpc":"2.0","id":908,"method":"resources/read","params":{}}',
            b'{"jsonrpc":"2.0","id":909,"method":"tools/list","params":[1]}',
            b"\xff\xfe garbage",
            b'{"jsonrpc":"2.0","id":910,"method":"ping"}',
        ]
        reqs += malformed
        expected = set(range(10, k)) | {900, 901, 902, 903, 904, 905, 906, 907, 908, 909, 910}
        T.add(cat, "inputs", len(reqs))
        start = time.monotonic()
        msgs, blob, rc = mcp_stdio(server, w.env(), reqs, timeout=240)
        if rc is None:
            T.find(cat, "hangs", server, f"no exit within 240 s after {len(reqs)} requests (stdin closed)")
        answered = {m.get("id") for m in msgs if isinstance(m, dict)}
        missing = sorted(i for i in expected - answered if isinstance(i, int))
        for i in missing:
            T.find(
                cat,
                "hangs",
                server,
                f"request id {i} never answered"
                + (f": {malformed[i - 900 + (1 if i >= 900 else 0)]!r}" if 900 <= i <= 910 else ""),
            )
        if b"Traceback" in blob:
            T.find(
                cat,
                "crashes",
                server,
                "traceback: " + blob[blob.find(b"Traceback") :][:400].decode("utf-8", "replace"),
            )
        sent = {}
        for raw in reqs:
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                req = json.loads(raw)
                sent[req.get("id")] = req
        wire = blob.decode("utf-8", "replace")
        ctrl = ctrl_problems(wire.replace("\r", ""))
        if ctrl:
            T.find(cat, "leaks", server, f"raw control bytes on the MCP wire: {ctrl}")
        for m in msgs:
            found = secret_leaks(["\n".join(strings_in(m)), json.dumps(m)])
            if found:
                req = sent.get(m.get("id"), {})
                T.find(
                    cat, "leaks", server, f"MCP answer to {json.dumps(req.get('params'))[:300]}: {found[:2]}"
                )
        print(f"  {server[0]}: {len(reqs)} requests, {len(msgs)} answers in {time.monotonic() - start:.1f}s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_rebinding(w: World, cat: str, host: str) -> None:
    import httpx

    port = free_port()
    p = subprocess.Popen(
        [*LSM, "mcp-server", "--transport", "http", "--host", host, "--port", str(port)],
        env=w.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        token = w.home / ".config" / "llm-session-manager" / "mcp-http-token"
        url = f"http://[{host}]:{port}/mcp" if ":" in host else f"http://{host}:{port}/mcp"
        for _ in range(60):
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(url, timeout=1)
                break
            time.sleep(0.3)
        tok = token.read_text().strip() if token.exists() else ""
        for extra in ({"host": "evil.example"}, {"origin": "http://evil.example"}, {}):
            T.add(cat, "inputs")
            try:
                r = httpx.post(
                    url,
                    content=json.dumps(INIT),
                    timeout=10,
                    headers={
                        "content-type": "application/json",
                        "accept": "application/json, text/event-stream",
                        "authorization": f"Bearer {tok}",
                        **extra,
                    },
                )
            except httpx.HTTPError as exc:
                T.find(cat, "hangs", ["--host", host, str(extra)], repr(exc))
                continue
            if extra and r.status_code < 400:
                T.find(cat, "leaks", ["--host", host, str(extra)], f"DNS rebinding accepted: {r.status_code}")
            if not extra and r.status_code != 200:
                T.find(cat, "crashes", ["--host", host], f"right token and host refused: {r.status_code}")
    finally:
        p.send_signal(signal.SIGINT)
        try:
            p.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            T.find(cat, "hangs", ["mcp-server", "--host", host], "did not stop on Ctrl-C")


def attack_mcp_http(w: World) -> None:  # noqa: C901 (one attack, step by step)
    cat = "MCP HTTP"
    import httpx

    port = free_port()
    p = subprocess.Popen(
        [*LSM, "mcp-server", "--transport", "http", "--host", "127.0.0.1", "--port", str(port)],
        env=w.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    T.add(cat, "inputs")
    try:
        token_file = w.home / ".config" / "llm-session-manager" / "mcp-http-token"
        url = f"http://127.0.0.1:{port}/mcp"
        end = time.monotonic() + 30
        while time.monotonic() < end:
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(url, timeout=1)
                break
            time.sleep(0.3)
        token = token_file.read_text().strip() if token_file.exists() else ""
        mode = oct(token_file.stat().st_mode & 0o777) if token_file.exists() else "missing"
        if mode != "0o600":
            T.find(cat, "leaks", ["token file"], f"token file mode {mode}")
        hdr = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
        body = json.dumps(INIT)
        call = json.dumps(
            {
                "jsonrpc": "2.0",
                "id": 5,
                "method": "tools/call",
                "params": {"name": "list_sessions", "arguments": {}},
            }
        )
        cases = [
            ("no token", {}, 401),
            ("wrong token", {"authorization": "Bearer nope"}, 401),
            ("token prefix", {"authorization": f"Bearer {token[:-1]}"}, 401),
            ("basic", {"authorization": f"Basic {token}"}, 401),
            ("evil host", {"authorization": f"Bearer {token}", "host": "evil.example"}, 421),
            ("evil host port", {"authorization": f"Bearer {token}", "host": f"evil.example:{port}"}, 421),
            ("evil origin", {"authorization": f"Bearer {token}", "origin": "http://evil.example"}, 403),
            ("null origin", {"authorization": f"Bearer {token}", "origin": "null"}, 403),
            (
                "localhost alias",
                {"authorization": f"Bearer {token}", "host": f"localhost.evil.example:{port}"},
                421,
            ),
        ]
        for name, extra, _want in cases:
            for payload in (body, call):
                T.add(cat, "inputs")
                try:
                    r = httpx.post(url, content=payload, headers={**hdr, **extra}, timeout=15)
                except httpx.HTTPError as exc:
                    T.find(cat, "hangs", [name], repr(exc))
                    continue
                if r.status_code < 400:
                    T.find(cat, "leaks", [name], f"accepted with {r.status_code}: {r.text[:200]!r}")
                if r.status_code >= 400 and "native_id" in r.text:
                    T.find(cat, "leaks", [name], f"error body carries data: {r.text[:200]!r}")
        T.add(cat, "inputs")
        r = httpx.post(url, content=body, headers={**hdr, "authorization": f"Bearer {token}"}, timeout=15)
        if r.status_code != 200:
            T.find(
                cat, "crashes", ["right token"], f"the right token is refused: {r.status_code} {r.text[:200]}"
            )
        for method in ("GET", "DELETE", "PUT"):
            T.add(cat, "inputs")
            r = httpx.request(method, url, headers=hdr, timeout=15)
            if r.status_code < 400:
                T.find(cat, "leaks", [method, "no token"], f"{r.status_code}")
        # A slow client must not block the others.
        T.add(cat, "inputs")
        with socket.create_connection(("127.0.0.1", port)) as slow:
            slow.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\n{")
            t0 = time.monotonic()
            try:
                httpx.post(url, content=body, headers=hdr, timeout=10)
            except httpx.HTTPError:
                T.find(cat, "hangs", ["slow client"], "a half-sent request blocks the server")
            if time.monotonic() - t0 > 5:
                T.find(cat, "hangs", ["slow client"], f"answer took {time.monotonic() - t0:.1f}s")
    finally:
        p.send_signal(signal.SIGINT)
        try:
            out, err = p.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            T.find(cat, "hangs", ["mcp-server http"], "did not stop on Ctrl-C")
        if b"Traceback" in err:
            T.find(cat, "crashes", ["mcp-server http"], err[err.find(b"Traceback") :][:400].decode())
        check_output(
            cat, ["mcp-server http"], out + err.replace(token.encode() if token else b"\0", b""), "server"
        )
    for host in ("0.0.0.0", "::", "192.0.2.1", "localhost.evil.example", "evil example"):
        lsm(
            w,
            cat,
            "mcp-server",
            "--transport",
            "http",
            "--host",
            host,
            "--port",
            str(free_port()),
            timeout=20,
        )
    for host in ("127.0.0.2", "0:0:0:0:0:0:0:1"):  # loopback written another way: served, with every check on
        http_rebinding(w, cat, host)


# --------------------------------------------------------------------------------------------------
# Decoy processes (run inside a PID namespace)

DECOYS = [
    ["node", "--eval=setTimeout(()=>{},120000)", "claude"],
    ["node", "-e", "setTimeout(()=>{},120000)", "claude"],
    ["node", "--print", "setTimeout(()=>{},120000)", "codex"],
    ["node", "--input-type=module", "--eval", "setTimeout(()=>{},120000)", "gemini"],
    ["python3", "-c", "import time; time.sleep(120)", "aider"],
    ["python3", "-Ic", "import time; time.sleep(120)", "claude"],
    ["bash", "-c", "sleep 120; claude", "claude"],
    ["sh", "-c", "sleep 120 # codex --resume"],
    ["bash", "-c", "exec -a claude sleep 120"],
    ["bash", "-c", "exec -a codex sleep 120"],
    ["tail", "-f", "/dev/null", "--", "claude", "--session-id"],
]


def decoy_inner(tmp: Path) -> dict[str, Any]:  # noqa: C901 (one attack, step by step)
    """Runs as PID 1's child in a fresh PID namespace: start decoys and one agent-shaped process in
    the same project folder, then list and batch-close."""
    w = World(tmp, tmp / "home", tmp / "lsm-data", tmp / "out", tmp / "home" / "work")
    for p in (w.home, w.out, w.work):
        p.mkdir(parents=True, exist_ok=True)
    project = w.work / "decoyproj"
    project.mkdir(parents=True)
    bindir = tmp / "bin"
    bindir.mkdir()
    (bindir / "claude").symlink_to(sys.executable)
    procs: list[tuple[str, subprocess.Popen[bytes]]] = []
    for argv in DECOYS:
        if shutil.which(argv[0]) is None:
            continue
        procs.append(
            (
                "decoy",
                subprocess.Popen(argv, cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
            )
        )
    agent = subprocess.Popen(
        [str(bindir / "claude"), str(FAKE_AGENTS / "sleeper.py")],
        cwd=project,
        stdout=subprocess.PIPE,
        env={**os.environ, "FAKE_AGENT_LIFETIME": "120"},
    )
    assert agent.stdout is not None
    agent.stdout.readline()
    time.sleep(0.3)
    claude_session(w, 777, "the real agent's session", cwd=project)  # written after every process started
    for i in range(len(procs)):  # bait for cwd linking: one more session in the same folder per decoy
        claude_session(w, 800 + i, f"decoy bait {i}", cwd=project)
    result: dict[str, Any] = {"decoys": len(procs), "runs": [], "wrong": [], "agent_pid": agent.pid}
    mine = {pr.pid for _, pr in procs} | {agent.pid}
    procs = [(k, pr) for k, pr in procs if pr.poll() is None]  # a decoy that could not start is no bait
    result["decoys"] = len(procs)
    env = w.env(LSM_DISCOVERY="on")
    for args in (
        ["list", "--format", "json"],
        ["list", "-a", "--format", "json"],
        ["batch-close", "*", "--dry-run", "--format", "json"],
        ["batch-close", "*", "--force", "--timeout", "3"],
    ):
        if "--force" in args:
            dry = result["runs"][-1]
            targets = set(dry.get("pids", []))
            if not targets <= {agent.pid} or not dry.get("ok"):
                result["wrong"].append(f"dry-run targets {sorted(targets - {agent.pid})} besides the agent")
                # Only where lsm can see nothing but this script's processes (PID 1 of a new namespace).
                if os.getpid() != 1 or not targets <= mine:
                    result["wrong"].append("--force not run: its targets are not provably this script's own")
                    break
        p = subprocess.run([*LSM, *args], capture_output=True, env=env, timeout=60, cwd=str(w.home))
        entry: dict[str, Any] = {
            "argv": args,
            "rc": p.returncode,
            "err": p.stderr.decode("utf-8", "replace")[-400:],
            "ok": p.returncode == 0,
        }
        with contextlib.suppress(ValueError):
            doc = json.loads(p.stdout)
            pids: set[int] = set()
            for s in doc if isinstance(doc, list) else [doc]:
                for v in _find_pids(s):
                    pids.add(v)
            entry["pids"] = sorted(pids)
            linked = {s.get("pid") for s in doc if isinstance(s, dict)} if isinstance(doc, list) else set()
            wrong_links = sorted(x for x in linked if x and x != agent.pid)
            if wrong_links:
                result["wrong"].append(f"{args}: decoy linked as an agent: pid {wrong_links}")
        result["runs"].append(entry)
    time.sleep(1)
    for _, pr in procs:
        if pr.poll() is not None:
            result["wrong"].append(f"decoy {pr.args} ended by batch-close --force (rc {pr.returncode})")
    result["agent_closed"] = agent.poll() is not None
    result["outside"] = [pid for r in result["runs"] for pid in r.get("pids", []) if pid not in mine]
    for _, pr in [*procs, ("agent", agent)]:
        with contextlib.suppress(OSError):
            pr.kill()
        pr.wait()
    return result


def _find_pids(value: Any) -> Iterator[int]:
    if isinstance(value, dict):
        for k, v in value.items():
            if k in ("pid", "pids", "killed", "signalled") and isinstance(v, int) and not isinstance(v, bool):
                yield v
            elif isinstance(v, list) and k in ("pids", "killed", "signalled"):
                yield from (x for x in v if isinstance(x, int))
            else:
                yield from _find_pids(v)
    elif isinstance(value, list):
        for v in value:
            yield from _find_pids(v)


def attack_decoys(w: World) -> None:
    cat = "decoy processes"
    tmp = w.tmp / "decoys"
    argv = [PY, __file__, "--decoy-inner", str(tmp)]
    ns = shutil.which("unshare")
    if (
        ns
        and subprocess.run([ns, "--pid", "--fork", "--mount-proc", "true"], capture_output=True).returncode
        == 0
    ):
        argv = [ns, "--pid", "--fork", "--mount-proc", *argv]
        where = "own PID namespace"
    else:
        where = "shared PID namespace, --force gated by --dry-run"
    p = subprocess.run(argv, capture_output=True, timeout=200, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        res = json.loads(p.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        T.find(cat, "crashes", ["decoy run"], p.stderr.decode()[-600:])
        return
    T.add(cat, "inputs", res["decoys"] * len(res["runs"]))
    print(
        f"  decoys ({where}): {res['decoys']} decoys,"
        f" agent closed by batch-close --force: {res['agent_closed']}"
    )
    for r in res["runs"]:
        if r["rc"] not in DOCUMENTED or "Traceback" in r["err"]:
            T.find(cat, "crashes", r["argv"], f"rc={r['rc']} {r['err']}")
    for x in res["wrong"]:
        T.find(cat, "wrong_kills", ["batch-close"], x)
    if res["outside"]:
        T.find(cat, "wrong_kills", ["batch-close"], f"pids outside this run: {res['outside']}")
    if not res["agent_closed"]:
        T.find(
            cat,
            "lost_writes",
            ["batch-close --force"],
            "the real agent-shaped process was not ended: " + json.dumps(res["runs"])[-500:],
        )


# --------------------------------------------------------------------------------------------------


def shown(argv: list[str]) -> str:
    return " ".join(repr(a) if " " in a else a for a in argv)


def report() -> int:
    cats = list(T.counts)
    width = max(len(c) for c in cats) + 2
    print("\n" + "category".ljust(width) + "".join(c.rjust(14) for c in CATS))
    total: Counter[str] = Counter()
    for c in cats:
        print(c.ljust(width) + "".join(str(T.counts[c][k]).rjust(14) for k in CATS))
        total.update(T.counts[c])
    print("TOTAL".ljust(width) + "".join(str(total[k]).rjust(14) for k in CATS))
    if T.findings:
        print(f"\n{len(T.findings)} findings:")
        seen: Counter[str] = Counter()
        for f in T.findings:
            key = f"{f.category}|{f.kind}|{f.argv[:1]}|{f.detail[:60]}"
            seen[key] += 1
            if seen[key] <= 2:
                print(f"- [{f.category}] {f.kind}: lsm {shown(f.argv)}\n    {f.detail}")
        dup = sum(v - 2 for v in seen.values() if v > 2)
        if dup:
            print(f"  ({dup} more like those above)")
    return 1 if any(total[k] for k in CATS[1:]) else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--only", help="comma-separated phases to run")
    ap.add_argument("--decoy-inner", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.decoy_inner:
        print(json.dumps(decoy_inner(Path(a.decoy_inner))))
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="lsm-adversarial-"))
    t0 = time.monotonic()
    try:
        w, ids = build_world(tmp)
        before = snapshot(w.home)
        phases: list[tuple[str, Callable[[], None]]] = [
            ("commands", lambda: attack_commands(w, ids)),
            ("imports", lambda: attack_imports(w, ids)),
            ("concurrency", lambda: attack_concurrency(w, ids)),
            ("stores", lambda: attack_stores(w, ids)),
            ("config", lambda: attack_config(w)),
            ("terminal", lambda: attack_terminal(w)),
            ("hooks", lambda: attack_hooks(w)),
            ("mcp-stdio", lambda: attack_mcp_stdio(w, ids)),
            ("mcp-http", lambda: attack_mcp_http(w)),
            ("decoys", lambda: attack_decoys(w)),
        ]
        only = set(a.only.split(",")) if a.only else None
        for name, fn in phases:
            if only and name not in only:
                continue
            if time.monotonic() > DEADLINE:
                print(f"time budget spent: phase {name} skipped")
                continue
            s = time.monotonic()
            try:
                fn()
            except Exception as exc:  # the script's own failure: reported, never counted against lsm
                import traceback

                traceback.print_exc()
                print(f"phase {name} stopped by an error of this script: {exc!r}")
            print(f"phase {name}: {time.monotonic() - s:.0f}s", flush=True)
        changed = diff_snapshots(before, snapshot(w.home))
        T.add("agents' files (hash before/after)", "inputs", len(before))
        for c in changed:
            T.find("agents' files (hash before/after)", "files_changed", ["snapshot"], c)
        print(f"\n{time.monotonic() - t0:.0f}s in {tmp}")
        return report()
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
