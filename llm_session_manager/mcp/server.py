"""`lsm mcp-server`: lsm as an MCP server (Model Context Protocol, Python SDK 2.x ``MCPServer``).

A third front end over the same services as the CLI and the dashboard: every resource and tool result is
the JSON `lsm … --format json` prints for the same data (``serialize.session_json``, ``health_json``,
``Recommendation.as_json``, the export document), so an assistant quotes the numbers the CLI shows.

- Resources (JSON text): ``sessions://list`` (= ``lsm list --all``), ``sessions://recent`` (= ``lsm
  list``), ``sessions://{session_id}``, ``sessions://{session_id}/health`` (= ``lsm health``),
  ``recommendations://current`` (= ``lsm recommend``), ``memory://stats``, ``config://current`` (= ``lsm
  show-config``, secrets masked).
- Tools: typed arguments, structured results; a failure is a tool error with the one line the CLI would
  print. Write tools (tag, untag, describe, set project, add memory) are left out when the config says
  ``mcp.read_only: true``. Closing sessions, ending processes and deleting memories are never offered.
- Prompts: pick a session for a task, review the health of all sessions, hand a session off, find past
  work on a topic.

Services (paths, configuration) are built once, in the server's lifespan. Everything heavy (the session
scan, GitPython, the memory store) is imported on first use, so ``initialize`` is answered at once.
Nothing but protocol goes to stdout: the SDK's stdio transport moves the protocol to a private
descriptor, and lsm's own warnings go to stderr.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypedDict

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import (
    ResourceError,
    ResourceNotFoundError,
    ToolError,
    UnexpectedToolError,
)
from mcp_types import ToolAnnotations
from pydantic import Field

from llm_session_manager import __version__
from llm_session_manager import config as config_mod
from llm_session_manager.api import Context, advice
from llm_session_manager.api import exports as exports_api
from llm_session_manager.api import memory as memory_api
from llm_session_manager.api import sessions as sessions_api
from llm_session_manager.api import settings as settings_api
from llm_session_manager.errors import LsmError, NotFoundError
from llm_session_manager.paths import Paths, resolve
from llm_session_manager.safetext import without_secrets

if TYPE_CHECKING:
    from llm_session_manager.config import Config
    from llm_session_manager.models import SessionView

SERVER_NAME = "llm-session-manager"
# A prompt embeds at most this much of a hand-off document; the export_session tool gives the rest.
PROMPT_DOC_CHARS = 60_000
# Candidates a prompt lists at most.
PROMPT_SESSIONS = 25

StatusName = Literal["active", "idle", "ended", "closed", "imported", "archived"]
SortKey = Literal["last_activity", "started_at", "tokens", "cost", "health", "context", "project"]
ExportFormat = Literal["json", "yaml", "markdown"]

READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITE = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
ADD = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)

SessionId = Annotated[
    str, Field(description="Session id (agent:native_id), the native id, or a unique prefix of either.")
]
Tags = Annotated[list[str], Field(min_length=1, description="Tags: letters, digits, '.', '_' and '-'.")]


# ---------------------------------------------------------------------------------------------------
# Result shapes (structured content). Sessions inside are exactly `lsm list --format json` objects.


class SessionList(TypedDict):
    """``sessions``: what `lsm list --format json` prints (or `lsm search`, with ``score``, for text)."""

    sessions: list[dict[str, Any]]
    count: int


class RecommendationList(TypedDict):
    """``recommendations``: what `lsm recommend --format json` prints, most urgent first."""

    recommendations: list[dict[str, Any]]
    count: int


# Our own metadata about a session, as `lsm tag|describe|set-project --format json` prints it.
SessionMeta = sessions_api.MetaDocument


class TagResult(sessions_api.MetaDocument):
    """`lsm tag --format json`: the metadata plus which tags were new and which the session had."""

    added: list[str]
    already_tagged: list[str]


class ExportResult(TypedDict):
    """One session exported like `lsm export <id> -o - --format <format>` (always redacted)."""

    session_id: str
    format: str
    redacted: bool
    content: str


class MemoryList(TypedDict):
    """Memories, best first: what `lsm memory-search --format json` prints."""

    memories: list[dict[str, Any]]
    count: int


class ConversationHits(TypedDict):
    """Messages where the query was said, best session first: what `lsm grep --format json` prints."""

    hits: list[dict[str, Any]]
    count: int


# ---------------------------------------------------------------------------------------------------
# Services


# One application context per server (api.Context): paths, configuration, the lock that keeps
# concurrent requests' scans and writes apart, the memory store once opened.
Services = Context


class _Holder:
    """The services of a running server (set by the lifespan; handlers read them)."""

    def __init__(self) -> None:
        self.services: Services | None = None

    def get(self) -> Services:
        if self.services is None:
            raise ToolError("the lsm MCP server has not started (its lifespan is not running)")
        return self.services


@contextmanager
def tool_errors() -> Iterator[None]:
    """An lsm error (unknown id, bad tag, …) becomes a tool error carrying the CLI's one-line message
    (redacted: it may quote an argument that holds a credential)."""
    try:
        yield
    except LsmError as exc:
        raise ToolError(without_secrets(str(exc))) from None


def redact_argument_errors(server: MCPServer[Any]) -> None:
    """The SDK's own argument check quotes the rejected value ("input_value='…'"): a credential a
    client put in an argument is redacted there too, like in lsm's own errors."""
    call_tool = server.call_tool

    async def redacting(name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        try:
            return await call_tool(name, arguments, context)
        except UnexpectedToolError:
            raise
        except ToolError as exc:
            raise ToolError(without_secrets(str(exc))) from exc.__cause__

    server.call_tool = redacting  # type: ignore[method-assign]


@contextmanager
def resource_errors() -> Iterator[None]:
    try:
        yield
    except NotFoundError as exc:
        raise ResourceNotFoundError(without_secrets(str(exc))) from None
    except (LsmError, ToolError) as exc:
        raise ResourceError(without_secrets(str(exc))) from None


def to_json(value: Any) -> str:
    """JSON text exactly as `lsm … --format json` prints it (orjson, two-space indent), minus the final
    newline."""
    import orjson

    return str(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


# ---------------------------------------------------------------------------------------------------
# Payloads: pure functions of the services, shared by tools, resources and prompts.


def session_payload(view: SessionView) -> dict[str, Any]:
    return sessions_api.session_document(view)


def health_payload(view: SessionView) -> dict[str, Any]:
    """`lsm health <id> --format json`."""
    return sessions_api.health_document(view)


def meta_payload(view: SessionView) -> SessionMeta:
    return sessions_api.meta_document(view)


ListQuery = sessions_api.ListQuery


def list_payload(svc: Services, query: ListQuery) -> list[dict[str, Any]]:
    """Without ``text``: `lsm list [--all] [filters] --format json`. With ``text``: `lsm search TEXT
    --format json` (every session, best match first, each with its ``score``) narrowed by the filters."""
    return sessions_api.list_sessions(svc, query).documents()


def recommend_payload(
    svc: Services, agent: str | None = None, project: str | None = None
) -> list[dict[str, Any]]:
    """`lsm recommend [--agent A] [--project P] --format json`."""
    return advice.recommendations(svc, agent, project).documents()


LimitAgent = Literal["claude-code", "codex"]


def budget_payload(svc: Services, agent: str | None = None) -> dict[str, Any]:
    """`lsm budget [--agent A] --format json` (its exit code is the document's ``exit_code``)."""
    return advice.budget(svc, [agent] if agent else None).document()


ReportKind = Literal["daily", "weekly", "monthly", "blocks", "session"]
ReportDimension = Literal["agent", "model", "project", "branch"]


def usage_report_payload(svc: Services, request: Any) -> dict[str, Any]:
    """`lsm report <kind> … --format json` (``request``: a reports.Request)."""
    doc, _errors = advice.usage_report(svc, request)
    return doc


def export_text(svc: Services, view: SessionView, fmt: str, *, transcript: bool, full: bool) -> str:
    """`lsm export <id> -o - --format <fmt>` (redacted)."""
    return exports_api.export_text(svc, view, fmt, transcript=transcript, full=full)


mask_secrets = settings_api.mask_secrets


def config_payload(svc: Services) -> dict[str, Any]:
    """`lsm show-config --format json`, secrets masked."""
    return settings_api.config_document(svc)


def write_meta(svc: Services, change: Callable[[], SessionView]) -> SessionMeta:
    """Apply one metadata change (one transaction) under the server's lock; the new state is exactly
    what the CLI prints with --format json."""
    with svc.lock:
        return meta_payload(change())


# ---------------------------------------------------------------------------------------------------
# Memory (api.memory over llm_session_manager.memory, cross-session memory on ChromaDB).


MEMORY_MISSING = memory_api.MEMORY_MISSING
memory_module = memory_api.memory_module


def memory_store(svc: Services, *, create: bool = True) -> Any:
    """The open memory store (opened once, on first use); None with ``create`` False while nothing has
    ever been saved on this machine."""
    return memory_api.open_memory(svc, create=create)


def memory_search_payload(
    svc: Services,
    query: str,
    *,
    session_id: str | None = None,
    tags: Sequence[str] = (),
    project: str | None = None,
    agent: str | None = None,
    limit: int = 10,
    soft: bool = False,
) -> list[dict[str, Any]] | None:
    """`lsm memory-search QUERY [filters] --format json`: memories best first, each with its ``score``.
    ``soft``: None instead of an error when memory is not available (for prompts)."""
    from llm_session_manager.redact import redact_value

    wanted = memory_api.MemoryQuery(session_id, tuple(tags), project, agent)
    try:
        hits = memory_api.search(svc, query, wanted, limit)
    except LsmError:
        if soft:
            return None
        raise
    # A memory saved with `memory-add --allow-secret` stays on this machine; an MCP client gets it redacted.
    return [redact_value(h.as_json()) for h in hits]


def memory_add_payload(svc: Services, session_id: str, text: str, tags: Sequence[str]) -> dict[str, Any]:
    """`lsm memory-add <id> TEXT --format json`: the memory, and ``created`` false when the same text was
    already saved for that session. A text that looks like a secret is refused (there is no
    --allow-secret over MCP): memories are shared with every later session."""
    svc.check_writable()
    module = memory_module()
    if module is None:
        raise ToolError(MEMORY_MISSING)
    kinds = module.secret_kinds(module.normalise_text(text))
    if kinds:
        raise ToolError(
            f"the text looks like it holds a secret ({', '.join(kinds)}); memories are shared with later"
            " sessions, so it was not saved (save it without the secret)"
        )
    memory, created = memory_api.add(svc, session_id, text, tags)
    return {**memory.as_json(), "created": created}


def memory_stats_payload(svc: Services) -> dict[str, Any]:
    """`lsm memory-stats --format json`: counts by session, tag, project and agent; store; model."""
    return memory_api.stats(svc)


# ---------------------------------------------------------------------------------------------------
# Prompts: lsm's figures embedded, plus the workflow to follow.


def candidate(view: SessionView, score: float | None = None) -> dict[str, Any]:
    """The compact form of a session a prompt lists."""
    from llm_session_manager.safetext import without_secrets
    from llm_session_manager.service import project_name
    from llm_session_manager.timefmt import iso

    s = view.session
    out: dict[str, Any] = {
        "id": s.id,
        "agent": s.agent,
        "project": project_name(view),
        "title": s.title,
        "description": view.description,
        "tags": list(view.tags),
        "status": view.status,
        "state": view.state,
        "state_detail": without_secrets(view.state_detail),
        "last_activity": iso(s.last_activity),
        "model": s.model,
        "context_pct": view.context_pct,
        "minutes_to_compact": view.minutes_to_compact,
        "health": {"score": view.health.score, "status": view.health.status},
        "cost_usd": view.cost_usd,
    }
    if score is not None:
        out["match_score"] = score
    return out


_WORD = re.compile(r"[^\W_]{3,}", re.UNICODE)
# fmt: off
_STOP = frozenset({
    "the", "and", "for", "with", "this", "that", "from", "into", "please", "can", "you", "your", "our",
    "are", "was", "were", "has", "have", "had", "not", "but", "all", "any", "its", "then", "than",
    "them", "they", "what", "when", "where", "which", "who", "why", "how", "there", "here", "also",
    "just", "some", "more", "most", "very", "will", "would", "should", "could", "make", "sure", "use",
    "using", "new", "session", "work", "worked", "working", "before", "again", "finish", "fix", "add",
    "want", "need",
})
# fmt: on


def loose_search(views: Sequence[SessionView], text: str, limit: int) -> list[tuple[SessionView, float]]:
    """Sessions matching the words of a sentence, for prompts: `lsm search` needs every word, so each
    significant word is searched on its own; sessions matching more words rank first, then by score."""
    from llm_session_manager import organise

    words = list(dict.fromkeys(w for w in _WORD.findall(text.lower()) if w not in _STOP))
    found: dict[int, tuple[SessionView, int, float]] = {}
    for word in words:
        for hit in organise.search(views, word):
            view, n, score = found.get(id(hit.view), (hit.view, 0, 0.0))
            found[id(hit.view)] = (view, n + 1, score + hit.score)
    ranked = sorted(found.values(), key=lambda f: (-f[1], -f[2], f[0].session.id))
    return [(view, round(score, 4)) for view, _n, score in ranked[:limit]]


def pick_session_text(svc: Services, task: str) -> str:
    from llm_session_manager.listing import ListFilter, keep, sort_views

    now = datetime.now(timezone.utc)
    views = svc.views()
    recent = sort_views(
        [v for v in views if keep(v, ListFilter(recent_hours=svc.config["recent_hours"]), now)],
        "last_activity",
    )
    matched = [candidate(view, score) for view, score in loose_search(views, task, PROMPT_SESSIONS)]
    seen = {c["id"] for c in matched}
    running = [candidate(v) for v in recent if v.session.id not in seen][:PROMPT_SESSIONS]
    return (
        f"I want to work on this task:\n\n{task}\n\n"
        "Pick the best of my AI coding sessions to continue it in. The figures below come from lsm (LLM"
        " Session Manager): exact token counts, context fill in percent of the window, minutes to the"
        " auto-compact point at the current rate, health 0-100 (healthy / warning / critical).\n\n"
        "Sessions whose description, title, tags or project match the task (best first):\n"
        f"{to_json(matched)}\n\n"
        f"Other sessions running or active in the last {svc.config['recent_hours']} hours:\n"
        f"{to_json(running)}\n\n"
        "Prefer, in this order: the same project and topic; a session that is running, healthy and has"
        " room left in its context; the most recent. If the best match is critical or about to compact,"
        " or nothing fits, say so and recommend a fresh session (seeded with a hand-off: the"
        " `export_session` tool, format markdown). Use the `get_session` and `get_health` tools to check"
        " a candidate. Answer with the session id, the reason in lsm's numbers, and the first step."
    )


def review_health_text(svc: Services) -> str:
    from llm_session_manager.listing import ListFilter, keep, sort_views

    now = datetime.now(timezone.utc)
    views = svc.views()
    shown = sort_views(
        [v for v in views if keep(v, ListFilter(recent_hours=svc.config["recent_hours"]), now)], "health"
    )
    sessions = [candidate(v) for v in shown[: PROMPT_SESSIONS * 2]]
    recs = recommend_payload(svc)
    return (
        "Review the health of my AI coding sessions. These are every session that is running or was"
        f" active in the last {svc.config['recent_hours']} hours, worst health first, as lsm (LLM Session"
        f" Manager) measured them:\n{to_json(sessions)}\n\n"
        f"lsm's recommendations, most urgent first:\n{to_json(recs)}\n\n"
        "Tell me which sessions need attention now and why (quote the numbers: health score, context %,"
        " minutes to compaction, errors), and the exact step for each (use the recommendation's action"
        " when there is one). Use the `get_health` tool for a session's factor-by-factor breakdown. Then"
        " one line on the sessions that are fine. If no session is listed, say that nothing is running."
    )


def handoff_text(svc: Services, session_id: str) -> str:
    view = svc.one(session_id)
    doc = export_text(svc, view, "markdown", transcript=True, full=False)
    cut = ""
    if len(doc) > PROMPT_DOC_CHARS:
        cut = (
            f"\n\n[… the hand-off is {len(doc):,} characters; the rest is left out here. Call the"
            f" `export_session` tool with session_id {view.session.id!r} for the whole document.]"
        )
        doc = doc[:PROMPT_DOC_CHARS]
    return (
        f"Hand off session {view.session.id} to a fresh session. Below is lsm's Markdown hand-off of it"
        " (secrets redacted): a summary in lsm's numbers, the files it touched, the commands it ran, its"
        " last errors, and the conversation.\n\n"
        "Write the hand-off note a new session can start from: the goal; what was done (exact file paths"
        " and commands); the current state, including what failed and what is unverified; open questions;"
        " and the next three steps. Keep it under 400 words and do not invent anything that is not in the"
        " document.\n\n"
        f"---\n\n{doc}{cut}"
    )


def find_past_work_text(svc: Services, topic: str) -> str:
    sessions = [candidate(view, score) for view, score in loose_search(svc.views(), topic, PROMPT_SESSIONS)]
    memory = memory_search_payload(svc, topic, limit=10, soft=True)
    memory_part = (
        f"Memories saved from past sessions, best match first:\n{to_json(memory)}\n\n"
        if memory is not None
        else f"({MEMORY_MISSING}; only session titles, descriptions, tags and projects were searched.)\n\n"
    )
    return (
        f"Find where I worked on this before: {topic}\n\n"
        "Sessions from every agent on this machine whose description, title, tags or project match"
        f" (best first), as lsm (LLM Session Manager) knows them:\n{to_json(sessions)}\n\n"
        f"{memory_part}"
        "Summarise where this topic was worked on: for each relevant session its id, project, date and"
        " what was done or learned (from its description, title and the memories). Say which one to"
        " open first and why. To see a session's full context, call `export_session` (format markdown);"
        " to search differently, call `list_sessions` with `text` or `search_memory`. If nothing"
        " matches, say so plainly."
    )


# ---------------------------------------------------------------------------------------------------
# The server


def build_server(
    paths: Paths | None = None, config: Config | None = None, *, name: str = SERVER_NAME
) -> MCPServer[Services]:
    """The server object (what `lsm mcp-server` runs and tests connect to in-process).

    ``paths`` and ``config`` default to the environment's (``LSM_HOME``, ``LSM_CONFIG``…); the config
    decides at build time whether write tools exist (``mcp.read_only``)."""
    paths = paths or resolve()
    cfg = config.copy() if config is not None else config_mod.load(paths.config_file)
    holder = _Holder()

    @asynccontextmanager
    async def lifespan(_server: MCPServer[Services]) -> AsyncIterator[Services]:
        holder.services = Context(paths, cfg, read_only=bool(cfg.get("mcp", {}).get("read_only", False)))
        try:
            yield holder.services
        finally:
            holder.services = None

    server: MCPServer[Services] = MCPServer(
        name,
        title="LLM Session Manager",
        version=__version__,
        instructions=(
            "lsm sees every AI coding session on this machine (Claude Code, Codex, Gemini CLI, Cursor,"
            " Copilot, Aider, Cline…) with exact tokens, context fill, cost and health. Use list_sessions"
            " to find sessions (filters, or text), get_session / get_health for one, recommend for what"
            " to do, export_session for a hand-off, search_memory for what past sessions learned."
        ),
        lifespan=lifespan,
        log_level="WARNING",
    )
    _add_resources(server, holder)
    _add_read_tools(server, holder)
    if not cfg.get("mcp", {}).get("read_only", False):
        _add_write_tools(server, holder)
    _add_prompts(server, holder)
    redact_argument_errors(server)
    return server


def _add_resources(server: MCPServer[Services], holder: _Holder) -> None:
    json_type = "application/json"

    @server.resource("sessions://list", name="sessions", mime_type=json_type)
    def all_sessions() -> str:
        """Every session lsm knows (= `lsm list --all --format json`)."""
        with resource_errors():
            return to_json(list_payload(holder.get(), ListQuery(all_sessions=True)))

    @server.resource("sessions://recent", name="recent-sessions", mime_type=json_type)
    def recent_sessions() -> str:
        """Running sessions and those active recently (= `lsm list --format json`)."""
        with resource_errors():
            return to_json(list_payload(holder.get(), ListQuery()))

    @server.resource("sessions://{session_id}", name="session", mime_type=json_type)
    def one_session(session_id: str) -> str:
        """One session: tokens, context, cost, health, status, tags (as in `lsm list --format json`)."""
        with resource_errors():
            return to_json(session_payload(holder.get().one(session_id)))

    @server.resource("sessions://{session_id}/health", name="session-health", mime_type=json_type)
    def one_health(session_id: str) -> str:
        """A session's health, factor by factor (= `lsm health <id> --format json`)."""
        with resource_errors():
            return to_json(health_payload(holder.get().one(session_id)))

    @server.resource("recommendations://current", name="recommendations", mime_type=json_type)
    def recommendations() -> str:
        """What to do now: restart/compact, close idle, merge, usage warnings (= `lsm recommend`)."""
        with resource_errors():
            return to_json(recommend_payload(holder.get()))

    @server.resource("limits://budget", name="budget", mime_type=json_type)
    def budget() -> str:
        """Official plan limits left per agent, resets, run-out time and a suggestion (= `lsm budget`)."""
        with resource_errors():
            return to_json(budget_payload(holder.get()))

    @server.resource("memory://stats", name="memory-stats", mime_type=json_type)
    def memory_stats() -> str:
        """Cross-session memory: counts by session, tag, project and agent (= `lsm memory-stats`)."""
        with resource_errors():
            return to_json(memory_stats_payload(holder.get()))

    @server.resource("config://current", name="config", mime_type=json_type)
    def current_config() -> str:
        """The effective configuration, secrets masked (= `lsm show-config --format json`)."""
        with resource_errors():
            return to_json(config_payload(holder.get()))


def _add_read_tools(server: MCPServer[Services], holder: _Holder) -> None:
    @server.tool(annotations=READ)
    def list_sessions(
        status: Annotated[
            list[StatusName] | None, Field(description="Only sessions with one of these statuses.")
        ] = None,
        agent: Annotated[str | None, Field(description="Only this agent, e.g. claude-code, codex.")] = None,
        tag: Annotated[list[str] | None, Field(description="Only sessions with all of these tags.")] = None,
        project: Annotated[str | None, Field(description="Project name or part of its path.")] = None,
        text: Annotated[
            str | None,
            Field(
                description="Words to find in descriptions, titles, tags, projects (any session, best first)."
            ),
        ] = None,
        all_sessions: Annotated[
            bool, Field(description="Every session, not only running ones and those active in the last day.")
        ] = False,
        since: Annotated[str | None, Field(description="Active since: 2h, 30m, 3d, 1w or a date.")] = None,
        sort: Annotated[
            SortKey | None, Field(description="Sort key (default: the config's list.sort).")
        ] = None,
        limit: Annotated[int | None, Field(ge=1, description="At most this many sessions.")] = None,
    ) -> SessionList:
        """List or find sessions with exact tokens, context fill, cost, health and status. Without
        `text` it is `lsm list`; with `text` it is `lsm search` (best match first, with a `score`)."""
        query = ListQuery(
            statuses=tuple(status or ()),
            agent=agent,
            tags=tuple(tag or ()),
            project=project,
            text=text,
            all_sessions=all_sessions,
            since=since,
            sort=sort,
            limit=limit,
        )
        with tool_errors():
            items = list_payload(holder.get(), query)
        return {"sessions": items, "count": len(items)}

    @server.tool(annotations=READ)
    def get_session(session_id: SessionId) -> dict[str, Any]:
        """One session: tokens, context %, minutes to compaction, cost, burn rate, health, tags."""
        with tool_errors():
            return session_payload(holder.get().one(session_id))

    @server.tool(annotations=READ)
    def get_health(session_id: SessionId) -> dict[str, Any]:
        """A session's health score with every factor's raw value, score, weight and reason."""
        with tool_errors():
            return health_payload(holder.get().one(session_id))

    @server.tool(annotations=READ)
    def recommend(
        agent: Annotated[str | None, Field(description="Only advice about this agent's sessions.")] = None,
        project: Annotated[
            str | None, Field(description="Only advice about this project's sessions.")
        ] = None,
    ) -> RecommendationList:
        """What to do now: restart or compact, close idle sessions, merge look-alikes, usage warnings;
        each with the reason in numbers and the exact next step."""
        with tool_errors():
            recs = recommend_payload(holder.get(), agent, project)
        return {"recommendations": recs, "count": len(recs)}

    @server.tool(annotations=READ)
    def get_budget(
        agent: Annotated[LimitAgent | None, Field(description="Only this agent's limits.")] = None,
    ) -> dict[str, Any]:
        """Can a big task start now? Per agent: official 5 h / 7 d limit left, reset countdown, run-out
        time at the current pace, one suggestion; status ok, near, reached or unknown."""
        with tool_errors():
            return budget_payload(holder.get(), agent)

    @server.tool(annotations=READ)
    def get_usage_report(
        report: Annotated[
            ReportKind,
            Field(description="daily, weekly, monthly, blocks (Claude's 5-hour windows) or session."),
        ] = "daily",
        by: Annotated[
            list[ReportDimension] | None, Field(description="Split each row by these dimensions.")
        ] = None,
        since: Annotated[str | None, Field(description="From: today, 3d, 1w or a date.")] = None,
        until: Annotated[str | None, Field(description="Up to (a date: that whole day).")] = None,
        agent: Annotated[str | None, Field(description="Only this agent, e.g. claude-code, codex.")] = None,
        project: Annotated[str | None, Field(description="Project name or part of its path.")] = None,
        timezone: Annotated[
            str | None, Field(description="Zone of days and weeks: an IANA name or UTC (default: local).")
        ] = None,
        start_of_week: Annotated[str, Field(description="First day of a week (weekly).")] = "monday",
        last: Annotated[int | None, Field(ge=1, description="Only the last N periods.")] = None,
    ) -> dict[str, Any]:
        """What was spent when: tokens and cost per day, week, month, 5-hour block or session, counted
        when each reply happened (= `lsm report <report> --format json`)."""
        from llm_session_manager.reports import Request

        dims = tuple(by or ())
        request = Request(report, dims, since, until, agent, project, timezone, start_of_week, last)
        with tool_errors():
            return usage_report_payload(holder.get(), request)

    @server.tool(annotations=READ)
    def export_session(
        session_id: SessionId,
        format: Annotated[
            ExportFormat, Field(description="markdown (a hand-off), json or yaml.")
        ] = "markdown",
        include_transcript: Annotated[bool, Field(description="Include the conversation.")] = True,
        full: Annotated[bool, Field(description="Keep long tool outputs whole instead of trimmed.")] = False,
    ) -> ExportResult:
        """Export a session's context (secrets always redacted): Markdown hand-off, or the JSON/YAML
        document `lsm import-context` reads back."""
        with tool_errors():
            svc = holder.get()
            view = svc.one(session_id)
            text = export_text(svc, view, format, transcript=include_transcript, full=full)
        return {"session_id": view.session.id, "format": format, "redacted": True, "content": text}

    @server.tool(annotations=READ)
    def search_conversations(
        query: Annotated[
            str,
            Field(
                description='What was said. FTS5 syntax: words (all must appear), "a phrase", prefix*,'
                " NEAR(a b, 5), a OR b, a NOT b."
            ),
        ],
        agent: Annotated[str | None, Field(description="Only this agent, e.g. claude-code, codex.")] = None,
        project: Annotated[str | None, Field(description="Project name or part of its path.")] = None,
        since: Annotated[str | None, Field(description="Only messages since: 2h, 3d, 1w or a date.")] = None,
        role: Annotated[
            list[Literal["user", "assistant", "tool"]] | None, Field(description="Only these roles.")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=500, description="At most this many sessions.")] = 20,
    ) -> ConversationHits:
        """Full-text search of what was said in every session (prompts, replies, commands, files,
        errors; secrets redacted): the best matching messages with a snippet, the session id and the
        command that resumes it (= `lsm grep --format json`)."""
        from llm_session_manager.api.search import SearchFilters, search_conversations

        roles = tuple(role or ())
        filters = SearchFilters(agent=agent, project=project, since=since, roles=roles, limit=limit)
        with tool_errors():
            hits = search_conversations(holder.get(), query, filters).documents()
        return {"hits": hits, "count": len(hits)}

    @server.tool(annotations=READ)
    def search_memory(
        query: Annotated[str, Field(min_length=1, description="What to look for, in plain words.")],
        session_id: Annotated[str | None, Field(description="Only memories of this session.")] = None,
        tag: Annotated[list[str] | None, Field(description="Only memories with all of these tags.")] = None,
        project: Annotated[str | None, Field(description="Only memories of this project.")] = None,
        agent: Annotated[str | None, Field(description="Only memories from this agent's sessions.")] = None,
        limit: Annotated[int, Field(ge=1, le=100, description="At most this many memories.")] = 10,
    ) -> MemoryList:
        """Search what past sessions learned, by meaning (and exact words), best first."""
        with tool_errors():
            found = memory_search_payload(
                holder.get(),
                query,
                session_id=session_id,
                tags=tag or (),
                project=project,
                agent=agent,
                limit=limit,
            )
        items = found or []
        return {"memories": items, "count": len(items)}


def _add_write_tools(server: MCPServer[Services], holder: _Holder) -> None:
    @server.tool(annotations=WRITE)
    def tag_session(session_id: SessionId, tags: Tags) -> TagResult:
        """Add tags to a session (lsm's own metadata; the agent's files are never touched)."""
        with tool_errors():
            svc = holder.get()
            with svc.lock:
                change = sessions_api.tag(svc, session_id, tags)
        return {**meta_payload(change.view), "added": change.changed, "already_tagged": change.unchanged}

    @server.tool(annotations=WRITE)
    def untag_session(session_id: SessionId, tags: Tags) -> SessionMeta:
        """Remove tags from a session."""
        with tool_errors():
            svc = holder.get()
            return write_meta(svc, lambda: sessions_api.untag(svc, session_id, tags).view)

    @server.tool(annotations=WRITE)
    def describe_session(
        session_id: SessionId,
        description: Annotated[
            str, Field(min_length=1, max_length=4000, description="What the session is about, one paragraph.")
        ],
    ) -> SessionMeta:
        """Set a session's description (found by list_sessions with `text`)."""
        value = description.strip()
        if not value:
            raise ToolError("the description is empty")
        with tool_errors():
            svc = holder.get()
            return write_meta(svc, lambda: sessions_api.describe(svc, session_id, value))

    @server.tool(annotations=WRITE)
    def set_project(
        session_id: SessionId,
        name: Annotated[str, Field(max_length=200, description="Project name; an empty string clears it.")],
    ) -> SessionMeta:
        """Give a session a project name (shown and filtered on instead of its folder name)."""
        with tool_errors():
            svc = holder.get()
            return write_meta(svc, lambda: sessions_api.set_project(svc, session_id, name))

    @server.tool(annotations=ADD)
    def add_memory(
        session_id: SessionId,
        text: Annotated[str, Field(min_length=1, description="What was learned, in a sentence or two.")],
        tags: Annotated[list[str] | None, Field(description="Tags for the memory.")] = None,
    ) -> dict[str, Any]:
        """Save something a session learned so that other sessions can find it with search_memory.
        Saving the same text for the same session again returns the existing memory (created: false)."""
        with tool_errors():
            return memory_add_payload(holder.get(), session_id, text, tags or ())


def _add_prompts(server: MCPServer[Services], holder: _Holder) -> None:
    def run(make: Callable[[], str]) -> str:
        """A prompt's text; an lsm error (unknown id…) is a protocol error with the CLI's one line."""
        from mcp.shared.exceptions import MCPError
        from mcp_types import INVALID_PARAMS

        try:
            return make()
        except (LsmError, ToolError) as exc:
            raise MCPError(INVALID_PARAMS, without_secrets(str(exc))) from None

    @server.prompt(title="Pick the best session for a task")
    def pick_session(
        task: Annotated[str, Field(description="The task you want to work on, in a sentence.")],
    ) -> str:
        """Which session to continue a task in: matching sessions and running ones, with lsm's numbers."""
        return run(lambda: pick_session_text(holder.get(), task))

    @server.prompt(title="Review the health of all sessions")
    def review_health() -> str:
        """Every running and recent session, worst health first, with lsm's recommendations."""
        return run(lambda: review_health_text(holder.get()))

    @server.prompt(title="Hand off a session")
    def handoff(session_id: Annotated[str, Field(description="Session id or a unique prefix of it.")]) -> str:
        """The session's Markdown hand-off (redacted), and the note for a fresh session to write from it."""
        return run(lambda: handoff_text(holder.get(), session_id))

    @server.prompt(title="Find past work on a topic")
    def find_past_work(
        topic: Annotated[str, Field(description="What you worked on, in a few words.")],
    ) -> str:
        """Sessions from every agent whose description, title, tags or project match, and saved memories."""
        return run(lambda: find_past_work_text(holder.get(), topic))


def run() -> None:
    """Serve over stdio until the client goes away (every request with an id gets an answer)."""
    from llm_session_manager.mcp.transport import serve_stdio

    serve_stdio(build_server())


def run_http(host: str, port: int, token: str) -> None:
    """Serve streamable HTTP at ``/mcp`` until stopped; every request needs ``token`` (see mcp_transport)."""
    from llm_session_manager.mcp.transport import serve_http

    serve_http(build_server(), host, port, token)
