"""Which events lsm listens to in each agent, where each agent keeps its hooks, and our entries there.

All three agents share one layout: ``{"hooks": {Event: [{"matcher"?, "hooks": [{"type": "command",
"command": ...}]}]}}`` — Claude Code in ``settings.json`` (timeouts in seconds), Codex 0.171 in
``$CODEX_HOME/hooks.json`` (seconds; the JSON form, so that ``config.toml`` and its comments stay as
they are), Gemini CLI 0.61 in ``~/.gemini/settings.json`` (milliseconds, and a ``name``). No matcher:
every tool and every notification type. Our entries are told apart by their command:
``<lsm> hook <agent>``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from llm_session_manager import agent_config
from llm_session_manager.agent_config import Document, JsonEdit, Outcome
from llm_session_manager.errors import ConfigError
from llm_session_manager.paths import Paths
from llm_session_manager.timefmt import iso


@dataclass(frozen=True)
class AgentHooks:
    agent: str
    events: tuple[str, ...]
    timeout: int
    named: bool = False  # Gemini CLI names each hook (its `hooksConfig.disabled` list uses the name)
    note: str | None = None
    # Events whose timeout the agent caps lower: Codex 0.171 clamps SessionEnd and Interrupt hooks to
    # 3 s and warns at every start when a config asks for more.
    short: tuple[str, ...] = ()
    short_timeout: int = 3


AGENT_HOOKS = {
    "claude-code": AgentHooks(
        "claude-code",
        (
            "SessionStart",
            "UserPromptSubmit",
            "PreToolUse",
            "PermissionRequest",
            "PermissionDenied",
            "PostToolUse",
            "PostToolUseFailure",
            "Notification",
            "Elicitation",
            "ElicitationResult",
            "SubagentStart",
            "SubagentStop",
            "PreCompact",
            "PostCompact",
            "Stop",
            "StopFailure",
            "SessionEnd",
        ),
        timeout=10,
        note="Claude Code reads its hooks at start: running sessions pick them up after /hooks or a restart.",
    ),
    "codex": AgentHooks(
        "codex",
        (
            "SessionStart",
            "UserPromptSubmit",
            "PreToolUse",
            "PermissionRequest",
            "PostToolUse",
            "SubagentStart",
            "SubagentStop",
            "PreCompact",
            "PostCompact",
            "Interrupt",
            "Stop",
            "SessionEnd",
        ),
        timeout=10,
        short=("SessionEnd", "Interrupt"),
        note=(
            "Codex runs a new or changed hook only once you trust it: open /hooks in Codex and trust the"
            " lsm entries (they are skipped until then; `codex --dangerously-bypass-hook-trust` runs them"
            " unreviewed for one invocation). Hooks must not be off under [features] in config.toml."
        ),
    ),
    "gemini": AgentHooks(
        "gemini",
        (
            "SessionStart",
            "BeforeAgent",
            "BeforeTool",
            "AfterTool",
            "Notification",
            "AfterAgent",
            "SessionEnd",
        ),
        timeout=10_000,
        named=True,
        note="Gemini CLI reads its hooks at start; they must not be switched off (hooksConfig.enabled).",
    ),
}
AGENTS = tuple(AGENT_HOOKS)
HOOK_NAME = "lsm"

_OURS = re.compile(r"(?:^|[/\\'\" ])(?:lsm|llm-session-manager|-m llm_session_manager)['\"]? hook (\S+)$")


def config_path(agent: str, paths: Paths) -> Path:
    env = paths.env
    if agent == "claude-code":
        return paths.claude_config_dirs[0] / "settings.json"
    if agent == "codex":
        root = (env.get("CODEX_HOME") or "").strip()
        return (Path(root).expanduser() if root else paths.home / ".codex") / "hooks.json"
    home = (env.get("GEMINI_CLI_HOME") or "").strip()
    return (Path(home).expanduser() if home else paths.home) / ".gemini" / "settings.json"


def lsm_command(env: Mapping[str, str] | None = None) -> str:
    """The command line that runs `lsm hook`: this lsm's own script when it was started as one, else
    the `lsm` on PATH, else this Python with ``-m llm_session_manager``."""
    env = os.environ if env is None else env
    argv0 = sys.argv[0] if sys.argv else ""
    if Path(argv0).name in ("lsm", "llm-session-manager") and os.path.isfile(argv0):
        return shlex.quote(os.path.abspath(argv0))
    found = shutil.which("lsm", path=env.get("PATH"))
    if found:
        return shlex.quote(os.path.abspath(found))
    return f"{shlex.quote(sys.executable)} -m llm_session_manager"


def is_ours(entry: object, agent: str) -> bool:
    if not isinstance(entry, dict) or entry.get("type", "command") != "command":
        return False
    match = _OURS.search(str(entry.get("command", "")).strip())
    return match is not None and match.group(1) == agent


def _entry(spec: AgentHooks, command: str, event: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": "command", "command": f"{command} hook {spec.agent}"}
    if spec.named:
        entry["name"] = HOOK_NAME
    entry["timeout"] = spec.short_timeout if event in spec.short else spec.timeout
    return entry


def _add(spec: AgentHooks, command: str, doc: Document) -> Document:
    hooks = doc.setdefault("hooks", {})
    if not isinstance(hooks, dict):
        raise ValueError("'hooks' is not an object")
    for event in spec.events:
        want = _entry(spec, command, event)
        groups = hooks.setdefault(event, [])
        if not isinstance(groups, list):
            raise ValueError(f"'hooks.{event}' is not a list")
        ours = [
            (g, h)
            for g in groups
            if isinstance(g, dict) and isinstance(g.get("hooks"), list)
            for h in g["hooks"]
            if is_ours(h, spec.agent)
        ]
        if not ours:
            groups.append({"hooks": [dict(want)]})
        elif ours[0][1].get("command") != want["command"]:
            ours[0][1]["command"] = want["command"]  # lsm moved: point the entry at where it is now
    return doc


def _remove(spec: AgentHooks, doc: Document) -> Document:
    hooks = doc.get("hooks")
    if not isinstance(hooks, dict):
        return doc
    for event in list(hooks):
        groups = hooks[event]
        if not isinstance(groups, list):
            continue
        kept = []
        for group in groups:
            inner = group.get("hooks") if isinstance(group, dict) else None
            if isinstance(inner, list) and any(is_ours(h, spec.agent) for h in inner):
                rest = [h for h in inner if not is_ours(h, spec.agent)]
                if not rest:
                    continue
                group = {**group, "hooks": rest}
            kept.append(group)
        if kept:
            hooks[event] = kept
        else:
            del hooks[event]
    if not hooks:
        del doc["hooks"]
    return doc


def hook_edit(agent: str, command: str) -> JsonEdit:
    spec = AGENT_HOOKS[agent]
    return JsonEdit(f"hooks-{agent}", lambda doc: _add(spec, command, doc), lambda doc: _remove(spec, doc))


def installed_events(agent: str, doc: Document) -> list[str]:
    """The events whose hooks hold an lsm entry for ``agent``."""
    hooks = doc.get("hooks")
    if not isinstance(hooks, dict):
        return []
    out = []
    for event, groups in hooks.items():
        if not isinstance(groups, list):
            continue
        for group in groups:
            inner = group.get("hooks") if isinstance(group, dict) else None
            if isinstance(inner, list) and any(is_ours(h, agent) for h in inner):
                out.append(event)
                break
    return out


_INLINE_HOOKS = re.compile(r"^\s*\[\[?\s*hooks\s*[.\]]", re.MULTILINE)


def codex_inline_hooks(paths: Paths) -> Path | None:
    """Codex's config.toml when it also holds inline ``[hooks]`` tables: Codex then merges them with
    hooks.json and warns at start (its docs advise one form per folder)."""
    toml = config_path("codex", paths).with_name("config.toml")
    try:
        text = toml.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return toml if _INLINE_HOOKS.search(text) else None


def record_dir(paths: Paths) -> Path:
    return paths.data_dir / "agent-config"


def install(agent: str, paths: Paths, now: datetime) -> Outcome:
    edit = hook_edit(agent, lsm_command(paths.env))
    return agent_config.install(config_path(agent, paths), edit, record_dir(paths), now)


def uninstall(agent: str, paths: Paths, now: datetime) -> Outcome:
    edit = hook_edit(agent, lsm_command(paths.env))
    return agent_config.uninstall(config_path(agent, paths), edit, record_dir(paths), now)


def status(agent: str, paths: Paths, last_seen: dict[str, tuple[float, str]]) -> dict[str, Any]:
    """What is installed for ``agent`` and when it last sent an event (a plain, JSON-ready dict)."""
    path = config_path(agent, paths)
    spec = AGENT_HOOKS[agent]
    error = None
    try:
        _raw, doc = agent_config.read_document(path)
        events = installed_events(agent, doc)
    except ConfigError as exc:
        events, error = [], str(exc)
    seen = last_seen.get(agent)
    missing = [e for e in spec.events if e not in events]
    return {
        "agent": agent,
        "config_file": str(path),
        "exists": path.exists(),
        "installed": "yes" if not missing else ("partly" if events else "no"),
        "events": events,
        "missing_events": missing if events else [],
        "last_event_at": iso(datetime.fromtimestamp(seen[0], timezone.utc)) if seen else None,
        "last_event": seen[1] if seen else None,
        "error": error,
        "note": spec.note,
    }
