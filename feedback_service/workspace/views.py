"""The pages and form handlers of the editors' workspace.

Every form is a plain POST answered with a 303 back to the page it came from,
so the workspace works without JavaScript; the small script posts the same
forms with ``Accept: application/json`` and gets the outcome as JSON.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from functools import wraps
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from feedback_formats import KIND_NAMES, MAX_BODY

from .. import accounts, audit, db, moderation, sync_status
from ..errors import ApiError
from ..ratelimit import client_address
from ..pages import templates
from ..schemas import PROGRESS
from ..sections import SectionCatalog
from . import guard, queue

AUDIT_PAGE = 50
MAX_BULK = 200

# What a finished action says (``?erledigt=``), so that no text travels in a URL.
DONE = {
    "approve": "Freigegeben.",
    "reject": "Abgelehnt.",
    "delete": "Gelöscht.",
    "answer": "Die Antwort der Redaktion ist gespeichert; sie erscheint mit dem Kommentar.",
    "progress": "Bearbeitungsstand gespeichert.",
    "bulk-approve": "{n} Beiträge freigegeben.",
    "bulk-reject": "{n} Beiträge abgelehnt.",
    "none": "Bitte wählen Sie mindestens einen Beitrag aus.",
}


def render(request: Request, name: str, context: dict, status_code: int = 200) -> Response:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


async def sync_problem(service) -> str:
    """What the editors must know when approved comments stop reaching the site (else empty)."""
    stale = await service.read(sync_status.stale)
    return stale.problem(queue.local_time) if stale is not None else ""


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def error_page(request: Request, status: int, message: str, session=None, headers=None):
    if wants_json(request):
        return JSONResponse({"error": {"message": message}}, status_code=status, headers=headers)
    response = render(
        request, "redaktion/fehler.html",
        {"message": message, "session": session, "title": "Das ging nicht"}, status,
    )
    if headers:
        response.headers.update(headers)
    return response


async def read_form(request: Request) -> dict[str, list[str]] | None:
    """The posted form as lists of values; None when it is no form or too large."""
    if not request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return None
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return None
    values: dict[str, list[str]] = {}
    for key, value in pairs:
        values.setdefault(key, []).append(value)
    return values


def first(form: dict[str, list[str]], name: str) -> str:
    return form.get(name, [""])[0]


def editor_page(handler):
    """A page or action that needs a session; a form post also needs its CSRF token."""

    @wraps(handler)
    async def endpoint(request: Request) -> Response:
        session = await guard.current_session(request)
        if session is None:
            if wants_json(request):
                return JSONResponse(
                    {"error": {"message": "Ihre Anmeldung ist abgelaufen."}}, status_code=401
                )
            return guard.to_login(request)
        if request.method == "POST":
            form = await read_form(request)
            if (
                form is None or not guard.same_origin(request)
                or not accounts.csrf_matches(session, first(form, "csrf"))
            ):
                return error_page(
                    request, 403,
                    "Dieses Formular ist ungültig oder veraltet; es wurde nichts geändert. "
                    "Bitte laden Sie die Seite neu und versuchen Sie es noch einmal.",
                    session,
                )
            return await handler(request, session, form)
        return await handler(request, session)

    return endpoint


# -- Logging in and out ------------------------------------------------------------

async def login_form(request: Request) -> Response:
    if await guard.current_session(request) is not None:
        return RedirectResponse(guard.safe_next(request.query_params.get("weiter")), 303)
    notice = "Sie sind abgemeldet." if "abgemeldet" in request.query_params else ""
    return _login_page(request, notice=notice)


def _login_page(request: Request, status: int = 200, error: str = "", notice: str = "",
                name: str = "", headers: dict | None = None) -> Response:
    token = guard.new_login_token()
    response = render(request, "redaktion/anmelden.html", {
        "title": "Anmelden", "session": None, "login_token": token, "error": error,
        "notice": notice, "name": name,
        "next": guard.safe_next(request.query_params.get("weiter")),
    }, status)
    guard.set_cookie(response, request, "anmeldung", token)
    if headers:
        response.headers.update(headers)
    return response


async def login(request: Request) -> Response:

    form = await read_form(request)
    expected = request.cookies.get(guard.cookie_name(request, "anmeldung"), "")
    if (
        form is None or not guard.same_origin(request)
        or not expected or not guard.token_matches(expected, first(form, "csrf"))
    ):
        return _login_page(
            request, 403,
            error="Das Anmeldeformular war veraltet. Bitte geben Sie Name und Passwort noch "
            "einmal ein.",
        )
    name, password = first(form, "name").strip(), first(form, "password")
    service = guard.service_of(request)
    client = client_address(request)

    def attempt(conn: db.Connection) -> tuple[str | None, int]:
        subjects = accounts.login_subjects(
            service.config.secret, name, service.limiter.client_key(client)
        )
        wait = accounts.login_wait(conn, subjects)
        if wait:
            return None, wait
        if name and accounts.verify(conn, name, password):
            accounts.end_stale_sessions(conn, service.config.session_idle_seconds)
            return accounts.start_session(conn, name), 0
        accounts.record_failure(conn, subjects)
        return None, 0

    token, wait = await service.writer.run(attempt)
    if wait:
        error = accounts.too_many_attempts(wait)
        return _login_page(request, 429, error=error.message, name=name, headers=error.headers)
    if token is None:
        return _login_page(
            request, 401, error="Name oder Passwort ist falsch.", name=name
        )
    target = guard.safe_next(first(form, "weiter"))
    response = RedirectResponse(target, status_code=303)
    guard.set_cookie(response, request, "sitzung", token)
    guard.clear_cookie(response, request, "anmeldung")
    return response


@editor_page
async def logout(request: Request, session, form) -> Response:
    service = guard.service_of(request)
    await service.writer.run(lambda conn: accounts.end_session(conn, session.token_hash))
    response = RedirectResponse(guard.LOGIN + "?abgemeldet=1", status_code=303)
    guard.clear_cookie(response, request, "sitzung")
    return response


# -- The queue -----------------------------------------------------------------------

def _reader_rows(conn: db.Connection) -> list[dict]:
    return conn.all(
        "SELECT * FROM comments WHERE role = 'reader' ORDER BY created, id"
    )


def _answers_to(conn: db.Connection, ids: list[str]) -> dict[str, list[dict]]:
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    answers: dict[str, list[dict]] = {}
    for row in conn.all(
        f"SELECT id, text, author, created, status, reply_to FROM comments "
        f"WHERE role = 'editors' AND reply_to IN ({marks}) ORDER BY created, id", ids,
    ):
        answers.setdefault(row["reply_to"], []).append(row)
    return answers


@editor_page
async def queue_page(request: Request, session) -> Response:
    service = guard.service_of(request)
    catalog: SectionCatalog = service.catalog
    filters = queue.Filters.from_query(request.query_params)
    rows = queue.select(await service.read(_reader_rows), filters)
    pages = max(1, math.ceil(len(rows) / queue.PAGE_SIZE))
    page = min(filters.page, pages)
    shown = rows[(page - 1) * queue.PAGE_SIZE: page * queue.PAGE_SIZE]
    answers = await service.read(lambda conn: _answers_to(conn, [row["id"] for row in shown]))
    now = datetime.now(timezone.utc)
    roots = queue.edition_roots(catalog).roots()
    editions = queue.editions(catalog)
    items = []
    for row in shown:
        item = queue.describe(row, catalog, roots, now)
        item["answers"] = [
            {**answer, "created_local": queue.local_time(answer["created"])}
            for answer in answers.get(row["id"], [])
        ]
        items.append(item)
    done = DONE.get(request.query_params.get("erledigt", ""), "")
    count = request.query_params.get("anzahl", "")
    here = request.url.path + (f"?{filters.query(seite=page)}" if filters.query(seite=page) else "")
    return render(request, "redaktion/eingang.html", {
        "title": "Eingang", "session": session, "filters": filters, "items": items,
        "total": len(rows), "page": page, "pages": pages,
        "states": queue.STATES, "kinds": queue.KIND_FILTERS,
        "sections": queue.section_choices(catalog), "editions": editions,
        "editions_choices": [(value, value) for value in editions],
        "progress": PROGRESS, "here": here,
        "done": done.format(n=count if count.isdigit() else "Die"),
        "team_name": service.config.editors_name,
        "sync_problem": await sync_problem(service),
    })


def _back(form: dict[str, list[str]]) -> str:
    return guard.safe_next(first(form, "zurueck"))


def _with_done(url: str, code: str, count: int | None = None) -> str:
    parts = urlsplit(url)
    query = "&".join(
        part for part in parts.query.split("&")
        if part and not part.startswith(("erledigt=", "anzahl="))
    )
    extra = f"erledigt={code}" + (f"&anzahl={count}" if count is not None else "")
    return f"{parts.path}?{query + '&' if query else ''}{extra}"


async def _act(request: Request, form, job, code: str, session, count=None) -> Response:
    service = guard.service_of(request)
    try:
        await service.writer.run(job)
    except ApiError as exc:
        return error_page(request, exc.status, exc.message, session)
    service.notifier.wake()  # an approval or an answer may have a reader's mail waiting
    if wants_json(request):
        return JSONResponse({"message": DONE[code].format(n=count)})
    return RedirectResponse(_with_done(_back(form), code, count), status_code=303)


def _item_action(code: str, action):
    """A form handler for one submission: ``action(conn, id, editor, form, config)``."""

    @editor_page
    async def endpoint(request: Request, session, form) -> Response:
        comment_id = request.path_params["comment_id"]
        config = guard.service_of(request).config
        return await _act(
            request, form, lambda conn: action(conn, comment_id, session.editor, form, config),
            code, session,
        )

    return endpoint


approve = _item_action("approve", lambda conn, comment_id, editor, form, config: (
    moderation.approve(conn, comment_id, editor=editor)
))
reject = _item_action("reject", lambda conn, comment_id, editor, form, config: (
    moderation.reject(conn, comment_id, editor=editor, reason=first(form, "grund"))
))
delete = _item_action("delete", lambda conn, comment_id, editor, form, config: (
    moderation.delete(conn, comment_id, editor=editor)
))
answer = _item_action("answer", lambda conn, comment_id, editor, form, config: (
    moderation.answer(conn, comment_id, first(form, "antwort"), editor=editor,
                      team_name=config.editors_name)
))
progress = _item_action("progress", lambda conn, comment_id, editor, form, config: (
    moderation.set_progress(conn, comment_id, first(form, "stand"), editor=editor,
                            note=first(form, "notiz"), edition=first(form, "ausgabe"))
))


@editor_page
async def bulk(request: Request, session, form) -> Response:
    ids = list(dict.fromkeys(form.get("ids", [])))[:MAX_BULK]
    action, reason = first(form, "aktion"), first(form, "grund")
    if action not in ("approve", "reject"):
        return error_page(request, 422, "Bitte wählen Sie „Freigeben“ oder „Ablehnen“.", session)
    if not ids:
        return await _act(request, form, lambda conn: None, "none", session)

    def job(conn: db.Connection) -> None:
        for comment_id in ids:
            if action == "approve":
                moderation.approve(conn, comment_id, editor=session.editor)
            else:
                moderation.reject(conn, comment_id, editor=session.editor, reason=reason)

    return await _act(request, form, job, f"bulk-{action}", session, len(ids))


# -- The audit log -------------------------------------------------------------------

@editor_page
async def audit_page(request: Request, session) -> Response:
    service = guard.service_of(request)
    raw = request.query_params.get("seite", "1")
    wanted = int(raw) if raw.isdigit() and 0 < int(raw) < 100_000 else 1

    def read(conn: db.Connection):
        total = audit.count(conn)
        pages = max(1, math.ceil(total / AUDIT_PAGE))
        page = min(wanted, pages)
        return total, pages, page, audit.entries(conn, (page - 1) * AUDIT_PAGE, AUDIT_PAGE)

    total, pages, page, entries = await service.read(read)
    catalog: SectionCatalog = service.catalog
    for entry in entries:
        section = catalog.describe(entry["version"], entry["section"])
        entry["section_label"] = queue.section_label(section) if section else entry["section"]
        entry["at_local"] = queue.local_time(entry["at"])
        entry["action_label"] = audit.ACTIONS.get(entry["action"], entry["action"])
        entry["kind_label"] = KIND_NAMES.get(entry["kind"], entry["kind"])
    return render(request, "redaktion/protokoll.html", {
        "title": "Protokoll", "session": session, "entries": entries, "total": total,
        "page": page, "pages": pages, "sync_problem": await sync_problem(service),
    })


async def to_queue(request: Request) -> Response:
    return RedirectResponse(guard.BASE, status_code=308)
