"""Manual test: lsm's hooks in a real Claude Code, and the live state `lsm list` shows as it works.

Run by hand, as root, after manual_tests/real_agents/setup.sh installed the CLI (never in CI):

    .venv/bin/python manual_tests/hooks_live.py [--home /home/dev-hooks] [--keep]

In a scratch HOME (recreated; nothing else is touched) it
1. writes a minimal Claude Code setup (onboarding done, the project trusted, a user hook of its own in
   settings.json) and runs `lsm hooks install --agent claude-code`;
2. starts the loopback model stub, whose Bash answer is ``touch lsm-hooks-ok.txt`` (not a read-only
   command, so Claude Code asks before running it);
3. runs `claude` interactively in tmux in its default permission mode and sends a prompt;
4. polls `lsm list --format json` and prints every state it sees, with the time since the step that
   caused it: working → waiting_permission (Bash: touch …) → (Enter approves) working → idle → ended
   (/exit);
5. runs `lsm hooks uninstall` and checks that settings.json is byte for byte what it was before install.

Exit status 0 when every expected state was seen within 5 s of its cause and the file came back
identical; 1 otherwise. ``--keep`` leaves the HOME and the tmux session's screen log for a look.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
REAL = REPO / "manual_tests" / "real_agents"
CACHE = Path.home() / ".cache" / "lsm-real-agents"
CLAUDE = CACHE / "npm" / "node_modules" / ".bin" / "claude"
LSM = Path(sys.executable).with_name("lsm")
TMUX = "lsm-hooks-live"
TOUCH = "touch lsm-hooks-ok.txt"
USER_SETTINGS = {
    "autoUpdates": False,
    "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "true # a hook of the user's own"}]}]},
}


def version() -> str:
    return str(
        json.loads((CACHE / "npm/node_modules/@anthropic-ai/claude-code/package.json").read_text())["version"]
    )


def prepare_home(home: Path, project: Path) -> bytes:
    shutil.rmtree(home, ignore_errors=True)
    (home / ".claude").mkdir(parents=True)
    project.mkdir(parents=True)
    settings = (json.dumps(USER_SETTINGS, indent=2) + "\n").encode()
    (home / ".claude" / "settings.json").write_bytes(settings)
    state = {
        "hasCompletedOnboarding": True,
        "lastOnboardingVersion": version(),
        "theme": "dark",
        "customApiKeyResponses": {"approved": ["sk-stub"], "rejected": []},
        "projects": {str(project): {"hasTrustDialogAccepted": True, "hasCompletedProjectOnboarding": True}},
    }
    (home / ".claude.json").write_text(json.dumps(state, indent=2) + "\n")
    return settings


def start_stub(log: Path) -> tuple[subprocess.Popen[str], int]:
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import wire_anthropic;"
        f" wire_anthropic.COMMANDS['tool:ok'] = {TOUCH!r}; import stub;"
        " sys.exit(stub.main(['--log', sys.argv[2], '--time-limit', '600']))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(REAL), str(log)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def lsm(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "NO_COLOR": "1"}
    for key in ("LSM_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "CLAUDE_CONFIG_DIR", "LSM_CONFIG"):
        env.pop(key, None)
    return subprocess.run([str(LSM), *args], env=env, capture_output=True, text=True, timeout=120)


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


def session_row(home: Path, project: Path) -> dict[str, Any] | None:
    done = lsm(home, "list", "--all", "--format", "json")
    if done.returncode != 0:
        print("lsm list failed:", done.stderr.strip())
        return None
    rows = [
        r
        for r in json.loads(done.stdout)
        if r["agent"] == "claude-code" and r["project_path"] == str(project)
    ]
    return max(rows, key=lambda r: r["last_activity"] or "") if rows else None


def wait_state(
    home: Path, project: Path, want: str, since: float, timeout: float = 30
) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = session_row(home, project)
        if row and row["state"] == want:
            took = time.monotonic() - since
            fields = {k: row[k] for k in ("state", "state_detail", "state_since", "state_source", "status")}
            print(f"  {took:5.2f} s  {json.dumps(fields)}")
            return {**row, "took": took}
        time.sleep(0.2)
    print(f"  never saw {want!r} (last: {row and row['state']!r})")
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, default=Path("/home/dev-hooks"))
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    home: Path = args.home
    project = home / "work" / "hooks-demo"
    before = prepare_home(home, project)
    print(lsm(home, "hooks", "install", "--agent", "claude-code").stderr.strip())
    log = home / "stub.jsonl"
    stub, port = start_stub(log)
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}",
        "ANTHROPIC_API_KEY": "sk-stub",
        "IS_SANDBOX": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "NO_PROXY": "127.0.0.1",
    }
    script = f"cd {project} && exec env -i {' '.join(f'{k}={v}' for k, v in env.items())} {CLAUDE}"
    seen: list[dict[str, Any] | None] = []
    try:
        tmux("kill-session", "-t", TMUX)
        tmux("new-session", "-d", "-s", TMUX, "-x", "160", "-y", "40", script)
        time.sleep(6)
        print("prompt sent (the model answers with a Bash call that needs approval):")
        tmux("send-keys", "-t", TMUX, "-l", "[[tool:ok]] make a file")
        time.sleep(0.5)
        sent = time.monotonic()
        tmux("send-keys", "-t", TMUX, "Enter")
        seen.append(wait_state(home, project, "waiting_permission", sent))
        time.sleep(1)
        print("Enter approves the call:")
        approved = time.monotonic()
        tmux("send-keys", "-t", TMUX, "Enter")
        seen.append(wait_state(home, project, "idle", approved))
        print("/exit:")
        tmux("send-keys", "-t", TMUX, "-l", "/exit")
        time.sleep(0.5)
        exited = time.monotonic()
        tmux("send-keys", "-t", TMUX, "Enter")
        seen.append(wait_state(home, project, "ended", exited))
        if args.keep:
            (home / "screen.txt").write_text(tmux("capture-pane", "-p", "-t", TMUX))
    finally:
        tmux("kill-session", "-t", TMUX)
        stub.terminate()
        stub.wait(timeout=10)
    print(lsm(home, "hooks", "status", "--agent", "claude-code").stdout.strip())
    print(lsm(home, "hooks", "uninstall", "--agent", "claude-code").stderr.strip())
    identical = (home / ".claude" / "settings.json").read_bytes() == before
    print("settings.json after uninstall:", "byte-identical" if identical else "DIFFERENT")
    ok = identical and all(s is not None and s["took"] <= 5 for s in seen)
    ok = ok and seen[0] is not None and TOUCH in (seen[0]["state_detail"] or "")
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
