"""The opt-in transcript archive (``archive.enabled: true``): a gzip copy of every transcript file the
content index reads, kept in lsm's data folder, so that a session stays searchable and exportable after
its agent deletes the files (Claude Code removes transcripts after 30 days by default).

Copies live in ``<data dir>/transcripts/`` under the original path (``/home/me/.claude/projects/x/
a.jsonl`` -> ``transcripts/home/me/.claude/projects/x/a.jsonl.gz``), one row each in the store's
``transcript_copies``. An append-only JSONL file grows its copy by one gzip member per refresh (the
bytes the index has just read); any other file is copied whole when it changes. SQLite databases
(Cursor's ``state.vscdb``, which holds far more than conversations) are never copied: their sessions
stay findable from the index alone. Nothing is copied while the archive is off; ``lsm archive prune``
removes copies, and deleting the folder removes them all.
"""

from __future__ import annotations

import gzip
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePath

from llm_session_manager.models import Session
from llm_session_manager.store import content
from llm_session_manager.timefmt import iso

FOLDER = "transcripts"
_SQLITE_MAGIC = b"SQLite format 3\0"
_CHUNK = 1024 * 1024


def folder(data_dir: Path) -> Path:
    return data_dir / FOLDER


def copy_path(root: Path, original: str) -> Path:
    """Where the copy of ``original`` is kept (its path below the archive folder, plus ``.gz``)."""
    pure = PurePath(original)
    relative = pure.relative_to(pure.anchor) if pure.anchor else pure
    parts = [p for p in relative.parts if p not in ("..", ".")]
    return root.joinpath(*parts).with_name(pure.name + ".gz")


class Archiver:
    """Keeps copies up to date while the content index reads transcripts (content_index.refresh)."""

    def __init__(self, conn: sqlite3.Connection, root: Path, now: datetime) -> None:
        self.conn = conn
        self.root = root
        self.at = iso(now) or ""
        self.copies = content.load_copies(conn)
        self.errors: list[str] = []

    def keep_lines(
        self,
        session: Session,
        path: str,
        identity: tuple[int, int, int, int],
        head: bytes,
        start: int,
        end: int,
    ) -> None:
        """An append-only file indexed up to ``end`` (from ``start`` this time): its copy grows by the
        new bytes, or is made again from the file when it is not the copy of the first ``start``."""
        old = self.copies.get(path)
        if old is not None and old.copied == end and old.head == head:
            return
        target = copy_path(self.root, path)
        try:
            if (
                start
                and start < end
                and old is not None
                and old.copied == start
                and old.head == head
                and target.exists()
            ):
                _append(path, target, start, end)
            else:
                _copy_prefix(path, target, end)
        except OSError as exc:
            self.errors.append(f"{target}: {exc.strerror or exc}")
            return
        self._saved(session, path, identity, head, end, target)

    def keep_whole(self, session: Session) -> None:
        """Every file of a session read whole: copied again when its identity changed."""
        from llm_session_manager.content_index import _head

        for path in session.transcript_paths:
            try:
                st = os.stat(path)
                with open(path, "rb") as fh:
                    first = fh.read(256)
            except OSError:
                continue
            identity = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
            old = self.copies.get(path)
            if first.startswith(_SQLITE_MAGIC) or (old is not None and old.identity == identity):
                continue
            target = copy_path(self.root, path)
            try:
                _copy_prefix(path, target, st.st_size)
            except OSError as exc:
                self.errors.append(f"{target}: {exc.strerror or exc}")
                continue
            self._saved(session, path, identity, _head(first), st.st_size, target)

    def _saved(
        self,
        session: Session,
        path: str,
        identity: tuple[int, int, int, int],
        head: bytes,
        copied: int,
        target: Path,
    ) -> None:
        copy = content.Copy(
            path,
            session.agent,
            session.id,
            identity,
            head,
            copied,
            target.stat().st_size,
            iso(session.last_activity),
        )
        content.save_copy(self.conn, copy, self.at)
        self.copies[path] = copy


def _append(path: str, target: Path, start: int, end: int) -> None:
    """Bytes ``start``..``end`` of ``path`` added to its copy as one more gzip member."""
    from llm_session_manager.fileio import open_regular

    with open_regular(path) as src:
        src.seek(start)
        data = src.read(end - start)
    with gzip.open(target, "ab", compresslevel=6) as out:
        out.write(data)


def _copy_prefix(path: str, target: Path, size: int) -> None:
    """``target`` = gzip of the first ``size`` bytes of ``path``, written under another name first so
    that a copy is never half-written."""
    from llm_session_manager.fileio import open_regular

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
    try:
        with (
            open_regular(path) as src,
            os.fdopen(fd, "wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb") as out,
        ):
            left = size
            while left > 0:
                chunk = src.read(min(_CHUNK, left))
                if not chunk:
                    break
                out.write(chunk)
                left -= len(chunk)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def readable(conn: sqlite3.Connection, root: Path, paths: Sequence[str]) -> Iterator[list[str] | None]:
    """The transcript paths to read for a session whose files may be gone: each missing file's copy,
    unpacked into a temporary folder under its original path (readers look at path parts), or None
    when no copy was needed or none exists."""
    missing = [p for p in paths if not os.path.lexists(p)]
    copies = {c.path: c for c in content.copies_of(conn, missing)}
    if not copies:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="lsm-restore-") as tmp:
        out: list[str] = []
        for path in paths:
            if path not in copies:
                if path not in missing:
                    out.append(path)
                continue
            restored = copy_path(Path(tmp), path).with_suffix("")
            restored.parent.mkdir(parents=True, exist_ok=True)
            with gzip.open(copy_path(root, path), "rb") as src, open(restored, "wb") as dst:
                shutil.copyfileobj(src, dst)
            out.append(str(restored))
        yield out


@dataclass(frozen=True)
class PruneResult:
    copies: int
    bytes: int
    sessions: int
    messages: int


def prune(
    conn: sqlite3.Connection, root: Path, before: datetime, live: set[str], *, dry_run: bool = False
) -> PruneResult:
    """Forget what the archive and the index keep of sessions last active before ``before``: their
    copies, and — for sessions whose files are gone (not in ``live``) — their indexed messages."""
    cutoff = iso(before) or ""
    old = [c for c in content.load_copies(conn).values() if (c.last_activity or "") < cutoff]
    times = content.last_message_times(conn)
    gone = sorted(sid for sid, at in times.items() if sid not in live and (at or "") < cutoff)
    messages = sum(content.message_count(conn, sid) for sid in gone)
    if not dry_run:
        for c in old:
            copy_path(root, c.path).unlink(missing_ok=True)
        conn.execute("BEGIN IMMEDIATE")
        try:
            content.forget_copies(conn, [c.path for c in old])
            content.forget_sessions(conn, gone)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return PruneResult(len(old), sum(c.stored for c in old), len(gone), messages)


def status(conn: sqlite3.Connection, root: Path, enabled: bool) -> dict[str, object]:
    """`lsm archive status`: what the archive and the content index hold."""
    copies = list(content.load_copies(conn).values())
    stamps = sorted(c.last_activity for c in copies if c.last_activity)
    return {
        "enabled": enabled,
        "folder": str(root),
        "files": len(copies),
        "sessions": len({c.session_id for c in copies}),
        "stored_bytes": sum(c.stored for c in copies),
        "original_bytes": sum(c.copied for c in copies),
        "oldest_activity": stamps[0] if stamps else None,
        "newest_activity": stamps[-1] if stamps else None,
        "index": content.sizes(conn),
    }
