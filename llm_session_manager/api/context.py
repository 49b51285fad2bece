"""``Context``: what every use case needs — paths, configuration, a clock, one lock, open stores."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from llm_session_manager import config as config_mod
from llm_session_manager.errors import LsmError
from llm_session_manager.paths import Paths, resolve

if TYPE_CHECKING:
    from llm_session_manager.agents.base import AgentReader
    from llm_session_manager.models import Session, SessionView
    from llm_session_manager.scan import ScanProgress
    from llm_session_manager.service import Collected


class ReadOnlyError(LsmError):
    """A write asked of a front end configured read-only (``mcp.read_only``)."""


class UnavailableError(LsmError):
    """A feature whose optional dependency is not installed (the memory store without chromadb)."""


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Context:
    """Built once per process (a CLI run) or per server (MCP, web). ``lock`` keeps scans and writes from
    concurrent requests of one server from interleaving; ``memory`` is the memory store, opened on
    first use and kept for the context's life."""

    paths: Paths
    config: config_mod.Config
    clock: Callable[[], datetime] = utc_now
    read_only: bool = False
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    memory: Any = field(default=None, repr=False)
    # Told how a scan's reading goes (a front end's progress bar), and when each scan is over.
    progress: ScanProgress | None = field(default=None, repr=False)

    @classmethod
    def from_environment(cls, *, read_only: bool = False) -> Context:
        """Paths from the environment (LSM_HOME, CLAUDE_CONFIG_DIR…) and the config file they name."""
        return cls.for_paths(resolve(), read_only=read_only)

    @classmethod
    def for_paths(cls, paths: Paths, *, read_only: bool = False) -> Context:
        return cls(paths, config_mod.load(paths.config_file), read_only=read_only)

    def now(self) -> datetime:
        return self.clock()

    def collect(
        self,
        *,
        readers: list[AgentReader] | None = None,
        history: bool = False,
        wanted: Callable[[Session], bool] | None = None,
    ) -> Collected:
        """Every session with its derived figures (scan, discovery, our metadata); ``history`` keeps each
        session's per-minute usage (charts, today's spend by reply time); ``wanted``: the only sessions
        the caller can show, the others found but not derived (``service.collect``)."""
        from llm_session_manager.service import collect

        with self.lock:
            try:
                return collect(
                    self.paths,
                    self.config,
                    now=self.now(),
                    readers=readers,
                    progress=self.progress,
                    history=history,
                    wanted=wanted,
                )
            finally:
                if self.progress is not None:
                    self.progress.finished()

    def views(self) -> list[SessionView]:
        return self.collect().views

    def one(self, session_id: str) -> SessionView:
        """The session a full id or unique prefix names; NotFoundError / AmbiguousIdError otherwise."""
        from llm_session_manager.service import resolve_id

        return resolve_id(self.views(), session_id)

    def check_writable(self) -> None:
        if self.read_only:
            raise ReadOnlyError("lsm's MCP server is read-only (mcp.read_only: true in the lsm config)")
