"""`lsm statusline install|uninstall`: our ``statusLine`` entry in Claude Code's settings.json, through
agent_config (backup, atomic write, every other setting kept, uninstall restores the bytes).

Claude Code runs one statusline command. A user's own is left alone unless ``--force``; then ours runs it
after itself (``lsm statusline --then '<their command>'``) and shows its line after ours, and uninstall
puts their command back. The entry carries everything uninstall needs, so a settings file edited since
install is still restored correctly.
"""

from __future__ import annotations

import re
import shlex
from datetime import datetime
from pathlib import Path
from typing import Any

from llm_session_manager import agent_config, hook_install
from llm_session_manager.agent_config import Document, JsonEdit, Outcome
from llm_session_manager.errors import ConfigError
from llm_session_manager.paths import Paths

EDIT_NAME = "statusline"
_OURS = re.compile(
    r"(?:^|[/\\'\" ])(?:lsm|llm-session-manager|-m llm_session_manager)['\"]? statusline(?: --then (.+))?$"
)


def ours(entry: object) -> re.Match[str] | None:
    """Our statusLine entry's match (group 1: the user's command it runs after ours, quoted)."""
    if not isinstance(entry, dict) or entry.get("type", "command") != "command":
        return None
    return _OURS.search(str(entry.get("command", "")).strip())


def users(doc: Document) -> dict[str, Any] | None:
    """The user's own statusLine entry, if the settings hold one that is not ours."""
    entry = doc.get("statusLine")
    return None if entry is None or ours(entry) else entry if isinstance(entry, dict) else {"value": entry}


def _add(lsm: str, doc: Document) -> Document:
    entry = doc.get("statusLine")
    if ours(entry):
        return doc
    command = f"{lsm} statusline"
    if entry is None:
        doc["statusLine"] = {"type": "command", "command": command, "padding": 0}
        return doc
    theirs = entry.get("command") if isinstance(entry, dict) else None
    if not isinstance(theirs, str) or entry.get("type", "command") != "command":
        raise ConfigError("the statusLine setting is not a command; lsm cannot run it after its own")
    doc["statusLine"] = {**entry, "command": f"{command} --then {shlex.quote(theirs)}"}
    return doc


def _remove(doc: Document) -> Document:
    entry = doc.get("statusLine")
    match = ours(entry)
    if match is None or not isinstance(entry, dict):
        return doc
    if match.group(1):
        parts = shlex.split(match.group(1))
        doc["statusLine"] = {**entry, "command": parts[0] if len(parts) == 1 else match.group(1)}
    else:
        del doc["statusLine"]
    return doc


def edit(paths: Paths) -> JsonEdit:
    lsm = hook_install.lsm_command(paths.env)
    return JsonEdit(EDIT_NAME, lambda doc: _add(lsm, doc), _remove)


def settings_file(paths: Paths) -> Path:
    return hook_install.config_path("claude-code", paths)


def install(paths: Paths, now: datetime, force: bool) -> Outcome:
    """Add our statusLine; a user's own is kept (run after ours) with ``force``, else left alone."""
    path = settings_file(paths)
    _raw, doc = agent_config.read_document(path)
    theirs = users(doc)
    if theirs is not None and not force:
        return Outcome(
            path,
            False,
            "left alone: it already has a statusLine command of its own; --force runs it after lsm's",
        )
    return agent_config.install(path, edit(paths), hook_install.record_dir(paths), now)


def uninstall(paths: Paths, now: datetime) -> Outcome:
    return agent_config.uninstall(settings_file(paths), edit(paths), hook_install.record_dir(paths), now)
