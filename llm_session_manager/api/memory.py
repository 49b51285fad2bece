"""Cross-session memory use cases (the store: ../memory.py, ChromaDB). The store is opened once per
context; a CLI run opens it once, a server keeps it for its life."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from llm_session_manager.api.context import Context, UnavailableError
from llm_session_manager.errors import LsmError, UsageError

if TYPE_CHECKING:
    from llm_session_manager.memory import Filters, Hit, Memory, MemoryStore

MEMORY_MISSING = "cross-session memory is not available in this lsm installation"


def memory_module() -> ModuleType | None:
    """The memory module, or None when this installation lacks it (no chromadb)."""
    import importlib

    try:
        return importlib.import_module("llm_session_manager.memory")
    except ModuleNotFoundError as exc:
        if exc.name in ("llm_session_manager.memory", "chromadb"):
            return None
        raise


def _module() -> ModuleType:
    module = memory_module()
    if module is None:
        raise UnavailableError(MEMORY_MISSING)
    return module


def open_memory(ctx: Context, *, create: bool = True) -> MemoryStore | None:
    """The context's memory store, opened on first use. With ``create`` False: None while nothing was
    ever saved on this machine, so that reading never creates an empty store."""
    module = _module()
    with ctx.lock:
        if ctx.memory is None:
            local = not module.settings(ctx.config).get("server")
            if not create and local and not module.store_dir(ctx.paths).is_dir():
                return None
            ctx.memory = module.open_store(ctx.paths, ctx.config)
        store: MemoryStore = ctx.memory
        return store


def _store(ctx: Context) -> MemoryStore:
    store = open_memory(ctx)
    assert store is not None  # create=True always opens one
    return store


@dataclass(frozen=True)
class MemoryQuery:
    session: str | None = None  # id, native id or unique prefix; also a session only the store remembers
    tags: tuple[str, ...] = ()
    project: str | None = None
    agent: str | None = None


def filters(ctx: Context, store: MemoryStore, query: MemoryQuery) -> Filters:
    from llm_session_manager.organise import normalise_tags

    module = _module()
    sessions: tuple[str, ...] = ()
    if query.session is not None:
        views = ctx.views()
        sessions = (module.resolve_session(views, store.session_ids(), query.session),)
    project = (query.project or "").strip() or None
    agent = (query.agent or "").strip().lower() or None
    tags = tuple(normalise_tags(query.tags)) if query.tags else ()
    result: Filters = module.Filters(sessions=sessions, tags=tags, project=project, agent=agent)
    return result


def search(ctx: Context, text: str, query: MemoryQuery = MemoryQuery(), limit: int = 10) -> list[Hit]:
    """Memories by meaning (verbatim paths, symbols and errors first), best first."""
    if not text.strip():
        raise UsageError("the search query is empty")
    with ctx.lock:
        store = open_memory(ctx, create=False)
        if store is None:
            return []
        return store.search(text, filters(ctx, store, query), limit)


def list_memories(ctx: Context, query: MemoryQuery = MemoryQuery(), limit: int | None = None) -> list[Memory]:
    with ctx.lock:
        store = _store(ctx)
        return store.find(filters(ctx, store, query), limit)


def add(
    ctx: Context, session_id: str, text: str, tags: Sequence[str] = (), *, allow_secret: bool = False
) -> tuple[Memory, bool]:
    """Save a memory of a session; (memory, created) — created is False when that session already has
    the same text. A text that looks like a secret is refused unless ``allow_secret``."""
    from llm_session_manager.organise import normalise_tags

    ctx.check_writable()
    module = _module()
    clean = module.normalise_text(text)
    module.check_secret(clean, allow_secret)
    clean_tags = tuple(normalise_tags(tags)) if tags else ()
    view = ctx.one(session_id)
    with ctx.lock:
        saved: tuple[Memory, bool] = _store(ctx).add(module.new_memory_for(view, clean, clean_tags))
    return saved


def delete(ctx: Context, memory_id: str) -> Memory:
    ctx.check_writable()
    with ctx.lock:
        return _store(ctx).delete(memory_id)


def stats(ctx: Context) -> dict[str, Any]:
    """Counts by session, tag, project and agent; the store and the embedding model."""
    with ctx.lock:
        return dict(_store(ctx).stats().as_json())


def warnings(ctx: Context) -> list[str]:
    """What opening the store had to say (a model mismatch…), for the front end to show once."""
    store: MemoryStore | None = ctx.memory
    return list(store.warnings) if store is not None else []


def for_export(ctx: Context, session_id: str) -> tuple[list[dict[str, Any]], str | None]:
    """One session's memories, oldest first, for its export document; [] when there is no store.
    A store that cannot be read gives a warning instead of a failed export."""
    if memory_module() is None:
        return [], None
    try:
        store = open_memory(ctx, create=False)
        if store is None:
            return [], None
        found = store.find(_module().Filters(sessions=(session_id,)))
    except LsmError as exc:
        return [], f"memories not exported: {exc}"
    return [m.as_json() for m in reversed(found)], None
