"""Reading every agent's sources through the parse cache.

A scan lists a reader's files with their identities. When every file has the identity recorded last
time, the merged sessions come straight from the cache and no source byte is read. Otherwise only new or
changed files are read (from their last offset when the reader can continue), in worker processes when
there is enough to read and a core free, and the merged result is cached again.

A reader whose sessions can share messages (``SharingReader``: Claude Code) is scanned in flat memory by
a one-shot command. Cold, the workers (when there is enough to read and a core free) start while the
files are listed, each file's state is saved as soon as it is read, and the sessions are merged a few
groups at a time from the saved states (by the same workers: each loads its groups' states itself and
sends the sessions back serialised), each group's part of the merge saved as it is made and, when
workers merged it, decoded once they are gone (``_scan_cold``). After a change, only the states of the
sessions the changed files can affect are loaded and merged again; every other session is taken from the
previous merge a part at a time, and a part that holds none of the merged sessions is kept as it is
(``_scan_changes``, with the ``Links`` saved beside each merge). A file whose path is spelled another
way (a relative or symlinked config dir) keeps its cached state (``plan_scan``).
"""

from __future__ import annotations

import bisect
import dataclasses
import gc
import os
import sqlite3
import zlib
from array import array
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol, TypeGuard

import orjson

from llm_session_manager.agents.base import AgentReader, FileState, Identity, RebuildingReader, SharingReader
from llm_session_manager.agents.common import file_identity
from llm_session_manager.codec import session_from_dict, session_to_dict, sessions_from_json
from llm_session_manager.forkpool import PoolError
from llm_session_manager.models import Session
from llm_session_manager.safetext import redactor_digest, without_secrets
from llm_session_manager.sources import entries_signature as _signature
from llm_session_manager.sources import listed as _listed
from llm_session_manager.store import checkpoints, parse_cache
from llm_session_manager.store.checkpoints import Checkpoints, checkpointed_aside
from llm_session_manager.store.db import database_file

PARALLEL_MIN_BYTES = 24 * 1024 * 1024
# A session quiet for longer than this when its sessions are built cannot get a burn rate or a
# compaction projection before one of its files changes (which rebuilds it): its per-minute usage and
# context history are dropped, which keeps the merged cache small.
SERIES_KEEP = timedelta(minutes=90)  # the Claude reader skips building them with the same horizon


class ScanProgress(Protocol):
    """Told how a scan's reading goes, for a front end to draw: ``planned`` when a reader knows which
    files it will read, ``advanced`` as each is read, ``finished`` once the whole scan is over."""

    def planned(self, files: int, nbytes: int) -> None: ...
    def advanced(self, files: int, nbytes: int) -> None: ...
    def finished(self) -> None: ...


@dataclass
class ScanStats:
    files: int = 0
    files_read: int = 0
    bytes_read: int = 0
    from_cache: bool = False
    errors: list[str] = field(default_factory=list)
    progress: ScanProgress | None = field(default=None, repr=False, compare=False)
    signature: str = ""  # of the files as listed before any was read (what the merged cache is keyed by)


@dataclass
class ScanResult:
    sessions: list[Session]
    stats: ScanStats


Job = tuple[str, str, "FileState | None", int]  # path, session key, prior state, bytes to read


@dataclass
class Plan:
    """What a scan must do, from the files' identities alone: ``renamed`` maps a listed path to the
    path its file (same device and inode, same session) was cached under — the config dir spelled
    another way (relative, through a symlink) — so its state is reused instead of read again."""

    unchanged: list[str] = field(default_factory=list)
    jobs: list[tuple[str, str, str | None, int]] = field(default_factory=list)  # path, key, cached as, size
    renamed: dict[str, str] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)


def plan_scan(current: Sequence[tuple[str, str, Identity]], known: dict[str, tuple[Any, ...]]) -> Plan:
    """Compare the listed files with ``known`` (path -> (dev, ino, size, mtime_ns, session key), as
    parse_cache.load_identities gives)."""
    plan = Plan()
    listed = {path for path, _k, _i in current}
    by_inode: dict[tuple[int, int], str] | None = None
    for path, key, ident in current:
        old = known.get(path)
        if old is not None and old[4] == key and tuple(old[:4]) == ident:
            plan.unchanged.append(path)
            continue
        cached_as = path if old is not None else None
        if old is None:
            if by_inode is None:
                by_inode = {(v[0], v[1]): p for p, v in known.items() if p not in listed}
            was = by_inode.pop((ident[0], ident[1]), None)
            if was is not None and known[was][4] == key:
                plan.renamed[path] = was
                if tuple(known[was][:4]) == ident:
                    continue
                cached_as = was
        plan.jobs.append((path, key, cached_as, ident[2]))
    moved = set(plan.renamed.values())
    plan.removed = [p for p in known if p not in listed and p not in moved]
    return plan


class Links:
    """Which sessions share messages (a resumed session repeats its predecessor's), kept with a merge so
    that the next scan after a change re-merges only the sessions the changed files can affect: ``graph``
    maps a session key to the keys it shares a message with; ``hashes`` is the sorted CRC-32 of every
    message key seen (a superset: a message new to a changed file whose hash is there may be shared
    with a session outside the group, and everything is merged again)."""

    def __init__(self, graph: dict[str, set[str]], hashes: array[int]) -> None:
        self.graph = graph
        self.hashes = hashes

    @classmethod
    def of(cls, states: Iterable[FileState], keys_of: Callable[[FileState], Iterable[str]]) -> Links:
        first: dict[str, str] = {}
        graph: dict[str, set[str]] = {}
        for state in states:
            session = state.session_key
            for key in keys_of(state):
                other = first.setdefault(key, session)
                if other != session:
                    graph.setdefault(other, set()).add(session)
                    graph.setdefault(session, set()).add(other)
        return cls(graph, array("I", sorted({zlib.crc32(k.encode()) for k in first})))

    def encode(self) -> bytes:
        graph = orjson.dumps({k: sorted(v) for k, v in self.graph.items()})
        return len(graph).to_bytes(8, "little") + graph + self.hashes.tobytes()

    @classmethod
    def decode(cls, blob: bytes) -> Links | None:
        try:
            size = int.from_bytes(blob[:8], "little")
            graph = {k: set(v) for k, v in orjson.loads(blob[8 : 8 + size]).items()}
            hashes = array("I")
            hashes.frombytes(blob[8 + size :])
        except (ValueError, AttributeError, TypeError):
            return None
        return cls(graph, hashes)

    def closure(self, start: Iterable[str]) -> set[str]:
        group, todo = set(start), list(start)
        while todo:
            for other in self.graph.get(todo.pop(), ()):
                if other not in group:
                    group.add(other)
                    todo.append(other)
        return group

    def seen(self, key: str) -> bool:
        return self._has(zlib.crc32(key.encode()))

    def _has(self, value: int) -> bool:
        i = bisect.bisect_left(self.hashes, value)
        return i < len(self.hashes) and self.hashes[i] == value

    def replace(self, group: set[str], part: Links) -> Links:
        """These links with the sessions of ``group`` linked as ``part`` (merged from them alone) says."""
        graph = {k: v for k, v in self.graph.items() if k not in group}
        graph.update(part.graph)
        new = sorted(v for v in set(part.hashes) if not self._has(v))
        if len(new) < 64:
            hashes = array("I", self.hashes)
            for value in new:
                hashes.insert(bisect.bisect_left(hashes, value), value)
        else:
            hashes = array("I", sorted(set(self.hashes).union(new)))
        return Links(graph, hashes)


def _read_job(args: tuple[AgentReader, str, str, FileState | None]) -> FileState | str:
    reader, key, path, prior = args
    try:
        return reader.read(path, key, prior)
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    except Exception as exc:  # a format we do not understand must not hide the other sessions
        return f"{path}: cannot parse ({type(exc).__name__}: {exc})"


def _worker_init() -> None:
    # Reading builds only short-lived parse trees; the cyclic GC finds nothing there and costs ~4%.
    gc.disable()


def _workers() -> int:
    """Worker processes worth starting: the cores free now (a pool on a busy machine only adds the cost
    of sending states back), at most 4. "Now" is the tasks running or waiting for a core (the 4th field
    of /proc/loadavg, less this process), the middle of three looks a millisecond apart so that a
    passing blip is not taken for a busy core. The 1-minute load average, used where there is no such
    file, lags a minute and counts this command's own previous runs."""
    import time

    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        looks = []
        for i in range(3):
            if i:
                time.sleep(0.001)
            with open("/proc/loadavg", "rb") as fh:
                looks.append(int(fh.read().split()[3].split(b"/")[0]) - 1)
        busy = float(sorted(looks)[1])
    except (OSError, ValueError, IndexError):
        try:
            busy = os.getloadavg()[0]
        except OSError:
            busy = 0.0
    return max(1, min(4, cores, int(cores - busy + 0.5)))


def _read_changed(reader: AgentReader, jobs: list[Job], stats: ScanStats) -> list[FileState]:
    # Largest files first keeps every worker busy to the end.
    jobs = sorted(jobs, key=lambda j: -j[3])
    args = [(reader, key, path, prior) for path, key, prior, _size in jobs]
    _planned(stats, jobs)
    with _pool(_pool_size(jobs), reader) as pool:
        results = list(_advancing(_mapped(pool, _read_job, args), [j[3] for j in jobs], stats))
    states: list[FileState] = []
    for result in results:
        if isinstance(result, str):
            stats.errors.append(result)
        else:
            states.append(result)
    return states


def _pool_size(jobs: list[Job]) -> int:
    """Worker processes for reading ``jobs``: none (0) unless there is enough to read and a core free."""
    return _pool_size_for(len(jobs), sum(j[3] for j in jobs))


def _pool_size_for(files: int, nbytes: int) -> int:
    """``_pool_size`` of ``files`` files of ``nbytes`` bytes in all."""
    if _enough_to_share(files, nbytes) and (workers := _workers()) > 1:
        return workers
    return 0


def _enough_to_share(files: int, nbytes: int) -> bool:
    return nbytes >= PARALLEL_MIN_BYTES and files > 1


_LEAN = False  # the allocator was told to keep the heap small (once per process)
M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8  # glibc's malloc.h


def _lean_allocator() -> None:
    """Before the first pool: one malloc arena for every thread and a fixed threshold (128 KiB) above
    which blocks are mapped on their own. Each thread that allocates gets an arena of its own by default
    (results came through ProcessPoolExecutor's threads; the checkpoint thread runs beside the scan),
    and glibc raises the threshold as large blocks are freed, so that the states passing through stayed
    in heaps that never shrank; each forked worker counts those pages again. At 6,000 sessions cold,
    with the executor: the tree's peak RSS 126 -> 117 MiB, PSS 69 -> 66, the same time. Nothing on
    another C library (these parameters are glibc's)."""
    global _LEAN
    if _LEAN:
        return
    _LEAN = True
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, ValueError):
        return
    mallopt(M_ARENA_MAX, 1)
    mallopt(M_MMAP_THRESHOLD, 128 * 1024)


@contextmanager
def _pool(size: int, reader: AgentReader | None = None) -> Iterator[Any]:
    """``size`` worker processes, forked so that they start with what this one has loaded (and what the
    ``reader``'s ``preload()``, if it has one, imports); None (the work is done here) when ``size`` is
    under 2. They read without the cyclic GC (``_worker_init``). A ``forkpool.ForkPool`` where the
    system forks (no executor threads beside the one saving the states: 60 ms of this process's CPU at
    1,500 sessions, and 12 ms of imports), ProcessPoolExecutor elsewhere."""
    if size < 2:
        yield None
        return
    preload = getattr(reader, "preload", None)
    if callable(preload):
        preload()
    checkpoints.settle()  # no thread of ours may hold a lock the workers would inherit held
    _lean_allocator()
    # What this process holds is out of the cyclic GC's sight while workers run: a collection in a
    # worker would otherwise write to every inherited object's header, copying the pages it shares.
    gc.freeze()
    try:
        if hasattr(os, "fork"):
            from llm_session_manager.forkpool import ForkPool

            with ForkPool(size, initializer=_worker_init) as pool:
                yield pool
        else:  # only when a pool runs: start-up pays nothing
            from concurrent.futures import BrokenExecutor, ProcessPoolExecutor

            from llm_session_manager.forkpool import BrokenPool

            with ProcessPoolExecutor(max_workers=size, initializer=_worker_init) as executor:
                try:
                    yield executor
                except BrokenExecutor as exc:  # one kind of failure, whichever pool
                    raise BrokenPool(str(exc)) from exc
    finally:
        gc.unfreeze()


@dataclass
class ScanMemo:
    """What a long-running process (the dashboard) keeps between scans of one reader, so that a scan
    after a change re-reads the changed files and rebuilds only the sessions they can affect."""

    signature: str = ""
    states: dict[str, FileState] = field(default_factory=dict)
    sessions: list[Session] = field(default_factory=list)
    # The files as last listed (path -> session key, identity): a caller that knows which paths changed
    # (``scan_agent(changed=...)``) has only those stat'ed again instead of the whole tree walked.
    listing: dict[str, tuple[str, Identity]] = field(default_factory=dict)
    redactor: str = ""  # the title redaction rules the sessions were merged with (redactor_digest)
    # For a SharingReader: which sessions share messages, to merge again only a changed file's group.
    links: Links | None = None
    _by_key: dict[str, list[str]] | None = field(default=None, repr=False)

    def remember(
        self, signature: str, sessions: list[Session], current: Iterable[tuple[str, str, Identity]]
    ) -> None:
        """Keep a scan's result: its sessions, the listing they were merged from, and its signature."""
        self.signature, self.sessions, self.redactor = signature, sessions, redactor_digest()
        self.listing = {}
        self._by_key = {}
        for path, key, ident in current:
            self.add(path, key, ident)

    def add(self, path: str, key: str, ident: Identity) -> None:
        """A file new to the listing."""
        self.listing[path] = (key, ident)
        if self._by_key is not None:
            self._by_key.setdefault(key, []).append(path)

    def paths_of(self, key: str) -> list[str]:
        """The listed files of session ``key``."""
        if self._by_key is None:
            self._by_key = {}
            for path, (k, _ident) in self.listing.items():
                self._by_key.setdefault(k, []).append(path)
        return self._by_key.get(key, [])


def scan_agent(
    conn: sqlite3.Connection,
    reader: AgentReader,
    memo: ScanMemo | None = None,
    *,
    history: bool = False,
    progress: ScanProgress | None = None,
    changed: Collection[str] | None = None,
) -> ScanResult:
    """The reader's sessions, reading only what changed since the last scan.

    With a ``memo`` (kept by the caller between calls) nothing is decoded from the cache again, and a
    reader that can (``rebuild``) merges only the sessions touched by the changed files. Without one, a
    reader that names the messages its sessions can share (``shared_keys``) re-merges only the sessions
    the changed files can affect, from their own cached states. Each session's per-minute usage history
    (``Session.usage_history``, for the usage reports) is cached but left out of the result unless
    ``history``: a listing never holds it in memory. ``progress`` is told of each file read.

    ``changed`` (with a memo): the only paths that can have changed since the last scan, when the caller
    watches them (the dashboard). The reader's listed files among them are stat'ed again and nothing
    else is looked at; a path under the reader's roots that is not a listed file (a folder: a file may
    have come or gone) makes it walk everything as without ``changed``.
    """
    stats = ScanStats(progress=progress)
    try:
        return _scan_agent(conn, reader, memo, stats, history, changed)
    except PoolError as exc:  # a worker killed (out of memory, a signal): this agent's sessions alone
        stats.errors.append(f"{reader.name}: {exc}")
        return ScanResult([], stats)


def _scan_agent(
    conn: sqlite3.Connection,
    reader: AgentReader,
    memo: ScanMemo | None,
    stats: ScanStats,
    history: bool,
    changed: Collection[str] | None,
) -> ScanResult:
    """``scan_agent``, telling ``stats``."""
    agent, version = reader.name, reader.parser_version
    first = _scan_listed(conn, reader, memo, changed, stats, history) or _scan_unsaved(
        conn, reader, memo, stats, history
    )
    if first is not None:
        return first
    current, signature = _listed(reader)
    stats.files = len(current)
    stats.signature = signature
    if _as_listed(memo, current, signature):
        stats.from_cache = True
        return ScanResult(memo.sessions, stats)
    saved = _from_saved(conn, reader, memo, current, signature, stats, history)
    if saved is None:
        saved = _scan_walked(conn, reader, memo, current, signature, stats, history)
    if saved is not None:
        return saved
    if memo is None and isinstance(reader, SharingReader):
        one_shot = _one_shot(conn, reader, current, stats, history)
        if one_shot is not None:
            return one_shot
        signature = stats.signature
    states = (
        memo.states if memo is not None and memo.signature else parse_cache.load_states(conn, agent, version)
    )
    plan = plan_scan(current, {p: (*st.identity, st.session_key) for p, st in states.items()})
    keep = [states[p] for p in plan.unchanged] + _moved(states, plan)
    fresh = _read_changed(reader, _jobs(plan, states), stats)
    stats.files_read = len(fresh)
    stats.bytes_read = sum(s.offset - _prior_offset(states, s) for s in fresh)
    removed = plan.removed + list(plan.renamed.values())
    previous = memo.sessions if memo is not None and memo.signature else None
    try:
        touched = [s.path for s in fresh] + removed + list(plan.renamed)
        merged = _merge(reader, keep + fresh, touched, previous)
        sessions = _redact_titles(_drop_stale_series(merged))
    except Exception as exc:  # never let one agent's new format take the whole listing down
        stats.errors.append(f"{agent}: cannot merge sessions ({type(exc).__name__}: {exc})")
        return ScanResult([], stats)
    if plan.removed:
        _archive_gone(conn, reader, states, plan.removed, memo)
    parse_cache.save_states(conn, agent, version, fresh + _moved(states, plan), removed)
    if memo is not None:
        # A long-running caller scans often: it keeps the merged result in memory and leaves the
        # database's merged copy to be rebuilt by the next one-shot command.
        parse_cache.drop_merged(conn, agent)
        memo.remember(signature, sessions, current)
        memo.states = {s.path: s for s in keep + fresh}
        memo.links = _links_after(reader, memo, previous, touched)
    elif not stats.errors:  # a file we could not read must be tried again next time
        parse_cache.save_merged(conn, agent, signature, version, [session_to_dict(s) for s in sessions])
        if isinstance(reader, SharingReader):
            links = Links.of(keep + fresh, reader.shared_keys)
            parse_cache.save_links(conn, agent, signature, version, links.encode())
    return ScanResult(sessions if history else _without_history(sessions, memo), stats)


def _one_shot(
    conn: sqlite3.Connection,
    reader: SharingReader,
    current: list[tuple[str, str, Identity]],
    stats: ScanStats,
    history: bool,
) -> ScanResult | None:
    """A one-shot command's scan: after a change, or cold. None leaves it to the caller; ``current`` is
    then listed again if the scan after a change emptied it (its merge was replaced meanwhile)."""
    agent, version, signature = reader.name, reader.parser_version, stats.signature
    if not parse_cache.has_states(conn, agent, version):  # (another process emptied it meanwhile)
        return _scan_cold(conn, reader, (current, signature), stats, history)
    result = _scan_changes(conn, reader, current, signature, stats, history)
    if result is None and not current:
        again, stats.signature = _listed(reader)
        current.extend(again)
        stats.files = len(current)
    return result


def _scan_unsaved(
    conn: sqlite3.Connection, reader: AgentReader, memo: ScanMemo | None, stats: ScanStats, history: bool
) -> ScanResult | None:
    """A one-shot scan of a reader of which neither a file state nor a merge is saved: cold, listing
    the files itself (``_scan_cold``). None for any other."""
    if memo is not None or not isinstance(reader, SharingReader):
        return None
    agent, version = reader.name, reader.parser_version
    if parse_cache.has_states(conn, agent, version) or parse_cache.has_merged(conn, agent, version):
        return None
    return _scan_cold(conn, reader, None, stats, history)


def _from_saved(
    conn: sqlite3.Connection,
    reader: AgentReader,
    memo: ScanMemo | None,
    current: list[tuple[str, str, Identity]],
    signature: str,
    stats: ScanStats,
    history: bool,
) -> ScanResult | None:
    """The sessions merged from ``current`` as the database holds them (None when it does not), for a
    one-shot scan or a memo's first; the memo also gets the file states and links, for the next scan."""
    if memo is not None and memo.signature:
        return None
    agent, version = reader.name, reader.parser_version
    parts = parse_cache.merged_parts(conn, agent, version, signature)
    if parts is None:
        return None
    try:  # one part decoded at a time
        sessions = [s for p in parts for s in _sessions_of(p, history)]
    except parse_cache.Damaged:
        return None
    stats.from_cache = True
    if memo is not None:
        memo.states = parse_cache.load_states(conn, agent, version)
        memo.remember(signature, sessions, current)
        blob = parse_cache.load_links(conn, agent, signature, version)
        memo.links = Links.decode(blob) if blob is not None else None
    return ScanResult(sessions, stats)


def _links_after(
    reader: AgentReader, memo: ScanMemo, previous: list[Session] | None, touched: list[str]
) -> Links | None:
    """The memo's links after a walk's merge (for the next targeted scan): made again when it merged
    everything or a file changed, or none were made yet."""
    if not isinstance(reader, SharingReader):
        return None
    if previous is None or touched or memo.links is None:
        return Links.of(memo.states.values(), reader.shared_keys)
    return memo.links


def _as_listed(
    memo: ScanMemo | None, current: Iterable[tuple[str, str, Identity]], signature: str
) -> TypeGuard[ScanMemo]:
    """Whether the memo holds the sessions merged from ``current``: by signature, or, after a targeted
    scan (whose signature is no digest), by its listing, merged with today's redaction rules."""
    if memo is None or memo.signature == signature:
        return memo is not None
    if not memo.listing or memo.redactor != redactor_digest():
        return False
    return {path: (key, ident) for path, key, ident in current} == memo.listing


def _under(path: str, roots: Sequence[str]) -> bool:
    return any(path == root or path.startswith(root + os.sep) for root in roots)


def _restat(reader: AgentReader, memo: ScanMemo, changed: Collection[str]) -> dict[str, Identity] | None:
    """The new identities of the reader's listed files among ``changed`` (only those that differ), or
    None when that cannot tell: no listing yet, a reader that may share messages not known to list only
    plain files (only a SharingReader's listing is one ``stat`` per file), or a changed path under its
    roots that is not a listed file, or is gone or replaced."""
    if not memo.listing or memo.redactor != redactor_digest() or not isinstance(reader, SharingReader):
        return None
    roots = [root for root, _exists in reader.roots()]
    updates: dict[str, Identity] = {}
    for path in changed:
        if not _under(path, roots):
            continue
        known = memo.listing.get(path)
        if known is None:
            return None
        try:
            ident = file_identity(os.stat(path))
        except OSError:
            return None
        if ident[:2] != known[1][:2]:
            return None
        if ident != known[1]:
            updates[path] = ident
    return updates


def _scan_listed(
    conn: sqlite3.Connection,
    reader: AgentReader,
    memo: ScanMemo | None,
    changed: Collection[str] | None,
    stats: ScanStats,
    history: bool,
) -> ScanResult | None:
    """A memo scan that stats only the ``changed`` paths (see ``scan_agent``), re-reads the listed files
    among them that grew and merges again only the sessions they can affect; None when a walk is needed."""
    updates = _restat(reader, memo, changed) if memo is not None and changed is not None else None
    if memo is None or updates is None:
        return None
    stats.files = len(memo.listing)
    if not updates:
        stats.from_cache = True
        return ScanResult(memo.sessions, stats)
    listed = {path: (memo.listing[path][0], ident) for path, ident in updates.items()}
    return _merge_listed(conn, reader, memo, listed, stats, history)


def _scan_walked(
    conn: sqlite3.Connection,
    reader: AgentReader,
    memo: ScanMemo | None,
    current: list[tuple[str, str, Identity]],
    signature: str,
    stats: ScanStats,
    history: bool,
) -> ScanResult | None:
    """A memo scan after a walk that found files new or grown, and none removed, renamed or replaced:
    merged as a targeted scan merges (only the sessions they can affect); None otherwise."""
    if memo is None or memo.links is None or not memo.listing or memo.redactor != redactor_digest():
        return None
    listing = {path: (key, ident) for path, key, ident in current}
    if len(listing) < len(memo.listing) or any(path not in listing for path in memo.listing):
        return None
    updates = {path: new for path, new in listing.items() if memo.listing.get(path) != new}
    for path, (key, ident) in updates.items():
        old = memo.listing.get(path)
        if old is not None and (old[0] != key or old[1][:2] != ident[:2]):
            return None
    result = _merge_listed(conn, reader, memo, updates, stats, history)
    if not stats.errors:
        memo.signature = signature  # the walk's digest: its listing is the memo's now
    return result


def _merge_listed(
    conn: sqlite3.Connection,
    reader: AgentReader,
    memo: ScanMemo,
    updates: dict[str, tuple[str, Identity]],
    stats: ScanStats,
    history: bool,
) -> ScanResult:
    """Read the ``updates`` files (path -> session key, new identity; new ones too) and merge again
    the sessions they can affect; a file that cannot be read keeps its old identity, to be read again."""
    assert isinstance(reader, SharingReader)  # only a memo of a SharingReader keeps links
    agent, version = reader.name, reader.parser_version
    jobs: list[Job] = []
    for path, (key, ident) in updates.items():
        prior = memo.states.get(path)
        jobs.append((path, key, prior, ident[2] - (prior.offset if prior else 0)))
    if memo.links is None:
        memo.links = Links.of(memo.states.values(), reader.shared_keys)
    before = {path: set(reader.shared_keys(prior)) for path, _k, prior, _n in jobs if prior is not None}
    offsets = {path: prior.offset for path, _k, prior, _n in jobs if prior is not None}
    fresh = _read_changed(reader, jobs, stats)  # may continue (and change) the prior states in place
    stats.files_read = len(fresh)
    stats.bytes_read = sum(max(0, s.offset - offsets.get(s.path, 0)) for s in fresh)
    for state in fresh:
        if state.path not in memo.listing:
            memo.add(state.path, state.session_key, state.identity)
    try:
        sessions = _merge_group(reader, memo, fresh, before)
    except Exception as exc:  # never let one agent's new format take the whole listing down
        stats.errors.append(f"{agent}: cannot merge sessions ({type(exc).__name__}: {exc})")
        return ScanResult([], stats)
    parse_cache.save_states(conn, agent, version, fresh, [])
    parse_cache.drop_merged(conn, agent)
    for state in fresh:
        memo.listing[state.path] = (updates[state.path][0], updates[state.path][1])
    memo.signature = f"listed:{stats.files}:{len(fresh)}:{id(sessions)}"  # no walk: not a listing's digest
    memo.sessions = sessions
    return ScanResult(sessions if history else _without_history(sessions, memo), stats)


def _merge_group(
    reader: SharingReader, memo: ScanMemo, fresh: list[FileState], before: dict[str, set[str]]
) -> list[Session]:
    """The memo's sessions with those the ``fresh`` states can affect merged again: their sessions and
    every session linked with them (``memo.links``); everything when a new message of theirs may be held
    outside that group. Updates ``memo.states`` and ``memo.links``."""
    assert memo.links is not None
    keys_of = reader.shared_keys
    start = {s.session_key for s in fresh}
    group = memo.links.closure(start)
    memo.states.update((s.path, s) for s in fresh)
    members = [memo.states[path] for key in group for path in memo.paths_of(key) if path in memo.states]
    read = {s.path for s in fresh}
    kept = {st.path: st for st in members if st.path not in read}
    if _shares_outside(fresh, kept, before, memo.links, keys_of):
        members = list(memo.states.values())
        group = {st.session_key for st in members}
    again = _redact_titles(reader.sessions(members))
    memo.links = memo.links.replace(group, Links.of(members, keys_of))
    return _drop_stale_series([s for s in memo.sessions if s.native_id not in group] + again)


def _jobs(plan: Plan, states: dict[str, FileState]) -> list[Job]:
    out: list[Job] = []
    for path, key, cached_as, size in plan.jobs:
        prior = states.get(cached_as) if cached_as is not None else None
        out.append((path, key, prior, size - (prior.offset if prior else 0)))
    return out


def _moved(states: dict[str, FileState], plan: Plan) -> list[FileState]:
    """The cached states of files listed under another name, unchanged, under their new name."""
    read = {j[0] for j in plan.jobs}
    return [
        dataclasses.replace(states[old], path=new)
        for new, old in plan.renamed.items()
        if new not in read and old in states
    ]


def _scan_changes(
    conn: sqlite3.Connection,
    reader: AgentReader,
    current: list[tuple[str, str, Identity]],
    signature: str,
    stats: ScanStats,
    history: bool,
) -> ScanResult | None:
    """A one-shot scan after some files changed: from the merge of the files as last read and its
    links, only the sessions the changed files can affect are loaded and merged again (their group:
    the changed files' sessions and every session sharing a message with them). None when there is no
    such merge (the caller merges everything). ``current`` is emptied once the changes are planned.

    The reader's ``shared_keys(state)`` names the messages a file holds, and its sessions' ``native_id``
    is the files' session key."""
    if not isinstance(reader, SharingReader):
        return None
    keys_of = reader.shared_keys
    agent, version = reader.name, reader.parser_version
    known = parse_cache.load_identities(conn, agent, version)
    prior_signature = _signature([(p, v[4], tuple(v[:4])) for p, v in known.items()])
    blob = parse_cache.load_links(conn, agent, prior_signature, version)
    links = Links.decode(blob) if blob is not None else None
    previous = parse_cache.merged_parts(conn, agent, version, prior_signature) if links else None
    if links is None or previous is None:
        return None
    plan = plan_scan(current, known)
    # A file's sessions are those of its session key: the keys of the files read, removed or renamed.
    start = {j[1] for j in plan.jobs} | {known[p][4] for p in (*plan.removed, *plan.renamed.values())}
    # Every file's identity, listed and saved: megabytes at thousands of files, not needed again while
    # the sessions are merged (the caller's listing is emptied: it lists again if this returns None).
    del known
    current.clear()
    plan.unchanged.clear()
    group = links.closure(start)
    states = parse_cache.load_states_of(conn, agent, version, group)
    jobs = _jobs(plan, states)
    before = {path: set(keys_of(prior)) for path, _k, prior, _n in jobs if prior is not None}
    fresh = _read_changed(reader, jobs, stats)  # may continue (and change) the prior states in place
    stats.files_read = len(fresh)
    stats.bytes_read = sum(n for _p, _k, _prior, n in jobs)
    gone = {j[0] for j in plan.jobs} | set(plan.removed) | set(plan.renamed.values())
    kept = {p: st for p, st in states.items() if p not in gone}
    kept.update((s.path, s) for s in _moved(states, plan))
    if _shares_outside(fresh, kept, before, links, keys_of):
        # A message new to a changed file was seen before outside the group: merge everything.
        everything = parse_cache.load_states(conn, agent, version)
        kept.update((p, st) for p, st in everything.items() if p not in gone and p not in kept)
        group = {st.session_key for st in kept.values()} | group
        del everything
    members = list(kept.values()) + fresh
    with parse_cache.PartWriter(conn, agent) as writer:
        # A file we could not read must be tried again next time: then nothing is saved.
        out = None if stats.errors else _Parts(writer)
        try:
            others = _sessions_outside(previous, group, out, history)
        except parse_cache.Damaged:
            stats.errors.clear()  # the merge was replaced meanwhile: the caller reads and merges again
            return None
        try:
            again = _redact_titles(_drop_stale_series(reader.sessions(members)))
        except Exception as exc:  # never let one agent's new format take the whole listing down
            stats.errors.append(f"{agent}: cannot merge sessions ({type(exc).__name__}: {exc})")
            return ScanResult([], stats)
        if plan.removed:
            _archive_gone(conn, reader, states, plan.removed, None)
        parse_cache.save_states(
            conn, agent, version, fresh + _moved(states, plan), plan.removed + list(plan.renamed.values())
        )
        if out is not None:
            for session in again:
                out.add(session_to_dict(session))
            out.flush()
            if writer.publish(signature, version):
                joined = links.replace(group, Links.of(members, keys_of))
                parse_cache.save_links(conn, agent, signature, version, joined.encode())
    sessions = others + (again if history else _without_history(again, None))
    return ScanResult(sessions, stats)


# Bytes of serialised sessions per part of a merge. Decoding a part briefly takes about 14 times its size
# (orjson's parse tree), and the last parts of a listing are decoded when nearly every session is built.
PART_BYTES = 128 * 1024


class _Parts:
    """Sessions serialised one at a time and written ``PART_BYTES`` or so to a part."""

    def __init__(self, writer: parse_cache.PartWriter) -> None:
        self.writer = writer
        self.loose: list[bytes] = []
        self.size = 0

    def add(self, doc: dict[str, Any]) -> None:
        self.add_blob(orjson.dumps(doc))

    def add_blob(self, blob: bytes) -> None:
        """A session already serialised."""
        self.loose.append(blob)
        self.size += len(blob) + 1
        if self.size >= PART_BYTES:
            self.flush()

    def flush(self) -> None:
        if self.loose:
            self.writer.add(b"[" + b",".join(self.loose) + b"]")
            self.loose, self.size = [], 0


def _sessions_outside(
    parts: Iterable[parse_cache.Part], group: set[str], out: _Parts | None, history: bool
) -> list[Session]:
    """The sessions of the previous merge's ``parts`` not in ``group``, decoded one part at a time; each
    part goes to ``out`` as it was when it holds none of the group, else without those sessions."""
    sessions: list[Session] = []
    for part in parts:
        if out is None or part.token is not None:  # a part left whole needs no documents
            typed = sessions_from_json(part.body, history=history)
            if typed is not None and not any(s.native_id in group for s in typed):
                sessions.extend(typed)
                if out is not None:
                    out.writer.keep(part)
                continue
        docs = parse_cache.decoded(part)
        keep = [d for d in docs if isinstance(d, dict) and d.get("native_id") not in group]
        sessions.extend(session_from_dict(d, history=history) for d in keep)
        if out is None:
            continue
        if len(keep) == len(docs) and part.token is not None:  # (a merge saved whole is split up)
            out.writer.keep(part)
        else:
            for doc in keep:
                out.add(doc)
    return sessions


Row = tuple[str, str, Identity, int, bytes, bytes, bytes]  # path, key, identity, offset, head, state, hashes
# Serialised states written per transaction. Small batches keep memory flat: each held state's bytes
# keep the allocator from reusing the room orjson reserved while writing it.
FLUSH_BYTES = 1024 * 1024
FLUSH_ROWS = 200
# Sessions are merged a group at a time, as many groups as fit in this much saved state (its objects
# take about ten times the room). Each batch's files are found through the parse cache's session index,
# so small batches cost little more: at 6,000 sessions, 1 MB batches took the tree's peak to 117 MiB
# while merging in two workers, 256 KB to 103, for the same time; later 256 KB to 80, 128 KB to 75.
MERGE_BYTES = 128 * 1024
MERGE_POOL_MIN = 8  # batches


class _Workers:
    """The worker processes of a cold scan, started as soon as the listing shows enough to read (the
    same test as ``_pool_size``) and kept for the merge. Forked then, they share only what this process
    held before listing; forked after it (and again after reading, for the merge), each counted the
    listing and what reading left here once more. At 6,000 sessions cold: the tree's peak RSS 117 ->
    103 MiB, growing 20 MB per GB of history instead of 32, 3% less time; PSS 66 -> 68 MiB (merging,
    the workers keep what reading left them)."""

    def __init__(self, stack: ExitStack, reader: AgentReader) -> None:
        self.stack = stack
        self.reader = reader
        self.pool: Any = None
        self.listed = 0  # files
        self.bytes = 0
        self.decided = False

    def __call__(self, entry: tuple[str, str, Identity]) -> None:
        if self.decided:
            return
        self.listed += 1
        self.bytes += entry[2][2]
        if _enough_to_share(self.listed, self.bytes):
            self.start()

    def start(self) -> None:
        """Start the pool if the files listed so far call for one. Decided once: no pool stays none."""
        if self.decided:
            return
        self.decided = True
        if workers := _pool_size_for(self.listed, self.bytes):
            self.pool = self.stack.enter_context(_pool(workers, self.reader))  # forked now


def _scan_cold(
    conn: sqlite3.Connection,
    reader: AgentReader,
    listing: tuple[list[tuple[str, str, Identity]], str] | None,
    stats: ScanStats,
    history: bool,
) -> ScanResult:
    """A scan with nothing cached, in flat memory: each file's state goes to the database as soon as it
    is read (serialised where it was read, in a worker when there are any), with the hashes of its
    messages; then the sessions are merged a few at a time, in groups that share no message with each
    other, from their saved states (in the same workers when there are any, each loading its groups'
    states itself). ``listing``: the files as the caller listed them; None lists them here, starting
    the workers as soon as there is enough to read. The database's log is checkpointed aside
    (``store.checkpoints``): waiting for the disk there had the workers waiting for files to read."""
    assert isinstance(reader, SharingReader)  # only a reader that names its messages scans this way
    with checkpointed_aside(conn) as aside:
        return _scan_cold_into(conn, reader, listing, stats, history, aside)


def _scan_cold_into(
    conn: sqlite3.Connection,
    reader: SharingReader,
    listing: tuple[list[tuple[str, str, Identity]], str] | None,
    stats: ScanStats,
    history: bool,
    aside: Checkpoints,
) -> ScanResult:
    """``_scan_cold``, telling ``aside`` of what it writes."""
    agent, version = reader.name, reader.parser_version
    with ExitStack() as stack:
        workers = _Workers(stack, reader)
        current, signature = _listed(reader, workers) if listing is None else listing
        stats.files, stats.signature = len(current), signature
        jobs: list[Job] = [(path, key, None, ident[2]) for path, key, ident in current]
        current.clear()  # the caller's listing: 14,000 files held ~2 MB through the whole scan
        if not workers.decided:  # a listing handed over, or too little to read
            workers.listed, workers.bytes = len(jobs), sum(j[3] for j in jobs)
            workers.start()
        pool = workers.pool
        hashes: dict[str, list[bytes]] = {}
        sizes: dict[str, int] = {}  # bytes of saved state per session
        rows: list[Row] = []
        pending = 0
        for row in _read_rows(reader, jobs, stats, pool):
            rows.append(row)
            hashes.setdefault(row[1], []).append(row[6])
            sizes[row[1]] = sizes.get(row[1], 0) + len(row[5])
            stats.files_read += 1
            stats.bytes_read += row[3]
            pending += len(row[5])
            if pending >= FLUSH_BYTES or len(rows) >= FLUSH_ROWS:
                parse_cache.save_rows(conn, agent, version, rows)
                aside.written(pending)
                rows, pending = [], 0
        parse_cache.save_rows(conn, agent, version, rows)
        del rows
        groups, seen = _groups(hashes)
        del hashes
        sessions: list[Session] = []
        graph: dict[str, set[str]] = {}
        chunks = list(_chunks(groups, sizes, MERGE_BYTES))
        # The workers merge when there are batches enough to share and they can open the database (not
        # one in memory).
        file = database_file(conn) if pool is not None and len(chunks) >= MERGE_POOL_MIN else None
        database = None if file is None else str(file)
        # What workers merge is saved as it comes and decoded here once they are gone: decoded beside them,
        # the sessions grew this process while each worker grew on its own (at 6,000 sessions the tree's
        # peak was 11 MiB higher, for the same time).
        later = database is not None and not stats.errors
        with parse_cache.PartWriter(conn, agent) as writer:
            out = _Parts(writer)  # the sessions as JSON, saved as they are merged
            try:
                linked = {key for group in groups if len(group) > 1 for key in group}
                merged = _merged_chunks(
                    conn, reader, chunks, pool if database else None, database, history, not later, linked
                )
                for built, docs, links in merged:
                    graph.update(links)
                    if not stats.errors:
                        for doc in docs:
                            out.add_blob(doc)
                        aside.written(sum(map(len, docs)))
                    sessions.extend(built)
                    del built, docs
            except Exception as exc:  # never let one agent's new format take the whole listing down
                stats.errors.append(f"{agent}: cannot merge sessions ({_failure(exc)})")
                return ScanResult([], stats)
            stack.close()  # the workers are done
            if not stats.errors:  # a file we could not read must be tried again next time
                out.flush()
                if later:
                    sessions = _written(conn, reader, writer, chunks, history)
                if writer.publish(signature, version):
                    parse_cache.save_links(conn, agent, signature, version, Links(graph, seen).encode())
    return ScanResult(sessions, stats)


def _written(
    conn: sqlite3.Connection,
    reader: SharingReader,
    writer: parse_cache.PartWriter,
    chunks: list[list[str]],
    history: bool,
) -> list[Session]:
    """The sessions ``writer`` saved, decoded a part at a time; merged again from the saved states of
    ``chunks`` if another process has removed a part meanwhile (it publishes a merge of its own)."""
    parts = parse_cache.fetched(conn, reader.name, writer.tokens)
    try:
        return [s for p in parts for s in _sessions_of(p, history)]
    except parse_cache.Damaged:
        merged = [s for chunk in chunks for s in _merge_saved(conn, reader, chunk)[0]]
        return merged if history else _without_history(merged, None)


def _sessions_of(part: parse_cache.Part, history: bool) -> list[Session]:
    """One part's sessions (``Damaged`` when it is not what a merge wrote)."""
    typed = sessions_from_json(part.body, history=history)
    if typed is not None:
        return typed
    return [session_from_dict(d, history=history) for d in parse_cache.decoded(part)]


MergedChunk = tuple[list[Session], list[bytes], dict[str, set[str]]]  # sessions, each as JSON, links


def _merged_chunks(
    conn: sqlite3.Connection,
    reader: SharingReader,
    chunks: list[list[str]],
    pool: Any,
    database: str | None,
    history: bool,
    decode: bool = True,
    linked: Collection[str] | None = None,
) -> Iterator[MergedChunk]:
    """Each chunk of session keys merged from the saved states of its files, in order. In ``pool``, each
    worker opens the database itself and sends back the sessions serialised, which are decoded here
    (unless ``decode`` is False: no sessions, only their JSON): far less than the states they are
    merged from (at 6,000 sessions: 0.3 s to decode them against 1.8 s to load the states and 1.6 to
    merge them). ``linked``: the only sessions that can share a message with another (None: any)."""
    tasks = [(chunk, None if linked is None else [k for k in chunk if k in linked]) for chunk in chunks]
    if pool is None or database is None:
        for chunk, sharing in tasks:
            built, docs, links = _merge_saved(conn, reader, chunk, sharing)
            yield (built if history else _without_history(built, None)), docs, links
        return
    jobs = [(database, reader, chunk, sharing) for chunk, sharing in tasks]
    for result in _mapped(pool, _merge_job, jobs, per_task=1):
        if isinstance(result, str):
            raise _WorkerFailed(result)
        docs, links = result
        built = [session_from_dict(orjson.loads(doc), history=history) for doc in docs] if decode else []
        yield built, docs, links


def _merge_saved(
    conn: sqlite3.Connection, reader: SharingReader, chunk: list[str], sharing: list[str] | None = None
) -> MergedChunk:
    """The sessions of ``chunk`` merged from their files' saved states, each serialised too, and which
    of them share messages: among ``sharing`` only, when given (a session whose message hashes no other
    session holds shares nothing; listing its messages again took 8% of a cold merge's CPU)."""
    states = list(parse_cache.load_states_of(conn, reader.name, reader.parser_version, chunk).values())
    built = _redact_titles(_drop_stale_series(reader.sessions(states)))
    if sharing is not None:
        among = set(sharing)
        states = [s for s in states if s.session_key in among]
    return (
        built,
        [orjson.dumps(session_to_dict(s)) for s in built],
        Links.of(states, reader.shared_keys).graph,
    )


_worker_db: dict[str, sqlite3.Connection] = {}  # a worker's own connection, opened by its first merge


def _merge_job(
    args: tuple[str, SharingReader, list[str], list[str] | None],
) -> tuple[list[bytes], dict[str, set[str]]] | str:
    """In a worker: a chunk's sessions merged from their saved states, serialised; or what went wrong.
    Without the cyclic GC, as the worker read (``_worker_init``): merging makes no cyclic garbage either,
    and with the collector back it took 2% more CPU for the same peak (6,000 sessions)."""
    database, reader, chunk, sharing = args
    try:
        conn = _worker_db.get(database)
        if conn is None:  # never the parent's connection, which a forked process must not use
            conn = sqlite3.connect(database, timeout=10, isolation_level=None)
            conn.execute("PRAGMA query_only = ON")
            _worker_db[database] = conn
        _built, docs, links = _merge_saved(conn, reader, chunk, sharing)
        return docs, links
    except Exception as exc:
        return _failure(exc)


class _WorkerFailed(Exception):
    """What went wrong in a worker, as ``_failure`` put it there."""


def _failure(exc: Exception) -> str:
    return str(exc) if isinstance(exc, _WorkerFailed) else f"{type(exc).__name__}: {exc}"


def _read_rows(reader: SharingReader, jobs: list[Job], stats: ScanStats, pool: Any) -> Iterator[Row]:
    """Each file read and serialised, largest first, in ``pool``'s workers if any; a file that cannot
    be read is an error in ``stats``. ``jobs`` is emptied (the tasks hold what it did)."""
    jobs.sort(key=lambda j: -j[3])
    args = [(reader, key, path, prior) for path, key, prior, _size in jobs]
    _planned(stats, jobs)
    sizes = [j[3] for j in jobs]
    jobs.clear()
    for result in _advancing(_mapped(pool, _row_job, args), sizes, stats):
        if isinstance(result, str):
            stats.errors.append(result)
        else:
            yield result


# Files a worker reads per task, and tasks queued at once. A task of 4 files cost the pool ~0.35 s more CPU
# than one process at 1x (each task pickles its arguments and results); 16 cost ~0.15 s. Executor.map
# would queue every task at the start, and the parent holds them all; but with 8 queued the workers ran
# dry while the parent saved a batch of states (6,000 sessions cold: 6.83 s with 8, 6.66 with 24, the
# medians of 3 alternated runs; the results waiting take ~1.5 MB).
POOL_CHUNK = 16
POOL_AHEAD = 24


def _mapped(
    pool: Any, fn: Callable[[Any], Any], args: Sequence[Any], per_task: int = POOL_CHUNK
) -> Iterator[Any]:
    """``map(fn, args)``, in ``pool`` when there is one: in order, ``per_task`` items a task,
    ``POOL_AHEAD`` tasks queued."""
    if pool is None:
        yield from map(fn, args)
        return
    from collections import deque

    queued: deque[Any] = deque()
    for start in range(0, len(args), per_task):
        queued.append(pool.submit(_each, fn, args[start : start + per_task]))
        if len(queued) >= POOL_AHEAD:
            yield from queued.popleft().result()
    while queued:
        yield from queued.popleft().result()


def _each(fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    return [fn(item) for item in items]


def _planned(stats: ScanStats, jobs: list[Job]) -> None:
    if stats.progress is not None and jobs:
        stats.progress.planned(len(jobs), sum(j[3] for j in jobs))


def _advancing(results: Iterable[Any], sizes: list[int], stats: ScanStats) -> Iterator[Any]:
    """``results`` (one per job of these ``sizes``, in order) as they come, telling ``stats.progress``
    of each."""
    progress = stats.progress
    for size, result in zip(sizes, results, strict=True):
        if progress is not None:
            progress.advanced(1, size)
        yield result


def _row_job(args: tuple[SharingReader, str, str, FileState | None]) -> Row | str:
    # No isinstance(reader, SharingReader) here: a runtime protocol check per file costs 55 us.
    state = _read_job(args)
    if isinstance(state, str):
        return state
    hashes = args[0].message_hashes(state)
    blob = orjson.dumps(state.data)
    return (state.path, state.session_key, state.identity, state.offset, state.head, blob, hashes)


def _groups(hashes: dict[str, list[bytes]]) -> tuple[list[list[str]], array[int]]:
    """Session keys in groups that share no message hash with each other (a resumed session and its
    predecessor go together), and every hash seen, sorted. Worked out by the package's compiled module
    when it was built: it runs between reading and merging, with both workers waiting (at 6,000
    sessions 92 ms here, 6 ms there)."""
    fast = _compiled_groups()
    done = fast(hashes) if fast is not None else None
    if done is not None:
        seen = array("I")
        seen.frombytes(done[1])
        return done[0], seen
    return _grouped(hashes)


def _compiled_groups() -> Callable[[dict[str, list[bytes]]], tuple[list[list[str]], bytes] | None] | None:
    try:
        from llm_session_manager.agents import _claude_fold
    except ImportError:  # built without a C compiler
        return None
    return getattr(_claude_fold, "groups", None)


def _grouped(hashes: dict[str, list[bytes]]) -> tuple[list[list[str]], array[int]]:
    """``_groups`` in Python. The hashes are sorted into 256 buckets by their top byte first, so that
    finding who else holds one takes a dict of one bucket at a time (a dict of every hash took 21 MB at
    6,000 sessions; this takes 4)."""
    keys = list(hashes)
    values = [array("I") for _ in range(256)]
    holders = [array("I") for _ in range(256)]  # index in keys of the session holding each value
    for index, key in enumerate(keys):
        for blob in hashes[key]:
            held = array("I")
            held.frombytes(blob)
            for value in held:
                values[value >> 24].append(value)
                holders[value >> 24].append(index)
    parent = list(range(len(keys)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    seen = array("I")
    for bucket, bucket_holders in zip(values, holders, strict=True):
        first: dict[int, int] = {}
        for value, index in zip(bucket, bucket_holders, strict=True):
            other = first.setdefault(value, index)
            if other != index:
                a, b = root(other), root(index)
                if a != b:
                    parent[a] = b
        seen.extend(sorted(first))
    groups: dict[int, list[str]] = {}
    for index, key in enumerate(keys):
        groups.setdefault(root(index), []).append(key)
    return list(groups.values()), seen


def _chunks(groups: list[list[str]], sizes: dict[str, int], budget: int) -> Iterator[list[str]]:
    """Groups of sessions batched so that each batch's saved state is about ``budget`` bytes."""
    chunk: list[str] = []
    held = 0
    for group in groups:
        chunk.extend(group)
        held += sum(sizes.get(key, 0) for key in group)
        if held >= budget:
            yield chunk
            chunk, held = [], 0
    if chunk:
        yield chunk


def _shares_outside(
    fresh: list[FileState],
    kept: dict[str, FileState],
    before: dict[str, set[str]],
    links: Links,
    keys_of: Callable[[FileState], Iterable[str]],
) -> bool:
    """Whether a message new to one of the ``fresh`` files may be held by a session outside the group:
    its hash was seen before, and no file of the group held it."""
    inside: set[str] | None = None
    for state in fresh:
        had = before.get(state.path, set())
        for key in keys_of(state):
            if key in had or not links.seen(key):
                continue
            if inside is None:
                inside = set().union(*before.values())
                for st in kept.values():
                    inside.update(keys_of(st))
            if key not in inside:
                return True
    return False


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
    in_memory = memo is not None and memo.signature
    found = [] if in_memory else _saved_sessions_of(conn, reader, gone)
    rest = gone.difference(*(s.transcript_paths for s in found))
    if rest:
        try:
            rebuilt = reader.sessions([states[p] for p in sorted(rest) if p in states])
        except Exception:  # an unreadable old state must not stop the scan
            rebuilt = []
        found += [s for s in rebuilt if s.transcript_paths and rest.issuperset(s.transcript_paths)]
    archive.save(conn, _redact_titles(found))


def _saved_sessions_of(conn: sqlite3.Connection, reader: AgentReader, paths: set[str]) -> list[Session]:
    """The sessions of the agent's last merge all of whose files are among ``paths``."""
    parts = parse_cache.merged_parts(conn, reader.name, reader.parser_version)
    if parts is None:
        return []
    found: list[Session] = []
    try:
        for part in parts:
            for doc in parse_cache.decoded(part):
                files = doc.get("transcript_paths") if isinstance(doc, dict) else None
                if files and paths.issuperset(files):
                    found.append(session_from_dict(doc))
    except (TypeError, KeyError, ValueError):  # Damaged is a ValueError
        return []
    return found


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
    if isinstance(reader, RebuildingReader) and previous is not None:
        return list(reader.rebuild(states, changed, previous))
    return reader.sessions(states)


def _prior_offset(states: dict[str, FileState], fresh: FileState) -> int:
    prior = states.get(fresh.path)
    if prior is None or prior.identity[:2] != fresh.identity[:2] or prior.offset > fresh.offset:
        return 0
    return prior.offset
