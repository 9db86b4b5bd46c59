"""The HTTP application: every route of the service in one place."""

from __future__ import annotations

import asyncio
import functools
import gc
import hmac
import logging
import re
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Match, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from feedback_formats import KINDS, MAX_BODY, utc_timestamp

from . import audit, comments, db, moderation, notify, pages, ratings, reader_status, server, sync_status, workspace
from .config import Config, load_config, normalise_origin, own_origin, with_secret
from .errors import ApiError, ValidationFailed
from .openapi import OPENAPI
from .ratelimit import FailureThrottle, RateLimiter, client_address
from .schemas import COMMENT_ID, MAX_ID
from .sections import SectionCatalog
from .security import SecurityHeaders, policy_for
from .site_files import SiteFiles
from .validation import (
    FORM, is_honeypot, media_type, parse_body, safe_return_to, validate_rating, validate_submission, with_fragment,
)
from .workspace.queue import local_time

log = logging.getLogger("feedback_service")

API = "/api/v1"
STATUS_PATH = "/rueckmeldung/status"
WITHDRAW_PATH = "/rueckmeldung/zurueckziehen"
RATING_CONFIRMATION = "fb-rating-ok"
PURGE_INTERVAL = 3600
CORS_METHODS = ["GET", "POST", "DELETE", "OPTIONS"]
CORS_HEADERS = ["Content-Type", "Idempotency-Key", "X-Delete-Token", "Authorization"]


class Service:
    """Everything a request needs, built once per process."""

    def __init__(self, config: Config):
        self.config = with_secret(config)
        self.db = db.Database(config.database_url)
        self.reads = db.ReadPool(self.db)
        self.writer = db.Writer(self.db)
        self.catalog = SectionCatalog(config.site_dir)
        self.limiter = RateLimiter(config.rate_limit, self.config.secret)
        self.admin_failures = FailureThrottle(self.limiter, *config.login_limit)
        self.public = comments.PublicComments()
        self.notifier = notify.Notifier(config.notifications, self.writer, self.reads, self.catalog)
        self._loop_connection: db.Connection | None = None

    def loop_connection(self) -> db.Connection:
        """A connection used only by the event loop's thread (SQLite)."""
        if self._loop_connection is None:
            self._loop_connection = self.db.connect()
        return self._loop_connection

    def close(self) -> None:
        self.writer.stop()
        self.reads.close()
        if self._loop_connection is not None:
            self._loop_connection.close()
            self._loop_connection = None

    async def read(self, query):
        def run():
            with self.reads.connection() as conn:
                return query(conn)

        return await run_in_threadpool(run)

    async def snapshot(self, query):
        def run():
            with self.reads.connection() as conn, self.db.transaction(conn, write=False):
                return query(conn)

        return await run_in_threadpool(run)


def _service(request: Request) -> Service:
    return request.app.state.service


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


# -- Public API ----------------------------------------------------------------

def _probe(conn: db.Connection) -> sync_status.SyncStatus | None:
    db.probe_write(conn)
    return sync_status.stale(conn)


async def health(request: Request) -> Response:
    """Ok only when a write is committed: a read-only, full or vanished database is not.

    A stale sync leaves the service healthy (it takes comments) but is named beside.
    """
    service = _service(request)
    try:
        stale = await service.writer.run(_probe)
    except db.DatabaseError as exc:
        log.error("health check failed: %s", exc)
        raise ApiError(
            503, "database_unavailable", "Die Datenbank nimmt gerade keine Daten an.",
            headers={"Retry-After": "5"},
        )
    if stale is None:
        return JSONResponse({"status": "ok"})
    return JSONResponse({"status": "ok", "sync": {
        "status": "stale", "since": utc_timestamp(stale.since), "failures": stale.failures,
        "message": stale.problem(local_time),
    }})


async def openapi(request: Request) -> Response:
    return JSONResponse(OPENAPI)


async def read_body(request: Request) -> bytes:
    too_large = ApiError(
        413, "body_too_large",
        f"Die Anfrage ist zu groß: höchstens {MAX_BODY // 1024} KiB.",
    )
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "invalid_body", "Ungültige Content-Length.")
        if int(declared) > MAX_BODY:
            raise too_large
    chunks, size = [], 0
    try:
        async with asyncio.timeout(server.BODY_TIMEOUT):
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BODY:
                    raise too_large
                chunks.append(chunk)
    except TimeoutError:
        raise ApiError(
            408, "body_timeout", "Die Anfrage kam zu langsam an. Bitte senden Sie sie noch einmal.",
        ) from None
    return b"".join(chunks)


async def post_comment(request: Request) -> Response:
    service = _service(request)
    content_type = request.headers.get("content-type")
    is_form = media_type(content_type)[0] == FORM
    fields: dict = {}
    return_to: str | None = None
    try:
        fields = parse_body(content_type, await read_body(request))
        if is_form:
            return_to = _form_return_to(request, fields)
        if is_honeypot(fields):
            log.info("honeypot filled; submission dropped")
            return _acknowledge(request, is_form, return_to, fields, comments.honeypot_answer(service.config.secret))
        submission = validate_submission(
            fields, service.catalog, service.config.max_links, service.config.notifications
        )
        idempotency = comments.IdempotencyKey.from_header(request.headers.get("idempotency-key"))
        job = comments.create_job(
            submission, client_address(request), service.limiter, idempotency, service.config.secret,
            service.config.notifications,
        )
        status, answer = await service.writer.run(job)
        service.notifier.submitted()
    except (ApiError, ValidationFailed) as exc:
        if not is_form:
            raise
        errors, status, headers = _failure(exc)
        return pages.error_page(request, errors, fields, return_to, status, headers)
    return _acknowledge(request, is_form, return_to, fields, answer, status)


def _failure(exc: ApiError | ValidationFailed) -> tuple[list[ApiError], int, dict[str, str]]:
    """What a failed form post's page lists, its status and headers."""
    if isinstance(exc, ValidationFailed):
        return exc.errors, 422, {}
    return [exc], exc.status, exc.headers


async def post_rating(request: Request) -> Response:
    """"War diese Seite hilfreich?": 202 JSON, or 303 back to the page's confirmation."""
    service = _service(request)
    is_form = media_type(request.headers.get("content-type"))[0] == FORM
    return_to: str | None = None
    try:
        fields = parse_body(request.headers.get("content-type"), await read_body(request))
        if is_form:
            return_to = _form_return_to(request, fields)
        rating = validate_rating(fields, service.catalog)
        answer = await service.writer.run(ratings.store_job(rating, client_address(request), service.limiter))
    except (ApiError, ValidationFailed) as exc:
        if not is_form:
            raise
        errors, status, headers = _failure(exc)
        return pages.problem_page(request, "rating", errors, return_to, status, headers)
    if not is_form:
        return JSONResponse(answer, status_code=202)
    if return_to is None:
        return pages.rating_thanks_page(request)
    return RedirectResponse(with_fragment(return_to, RATING_CONFIRMATION), status_code=303)


def _form_return_to(request: Request, fields: dict) -> str | None:
    value = fields.get("return_to")
    if not isinstance(value, str) or not value.strip():
        return None
    safe = safe_return_to(value.strip(), own_origin(request.scope) or "", _service(request).config.allowed_origins)
    if safe is None:
        raise ApiError(
            422, "foreign_return_to",
            "Die Rücksprungadresse gehört nicht zu dieser Website.", "return_to",
        )
    return safe


def _acknowledge(
    request: Request, is_form: bool, return_to: str | None, fields: dict, answer: dict, status: int = 202
) -> Response:
    """JSON for scripts; for a form, back to the page's confirmation (or a thanks page)."""
    if not is_form:
        return JSONResponse(answer, status_code=status)
    if return_to is None:
        response = pages.thanks_page(request, status)
    else:
        section = fields.get("section") if isinstance(fields.get("section"), str) else ""
        response = RedirectResponse(with_fragment(return_to, f"fb-ok-{section}"), status_code=303)
    # Without JavaScript the status page knows the sender only by this cookie.
    reader_status.remember(response, request, answer)
    return response


async def section_comments(request: Request) -> Response:
    section = request.query_params.get("section", "").strip()
    if not section:
        raise ApiError(
            422, "section_required", "Bitte geben Sie den Abschnitt an (?section=ID).", "section"
        )
    service = _service(request)
    if len(section) > MAX_ID or not service.catalog.is_published(section):
        # Only sections of a published edition reach the cache.
        raise ApiError(422, "unknown_section", "Diesen Abschnitt gibt es in keiner Ausgabe.", "section")
    if service.db.dialect == "sqlite":
        # A cache hit costs one indexed read of a local file: cheaper inline than a thread hop.
        answer = service.public.answer(service.loop_connection(), section)
    else:
        answer = await service.read(lambda conn: service.public.answer(conn, section))
    status, headers, body = _public_answer(answer, request.headers.get("if-none-match"))
    response = Response(body, status_code=status)
    response.raw_headers = headers
    return response


def _public_answer(answer: comments.PublicAnswer, if_none_match: str | None
                   ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, head and body of a section's approved comments (the route's and the lane's)."""
    # Caches may keep the answer but must ask each time: an approval shows at once.
    headers = [(b"etag", answer.etag.encode("ascii")), (b"cache-control", b"no-cache")]
    if answer.matches(if_none_match):
        return 304, headers, b""
    headers += [(b"content-length", str(len(answer.body)).encode("ascii")), (b"content-type", b"application/json")]
    return 200, headers, answer.body


# A section id spelt plainly, the only parameter: what the pages' script and links send.
_PLAIN_SECTION_QUERY = re.compile(rb"section=([A-Za-z0-9_.~-]{1,%d})" % MAX_ID)


class PublicCommentsLane:
    """``GET /api/v1/comments?section=ID`` answered from the cache, ahead of the framework's layers.

    Every page view asks for the approved comments of its sections: the API's
    most frequent request by far. In its plain form (SQLite, a published section
    spelt plainly, no ``Origin`` header: a same-origin read sends none) it needs
    nothing the middleware and the router add (no CORS, no client address, no
    body), so it is answered here, with the route's head (:func:`_public_answer`)
    and the service's security headers. Anything else, a failing
    database included, goes through the whole application, which answers it as
    always. A ``HEAD`` is not taken either.
    """

    def __init__(self, app: ASGIApp, service: Service):
        self.app = app
        self.service = service
        self.path = f"{API}/comments"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == self.path:
            answer = self._answer(scope)
            if answer is not None:
                status, headers, body = answer
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    def _answer(self, scope: Scope) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        service = self.service
        plain = _PLAIN_SECTION_QUERY.fullmatch(scope["query_string"])
        if plain is None or service.db.dialect != "sqlite":
            return None
        tag = None
        for name, value in scope["headers"]:
            if name == b"origin":
                return None
            if name == b"if-none-match" and tag is None:
                tag = value.decode("latin-1")
        section = plain.group(1).decode("ascii")
        if not service.catalog.is_published(section):
            return None
        try:
            answer = service.public.answer(service.loop_connection(), section)
        except db.DatabaseError:
            return None
        status, headers, body = _public_answer(answer, tag)
        return status, policy_for(scope["path"]).apply(headers, scope.get("scheme") == "https"), body


async def delete_own_comment(request: Request) -> Response:
    comment_id = request.path_params["comment_id"]
    # Never from the query string: a token in a URL ends up in logs and histories.
    token = request.headers.get("x-delete-token")
    if token is None and media_type(request.headers.get("content-type"))[0] == "application/json":
        data = parse_body(request.headers.get("content-type"), await read_body(request))
        token = data.get("token") if isinstance(data.get("token"), str) else None
    if not token:
        raise ApiError(
            401, "token_required",
            "Zum Löschen brauchen Sie das Lösch-Token, das Sie beim Absenden erhalten haben.",
            "token",
        )
    if not COMMENT_ID.fullmatch(comment_id):
        raise ApiError(404, "not_found", "Diesen Kommentar gibt es nicht (mehr).")
    service = _service(request)
    return JSONResponse(await service.writer.run(comments.delete_by_author_job(comment_id, token)))


# -- A reader's own messages (pages, not API) ----------------------------------------

async def _page_form(request: Request) -> dict:
    """The fields of a form post to a reader's page: from the site's own or an allowed origin."""
    origin = request.headers.get("origin")
    if origin is not None:
        normalised = normalise_origin(origin)
        if normalised is None or (
            normalised != own_origin(request.scope) and normalised not in _service(request).config.allowed_origins
        ):
            raise ApiError(403, "foreign_origin", "Diese Anfrage kommt von einer fremden Website.")
    return parse_body(request.headers.get("content-type"), await read_body(request))


def _reader_page(what: str):
    """A page a reader's form posts to; what goes wrong with the post is shown as a German page."""
    def wrap(handler):
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request, await _page_form(request))
            except ApiError as exc:
                return pages.problem_page(request, what, [exc], None, exc.status,
                                          {**exc.headers, **reader_status.NO_STORE})

        return endpoint

    return wrap


@_reader_page("status")
async def own_status(request: Request, fields: dict) -> Response:
    """What became of the reader's messages: by the form's id and token, else by the cookie."""
    service = _service(request)
    claims = reader_status.claims_of(fields, request.cookies.get(reader_status.COOKIE))
    rows = await service.read(lambda conn: reader_status.owned(conn, claims))
    if not rows:
        return pages.no_message_page(request, reader_status.NO_STORE)
    messages = [reader_status.describe(row, service.catalog, service.config.secret) for row in rows]
    return pages.status_page(request, messages, WITHDRAW_PATH, reader_status.NO_STORE)


@_reader_page("withdraw")
async def own_withdraw(request: Request, fields: dict) -> Response:
    """Withdraw one message: its id and delete token, and the CSRF token of the status page."""
    service = _service(request)
    claims = reader_status.claims_of(fields, None)
    rows = await service.read(lambda conn: reader_status.owned(conn, claims))
    if not rows:
        return pages.no_message_page(request, reader_status.NO_STORE)
    csrf = fields.get("csrf")
    if not isinstance(csrf, str) or not reader_status.csrf_valid(service.config.secret, claims[0], csrf):
        raise ApiError(403, "invalid_csrf", "Das Formular ist abgelaufen oder ungültig. Bitte öffnen Sie "
                       "die Statusseite noch einmal und ziehen Sie die Nachricht dort zurück.")
    claim = claims[0]
    try:
        await service.writer.run(comments.delete_by_author_job(claim.comment_id, claim.token))
    except ApiError:  # withdrawn meanwhile, in another tab
        return pages.no_message_page(request, reader_status.NO_STORE)
    left = reader_status.remaining(request, claim.comment_id)
    response = pages.withdrawn_page(request, bool(left), STATUS_PATH, reader_status.NO_STORE)
    if left is not None:
        reader_status.keep(response, request, left)
    return response


# -- Admin API -------------------------------------------------------------------

async def require_admin(request: Request) -> Service:
    service = _service(request)
    expected = service.config.admin_token
    if not expected:
        raise ApiError(
            503, "admin_disabled",
            "Die Verwaltung ist abgeschaltet: FEEDBACK_ADMIN_TOKEN ist nicht gesetzt.",
        )
    address = client_address(request)
    # Before the token is looked at: the throttle does not tell a guess from the truth.
    await service.read(lambda conn: service.admin_failures.check(conn, address))
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), expected.encode()
    ):
        await service.writer.run(lambda conn: service.admin_failures.fail(conn, address))
        raise ApiError(
            401, "unauthorized",
            "Anmeldung erforderlich: Authorization: Bearer <FEEDBACK_ADMIN_TOKEN>.",
            headers={"WWW-Authenticate": 'Bearer realm="feedback-admin"'},
        )
    return service


def _kind(request: Request) -> str | None:
    kind = request.query_params.get("kind") or None
    if kind is not None and kind not in KINDS:
        raise ApiError(422, "invalid_kind", f"Die Art muss {', '.join(KINDS)} sein.", "kind")
    return kind


async def admin_list(request: Request) -> Response:
    service = await require_admin(request)
    status, kind = request.query_params.get("status"), _kind(request)
    rows = await service.read(
        lambda conn: moderation.listing(conn, service.catalog, status, kind)
    )
    return JSONResponse({"comments": rows})


async def admin_corrections(request: Request) -> Response:
    service = await require_admin(request)
    status = request.query_params.get("status", "pending")
    rows = await service.read(
        lambda conn: moderation.listing(conn, service.catalog, status, "correction")
    )
    if request.query_params.get("format") == "markdown":
        report = await service.read(lambda conn: ratings.edition_report(conn, service.catalog, rows))
        return PlainTextResponse(report, media_type="text/markdown; charset=utf-8")
    return JSONResponse({"corrections": rows})


async def admin_ratings(request: Request) -> Response:
    service = await require_admin(request)
    return JSONResponse({"ratings": await service.read(lambda conn: ratings.counts(conn, service.catalog))})


def _moderate(action):
    async def endpoint(request: Request) -> Response:
        service = await require_admin(request)
        comment_id = request.path_params["comment_id"]
        answer = await service.writer.run(lambda conn: action(conn, comment_id, editor=audit.API))
        service.notifier.wake()
        return JSONResponse(answer)

    return endpoint


async def admin_export(request: Request) -> Response:
    service = await require_admin(request)
    since = moderation.parse_cursor(request.query_params.get("since"))
    return JSONResponse(await service.snapshot(lambda conn: moderation.export(conn, since)))


# -- Readers' notification links -----------------------------------------------------

def subscription_page(action: str):
    """Confirm or unsubscribe: GET shows a button, only POST acts.

    Mail scanners follow links with GET; a POST comes from the reader's button,
    or, for unsubscribing, from the mail program's one-click (RFC 8058).
    """

    async def endpoint(request: Request) -> Response:
        service = _service(request)
        token = request.query_params.get("token", "")
        if request.method == "POST" and not token:
            fields = parse_body(request.headers.get("content-type"), await read_body(request))
            token = fields.get("token") if isinstance(fields.get("token"), str) else ""
        if request.method == "GET":
            found = await service.read(lambda conn: notify.find_subscription(conn, token))
            state = "ask" if found is not None else "unknown"
            if action == "confirm" and found is not None and found["confirmed"] is not None:
                state = "done"
        elif action == "confirm":
            found = await service.writer.run(lambda conn: notify.confirm(conn, token))
            state = "done" if found is not None else "unknown"
        else:
            await service.writer.run(lambda conn: notify.unsubscribe(conn, token))
            state = "done"
        service.notifier.wake()
        return pages.templates.TemplateResponse(
            request, "notify_page.html", {"action": action, "state": state, "token": token},
            status_code=404 if state == "unknown" and action == "confirm" else 200,
            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
        )

    return endpoint


# -- Origin and CORS -------------------------------------------------------------

class CORS(CORSMiddleware):
    """Starlette's CORS; a granted preflight answers 204 No Content."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 200:
            return response
        headers = {name: value for name, value in response.headers.items()
                   if name.startswith("access-control-") or name == "vary"}
        return Response(status_code=204, headers=headers)


class OriginGuard:
    """403 for API requests from a foreign ``Origin``; CORS for the allowed ones.

    The service's own origin needs no CORS; every other origin must be one of
    ``FEEDBACK_ALLOWED_ORIGINS``. Pages of the site are never guarded.
    """

    def __init__(self, app: ASGIApp, allowed: frozenset[str]):
        self.app = app
        self.allowed = allowed
        self.cors = CORS(
            app, allow_origins=sorted(allowed), allow_methods=CORS_METHODS, allow_headers=CORS_HEADERS,
            expose_headers=["Retry-After"], max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        origin = Headers(scope=scope).get("origin")
        normalised = normalise_origin(origin) if origin is not None else None
        if origin is None or (normalised is not None and normalised == own_origin(scope)):
            await self.app(scope, receive, send)
        elif normalised in self.allowed:
            await self.cors(scope, receive, send)
        else:
            response = error_response(ApiError(
                403, "foreign_origin",
                "Anfragen von dieser Website sind nicht erlaubt (fremder Origin).",
            ))
            await response(scope, receive, send)


# -- Errors ----------------------------------------------------------------------

async def on_api_error(request: Request, exc: ApiError) -> Response:
    return error_response(exc)


async def on_validation_failed(request: Request, exc: ValidationFailed) -> Response:
    return error_response(exc.errors[0])


async def on_database_error(request: Request, exc: db.DatabaseError) -> Response:
    log.error("database error: %s", exc)
    return error_response(ApiError(
        503, "database_unavailable",
        "Die Datenbank ist gerade nicht erreichbar. Bitte versuchen Sie es später noch einmal.",
        headers={"Retry-After": "5"},
    ))


async def on_http_error(request: Request, exc: HTTPException) -> Response:
    if not request.url.path.startswith("/api/"):
        headers = exc.headers
        if exc.status_code == 405 and _allowed_methods(request.scope):
            # The site's files answer any method the service's pages do not (OPTIONS, PUT…).
            headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request.scope))}
        return pages.not_found_page(request, exc.status_code, headers)
    if exc.status_code == 405:
        return error_response(ApiError(
            405, "method_not_allowed", "Diese Methode ist hier nicht erlaubt.",
            headers={"Allow": ", ".join(_allowed_methods(request.scope))},
        ))
    return error_response(ApiError(
        exc.status_code, "not_found" if exc.status_code == 404 else "http_error",
        "Diese Adresse gibt es nicht." if exc.status_code == 404 else str(exc.detail),
    ))


def _allowed_methods(scope: Scope) -> list[str]:
    """Every method some route answers at this path (one path may have several routes)."""
    methods: set[str] = set()
    for route in ROUTES:
        if route.endpoint is no_such_route:
            continue
        match, _ = route.matches({**scope, "method": "GET"})
        if match != Match.NONE and route.methods:
            methods |= route.methods
    return sorted(methods)


async def no_such_route(request: Request) -> Response:
    """Under the service's own prefixes: 405 where the path exists with other methods, else 404."""
    allowed = _allowed_methods(request.scope)
    if allowed:
        raise HTTPException(405, headers={"Allow": ", ".join(allowed)})
    raise HTTPException(404)


# -- Assembly --------------------------------------------------------------------

ROUTES = [
    Route(f"{API}/health", health, methods=["GET"]),
    Route(f"{API}/openapi.json", openapi, methods=["GET"]),
    Route(f"{API}/comments", post_comment, methods=["POST"]),
    Route(f"{API}/comments", section_comments, methods=["GET"]),
    Route(f"{API}/comments/{{comment_id}}", delete_own_comment, methods=["DELETE"]),
    Route(f"{API}/ratings", post_rating, methods=["POST"]),
    Route(f"{API}/admin/comments", admin_list, methods=["GET"]),
    Route(f"{API}/admin/comments/{{comment_id}}/approve", _moderate(moderation.approve),
          methods=["POST"]),
    Route(f"{API}/admin/comments/{{comment_id}}/reject", _moderate(moderation.reject),
          methods=["POST"]),
    Route(f"{API}/admin/comments/{{comment_id}}", _moderate(moderation.delete),
          methods=["DELETE"]),
    Route(f"{API}/admin/corrections", admin_corrections, methods=["GET"]),
    Route(f"{API}/admin/export", admin_export, methods=["GET"]),
    Route(f"{API}/admin/ratings", admin_ratings, methods=["GET"]),
    Route("/api/{rest:path}", no_such_route),
    Route(STATUS_PATH, own_status, methods=["POST"]),
    Route(WITHDRAW_PATH, own_withdraw, methods=["POST"]),
    Route("/rueckmeldung/{rest:path}", no_such_route),
]
# Pages for people (not in the OpenAPI document).
PAGES = [
    Route(notify.CONFIRM_PATH, subscription_page("confirm"), methods=["GET", "POST"]),
    Route(notify.UNSUBSCRIBE_PATH, subscription_page("unsubscribe"), methods=["GET", "POST"]),
]


async def _purge(service: Service) -> None:
    try:
        counts = await service.writer.run(moderation.purge)
    except db.DatabaseError as exc:
        log.error("purge failed: %s", exc)
        return
    if any(counts.values()):
        log.info("purged: %s", counts)


async def _purge_periodically(service: Service) -> None:
    while True:
        await asyncio.sleep(PURGE_INTERVAL)
        await _purge(service)


def create_app(config: Config | None = None) -> Starlette:
    """The ASGI application; ``config`` defaults to the environment.

    Also the factory for ``uvicorn --factory``: each worker reads the environment.
    """
    service = Service(config or load_config())

    @asynccontextmanager
    async def lifespan(app):
        await run_in_threadpool(service.db.migrate)
        service.writer.start()
        try:
            await service.writer.run(db.probe_write)
        except db.DatabaseError as exc:
            service.close()
            # uvicorn reports the failed start-up and exits non-zero.
            raise RuntimeError(f"Die Datenbank nimmt keine Daten an: {exc}") from exc
        await _purge(service)
        purger = asyncio.create_task(_purge_periodically(service))
        service.notifier.start()
        server.exit_with_parent()
        # What startup made (modules, templates, the schemas' validators) lives as long as the
        # process: kept out of every garbage collection, it no longer costs each request time.
        gc.freeze()
        try:
            yield
        finally:
            purger.cancel()
            await service.notifier.stop()
            service.close()

    middleware = []
    if service.config.trusted_proxies:
        # Outermost: the guard and the rate limit see the reader's address and scheme.
        trusted = [str(network) for network in service.config.trusted_proxies]
        middleware.append(Middleware(ProxyHeadersMiddleware, trusted_hosts=trusted))
    middleware.append(Middleware(OriginGuard, allowed=service.config.allowed_origins))
    # Outermost of all: every answer carries the security headers, the guard's 403 too.
    middleware.insert(0, Middleware(SecurityHeaders))
    # Ahead even of those: the pages' reads of approved comments, answered with the same head.
    middleware.insert(0, Middleware(PublicCommentsLane, service=service))
    app = Starlette(
        routes=[*ROUTES, *PAGES, *workspace.mount(), Mount("/", app=SiteFiles(service.config.site_dir))],
        middleware=middleware,
        exception_handlers={
            ApiError: on_api_error,
            ValidationFailed: on_validation_failed,
            db.DatabaseError: on_database_error,
            HTTPException: on_http_error,
        },
        lifespan=lifespan,
    )
    app.state.service = service
    return app


