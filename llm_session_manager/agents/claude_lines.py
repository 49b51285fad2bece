"""Claude Code transcript lines as msgspec structs naming only the fields the reader folds.

The decoder builds nothing else: tool results' bodies, thinking, tool inputs other than a shell command,
usage fields other than the token counts, ``toolUseResult``, and an attachment's body (file contents,
skill and agent listings) are skipped. A text block's text is kept
as ``msgspec.Raw`` (most are never read: an assistant's prose matters only on an API error line) and
decoded where it is read. ``agents/claude_code.py`` decides which lines are folded this way (user and
assistant lines of the expected shape, and lines of other types read only for their time and place)
and imports this module on its first read.

The structs are ``gc=False``: they hold no cycles, and hundreds of thousands of them are made per scan.
A ``Raw`` points into the buffer the line was decoded from, so a line is folded before that buffer is
reused (``jsonl.fold_lines`` does).
"""

from __future__ import annotations

from typing import Any

import msgspec

Raw = msgspec.Raw
NULL = msgspec.Raw(b"null")


class Input(msgspec.Struct, gc=False):
    command: Any = None


class Block(msgspec.Struct, gc=False):
    type: Any = None
    text: Raw = NULL
    id: Any = None
    is_error: Any = None
    tool_use_id: Any = None
    input: Input | None = None


class CacheCreation(msgspec.Struct, gc=False):
    ephemeral_1h_input_tokens: Any = None


class Usage(msgspec.Struct, gc=False):
    input_tokens: Any = None
    output_tokens: Any = None
    cache_creation_input_tokens: Any = None
    cache_read_input_tokens: Any = None
    cache_creation: CacheCreation | None = None


class Message(msgspec.Struct, gc=False):
    id: Any = None
    model: Any = None
    usage: Usage | None = None
    content: str | list[Block] | None = None


class Identity(msgspec.Struct, gc=False):
    modelId: Any = None  # the transcript's own name


class Attachment(msgspec.Struct, gc=False):
    identity: Identity | None = None


class Line(msgspec.Struct, gc=False):
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
    attachment: Attachment | None = None


decode = msgspec.json.Decoder(Line).decode
decode_any = msgspec.json.Decoder().decode  # a Raw text block's value
DecodeError = msgspec.DecodeError
