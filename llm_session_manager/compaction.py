"""Where an agent compacts its context on its own: a rule per agent (declared in its ``AgentInfo``), kept
apart from the price table (pricing.py) and the readers so that the statusline, which runs on every
Claude Code refresh, can use it without loading either."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CompactRule:
    """The agent compacts at ``share`` of the window, or — with ``reserve`` — at the window minus that
    many tokens (reserved output and a buffer), but never below ``share``."""

    share: float = 0.9
    reserve: int | None = None

    def point(self, window: int) -> int:
        if self.reserve is None:
            return int(window * self.share)
        return max(window - self.reserve, int(window * self.share))


DEFAULT_COMPACT = CompactRule()  # an agent that does not say: 90%
# Claude Code: the window minus ~33k of reserved output and buffer (167k of 200k, 967k of 1M). Its
# AgentInfo takes this rule from here: the statusline (Claude Code only) needs it without the reader.
CLAUDE_CODE_COMPACT = CompactRule(share=0.8, reserve=33_000)


def auto_compact_point(window: int, agent: str = "claude-code") -> int:
    """Where ``agent`` compacts on its own (its ``AgentInfo.compact``; 90% for an agent lsm does not
    know, such as one from an imported session)."""
    from llm_session_manager.agents import agent_info

    info = agent_info(agent)
    return (info.compact if info is not None else DEFAULT_COMPACT).point(window)
