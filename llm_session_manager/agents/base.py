"""What every agent reader provides, and the per-file state the parse cache keeps."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from llm_session_manager.models import Session


@dataclass
class FileState:
    """What has been read of one source file so far.

    ``identity`` is (device, inode, size, mtime_ns) of the file when it was read; ``offset`` the byte
    position after the last complete line; ``head`` a fingerprint of the first bytes (a rewritten file
    is read again from the start); ``data`` the reader's partial aggregate, JSON-serialisable.
    """

    path: str
    session_key: str
    identity: tuple[int, int, int, int]
    offset: int
    head: bytes
    data: dict[str, Any] = field(default_factory=dict)


Identity = tuple[int, int, int, int]  # device, inode, size, mtime_ns (a reader may combine files)


class AgentReader(Protocol):
    """One agent's sessions, read incrementally through the parse cache.

    Readers must be picklable (they are sent to worker processes): keep only plain data on them.
    """

    name: str  # the agent id used in session ids, e.g. "claude-code", "codex"
    parser_version: int  # bump when ``FileState.data`` changes shape or meaning

    def sources(self) -> Iterable[tuple[str, str, Identity]]:
        """(path, session key, identity) of every source file that exists now. The key groups files
        into sessions for the reader's own use (it may be "" when one file holds many sessions)."""
        ...

    def read(self, path: str, session_key: str, prior: FileState | None) -> FileState:
        """Read ``path``, continuing from ``prior`` when the reader can (else from the start)."""
        ...

    def sessions(self, states: Sequence[FileState]) -> list[Session]:
        """Merge file states into sessions."""
        ...

    def roots(self) -> list[tuple[str, bool]]:
        """The places this reader looks, and whether each exists (shown by `lsm info`)."""
        ...
