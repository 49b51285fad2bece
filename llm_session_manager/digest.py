"""BLAKE2b, the one hash of lsm's fast paths, without importing ``hashlib``: hashlib loads OpenSSL's
bindings (~2.5 ms, every `lsm list`) for algorithms these paths never use. CPython builds BLAKE2b in;
another interpreter gets it from hashlib."""

from __future__ import annotations

try:
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - an interpreter without CPython's built-in module
    from hashlib import blake2b

__all__ = ["blake2b"]
