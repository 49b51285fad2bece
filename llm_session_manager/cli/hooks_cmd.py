"""Hook commands: `lsm hook` (run by the agents), `lsm hooks install|uninstall|status`, `lsm notify`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import typer

from llm_session_manager import hook_install
from llm_session_manager.cli.common import FORMAT_HELP, check_format, emit, load_env, say
from llm_session_manager.errors import ConfigError, UsageError
from llm_session_manager.notify import Alert
from llm_session_manager.paths import Paths
from llm_session_manager.safetext import for_terminal

if TYPE_CHECKING:
    from llm_session_manager.config import Config

hooks_app = typer.Typer(
    help="Let Claude Code, Codex and Gemini CLI push their live state to lsm through their hooks.",
    no_args_is_help=True,
)
AGENT_OPTION_HELP = f"Only this agent: {', '.join(hook_install.AGENTS)} (default: all three)."


def _agents(agent: str | None) -> tuple[str, ...]:
    if agent is None:
        return hook_install.AGENTS
    name = agent.strip().lower()
    matches = [a for a in hook_install.AGENTS if a.startswith(name)] if name else []
    if len(matches) != 1:
        raise UsageError(f"--agent: unknown agent '{agent}' (one of {', '.join(hook_install.AGENTS)})")
    return (matches[0],)


def hook_cmd(
    agent: str = typer.Argument(..., help=f"The agent running it: {', '.join(hook_install.AGENTS)}."),
) -> None:
    """Record one hook event (JSON on stdin). Agents run this; it prints nothing and always exits 0."""
    from llm_session_manager import hookspool

    code = hookspool.fast_main(["hook", agent])
    if code:
        raise typer.Exit(code)


def install_cmd(agent: str | None = typer.Option(None, "--agent", help=AGENT_OPTION_HELP)) -> None:
    """Add lsm's hook entries to each agent's config (backup first; every setting of yours kept)."""
    paths = load_env().paths
    now = datetime.now(timezone.utc)
    failed = 0
    for name in _agents(agent):
        folder = hook_install.config_path(name, paths).parent
        if agent is None and not folder.is_dir():
            say(f"{name}: skipped: {folder} does not exist (--agent {name} installs anyway)")
            continue
        try:
            outcome = hook_install.install(name, paths, now)
        except ConfigError as exc:
            say(f"{name}: error: {exc}")
            failed += 1
            continue
        backup = f" (backup: {outcome.backup})" if outcome.backup else ""
        say(f"{name}: {outcome.message}: {outcome.path}{backup}")
        note = hook_install.AGENT_HOOKS[name].note
        if note and outcome.changed:
            say(f"  {note}")
        inline = hook_install.codex_inline_hooks(paths) if name == "codex" else None
        if inline is not None:
            say(
                f"  {inline} has [hooks] tables too: Codex runs both and warns at start; keeping your"
                " hooks in one of the two files stops the warning"
            )
    if failed:
        raise typer.Exit(1)


def uninstall_cmd(agent: str | None = typer.Option(None, "--agent", help=AGENT_OPTION_HELP)) -> None:
    """Take lsm's hook entries out again; the file is restored byte for byte if you did not change it."""
    paths = load_env().paths
    now = datetime.now(timezone.utc)
    failed = 0
    for name in _agents(agent):
        try:
            outcome = hook_install.uninstall(name, paths, now)
        except ConfigError as exc:
            say(f"{name}: error: {exc}")
            failed += 1
            continue
        backup = f" (backup: {outcome.backup})" if outcome.backup and outcome.changed else ""
        say(f"{name}: {outcome.message}: {outcome.path}{backup}")
    if failed:
        raise typer.Exit(1)


def status_cmd(
    agent: str | None = typer.Option(None, "--agent", help=AGENT_OPTION_HELP),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """What is installed where, and when each agent last sent an event."""
    fmt = check_format(fmt)
    from llm_session_manager.api.maintenance import hooks_status

    status = hooks_status(load_env(), _agents(agent))
    rows, spool = status["agents"], status["spool"]
    if fmt != "table":
        emit(fmt, status)
        return
    for row in rows:
        when = (
            f"last event {row['last_event']} at {row['last_event_at']}"
            if row["last_event_at"]
            else "no event yet"
        )
        line = f"{row['agent']}: installed {row['installed']} - {row['config_file']} - {when}"
        sys.stdout.write(for_terminal(line) + "\n")
        if row["error"]:
            sys.stdout.write(for_terminal(f"  error: {row['error']}") + "\n")
        if row["missing_events"]:
            sys.stdout.write(for_terminal(f"  missing: {', '.join(row['missing_events'])}") + "\n")
    if spool["corrupt_lines"]:
        read, bad = spool["lines"], spool["corrupt_lines"]
        sys.stdout.write(f"spool: {read} events read, {bad} malformed lines skipped\n")


def deliver(alert: Alert, method: str, *, in_monitor: bool = False) -> str:
    """Show one alert: a desktop notification where notify-send exists (unless the config says
    terminal), else the terminal bell with an OSC 9 notification (just the bell under the monitor, whose
    screen an escape sequence could tear). Returns how it was shown."""
    desktop = shutil.which("notify-send") if method in ("auto", "desktop") else None
    if desktop:
        try:
            subprocess.run(
                [desktop, "--app-name=lsm", alert.title, alert.body],
                capture_output=True,
                timeout=10,
                check=False,
            )
            return "desktop"
        except (OSError, subprocess.SubprocessError):
            pass
    if in_monitor:
        os.write(sys.stdout.fileno(), b"\a")
    elif sys.stdout.isatty():
        sys.stdout.write(f"\a\x1b]9;{alert.title}: {alert.body}\x07")
    return "terminal"


def _watch(paths: Paths, cfg: Config, stop: threading.Event, *, in_monitor: bool) -> None:
    from llm_session_manager.notify import Watcher

    watcher = Watcher(paths, cfg)
    try:
        while not stop.is_set():
            for alert in watcher.poll():
                how = deliver(alert, cfg["notify"]["method"], in_monitor=in_monitor)
                if not in_monitor:
                    when = datetime.fromtimestamp(alert.at).strftime("%H:%M:%S")
                    sys.stdout.write(f"{when} {alert.title} - {alert.body} ({how})\n")
                    sys.stdout.flush()
            stop.wait(float(cfg["notify"]["poll_seconds"]))
    finally:
        watcher.close()


def start_notifier(paths: Paths, cfg: Config) -> threading.Event:
    """`lsm monitor --notify`: alerts from a background thread; set the event returned to stop it."""
    stop = threading.Event()

    def run() -> None:
        try:
            _watch(paths, cfg, stop, in_monitor=True)
        except Exception as exc:  # the dashboard goes on without alerts
            log_hook_error(paths, f"monitor --notify stopped: {type(exc).__name__}: {exc}")

    threading.Thread(target=run, name="lsm-notify", daemon=True).start()
    return stop


def log_hook_error(paths: Paths, message: str) -> None:
    from llm_session_manager import hookspool

    hookspool.log_error(str(paths.data_dir / hookspool.SPOOL_DIR), message)


def notify_cmd() -> None:
    """Alert me when a session waits for my permission or input, finishes, fails, or is about to
    auto-compact (needs `lsm hooks install`; which alerts and how: `notify` in the config). Ctrl-C stops."""
    env = load_env()
    say(f"lsm notify: watching the hook events in {env.paths.data_dir}; Ctrl-C stops")
    _watch(env.paths, env.config, threading.Event(), in_monitor=False)


def register(app: typer.Typer) -> None:
    app.command("hook")(hook_cmd)
    app.command("notify")(notify_cmd)
    hooks_app.command("install")(install_cmd)
    hooks_app.command("uninstall")(uninstall_cmd)
    hooks_app.command("status")(status_cmd)
    app.add_typer(hooks_app, name="hooks")
