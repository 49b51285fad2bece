"""One reader per agent, behind the protocol in ``agents.base``; this module is the registry."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping, Sequence
from typing import Any

from llm_session_manager.agents.base import AgentReader
from llm_session_manager.paths import Paths

# (module under llm_session_manager.agents, reader class). Order = order in `lsm info`.
REGISTRY: tuple[tuple[str, str], ...] = (
    ("claude_code", "ClaudeCodeReader"),
    ("codex", "CodexReader"),
    ("gemini", "GeminiReader"),
    ("cursor", "CursorReader"),
    ("cursor_agent", "CursorAgentReader"),
    ("copilot", "CopilotReader"),
    ("copilot_cli", "CopilotCliReader"),
    ("aider", "AiderReader"),
    ("cline", "ClineReader"),
)


def all_readers(
    paths: Paths,
    config: Mapping[str, Any] | None = None,
    running_dirs: Mapping[str, Sequence[str]] | None = None,
) -> list[AgentReader]:
    """A reader for every agent lsm knows, configured from ``paths`` (and its environment).

    A reader class that needs settings from the config file defines ``from_config(paths, config)``;
    the others define ``from_paths(paths)``. ``running_dirs`` (agent -> working folders of its running
    processes) goes to readers that search for their files (Aider) as ``extra_dirs``.
    """
    readers: list[AgentReader] = []
    for module_name, class_name in REGISTRY:
        try:
            module = importlib.import_module(f"llm_session_manager.agents.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"llm_session_manager.agents.{module_name}":
                continue  # not written yet
            raise
        cls = getattr(module, class_name)
        extra = list((running_dirs or {}).get(getattr(cls, "name", ""), ()))
        takes_extra = (
            hasattr(cls, "from_config") and "extra_dirs" in inspect.signature(cls.from_config).parameters
        )
        if takes_extra and extra:
            readers.append(cls.from_config(paths, config or {}, extra_dirs=extra))
        elif hasattr(cls, "from_config"):
            readers.append(cls.from_config(paths, config or {}))
        else:
            readers.append(cls.from_paths(paths))
    return readers
