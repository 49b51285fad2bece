"""Text from transcripts, imports and users is data: these functions make it safe to show.

Anyone can write a prompt, a file name or an imported document, so such text may hold Rich markup
(``[/INST]``), terminal escape sequences (``ESC ]52;c;…`` writes the clipboard, ``ESC [2J`` clears the
screen) or a pasted credential. Three rules, applied where text leaves lsm:

- ``without_secrets``: the export redactor (``redact.redact_text``) over titles, descriptions and project
  names, so that every front end (tables, JSON, the monitor, MCP) shows ``[REDACTED:kind]``;
- ``for_terminal``: nothing a terminal would act on reaches it. C0 controls become their Unicode control
  pictures (ESC -> ␛, BEL -> ␇, CR -> ␍, DEL -> ␡), so an escape sequence is shown, not run (``␛[31m``);
  C1 controls (U+0080..U+009F, e.g. the one-character CSI U+009B) and the bidirectional overrides that
  reorder what is shown (U+202E…) appear as ``\\x9b`` and ``\\u202e``; a lone surrogate becomes U+FFFD;
- Rich markup is the front end's part: untrusted text goes into a ``rich.text.Text`` (``cli.render.cell``)
  or through ``rich.markup.escape``, never into a markup string.

JSON output keeps the exact string, secrets aside: JSON escapes C0 controls itself, and
``json_for_terminal`` writes C1, bidi and line-separator characters as ``\\u`` escapes (the same string for
a parser, nothing for a terminal to act on when the JSON is printed on one).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import overload

from llm_session_manager.digest import blake2b  # not hashlib: `lsm statusline` imports this module

ELLIPSIS = "…"
# A title is made from its text's first ``limit + SECRET_SPAN`` characters: longer than any one
# credential (a 4096-bit PEM private key is 3.2 kB), so a secret that starts before the cut is seen whole.
SECRET_SPAN = 4096

# Bidirectional formatting characters: they reorder the text around them on screen (Trojan Source).
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def _visible_map(multiline: bool) -> dict[int, str]:
    table: dict[int, str] = {code: chr(0x2400 + code) for code in range(0x20)}  # ␀ … ␟
    table[0x7F] = "\u2421"  # ␡
    for code in range(0x80, 0xA0):
        table[code] = f"\\x{code:02x}"
    for char in _BIDI:
        table[ord(char)] = f"\\u{ord(char):04x}"
    for code in range(0xD800, 0xE000):
        table[code] = "\ufffd"
    if multiline:
        for char in "\n\t":
            del table[ord(char)]
        table[0x2028] = table[0x2029] = "\n"
    else:
        for char in "\n\t":
            table[ord(char)] = " "
        table[0x2028] = table[0x2029] = " "
    return table


_ONE_LINE = _visible_map(multiline=False)
_MULTILINE = _visible_map(multiline=True)
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f" + _BIDI + "\u2028\u2029\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")  # a lone one cannot be written as UTF-8 (JSON output)
_UNSAFE_MULTILINE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f" + _BIDI + "\u2028\u2029\ud800-\udfff]")


def for_terminal(text: str, *, multiline: bool = False) -> str:
    """``text`` with every control character made visible (see the module docstring).

    One line by default: newlines and tabs become spaces (a table cell, a title). ``multiline`` keeps
    them (a Markdown document, a paragraph); a CR is always shown (``␍``), as it could overwrite a line,
    except in a CRLF line end, which becomes a plain newline.
    """
    if multiline:
        if _UNSAFE_MULTILINE.search(text) is None:
            return text
        return text.replace("\r\n", "\n").translate(_MULTILINE)
    if _UNSAFE.search(text) is None:
        return text
    return text.replace("\r\n", "\n").translate(_ONE_LINE)


# In UTF-8 JSON: C1 controls, bidi controls and the JS line separators, which orjson leaves raw.
_JSON_RAW = re.compile(rb"\xc2[\x80-\x9f]|\xd8\x9c|\xe2\x80[\x8e\x8f\xa8-\xae]|\xe2\x81[\xa6-\xa9]")


def _json_escape(match: re.Match[bytes]) -> bytes:
    return b"\\u%04x" % ord(match.group().decode())


def json_for_terminal(data: bytes) -> bytes:
    """UTF-8 JSON with the control characters JSON may leave raw (C1, bidi, U+2028/9) written as
    ``\\u009b`` escapes: the same document for a parser, nothing a terminal acts on. They can only
    occur inside strings, where the escape means the very same character."""
    if not any(_JSON_RAW.match(data, pos) for pos in _positions(data, (b"\xc2", b"\xd8", b"\xe2"))):
        return data  # the usual case, found without running the regex over megabytes
    return _JSON_RAW.sub(_json_escape, data)


def _positions(data: bytes, leads: tuple[bytes, ...]) -> Iterator[int]:
    """Where each lead byte occurs (``bytes.find`` skips the rest at C speed)."""
    for lead in leads:
        pos = data.find(lead)
        while pos != -1:
            yield pos
            pos = data.find(lead, pos + 1)


def has_unsafe(text: str) -> bool:
    """Whether ``text`` holds a character a terminal would act on (other than newline and tab)."""
    return _UNSAFE_MULTILINE.search(text) is not None


def storable(text: str) -> str:
    """Text that can be encoded as UTF-8 (stored, hashed): an argument's bytes that are not UTF-8, which
    Python keeps as lone surrogates, become U+FFFD."""
    if _SURROGATE.search(text) is None:
        return text
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)


def load_redactor() -> None:
    """Import the redactor now (its patterns compile as it is imported): a process about to fork workers
    that redact lets them share it instead of each compiling its own."""
    import llm_session_manager.redact  # noqa: F401


@lru_cache(maxsize=65536)
def _redacted(text: str) -> str:
    from llm_session_manager.redact import redact_text  # its many patterns compile on first use

    return redact_text(text)[0]


@overload
def without_secrets(text: str) -> str: ...
@overload
def without_secrets(text: None) -> None: ...
def without_secrets(text: str | None) -> str | None:
    """``text`` with secrets replaced by ``[REDACTED:kind]`` (cached: titles repeat across calls)."""
    if not text or not isinstance(text, str):  # an imported document may hold anything
        return text
    return _redacted(text)


@lru_cache(maxsize=1)
def redactor_digest() -> str:
    """A fingerprint of the redactor's code: results cached with it (the parse cache's merged sessions)
    are made again when its rules change."""
    from importlib.util import find_spec

    spec = find_spec("llm_session_manager.redact")  # found, not imported: a cached listing needs no rule
    try:
        with open(str(spec.origin if spec else ""), "rb") as fh:
            source = fh.read()
    except OSError:  # no source file (a frozen build): the release stands for its rules
        from llm_session_manager import __version__

        source = __version__.encode()
    return blake2b(source, digest_size=8).hexdigest()


def title_line(text: str, limit: int) -> str:
    """A title made from a prompt or a name: one line, secrets redacted, at most ``limit`` characters
    (cut with "…"). Redaction comes before the cut, so a key crossing it is not left half-shown."""
    line = " ".join(text[: limit + SECRET_SPAN].split())
    line = _SURROGATE.sub("\ufffd", _redacted(line)) if line else line
    return line if len(line) <= limit else line[: limit - 1] + ELLIPSIS
