"""Capture what GitHub Copilot CLI writes, against the loopback model stub, as a test fixture.

Run as root from the repository root, after setup.sh::

    python3 manual_tests/real_agents/capture_copilot.py

It recreates /home/dev/.copilot and /home/dev/work/copilot-* (nothing else in /home/dev), starts
stub.py, runs the scenarios below one at a time with Copilot in BYOK offline mode (Chat Completions,
``COPILOT_OFFLINE=true``, no GitHub login, a fake key), then writes
tests/fixtures/real/copilot-cli-<version>/{home/, truth.json, PROVENANCE.md}. The truth comes from the
stub's log: the calls answered while a scenario ran belong to that scenario's session.

Truth in lsm's terms (docs/TOKENS_AND_COST.md, Copilot CLI): the stub sends ``prompt_tokens = input +
cache_read + cache_write`` with the cached parts in ``prompt_tokens_details``; Copilot logs that gross
figure as ``inputTokens``, and lsm's ``input`` is the uncached part, so per call: input = stub input,
cache_read = stub cache_read, cache_creation = stub cache_write, output = stub output. Context tokens
are the last call's whole prompt (input + cache_read + cache_write).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CACHE = Path(os.environ.get("AGENTS_CACHE", Path.home() / ".cache" / "lsm-real-agents"))
COPILOT = CACHE / "npm" / "node_modules" / ".bin" / "copilot"
HOME = Path("/home/dev")
WORK = HOME / "work"
COPILOT_HOME = HOME / ".copilot"
RUN_DIR = Path("/tmp/lsm-capture-copilot")
MODEL = "gpt-4o"
SWITCH_MODEL = "gpt-4o-mini"
RUN_TIMEOUT = 120
FAILING = {"tool:fail", "read:missing"}
ONESHOT_NAME = "Capture: one-shot"
BRANCHES: dict[str, str] = {}  # project folder -> the git branch it was created on


def version() -> str:
    out = subprocess.run([str(COPILOT), "--version"], capture_output=True, text=True, timeout=60, check=True)
    for word in out.stdout.split():
        if word[:1].isdigit():
            return word.rstrip(".")
    raise SystemExit(f"cannot read Copilot CLI's version from {out.stdout!r}")


def clean_home() -> None:
    shutil.rmtree(COPILOT_HOME, ignore_errors=True)
    for old in WORK.glob("copilot-*"):
        shutil.rmtree(old, ignore_errors=True)
    WORK.mkdir(parents=True, exist_ok=True)


def make_project(name: str, git_branch: str | None = None) -> Path:
    path = WORK / f"copilot-{name}"
    path.mkdir(parents=True)
    (path / "notes.txt").write_text("Notes the stub asks Copilot to read.\n")
    if git_branch:
        subprocess.run(["git", "init", "-q", "-b", git_branch, str(path)], check=True)
        BRANCHES[str(path)] = git_branch
    return path


class StubProcess:
    def __init__(self, log: Path) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "stub.py"), "--log", str(log), "--time-limit", "900"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())

    def records(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def answers(self) -> list[dict[str, Any]]:
        return [r for r in self.records() if r.get("event") == "answer"]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def agent_env(port: int, model: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(HOME),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "COPILOT_OFFLINE": "true",
        "COPILOT_AUTO_UPDATE": "false",
        "COPILOT_PROVIDER_BASE_URL": f"http://127.0.0.1:{port}/v1",
        "COPILOT_PROVIDER_API_KEY": "sk-stub",
        "COPILOT_MODEL": model,
    }


def session_ids() -> set[str]:
    state = COPILOT_HOME / "session-state"
    return {p.name for p in state.iterdir() if not p.name.startswith(".")} if state.is_dir() else set()


class Capture:
    def __init__(self, stub: StubProcess) -> None:
        self.stub = stub
        self.sessions: dict[str, dict[str, Any]] = {}  # native id -> {scenario, cwd, calls, prompts, model}
        self.commands: list[str] = []

    def _argv(self, prompt: str, resume: str | None, extra: list[str]) -> list[str]:
        argv = [str(COPILOT), "-p", prompt, "--allow-all-tools", "--disable-client-telemetry", *extra]
        if resume:
            argv.append(f"--resume={resume}")
        return argv

    def run(
        self,
        scenario: str,
        cwd: Path,
        prompt: str,
        resume: str | None = None,
        model: str = MODEL,
        extra: list[str] | None = None,
        kill_after_tool: bool = False,
    ) -> str:
        before_ids, before_calls = session_ids(), len(self.stub.answers())
        argv = self._argv(prompt, resume, extra or [])
        self.commands.append(
            f"(cd {cwd} && COPILOT_MODEL={model} copilot {' '.join(json.dumps(a) for a in argv[1:])})"
            + ("  # killed with SIGKILL while the tool ran" if kill_after_tool else "")
        )
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=agent_env(self.stub.port, model),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if kill_after_tool:
            self._kill_mid_tool(proc, before_calls)
        else:
            out, _ = proc.communicate(timeout=RUN_TIMEOUT)
            print(f"--- {scenario}: exit {proc.returncode}\n{out.decode(errors='replace')[-600:]}")
        new = session_ids() - before_ids
        native = resume or (new.pop() if len(new) == 1 else None)
        if native is None:
            raise SystemExit(f"{scenario}: expected one new session folder, found {sorted(new)}")
        calls = self.stub.answers()[before_calls:]
        entry = self.sessions.setdefault(
            native, {"scenario": scenario, "cwd": str(cwd), "calls": [], "prompts": 0}
        )
        if resume:
            entry["scenario"] += f" + {scenario}"
        entry["calls"] += calls
        entry["prompts"] += 1
        entry["killed"] = kill_after_tool
        return native

    def _kill_mid_tool(self, proc: subprocess.Popen[bytes], before_calls: int) -> None:
        deadline = time.time() + RUN_TIMEOUT
        while time.time() < deadline and not any(
            a.get("tool_call") for a in self.stub.answers()[before_calls:]
        ):
            time.sleep(0.5)
        time.sleep(8)  # the tool (a 30 s sleep) is running now
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        print(f"--- killed mid-tool: exit {proc.returncode}")


def scenarios(cap: Capture) -> None:
    oneshot = make_project("oneshot", git_branch="capture")
    cap.run("one-shot, named", oneshot, "Say hello in one line.", extra=["--name", ONESHOT_NAME])
    cap.sessions[next(reversed(cap.sessions))]["title"] = ONESHOT_NAME
    tools = make_project("tools")
    cap.run("tool ok", tools, "[[tool:ok]] Run the check command.")
    cap.run(
        "tool fail (non-streaming)",
        tools,
        "[[tool:fail]] List the missing folder.",
        extra=["--stream", "off"],
    )
    reads = tools  # the stub's file paths are in this folder (Copilot denies paths outside the cwd)
    first = cap.run("read ok", reads, "[[read:ok]] Read notes.txt.")
    switch = ["--model", SWITCH_MODEL]  # a resumed session keeps its model unless --model is given
    cap.run(
        "resume, read missing, model switch",
        reads,
        "[[read:missing]] Read missing.txt.",
        first,
        SWITCH_MODEL,
        switch,
    )
    cap.run("resume again", reads, "Thanks, summarise.", resume=first, model=SWITCH_MODEL, extra=switch)
    cap.run("sub-agent", make_project("subagent"), "[[subagent]] Ask a helper.")
    killed = make_project("killed")
    cap.run("killed mid-tool", killed, "[[tool:ok]] [[slow]] Run the long check.", kill_after_tool=True)


def truth_session(native: str, entry: dict[str, Any]) -> dict[str, Any]:
    calls = entry["calls"]
    tokens = {"input": 0, "output": 0, "cache_creation": 0, "cache_read": 0}
    for c in calls:
        u = c["usage"]
        tokens["input"] += u["input"]
        tokens["output"] += u["output"]
        tokens["cache_creation"] += u["cache_write"]
        tokens["cache_read"] += u["cache_read"]
    tool_calls = [c for c in calls if c.get("tool_call")]
    last = calls[-1]["usage"]
    branch = {"git_branch": BRANCHES[entry["cwd"]]} if entry["cwd"] in BRANCHES else {}
    title = {"title": entry["title"]} if "title" in entry else {}
    return {
        "native_id": native,
        "scenario": entry["scenario"],
        "tokens": tokens,
        "messages": {"user": entry["prompts"], "assistant": len(calls)},
        "tool_calls": len(tool_calls),
        "tool_errors": sum(1 for c in tool_calls if c["scenario"] in FAILING),
        "model": calls[-1]["model"],
        "context_tokens": last["input"] + last["cache_read"] + last["cache_write"],
        # The one figure the stub cannot know: the prompt limit Copilot applied (its own record of it).
        "context_window": prompt_limit(native),
        "project_path": entry["cwd"],
        "status": "ended",
        **branch,
        **title,
    }


def prompt_limit(native: str) -> int | None:
    """``maxPromptTokens`` of the session's last usage record: the window Copilot itself worked with (a
    BYOK model it has no catalog entry for gets 64,000 in a new session, 128,000 once resumed)."""
    limit = None
    for line in (COPILOT_HOME / "session-state" / native / "events.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event.get("type") == "session.usage_record":
            limit = event["data"]["usage"].get("maxPromptTokens", limit)
    return limit


def copy_home(dest: Path, natives: list[str]) -> None:
    """Only what lsm reads: each session's events.jsonl and workspace.yaml."""
    shutil.rmtree(dest, ignore_errors=True)
    for native in natives:
        src = COPILOT_HOME / "session-state" / native
        out = dest / ".copilot" / "session-state" / native
        out.mkdir(parents=True)
        for name in ("events.jsonl", "workspace.yaml"):
            if (src / name).is_file():
                shutil.copy2(src / name, out / name)


PROVENANCE = """# Provenance

- Agent: GitHub Copilot CLI {version} (npm `@github/copilot@{version}`, installed by setup.sh)
- Captured: {date} by `manual_tests/real_agents/capture_copilot.py`, as root, HOME=/home/dev
- Model: the loopback stub (`manual_tests/real_agents/stub.py`, Chat Completions wire), BYOK offline:
  `COPILOT_OFFLINE=true COPILOT_PROVIDER_BASE_URL=http://127.0.0.1:<port>/v1`
  `COPILOT_PROVIDER_API_KEY=sk-stub`.
  No GitHub login, no network beyond 127.0.0.1. The stub's usage figures are synthetic (`usage_for`).
- Prompts: written by us for the capture; no user data.
- Kept: `~/.copilot/session-state/<id>/{{events.jsonl,workspace.yaml}}` of each session.
- truth.json: computed from the stub's log (the calls answered while each command ran), never from lsm.

Commands, in order:

{commands}
"""


def main() -> int:
    if not COPILOT.exists():
        raise SystemExit(f"{COPILOT} missing: run manual_tests/real_agents/setup.sh first")
    ver = version()
    clean_home()
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    RUN_DIR.mkdir(parents=True)
    stub = StubProcess(RUN_DIR / "stub.log")
    try:
        cap = Capture(stub)
        scenarios(cap)
    finally:
        stub.stop()
    fixture = REPO / "tests" / "fixtures" / "real" / f"copilot-cli-{ver}"
    natives = list(cap.sessions)
    copy_home(fixture / "home", natives)
    truth = {
        "agent": "copilot-cli",
        "version": ver,
        "home": str(HOME),
        "sessions": [truth_session(n, e) for n, e in cap.sessions.items()],
    }
    (fixture / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    shutil.copy2(stub.log, RUN_DIR / "stub.kept.log")
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    commands = "\n".join(f"    {c}" for c in cap.commands)
    (fixture / "PROVENANCE.md").write_text(PROVENANCE.format(version=ver, date=date, commands=commands))
    print(f"wrote {fixture} ({len(natives)} sessions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
