"""Who may talk to lsm's local HTTP servers (the MCP HTTP transport and the web dashboard).

Three checks, shared by both: the Host header must name the address the server is bound to (or a
loopback name) with its port, so a web page reached through a rebound DNS name is refused
(DNS-rebinding protection); an Origin header, when a browser sends one, must be a loopback origin or
the server's own; and a bearer token is compared in constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit


def ip_of(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address an IP literal names (brackets, zone and IPv4-mapped form removed); None for a name."""
    try:
        address = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8, ``::1`` in any spelling, and IPv4-mapped loopback."""
    if host.strip().lower().rstrip(".") == "localhost":
        return True
    address = ip_of(host)
    return address is not None and address.is_loopback


def url_host(host: str) -> str:
    """``host`` as it goes in a URL (IPv6 in brackets, compressed)."""
    address = ip_of(host)
    if address is None:
        return host
    return f"[{address.compressed}]" if address.version == 6 else address.compressed


@dataclass(frozen=True)
class HostRule:
    """Which Host and Origin headers a server bound to ``host``:``port`` accepts."""

    host: str
    port: int

    def host_ok(self, header: str | None) -> bool:
        if not header:
            return False
        parts = urlsplit(f"//{header}")
        try:
            port = parts.port or 80
        except ValueError:
            return False
        name = (parts.hostname or "").rstrip(".")
        if port != self.port or not name:
            return False
        if name == "localhost":
            return True
        bound, given = ip_of(self.host), ip_of(name)
        if given is None:
            return False  # a DNS name other than localhost: what a rebinding attack sends
        if bound is None:
            return self.host.lower().rstrip(".") == "localhost" and given.is_loopback
        if bound.is_unspecified:
            return True  # 0.0.0.0 / ::: any address of this machine, by number
        return given == bound

    @staticmethod
    def origin_ok(header: str | None) -> bool:
        if header is None:
            return True  # MCP clients that are not browsers send none
        parts = urlsplit(header)
        return parts.scheme in ("http", "https") and is_loopback(parts.hostname or "")


def token_matches(header: str | None, token: str) -> bool:
    """``Authorization: Bearer <token>``, compared in constant time."""
    if not header:
        return False
    scheme, _, given = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return same_secret(given.strip(), token)


def same_secret(given: str, expected: str) -> bool:
    """Two secrets compared in constant time (any text given, even non-ASCII, is simply unequal)."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8", "replace"))


def request_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """An ASGI request's headers, lower-case names; a header sent twice counts as empty (ambiguous)."""
    out: dict[str, str] = {}
    seen: set[str] = set()
    for raw_name, raw_value in raw:
        name = raw_name.decode("latin-1").lower()
        if name in seen:
            out[name] = ""
            continue
        seen.add(name)
        out[name] = raw_value.decode("latin-1")
    return out
