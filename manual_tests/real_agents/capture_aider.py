"""Capture what Aider writes, against the loopback model stub, as a test fixture.

Run as root from the repository root, after setup.sh::

    python3 manual_tests/real_agents/capture_aider.py

It recreates /home/dev/work/aider-* and /home/dev/.aider (nothing else in /home/dev), starts stub.py,
runs the scenarios below one at a time (``--no-stream``, so every reply carries the API's usage), then
writes tests/fixtures/real/aider-<version>/{home/, truth.json, PROVENANCE.md}. Aider's price table
cache (~/.aider/caches) is seeded from the litellm copy inside its venv, so it fetches nothing.

Truth, from the stub's log, in the terms Aider's history can hold (docs/TOKENS_AND_COST.md, Aider):
the stub sends ``prompt_tokens = input + cache_read + cache_write`` plus ``cache_read_input_tokens`` /
``cache_creation_input_tokens``; Aider then prints ``sent = prompt_tokens + cache_write`` and the cache
write and hit, each through ``format_tokens`` (``1.5k`` above 999, whole thousands from 10,000), and
lsm's ``input = sent - 2 * cache_write - cache_hit``. The figures Aider's log can give are therefore the
stub's, rounded as Aider rounds them: ``tokens`` holds those (what an exact reader of the log must
show), ``note`` the stub's exact figures. Context tokens are the last reply's input + cache figures.
With OpenAI's own usage form (the ``/openai-plain/`` route: ``prompt_tokens = input + cache_read``,
only ``prompt_tokens_details.cached_tokens`` besides) litellm's usage has no cache attributes, so
Aider prints ``sent = prompt_tokens`` and no cache hit: the cached part cannot be told apart in its log.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CACHE = Path(os.environ.get("AGENTS_CACHE", Path.home() / ".cache" / "lsm-real-agents"))
VENV = CACHE / "aider"
AIDER = VENV / "bin" / "aider"
HOME = Path("/home/dev")
WORK = HOME / "work"
AIDER_HOME = HOME / ".aider"
RUN_DIR = Path("/tmp/lsm-capture-aider")
MODEL = "gpt-4o"
SWITCH_MODEL = "gpt-4o-mini"
RUN_TIMEOUT = 120
HISTORY = ".aider.chat.history.md"


def version() -> str:
    out = subprocess.run([str(AIDER), "--version"], capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.split()[-1]


def clean_home() -> None:
    shutil.rmtree(AIDER_HOME, ignore_errors=True)
    for old in WORK.glob("aider-*"):
        shutil.rmtree(old, ignore_errors=True)
    WORK.mkdir(parents=True, exist_ok=True)


def seed_price_cache() -> None:
    """Aider downloads litellm's price table once a day into ~/.aider/caches; give it the copy its own
    litellm bundles, so the capture makes no request beyond 127.0.0.1."""
    bundled = next(
        VENV.glob("lib/python3*/site-packages/litellm/model_prices_and_context_window_backup.json")
    )
    caches = AIDER_HOME / "caches"
    caches.mkdir(parents=True, exist_ok=True)
    shutil.copy(bundled, caches / "model_prices_and_context_window.json")


def make_project(name: str) -> Path:
    path = WORK / f"aider-{name}"
    path.mkdir(parents=True)
    (path / "notes.txt").write_text("Notes for the capture.\n")
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
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

    def answers(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        records = [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]
        return [r for r in records if r.get("event") == "answer"]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def agent_env() -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(HOME),
        "TERM": "dumb",
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "GIT_AUTHOR_NAME": "capture",
        "GIT_AUTHOR_EMAIL": "capture@example.invalid",
        "GIT_COMMITTER_NAME": "capture",
        "GIT_COMMITTER_EMAIL": "capture@example.invalid",
    }


class Capture:
    def __init__(self, stub: StubProcess) -> None:
        self.stub = stub
        self.sessions: list[dict[str, Any]] = []
        self.commands: list[str] = []

    def argv(self, model: str, plain: bool) -> list[str]:
        base = f"http://127.0.0.1:{self.stub.port}" + ("/openai-plain/v1" if plain else "/v1")
        return [
            str(AIDER),
            "--openai-api-base",
            base,
            "--openai-api-key",
            "sk-stub",
            "--model",
            f"openai/{model}",
            "--no-stream",
            "--yes-always",
            "--no-check-update",
            "--analytics-disable",
            "--no-gitignore",
            "--no-show-release-notes",
            "--no-pretty",
            "--no-auto-commits",
        ]

    def run(
        self,
        scenario: str,
        cwd: Path,
        inputs: list[str],
        prompts: int,
        one_shot: bool = True,
        plain: bool = False,
    ) -> None:
        """One aider run (one lsm session): ``--message`` for a single input, else the inputs on stdin.
        ``plain``: the stub reports usage as the OpenAI API does (no cache fields beside cached_tokens)."""
        before = len(self.stub.answers())
        argv = self.argv(MODEL, plain) + (["--message", inputs[0]] if one_shot else [])
        stdin = None if one_shot else "".join(f"{line}\n" for line in inputs)
        shown = " ".join(json.dumps(a) if " " in a else a for a in argv[1:])
        self.commands.append(f"(cd {cwd} && aider {shown})" + ("" if one_shot else f"  # stdin: {inputs!r}"))
        out = subprocess.run(
            argv,
            cwd=cwd,
            env=agent_env(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
        )
        print(f"--- {scenario}: exit {out.returncode}\n{out.stdout[-800:]}{out.stderr[-400:]}")
        calls = self.stub.answers()[before:]
        self.sessions.append({"scenario": scenario, "cwd": str(cwd), "calls": calls, "prompts": prompts})


def scenarios(cap: Capture) -> None:
    cap.run("one-shot", make_project("oneshot"), ["Say hello in one line."], prompts=1)
    cap.run("ask", make_project("ask"), ["/ask What does notes.txt say?"], prompts=1)
    cap.run("one-shot, OpenAI's usage form", make_project("openai"), ["Say hi."], prompts=1, plain=True)
    cap.run(
        "a few messages, /ask, model switch",
        make_project("chat"),
        [
            "Say hello.",
            "/ask What is in notes.txt?",
            f"/model openai/{SWITCH_MODEL}",
            "And a last question.",
        ],
        prompts=3,
        one_shot=False,
    )


def aider_tokens(count: int) -> int:
    """A count as Aider prints it (``aider.utils.format_tokens``), read back: 1475 -> "1.5k" -> 1500."""
    if count < 1000:
        return count
    if count < 10000:
        return round(float(f"{count / 1000:.1f}") * 1000)
    return round(count / 1000) * 1000


def truth_session(cwd: str, entry: dict[str, Any], native: str) -> dict[str, Any]:
    calls = entry["calls"]
    logged = {"input": 0, "output": 0, "cache_creation": 0, "cache_read": 0}
    exact = {"input": 0, "output": 0, "cache_creation": 0, "cache_read": 0}
    ctx = 0
    for c in calls:
        u = c["usage"]
        if c.get("plain"):  # no cache attributes on litellm's usage: aider prints prompt_tokens only
            sent, write, hit = aider_tokens(u["input"] + u["cache_read"]), 0, 0
        else:
            sent = aider_tokens(u["input"] + u["cache_read"] + 2 * u["cache_write"])
            write, hit = aider_tokens(u["cache_write"]), aider_tokens(u["cache_read"])
        row = {
            "input": sent - 2 * write - hit,
            "output": aider_tokens(u["output"]),
            "cache_creation": write,
            "cache_read": hit,
        }
        for key, value in row.items():
            logged[key] += value
        exact["input"] += u["input"]
        exact["output"] += u["output"]
        exact["cache_creation"] += 0 if c.get("plain") else u["cache_write"]
        exact["cache_read"] += u["cache_read"]
        ctx = row["input"] + row["cache_creation"] + row["cache_read"]
    models = [c["model"] for c in calls]
    return {
        "native_id": native,
        "scenario": entry["scenario"],
        "note": f"stub's exact tokens {exact} (Aider's history rounds them as in 'tokens')",
        "tokens": logged,
        "messages": {"user": entry["prompts"], "assistant": len(calls)},
        "tool_calls": 0,
        "tool_errors": 0,
        # Aider logs the litellm route it was given ("openai/gpt-4o"); the wire carries "gpt-4o".
        "model": f"openai/{models[-1]}",
        "context_tokens": ctx,
        "project_path": cwd,
        "status": "ended",
    }


def native_id(path: Path, text: str) -> str:
    """lsm's id for the one session in a history file (see agents/aider.py ``session_native_id``)."""
    sys.path.insert(0, str(REPO))
    from llm_session_manager.agents.aider import section_key, session_native_id

    prefix = "# aider chat started at "
    stamp = next(line[len(prefix) :].strip() for line in text.splitlines() if line.startswith(prefix))
    return session_native_id(str(path), section_key({}, stamp))


PROVENANCE = """# Provenance

- Agent: Aider {version} (PyPI `aider-chat=={version}`, its own venv, installed by setup.sh)
- Captured: {date} by `manual_tests/real_agents/capture_aider.py`, as root, HOME=/home/dev, TZ=UTC
- Model: the loopback stub (`manual_tests/real_agents/stub.py`, Chat Completions wire) at
  `--openai-api-base http://127.0.0.1:<port>/v1 --openai-api-key sk-stub`, `--no-stream`. Aider's price
  table cache was seeded from its bundled litellm copy; no request left 127.0.0.1 (analytics and update
  checks off). The stub's usage figures are synthetic (`usage_for`).
- Prompts: written by us for the capture; no user data.
- Kept: each project's `.aider.chat.history.md` and `.aider.input.history`.
- truth.json: computed from the stub's log (the calls answered while each command ran), never from lsm.

Commands, in order:

{commands}
"""


def main() -> int:
    if not AIDER.exists():
        raise SystemExit(f"{AIDER} missing: run manual_tests/real_agents/setup.sh first")
    ver = version()
    clean_home()
    seed_price_cache()
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    RUN_DIR.mkdir(parents=True)
    stub = StubProcess(RUN_DIR / "stub.log")
    try:
        cap = Capture(stub)
        scenarios(cap)
    finally:
        stub.stop()
    fixture = REPO / "tests" / "fixtures" / "real" / f"aider-{ver}"
    shutil.rmtree(fixture / "home", ignore_errors=True)
    sessions = []
    for entry in cap.sessions:
        cwd = Path(entry["cwd"])
        dest = fixture / "home" / cwd.relative_to(HOME)
        dest.mkdir(parents=True)
        for name in (HISTORY, ".aider.input.history"):  # piped input writes no input history
            if (cwd / name).is_file():
                shutil.copy2(cwd / name, dest / name)
        history = (cwd / HISTORY).read_text()
        sessions.append(truth_session(str(cwd), entry, native_id(cwd / HISTORY, history)))
    truth = {"agent": "aider", "version": ver, "home": str(HOME), "sessions": sessions}
    (fixture / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    commands = "\n".join(f"    {c}" for c in cap.commands)
    (fixture / "PROVENANCE.md").write_text(PROVENANCE.format(version=ver, date=date, commands=commands))
    print(f"wrote {fixture} ({len(sessions)} sessions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
