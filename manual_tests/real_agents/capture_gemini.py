"""Capture what Gemini CLI really writes, against the loopback model stub, with its truth.

Run as root, by hand (needs the CLI installed by setup.sh; never in CI):

    python3 manual_tests/real_agents/capture_gemini.py [--out tests/fixtures/real]

It (1) recreates /home/dev/.gemini and /home/dev/work/gemini-* (nothing else under /home/dev), (2) starts
stub.py, (3) runs the scenarios below one at a time with ``gemini -p … --yolo --skip-trust``, (4) computes
truth.json from the stub's log, (5) copies the chats, ``.project_root`` files and ``projects.json`` into
``<out>/gemini-<version>/home/`` and writes PROVENANCE.md.

Truth, in lsm's conventions for Gemini CLI (docs/TOKENS_AND_COST.md, agents/gemini.py). The stub sends
``promptTokenCount`` P (cached part included), ``cachedContentTokenCount`` C, ``candidatesTokenCount`` O,
``thoughtsTokenCount`` T, ``toolUsePromptTokenCount`` U per answer (wire_gemini.py), and lsm reads::

    input = P - C + U      output = O + T      cache_read = C      cache_creation = 0

summed over the conversation's ``streamGenerateContent`` answers that finished: those are the calls
Gemini CLI writes to its chat (``tokens`` of a ``gemini`` message). Side calls (``generateContent``: the
model router's classifier, next-speaker checks, summaries) are billed but never written to the chat; the
truth leaves them out and names them in each session's note. An answer cut off by a kill never reaches
the chat either (Gemini writes a reply's tokens when its stream ends). ``context_tokens`` is P of the last
finished answer, ``context_window`` is Gemini CLI's own ``tokenLimit()`` (1,048,576 for every Gemini
model). A tool error is a tool result the model got back that failed: ``{"error": …}`` (read_file of a
missing file) or a shell result whose trailer says ``Exit Code: N``, N != 0 (Gemini marks that call
``success``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CACHE = Path.home() / ".cache" / "lsm-real-agents"
PACKAGE = CACHE / "npm" / "node_modules" / "@google" / "gemini-cli"
GEMINI = CACHE / "npm" / "node_modules" / ".bin" / "gemini"
HOME = Path("/home/dev")
WORK = HOME / "work"
RUN_TIMEOUT = 120
KILL_AFTER = 4  # seconds into the slow answer before the kill
TOKEN_LIMIT = 1_048_576  # Gemini CLI 0.61.0 tokenLimit(): every Gemini model (Gemma 4: 256,000)
SETTINGS = {
    "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
    "privacy": {"usageStatisticsEnabled": False},
    "security": {"auth": {"selectedType": "gemini-api-key"}},
}


@dataclass
class Run:
    prompt: str
    args: tuple[str, ...] = ()
    kill: bool = False  # kill it mid-answer (the prompt carries [[slow]])
    # Start in a new minute: Gemini CLI names a chat session-<minute>-<id8>.jsonl, so a resume in another
    # minute than the chat's last start opens a second file (header only) and goes on in the first.
    new_minute: bool = False


@dataclass
class Scenario:
    name: str
    runs: list[Run]
    windows: list[tuple[int, int]] = field(default_factory=list)  # stub log line ranges, per run

    @property
    def project(self) -> Path:
        return WORK / f"gemini-{self.name}"


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
            Run("[[read:missing]] Now read the missing file.", ("--resume", "latest")),
            Run("Sum it up in one line.", ("--resume", "latest"), new_minute=True),
        ],
    ),
    Scenario(
        "model-switch",
        [
            Run("Say hello in one line.", ("-m", "gemini-2.5-flash")),
            Run("[[tool:ok]] Run the check command.", ("--resume", "latest", "-m", "gemini-2.5-pro")),
        ],
    ),
    Scenario("killed", [Run("[[slow]] Take your time and answer at length.", kill=True)]),
]


# ---------------------------------------------------------------------------------------------------
# Running


def version() -> str:
    return str(json.loads((PACKAGE / "package.json").read_text())["version"])


def clean_home() -> None:
    shutil.rmtree(HOME / ".gemini", ignore_errors=True)
    for old in WORK.glob("gemini-*"):
        shutil.rmtree(old, ignore_errors=True)
    (HOME / ".gemini").mkdir(parents=True)
    (HOME / ".gemini" / "settings.json").write_text(json.dumps(SETTINGS, indent=2) + "\n")
    for s in SCENARIOS:
        s.project.mkdir(parents=True)
        (s.project / "notes.txt").write_text("stub notes\n")


def start_stub(log: Path) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "stub.py"), "--log", str(log), "--time-limit", "900"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def agent_env(port: int) -> dict[str, str]:
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(HOME),
        "TERM": "dumb",
        "LANG": "C.UTF-8",
        "GOOGLE_GEMINI_BASE_URL": f"http://127.0.0.1:{port}",
        "GEMINI_API_KEY": "stub-key",
        "NO_PROXY": "127.0.0.1",
    }


def command(run: Run) -> list[str]:
    return [str(GEMINI), "--yolo", "--skip-trust", *run.args, "-p", run.prompt]


def log_lines(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def wait_for(log: Path, start: int, event: str, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if any(json.loads(x).get("scenario") == event for x in log.read_text().splitlines()[start:]):
            return True
        time.sleep(0.2)
    return False


def next_minute() -> None:
    minute = datetime.now(UTC).minute
    while datetime.now(UTC).minute == minute:
        time.sleep(0.5)


def execute(run: Run, cwd: Path, port: int, log: Path) -> str:
    """Run gemini once; return how it ended."""
    if run.new_minute:
        next_minute()
    start = log_lines(log)
    proc = subprocess.Popen(
        command(run),
        cwd=cwd,
        env=agent_env(port),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # Gemini CLI re-launches itself as a child: kill the group
    )
    if run.kill:
        started = wait_for(log, start, "slow", 60)
        time.sleep(KILL_AFTER)
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        return f"killed (SIGTERM) {KILL_AFTER}s into the answer" + (
            "" if started else " (slow call not seen)"
        )
    try:
        _out, err = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return "timed out"
    if proc.returncode != 0:
        print(f"  gemini exited {proc.returncode}: {err.strip()[-400:]}", file=sys.stderr)
    return f"exit {proc.returncode}"


# ---------------------------------------------------------------------------------------------------
# Truth


def failed_result(result: dict[str, Any]) -> bool:
    """A tool result that failed, as the stub saw it come back: an ``error``, or a shell command's
    ``Exit Code: N`` line with N != 0."""
    output = result.get("output") or ""
    return result.get("error") is not None or re.search(r"^Exit Code: -?[1-9]\d*$", output, re.M) is not None


def session_truth(s: Scenario, records: list[dict[str, Any]], sid: str) -> dict[str, Any]:
    mine = [r for a, b in s.windows for r in records[a:b]]
    done = {r["call"] for r in mine if r.get("event") == "stream-done"}
    main = [r for r in mine if r.get("event") == "streamGenerateContent"]
    answered = [r for r in main if r["call"] in done]
    cut = [r["call"] for r in main if r["call"] not in done]
    side = [r for r in mine if r.get("side")]
    results = [res for r in main for res in r.get("tool_results") or []]

    def total(f: Any) -> int:
        return sum(f(r["usage"]) for r in answered)

    last = answered[-1] if answered else None
    note = (
        f"{len(side)} side call(s) not in the chat ({', '.join(sorted({r['model'] for r in side}))}: "
        f"{sum(r['usage']['totalTokenCount'] for r in side)} tokens)"
    )
    if cut:
        note += f"; answer(s) {cut} cut off by the kill, never written"
    return {
        "native_id": sid,
        "scenario": s.name,
        "tokens": {
            "input": total(
                lambda u: u["promptTokenCount"] - u["cachedContentTokenCount"] + u["toolUsePromptTokenCount"]
            ),
            "output": total(lambda u: u["candidatesTokenCount"] + u["thoughtsTokenCount"]),
            "cache_creation": 0,
            "cache_read": total(lambda u: u["cachedContentTokenCount"]),
        },
        "messages": {"user": len(s.runs), "assistant": len(answered)},
        "tool_calls": sum(1 for r in answered if r.get("tool_call")),
        "tool_errors": sum(1 for res in results if failed_result(res)),
        "model": last["model"] if last else None,
        "context_tokens": last["usage"]["promptTokenCount"] if last else None,
        "context_window": TOKEN_LIMIT,
        "project_path": str(s.project),
        "status": "ended",
        "note": note,
    }


def chat_files(s: Scenario) -> list[Path]:
    slug = json.loads((HOME / ".gemini" / "projects.json").read_text())["projects"][str(s.project)]
    return sorted((HOME / ".gemini" / "tmp" / slug / "chats").glob("*.jsonl"))


def recorded_tokens(files: list[Path]) -> dict[str, int]:
    """What Gemini CLI itself wrote: the tokens of the last line per message id, summed (for the
    cross-check in PROVENANCE.md)."""
    last: dict[str, dict[str, int]] = {}
    for f in files:
        for line in f.read_text().splitlines():
            rec = json.loads(line)
            if isinstance(rec.get("id"), str) and isinstance(rec.get("tokens"), dict):
                last[rec["id"]] = rec["tokens"]
    out: dict[str, int] = {}
    for tokens in last.values():
        for k, v in tokens.items():
            out[k] = out.get(k, 0) + v
    return out


def session_id(files: list[Path]) -> str:
    ids = {json.loads(f.read_text().splitlines()[0])["sessionId"] for f in files}
    if len(ids) != 1:
        raise SystemExit(f"expected one session in {files}, found {sorted(ids)}")
    return ids.pop()


# ---------------------------------------------------------------------------------------------------
# Output


def copy_home(dest: Path) -> list[str]:
    """Only what lsm reads: chats, .project_root, projects.json (and settings.json, for the record)."""
    shutil.rmtree(dest, ignore_errors=True)
    gem = HOME / ".gemini"
    copied = []
    for src in [
        gem / "projects.json",
        gem / "settings.json",
        *gem.glob("tmp/*/.project_root"),
        *gem.glob("tmp/*/chats/*.jsonl"),
    ]:
        rel = src.relative_to(HOME)
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / rel)
        copied.append(str(rel))
    return copied


def provenance(ver: str, runs: list[str], checks: list[str]) -> str:
    return "\n".join(
        [
            f"# Gemini CLI {ver} — captured logs",
            "",
            f"- Agent: `@google/gemini-cli` {ver} from npm (manual_tests/real_agents/setup.sh).",
            f"- Captured: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} by "
            "`python3 manual_tests/real_agents/capture_gemini.py`.",
            "- Model: the loopback stub (manual_tests/real_agents/stub.py + wire_gemini.py), no real API. "
            "Every prompt was written by us; the files hold no user data.",
            "- Agent env: `HOME=/home/dev GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:<port> "
            "GEMINI_API_KEY=stub-key`, settings.json: `security.auth.selectedType: gemini-api-key`, "
            "usage statistics and auto-update off.",
            "- truth.json is computed from the stub's log (capture_gemini.py's docstring says how), "
            "never from lsm.",
            "",
            "## Command lines (cwd /home/dev/work/gemini-<scenario>)",
            "",
            *[f"- {r}" for r in runs],
            "",
            "## Gemini CLI's own `tokens` fields against the stub's answers",
            "",
            *[f"- {c}" for c in checks],
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "tests" / "fixtures" / "real")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("run as root (it recreates /home/dev/.gemini)")
    ver = version()
    work = Path(f"/tmp/lsm-capture-gemini-{ver}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    log = work / "stub.log"
    clean_home()
    stub, port = start_stub(log)
    run_lines: list[str] = []
    try:
        for s in SCENARIOS:
            for run in s.runs:
                start = log_lines(log)
                how = execute(run, s.project, port, log)
                time.sleep(0.5)
                s.windows.append((start, log_lines(log)))
                shown = " ".join(a if " " not in a else json.dumps(a) for a in command(run)[1:])
                run_lines.append(f"{s.name}: `gemini {shown}` — {how}")
                print(run_lines[-1])
    finally:
        stub.terminate()
        stub.wait()
    records = [json.loads(x) for x in log.read_text().splitlines()]
    sessions, checks = [], []
    for s in SCENARIOS:
        files = chat_files(s)
        truth = session_truth(s, records, session_id(files))
        sessions.append(truth)
        got = recorded_tokens(files)
        want = truth["tokens"]
        mine = {
            "input - cached + tool": got.get("input", 0) - got.get("cached", 0) + got.get("tool", 0),
            "output + thoughts": got.get("output", 0) + got.get("thoughts", 0),
            "cached": got.get("cached", 0),
        }
        same = [want["input"], want["output"], want["cache_read"]] == list(mine.values())
        checks.append(
            f"{s.name}: chat {mine} — {'equals' if same else 'DIFFERS FROM'} the stub's; {truth['note']}"
        )
    dest = args.out / f"gemini-{ver}"
    copied = copy_home(dest / "home")
    doc = {"agent": "gemini", "version": ver, "home": str(HOME), "sessions": sessions}
    (dest / "truth.json").write_text(json.dumps(doc, indent=2) + "\n")
    (dest / "PROVENANCE.md").write_text(provenance(ver, run_lines, checks))
    shutil.copy2(log, work / "stub.log.keep")
    print(f"{len(sessions)} sessions, {len(copied)} files -> {dest}")
    print("\n".join(checks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
