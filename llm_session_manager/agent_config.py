"""Adding lsm's entries to an agent's own JSON config file, and taking them out again.

Used for the hooks (``hook_install.py``) and Claude Code's ``statusLine``. A ``JsonEdit`` says how to add
our part to the parsed document and how to remove it; this module does the rest, the same way for
every file:

- a file that is not valid JSON (or holds comments) is never touched: one ``ConfigError`` line;
- idempotent: when the document already holds our part, nothing is written;
- backup first: the current bytes go to ``<file>.lsm-backup-<UTC time>`` beside it;
- atomic: a temporary file in the same folder, flushed, given the original's mode, then ``os.replace``;
- every user setting and entry is kept, in its order, with the file's indentation;
- uninstall restores the pre-install bytes exactly when the file is as we left it (a record in lsm's
  data folder holds the backup's name and the hash of what we wrote); when it changed since, only our
  entries are removed and the rest is written back in the file's style.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from llm_session_manager.errors import ConfigError
from llm_session_manager.fileio import UnreadableFile, read_regular

MAX_CONFIG_BYTES = 8 << 20
BACKUP_INFIX = ".lsm-backup-"

Document = dict[str, Any]


@dataclass(frozen=True)
class JsonEdit:
    """Our part of a JSON config. ``add`` and ``remove`` get a copy they may change and return the
    document with and without our entries; ``add`` on a document that has them returns it unchanged."""

    name: str  # names the install record: "hooks-claude-code", "statusline"…
    add: Callable[[Document], Document]
    remove: Callable[[Document], Document]


@dataclass(frozen=True)
class Outcome:
    path: Path
    changed: bool
    message: str
    backup: Path | None = None
    exact: bool = True  # uninstall: the file is byte for byte what it was before install


def _sha(data: bytes | None) -> str | None:
    return hashlib.sha256(data).hexdigest() if data is not None else None


def read_document(path: Path) -> tuple[bytes | None, Document]:
    """The file's bytes and parsed object (``{}`` when it does not exist); ``ConfigError`` otherwise."""
    try:
        raw = read_regular(path, MAX_CONFIG_BYTES)
    except (UnreadableFile, OSError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}; left untouched") from None
    if raw is None:
        return None, {}
    if not raw.strip():
        return raw, {}
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; left untouched") from None
    except json.JSONDecodeError as exc:
        hint = " (comments are not supported here)" if re.search(rb"^\s*//|/\*", raw, re.M) else ""
        raise ConfigError(
            f"{path}: not valid JSON at line {exc.lineno} column {exc.colno}{hint}; left untouched"
        ) from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: the top level is not a JSON object; left untouched")
    return raw, doc


def dump_like(doc: Document, original: bytes | None) -> bytes:
    """``doc`` as JSON in the style of ``original``: its indentation, raw or escaped non-ASCII, and
    its final newline (two-space indent and a newline for a new file)."""
    indent: int | str = 2
    newline = True
    ascii_only = False
    if original:
        text = original.decode("utf-8-sig", "replace")
        match = re.search(r'^([ \t]+)"', text, re.M)
        if match:
            unit = match.group(1)
            indent = unit if "\t" in unit else len(unit)
        newline = text.endswith("\n")
        ascii_only = "\\u" in text and not any(ord(ch) > 127 for ch in text)
    out = json.dumps(doc, indent=indent, ensure_ascii=ascii_only)
    return (out + ("\n" if newline else "")).encode("utf-8")


def _stamp(now: datetime) -> str:
    return now.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")


def backup(path: Path, data: bytes, now: datetime) -> Path:
    """The current bytes beside the file, under a name that sorts by time; same mode as the file."""
    target = path.with_name(f"{path.name}{BACKUP_INFIX}{_stamp(now)}")
    n = 1
    while target.exists():  # never overwrite an earlier backup (two writes in the same microsecond)
        n += 1
        target = path.with_name(f"{path.name}{BACKUP_INFIX}{_stamp(now)}-{n}")
    write_atomic(target, data, mode=_mode(path))
    return target


def _mode(path: Path) -> int | None:
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return None


def write_atomic(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write through a temporary file in the same folder and rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    keep = _mode(path) if mode is None else mode
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, keep if keep is not None else 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _record_path(record_dir: Path, edit: JsonEdit, path: Path) -> Path:
    digest = hashlib.sha1(str(path.absolute()).encode(), usedforsecurity=False).hexdigest()[:12]
    return record_dir / f"{edit.name}-{digest}.json"


def _load_record(file: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def installed(path: Path, edit: JsonEdit) -> bool:
    """Whether the file holds our part (a file that cannot be read does not)."""
    try:
        _raw, doc = read_document(path)
    except ConfigError:
        return False
    return bool(doc) and edit.add(copy.deepcopy(doc)) == doc


def install(path: Path, edit: JsonEdit, record_dir: Path, now: datetime) -> Outcome:
    raw, doc = read_document(path)
    try:
        new = edit.add(copy.deepcopy(doc))
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}; left untouched") from None
    if raw is not None and new == doc:
        return Outcome(path, False, "already installed")
    data = dump_like(new, raw)
    saved = backup(path, raw, now) if raw is not None else None
    record_file = _record_path(record_dir, edit, path)
    record = _load_record(record_file)
    if record is None or record.get("after_sha256") != _sha(raw):
        # A fresh install: what is there now is what uninstall gives back. (A re-install over our own
        # earlier write keeps the first record, so that uninstall still restores the original.)
        record = {"path": str(path), "backup": str(saved) if saved else None, "created": raw is None}
    write_atomic(path, data)
    record["after_sha256"] = _sha(data)
    write_atomic(record_file, json.dumps(record, indent=2).encode(), mode=0o600)
    return Outcome(path, True, "installed", saved)


def uninstall(path: Path, edit: JsonEdit, record_dir: Path, now: datetime) -> Outcome:
    raw, doc = read_document(path)
    record_file = _record_path(record_dir, edit, path)
    record = _load_record(record_file)
    stripped = edit.remove(copy.deepcopy(doc))
    if raw is None or stripped == doc:
        record_file.unlink(missing_ok=True)
        return Outcome(path, False, "not installed")
    if record is not None and record.get("after_sha256") == _sha(raw):
        outcome = _restore(path, raw, stripped, record, now, edit)
        if outcome is not None:
            record_file.unlink(missing_ok=True)
            return outcome
    saved = backup(path, raw, now)
    write_atomic(path, dump_like(stripped, raw))
    record_file.unlink(missing_ok=True)
    return Outcome(
        path,
        True,
        "removed lsm's entries; the file changed since install, so the rest is re-written",
        saved,
        False,
    )


def _restore(
    path: Path, raw: bytes, stripped: Document, record: dict[str, Any], now: datetime, edit: JsonEdit
) -> Outcome | None:
    """Put back the bytes from before install, if they are what removing our part gives."""
    if record.get("created"):
        if stripped:
            return None
        saved = backup(path, raw, now)
        path.unlink()
        return Outcome(path, True, "removed (lsm had created it)", saved)
    name = record.get("backup")
    if not isinstance(name, str):
        return None
    try:
        before, before_doc = read_document(Path(name))
    except ConfigError:
        return None
    # The same document once our part is taken out of both (removing it may also drop an event list
    # the user had left empty, in both alike).
    if before is None or edit.remove(copy.deepcopy(before_doc)) != stripped:
        return None
    write_atomic(path, before)
    return Outcome(path, True, "restored the file as it was before install", Path(name))
