"""Where each agent compacts its context on its own: kept apart from the price table (pricing.py) so that
the statusline, which runs on every Claude Code refresh, can ask without loading every price."""

from __future__ import annotations

# Where each agent compacts (or summarises) its context on its own, as a share of the window.
COMPACT_SHARE = {"codex": 0.9, "gemini": 0.5}


def auto_compact_point(window: int, agent: str = "claude-code") -> int:
    """Where the agent compacts on its own. Claude Code: the window minus ~33k of reserved output and
    buffer (167k of 200k, 967k of 1M); Codex at 90%, Gemini CLI at 50%; others taken as 90%."""
    if agent == "claude-code":
        return max(window - 33_000, int(window * 0.8))
    return int(window * COMPACT_SHARE.get(agent, 0.9))
