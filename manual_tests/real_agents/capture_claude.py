"""Capture what Claude Code really writes, against the loopback model stub, with its truth.

Run as root, by hand (needs the CLI installed by setup.sh; never in CI):

    python3 manual_tests/real_agents/capture_claude.py [--out tests/fixtures/real]

It (1) recreates /home/dev/.claude, /home/dev/.claude.json and /home/dev/work/claude-* (nothing else under
/home/dev), (2) starts stub.py, (3) runs the scenarios below one at a time with ``claude -p …
--dangerously-skip-permissions --output-format json`` (one interactive session is driven in tmux), (4)
computes truth.json from the stub's log, (5) copies the transcripts (sub-agents included) into
``<out>/claude-code-<version>/home/`` and writes PROVENANCE.md.

Truth, in lsm's conventions for Claude Code (docs/TOKENS_AND_COST.md, agents/claude_code.py). The stub
sends, per answer, ``input_tokens`` I (uncached input), ``cache_creation_input_tokens`` W,
``cache_read_input_tokens`` R and ``output_tokens`` O (wire_anthropic.py), and lsm reads them as they are::

    input = I    cache_creation = W    cache_read = R    output = O

summed over the answers of the session that finished streaming. An answer belongs to the session named
by its ``x-claude-code-session-id`` header: a sub-agent's answers carry its parent's id (lsm counts its
file with the parent), a fork's answers carry the fork's id — so the history a fork copies stays its
parent's, and the fork owns only what it added (messages and tool errors too). ``context_tokens`` is
I + W + R of the session's last finished answer; ``context_window`` is what Claude Code itself uses for
the model (1,000,000 for claude-opus-4-8 and claude-sonnet-5: ``context.window`` in its bundled model
table). A tool error is a ``tool_result`` with ``is_error`` that the model got back; a tool call is an
answer with a ``tool_use`` block.
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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CACHE = Path.home() / ".cache" / "lsm-real-agents"
PACKAGE = CACHE / "npm" / "node_modules" / "@anthropic-ai" / "claude-code"
CLAUDE = CACHE / "npm" / "node_modules" / ".bin" / "claude"
HOME = Path("/home/dev")
WORK = HOME / "work"
RUN_TIMEOUT = 120
KILL_AFTER = 3  # seconds into the slow answer before the kill
MAX_FORKS = 6  # forks made until one's id sorts before its parent's (and one after, when it happens)
WINDOW = {"claude-opus-4-8": 1_000_000, "claude-sonnet-5": 1_000_000}  # Claude Code's own context.window
TMUX = "lsm-capture-claude"


@dataclass
class Run:
    prompt: str
    args: tuple[str, ...] = ()
    resume: str | None = None  # the scenario whose session this run resumes
    fork: bool = False
    kill: bool = False  # kill it mid-answer (the prompt carries [[slow]])
    session: str | None = None  # the session id it wrote to (from its JSON result or the stub)


@dataclass
class Scenario:
    name: str
    runs: list[Run]
    title: str | None = None  # a name given to the session, compared with lsm's title
    interactive: bool = False

    @property
    def project(self) -> Path:
        return WORK / f"claude-{self.name}"


SCENARIOS = [
    Scenario("one-shot", [Run("Say hello in one line.")]),
    Scenario("tool-ok", [Run("[[tool:ok]] Run the check command.")]),
    Scenario("tool-fail", [Run("[[tool:fail]] List the missing directory.")]),
    Scenario("read-ok", [Run("[[read:ok]] Read notes.txt.")]),
    Scenario("read-missing", [Run("[[read:missing]] Read the file that is not there.")]),
    Scenario(
        "resume",
        [
            Run("[[tool:fail]] List the missing directory."),
            Run("[[read:ok]] Now read notes.txt.", resume="resume"),
        ],
    ),
    Scenario("subagent", [Run("[[subagent]] Hand the check to a sub-agent.")]),
    Scenario(
        "model-switch",
        [
            Run("[[tool:ok]] Run the check command.", ("--model", "claude-sonnet-5")),
            Run("Say hello in one line.", ("--model", "claude-opus-4-8"), resume="model-switch"),
        ],
    ),
    Scenario(
        "named", [Run("Say hello in one line.", ("--name", "lsm-named-session"))], title="lsm-named-session"
    ),
    Scenario("killed", [Run("[[slow]] Take your time and answer at length.", kill=True)]),
    Scenario(
        "interactive", [Run("[[tool:ok]] Run the check command.")], title="lsm-renamed", interactive=True
    ),
]
# The parent of the forks; each fork is a scenario of its own, added while running.
FORK_PARENT = Scenario(
    "fork",
    [Run("[[tool:fail]] List the missing directory."), Run("[[read:ok]] Now read notes.txt.", resume="fork")],
)


# ---------------------------------------------------------------------------------------------------
# Running


def version() -> str:
    return str(json.loads((PACKAGE / "package.json").read_text())["version"])


def clean_home(ver: str, scenarios: list[Scenario]) -> None:
    shutil.rmtree(HOME / ".claude", ignore_errors=True)
    for name in (".claude.json", ".claude.json.backup"):
        (HOME / name).unlink(missing_ok=True)
    for old in WORK.glob("claude-*"):
        shutil.rmtree(old, ignore_errors=True)
    (HOME / ".claude").mkdir(parents=True)
    settings = {"skipDangerousModePermissionPrompt": True, "autoUpdates": False}
    (HOME / ".claude" / "settings.json").write_text(json.dumps(settings, indent=2) + "\n")
    state = {
        "hasCompletedOnboarding": True,
        "lastOnboardingVersion": ver,
        "theme": "dark",
        "bypassPermissionsModeAccepted": True,
        "customApiKeyResponses": {"approved": ["sk-stub"], "rejected": []},
        "projects": {
            str(s.project): {"hasTrustDialogAccepted": True, "hasCompletedProjectOnboarding": True}
            for s in scenarios
        },
    }
    (HOME / ".claude.json").write_text(json.dumps(state, indent=2) + "\n")
    for s in scenarios:
        s.project.mkdir(parents=True, exist_ok=True)
        (s.project / "notes.txt").write_text("stub notes\n")


def start_stub(log: Path) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "stub.py"), "--log", str(log), "--time-limit", "1500"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def agent_env(port: int) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(HOME),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}",
        "ANTHROPIC_API_KEY": "sk-stub",
        "IS_SANDBOX": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "NO_PROXY": "127.0.0.1",
    }


def command(run: Run, sessions: dict[str, str]) -> list[str]:
    cmd = [str(CLAUDE), "--dangerously-skip-permissions", "--output-format", "json", *run.args]
    if run.resume:
        cmd += ["--resume", sessions[run.resume]]
    if run.fork:
        cmd.append("--fork-session")
    return [*cmd, "-p", run.prompt]


def log_records(log: Path, start: int = 0) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(x) for x in log.read_text().splitlines()[start:]]


def wait_for(log: Path, start: int, event: str, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if any(r.get("event") == event for r in log_records(log, start)):
            return True
        time.sleep(0.2)
    return False


def kill_group(proc: subprocess.Popen[str]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def execute(run: Run, cwd: Path, port: int, log: Path, sessions: dict[str, str]) -> str:
    """Run claude -p once; set ``run.session``; return how it ended."""
    start = len(log_records(log))
    proc = subprocess.Popen(
        command(run, sessions),
        cwd=cwd,
        env=agent_env(port),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    if run.kill:
        started = wait_for(log, start, "slow", 60)
        time.sleep(KILL_AFTER)
        kill_group(proc)
        run.session = next(
            (r["session"] for r in log_records(log, start) if r.get("event") == "answer"), None
        )
        return f"killed (SIGTERM) {KILL_AFTER}s into the answer" + (
            "" if started else " (slow call not seen)"
        )
    try:
        out, err = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        return "timed out"
    try:
        result = json.loads(out)
        run.session = result.get("session_id")
        cost = result.get("total_cost_usd")
    except ValueError:
        cost = None
        print(f"  claude exited {proc.returncode}: {err.strip()[-400:]} {out[-400:]}", file=sys.stderr)
    return f"exit {proc.returncode}, Claude Code's own total_cost_usd {cost}"


def shown_command(run: Run, sessions: dict[str, str]) -> str:
    """The command line as PROVENANCE.md shows it."""
    return "claude " + " ".join(a if " " not in a else json.dumps(a) for a in command(run, sessions)[1:])


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


def execute_interactive(
    s: Scenario, port: int, log: Path, args: tuple[str, ...] = (), cwd: Path | None = None
) -> str:
    """One interactive session in tmux: a prompt, ``/rename`` when the scenario gives a name, ``/exit``."""
    env = " ".join(f"{k}={v}" for k, v in agent_env(port).items())
    script = (
        f"cd {cwd or s.project} && exec env -i {env} {CLAUDE} --dangerously-skip-permissions {' '.join(args)}"
    )
    tmux("kill-session", "-t", TMUX)
    start = len(log_records(log))
    tmux("new-session", "-d", "-s", TMUX, "-x", "160", "-y", "40", script)
    time.sleep(6)
    tmux("send-keys", "-t", TMUX, "-l", s.runs[0].prompt)
    time.sleep(0.5)
    tmux("send-keys", "-t", TMUX, "Enter")
    answered = wait_for(log, start, "stream-done", 30)
    time.sleep(4)
    if s.title:
        tmux("send-keys", "-t", TMUX, "-l", f"/rename {s.title}")
        time.sleep(0.5)
        tmux("send-keys", "-t", TMUX, "Enter")
        time.sleep(2)
    tmux("send-keys", "-t", TMUX, "-l", "/exit")
    time.sleep(0.5)
    tmux("send-keys", "-t", TMUX, "Enter")
    time.sleep(3)
    tmux("kill-session", "-t", TMUX)
    s.runs[0].session = next(
        (r["session"] for r in log_records(log, start) if r.get("event") == "answer"), None
    )
    steps = "prompt, /rename, /exit" if s.title else "prompt, /exit"
    return f"interactive in tmux: {steps}" + ("" if answered else " (no answer seen)")


# ---------------------------------------------------------------------------------------------------
# Truth


def session_truth(s: Scenario, sid: str, records: list[dict[str, Any]], parent: str | None) -> dict[str, Any]:
    done = {r["call"] for r in records if r.get("event") == "stream-done"}
    mine = [r for r in records if r.get("event") == "answer" and r.get("session") == sid]
    answered = [r for r in mine if r["call"] in done and r["kind"] == "main"]
    cut = [r["call"] for r in mine if r["call"] not in done]
    side = [r["call"] for r in mine if r["kind"] != "main"]
    results = [res for r in mine for res in r.get("tool_results") or []]

    def total(field_name: str) -> int:
        return sum(int(r["usage"][field_name]) for r in answered)

    last = answered[-1] if answered else None
    usage = last["usage"] if last else None
    own_runs = [r for r in s.runs if r.session == sid]
    truth: dict[str, Any] = {
        "native_id": sid,
        "scenario": s.name,
        "tokens": {
            "input": total("input_tokens"),
            "output": total("output_tokens"),
            "cache_creation": total("cache_creation_input_tokens"),
            "cache_read": total("cache_read_input_tokens"),
        },
        "messages": {"user": len(own_runs), "assistant": len(answered)},
        "tool_calls": sum(1 for r in answered if r.get("tool_call")),
        "tool_errors": sum(1 for res in results if res.get("is_error")),
        "model": last["model"] if last else None,
        "context_tokens": (
            usage["input_tokens"] + usage["cache_creation_input_tokens"] + usage["cache_read_input_tokens"]
            if usage
            else None
        ),
        "context_window": WINDOW.get(last["model"]) if last else None,
        "project_path": str(s.project),
        "status": "ended",
        "git_branch": None,
    }
    if s.title:
        truth["title"] = s.title
    notes = []
    if last is None:
        # No reply finished: the transcript names no model, so there is no window of its own to check.
        del truth["context_window"]
        notes.append("no reply finished, so no model or window recorded")
    if parent:
        notes.append(f"fork of {parent} (its id sorts {'before' if sid < parent else 'after'} the parent's)")
    if cut:
        notes.append(f"answer(s) {cut} cut off by the kill, never finished")
    if side:
        notes.append(f"side call(s) {side} without the conversation's tools, not in the transcript")
    if notes:
        truth["note"] = "; ".join(notes)
    return truth


def recorded_usage(sid: str) -> dict[str, int]:
    """What Claude Code itself wrote for the session's replies (for the cross-check in PROVENANCE.md):
    the last line per (message.id, requestId) in the session's own file and its sub-agents, summed."""
    last: dict[str, dict[str, int]] = {}
    for f in sorted(HOME.glob(f".claude/projects/*/{sid}.jsonl")) + sorted(
        HOME.glob(f".claude/projects/*/{sid}/**/*.jsonl")
    ):
        for line in f.read_text().splitlines():
            rec = json.loads(line)
            msg = rec.get("message")
            if isinstance(msg, dict) and isinstance(msg.get("usage"), dict) and msg.get("id"):
                last[f"{msg['id']}|{rec.get('requestId')}"] = msg["usage"]
    out: dict[str, int] = {}
    for usage in last.values():
        for k in ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"):
            out[k] = out.get(k, 0) + int(usage.get(k) or 0)
    return out


# ---------------------------------------------------------------------------------------------------
# Output


def copy_home(dest: Path) -> list[str]:
    """Only what lsm reads: the transcripts under projects/ (sub-agents and their .meta.json included)."""
    shutil.rmtree(dest, ignore_errors=True)
    copied = []
    for src in sorted((HOME / ".claude" / "projects").rglob("*")):
        if not src.is_file() or src.suffix not in (".jsonl", ".json"):
            continue
        rel = src.relative_to(HOME)
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / rel)
        copied.append(str(rel))
    return copied


def provenance(ver: str, runs: list[str], checks: list[str]) -> str:
    return "\n".join(
        [
            f"# Claude Code {ver} — captured logs",
            "",
            f"- Agent: `@anthropic-ai/claude-code` {ver} from npm (manual_tests/real_agents/setup.sh).",
            f"- Captured: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} by "
            "`python3 manual_tests/real_agents/capture_claude.py`.",
            "- Model: the loopback stub (manual_tests/real_agents/stub.py + wire_anthropic.py), no real API. "
            "Every prompt was written by us; the files hold no user data.",
            "- Agent env: `HOME=/home/dev ANTHROPIC_BASE_URL=http://127.0.0.1:<port> "
            "ANTHROPIC_API_KEY=sk-stub IS_SANDBOX=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`; "
            "onboarding and the bypass-permissions prompt pre-accepted (`~/.claude.json`, `settings.json`).",
            "- truth.json is computed from the stub's log (capture_claude.py's docstring says how), "
            "never from lsm.",
            "",
            "## Command lines (cwd /home/dev/work/claude-<scenario>)",
            "",
            *[f"- {r}" for r in runs],
            "",
            "## Claude Code's own usage fields against the stub's answers",
            "",
            *[f"- {c}" for c in checks],
            "",
        ]
    )


def run_scenario(s: Scenario, port: int, log: Path, sessions: dict[str, str], lines: list[str]) -> None:
    for run in s.runs:
        if s.interactive:
            how = execute_interactive(s, port, log)
            shown = "claude --dangerously-skip-permissions (tmux)"
        else:
            how = execute(run, s.project, port, log, sessions)
            shown = shown_command(run, sessions)
        if run.session and s.name not in sessions:
            sessions[s.name] = run.session
        time.sleep(0.5)
        lines.append(f"{s.name}: `{shown}` — {how} — session {run.session}")
        print(lines[-1], flush=True)


def make_forks(port: int, log: Path, sessions: dict[str, str], lines: list[str]) -> list[Scenario]:
    """Fork the parent until one fork's id sorts before the parent's (and, when it happens, one after)."""
    parent = sessions[FORK_PARENT.name]
    forks: list[Scenario] = []
    prompts = ["[[read:missing]] Read the file that is not there.", "[[tool:ok]] Run the check command."]
    for i in range(MAX_FORKS):
        fork = Scenario(f"fork-{i + 1}", [Run(prompts[i % 2], resume=FORK_PARENT.name, fork=True)])
        how = execute(fork.runs[0], FORK_PARENT.project, port, log, sessions)
        sid = fork.runs[0].session
        shown = shown_command(fork.runs[0], sessions)
        lines.append(f"{fork.name}: `{shown}` — {how} — session {sid}")
        print(lines[-1], flush=True)
        if sid:
            sessions[fork.name] = sid
            forks.append(fork)
        sides = {sessions[f.name] < parent for f in forks}
        if True in sides and (False in sides or i >= 3):
            break
    # A fork made in the terminal UI (its header is a file-history-snapshot, not a queue-operation).
    tui = Scenario("fork-tui", [Run("[[tool:fail]] List the missing directory.")], interactive=True)
    tui_args = ("--resume", parent, "--fork-session")
    tui_how = execute_interactive(tui, port, log, tui_args, FORK_PARENT.project)
    lines.append(
        f"{tui.name}: `claude --dangerously-skip-permissions {' '.join(tui_args)}` (tmux) — {tui_how}"
    )
    print(lines[-1], flush=True)
    if tui.runs[0].session:
        sessions[tui.name] = tui.runs[0].session
        tui.runs[0].resume = FORK_PARENT.name
        forks.append(tui)
    if forks:  # a fork of a fork: its copies hold the grandparent's replies and the first fork's
        again = Scenario("fork-of-fork", [Run(prompts[0], resume=forks[0].name, fork=True)])
        how = execute(again.runs[0], FORK_PARENT.project, port, log, sessions)
        shown = shown_command(again.runs[0], sessions)
        lines.append(f"{again.name}: `{shown}` — {how} — session {again.runs[0].session}")
        print(lines[-1], flush=True)
        if again.runs[0].session:
            sessions[again.name] = again.runs[0].session
            forks.append(again)
    return forks


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "tests" / "fixtures" / "real")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("run as root (it recreates /home/dev/.claude)")
    ver = version()
    work = Path(f"/tmp/lsm-capture-claude-{ver}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    log = work / "stub.log"
    clean_home(ver, [*SCENARIOS, FORK_PARENT])
    stub, port = start_stub(log)
    sessions: dict[str, str] = {}
    lines: list[str] = []
    try:
        for s in [*SCENARIOS, FORK_PARENT]:
            run_scenario(s, port, log, sessions, lines)
        forks = make_forks(port, log, sessions, lines)
    finally:
        stub.terminate()
        stub.wait()
    records = log_records(log)
    truths, checks = [], []
    for s in [*SCENARIOS, FORK_PARENT, *forks]:
        sid = sessions.get(s.name)
        if sid is None:
            print(f"  {s.name}: no session id, left out", file=sys.stderr)
            continue
        parent = None
        if s in forks:
            parent = sessions[s.runs[0].resume or FORK_PARENT.name]
        truth = session_truth(s, sid, records, parent)
        if s in forks:
            truth["project_path"] = str(FORK_PARENT.project)
        truths.append(truth)
        got = recorded_usage(sid)
        want = truth["tokens"]
        same = [
            got.get(k, 0)
            for k in (
                "input_tokens",
                "output_tokens",
                "cache_creation_input_tokens",
                "cache_read_input_tokens",
            )
        ]
        equal = same == [want["input"], want["output"], want["cache_creation"], want["cache_read"]]
        fields = dict(zip(("input", "output", "cache_creation", "cache_read"), same, strict=True))
        verdict = "equals" if equal else "differs from (the fork's file holds its parent's copies)"
        note = f"; {truth['note']}" if truth.get("note") else ""
        checks.append(f"{s.name} ({sid}): transcript {fields} — {verdict} the stub's own answers{note}")
    dest = args.out / f"claude-code-{ver}"
    copied = copy_home(dest / "home")
    doc = {"agent": "claude-code", "version": ver, "home": str(HOME), "sessions": truths}
    (dest / "truth.json").write_text(json.dumps(doc, indent=2) + "\n")
    (dest / "PROVENANCE.md").write_text(provenance(ver, lines, checks))
    shutil.copy2(log, work / "stub.log.keep")
    print(f"{len(truths)} sessions, {len(copied)} files -> {dest}")
    print("\n".join(checks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
