"""Reading every agent's sources through the parse cache.

A scan lists a reader's files with their identities. When every file has the identity recorded last
time, the merged sessions come straight from the cache and no source byte is read. Otherwise only new or
changed files are read (from their last offset when the reader can continue), in worker processes when
there is enough to read, and the merged result is cached again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from llm_session_manager.agents.base import AgentReader, FileState, Identity
from llm_session_manager.codec import session_from_dict, session_to_dict
from llm_session_manager.models import Session
from llm_session_manager.safetext import redactor_digest, without_secrets
from llm_session_manager.store import parse_cache

PARALLEL_MIN_BYTES = 24 * 1024 * 1024
# A session quiet for longer than this when its sessions are built cannot get a burn rate or a
# compaction projection before one of its files changes (which rebuilds it): its per-minute usage and
# context history are dropped, which keeps the merged cache small.
SERIES_KEEP = timedelta(minutes=90)  # the Claude reader skips building them with the same horizon


@dataclass
class ScanStats:
    files: int = 0
    files_read: int = 0
    bytes_read: int = 0
    from_cache: bool = False
    errors: list[str] = field(default_factory=list)


@dataclass
class ScanResult:
    sessions: list[Session]
    stats: ScanStats


Job = tuple[str, str, "FileState | None", int]  # path, session key, prior state, bytes to read


def _signature(entries: Sequence[tuple[str, str, Identity]]) -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(redactor_digest().encode())  # cached titles are redacted: new rules, new merge
    for path, key, ident in sorted(entries):
        digest.update(f"{path}\0{key}\0{ident}\n".encode())
    return digest.hexdigest()


def _read_job(args: tuple[AgentReader, str, str, FileState | None]) -> FileState | str:
    reader, key, path, prior = args
    try:
        return reader.read(path, key, prior)
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    except Exception as exc:  # a format we do not understand must not hide the other sessions
        return f"{path}: cannot parse ({type(exc).__name__}: {exc})"


def _worker_init() -> None:
    # Workers only build short-lived parse trees; the cyclic GC finds nothing there and costs ~4%.
    import gc

    gc.disable()


def _workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _read_changed(reader: AgentReader, jobs: list[Job], stats: ScanStats) -> list[FileState]:
    # Largest files first keeps every worker busy to the end.
    jobs = sorted(jobs, key=lambda j: -j[3])
    args = [(reader, key, path, prior) for path, key, prior, _size in jobs]
    pending = sum(j[3] for j in jobs)
    if pending >= PARALLEL_MIN_BYTES and len(jobs) > 1 and _workers() > 1:
        import multiprocessing

        ctx = multiprocessing.get_context("fork") if hasattr(os, "fork") else None
        with ProcessPoolExecutor(max_workers=_workers(), mp_context=ctx, initializer=_worker_init) as pool:
            results = list(pool.map(_read_job, args, chunksize=4))
    else:
        results = [_read_job(a) for a in args]
    states: list[FileState] = []
    for result in results:
        if isinstance(result, str):
            stats.errors.append(result)
        else:
            states.append(result)
    return states


@dataclass
class ScanMemo:
    """What a long-running process (the dashboard) keeps between scans of one reader, so that a scan
    after a change re-reads the changed files and rebuilds only the sessions they can affect."""

    signature: str = ""
    states: dict[str, FileState] = field(default_factory=dict)
    sessions: list[Session] = field(default_factory=list)


def scan_agent(
    conn: sqlite3.Connection, reader: AgentReader, memo: ScanMemo | None = None, *, history: bool = False
) -> ScanResult:
    """The reader's sessions, reading only what changed since the last scan.

    With a ``memo`` (kept by the caller between calls) nothing is decoded from the cache again, and a
    reader that can (``rebuild``) merges only the sessions touched by the changed files. Each session's
    per-minute usage history (``Session.usage_history``, for the usage reports) is cached but left out of
    the result unless ``history``: a listing never holds it in memory.
    """
    agent, version = reader.name, reader.parser_version
    stats = ScanStats()
    current = list(reader.sources())
    stats.files = len(current)
    signature = _signature(current)
    if memo is not None and memo.signature == signature:
        stats.from_cache = True
        return ScanResult(memo.sessions, stats)
    if memo is None or not memo.signature:
        cached = parse_cache.load_merged(conn, agent, signature, version)
        if cached is not None:
            stats.from_cache = True
            sessions = [session_from_dict(d, history=history) for d in cached]
            if memo is not None:  # the memo needs the file states for the next, incremental, scan
                memo.states = parse_cache.load_states(conn, agent, version)
                memo.signature, memo.sessions = signature, sessions
            return ScanResult(sessions, stats)
    states = (
        memo.states if memo is not None and memo.signature else parse_cache.load_states(conn, agent, version)
    )
    keep: list[FileState] = []
    jobs: list[Job] = []
    for path, key, ident in current:
        prior = states.get(path)
        if prior is not None and prior.identity == ident and prior.session_key == key:
            keep.append(prior)
            continue
        jobs.append((path, key, prior, ident[2] - (prior.offset if prior else 0)))
    fresh = _read_changed(reader, jobs, stats)
    stats.files_read = len(fresh)
    stats.bytes_read = sum(s.offset - _prior_offset(states, s) for s in fresh)
    present = {p for p, _k, _i in current}
    removed = [p for p in states if p not in present]
    previous = memo.sessions if memo is not None and memo.signature else _previous(conn, reader, states)
    try:
        merged = _merge(reader, keep + fresh, [s.path for s in fresh] + removed, previous)
        sessions = _redact_titles(_drop_stale_series(merged))
    except Exception as exc:  # never let one agent's new format take the whole listing down
        stats.errors.append(f"{agent}: cannot merge sessions ({type(exc).__name__}: {exc})")
        return ScanResult([], stats)
    if removed:
        _archive_gone(conn, reader, states, removed, memo)
    parse_cache.save_states(conn, agent, version, fresh, removed)
    if memo is not None:
        # A long-running caller scans often: it keeps the merged result in memory and leaves the
        # database's merged copy to be rebuilt by the next one-shot command.
        parse_cache.drop_merged(conn, agent)
        memo.signature, memo.sessions = signature, sessions
        memo.states = {s.path: s for s in keep + fresh}
    elif not stats.errors:  # a file we could not read must be tried again next time
        parse_cache.save_merged(conn, agent, signature, version, [session_to_dict(s) for s in sessions])
    return ScanResult(sessions if history else _without_history(sessions, memo), stats)


def _without_history(sessions: list[Session], memo: ScanMemo | None) -> list[Session]:
    out = [dataclasses.replace(s, usage_history=()) if s.usage_history else s for s in sessions]
    if memo is not None:
        memo.sessions = out
    return out


def _archive_gone(
    conn: sqlite3.Connection,
    reader: AgentReader,
    states: dict[str, FileState],
    removed: list[str],
    memo: ScanMemo | None,
) -> None:
    """Sessions all of whose files were removed go to the archive as they last stood: from the merged
    cache of the previous scan, else merged again from the removed files' cached states (a memo's
    sessions lack their usage history)."""
    from llm_session_manager.store import archive

    # Only files that are really gone: a file no longer listed because the search roots changed
    # (LSM_AIDER_ROOTS, a config edit) is still there, and its session is not archived.
    gone = {p for p in removed if not os.path.lexists(p)}
    if not gone:
        return
    before: list[Session] = []
    in_memory = memo is not None and memo.signature
    cached = None if in_memory else parse_cache.load_merged_any(conn, reader.name, reader.parser_version)
    if cached is not None:
        try:
            before = [session_from_dict(d) for d in cached]
        except (TypeError, KeyError, ValueError):
            before = []
    found = [s for s in before if s.transcript_paths and gone.issuperset(s.transcript_paths)]
    rest = gone.difference(*(s.transcript_paths for s in found))
    if rest:
        try:
            rebuilt = reader.sessions([states[p] for p in sorted(rest) if p in states])
        except Exception:  # an unreadable old state must not stop the scan
            rebuilt = []
        found += [s for s in rebuilt if s.transcript_paths and rest.issuperset(s.transcript_paths)]
    archive.save(conn, _redact_titles(found))


def _redact_titles(sessions: list[Session]) -> list[Session]:
    """Titles come from prompts, where people paste keys: redacted once here, before the merged cache
    and every front end (list, JSON, monitor, MCP) see them."""
    out = []
    for s in sessions:
        title = without_secrets(s.title)
        out.append(s if title == s.title else dataclasses.replace(s, title=title))
    return out


def _drop_stale_series(sessions: list[Session]) -> list[Session]:
    cutoff = datetime.now(timezone.utc) - SERIES_KEEP
    out = []
    for s in sessions:
        stale = s.last_activity is None or s.last_activity < cutoff
        if stale and (s.usage_buckets or s.context_series):
            s = dataclasses.replace(s, usage_buckets=(), context_series=())
        out.append(s)
    return out


def _merge(
    reader: AgentReader, states: list[FileState], changed: list[str], previous: list[Session] | None
) -> list[Session]:
    """The reader's sessions: only those the ``changed`` files can affect are merged again when the
    reader can (``rebuild``) and the sessions merged from the previous states are at hand."""
    rebuild = getattr(reader, "rebuild", None)
    if rebuild is not None and previous is not None:
        return list(rebuild(states, changed, previous))
    return reader.sessions(states)


def _previous(
    conn: sqlite3.Connection, reader: AgentReader, states: dict[str, FileState]
) -> list[Session] | None:
    """The sessions merged from exactly the files as they were last read (a one-shot command after an
    agent appended a line re-merges only the sessions that line can change). None when the cached merge
    is of other files (a scan whose reads failed saves states but no merge) or the reader cannot rebuild."""
    if not states or getattr(reader, "rebuild", None) is None:
        return None
    prior = _signature([(path, st.session_key, st.identity) for path, st in states.items()])
    cached = parse_cache.load_merged(conn, reader.name, prior, reader.parser_version)
    if cached is None:
        return None
    try:
        return [session_from_dict(d, history=True) for d in cached]
    except (TypeError, KeyError, ValueError):
        return None


def _prior_offset(states: dict[str, FileState], fresh: FileState) -> int:
    prior = states.get(fresh.path)
    if prior is None or prior.identity[:2] != fresh.identity[:2] or prior.offset > fresh.offset:
        return 0
    return prior.offset
