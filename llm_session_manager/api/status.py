"""What lsm sees of this machine: version, paths, agents and their files, the parse cache."""

from __future__ import annotations

import os
from typing import Any

from llm_session_manager import __version__
from llm_session_manager.agents.base import AgentReader
from llm_session_manager.api.context import Context
from llm_session_manager.service import Collected


def info_document(ctx: Context, result: Collected) -> dict[str, Any]:
    """`lsm info --format json`."""
    return {
        "version": __version__,
        "paths": _paths_info(ctx),
        "agents": {reader.name: _agent_info(reader, result) for reader in result.readers},
        "unknown_models": result.unknown_models,
        "models_not_recorded": result.models_not_recorded,
        "cache": _cache_info(result),
        "unreadable": [err for stats in result.stats.values() for err in stats.errors],
        "discovery": result.discovery_error or "ok",
        "content_index": _content_index_info(ctx),
        "pid": os.getpid(),
    }


def _paths_info(ctx: Context) -> dict[str, object]:
    roots = [{"path": str(p), "exists": p.is_dir()} for p in ctx.paths.claude_project_roots]
    return {
        **ctx.paths.as_dict(),
        "config_file_exists": ctx.paths.config_file.exists(),
        "claude_project_roots": roots,  # kept from 0.3.0 (Claude Code only; see agents.*.roots)
    }


def _cache_info(result: Collected) -> dict[str, object]:
    """The parse cache over every agent: a hit when no agent had to read a changed file."""
    stats = list(result.stats.values())
    return {
        "hit": bool(stats) and all(s.from_cache for s in stats),
        "files_read": sum(s.files_read for s in stats),
        "bytes_read": sum(s.bytes_read for s in stats),
    }


def _content_index_info(ctx: Context) -> dict[str, object]:
    """The content index (`lsm search --content`): messages and sessions indexed, and its bytes."""
    from contextlib import closing

    from llm_session_manager.api.search import index_size
    from llm_session_manager.service import open_db

    with ctx.lock, closing(open_db(ctx.paths)) as conn:
        return {**index_size(conn)}


def _agent_info(reader: AgentReader, result: Collected) -> dict[str, object]:
    sessions = [v.session for v in result.views if v.session.agent == reader.name]
    stats = result.stats.get(reader.name)
    files = stats.files if stats else 0
    return {
        "roots": [{"path": path, "exists": exists} for path, exists in reader.roots()],
        "sessions": len(sessions),
        "running": sum(1 for s in sessions if s.process),
        "source_files": files,
        "transcript_files": files,  # the 0.3.0 name of source_files, kept for scripts
        "skipped_lines": sum(s.skipped_lines for s in sessions),
        "cache_hit": bool(stats and stats.from_cache),
        "files_read": stats.files_read if stats else 0,
        "bytes_read": stats.bytes_read if stats else 0,
    }
