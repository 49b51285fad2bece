"""A listing's signature (sources.entries_signature) keys every cache of a scan: the compiled module's
text of it (``signature_text``) must be byte for byte what the Python loop hashes, or a cache written by
one would never be found by the other. Held to it on random entries of every shape it takes, and on
those it leaves to Python."""

from __future__ import annotations

import random
from collections.abc import Sequence
from hashlib import blake2b
from typing import Any

import pytest

from llm_session_manager import sources
from llm_session_manager.agents import _claude_fold
from llm_session_manager.safetext import redactor_digest

Entry = tuple[str, str, tuple[int, int, int, int]]


def python_signature(entries: Sequence[Any]) -> str:
    digest = blake2b(digest_size=16)
    digest.update(redactor_digest().encode())
    for path, key, ident in sorted(entries):
        digest.update(f"{path}\0{key}\0{ident}\n".encode())
    return digest.hexdigest()


PIECES = ["a", "b", "/", "-", "z", "\0", "é", "\uffff", "\U00010000", "日本", "0", " "]


def text(rng: random.Random) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 8)))


def entries(rng: random.Random, n: int) -> list[Entry]:
    out: list[Entry] = []
    for _ in range(n):
        path = rng.choice(["/p/", "/p/s", "/q"]) + text(rng)
        ident = tuple(
            rng.choice([0, 1, -1, 2**63 - 1, -(2**63), rng.randint(-(10**12), 10**18)]) for _ in range(4)
        )
        out.append((path, text(rng), ident))  # type: ignore[arg-type]
        if rng.random() < 0.2:  # the same path again, told apart by its key or identity
            out.append((path, text(rng), out[-1][2] if rng.random() < 0.5 else (1, 2, 3, rng.randint(0, 9))))
    return out


@pytest.mark.parametrize("seed", range(20))
def test_the_compiled_text_hashes_as_the_python_loop(seed: int) -> None:
    rng = random.Random(seed)
    listing = entries(rng, rng.choice([0, 1, 5, 300, 2000]))
    text_of = _claude_fold.signature_text(listing)
    assert text_of is not None
    assert text_of == b"".join(f"{p}\0{k}\0{i}\n".encode() for p, k, i in sorted(listing))
    assert sources.entries_signature(listing) == python_signature(listing)
    assert sources.entries_signature(tuple(listing)) == python_signature(listing)


@pytest.mark.parametrize(
    "odd",
    [
        ("/p", "k", (1, 2, 3, 2**63)),  # beyond 64 bits
        ("/p", "k", (1, 2, 3, True)),  # a bool writes "True"
        ("/p", "k", (1, 2, 3, 4.0)),
        ("/p", "k", (1, 2, 3)),
        ("/p", "k", [1, 2, 3, 4]),
        ("/p", None, (1, 2, 3, 4)),
    ],
)
def test_other_shapes_are_left_to_python(odd: Any) -> None:
    listing = [*entries(random.Random(1), 300), odd]
    assert _claude_fold.signature_text(listing) is None
    assert sources.entries_signature(listing) == python_signature(listing)


def test_a_name_python_cannot_encode_fails_as_it_did() -> None:
    listing = [*entries(random.Random(2), 300), ("/p/s\udcff", "k", (1, 2, 3, 4))]
    assert _claude_fold.signature_text(listing) is None
    with pytest.raises(UnicodeEncodeError):
        sources.entries_signature(listing)
