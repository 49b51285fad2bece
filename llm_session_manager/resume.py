"""The shell command that reopens a session in its own agent (pure: a function of the session).

Each CLI agent resumes a session by its own id (the words before it are its ``AgentInfo.resume``):
``claude --resume <id>``, ``codex resume <id>``, ``gemini --resume <id>``, ``cursor-agent --resume <id>``,
``copilot --resume <id>``. Editor-hosted agents (Cursor, VS Code's Copilot, Cline) and Aider have no such
command: ``None``. The id comes from a log, so it is shell-quoted; the monitor, content search and the
web pages show the same string.
"""

from __future__ import annotations

import shlex

from llm_session_manager.agents import agent_info
from llm_session_manager.models import Session


def resume_command(session: Session) -> str | None:
    """``claude --resume 5f0c2b1e-…`` for a session its agent can resume by id; None otherwise (an
    editor-hosted or imported session, or a running process whose transcript does not exist yet)."""
    info = agent_info(session.agent)
    words = info.resume if info is not None else None
    if words is None or session.origin != "live" or not session.native_id or not session.transcript_paths:
        return None
    return shlex.join([*words, session.native_id])
