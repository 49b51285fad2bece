"""A reader's files as a scan starts from them: each with its identity (one stat pass), and the signature
they make together, which keys the merged cache and `lsm list`'s stored listing.

Light on purpose (no decoding, no orjson): `lsm list`'s fast path imports it to tell whether anything
changed since its listing was stored, and when something did, the files it listed are handed to the
scan that follows in the same command instead of being stat'ed a second time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from llm_session_manager.digest import blake2b
from llm_session_manager.safetext import redactor_digest

if TYPE_CHECKING:
    from llm_session_manager.agents.base import AgentReader, Identity

Entry = tuple[str, str, "Identity"]  # path, session key, identity
Listed = tuple[list[Entry], str]  # a reader's files, and their signature

# Listings the fast path made before it found its stored listing out of date, for this command's scan
# (~0.1 s of stat calls at 6,000 sessions). Kept only while the entry point runs one `lsm list`
# (``handing``); keyed by the reader's type and data (the same agent, the same roots); each taken once.
_handed: dict[tuple[str, str], Listed] = {}
_handing = False


class _Handing:
    def __enter__(self) -> None:
        global _handing
        _handing = True

    def __exit__(self, *exc: object) -> None:
        global _handing
        _handing = False
        _handed.clear()


def handing() -> _Handing:
    """A context for one command of the entry point's: listings are handed from its fast path to its
    scan, and forgotten when the command ends, whether or not a scan took them."""
    return _Handing()


def entries_signature(entries: Sequence[Entry]) -> str:
    digest = blake2b(digest_size=16)
    digest.update(redactor_digest().encode())  # cached titles are redacted: new rules, new merge
    text = _compiled_text(entries) if len(entries) >= COMPILED_FROM else None
    if text is not None:
        digest.update(text)
        return digest.hexdigest()
    for path, key, ident in sorted(entries):
        digest.update(f"{path}\0{key}\0{ident}\n".encode())
    return digest.hexdigest()


# Entries from which the compiled module writes what the signature hashes (the same bytes: at 14,000
# files the signature took 19 ms, now 10, most of it hashing); a short listing does not import it.
COMPILED_FROM = 256


def _compiled_text(entries: Sequence[Entry]) -> bytes | None:
    try:
        from llm_session_manager.agents import _claude_fold
    except ImportError:  # built without a C compiler
        return None
    text_of = getattr(_claude_fold, "signature_text", None)
    return None if text_of is None else text_of(entries if isinstance(entries, list) else list(entries))


def _reader_key(reader: AgentReader) -> tuple[str, str] | None:
    data = getattr(reader, "__dict__", None)
    return None if data is None else (f"{type(reader).__module__}.{type(reader).__qualname__}", repr(data))


def source_signature(reader: AgentReader) -> str:
    """The signature a scan of ``reader`` computes from its files' identities. Within ``handing`` the
    listing is kept for this command's scan of the same reader (see ``listed``)."""
    current = list(reader.sources())
    signature = entries_signature(current)
    key = _reader_key(reader) if _handing else None
    if key is not None:
        _handed[key] = (current, signature)
    return signature


def listed(reader: AgentReader, watch: Callable[[Entry], object] | None = None) -> Listed:
    """The reader's files as the fast path listed them moments ago in this command, else listed now
    (``watch`` sees each file as it is listed: not those of a listing handed over)."""
    key = _reader_key(reader) if _handed else None
    handed = _handed.pop(key, None) if key is not None else None
    if handed is not None:
        return handed
    if watch is None:
        current = list(reader.sources())
    else:
        current = []
        for entry in reader.sources():
            current.append(entry)
            watch(entry)
    return current, entries_signature(current)
