"""The OpenAPI 3.1 description of the API, served at ``/api/v1/openapi.json``.

The bodies' schemas come from the models in ``schemas.py``, the same ones
that validate requests; this module adds what only the document needs: the
operations, their parameters and their answers.
"""

from __future__ import annotations

from pydantic.json_schema import models_json_schema

from feedback_formats import KINDS, MAX_BODY

from . import schemas

_MODELS = (
    schemas.Submission, schemas.Error, schemas.Accepted, schemas.Health, schemas.Outcome,
    schemas.PublicComments, schemas.AdminComments, schemas.Corrections, schemas.Export,
    schemas.Rating, schemas.RatingAccepted, schemas.Ratings,
)
_REFS, _COMPONENTS = models_json_schema(
    [(model, "validation") for model in _MODELS], ref_template="#/components/schemas/{model}"
)
# Clients read an error's fields in place: the detail stands inside Error, not beside it.
_COMPONENTS["$defs"]["Error"]["properties"]["error"] = _COMPONENTS["$defs"].pop("ErrorDetail")
_ERROR_TEXTS = {
    400: "Fehlerhafter Body (kein JSON, kein UTF-8, ungültiger Idempotency-Key)",
    401: "Anmeldung fehlt oder ist falsch",
    403: "Fremder Origin",
    404: "Nicht gefunden (beim Löschen auch: Lösch-Token passt nicht)",
    408: "Der Body kam zu langsam an",
    409: "Aktion nicht möglich (z. B. Fehlermeldung freigeben)",
    413: f"Body größer als {MAX_BODY // 1024} KiB",
    415: "Anderer Content-Type",
    422: "Ein Feld ist ungültig",
    429: "Zu viele Beiträge oder fehlgeschlagene Anmeldungen; siehe Retry-After",
    503: "Datenbank nicht erreichbar oder Verwaltung abgeschaltet",
}
_ADMIN = [{"bearer": []}]
_COMMENT_ID = {"name": "comment_id", "in": "path", "required": True,
               "schema": {"type": "string", "pattern": f"^{schemas.COMMENT_ID.pattern}$"}}
_STATUS = {"name": "status", "in": "query", "schema": {"enum": list(schemas.STATUSES)}}


def _ref(model) -> dict:
    return _REFS[(model, "validation")]


def _answer(model, description: str, statuses: tuple[int, ...]) -> dict:
    answers = {"200": {"description": description, "content": {"application/json": {"schema": _ref(model)}}}}
    for status in statuses:
        answers[str(status)] = {"description": _ERROR_TEXTS[status],
                                "content": {"application/json": {"schema": _ref(schemas.Error)}}}
    return answers


def _admin(summary: str, model, description: str, statuses: tuple[int, ...], *parameters: dict) -> dict:
    return {"summary": summary, "security": _ADMIN, "parameters": list(parameters),
            "responses": _answer(model, description, (401, *statuses, 429, 503))}


_ACCEPTED = _answer(schemas.Accepted, "", (400, 403, 408, 413, 415, 422, 429, 503))
_ACCEPTED["202"] = {**_ACCEPTED.pop("200"), "description": "Angenommen (JSON)"}
# A form post without return_to is thanked, and one that fails shown the form again, as a page.
for _status in ("202", "400", "403", "408", "413", "422", "429", "503"):
    _ACCEPTED[_status]["content"]["text/html"] = {"schema": {"type": "string"}}
_ACCEPTED["303"] = {"description": "Angenommen (Formular): zurück zu return_to #fb-ok-<section>; setzt das "
                    "Cookie fb_own (Pfad /rueckmeldung/) für die Statusseite"}

_RATED = _answer(schemas.RatingAccepted, "", (400, 403, 408, 413, 415, 422, 429, 503))
_RATED["202"] = {**_RATED.pop("200"), "description": "Angenommen (JSON)"}
for _status in ("202", "400", "403", "408", "413", "422", "429", "503"):
    _RATED[_status]["content"]["text/html"] = {"schema": {"type": "string"}}
_RATED["303"] = {"description": "Angenommen (Formular): zurück zu return_to #fb-rating-ok"}


def _reader_page(summary: str, description: str, fields: tuple[str, ...], answers: dict[int, str]) -> dict:
    """A page of the service that a reader's form posts to; it answers German HTML, never cached."""
    html = {"text/html": {"schema": {"type": "string"}}}
    return {"post": {
        "summary": summary, "description": description,
        "requestBody": {"required": False, "content": {"application/x-www-form-urlencoded": {"schema": {
            "type": "object", "properties": {name: {"type": "string"} for name in fields}}}}},
        "responses": {str(status): {"description": text, "content": html} for status, text in answers.items()},
    }}


_PAGE_ERRORS = {400: _ERROR_TEXTS[400], 403: "Fremder Origin (beim Zurückziehen auch: CSRF-Token ungültig)",
                404: "Keine Nachricht gefunden (falsche ID und falsches Token gleich)", 408: _ERROR_TEXTS[408],
                413: _ERROR_TEXTS[413], 415: _ERROR_TEXTS[415]}

OPENAPI: dict = {
    "openapi": "3.1.0",
    "info": {
        "title": "Feedback-Dienst des Kochbuchs E-Government",
        "version": "1",
        "description": "Kommentare, Fehlermeldungen und gemeldete Barrieren zu Abschnitten des Handbuchs, "
        "Antworten auf „War diese Seite hilfreich?“, die Statusseite der Leserinnen und Leser. "
        "Fehler haben immer die Form des Schemas Error: ein stabiler englischer code, eine deutsche "
        "message, das betroffene field.",
    },
    "servers": [{"url": "/"}],
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "FEEDBACK_ADMIN_TOKEN"}},
        "schemas": _COMPONENTS["$defs"],
    },
    "paths": {
        "/api/v1/health": {"get": {
            "summary": "Läuft der Dienst, antwortet die Datenbank?",
            "responses": _answer(schemas.Health, "Bereit", (503,)),
        }},
        "/api/v1/openapi.json": {"get": {"summary": "Dieses Dokument",
                                         "responses": {"200": {"description": "OpenAPI 3.1"}}}},
        "/api/v1/comments": {
            "post": {
                "summary": "Kommentar oder private Meldung einreichen (wartet auf Freigabe)",
                "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                "schema": {"type": "string", "maxLength": 200},
                                "description": "Wiederholung mit gleichem Schlüssel und gleichem Inhalt "
                                "liefert die erste Antwort (24 h)"}],
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": _ref(schemas.Submission)},
                    "application/x-www-form-urlencoded": {"schema": _ref(schemas.Submission)},
                }},
                "responses": _ACCEPTED,
            },
            "get": {
                "summary": "Freigegebene Kommentare eines Abschnitts",
                "parameters": [{"name": "section", "in": "query", "required": True,
                                "schema": {"type": "string", "minLength": 1, "maxLength": schemas.MAX_ID}}],
                "responses": {
                    **_answer(schemas.PublicComments, "Kommentare (mit ETag; Cache-Control: no-cache)",
                              (403, 422, 503)),
                    "304": {"description": "Unverändert seit dem ETag in If-None-Match"},
                },
            },
        },
        "/api/v1/ratings": {"post": {
            "summary": "War diese Seite hilfreich? (Ja/Nein, bei Nein ein Grund; speichert nichts über die Person)",
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _ref(schemas.Rating)},
                "application/x-www-form-urlencoded": {"schema": _ref(schemas.Rating)},
            }},
            "responses": _RATED,
        }},
        "/rueckmeldung/status": _reader_page(
            "Statusseite: was aus den eigenen Nachrichten wurde",
            "id und token (das Lösch-Token) aus dem Formular; sind beide leer, die Nachrichten aus dem Cookie "
            "fb_own. Antwortet immer mit Cache-Control: no-store.",
            ("id", "token"), {200: "Die Nachrichten mit ihrem Stand", **_PAGE_ERRORS},
        ),
        "/rueckmeldung/zurueckziehen": _reader_page(
            "Eigene Nachricht zurückziehen (löscht sie wie DELETE /api/v1/comments/{id})",
            "id, token und das CSRF-Token der Statusseite.",
            ("id", "token", "csrf"), {200: "Zurückgezogen", **_PAGE_ERRORS},
        ),
        "/api/v1/comments/{comment_id}": {"delete": {
            "summary": "Eigenen Kommentar löschen",
            "description": "Lösch-Token im Header X-Delete-Token oder im JSON-Body {\"token\": …}, nie in "
            "der Adresse. Ein falsches Token und ein unbekannter Kommentar werden gleich beantwortet (404).",
            "parameters": [_COMMENT_ID, {"name": "X-Delete-Token", "in": "header", "schema": {"type": "string"}}],
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"token": {"type": "string"}}}}}},
            "responses": _answer(schemas.Outcome, "Gelöscht", (400, 401, 403, 404, 408, 413, 415, 503)),
        }},
        "/api/v1/admin/comments": {"get": _admin(
            "Beiträge nach Status (und Art) auflisten", schemas.AdminComments, "Liste", (422,), _STATUS,
            {"name": "kind", "in": "query", "schema": {"enum": list(KINDS)}},
        )},
        "/api/v1/admin/comments/{comment_id}/approve": {"post": _admin(
            "Freigeben", schemas.Outcome, "Freigegeben", (404, 409), _COMMENT_ID)},
        "/api/v1/admin/comments/{comment_id}/reject": {"post": _admin(
            "Ablehnen (nach 30 Tagen gelöscht)", schemas.Outcome, "Abgelehnt", (404,), _COMMENT_ID)},
        "/api/v1/admin/comments/{comment_id}": {"delete": _admin(
            "Endgültig löschen", schemas.Outcome, "Gelöscht", (404,), _COMMENT_ID)},
        "/api/v1/admin/corrections": {"get": _admin(
            "Fehlermeldungen (JSON, oder format=markdown als Bericht)", schemas.Corrections,
            "Liste (oder mit format=markdown ein Bericht als text/markdown)", (422,),
            {**_STATUS, "schema": {**_STATUS["schema"], "default": "pending"}},
            {"name": "format", "in": "query", "schema": {"enum": ["json", "markdown"]}},
        )},
        "/api/v1/admin/ratings": {"get": _admin(
            "Antworten auf „War diese Seite hilfreich?“ je Seite und Ausgabe", schemas.Ratings, "Zählung", (),
        )},
        "/api/v1/admin/export": {"get": _admin(
            "Änderungen an den öffentlichen Kommentaren seit einem Cursor (für sync)", schemas.Export,
            "Änderungen", (422,),
            {"name": "since", "in": "query", "schema": {"type": "string"},
             "description": "Cursor aus der letzten Antwort; 0 oder leer: der ganze Bestand"},
        )},
    },
}
OPENAPI["paths"]["/api/v1/admin/corrections"]["get"]["responses"]["200"]["content"]["text/markdown"] = {
    "schema": {"type": "string"}}
