"""What every command needs: its context (paths + config, from the environment), output format checks,
JSON printing, warnings."""

from __future__ import annotations

import sys
from typing import Any

from llm_session_manager.agents import agent_names
from llm_session_manager.api.context import Context
from llm_session_manager.errors import UsageError
from llm_session_manager.safetext import for_terminal, json_for_terminal

FORMATS = ("table", "json")
FORMAT_HELP = "Output format: table or json."
# Every agent lsm reads, named as in session ids (the registry's module names, '_' -> '-').
AGENT_NAMES = agent_names()
AGENT_HELP = f"Only this agent: {', '.join(AGENT_NAMES)} (or a prefix: claude)."


# A command's context: paths and configuration from the environment, read here at the CLI's edge.
Env = Context


def load_env() -> Context:
    return Context.from_environment()


def check_format(value: str, allowed: tuple[str, ...] = FORMATS, option: str = "--format") -> str:
    fmt = value.strip().lower()
    if fmt not in allowed:
        raise UsageError(f"{option}: unknown format '{value}' (one of {', '.join(allowed)})")
    return fmt


def check_agent(value: str | None) -> str | None:
    """``--agent``: a known agent name or a prefix of one (``claude``), lower-cased; else a usage error."""
    if value is None:
        return None
    name = value.strip().lower()
    if not name or not any(agent.startswith(name) for agent in AGENT_NAMES):
        raise UsageError(f"--agent: unknown agent '{value}' (one of {', '.join(AGENT_NAMES)})")
    return name


def one_agent(value: str | None) -> str | None:
    """``--agent`` where one exact agent is needed: a name, or a prefix that names only one agent."""
    name = check_agent(value)
    if name is None or name in AGENT_NAMES:
        return name
    matches = [agent for agent in AGENT_NAMES if agent.startswith(name)]
    if len(matches) > 1:
        raise UsageError(f"--agent: '{value}' could be {', '.join(matches)}; give the full name")
    return matches[0]


def print_json(value: Any) -> None:
    import orjson

    sys.stdout.buffer.write(json_for_terminal(orjson.dumps(value, option=orjson.OPT_INDENT_2)) + b"\n")
    sys.stdout.flush()


def warn(message: str) -> None:
    sys.stderr.write(for_terminal(f"lsm: warning: {message}") + "\n")
