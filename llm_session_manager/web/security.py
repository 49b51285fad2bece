"""Who may use the dashboard, and what a browser may do with its pages.

- Host header: the bound address, ``localhost``, ``127.0.0.1`` or ``[::1]`` with the bound port; any other
  name is what a DNS-rebinding page sends (421).
- Origin header, when a browser sends one: the page's own origin only (403), so another site's script
  cannot post to us or read a streamed answer.
- Token (``--token`` / ``web.token``): required for every path but the login form and the static
  assets, as ``Authorization: Bearer <token>`` or the cookie the login form sets (HttpOnly,
  SameSite=Strict, a keyed hash of the token, never the token itself). Pages redirect to the login form,
  everything else answers 401.
- Writes are POSTs carrying the CSRF token of this server run (a hidden form field).
- Every answer carries a strict Content-Security-Policy (our own scripts and styles only, no inline
  script, no framing), ``nosniff`` and no referrer to other sites.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlsplit

from llm_session_manager.httpguard import HostRule, request_headers, same_secret, token_matches

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE = "lsm_web"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
    " object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),  # "no-referrer" would make a form post's Origin "null"
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
STATIC_PREFIX = "/static/"
LOOPBACK_NAMES = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class Access:
    """The rules of one server run: where it listens, its token (None: no token asked) and the secret
    its CSRF tokens are made from (new for every run)."""

    host: str
    port: int
    token: str | None = None
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    def host_ok(self, header: str | None) -> bool:
        return any(HostRule(name, self.port).host_ok(header) for name in (self.host, *LOOPBACK_NAMES))

    def origin_ok(self, origin: str | None, host: str | None) -> bool:
        """No Origin (not a browser, or a same-origin GET), or exactly this page's origin."""
        if origin is None:
            return True
        parts = urlsplit(origin)
        return parts.scheme == "http" and bool(host) and parts.netloc.lower() == (host or "").lower()

    def login_cookie(self) -> str:
        """What the login cookie holds: a keyed hash of the token, stable across restarts."""
        assert self.token is not None
        return hmac.new(self.token.encode(), b"lsm web login", hashlib.sha256).hexdigest()

    def authorised(self, headers: dict[str, str]) -> bool:
        if self.token is None:
            return True
        if token_matches(headers.get("authorization"), self.token):
            return True
        given = cookie_value(headers.get("cookie"), COOKIE)
        return given is not None and same_secret(given, self.login_cookie())

    def csrf_token(self) -> str:
        return hmac.new(self.secret, b"lsm web csrf", hashlib.sha256).hexdigest()

    def csrf_ok(self, given: str | None) -> bool:
        return given is not None and same_secret(given, self.csrf_token())


def is_open(path: str) -> bool:
    """Reachable without the token: the login form and the files it needs to look right (one name
    under /static/, no deeper path)."""
    if path == "/login":
        return True
    name = path[len(STATIC_PREFIX) :] if path.startswith(STATIC_PREFIX) else ""
    return bool(name) and "/" not in name and name not in (".", "..")


def cookie_value(header: str | None, name: str) -> str | None:
    if not header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # http.cookies raises CookieError, and others, on malformed headers
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


def login_cookie_header(access: Access) -> str:
    return f"{COOKIE}={access.login_cookie()}; Path=/; HttpOnly; SameSite=Strict"


class Guard:
    """ASGI middleware in front of the whole app: Host (421), Origin (403), the token (401 or a redirect
    to the login form), and the security headers on every answer."""

    def __init__(self, app: App, access: Access) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)  # lifespan
            return
        headers = request_headers(scope.get("headers") or [])
        send = _with_headers(send)
        path = str(scope.get("path") or "/")
        if not self.access.host_ok(headers.get("host")):
            await _plain(send, 421, "Misdirected Request: this Host is not served here\n")
        elif not self.access.origin_ok(headers.get("origin"), headers.get("host")):
            await _plain(send, 403, "Forbidden: requests from another origin are refused\n")
        elif is_open(path) or self.access.authorised(headers):
            await self.app(scope, receive, send)
        elif scope.get("method") == "GET" and "text/html" in headers.get("accept", ""):
            await _redirect(send, "/login")
        else:
            await _plain(send, 401, "Unauthorized: send Authorization: Bearer <token> or log in at /login\n")


def _with_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
        await send(message)

    return sending


async def _plain(send: Send, status: int, text: str) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"cache-control", b"no-store")]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="lsm"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text.encode()})


async def _redirect(send: Send, location: str) -> None:
    headers = [(b"location", location.encode()), (b"cache-control", b"no-store")]
    await send({"type": "http.response.start", "status": 303, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
