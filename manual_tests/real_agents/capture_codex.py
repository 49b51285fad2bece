"""Capture what Codex CLI writes, against the loopback model stub, as a test fixture.

Run as root from the repository root, after setup.sh (needs tmux for the interactive scenario)::

    python3 manual_tests/real_agents/capture_codex.py [--live-check]

It recreates /home/dev/.codex and /home/dev/work/codex-* (nothing else in /home/dev), starts stub.py,
points Codex at it with a ``[model_providers.stub]`` (Responses API, fake key in ``STUB_KEY``), runs the
scenarios one at a time, then writes tests/fixtures/real/codex-<version>/{home/, truth.json,
PROVENANCE.md}. ``--live-check`` runs ``lsm list`` while the interactive session is open and prints
whether lsm lists it running with the TUI's pid.

The truth comes from the stub's log, never from lsm: Codex sends its thread id with every request
(``session-id`` header), so each answered call belongs to the session of that id. In lsm's terms
(docs/TOKENS_AND_COST.md, Codex): the stub sends ``input_tokens = input + cache_read + cache_write``
with the cached and cache-write parts in ``input_tokens_details``; Codex logs that gross figure and lsm's
``input`` is the uncached part, so per call: input = stub input, cache_read = stub cache_read,
cache_creation = stub cache_write, output = stub output (reasoning is inside it). Context tokens are
the last call's ``total_tokens`` (input + cache_read + cache_write + output), Codex's own figure; the
context window is the one Codex uses: its bundled model catalog's ``context_window`` for the last
call's model, times 95 % (Codex's effective-window share). Replies are model calls, prompts are the
distinct turns the user started, tool errors are the tool calls that ran a failing command.

The TUI makes one extra call per new thread to name it, in a throwaway thread that writes no rollout:
those calls are logged as ``event: "title"`` and belong to no session (lsm cannot see them).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CACHE = Path(os.environ.get("AGENTS_CACHE", Path.home() / ".cache" / "lsm-real-agents"))
CODEX = CACHE / "npm" / "node_modules" / ".bin" / "codex"
HOME = Path("/home/dev")
WORK = HOME / "work"
CODEX_HOME = HOME / ".codex"
RUN_DIR = Path("/tmp/lsm-capture-codex")
SWITCH_MODEL = "gpt-5.5"
EFFECTIVE_WINDOW_PERCENT = 95  # Codex's default share of a model's window it lets the context use
RUN_TIMEOUT = 120
FAILING = {"tool:fail", "read:missing"}
TMUX_SESSION = "lsm-codex-capture"
DAEMON_MARK = str(CODEX_HOME / "packages" / "app-server-daemon")


# ---------------------------------------------------------------------------------------------------
# Setup


def version() -> str:
    out = subprocess.run([str(CODEX), "--version"], capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.split()[-1]


def native_binary() -> Path:
    """The platform binary the npm launcher runs (it bundles the model catalog)."""
    found = sorted((CACHE / "npm" / "node_modules" / "@openai").glob("codex-*/vendor/*/bin/codex"))
    if not found:
        raise SystemExit("Codex's native binary is missing: run setup.sh")
    return found[0]


def bundled_catalog(binary: Path) -> dict[str, Any]:
    """The model catalog compiled into the binary (``{"models": [{"slug", "context_window", …}]}``)."""
    blob = binary.read_bytes()
    start = blob.find(b'{\n  "models": [')
    if start < 0:
        raise SystemExit(f"no bundled model catalog in {binary}")
    catalog, _ = json.JSONDecoder().raw_decode(blob[start : start + 4_000_000].decode("utf-8", "replace"))
    return dict(catalog)


def stop_daemon() -> None:
    """Stop the app-server daemon (and its updater) a previous TUI run of ours left behind, by the
    pids it recorded, after checking each is that daemon."""
    for name in ("daemon.pid", "daemon-updater.pid"):
        try:
            pid = int(json.loads((CODEX_HOME / "app-server-daemon" / name).read_text())["pid"])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if DAEMON_MARK in cmdline:
            os.kill(pid, signal.SIGTERM)


def clean_home() -> None:
    stop_daemon()
    shutil.rmtree(CODEX_HOME, ignore_errors=True)
    for old in WORK.glob("codex-*"):
        shutil.rmtree(old, ignore_errors=True)
    WORK.mkdir(parents=True, exist_ok=True)
    CODEX_HOME.mkdir(parents=True)


def write_config(port: int) -> None:
    (CODEX_HOME / "config.toml").write_text(
        'model_provider = "stub"\n'
        'approval_policy = "never"\n'
        'sandbox_mode = "danger-full-access"\n'
        "check_for_update_on_startup = false\n"
        "\n"
        "[model_providers.stub]\n"
        'name = "stub"\n'
        f'base_url = "http://127.0.0.1:{port}/codex/v1"\n'
        'wire_api = "responses"\n'
        'env_key = "STUB_KEY"\n'
    )


def make_project(name: str, git_branch: str | None = None) -> Path:
    path = WORK / f"codex-{name}"
    path.mkdir(parents=True)
    (path / "notes.txt").write_text("Notes the stub asks Codex to read.\n")
    if git_branch:
        git = ["git", "-C", str(path), "-c", "user.name=lsm", "-c", "user.email=lsm@example.invalid"]
        subprocess.run(["git", "init", "-q", "-b", git_branch, str(path)], check=True)
        subprocess.run([*git, "add", "notes.txt"], check=True)
        subprocess.run([*git, "commit", "-q", "-m", "notes"], check=True)
    with (CODEX_HOME / "config.toml").open("a") as fh:  # no "trust this folder?" prompt in the TUI
        fh.write(f'\n[projects."{path}"]\ntrust_level = "trusted"\n')
    return path


def agent_env() -> dict[str, str]:
    """Codex's whole environment: no credentials but the fake key, no proxy, loopback only."""
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(HOME),
        "CODEX_HOME": str(CODEX_HOME),
        "STUB_KEY": "sk-stub",
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
    }


class Stub:
    def __init__(self, log: Path) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "stub.py"), "--log", str(log), "--time-limit", "1200"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())

    def records(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def calls(self, session: str | None = None) -> list[dict[str, Any]]:
        return [
            r
            for r in self.records()
            if r.get("event") == "response" and (session is None or r.get("session_id") == session)
        ]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


# ---------------------------------------------------------------------------------------------------
# Scenarios


COMMANDS: list[str] = []  # every agent command line run, for PROVENANCE.md


def codex(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [str(CODEX), "exec", *args]
    COMMANDS.append(f"(cd {cwd} && codex exec {' '.join(_quote(a) for a in args)})")
    out = subprocess.run(
        argv,
        cwd=cwd,
        env=agent_env(),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    if out.returncode != 0:
        raise SystemExit(f"codex exec {args} failed ({out.returncode}): {out.stderr[-2000:]}")
    return out


def _quote(arg: str) -> str:
    return json.dumps(arg) if (" " in arg or "[" in arg) else arg


def new_session(stub: Stub, cwd: Path, prompt: str, *extra: str) -> str:
    """Run one ``codex exec`` and return the id of the session it started (from the stub's log)."""
    before = {r["session_id"] for r in stub.calls()}
    codex(cwd, "--skip-git-repo-check", *extra, prompt)
    started = [r["session_id"] for r in stub.calls() if r["session_id"] not in before]
    if not started:
        raise SystemExit(f"no model call seen for {prompt!r}")
    return str(started[0])


def resume(cwd: Path, session: str | None, prompt: str, *extra: str) -> None:
    target = [session] if session else ["--last"]
    codex(cwd, "resume", "--skip-git-repo-check", *extra, *target, prompt)


Scenario = tuple[str, str]  # (native id, scenario name)


def one_shot(stub: Stub) -> Scenario:
    cwd = make_project("oneshot")
    return new_session(stub, cwd, "Say hello in one short line."), "one-shot"


def tools(stub: Stub) -> Scenario:
    """A shell command that succeeds, one that fails, a file read and a missing file; each a resume."""
    cwd = make_project("tools", git_branch="lsm-capture")
    sid = new_session(stub, cwd, "Run a command that works [[tool:ok]]")
    resume(cwd, sid, "Now one that fails [[tool:fail]]")
    resume(cwd, sid, "Read the notes [[read:ok]]")
    resume(cwd, sid, "Read the missing file [[read:missing]]")
    return sid, "tools ok/fail/read/missing, resumed by id"


def resumed_last(stub: Stub) -> Scenario:
    cwd = make_project("resume")
    sid = new_session(stub, cwd, "First question.")
    resume(cwd, None, "Second question, after resume --last.")
    return sid, "resume --last"


def model_switch(stub: Stub) -> Scenario:
    """Resuming with another model: Codex first compacts the history with the old model."""
    cwd = make_project("switch")
    sid = new_session(stub, cwd, "Start on the default model.")
    resume(cwd, sid, f"Continue on {SWITCH_MODEL} [[tool:ok]]", "-m", SWITCH_MODEL)
    return sid, f"model switch to {SWITCH_MODEL} on resume (compaction call on the old model)"


def killed(stub: Stub) -> Scenario:
    """SIGKILL while the shell command the model asked for (``sleep 60``) runs."""
    cwd = make_project("killed")
    before = {r["session_id"] for r in stub.calls()}
    COMMANDS.append(
        f'(cd {cwd} && codex exec --skip-git-repo-check "Wait for it [[slow]]")  # SIGKILL mid-tool'
    )
    proc = subprocess.Popen(
        [str(CODEX), "exec", "--skip-git-repo-check", "Wait for it [[slow]]"],
        cwd=cwd,
        env=agent_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    sid = wait_for(
        lambda: next((r["session_id"] for r in stub.calls() if r["session_id"] not in before), None)
    )
    wait_for(lambda: _sleep_pids(cwd) or None)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    for pid in _sleep_pids(cwd):  # the command Codex started, if it outlived Codex
        os.kill(pid, signal.SIGKILL)
    return str(sid), "killed mid-tool (SIGKILL while its command runs)"


def _sleep_pids(cwd: Path) -> list[int]:
    """The ``sleep 60`` processes running in ``cwd`` (the killed scenario's command)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if argv[:2] == [b"sleep", b"60"] and os.readlink(entry / "cwd") == str(cwd):
                out.append(int(entry.name))
        except OSError:
            continue
    return out


def wait_for(probe: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.3)
    raise SystemExit("timed out waiting for the agent")


# ---------------------------------------------------------------------------------------------------
# The interactive TUI in tmux


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=30, check=True).stdout


def tmux_alive() -> bool:
    probe = subprocess.run(["tmux", "has-session", "-t", TMUX_SESSION], capture_output=True, check=False)
    return probe.returncode == 0


def pane() -> str:
    return tmux("capture-pane", "-p", "-t", TMUX_SESSION)


def type_line(text: str) -> None:
    tmux("send-keys", "-t", TMUX_SESSION, "-l", text)
    time.sleep(0.5)
    tmux("send-keys", "-t", TMUX_SESSION, "Enter")


def start_tui(cwd: Path, *args: str) -> None:
    """Codex's TUI in a detached tmux session, started in ``cwd`` with ``args``."""
    env = " ".join(f"{k}={v}" for k, v in agent_env().items())
    shown = " ".join(_quote(a) for a in args)
    command = f"env -i {env} timeout 600 {CODEX} --dangerously-bypass-approvals-and-sandbox {shown}"
    COMMANDS.append(f"(cd {cwd} && codex --dangerously-bypass-approvals-and-sandbox {shown})  # TUI in tmux")
    tmux("new-session", "-d", "-s", TMUX_SESSION, "-x", "160", "-y", "45", "-c", str(cwd), command)


def stop_tui() -> None:
    """/quit, then make sure the tmux session and the app-server daemon the TUI started are gone."""
    try:
        type_line("/quit")
        wait_for(lambda: not tmux_alive(), 30)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", TMUX_SESSION], capture_output=True, check=False)
        stop_daemon()


def new_thread(stub: Stub, before: set[str]) -> str:
    return str(
        wait_for(lambda: next((r["session_id"] for r in stub.calls() if r["session_id"] not in before), None))
    )


def interactive(stub: Stub, live_check: bool) -> Scenario:
    """The TUI: a prompt with a tool call, a failing `!` command the user runs, a prompt reading a
    missing file, then /quit. Its app-server daemon (which writes the rollout) is stopped after."""
    cwd = make_project("interactive")
    start_tui(cwd)
    try:
        wait_for(lambda: "Ask Codex" in pane(), 60)
        before = {r["session_id"] for r in stub.calls()}
        type_line("Run a command that works [[tool:ok]]")
        sid = new_thread(stub, before)
        wait_for(lambda: len(stub.calls(sid)) >= 2 and "Worked for" in pane())
        type_line("!ls /nonexistent-lsm-user-shell")
        wait_for(lambda: "You ran" in pane())
        type_line("Read the missing file [[read:missing]]")
        wait_for(lambda: len(stub.calls(sid)) >= 4)
        time.sleep(1.0)
        if live_check:
            check_live(sid)
    finally:
        stop_tui()
    return sid, "interactive TUI in tmux (a failing `!` command, /quit)"


def forked(stub: Stub, parent: str) -> Scenario:
    """``codex fork <id> <prompt>`` (TUI only): the new thread points at its parent's history
    (``session_meta.history_base``) instead of copying it."""
    cwd = WORK / "codex-tools"
    before = {r["session_id"] for r in stub.calls()}
    start_tui(cwd, "fork", parent, "Forked question [[tool:ok]]")
    try:
        sid = new_thread(stub, before)
        wait_for(lambda: len(stub.calls(sid)) >= 2 and "Worked for" in pane())
        time.sleep(1.0)
    finally:
        stop_tui()
    return sid, "fork of the tools session (codex fork, TUI), one tool call"


def check_live(sid: str) -> None:
    """Print how lsm lists the open TUI session, next to the TUI's own pid (the native ``codex``
    process that is neither the npm launcher nor the app-server daemon)."""
    out = subprocess.run(
        [str(REPO / ".venv" / "bin" / "lsm"), "list", "--format", "json"],
        env={**os.environ, "HOME": str(HOME), "LSM_HOME": str(RUN_DIR / "lsm-home")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    listed = json.loads(out.stdout or "[]")
    rows = listed if isinstance(listed, list) else listed.get("sessions", [])
    mine = [(r.get("status"), r.get("pid")) for r in rows if r.get("native_id") == sid]
    tui = [pid for pid, argv in _codex_pids() if b"app-server" not in argv]
    print(f"live check: lsm lists {sid} as (status, pid) {mine}; TUI pids {tui}")


def _codex_pids() -> list[tuple[int, bytes]]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if argv.split(b"\0")[0].endswith(b"/codex"):
                out.append((int(entry.name), argv))
    return out


# ---------------------------------------------------------------------------------------------------
# Truth


def truth_session(
    sid: str, name: str, calls: list[dict[str, Any]], windows: dict[str, int], rollout: dict[str, Any]
) -> dict[str, Any]:
    if not calls:
        raise SystemExit(f"session {sid} has no calls in the stub log")
    last = calls[-1]
    u = last["usage"]
    prompts = {c["turn_id"] for c in calls if c.get("request_kind") == "turn"}
    tool_calls = [c for c in calls if c.get("tool_call")]
    model = str(last["model"])
    session: dict[str, Any] = {
        "native_id": sid,
        "scenario": name,
        "tokens": {
            "input": sum(c["usage"]["input"] for c in calls),
            "output": sum(c["usage"]["output"] for c in calls),
            "cache_creation": sum(c["usage"]["cache_write"] for c in calls),
            "cache_read": sum(c["usage"]["cache_read"] for c in calls),
        },
        "messages": {"user": len(prompts), "assistant": len(calls)},
        "tool_calls": len(tool_calls),
        "tool_errors": sum(1 for c in tool_calls if c["scenario"] in FAILING),
        "model": model,
        "context_tokens": u["input"] + u["cache_read"] + u["cache_write"] + u["output"],
        "context_window": windows[model] * EFFECTIVE_WINDOW_PERCENT // 100,
        "project_path": rollout["cwd"],
        "status": "ended",
        "title": rollout["first_prompt"],
    }
    if rollout.get("branch"):
        session["git_branch"] = rollout["branch"]
    return session


def rollout_facts(sid: str) -> dict[str, Any]:
    """What the truth needs that is no model call: the folder we ran in, the first prompt we typed,
    the git branch we created (read back from the rollout only to find which file is which)."""
    path = next(CODEX_HOME.glob(f"*sessions/**/rollout-*-{sid}.jsonl"))
    first = json.loads(path.read_text().splitlines()[0])["payload"]
    facts: dict[str, Any] = {"cwd": first["cwd"], "path": path}
    facts["branch"] = (first.get("git") or {}).get("branch")
    for line in path.read_text().splitlines():
        obj = json.loads(line)
        item = (obj.get("payload") or {}).get("item") or {}
        if item.get("type") == "UserMessage":
            facts["first_prompt"] = item["content"][0]["text"]
            break
    return facts


# ---------------------------------------------------------------------------------------------------
# Output


def copy_home(dest: Path) -> None:
    """Only what lsm reads: the rollouts (sessions/ and archived_sessions/)."""
    shutil.rmtree(dest, ignore_errors=True)
    for sub in ("sessions", "archived_sessions"):
        if (CODEX_HOME / sub).is_dir():
            shutil.copytree(CODEX_HOME / sub, dest / ".codex" / sub)


def provenance(ver: str, names: list[Scenario], titles: int) -> str:
    lines = [
        f"# Codex CLI {ver}, captured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        "",
        f"- Agent: npm `@openai/codex@{ver}` (native binary of `@openai/codex-linux-x64`), installed by",
        "  manual_tests/real_agents/setup.sh; captured by manual_tests/real_agents/capture_codex.py.",
        "- Model: the loopback stub (manual_tests/real_agents/stub.py, wire_responses.py), Responses API",
        "  streaming, a `[model_providers.stub]` with `env_key` set to a fake key; no network, no login.",
        "- Every prompt was written by us; the stub's answers and usage figures are synthetic. The files",
        "  hold no user data. `home/` keeps only Codex's rollouts (what lsm reads).",
        f"- The TUI also made {titles} title call(s) in throwaway threads that write no rollout",
        "  (not in truth: no file records them).",
        "",
        "Sessions:",
        *[f"- `{sid}`: {name}" for sid, name in names],
        "",
        "Command lines (HOME=/home/dev, CODEX_HOME=/home/dev/.codex, STUB_KEY=sk-stub):",
        *[f"- `{c}`" for c in COMMANDS],
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--live-check", action="store_true", help="run lsm list while the TUI is open")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("run as root: it recreates /home/dev/.codex")
    ver = version()
    windows = {m["slug"]: int(m["context_window"]) for m in bundled_catalog(native_binary())["models"]}
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    RUN_DIR.mkdir(parents=True)
    clean_home()
    stub = Stub(RUN_DIR / "stub.log")
    write_config(stub.port)
    try:
        scenarios = [one_shot(stub), tools(stub)]
        scenarios += [
            resumed_last(stub),
            model_switch(stub),
            killed(stub),
            interactive(stub, args.live_check),
        ]
        scenarios.append(forked(stub, scenarios[1][0]))
    finally:
        stub.stop()
    sessions = [
        truth_session(sid, name, stub.calls(sid), windows, rollout_facts(sid)) for sid, name in scenarios
    ]
    titles = sum(1 for r in stub.records() if r.get("event") == "title")
    out = REPO / "tests" / "fixtures" / "real" / f"codex-{ver}"
    out.mkdir(parents=True, exist_ok=True)
    copy_home(out / "home")
    truth = {"agent": "codex", "version": ver, "home": str(HOME), "sessions": sessions}
    (out / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    (out / "PROVENANCE.md").write_text(provenance(ver, scenarios, titles))
    shutil.copy(stub.log, RUN_DIR / "stub-final.log")
    print(f"wrote {out} ({len(sessions)} sessions); stub log {stub.log}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
