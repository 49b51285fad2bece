"""`lsm mcp-session-server <id>`: an MCP server scoped to ONE session, for the agent working in it.

It answers "how much room do I have left?", "what have I changed?" and "what did we learn before about
this?" from the session's own data:

- metrics in real time (re-read on every call; the parse cache makes that an incremental read): context
  fill, the auto-compact point and the minutes to it at the current rate, burn rate, cost, health;
- the project's git state through GitPython: branch, ahead/behind its upstream, staged / unstaged /
  untracked files, recent commits (marked when made since the session began), and the diff stat of the
  working tree against the last commit older than the session (what changed during it). A project folder
  that is not a git repository still works: the git part says so;
- the files the session touched, from its own tool calls (edits, writes, reads: the same rule as the
  Markdown hand-off), and the files changed on disk since the session began (git's file list when it is a
  repository, so ignored files stay out; a bounded walk otherwise);
- memory search scoped to the session's project by default.

The same JSON shapes as the CLI where the CLI has them (``session_json``, ``lsm health``); nothing is
written except a memory the agent adds (and not at all with ``mcp.read_only: true``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from llm_session_manager import __version__
from llm_session_manager import config as config_mod
from llm_session_manager.mcp.server import (
    ADD,
    READ,
    MemoryList,
    Services,
    health_payload,
    memory_add_payload,
    memory_search_payload,
    redact_argument_errors,
    resource_errors,
    session_payload,
    to_json,
    tool_errors,
)
from llm_session_manager.paths import Paths, resolve

if TYPE_CHECKING:
    from llm_session_manager.config import Config
    from llm_session_manager.models import Session, SessionView

# The session_json keys that make up the live metrics.
METRIC_KEYS = (
    "id",
    "status",
    "model",
    "pid",
    "last_activity",
    "tokens",
    "tokens_source",
    "context_tokens",
    "context_window",
    "context_window_source",
    "context_pct",
    "compact_at",
    "minutes_to_compact",
    "burn_rate_tokens_per_min",
    "cost_per_hour_usd",
    "cost_usd",
    "compactions",
    "health",
)
MAX_FILES = 200  # entries listed per file list; the counts are always complete
MAX_SCAN = 50_000  # files looked at on disk at most
WALK_DEPTH = 8
EDIT_WORDS = ("edit", "write", "patch", "replace", "create", "insert", "delete", "move", "rename")
READ_WORDS = ("read", "view", "open")
# git's empty tree: the base of a diff when no commit is older than the session.
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


# ---------------------------------------------------------------------------------------------------
# Metrics


def metrics_payload(view: SessionView) -> dict[str, Any]:
    """The live figures of the session: a subset of `lsm list --format json`, the same values."""
    full = session_payload(view)
    return {key: full[key] for key in METRIC_KEYS}


# ---------------------------------------------------------------------------------------------------
# Git


def _iso(dt: datetime) -> str:
    from llm_session_manager.timefmt import iso

    return str(iso(dt.astimezone(timezone.utc)))


def _capped(items: list[str]) -> dict[str, Any]:
    return {"count": len(items), "files": items[:MAX_FILES]}


def _numstat(text: str) -> dict[str, Any]:
    """``git diff --numstat`` output: per file (added, deleted); binary files count as 0/0."""
    files = []
    added = deleted = 0
    for line in text.splitlines():
        parts = line.split("\t", 2)
        if len(parts) != 3:
            continue
        a, d, path = parts
        ins = int(a) if a.isdigit() else 0
        dels = int(d) if d.isdigit() else 0
        added += ins
        deleted += dels
        files.append({"path": path, "insertions": ins, "deletions": dels, "binary": a == "-"})
    return {
        "files_changed": len(files),
        "insertions": added,
        "deletions": deleted,
        "files": files[:MAX_FILES],
    }


def _ahead_behind(repo: Any, branch: Any) -> dict[str, Any]:
    tracking = branch.tracking_branch() if branch is not None else None
    if tracking is None or not tracking.is_valid():
        return {"upstream": None, "ahead": None, "behind": None}
    ahead = sum(1 for _ in repo.iter_commits(f"{tracking.path}..HEAD"))
    behind = sum(1 for _ in repo.iter_commits(f"HEAD..{tracking.path}"))
    return {"upstream": tracking.name, "ahead": ahead, "behind": behind}


def _commits(repo: Any, started: datetime | None, limit: int) -> list[dict[str, Any]]:
    out = []
    for c in repo.iter_commits("HEAD", max_count=limit):
        when = c.committed_datetime
        out.append(
            {
                "sha": c.hexsha,
                "short": c.hexsha[:10],
                "summary": c.summary if isinstance(c.summary, str) else c.summary.decode("utf-8", "replace"),
                "author": c.author.name,
                "committed_at": _iso(when),
                "since_session_start": bool(started and when >= started),
            }
        )
    return out


def _base_commit(repo: Any, started: datetime) -> Any | None:
    """The newest commit on HEAD made before the session began (what the session started from)."""
    for c in repo.iter_commits("HEAD", max_count=5000):
        if c.committed_datetime < started:
            return c
    return None


def _diff_since(repo: Any, started: datetime | None) -> dict[str, Any]:
    """Working tree (committed and uncommitted changes to tracked files) against the session's start."""
    if started is None:
        return {"available": False, "reason": "the session's start time is unknown"}
    base = _base_commit(repo, started)
    ref = base.hexsha if base is not None else EMPTY_TREE
    stat = _numstat(repo.git.diff(ref, "--numstat", "--no-renames"))
    return {
        "available": True,
        "base": base.hexsha if base is not None else None,
        "base_note": "the last commit before the session began"
        if base is not None
        else "no commit is older than the session: compared with an empty tree",
        **stat,
    }


def git_payload(project_path: str | None, started: datetime | None, max_commits: int = 10) -> dict[str, Any]:
    """The project's git state; ``repo: false`` with the reason when there is none."""
    if not project_path:
        return {"repo": False, "reason": "the session has no project folder"}
    if not os.path.isdir(project_path):
        return {"repo": False, "reason": f"{project_path} is not a folder on this machine"}
    try:
        import git
    except ImportError as exc:  # pragma: no cover - GitPython is a dependency; git itself may be missing
        return {"repo": False, "reason": f"git is not available: {exc}"}
    try:
        repo = git.Repo(project_path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return {"repo": False, "reason": f"{project_path} is not inside a git repository"}
    try:
        return _git_details(repo, started, max_commits)
    except (git.GitError, OSError, ValueError) as exc:
        return {"repo": True, "root": repo.working_tree_dir, "error": f"{type(exc).__name__}: {exc}"}
    finally:
        repo.close()


def _git_details(repo: Any, started: datetime | None, max_commits: int) -> dict[str, Any]:
    has_commits = repo.head.is_valid()
    branch = None if repo.head.is_detached else repo.active_branch
    staged = sorted({str(d.a_path or d.b_path) for d in repo.index.diff("HEAD")}) if has_commits else []
    unstaged = sorted({str(d.a_path or d.b_path) for d in repo.index.diff(None)})
    untracked = sorted(repo.untracked_files)
    return {
        "repo": True,
        "root": repo.working_tree_dir,
        "branch": branch.name if branch is not None else None,
        "detached": repo.head.is_detached,
        "head": repo.head.commit.hexsha if has_commits else None,
        **(_ahead_behind(repo, branch) if has_commits else {"upstream": None, "ahead": None, "behind": None}),
        "dirty": bool(staged or unstaged or untracked),
        "staged": _capped(staged),
        "unstaged": _capped(unstaged),
        "untracked": _capped(untracked),
        "recent_commits": _commits(repo, started, max_commits) if has_commits else [],
        "diff_since_session_start": _diff_since(repo, started)
        if has_commits
        else {"available": False, "reason": "the repository has no commits yet"},
    }


# ---------------------------------------------------------------------------------------------------
# Files


def _kind(tools: set[str]) -> str:
    names = " ".join(t.lower() for t in tools)
    if any(w in names for w in EDIT_WORDS):
        return "edited"
    if any(w in names for w in READ_WORDS):
        return "read"
    return "other"


def touched_files(turns: list[dict[str, Any]], root: str | None) -> list[dict[str, Any]]:
    """Files named by the session's tool calls (``file_path``/``path``/``notebook_path``), first seen
    first: which tools, how many calls, and ``edited``/``read``/``other``."""
    seen: dict[str, dict[str, Any]] = {}
    for turn in turns:
        for call in turn.get("tool_calls") or []:
            args = call.get("input") if isinstance(call.get("input"), dict) else {}
            path = args.get("file_path") or args.get("path") or args.get("notebook_path")
            if not isinstance(path, str) or not path:
                continue
            entry = seen.setdefault(path, {"path": path, "tools": set(), "calls": 0})
            entry["tools"].add(str(call.get("name") or "tool"))
            entry["calls"] += 1
    out = []
    for entry in seen.values():
        full = (
            entry["path"] if os.path.isabs(entry["path"]) or not root else os.path.join(root, entry["path"])
        )
        out.append(
            {
                "path": entry["path"],
                "kind": _kind(entry["tools"]),
                "tools": sorted(entry["tools"]),
                "calls": entry["calls"],
                "exists": os.path.exists(full),
            }
        )
    return out


def _candidates(root: str) -> tuple[list[str], str]:
    """The files to look at: git's tracked and untracked-but-not-ignored files, or a bounded walk."""
    from llm_session_manager.project import git_files, walk_files

    listed = git_files(root, untracked=True)
    if listed is not None:
        return list(_limit(iter(sorted(set(listed))))), "git"
    return walk_files(root, max_files=MAX_SCAN, max_depth=WALK_DEPTH, symlinks=True), "walk"


def _limit(items: Iterator[str]) -> Iterator[str]:
    for i, item in enumerate(items):
        if i >= MAX_SCAN:
            return
        yield item


def changed_files(root: str | None, started: datetime | None, touched: set[str]) -> dict[str, Any]:
    """Files under the project folder modified since the session began, newest first."""
    if not root or not os.path.isdir(root):
        return {"available": False, "reason": "the session's project folder is not on this machine"}
    if started is None:
        return {"available": False, "reason": "the session's start time is unknown"}
    since = started.timestamp()
    names, source = _candidates(root)
    found = []
    for rel in names:
        full = os.path.join(root, rel)
        try:
            st = os.stat(full)
        except OSError:
            continue  # deleted since git listed it, or unreadable
        if st.st_mtime >= since:
            found.append((st.st_mtime, rel, st.st_size, full))
    found.sort(key=lambda f: (-f[0], f[1]))
    files = [
        {
            "path": rel,
            "modified_at": _iso(datetime.fromtimestamp(mtime, timezone.utc)),
            "size": size,
            "touched_by_session": full in touched or rel in touched,
        }
        for mtime, rel, size, full in found[:MAX_FILES]
    ]
    return {
        "available": True,
        "root": root,
        "since": _iso(started),
        "listed_by": source,
        "scanned": len(names),
        "count": len(found),
        "files": files,
    }


def files_payload(session: Session) -> dict[str, Any]:
    """Files the session touched (from its tool calls) and files changed on disk since it began."""
    from llm_session_manager.exporting import conversation_for

    root = session.project_path
    turns = conversation_for(session)
    touched = touched_files(turns, root) if turns is not None else []
    names = {t["path"] for t in touched}
    names |= {os.path.join(root, t["path"]) for t in touched if root and not os.path.isabs(t["path"])}
    return {
        "id": session.id,
        "project_path": root,
        "touched": {
            "available": turns is not None,
            **({} if turns is not None else {"reason": f"lsm cannot read {session.agent}'s tool calls yet"}),
            "count": len(touched),
            "files": touched[:MAX_FILES],
        },
        "changed_on_disk": changed_files(root, session.started_at, names),
    }


# ---------------------------------------------------------------------------------------------------
# The server


@dataclass
class _SessionHolder:
    session_id: str
    services: Services | None = None

    def get(self) -> Services:
        if self.services is None:
            raise ToolError("the lsm MCP session server has not started")
        return self.services

    def view(self) -> SessionView:
        from llm_session_manager.errors import NotFoundError

        svc = self.get()
        for v in svc.views():
            if v.session.id == self.session_id:
                return v
        raise NotFoundError(f"session {self.session_id} is no longer found (see `lsm list --all`)")


def build_session_server(
    session_id: str, paths: Paths | None = None, config: Config | None = None
) -> MCPServer[Services]:
    """The server for one session; ``session_id`` must be a full id (resolve a prefix first)."""
    paths = paths or resolve()
    cfg = config if config is not None else config_mod.load(paths.config_file)
    holder = _SessionHolder(session_id)

    @asynccontextmanager
    async def lifespan(_server: MCPServer[Services]) -> AsyncIterator[Services]:
        holder.services = Services(paths, cfg)
        try:
            yield holder.services
        finally:
            holder.services = None

    server: MCPServer[Services] = MCPServer(
        "lsm-session",
        title=f"lsm: session {session_id}",
        version=__version__,
        instructions=(
            f"Live data about THIS coding session ({session_id}), from lsm: get_metrics for context fill,"
            " minutes to auto-compaction, burn rate and health; git_status for the project's branch,"
            " changes and commits since the session began; files_touched and files_changed for what"
            " the session edited and what changed on disk; search_memory for what past sessions of this"
            " project learned."
        ),
        lifespan=lifespan,
        log_level="WARNING",
    )
    _session_resources(server, holder)
    _session_tools(server, holder)
    if not cfg.get("mcp", {}).get("read_only", False):
        _session_write_tools(server, holder)
    redact_argument_errors(server)
    return server


def _session_resources(server: MCPServer[Services], holder: _SessionHolder) -> None:
    json_type = "application/json"

    @server.resource("session://info", name="session", mime_type=json_type)
    def info() -> str:
        """This session, as `lsm list --format json` shows it."""
        with resource_errors():
            return to_json(session_payload(holder.view()))

    @server.resource("session://metrics", name="metrics", mime_type=json_type)
    def metrics() -> str:
        """Context %, compact point, minutes to compaction, burn rate, cost, health (live)."""
        with resource_errors():
            return to_json(metrics_payload(holder.view()))

    @server.resource("session://health", name="health", mime_type=json_type)
    def health() -> str:
        """Health factor by factor (= `lsm health <id> --format json`)."""
        with resource_errors():
            return to_json(health_payload(holder.view()))

    @server.resource("session://git", name="git", mime_type=json_type)
    def git_state() -> str:
        """The project's git state: branch, ahead/behind, changes, recent commits, diff since the start."""
        with resource_errors():
            s = holder.view().session
            return to_json(git_payload(s.project_path, s.started_at))

    @server.resource("session://files", name="files", mime_type=json_type)
    def files() -> str:
        """Files the session touched, and files changed on disk since it began."""
        with resource_errors():
            return to_json(files_payload(holder.view().session))


def _session_tools(server: MCPServer[Services], holder: _SessionHolder) -> None:
    @server.tool(annotations=READ)
    def get_metrics() -> dict[str, Any]:
        """This session now: context fill, minutes to the auto-compact point, burn rate, cost, health."""
        with tool_errors():
            return metrics_payload(holder.view())

    @server.tool(annotations=READ)
    def get_session() -> dict[str, Any]:
        """This session in full, as `lsm list --format json` shows it."""
        with tool_errors():
            return session_payload(holder.view())

    @server.tool(annotations=READ)
    def get_health() -> dict[str, Any]:
        """This session's health with every factor's raw value, score, weight and reason."""
        with tool_errors():
            return health_payload(holder.view())

    @server.tool(annotations=READ)
    def git_status(
        max_commits: Annotated[int, Field(ge=0, le=200, description="Recent commits to list.")] = 10,
    ) -> dict[str, Any]:
        """The project's git state: branch, ahead/behind, staged/unstaged/untracked files, recent commits,
        and the diff stat of the working tree against the last commit before the session began."""
        with tool_errors():
            s = holder.view().session
            return git_payload(s.project_path, s.started_at, max_commits)

    @server.tool(annotations=READ)
    def files_touched() -> dict[str, Any]:
        """Files this session's tool calls edited, wrote or read, and files changed on disk since it began."""
        with tool_errors():
            return files_payload(holder.view().session)

    @server.tool(annotations=READ)
    def search_memory(
        query: Annotated[str, Field(min_length=1, description="What to look for, in plain words.")],
        all_projects: Annotated[
            bool, Field(description="Search every project's memories, not only this session's project.")
        ] = False,
        limit: Annotated[int, Field(ge=1, le=100, description="At most this many memories.")] = 10,
    ) -> MemoryList:
        """Search what past sessions learned, by meaning (and exact words); this project's by default."""
        from llm_session_manager.service import project_name

        with tool_errors():
            view = holder.view()
            project = None if all_projects else project_name(view)
            found = memory_search_payload(holder.get(), query, project=project, limit=limit)
        items = found or []
        return {"memories": items, "count": len(items)}


def _session_write_tools(server: MCPServer[Services], holder: _SessionHolder) -> None:
    @server.tool(annotations=ADD)
    def add_memory(
        text: Annotated[str, Field(min_length=1, description="What was learned, in a sentence or two.")],
        tags: Annotated[list[str] | None, Field(description="Tags for the memory.")] = None,
    ) -> dict[str, Any]:
        """Save something this session learned, so that later sessions of any agent can find it."""
        with tool_errors():
            return memory_add_payload(holder.get(), holder.session_id, text, tags or ())


def run(session_id: str) -> None:
    """Serve one session over stdio until the client goes away."""
    from llm_session_manager.mcp.transport import serve_stdio

    serve_stdio(build_session_server(session_id))
