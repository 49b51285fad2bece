"""Cross-session memory commands: memory-add, memory-search, memory-list, memory-stats, memory-delete.

The store (llm_session_manager.memory, ChromaDB) is imported inside each command: importing chromadb
costs ~0.7 s and every other lsm command must start without it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import typer

from llm_session_manager.cli.common import (
    AGENT_HELP,
    FORMAT_HELP,
    Env,
    check_format,
    emit,
    load_env,
    one_agent,
    say,
    warn,
)
from llm_session_manager.errors import UsageError
from llm_session_manager.safetext import for_terminal

if TYPE_CHECKING:
    from llm_session_manager.api.memory import MemoryQuery
    from llm_session_manager.memory import Hit, Memory

TAG_HELP = "Only memories with this tag (repeatable: all must match)."
SESSION_HELP = "Only memories of this session (id, native id or unique prefix)."


def _warn_store(ctx: Env) -> None:
    from llm_session_manager.api import memory as memory_api

    for message in memory_api.warnings(ctx):
        warn(message)


def _query(session: str | None, tags: Sequence[str], project: str | None, agent: str | None) -> MemoryQuery:
    from llm_session_manager.api.memory import MemoryQuery

    return MemoryQuery(session, tuple(tags), project, one_agent(agent))


def _when(created_at: str, now: datetime) -> str:
    from llm_session_manager.present import ago
    from llm_session_manager.timefmt import parse_ts

    return ago(parse_ts(created_at), now)


def _one_line(text: str, width: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def add_cmd(
    session_id: str = typer.Argument(..., help="The session the memory comes from (id or unique prefix)."),
    text: str = typer.Argument(..., help="What to remember (one fact, decision or fix; quote it)."),
    tags: list[str] = typer.Option([], "--tag", "-t", help="A tag for the memory (repeatable)."),
    allow_secret: bool = typer.Option(
        False, "--allow-secret", help="Save the text even though it looks like it holds a secret."
    ),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """Save a memory from a session; prints its id (the same text for the same session is saved once)."""
    from llm_session_manager import memory
    from llm_session_manager.api import memory as memory_api

    fmt = check_format(fmt)
    memory.check_secret(memory.normalise_text(text), allow_secret)  # refused before any scan
    ctx = load_env()
    saved, created = memory_api.add(ctx, session_id, text, tags, allow_secret=allow_secret)
    _warn_store(ctx)
    if fmt != "table":
        emit(fmt, {**saved.as_json(), "created": created})
        return
    what = "saved memory" if created else "already saved as"
    say(f"{what} {saved.id} (session {saved.session_id})")
    sys.stdout.write(saved.id + "\n")


def search_cmd(
    query: str = typer.Argument(..., help="What you are looking for, in your own words or verbatim."),
    session: str | None = typer.Option(None, "--session", help=SESSION_HELP),
    tags: list[str] = typer.Option([], "--tag", "-t", help=TAG_HELP),
    project: str | None = typer.Option(None, "--project", "-p", help="Only memories of this project."),
    agent: str | None = typer.Option(None, "--agent", help=AGENT_HELP),
    limit: int = typer.Option(10, "--limit", "-n", min=1, max=1000, help="At most N results."),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """Find memories by meaning (verbatim errors, paths and symbols rank first), best first."""
    fmt = check_format(fmt)
    agent = one_agent(agent)
    if not query.strip():
        raise UsageError("the search query is empty")
    from llm_session_manager.api import memory as memory_api

    ctx = load_env()
    hits = memory_api.search(ctx, query, _query(session, tags, project, agent), limit)
    _warn_store(ctx)
    if fmt != "table":
        emit(fmt, [h.as_json() for h in hits])
        return
    if not hits:
        sys.stdout.write(for_terminal(f"No memory matches '{query}'.") + "\n")
        return
    _print_hits(hits)


def _print_hits(hits: Sequence[Hit]) -> None:
    from llm_session_manager.cli.render import SafeTable, console

    now = datetime.now(timezone.utc)
    table = SafeTable(header_style="bold")
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("Score", justify="right", no_wrap=True)
    table.add_column("ID", no_wrap=True)
    table.add_column("Session", no_wrap=True)
    table.add_column("When", no_wrap=True)
    table.add_column("Tags", max_width=24, overflow="fold")
    table.add_column("Memory", max_width=90, overflow="fold")
    for n, hit in enumerate(hits, 1):
        m = hit.memory
        table.add_row(
            str(n),
            f"{hit.score:.2f}" + (" =" if hit.matched else ""),
            m.id,
            m.session_id,
            _when(m.created_at, now),
            ", ".join(m.tags) or "-",
            _one_line(m.text, 300),
        )
    console().print(table)
    if any(h.matched for h in hits):
        say("= the query, or a path, symbol or error in it, occurs verbatim in that memory")


def list_cmd(
    session: str | None = typer.Option(None, "--session", help=SESSION_HELP),
    tags: list[str] = typer.Option([], "--tag", "-t", help=TAG_HELP),
    project: str | None = typer.Option(None, "--project", "-p", help="Only memories of this project."),
    agent: str | None = typer.Option(None, "--agent", help=AGENT_HELP),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1, help="At most N memories."),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """List saved memories, newest first."""
    fmt = check_format(fmt)
    agent = one_agent(agent)
    from llm_session_manager.api import memory as memory_api

    ctx = load_env()
    memories = memory_api.list_memories(ctx, _query(session, tags, project, agent), limit)
    _warn_store(ctx)
    if fmt != "table":
        emit(fmt, [m.as_json() for m in memories])
        return
    if not memories:
        sys.stdout.write("No memories.\n")
        return
    _print_memories(memories)


def _print_memories(memories: Sequence[Memory]) -> None:
    from llm_session_manager.cli.render import SafeTable, console

    now = datetime.now(timezone.utc)
    table = SafeTable(header_style="bold")
    table.add_column("ID", no_wrap=True)
    table.add_column("Session", no_wrap=True)
    table.add_column("Project", max_width=20, overflow="ellipsis", no_wrap=True)
    table.add_column("When", no_wrap=True)
    table.add_column("Tags", max_width=24, overflow="fold")
    table.add_column("Memory", max_width=90, overflow="fold")
    for m in memories:
        table.add_row(
            m.id,
            m.session_id,
            m.project or "-",
            _when(m.created_at, now),
            ", ".join(m.tags) or "-",
            _one_line(m.text, 300),
        )
    console().print(table)


def stats_cmd(fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP)) -> None:
    """Memory counts by session, tag, project and agent; the store's size and embedding model."""
    fmt = check_format(fmt)
    from llm_session_manager.api import memory as memory_api

    ctx = load_env()
    data = memory_api.stats(ctx)
    _warn_store(ctx)
    if fmt != "table":
        emit(fmt, data)
        return
    out = sys.stdout
    store = data["store"]
    where = store.get("url") or store.get("path")
    size = f", {_size(store['size_bytes'])}" if "size_bytes" in store else ""
    model = data["embedding_model"]
    out.write(f"Memories:   {data['memories']}\n")
    out.write(f"Store:      {store['kind']} {where} (collection {data['collection']}{size})\n")
    out.write(f"Embeddings: {model['name']} ({model['variant']} copy: {model['model_file']})\n")
    for title, key in (
        ("agent", "by_agent"),
        ("project", "by_project"),
        ("tag", "by_tag"),
        ("session", "by_session"),
    ):
        _counts(title, data[key])


def _counts(title: str, counts: dict[str, int], top: int = 10) -> None:
    if not counts:
        return
    sys.stdout.write(f"\nBy {title}:\n")
    for name, n in list(counts.items())[:top]:
        sys.stdout.write(for_terminal(f"  {n:>6}  {name}") + "\n")
    if len(counts) > top:
        sys.stdout.write(f"  ({len(counts) - top} more; --format json lists all)\n")


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def delete_cmd(
    memory_id: str = typer.Argument(..., help="The full id of the memory (see memory-list)."),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """Delete one memory, by its full id. Nothing else is ever removed."""
    fmt = check_format(fmt)
    from llm_session_manager.api import memory as memory_api

    ctx = load_env()
    gone = memory_api.delete(ctx, memory_id)
    if fmt != "table":
        emit(fmt, {**gone.as_json(), "deleted": True})
        return
    say(f"deleted {gone.id}: {_one_line(gone.text, 80)}")


def _register_all(app: typer.Typer, commands: dict[str, Any]) -> None:
    for name, function in commands.items():
        app.command(name)(function)


def register(app: typer.Typer) -> None:
    _register_all(
        app,
        {
            "memory-add": add_cmd,
            "memory-search": search_cmd,
            "memory-list": list_cmd,
            "memory-stats": stats_cmd,
            "memory-delete": delete_cmd,
        },
    )
