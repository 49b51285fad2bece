"""`lsm list` (with or without ``--all``, as a table or ``--format json``) answered from what its last run
stored when nothing it shows can have changed, without loading typer or decoding a session: the JSON
output itself, or the table's rows (drawn by cli/fast_list.py at the time and width of the run).

The normal path stores the output (``prepare`` before its scan, ``remember`` after it) only when every
session is quiet: no agent process runs, and none was active within the burn window, so that nothing in
the output depends on the time until ``valid_until`` (the first moment a session leaves the "recent"
listing, its health caps lapse, or the status line's health board would drop it). The stored row is
valid for one set of keys: each agent's file signature (the scan's own), the config, the environment,
lsm's version, the redaction rules and every stored row of ours a listing shows (tags, projects,
descriptions, closed marks, hook states, imported and archived sessions). ``fast_main`` checks them all
with one stat pass, one look at /proc for a process that could be an agent (psutil's scan only when one
could be) and a few small queries; anything different and the CLI runs.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from llm_session_manager.digest import blake2b

if TYPE_CHECKING:
    from pathlib import Path

    from llm_session_manager.config import Config
    from llm_session_manager.paths import Paths
    from llm_session_manager.service import Collected
    from llm_session_manager.store import list_cache

# Shell bookkeeping that changes between runs and that no listing reads, and what only the drawing of a
# table reads (the terminal and its colours), which happens at each run: a listing stored from a script
# is answered in a terminal, and the other way round.
VOLATILE_ENV = frozenset(
    {
        *("PWD", "OLDPWD", "SHLVL", "_"),
        *(
            "COLUMNS",
            "LINES",
            "TERM",
            "COLORTERM",
            "NO_COLOR",
            "FORCE_COLOR",
            "TTY_COMPATIBLE",
            "TTY_INTERACTIVE",
        ),
        *(
            "CLICOLOR",
            "CLICOLOR_FORCE",
            "TERM_PROGRAM",
            "TERM_PROGRAM_VERSION",
            "JUPYTER_COLUMNS",
            "JUPYTER_LINES",
        ),
    }
)
# The longest a stored output is trusted even when no session's figures would change.
MAX_AGE_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Pending:
    """What the normal path knew before its scan: the forms to store under and the stored state."""

    forms: tuple[str, ...]
    state: str


def query_form(argv: Sequence[str]) -> str | None:
    """The stored form an argv asks for (``list`` [``--all``] [``--format json|table``]), None for any
    other."""
    if not argv or argv[0] != "list":
        return None
    every, fmt, i = False, "table", 1
    while i < len(argv):
        arg = argv[i]
        if arg in ("--all", "-a"):
            every = True
        elif arg in ("--format", "-f") and i + 1 < len(argv):
            fmt, i = argv[i + 1], i + 1
        elif arg.startswith("--format="):
            fmt = arg.partition("=")[2]
        else:
            return None
        i += 1
    fmt = fmt.strip().lower()
    return form_of(every, fmt) if fmt in KINDS else None


# What a form stores: "json", the output as printed; "table", the table's rows (listing_table.TableData)
# as JSON, drawn at the time and width of each run.
KINDS = ("json", "table")


def form_of(every: bool, kind: str) -> str:
    """The stored form of a listing of every session (``every``) or the recent ones, as ``kind``."""
    return f"list-{'all' if every else 'recent'}-{kind}"


def kind_of(form: str) -> str:
    return form.rpartition("-")[2]


def forms_of(every: bool, filtered: bool) -> tuple[str, ...]:
    """The stored forms (one per kind) of a listing of every session (``every``) or the recent ones;
    none when it has filters (``filtered``) the fast path does not read."""
    return () if filtered else tuple(form_of(every, kind) for kind in KINDS)


def output_chunks(documents: Iterable[Any]) -> Iterator[bytes]:
    """A JSON array of the documents exactly as `lsm … --format json` prints it (cli.common.print_json:
    ``orjson.dumps(list, OPT_INDENT_2)``), a document at a time so that the whole array is never held (14 MB
    at 6,000 sessions): each is indented one level deeper (orjson writes no raw newline inside a string)
    and made terminal-safe on its own."""
    import orjson

    from llm_session_manager.safetext import json_for_terminal

    yield b"["
    first = True
    for doc in documents:
        body = json_for_terminal(orjson.dumps(doc, option=orjson.OPT_INDENT_2)).replace(b"\n", b"\n  ")
        yield (b"\n  " if first else b",\n  ") + body
        first = False
    yield b"]\n" if first else b"\n]\n"


def _env_digest(env: Mapping[str, str]) -> str:
    digest = blake2b(digest_size=16)
    for name in sorted(env):
        if name not in VOLATILE_ENV:
            digest.update(f"{name}\0{env[name]}\0".encode(errors="surrogateescape"))
    return digest.hexdigest()


def _config_digest(cfg: Config) -> str:
    import orjson

    data = orjson.dumps(cfg, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=repr)
    return blake2b(data, digest_size=16).hexdigest()


def stored_state(paths: Paths, conn: sqlite3.Connection) -> str:
    """A digest of everything but the agents' files that a quiet listing's output depends on (the time
    aside). Hook events waiting in the spool are moved into the store first, as every scan does."""
    from llm_session_manager import __version__, hookspool
    from llm_session_manager.safetext import redactor_digest
    from llm_session_manager.store import hook_events, list_cache

    hook_events.sync(conn, paths.data_dir / hookspool.SPOOL_DIR)
    parts = (__version__, redactor_digest(), _env_digest(paths.env), list_cache.state_digest(conn))
    return "\n".join(parts)


def validity_keys(state: str, cfg: Config, signatures: Sequence[tuple[str, str]]) -> str:
    """The stored state, the config and each agent's file signature, as one key."""
    parts = [state, _config_digest(cfg), *(f"{name}={signature}" for name, signature in signatures)]
    return blake2b("\n".join(parts).encode(), digest_size=16).hexdigest()


# ---------------------------------------------------------------------------------------------------
# The fast path (no typer, no rich, no session decoded)


def _agents_running(paths: Paths) -> bool:
    """Whether the normal path would find a running agent (service.collect's discovery)."""
    if paths.env.get("LSM_DISCOVERY", "on").lower() in ("off", "0", "no", "false"):  # discovery_enabled
        return False
    from llm_session_manager import discovery

    return bool(discovery.running_agents(paths.claude_config_dirs, paths.env))


def stored_output(form: str, now: float) -> bytes | bytearray | None:
    """The stored output of ``form`` if it is still exactly what the CLI would print at ``now``."""
    opened = opened_output(form, now)
    return opened.read() if opened is not None else None


def opened_output(form: str, now: float) -> list_cache.Opened | None:
    """``stored_output``, opened for copying rather than read whole (14 MB at 6,000 sessions)."""
    from llm_session_manager import config as config_mod
    from llm_session_manager.agents import all_readers
    from llm_session_manager.paths import resolve
    from llm_session_manager.store import db, list_cache

    paths = resolve()
    if not paths.db_file.exists():
        return None
    conn = db.connect(paths.db_file)
    try:
        # Cheapest first. While an agent runs, the last listing dropped the row: a miss costs a query.
        # After a change (an agent wrote, then stopped) the files' signatures differ: one stat pass, and
        # no process scan, which the full run makes anyway. The output (megabytes) is opened last.
        stored = list_cache.stored_keys(conn, form)
        if stored is None or now >= stored[1]:
            return None
        from llm_session_manager.sources import source_signature

        cfg = config_mod.load(paths.config_file)
        signatures = [(r.name, source_signature(r)) for r in all_readers(paths, cfg, {})]
        keys = validity_keys(stored_state(paths, conn), cfg, signatures)
        if keys != stored[0] or _agents_running(paths):
            return None
        opened = list_cache.open_stored(conn, form)
        if opened is not None and opened.keys == keys and now < opened.valid_until:
            return opened
        if opened is not None:
            opened.stream.close()
        return None
    finally:
        conn.close()


def fast_main(form: str) -> int | None:
    """Print the stored output of a JSON ``form`` (``query_form``'s) and return 0, or None (printing
    nothing) for the CLI to run (a table form is drawn by cli/fast_list.py). The output is copied from
    its file a megabyte at a time."""
    try:
        opened = opened_output(form, time.time())
    except Exception:  # a damaged store, a config error…: the CLI reports it properly
        return None
    if opened is None:
        return None
    from llm_session_manager.fileio import copy_stream

    with opened.stream as fh:
        try:
            copy_stream(fh, sys.stdout.buffer)
            sys.stdout.flush()
        except BrokenPipeError:
            pass
    return 0


# ---------------------------------------------------------------------------------------------------
# The normal path stores what it printed


def prepare(paths: Paths, forms: tuple[str, ...]) -> Pending | None:
    """Before the scan: the stored state the listing will be keyed by (read first, so that a change
    made while the scan runs leaves a key that no longer matches rather than an output out of date;
    the scan's file signatures are taken before it reads, for the same reason)."""
    if not forms:
        return None
    from llm_session_manager.service import open_db

    try:
        conn = open_db(paths)
        try:
            return Pending(forms, stored_state(paths, conn))
        finally:
            conn.close()
    except Exception:  # never let the cache take a listing down
        return None


def valid_until(collected: Collected, now: datetime, recent_hours: float) -> float | None:
    """Until when a listing's output stays as it is, or None when it already depends on the time (a
    running or recently active session, a warning about the scan)."""
    from llm_session_manager import burn, healthboard
    from llm_session_manager.health import CAP_DECAY_HOURS

    if collected.processes or collected.discovery_error or any(s.errors for s in collected.stats.values()):
        return None
    quiet_before = now - timedelta(minutes=burn.BURN_WINDOW_MINUTES + 1)
    until = now + timedelta(seconds=MAX_AGE_SECONDS)
    spans = (
        timedelta(hours=recent_hours),
        timedelta(hours=CAP_DECAY_HOURS),
        timedelta(seconds=healthboard.KEEP_SECONDS),
    )
    for s in collected.sessions():
        if s.process is not None:
            return None
        last = s.last_activity
        if last is None:
            continue
        if last >= quiet_before:
            return None
        until = min([until, *(last + span for span in spans if last + span > now)])
    return until.timestamp()


def remember(
    paths: Paths,
    cfg: Config,
    pending: Pending | None,
    collected: Collected,
    outputs: Mapping[str, Callable[[], Iterable[bytes]]],
    now: datetime,
    recent_hours: float,
) -> dict[str, Path]:
    """After the scan: store the listing in each pending form (``outputs``: kind -> its pieces, made only
    when it is stored) under the keys taken before it, or drop stored ones that the time alone could
    make wrong. Returns the file each kind was stored in now, from which it can be printed.

    The outputs are written before the database is opened: a scan's last checkpoint runs in a thread
    as this starts (``store.checkpoints``), and the connection that closes last removes the log (tens
    of milliseconds on a large one), which a new connection waits for. Made first, the outputs take
    that time instead of waiting it out (30-50 ms of a cold listing of 1,500 sessions)."""
    if pending is None:
        return {}
    from llm_session_manager.service import open_db
    from llm_session_manager.store import list_cache

    written: dict[str, Path] = {}
    made: dict[str, list_cache.Written] = {}
    try:
        until = valid_until(collected, now, recent_hours)
        signatures = [(r.name, collected.stats[r.name].signature) for r in collected.readers]
        keys = validity_keys(pending.state, cfg, signatures)
        if until is not None:
            folder = list_cache.folder_of(paths.db_file)
            for form in pending.forms:
                made[form] = list_cache.write(folder, outputs[kind_of(form)]())
        conn = open_db(paths)
        try:
            for form in pending.forms:
                if until is None:
                    list_cache.drop(conn, form)
                    continue
                stored = list_cache.stored_keys(conn, form)
                if stored is not None and stored[0] == keys and stored[1] > now.timestamp():
                    continue  # the same inputs: the same output, already stored (``made`` goes below)
                file = made.pop(form)
                list_cache.name(conn, form, keys, until, file)
                written[kind_of(form)] = file.path
        finally:
            conn.close()
    except (sqlite3.Error, OSError):  # a read-only or busy store: the next run computes again
        pass
    finally:
        for unnamed in made.values():
            unnamed.discard()
    return written
