"""The HTTP contract of the feedback service, against SQLite and a real PostgreSQL."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest

from .conftest import ADMIN, write_manifest

VALID = {
    "section": "qualitaetskultur",
    "version": "2.0",
    "text": "Bei uns hat sich ein wöchentlicher Qualitätszirkel bewährt.",
    "author": "Kämmerei Musterstadt",
    "email": "kaemmerei@example.org",
    "consent": True,
}
FORM = {**VALID, "consent": "on", "return_to": "/2.0/kapitel-03/index.html#qualitaetskultur"}


def stored(client) -> list[dict]:
    """Everything in the database, whatever its status, as editors see it."""
    answer = client.get("/api/v1/admin/comments", headers=ADMIN)
    assert answer.status_code == 200
    return answer.json()["comments"]


def public(client, section="qualitaetskultur") -> list[dict]:
    answer = client.get("/api/v1/comments", params={"section": section})
    assert answer.status_code == 200
    return answer.json()["comments"]


def submit(client, **fields):
    return client.post("/api/v1/comments", json={**VALID, **fields})


def approve(client, comment_id):
    answer = client.post(f"/api/v1/admin/comments/{comment_id}/approve", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    return answer


def assert_error(answer, status, code, field=None, message=None):
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code
    assert error["field"] == field
    assert isinstance(error["message"], str) and error["message"]
    if message:
        assert message in error["message"]


# -- A comment's way: JSON -------------------------------------------------------

def test_health(client):
    answer = client.get("/api/v1/health")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


def test_json_comment_waits_for_moderation_then_is_public(client):
    answer = submit(client)
    assert answer.status_code == 202
    body = answer.json()
    assert set(body) == {"id", "status", "delete_token"}
    assert re.fullmatch(r"c_[0-9A-Z]{26}", body["id"])
    assert body["status"] == "pending"
    assert public(client) == []

    [pending] = client.get("/api/v1/admin/comments?status=pending", headers=ADMIN).json()["comments"]
    assert pending["id"] == body["id"]
    assert pending["text"] == VALID["text"]
    assert pending["email"] == VALID["email"]
    assert (pending["section_number"], pending["section_title"]) == ("3.2", "Qualitätskultur")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", pending["created"])

    approve(client, body["id"])
    [shown] = public(client)
    assert shown == {
        "id": body["id"], "section": "qualitaetskultur", "version": "2.0",
        "author": "Kämmerei Musterstadt", "text": VALID["text"],
        "created": pending["created"], "reply_to": None, "role": "reader",
    }
    assert "kaemmerei@example.org" not in client.get(
        "/api/v1/comments?section=qualitaetskultur").text
    assert client.get("/api/v1/admin/comments?status=pending", headers=ADMIN).json() == {
        "comments": []}


def test_comment_from_an_older_edition_is_accepted_for_its_section(client):
    assert submit(client, version="1.0", section="altes-kapitel").status_code == 202
    [row] = stored(client)
    assert (row["version"], row["section_number"], row["section_title"]) == (
        "1.0", "5.1", "Ein altes Kapitel")


def test_text_is_trimmed_newlines_normalised_and_tabs_kept(client):
    assert submit(client, text="  Absatz 1\r\n\r\nAbsatz\t2  \n").status_code == 202
    assert stored(client)[0]["text"] == "Absatz 1\n\nAbsatz\t2"


def test_longest_allowed_fields_are_accepted(client):
    answer = submit(client, text="x" * 5000, author="a" * 80,
                    email=("e" * 242) + "@example.org")
    assert answer.status_code == 202, answer.text
    assert len(stored(client)[0]["text"]) == 5000


# -- A comment's way: the plain form (no JavaScript) -------------------------------

def test_form_post_redirects_back_with_confirmation_fragment(client):
    answer = client.post("/api/v1/comments", data=FORM, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/2.0/kapitel-03/index.html#fb-ok-qualitaetskultur"
    [row] = stored(client)
    assert row["status"] == "pending" and row["text"] == VALID["text"]


def test_form_post_keeps_the_query_of_return_to(client):
    answer = client.post(
        "/api/v1/comments", data={**FORM, "return_to": "http://testserver/2.0/x.html?a=1#top"},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "http://testserver/2.0/x.html?a=1#fb-ok-qualitaetskultur"


def test_form_error_page_explains_in_german_and_keeps_the_text(client):
    text = "Mein langer Text <mit> Sonderzeichen & Umlauten: äöü"
    answer = client.post(
        "/api/v1/comments", data={**FORM, "text": text, "consent": ""}, follow_redirects=False
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    page = answer.text
    assert '<html lang="de">' in page and "<title>" in page
    assert "Bitte stimmen Sie der Veröffentlichung Ihres Kommentars zu." in page
    assert "Einwilligung" in page
    textarea = re.search(r"<textarea[^>]*>(.*?)</textarea>", page, re.S).group(1)
    assert textarea == "Mein langer Text &lt;mit&gt; Sonderzeichen &amp; Umlauten: äöü"
    assert '<form class="fb-form" method="post" action="/api/v1/comments">' in page
    for name, value in (("section", "qualitaetskultur"), ("version", "2.0")):
        assert f'name="{name}" value="{value}"' in page
    assert 'href="/2.0/kapitel-03/index.html#qualitaetskultur"' in page
    assert stored(client) == []


def test_form_error_page_reposts_to_a_success(client):
    first = client.post("/api/v1/comments", data={**FORM, "text": ""}, follow_redirects=False)
    assert first.status_code == 422
    hidden = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', first.text))
    again = client.post(
        "/api/v1/comments", data={**hidden, "text": "Jetzt mit Text", "consent": "on"},
        follow_redirects=False,
    )
    assert again.status_code == 303
    assert stored(client)[0]["text"] == "Jetzt mit Text"


@pytest.mark.parametrize("return_to", [
    "https://evil.example/phish", "//evil.example/x", "/\\evil.example", "javascript:alert(1)",
])
def test_form_post_refuses_foreign_return_to(client, return_to):
    answer = client.post(
        "/api/v1/comments", data={**FORM, "return_to": return_to}, follow_redirects=False
    )
    assert answer.status_code == 422
    assert "Die Rücksprungadresse gehört nicht zu dieser Website." in answer.text
    assert "evil.example" not in answer.headers.get("location", "")
    assert stored(client) == []


def test_form_post_may_return_to_an_allowed_origin(make_client):
    client = make_client(FEEDBACK_ALLOWED_ORIGINS="https://handbuch.example.org")
    answer = client.post(
        "/api/v1/comments", data={**FORM, "return_to": "https://handbuch.example.org/2.0/"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "https://handbuch.example.org/2.0/#fb-ok-qualitaetskultur"


# -- Bad input: the right code, a German message, nothing stored -----------------------

BAD_JSON_FIELDS = [
    ({"text": "   "}, "text_required", "text", "Bitte schreiben Sie einen Text."),
    ({"text": None}, "text_required", "text", None),
    ({"text": "x" * 5001}, "text_too_long", "text", "höchstens 5000 Zeichen"),
    ({"author": "a" * 81}, "author_too_long", "author", "höchstens 80 Zeichen"),
    ({"email": "e" * 243 + "@example.org"}, "email_too_long", "email", "höchstens 254"),
    ({"email": "keine adresse"}, "invalid_email", "email", "E-Mail-Adresse"),
    ({"text": 42}, "invalid_type", "text", "muss Text sein"),
    ({"section": ["a"]}, "invalid_type", "section", "muss Text sein"),
    ({"section": ""}, "section_required", "section", None),
    ({"version": ""}, "version_required", "version", None),
    ({"section": "gibt-es-nicht"}, "unknown_section", "section", "gibt-es-nicht"),
    ({"section": "altes-kapitel"}, "unknown_section", "section", "Ausgabe 2.0"),
    ({"version": "9.9"}, "unknown_version", "version", "9.9"),
    ({"consent": False}, "consent_required", "consent", "zu"),
    ({"consent": "false"}, "consent_required", "consent", None),
    ({"consent": None}, "consent_required", "consent", None),
    ({"text": "Hallo\x00Welt"}, "control_characters", "text", "Steuerzeichen"),
    ({"text": "Hallo \x1b[31mrot"}, "control_characters", "text", None),
    ({"author": "Name\nZweite Zeile"}, "control_characters", "author", None),
    ({"kind": "spam"}, "invalid_kind", "kind", None),
    ({"reply_to": "c_01JZZZZZZZZZZZZZZZZZZZZZZZ"}, "unknown_reply", "reply_to", "existiert nicht"),
    ({"reply_to": "nonsense"}, "unknown_reply", "reply_to", None),
    ({"text": "a https://a.example b http://b.example c www.c.example d https://d.example"},
     "too_many_links", "text", "höchstens 3"),
]


@pytest.mark.parametrize("fields,code,field,message", BAD_JSON_FIELDS)
def test_invalid_field_is_refused_with_422(client, fields, code, field, message):
    answer = submit(client, **fields)
    assert_error(answer, 422, code, field, message)
    assert stored(client) == []


def test_missing_consent_field_is_refused(client):
    body = {key: value for key, value in VALID.items() if key != "consent"}
    assert_error(client.post("/api/v1/comments", json=body), 422, "consent_required", "consent")
    assert stored(client) == []


BAD_BODIES = [
    (b'{"text": ', "application/json", 400, "invalid_json", "kein gültiges JSON"),
    (b"[1, 2]", "application/json", 400, "invalid_json", "JSON-Objekt"),
    (b'{"text": "\xff\xfe"}', "application/json", 400, "invalid_encoding", "UTF-8"),
    (b"text=%FF%FE&section=x", "application/x-www-form-urlencoded", 400, "invalid_encoding",
     None),
    (b"text=hallo", "text/plain", 415, "unsupported_media_type", "application/json"),
    (b"--x\r\n", "multipart/form-data; boundary=x", 415, "unsupported_media_type", None),
    (b"{}", "application/json; charset=latin-1", 415, "unsupported_media_type", "UTF-8"),
    (b"{}", None, 415, "unsupported_media_type", None),
    (b'{"text": "' + b"x" * (64 * 1024) + b'"}', "application/json", 413, "body_too_large",
     "64 KiB"),
]


@pytest.mark.parametrize("body,content_type,status,code,message", BAD_BODIES)
def test_malformed_body_is_refused(client, body, content_type, status, code, message):
    headers = {"Content-Type": content_type} if content_type else {}
    answer = client.post("/api/v1/comments", content=body, headers=headers)
    if content_type == "application/x-www-form-urlencoded":
        assert answer.status_code == status
        assert answer.headers["content-type"].startswith("text/html")
        assert "ungültig kodierte Zeichen" in answer.text
    else:
        assert_error(answer, status, code, None, message)
    assert stored(client) == []


def test_oversize_body_without_content_length_is_refused(client):
    def chunks():
        for _ in range(80):
            yield b"x" * 1024

    answer = client.post(
        "/api/v1/comments", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_error(answer, 413, "body_too_large")
    assert stored(client) == []


def test_foreign_origin_is_refused(client):
    answer = client.post(
        "/api/v1/comments", json=VALID, headers={"Origin": "https://evil.example"}
    )
    assert_error(answer, 403, "foreign_origin", None, "fremder Origin")
    assert stored(client) == []
    assert client.post(
        "/api/v1/comments", json=VALID, headers={"Origin": "null"}
    ).status_code == 403
    assert stored(client) == []


def test_own_and_allowed_origins_pass_with_cors_for_allowed(make_client):
    client = make_client(FEEDBACK_ALLOWED_ORIGINS="https://handbuch.example.org")
    own = client.post("/api/v1/comments", json=VALID, headers={"Origin": "http://testserver"})
    assert own.status_code == 202
    assert "access-control-allow-origin" not in own.headers
    allowed = client.post(
        "/api/v1/comments", json=VALID, headers={"Origin": "https://handbuch.example.org"}
    )
    assert allowed.status_code == 202
    assert allowed.headers["access-control-allow-origin"] == "https://handbuch.example.org"
    preflight = client.options("/api/v1/comments", headers={
        "Origin": "https://handbuch.example.org", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, idempotency-key",
    })
    assert preflight.status_code == 204
    assert "Idempotency-Key" in preflight.headers["access-control-allow-headers"]
    assert len(stored(client)) == 2


def test_honeypot_is_answered_like_success_and_stores_nothing(client):
    answer = submit(client, website="http://spam.example")
    assert answer.status_code == 202
    assert set(answer.json()) == {"id", "status", "delete_token"}
    form = client.post(
        "/api/v1/comments", data={**FORM, "website": "spam"}, follow_redirects=False
    )
    assert form.status_code == 303
    assert form.headers["location"].endswith("#fb-ok-qualitaetskultur")
    assert stored(client) == []


def test_no_input_causes_a_server_error(client):
    weird = [
        {"section": {"$gt": ""}}, {"text": {"a": 1}}, {"consent": [True]}, {"kind": 1},
        {"reply_to": 5}, {"email": True}, {"return_to": 3}, {"website": ["x"]},
        {"text": "\ud800"}, {"section": "a" * 100000},
    ]
    for fields in weird:
        answer = client.post(
            "/api/v1/comments", content=json.dumps({**VALID, **fields}),
            headers={"Content-Type": "application/json"},
        )
        assert 200 <= answer.status_code < 500, (fields, answer.text)
    for path in ("/api/v1/comments/%00", "/api/v1/admin/comments/x/approve", "/api/v1/x",
                 "/api/v1/comments?section=%FF"):
        assert client.get(path, headers=ADMIN).status_code < 500
    assert all(row["status"] == "pending" for row in stored(client))


# -- Corrections -------------------------------------------------------------------

def test_correction_needs_no_consent_and_is_never_published(client):
    answer = submit(client, kind="correction", consent=None, text="Tippfehler: Qualitäts-Kultur")
    assert answer.status_code == 202
    comment_id = answer.json()["id"]
    refused = client.post(f"/api/v1/admin/comments/{comment_id}/approve", headers=ADMIN)
    assert_error(refused, 409, "correction_not_publishable", None, "nie veröffentlicht")
    assert public(client) == []
    export = client.get("/api/v1/admin/export", headers=ADMIN).json()
    assert export["changes"] == []
    [listed] = client.get("/api/v1/admin/corrections", headers=ADMIN).json()["corrections"]
    assert listed["id"] == comment_id
    report = client.get("/api/v1/admin/corrections?format=markdown", headers=ADMIN)
    assert report.headers["content-type"].startswith("text/markdown")
    assert "## 3.2 Qualitätskultur" in report.text
    assert "> Tippfehler: Qualitäts-Kultur" in report.text


# -- Replies -------------------------------------------------------------------------

def test_reply_to_a_published_comment_of_the_same_section(client):
    parent = submit(client).json()["id"]
    assert_error(submit(client, reply_to=parent), 422, "unknown_reply", "reply_to")
    approve(client, parent)
    answer = submit(client, reply_to=parent, text="Antwort")
    assert answer.status_code == 202
    approve(client, answer.json()["id"])
    assert [c["reply_to"] for c in public(client)] == [None, parent]
    other = submit(client, section="registermodernisierung", reply_to=parent)
    assert_error(other, 422, "unknown_reply", "reply_to")
    assert client.delete(f"/api/v1/admin/comments/{parent}", headers=ADMIN).status_code == 200
    assert [c["reply_to"] for c in public(client)] == [None]


# -- Idempotency -----------------------------------------------------------------------

def test_retry_with_the_same_idempotency_key_replays_the_first_answer(client):
    headers = {"Idempotency-Key": "7f7c1c5e-retry"}
    first = client.post("/api/v1/comments", json=VALID, headers=headers)
    again = client.post("/api/v1/comments", json=VALID, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert len(stored(client)) == 1
    other = client.post(
        "/api/v1/comments", json={**VALID, "text": "Etwas anderes"}, headers=headers
    )
    assert_error(other, 422, "idempotency_key_reused", None, "andere Anfrage")
    assert len(stored(client)) == 1
    token = first.json()["delete_token"]
    assert client.delete(f"/api/v1/comments/{first.json()['id']}",
                         headers={"X-Delete-Token": token}).status_code == 200


def test_idempotency_key_never_stores_the_delete_token_in_plain_text(client, service_env):
    answer = client.post("/api/v1/comments", json=VALID, headers={"Idempotency-Key": "k-1"})
    token = answer.json()["delete_token"]
    from feedback_service import db

    with db.Database(service_env["FEEDBACK_DATABASE_URL"]).session(write=False) as conn:
        rows = conn.all("SELECT * FROM idempotency_keys") + conn.all("SELECT * FROM comments")
    assert rows and token not in json.dumps(rows) and "k-1" not in json.dumps(rows)


def test_concurrent_retries_create_one_comment(client):
    answers = []

    def send():
        answers.append(client.post(
            "/api/v1/comments", json=VALID, headers={"Idempotency-Key": "same-key-concurrent"}
        ))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {answer.status_code for answer in answers} == {202}
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert len(stored(client)) == 1


def test_invalid_idempotency_key_is_refused(client):
    answer = client.post("/api/v1/comments", json=VALID, headers={"Idempotency-Key": "a b"})
    assert_error(answer, 400, "invalid_idempotency_key")
    assert stored(client) == []


# -- The author deletes ------------------------------------------------------------------

@pytest.mark.parametrize("how", ["header", "json"])
def test_author_deletes_own_comment_with_the_token(client, how):
    body = submit(client).json()
    approve(client, body["id"])
    cursor = client.get("/api/v1/admin/export", headers=ADMIN).json()["cursor"]
    url = f"/api/v1/comments/{body['id']}"
    wrong = client.delete(url, headers={"X-Delete-Token": "falsch"})
    assert_error(wrong, 404, "not_found", "token")
    assert len(public(client)) == 1
    if how == "header":
        answer = client.delete(url, headers={"X-Delete-Token": body["delete_token"]})
    else:
        answer = client.request("DELETE", url, json={"token": body["delete_token"]})
    assert answer.status_code == 200
    assert answer.json() == {"id": body["id"], "status": "deleted"}
    assert public(client) == [] and stored(client) == []
    changes = client.get(f"/api/v1/admin/export?since={cursor}", headers=ADMIN).json()["changes"]
    assert changes == [{"op": "delete", "id": body["id"]}]
    assert_error(client.delete(url, headers={"X-Delete-Token": body["delete_token"]}),
                 404, "not_found", "token")


def test_a_wrong_token_tells_nothing_about_which_comments_exist(client):
    existing = submit(client).json()["id"]
    missing = "c_" + "0" * 26
    answers = [client.delete(f"/api/v1/comments/{comment_id}", headers={"X-Delete-Token": "falsch"})
               for comment_id in (existing, missing)]
    assert answers[0].status_code == answers[1].status_code == 404
    assert answers[0].json() == answers[1].json()
    assert len(stored(client)) == 1


def test_a_token_in_the_query_string_is_not_accepted(client):
    body = submit(client).json()
    answer = client.delete(f"/api/v1/comments/{body['id']}", params={"token": body["delete_token"]})
    assert_error(answer, 401, "token_required", "token")
    assert len(stored(client)) == 1


def test_delete_without_token_is_refused(client):
    comment_id = submit(client).json()["id"]
    assert_error(client.delete(f"/api/v1/comments/{comment_id}"), 401, "token_required", "token")
    assert len(stored(client)) == 1


# -- Admin ---------------------------------------------------------------------------------

@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer falsch"},
                                     {"Authorization": "Basic dGVzdA=="},
                                     {"Authorization": "Bearer"}])
def test_admin_calls_need_the_token(client, headers):
    comment_id = submit(client).json()["id"]
    for method, path in (
        ("GET", "/api/v1/admin/comments?status=pending"),
        ("POST", f"/api/v1/admin/comments/{comment_id}/approve"),
        ("POST", f"/api/v1/admin/comments/{comment_id}/reject"),
        ("DELETE", f"/api/v1/admin/comments/{comment_id}"),
        ("GET", "/api/v1/admin/corrections"),
        ("GET", "/api/v1/admin/export"),
    ):
        answer = client.request(method, path, headers=headers)
        assert_error(answer, 401, "unauthorized", None, "Bearer")
        assert answer.headers["www-authenticate"].startswith("Bearer")
    assert [row["status"] for row in stored(client)] == ["pending"]


def test_admin_is_off_without_a_configured_token(make_client):
    client = make_client(FEEDBACK_ADMIN_TOKEN="")
    answer = client.get("/api/v1/admin/comments", headers={"Authorization": "Bearer "})
    assert_error(answer, 503, "admin_disabled", None, "FEEDBACK_ADMIN_TOKEN")


def test_list_by_status_and_moderation_transitions(client):
    ids = [submit(client, text=f"Kommentar {n}").json()["id"] for n in range(3)]
    approve(client, ids[0])
    assert client.post(f"/api/v1/admin/comments/{ids[1]}/reject", headers=ADMIN).json() == {
        "id": ids[1], "status": "rejected"}
    by_status = {
        status: [row["id"] for row in client.get(
            f"/api/v1/admin/comments?status={status}", headers=ADMIN).json()["comments"]]
        for status in ("pending", "approved", "rejected")
    }
    assert by_status == {"pending": [ids[2]], "approved": [ids[0]], "rejected": [ids[1]]}
    assert_error(client.get("/api/v1/admin/comments?status=alle", headers=ADMIN),
                 422, "invalid_status", "status")
    missing = "c_01JZZZZZZZZZZZZZZZZZZZZZZZ"
    assert_error(client.post(f"/api/v1/admin/comments/{missing}/approve", headers=ADMIN),
                 404, "not_found")
    assert client.delete(f"/api/v1/admin/comments/{ids[2]}", headers=ADMIN).status_code == 200
    assert {row["id"] for row in stored(client)} == {ids[0], ids[1]}


def test_export_gives_the_sync_every_change_once_in_order(client):
    first, second, third = (submit(client, text=f"K{n}").json()["id"] for n in range(3))
    empty = client.get("/api/v1/admin/export", headers=ADMIN).json()
    database = empty.pop("database")
    assert len(database) == 32
    assert empty == {"cursor": "0", "full": True, "complete": True, "changes": []}
    approve(client, first)
    approve(client, second)
    full = client.get("/api/v1/admin/export?since=0", headers=ADMIN).json()
    assert full["full"] is True and full["complete"] is True
    assert [c["comment"]["id"] for c in full["changes"]] == [first, second]
    assert set(full["changes"][0]["comment"]) == {
        "id", "section", "version", "author", "text", "created", "reply_to", "role"}
    cursor = full["cursor"]
    nothing = client.get(f"/api/v1/admin/export?since={cursor}", headers=ADMIN).json()
    assert nothing == {"database": database, "cursor": cursor, "full": False, "complete": True,
                       "changes": []}

    client.post(f"/api/v1/admin/comments/{first}/reject", headers=ADMIN)
    approve(client, third)
    step = client.get(f"/api/v1/admin/export?since={cursor}", headers=ADMIN).json()
    assert step["changes"] == [
        {"op": "delete", "id": first},
        {"op": "upsert", "comment": public(client)[-1]},
    ]
    assert int(step["cursor"]) > int(cursor)
    assert_error(client.get("/api/v1/admin/export?since=abc", headers=ADMIN),
                 422, "invalid_cursor", "since")


def test_export_pages_through_a_long_change_log(service_env, client):
    from feedback_service import db, moderation

    ids = [submit(client, text=f"K{n}").json()["id"] for n in range(5)]
    for comment_id in ids:
        approve(client, comment_id)
    seen, cursor = [], "1"
    database = db.Database(service_env["FEEDBACK_DATABASE_URL"])
    while True:
        with database.session(write=False) as conn:
            page = moderation.export(conn, int(cursor), limit=2)
        seen += [change["comment"]["id"] for change in page["changes"]]
        cursor = page["cursor"]
        if page["complete"]:
            break
    assert seen == ids[1:]


# -- Rate limit ------------------------------------------------------------------------------

def test_rate_limit_answers_429_with_retry_after(make_client):
    client = make_client(FEEDBACK_RATE_LIMIT="2/600")
    assert [submit(client).status_code for _ in range(2)] == [202, 202]
    answer = submit(client)
    assert_error(answer, 429, "rate_limited", None, "Zu viele Kommentare")
    assert 590 <= int(answer.headers["retry-after"]) <= 600
    form = client.post("/api/v1/comments", data=FORM, follow_redirects=False)
    assert form.status_code == 429 and "Zu viele Kommentare" in form.text
    assert len(stored(client)) == 2
    spoofed = client.post(
        "/api/v1/comments", json=VALID, headers={"X-Forwarded-For": "198.51.100.9"}
    )
    assert spoofed.status_code == 429


def test_forwarded_address_counts_only_behind_a_trusted_proxy(make_client):
    client = make_client(
        peer=("10.0.0.5", 4711), FEEDBACK_RATE_LIMIT="1/600",
        FEEDBACK_TRUSTED_PROXIES="10.0.0.0/24",
    )
    for reader in ("198.51.100.1", "198.51.100.2"):
        answer = client.post("/api/v1/comments", json=VALID,
                             headers={"X-Forwarded-For": f"{reader}, 10.0.0.7"})
        assert answer.status_code == 202
    again = client.post("/api/v1/comments", json=VALID,
                        headers={"X-Forwarded-For": "198.51.100.1"})
    assert again.status_code == 429


# -- Editions, site, documents --------------------------------------------------------------

def test_new_edition_is_picked_up_without_restart(client, site_dir):
    assert_error(submit(client, version="3.0"), 422, "unknown_version", "version")
    write_manifest(site_dir / "3.0", "3.0", [{"id": "neu", "number": "1.1", "title": "Neu",
                                              "doc": "a", "url": "a.html#neu"}])
    time.sleep(1.1)
    assert submit(client, version="3.0", section="neu").status_code == 202


def test_site_dir_may_be_a_single_build(make_client, tmp_path):
    build = tmp_path / "html"
    write_manifest(build, "2.1", [{"id": "nur-hier", "number": "1.1", "title": "T", "doc": "d",
                                   "url": "d.html#nur-hier"}])
    (build / "index.html").write_text("<title>Build</title>", encoding="utf-8")
    client = make_client(FEEDBACK_SITE_DIR=str(build))
    assert submit(client, version="2.1", section="nur-hier").status_code == 202
    assert "<title>Build</title>" in client.get("/").text


def test_serves_the_site(client):
    root = client.get("/")
    assert root.status_code == 200 and "url=latest/" in root.text
    chapter = client.get("/2.0/kapitel-03/")
    assert chapter.status_code == 200 and 'id="qualitaetskultur"' in chapter.text
    manifest = client.get("/2.0/_feedback/sections.json").json()
    assert manifest["version"] == "2.0"
    missing = client.get("/2.0/gibt-es-nicht.html")
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]


def test_missing_site_keeps_the_api_running(make_client, tmp_path):
    client = make_client(FEEDBACK_SITE_DIR=str(tmp_path / "nicht-gebaut"))
    assert client.get("/api/v1/health").json() == {"status": "ok"}
    assert_error(submit(client), 422, "unknown_section", "section", "sections.json")
    page = client.get("/")
    assert page.status_code == 404 and "make site" in page.text


def test_unknown_api_paths_and_methods_answer_json(client):
    assert_error(client.get("/api/v1/nirgends"), 404, "not_found")
    assert_error(client.put("/api/v1/comments", json={}), 405, "method_not_allowed")
    assert_error(client.get("/api/v1/comments"), 422, "section_required", "section")


def test_openapi_describes_every_route_and_the_error_schema(client):
    from feedback_service.app import ROUTES

    document = client.get("/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.")
    for route in ROUTES:
        if "{rest:path}" in route.path:
            continue
        operations = document["paths"][route.path]
        for method in route.methods - {"HEAD"}:
            assert method.lower() in operations, (route.path, method)
    error = document["components"]["schemas"]["Error"]["properties"]["error"]
    assert set(error["required"]) == {"code", "message", "field"}


def test_public_list_follows_moderation_at_once(client):
    ids = [submit(client, text=f"K{n}").json()["id"] for n in range(2)]
    assert public(client) == []
    approve(client, ids[0])
    assert [c["id"] for c in public(client)] == ids[:1]
    approve(client, ids[1])
    assert [c["id"] for c in public(client)] == ids
    client.post(f"/api/v1/admin/comments/{ids[0]}/reject", headers=ADMIN)
    assert [c["id"] for c in public(client)] == ids[1:]
    assert public(client, "registermodernisierung") == []


def test_a_sections_comments_are_revalidated_and_fresh_in_every_process_after_an_approval(make_client):
    """One process approves; another, which answered before, has the comment on the very next request."""
    editor, reader = make_client(), make_client()  # two processes of one service
    comment_id = submit(editor).json()["id"]
    url = "/api/v1/comments?section=qualitaetskultur"
    before = reader.get(url)
    assert before.json() == {"comments": []}
    assert before.headers["Cache-Control"] == "no-cache" and before.headers["ETag"]
    unchanged = reader.get(url, headers={"If-None-Match": before.headers["ETag"]})
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert unchanged.headers["ETag"] == before.headers["ETag"]
    assert "default-src 'none'" in unchanged.headers["Content-Security-Policy"]
    approve(editor, comment_id)
    after = reader.get(url, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert [comment["id"] for comment in after.json()["comments"]] == [comment_id]
    assert after.headers["ETag"] != before.headers["ETag"]
    assert reader.get(url, headers={"If-None-Match": f'"x", W/{after.headers["ETag"]}'}).status_code == 304


def test_the_plain_read_of_a_sections_comments_answers_as_the_whole_app_does(client, monkeypatch):
    """Readers' pages read without an Origin header and take the fast lane; its answer is the app's own."""
    from feedback_service.app import PublicCommentsLane

    taken = []
    lane = PublicCommentsLane._answer
    monkeypatch.setattr(PublicCommentsLane, "_answer", lambda self, scope: taken.append(lane(self, scope)) or taken[-1])
    approve(client, submit(client).json()["id"])
    url = "/api/v1/comments?section=qualitaetskultur"
    same_origin = {"Origin": "http://testserver"}  # the same read through the whole app
    plain, whole = client.get(url), client.get(url, headers=same_origin)
    assert plain.status_code == whole.status_code == 200
    assert plain.headers.raw == whole.headers.raw
    assert plain.content == whole.content and len(plain.json()["comments"]) == 1
    tag = {"If-None-Match": plain.headers["ETag"]}
    unchanged, whole_unchanged = client.get(url, headers=tag), client.get(url, headers={**tag, **same_origin})
    assert unchanged.status_code == whole_unchanged.status_code == 304
    assert unchanged.headers.raw == whole_unchanged.headers.raw and unchanged.content == b""
    sqlite = client.app.state.service.db.dialect == "sqlite"
    assert [answer is not None for answer in taken] == [sqlite, False, sqlite, False]
    # What the lane does not take, the app answers as always.
    assert_error(client.get("/api/v1/comments?section=gibt-es-nicht"), 422, "unknown_section", "section")
    assert_error(client.get("/api/v1/comments?section="), 422, "section_required", "section")
    assert client.get(url + "&section=registermodernisierung").json() == {"comments": []}
    assert client.head(url).status_code == 200
    assert not any(taken[4:])


# -- Barrier reports, delete tokens across instances ------------------------------------------

def test_barrier_report_needs_no_consent_and_is_never_published(client):
    answer = submit(client, kind="barrier", consent=None, text="Die Tabelle hat keine Kopfzeilen.")
    assert answer.status_code == 202, answer.text
    comment_id = answer.json()["id"]
    refused = client.post(f"/api/v1/admin/comments/{comment_id}/approve", headers=ADMIN)
    assert_error(refused, 409, "barrier_not_publishable", None, "nie veröffentlicht")
    listed = client.get("/api/v1/admin/comments?kind=barrier", headers=ADMIN).json()["comments"]
    assert [row["id"] for row in listed] == [comment_id]
    assert public(client) == []
    assert_error(submit(client, kind="barrier", reply_to=comment_id), 422, "unknown_reply", "reply_to")


def test_a_retry_answered_by_another_instance_gives_the_same_working_delete_token(make_client):
    first = make_client()
    other = make_client(FEEDBACK_SECRET="test-secret-of-the-service")
    answer = first.post("/api/v1/comments", json=VALID, headers={"Idempotency-Key": "retry-1"})
    again = other.post("/api/v1/comments", json=VALID, headers={"Idempotency-Key": "retry-1"})
    assert again.json() == answer.json()
    assert len(stored(first)) == 1
    url = f"/api/v1/comments/{answer.json()['id']}"
    elsewhere = make_client(FEEDBACK_SECRET="another-secret").post("/api/v1/comments", json=VALID).json()
    assert_error(other.delete(url, headers={"X-Delete-Token": elsewhere["delete_token"]}), 404, "not_found",
                 "token")
    assert other.delete(url, headers={"X-Delete-Token": again.json()["delete_token"]}).status_code == 200


def test_without_a_configured_secret_the_first_start_makes_a_private_one(make_client, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    token = make_client(FEEDBACK_SECRET="").post("/api/v1/comments", json=VALID).json()["delete_token"]
    secret = tmp_path / "var" / "feedback-secret"
    assert secret.stat().st_mode & 0o777 == 0o600 and len(secret.read_text().strip()) >= 32
    assert token not in secret.read_text()
    replay = make_client(FEEDBACK_SECRET="").post("/api/v1/comments", json=VALID, headers={"Idempotency-Key": "k"})
    again = make_client(FEEDBACK_SECRET="").post("/api/v1/comments", json=VALID, headers={"Idempotency-Key": "k"})
    assert replay.json() == again.json()


def test_forwarded_scheme_counts_only_behind_a_trusted_proxy(make_client):
    behind = make_client(peer=("10.0.0.5", 4711), FEEDBACK_TRUSTED_PROXIES="10.0.0.0/24")
    headers = {"Origin": "https://testserver", "X-Forwarded-Proto": "https"}
    assert behind.post("/api/v1/comments", json=VALID, headers=headers).status_code == 202
    direct = make_client(peer=("198.51.100.7", 4711), FEEDBACK_TRUSTED_PROXIES="10.0.0.0/24")
    assert_error(direct.post("/api/v1/comments", json=VALID, headers=headers), 403, "foreign_origin")
