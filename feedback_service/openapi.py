"""The OpenAPI 3.1 description of the API, served at ``/api/v1/openapi.json``."""

from __future__ import annotations

from .validation import MAX_AUTHOR, MAX_EMAIL, MAX_TEXT


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict:
    texts = {
        400: "Fehlerhafter Body (kein JSON, kein UTF-8, ungültiger Idempotency-Key)",
        401: "Anmeldung fehlt oder ist falsch",
        403: "Fremder Origin oder falsches Lösch-Token",
        404: "Nicht gefunden",
        409: "Aktion nicht möglich (z. B. Fehlermeldung freigeben)",
        413: "Body größer als 64 KiB",
        415: "Anderer Content-Type",
        422: "Ein Feld ist ungültig",
        429: "Zu viele Kommentare; siehe Retry-After",
        503: "Datenbank nicht erreichbar oder Verwaltung abgeschaltet",
    }
    return {str(status): _json(_ref("Error"), texts[status]) for status in statuses}


_ADMIN = [{"bearer": []}]
_COMMENT_ID = {
    "name": "comment_id", "in": "path", "required": True,
    "schema": {"type": "string", "pattern": "^c_[0-9A-Z]{26}$"},
}

_SUBMISSION = {
    "type": "object",
    "required": ["section", "version", "text"],
    "properties": {
        "section": {"type": "string", "description": "Abschnitts-ID aus sections.json"},
        "version": {"type": "string", "description": "Ausgabe, z. B. 2.0"},
        "text": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
        "author": {"type": "string", "maxLength": MAX_AUTHOR},
        "email": {"type": "string", "maxLength": MAX_EMAIL,
                  "description": "wird nie veröffentlicht"},
        "kind": {"type": "string", "enum": ["comment", "correction"], "default": "comment"},
        "consent": {"description": "true (JSON) oder \"on\" (Formular); Pflicht für comment",
                    "oneOf": [{"type": "boolean"}, {"type": "string", "enum": ["on"]}]},
        "notify": {"description": "true oder \"on\": per E-Mail benachrichtigen, wenn der "
                   "Kommentar veröffentlicht oder beantwortet wird (doppelte Bestätigung; "
                   "braucht email)",
                   "oneOf": [{"type": "boolean"}, {"type": "string", "enum": ["on"]}]},
        "reply_to": {"type": ["string", "null"], "description": "ID eines freigegebenen "
                     "Kommentars desselben Abschnitts"},
        "website": {"type": "string", "description": "Honeypot, muss leer bleiben"},
        "return_to": {"type": "string", "description": "Formular: Seite, zu der die Antwort "
                      "(303) zurückführt, mit Fragment #fb-ok-<section>"},
    },
}

OPENAPI: dict = {
    "openapi": "3.1.0",
    "info": {
        "title": "Feedback-Dienst des Kochbuchs E-Government",
        "version": "1",
        "description": "Kommentare und Fehlermeldungen zu Abschnitten des Handbuchs. "
        "Fehler haben immer die Form des Schemas Error: ein stabiler englischer code, "
        "eine deutsche message, das betroffene field.",
    },
    "servers": [{"url": "/"}],
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                       "description": "FEEDBACK_ADMIN_TOKEN"}},
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {
                    "type": "object",
                    "required": ["code", "message", "field"],
                    "properties": {
                        "code": {"type": "string", "examples": ["text_required"]},
                        "message": {"type": "string"},
                        "field": {"type": ["string", "null"]},
                    },
                }},
            },
            "Submission": _SUBMISSION,
            "Accepted": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "status": {"const": "pending"},
                    "delete_token": {"type": "string", "description": "für DELETE "
                                     "/api/v1/comments/{id}; nur diese eine Antwort nennt es"},
                },
            },
            "PublicComment": {
                "type": "object",
                "properties": {name: {"type": "string"} for name in (
                    "id", "section", "version", "author", "text", "created")}
                | {"reply_to": {"type": ["string", "null"]}},
            },
            "AdminComment": {
                "type": "object",
                "properties": {name: {"type": "string"} for name in (
                    "id", "section", "version", "author", "email", "text", "created",
                    "status", "status_changed", "kind", "section_number", "section_title")}
                | {"reply_to": {"type": ["string", "null"]}},
            },
            "Export": {
                "type": "object",
                "properties": {
                    "cursor": {"type": "string"},
                    "full": {"type": "boolean", "description": "true: changes ist der ganze "
                             "aktuelle Bestand und ersetzt alles Bisherige"},
                    "complete": {"type": "boolean", "description": "false: mit dem neuen "
                                 "cursor weiter abfragen"},
                    "changes": {"type": "array", "items": {"oneOf": [
                        {"type": "object", "properties": {
                            "op": {"const": "upsert"}, "comment": _ref("PublicComment")}},
                        {"type": "object", "properties": {
                            "op": {"const": "delete"}, "id": {"type": "string"}}},
                    ]}},
                },
            },
        },
    },
    "paths": {
        "/api/v1/health": {"get": {
            "summary": "Läuft der Dienst, antwortet die Datenbank?",
            "responses": {"200": _json({"type": "object", "properties": {
                "status": {"const": "ok"}}}, "Bereit")} | _errors(503),
        }},
        "/api/v1/openapi.json": {"get": {
            "summary": "Dieses Dokument",
            "responses": {"200": {"description": "OpenAPI 3.1"}},
        }},
        "/api/v1/comments": {
            "post": {
                "summary": "Kommentar oder Fehlermeldung einreichen (wartet auf Freigabe)",
                "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                "schema": {"type": "string", "maxLength": 200},
                                "description": "Wiederholung mit gleichem Schlüssel und "
                                "gleichem Inhalt liefert die erste Antwort (24 h)"}],
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": _ref("Submission")},
                    "application/x-www-form-urlencoded": {"schema": _ref("Submission")},
                }},
                "responses": {
                    "202": _json(_ref("Accepted"), "Angenommen (JSON)"),
                    "303": {"description": "Angenommen (Formular): zurück zu return_to "
                            "#fb-ok-<section>"},
                } | _errors(400, 403, 413, 415, 422, 429, 503),
            },
            "get": {
                "summary": "Freigegebene Kommentare eines Abschnitts",
                "parameters": [{"name": "section", "in": "query", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {"200": _json({"type": "object", "properties": {"comments": {
                    "type": "array", "items": _ref("PublicComment")}}}, "Kommentare")}
                | _errors(403, 422, 503),
            },
        },
        "/api/v1/comments/{comment_id}": {"delete": {
            "summary": "Eigenen Kommentar löschen",
            "description": "Lösch-Token im Header X-Delete-Token, im Query-Parameter token "
            "oder im JSON-Body {\"token\": …}.",
            "parameters": [_COMMENT_ID,
                           {"name": "X-Delete-Token", "in": "header", "schema": {"type": "string"}},
                           {"name": "token", "in": "query", "schema": {"type": "string"}}],
            "responses": {"200": _json({"type": "object"}, "Gelöscht")}
            | _errors(401, 403, 404, 503),
        }},
        "/api/v1/admin/comments": {"get": {
            "summary": "Beiträge nach Status (und Art) auflisten",
            "security": _ADMIN,
            "parameters": [
                {"name": "status", "in": "query",
                 "schema": {"enum": ["pending", "approved", "rejected"]}},
                {"name": "kind", "in": "query", "schema": {"enum": ["comment", "correction"]}},
            ],
            "responses": {"200": _json({"type": "object", "properties": {"comments": {
                "type": "array", "items": _ref("AdminComment")}}}, "Liste")}
            | _errors(401, 422, 503),
        }},
        "/api/v1/admin/comments/{comment_id}/approve": {"post": {
            "summary": "Freigeben", "security": _ADMIN, "parameters": [_COMMENT_ID],
            "responses": {"200": _json({"type": "object"}, "Freigegeben")}
            | _errors(401, 404, 409, 503),
        }},
        "/api/v1/admin/comments/{comment_id}/reject": {"post": {
            "summary": "Ablehnen (nach 30 Tagen gelöscht)", "security": _ADMIN,
            "parameters": [_COMMENT_ID],
            "responses": {"200": _json({"type": "object"}, "Abgelehnt")} | _errors(401, 404, 503),
        }},
        "/api/v1/admin/comments/{comment_id}": {"delete": {
            "summary": "Endgültig löschen", "security": _ADMIN, "parameters": [_COMMENT_ID],
            "responses": {"200": _json({"type": "object"}, "Gelöscht")} | _errors(401, 404, 503),
        }},
        "/api/v1/admin/corrections": {"get": {
            "summary": "Fehlermeldungen (JSON, oder format=markdown als Bericht)",
            "security": _ADMIN,
            "parameters": [
                {"name": "status", "in": "query", "schema": {
                    "enum": ["pending", "approved", "rejected"], "default": "pending"}},
                {"name": "format", "in": "query", "schema": {"enum": ["json", "markdown"]}},
            ],
            "responses": {"200": {"description": "Liste oder Markdown-Bericht", "content": {
                "application/json": {}, "text/markdown": {}}}} | _errors(401, 422, 503),
        }},
        "/api/v1/admin/export": {"get": {
            "summary": "Änderungen an den öffentlichen Kommentaren seit einem Cursor (für sync)",
            "security": _ADMIN,
            "parameters": [{"name": "since", "in": "query", "schema": {"type": "string"},
                            "description": "Cursor aus der letzten Antwort; 0 oder leer: "
                            "der ganze Bestand"}],
            "responses": {"200": _json(_ref("Export"), "Änderungen")} | _errors(401, 422, 503),
        }},
    },
}
