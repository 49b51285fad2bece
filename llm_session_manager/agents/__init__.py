"""The agents lsm reads: the registry. Each module declares its ``INFO = AgentInfo(...)`` (name, reader,
process signature, compact rule, window default, editor-hosted, resume command, conversation); adding an
agent is that module plus one line here. Modules are imported only when their facts are first needed, so
``lsm --help`` and the names alone cost nothing."""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from llm_session_manager.agents.base import AgentInfo, AgentReader, AgentSignature, ReaderSetup
from llm_session_manager.paths import Paths
from llm_session_manager.pricing import DEFAULT_WINDOW

_HERE = "llm_session_manager.agents."

# agent name -> the module that declares its AgentInfo. Order = order in `lsm info`, and the order in
# which a process is matched against the agents' signatures.
REGISTRY: dict[str, str] = {
    "claude-code": _HERE + "claude_code",
    "codex": _HERE + "codex",
    "gemini": _HERE + "gemini",
    "cursor": _HERE + "cursor",
    "cursor-agent": _HERE + "cursor_agent",
    "copilot": _HERE + "copilot",
    "copilot-cli": _HERE + "copilot_cli",
    "aider": _HERE + "aider",
    "cline": _HERE + "cline",
}


def agent_names() -> tuple[str, ...]:
    """Every agent lsm knows, in registry order (no module is imported)."""
    return tuple(REGISTRY)


# (agent, its module) -> its facts, once found: a listing asks twice per session.
_INFOS: dict[tuple[str, str], AgentInfo] = {}


def agent_info(name: str) -> AgentInfo | None:
    """The facts of agent ``name``; None for a name lsm does not know (an imported session's agent)."""
    module_name = REGISTRY.get(name)
    if module_name is None:
        return None
    known = _INFOS.get((name, module_name))
    if known is not None:
        return known
    info = vars(importlib.import_module(module_name)).get("INFO")
    if not isinstance(info, AgentInfo) or info.name != name:
        raise TypeError(f"{module_name} must declare INFO = AgentInfo(name={name!r}, ...)")
    _INFOS[(name, module_name)] = info
    return info


def agent_infos() -> list[AgentInfo]:
    """The facts of every registered agent, in registry order."""
    return [info for name in REGISTRY if (info := agent_info(name)) is not None]


def agent_signatures() -> tuple[AgentSignature, ...]:
    """How the registered agents' processes look, in registry order (agents without a process of their
    own, such as Cline inside VS Code, have none)."""
    return tuple(info.signature for info in agent_infos() if info.signature is not None)


def editor_hosted(name: str) -> bool:
    """Whether agent ``name``'s sessions live inside an editor (closing one must never end the editor)."""
    info = agent_info(name)
    return info is not None and info.editor_hosted


def compact_command(name: str) -> str | None:
    """The command that compacts agent ``name``'s context in place (``/compact``), if it has one."""
    info = agent_info(name)
    return info.compact_command if info is not None else None


def default_window(name: str) -> int:
    """The context window assumed for agent ``name``'s sessions when neither its log nor the price table
    knows the model."""
    info = agent_info(name)
    return info.default_window if info is not None else DEFAULT_WINDOW


def all_readers(
    paths: Paths,
    config: Mapping[str, Any] | None = None,
    running_dirs: Mapping[str, Sequence[str]] | None = None,
) -> list[AgentReader]:
    """A reader for every registered agent, made from ``paths`` (and its environment), the config file's
    settings, and ``running_dirs`` (agent -> working folders of its running processes, for readers that
    search for their files, such as Aider's)."""
    dirs = running_dirs or {}
    setup = ReaderSetup(paths, config or {})
    infos = agent_infos()
    return [info.reader(replace(setup, running_dirs=tuple(dirs.get(info.name, ())))) for info in infos]
