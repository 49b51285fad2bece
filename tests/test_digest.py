"""digest.blake2b is hashlib's BLAKE2b (CPython's built-in module), without loading hashlib."""

from __future__ import annotations

import hashlib
import subprocess
import sys

from llm_session_manager.digest import blake2b


def test_it_is_hashlibs_blake2b() -> None:
    for data, size in [(b"", 16), (b"lsm", 8), (bytes(range(256)) * 40, 12)]:
        ours = blake2b(data, digest_size=size)
        ours.update(b"more")
        theirs = hashlib.blake2b(data, digest_size=size)
        theirs.update(b"more")
        assert ours.hexdigest() == theirs.hexdigest()


def test_it_loads_no_hashlib() -> None:
    code = "import sys, llm_session_manager.digest; print('hashlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
