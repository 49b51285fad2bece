"""Claude Code transcript lines as msgspec structs naming only the fields the reader folds.

The decoder builds nothing else: tool results' bodies, thinking, tool inputs other than a shell command
and ``toolUseResult`` are skipped. ``agents/claude_code.py`` decides which lines are folded this way
(user and assistant lines of the expected shape) and imports this module on its first read.
"""

from __future__ import annotations

from typing import Any

import msgspec


class Input(msgspec.Struct):
    command: Any = None


class Block(msgspec.Struct):
    type: Any = None
    text: Any = None
    id: Any = None
    is_error: Any = None
    tool_use_id: Any = None
    input: Input | None = None


class Message(msgspec.Struct):
    id: Any = None
    model: Any = None
    usage: Any = None
    content: str | list[Block] | None = None


class Line(msgspec.Struct):
    type: Any = None
    timestamp: Any = None
    isSidechain: Any = None  # the transcript's own names
    cwd: Any = None
    gitBranch: Any = None
    message: Message | None = None
    isMeta: Any = None
    isCompactSummary: Any = None
    costUSD: Any = None
    isApiErrorMessage: Any = None
    error: Any = None
    requestId: Any = None
    uuid: Any = None


decode = msgspec.json.Decoder(Line).decode
DecodeError = msgspec.DecodeError
