"""What every agent reader provides, and the per-file state the parse cache keeps."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from llm_session_manager.models import Session
from llm_session_manager.paths import Paths


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


class AgentReader(Protocol):
    name: str

    def sources(self, paths: Paths) -> Iterable[Path]:
        """Files to read, existing ones only."""
        ...

    def read(self, path: Path, prior: FileState | None) -> FileState:
        """Read ``path`` from ``prior``'s offset (or from the start) and return the new state."""
        ...

    def sessions(self, states: Sequence[FileState]) -> list[Session]:
        """Merge file states into sessions."""
        ...
