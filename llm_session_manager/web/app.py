"""The dashboard's Starlette application and the server that runs it.

Every handler parses its request, calls a use case of ``llm_session_manager.api`` in a worker thread (the
scan and the store are blocking; ``Context.lock`` keeps them from interleaving) and renders what it
returns: ``/api/...`` as the JSON `lsm … --format json` prints, pages through ``pages``. Sessions are
named by id or unique prefix and resolved through the api; no route reads a file it is given.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import sys
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from llm_session_manager.api.context import Context, UnavailableError
from llm_session_manager.errors import AmbiguousIdError, LsmError, NotFoundError, UsageError
from llm_session_manager.web import pages
from llm_session_manager.web.live import LiveRows
from llm_session_manager.web.security import Access, Guard, login_cookie_header

MAX_FORM_BYTES = 64 * 1024
# The only files served: our own assets, by name (never a path from the request).
STATIC = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
REPORT_KINDS = ("daily", "weekly", "monthly", "blocks", "session")
NO_STORE = {"cache-control": "no-store"}


class JSON(JSONResponse):
    """The JSON of `--format json` (orjson: dates as the documents already hold them, UTF-8)."""

    def render(self, content: Any) -> bytes:
        return bytes(orjson.dumps(content, option=orjson.OPT_INDENT_2))


def _html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status_code=status, headers=NO_STORE)


class Dashboard:
    """The handlers, over one ``Context`` and one ``Access``."""

    def __init__(
        self, ctx: Context, access: Access, interval: float, first_paint: float, team: bool = False
    ) -> None:
        self.ctx = ctx
        self.access = access
        self.team = team  # everyone's sessions from the team store (`lsm serve --team`)
        self.live = LiveRows(self.rows, interval)
        self.first_paint = first_paint  # how long the sessions page waits for the first scan
        if ctx.progress is None:
            ctx.progress = self.live.progress  # the first scan's progress, shown on the page

    # -- data ------------------------------------------------------------------------------------

    def rows(self) -> list[pages.Row]:
        from llm_session_manager.api.sessions import ListQuery, list_sessions, meta_document

        if self.team:
            return pages.team_rows(self._team_documents())

        views = list_sessions(self.ctx, ListQuery(all_sessions=True)).views
        return pages.session_rows(views, {v.session.id: meta_document(v)["project"] for v in views})

    def _team_documents(self) -> list[dict[str, Any]]:
        from llm_session_manager.api.team import TeamQuery, team_sessions

        return team_sessions(self.ctx, TeamQuery(all_sessions=True))

    def _local_only(self, what: str) -> None:
        """The team view lists and reports; a session's page, its edits and this machine's limits and
        memory belong to the computer that ran it."""
        if self.team:
            raise NotFoundError(f"{what} is not part of the team view (run lsm serve on that computer)")

    def now(self) -> datetime:
        return self.ctx.now()

    # -- pages -----------------------------------------------------------------------------------

    async def sessions(self, request: Request) -> Response:
        rows = await self.live.first_rows(self.first_paint)
        return _html(pages.sessions_page(rows, self.now(), team=self.team))

    async def session(self, request: Request) -> Response:
        from llm_session_manager.api.web_views import session_page

        self._local_only("a session's page")
        sp = await run_in_threadpool(session_page, self.ctx, request.path_params["sid"])
        series = pages.Series(sp.context, sp.tokens, sp.models)
        csrf = self.access.csrf_token()
        return _html(pages.session_page(sp.document, sp.health, sp.advice, csrf, series, self.now()))

    async def reports(self, request: Request) -> Response:
        from llm_session_manager.reports import Request as ReportRequest

        q = request.query_params
        kind = q.get("kind", "daily") if q.get("kind") in pages.REPORT_KINDS else "daily"
        by = q.get("by", "agent") if q.get("by") in pages.REPORT_BY else "agent"
        last = _int(q.get("last"), 30, 1, 400)
        doc = await self._report(ReportRequest(kind, (by,), last=last))
        return _html(pages.reports_page(doc, kind, by, last))

    async def memory(self, request: Request) -> Response:
        self._local_only("memory")
        query = request.query_params.get("q", "").strip()
        project = request.query_params.get("project", "").strip()
        hits = await self._memory(query, project, 20) if query else None
        return _html(pages.memory_page(query, project, hits))

    async def api_memory(self, request: Request) -> Response:
        q = request.query_params
        return JSON(
            await self._memory(q.get("q", ""), q.get("project", ""), _int(q.get("limit"), 10, 1, 1000))
        )

    async def _memory(self, text: str, project: str, limit: int) -> list[dict[str, Any]]:
        from llm_session_manager.api.memory import MemoryQuery, search

        query = MemoryQuery(project=project or None)
        hits = await run_in_threadpool(search, self.ctx, text, query, limit)
        return [h.as_json() for h in hits]

    async def limits(self, request: Request) -> Response:
        self._local_only("the limits page (lsm limits --team lists everyone's)")
        lim, bud = await run_in_threadpool(self._limits)
        return _html(pages.limits_page(lim, bud, self.now()))

    # -- writes ----------------------------------------------------------------------------------

    async def tags(self, request: Request) -> Response:
        from llm_session_manager.api.sessions import tag, untag

        self._local_only("tagging")
        form = await self._form(request)
        sid = request.path_params["sid"]
        add = [w for w in form.get("add", "").replace(",", " ").split() if w]
        remove = [form["remove"]] if form.get("remove") else []
        if add:
            await run_in_threadpool(tag, self.ctx, sid, add)
        if remove:
            await run_in_threadpool(untag, self.ctx, sid, remove)
        return _back(request)

    async def describe(self, request: Request) -> Response:
        from llm_session_manager.api.sessions import describe

        self._local_only("describing")
        form = await self._form(request)
        await run_in_threadpool(describe, self.ctx, request.path_params["sid"], form.get("description", ""))
        return _back(request)

    async def export(self, request: Request) -> Response:
        from llm_session_manager.api.exports import export_text

        self._local_only("export")
        fmt = request.path_params["fmt"]
        if fmt not in ("json", "yaml", "markdown"):
            raise NotFoundError(f"no export format '{fmt}' (json, yaml or markdown)")
        view = await run_in_threadpool(self.ctx.one, request.path_params["sid"])
        text = await run_in_threadpool(lambda: export_text(self.ctx, view, fmt, transcript=False, full=False))
        ext = {"json": "json", "yaml": "yaml", "markdown": "md"}[fmt]
        name = "".join(c if c.isalnum() or c in "-_." else "_" for c in view.session.native_id)[:80]
        media = {"json": "application/json", "yaml": "application/yaml", "markdown": "text/markdown"}[fmt]
        headers = {**NO_STORE, "content-disposition": f'attachment; filename="lsm-{name}.{ext}"'}
        return Response(text, media_type=f"{media}; charset=utf-8", headers=headers)

    async def login(self, request: Request) -> Response:
        csrf = self.access.csrf_token()
        if request.method == "GET":
            return _html(pages.login_page(csrf))
        form = await self._form(request)
        if self.access.token is None:
            return Response(status_code=303, headers={"location": "/"})
        from llm_session_manager.httpguard import same_secret

        if not same_secret(form.get("token", ""), self.access.token):
            return _html(pages.login_page(csrf, failed=True), 401)
        headers = {"location": "/", "set-cookie": login_cookie_header(self.access), **NO_STORE}
        return Response(status_code=303, headers=headers)

    # -- /api --------------------------------------------------------------------------------------

    async def api_sessions(self, request: Request) -> Response:
        from llm_session_manager.api.sessions import ListQuery, list_sessions

        if self.team:  # `lsm list --team --all --format json`
            return JSON(await run_in_threadpool(self._team_documents))
        listing = await run_in_threadpool(list_sessions, self.ctx, ListQuery(all_sessions=True))
        return JSON(listing.documents())

    async def api_session(self, request: Request) -> Response:
        from llm_session_manager.api.sessions import session_document

        self._local_only("a session's document")
        view = await run_in_threadpool(self.ctx.one, request.path_params["sid"])
        return JSON(session_document(view))

    async def api_health(self, request: Request) -> Response:
        from llm_session_manager.api.sessions import health_document

        self._local_only("a session's health")
        view = await run_in_threadpool(self.ctx.one, request.path_params["sid"])
        return JSON(health_document(view))

    async def api_recommend(self, request: Request) -> Response:
        from llm_session_manager.api.advice import recommendations
        from llm_session_manager.reports import check_agent

        self._local_only("recommend")
        q = request.query_params
        agent = check_agent(q.get("agent"))  # an unknown agent is a 400, as `--agent` is exit 2
        advice = await run_in_threadpool(recommendations, self.ctx, agent, q.get("project"))
        return JSON(advice.documents())

    async def api_report(self, request: Request) -> Response:
        from llm_session_manager.reports import Request as ReportRequest

        kind = request.path_params["kind"]
        if kind not in REPORT_KINDS:
            raise NotFoundError(f"no report '{kind}' ({', '.join(REPORT_KINDS)})")
        q = request.query_params
        req = ReportRequest(
            kind,
            tuple(q.getlist("by")),
            q.get("since"),
            q.get("until"),
            q.get("agent"),
            q.get("project"),
            q.get("timezone"),
            q.get("start_of_week", "monday"),
            _int(q.get("last"), None, 0, 100_000),
        )
        return JSON(await self._report(req))

    async def api_limits(self, request: Request) -> Response:
        if self.team:  # `lsm limits --team --format json`
            from llm_session_manager.api.team import team_limits

            return JSON(await run_in_threadpool(team_limits, self.ctx, None))
        lim, _ = await run_in_threadpool(self._limits, False)
        return JSON(lim)

    async def api_budget(self, request: Request) -> Response:
        from llm_session_manager.api.advice import budget

        self._local_only("the budget")
        answer = await run_in_threadpool(budget, self.ctx, None)
        return JSON(answer.document())

    async def events(self, request: Request) -> Response:
        headers = {**NO_STORE, "x-accel-buffering": "no"}
        return StreamingResponse(
            self.live.stream(request.is_disconnected), media_type="text/event-stream", headers=headers
        )

    async def metrics(self, request: Request) -> Response:
        try:
            module = importlib.import_module("llm_session_manager.metrics")
        except ModuleNotFoundError as exc:
            if exc.name != "llm_session_manager.metrics":
                raise
            return PlainTextResponse("no metrics in this version of lsm\n", status_code=404)
        args = {"team": True} if self.team else {}  # everyone's series, from the team store
        body, content_type = await run_in_threadpool(lambda: module.exposition(self.ctx, **args))
        return Response(body, headers={"content-type": content_type, **NO_STORE})

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return PlainTextResponse("not found\n", status_code=404)
        data = files("llm_session_manager.web").joinpath("static").joinpath(name).read_bytes()
        return Response(data, headers={"content-type": STATIC[name], "cache-control": "no-cache"})

    # -- helpers -----------------------------------------------------------------------------------

    async def _report(self, req: Any) -> dict[str, Any]:
        from llm_session_manager.api.advice import usage_report

        if self.team:  # `lsm report … --team`: everyone's replies, hour by hour
            from llm_session_manager.api.team import team_report

            team_doc: dict[str, Any] = await run_in_threadpool(team_report, self.ctx, req)
            return team_doc
        doc, _errors = await run_in_threadpool(usage_report, self.ctx, req)
        return doc

    def _limits(self, with_budget: bool = True) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        from llm_session_manager.api.advice import budget, official_limits

        limits = [limit.as_json() for limit in official_limits(self.ctx, None)]
        return limits, (budget(self.ctx, None).document() if with_budget else {})

    async def _form(self, request: Request) -> dict[str, str]:
        """A url-encoded form of at most MAX_FORM_BYTES with this server's CSRF token; one value per
        field (the first)."""
        if (
            request.headers.get("content-type", "").split(";")[0].strip()
            != "application/x-www-form-urlencoded"
        ):
            raise UsageError("expected a form (application/x-www-form-urlencoded)")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                raise UsageError("the form is too large")
        fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=20)
        form = {k: v[0] for k, v in fields.items()}
        if not self.access.csrf_ok(form.get("csrf")):
            raise CsrfError("the form's CSRF token is missing or out of date: reload the page and try again")
        return form


class CsrfError(LsmError):
    pass


def _int(value: str | None, default: Any, low: int, high: int) -> Any:
    try:
        number = int(value) if value is not None else default
    except ValueError:
        raise UsageError(f"not a whole number: {value!r}") from None
    return number if number is None else max(low, min(high, number))


def _back(request: Request) -> Response:
    from llm_session_manager.web.pages import session_href

    return Response(status_code=303, headers={"location": session_href(request.path_params["sid"])})


STATUS_OF: tuple[tuple[type[LsmError], int], ...] = (
    (CsrfError, 403),
    (NotFoundError, 404),
    (AmbiguousIdError, 404),
    (UsageError, 400),
    (UnavailableError, 503),
)


async def _error(request: Request, exc: Exception) -> Response:
    """An LsmError as the status it means: JSON ``{"error": …}`` under /api, a page elsewhere."""
    status = next((code for kind, code in STATUS_OF if isinstance(exc, kind)), 500)
    message = str(exc)
    if request.url.path.startswith("/api/"):
        from llm_session_manager.safetext import without_secrets

        return JSON({"error": without_secrets(message)}, status_code=status)
    return _html(pages.error_page(status, message), status)


def dashboard_app(
    ctx: Context,
    token: str | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    interval: float = 2.0,
    first_paint: float = 0.5,
    team: bool = False,
) -> tuple[Guard, Dashboard]:
    """The dashboard for a server bound to ``host``:``port``, behind the guard (``token``: None asks for
    none; ``lsm serve`` refuses a non-loopback bind without one). The sessions table is listed again every
    ``interval`` seconds while a browser shows it; its page waits at most ``first_paint`` seconds for the
    first scan, then shows the scan's progress instead."""
    access = Access(host, port, token)
    d = Dashboard(ctx, access, interval, first_paint, team)
    sid = "{sid:path}"
    routes = [
        Route("/", d.sessions),
        Route(f"/sessions/{sid}/tags", d.tags, methods=["POST"]),
        Route(f"/sessions/{sid}/describe", d.describe, methods=["POST"]),
        Route(f"/sessions/{sid}/export/{{fmt}}", d.export),
        Route(f"/sessions/{sid}", d.session),
        Route("/reports", d.reports),
        Route("/limits", d.limits),
        Route("/memory", d.memory),
        Route("/login", d.login, methods=["GET", "POST"]),
        Route("/events", d.events),
        Route("/metrics", d.metrics),
        Route("/static/{name}", d.static),
        Route("/api/sessions", d.api_sessions),
        Route(f"/api/sessions/{sid}/health", d.api_health),
        Route(f"/api/sessions/{sid}", d.api_session),
        Route("/api/recommend", d.api_recommend),
        Route("/api/report/{kind}", d.api_report),
        Route("/api/limits", d.api_limits),
        Route("/api/budget", d.api_budget),
        Route("/api/memory/search", d.api_memory),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        import asyncio

        d.live.start()
        task = asyncio.create_task(d.live.poll())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={LsmError: _error})
    return Guard(app, access), d


def build_app(
    ctx: Context,
    token: str | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    interval: float = 2.0,
    first_paint: float = 0.5,
    team: bool = False,
) -> Guard:
    """The dashboard's ASGI app (see ``dashboard_app``); ``team``: everyone's sessions from the team store."""
    return dashboard_app(
        ctx, token, host=host, port=port, interval=interval, first_paint=first_paint, team=team
    )[0]


# ---------------------------------------------------------------------------------------------------
# The server


class _OneLine(logging.Formatter):
    """``lsm: serve: LEVEL: message`` on one line, controls made visible, no traceback."""

    def format(self, record: logging.LogRecord) -> str:
        from llm_session_manager.safetext import for_terminal, without_secrets

        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            message = f"{message}: {type(exc).__name__}: {exc}"
        return for_terminal(without_secrets(f"lsm: serve: {record.levelname.lower()}: {message}"))


def _logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLine())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        log = logging.getLogger(name)
        log.handlers = [handler] if name == "uvicorn" else []
        log.propagate = name != "uvicorn"
        log.setLevel(logging.WARNING)


def _listen(host: str, port: int) -> Any:
    """A listening socket (so that port 0 picks a free port and a busy port is one clear error)."""
    import socket

    from llm_session_manager.httpguard import ip_of

    address = ip_of(host)
    family = socket.AF_INET6 if address is not None and address.version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise LsmError(f"cannot listen on {host} port {port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def serve(
    ctx: Context,
    host: str,
    port: int,
    token: str | None,
    *,
    announce: Callable[[str], None],
    open_browser: bool = False,
    team: bool = False,
) -> None:
    """Serve until Ctrl-C or SIGTERM. ``announce`` gets the URL once the socket listens."""
    import uvicorn

    from llm_session_manager.httpguard import ip_of, url_host

    _Server = _server_class()
    sock = _listen(host, port)
    bound = sock.getsockname()[1]
    address = ip_of(host)
    if address is not None and address.is_unspecified:  # every address: a browser here uses loopback
        host_shown = "::1" if address.version == 6 else "127.0.0.1"
    else:
        host_shown = host
    url = f"http://{url_host(host_shown)}:{bound}/"
    app, dashboard = dashboard_app(ctx, token, host=host, port=bound, team=team)
    _logging()
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=2,
        lifespan="on",
        log_level="warning",
    )
    announce(url)
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    # uvicorn stops gracefully on Ctrl-C, then raises the signal again: the stop was asked for, so it
    # ends here with status 0 (SIGTERM ends the process with that signal's status, as uvicorn means).
    with contextlib.suppress(KeyboardInterrupt):
        _Server(config, dashboard.live.close).run(sockets=[sock])


def _server_class() -> type:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, ending the live streams as soon as it is told to stop (it would otherwise
        wait for them, then cancel them with an error)."""

        def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
            super().__init__(config)
            self.on_exit = on_exit

        def handle_exit(self, sig: int, frame: Any) -> None:
            self.on_exit()
            super().handle_exit(sig, frame)

    return Server
