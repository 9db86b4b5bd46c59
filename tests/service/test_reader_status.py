"""A reader's own status page and withdrawal, reached with the delete token, never through a URL."""

from __future__ import annotations

import time
from http.cookies import SimpleCookie

import pytest
from bs4 import BeautifulSoup

from feedback_service import db
from feedback_service.reader_status import COOKIE, Claim, csrf_token

from .conftest import ADMIN
from .test_api import FORM, VALID, approve, stored, submit

STATUS = "/rueckmeldung/status"
WITHDRAW = "/rueckmeldung/zurueckziehen"
SECRET = "test-secret-of-the-service"  # FEEDBACK_SECRET of the test service


def post_by_form(client, **fields):
    return client.post("/api/v1/comments", data={**FORM, **fields}, follow_redirects=False)


def set_cookie_of(answer) -> SimpleCookie:
    cookie = SimpleCookie()
    for header in answer.headers.get_list("set-cookie"):
        cookie.load(header)
    return cookie


def status(client, comment_id: str = "", token: str = "", **headers: str):
    return client.post(STATUS, data={"id": comment_id, "token": token}, headers=headers)


def page(answer) -> BeautifulSoup:
    return BeautifulSoup(answer.text, "html.parser")


def withdraw_forms(answer) -> dict[str, dict[str, str]]:
    """The withdraw forms of a status page: {comment id: its hidden fields}."""
    forms = {}
    for form in page(answer).select(f'form[action="{WITHDRAW}"]'):
        fields = {field["name"]: field["value"] for field in form.select("input[type=hidden]")}
        forms[fields["id"]] = fields
    return forms


def message_texts(answer) -> list[str]:
    return [" ".join(article.get_text().split()) for article in page(answer).select("article")]


# -- The cookie of a form post ------------------------------------------------------------------

def test_a_form_post_sets_the_fb_own_cookie_a_json_post_does_not(client):
    answer = post_by_form(client)
    assert answer.status_code == 303
    headers = answer.headers.get_list("set-cookie")
    paths = []
    for header in headers:
        attributes = {part.strip().split("=")[0].lower(): part.strip() for part in header.split(";")}
        paths.append(attributes["path"])
        assert attributes["max-age"] == "Max-Age=2592000"
        assert attributes["samesite"].lower() == "samesite=strict"
        assert "httponly" in attributes and "secure" not in attributes
    # The status page's copy, and one where the next post adds to it.
    assert paths == ["Path=/rueckmeldung/", "Path=/api/v1/comments"]
    [row] = stored(client)
    assert set_cookie_of(answer)[COOKIE].value.startswith(f"{row['id']}.")
    assert submit(client).headers.get("set-cookie") is None


def test_the_cookie_is_secure_over_https(make_client):
    client = make_client()
    client.base_url = "https://testserver"
    answer = post_by_form(client, return_to="https://testserver/2.0/kapitel-03/index.html")
    assert answer.status_code == 303
    assert "secure" in answer.headers["set-cookie"].lower()


def test_the_cookie_keeps_the_newest_five(client):
    for n in range(7):
        assert post_by_form(client, text=f"Nachricht {n}").status_code == 303
    shown = message_texts(status(client))
    assert [next(n for n in range(7) if f"Nachricht {n}" in text) for text in shown] == [6, 5, 4, 3, 2]


# -- The status page ------------------------------------------------------------------------------

def test_the_status_page_with_the_scripts_fields(client):
    body = submit(client, text="Mein Hinweis zur Qualitätskultur.").json()
    answer = status(client, body["id"], body["delete_token"])
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["content-type"].startswith("text/html")
    assert page(answer).html["lang"] == "de"
    [text] = message_texts(answer)
    assert "Mein Hinweis zur Qualitätskultur." in text
    assert "Kommentar vom" in text and "3.2 Qualitätskultur" in text and "Ausgabe 2.0" in text
    assert "Stand: wartet auf Prüfung" in text
    # The token stays in the body: no link or form address carries it.
    for element in page(answer).select("[href], [action]"):
        assert body["delete_token"] not in (element.get("href") or element.get("action"))


def test_the_status_page_with_the_cookie_only(client):
    post_by_form(client, text="Ohne JavaScript geschrieben.")
    answer = status(client)
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    [text] = message_texts(answer)
    assert "Ohne JavaScript geschrieben." in text and "wartet auf Prüfung" in text


def test_each_status_in_words(client):
    post_by_form(client, text="Wird freigegeben.")
    post_by_form(client, text="Wird abgelehnt.")
    post_by_form(client, kind="correction", consent="", text="Tippfehler in 3.2.")
    post_by_form(client, version="1.0", text="Zur alten Ausgabe, wird freigegeben.")
    ids = {row["text"]: row["id"] for row in stored(client)}
    approve(client, ids["Wird freigegeben."])
    approve(client, ids["Zur alten Ausgabe, wird freigegeben."])
    assert client.post(f"/api/v1/admin/comments/{ids['Wird abgelehnt.']}/reject", headers=ADMIN).status_code == 200
    answer = status(client)
    by_text = {next(key for key in ids if key in text): text for text in message_texts(answer)}
    assert len(by_text) == 4
    assert "Stand: veröffentlicht" in by_text["Wird freigegeben."]
    assert "Stand: nicht veröffentlicht" in by_text["Wird abgelehnt."]
    assert "Begründung der Redaktion" not in by_text["Wird abgelehnt."]
    assert "Fehlermeldung vom" in by_text["Tippfehler in 3.2."]
    assert "liest nur die Redaktion" in by_text["Tippfehler in 3.2."]
    assert "liest nur die Redaktion" not in by_text["Wird freigegeben."]
    links = {link.get_text(): link["href"] for link in page(answer).select("article a")}
    assert links == {
        "zum Abschnitt in Ausgabe 2.0": "/2.0/kapitel-03/index.html#qualitaetskultur",
        "zum Abschnitt in Ausgabe 1.0": "/1.0/kapitel-02/index.html#qualitaetskultur",
    }


def test_the_editors_reason_is_shown_when_they_gave_one(client, service_env):
    body = submit(client, text="Wird mit Grund abgelehnt.").json()
    assert client.post(f"/api/v1/admin/comments/{body['id']}/reject", headers=ADMIN).status_code == 200
    with db.Database(service_env["FEEDBACK_DATABASE_URL"]).session() as conn:
        if "reason" not in db.get_comment(conn, body["id"]):
            # The editors' workspace keeps a rejection's reason in this column (its migration).
            conn.execute("ALTER TABLE comments ADD COLUMN reason TEXT NOT NULL DEFAULT ''")
        conn.execute("UPDATE comments SET reason = ? WHERE id = ?",
                     ("Werbung für ein <b>Produkt</b>.", body["id"]))
    answer = status(client, body["id"], body["delete_token"])
    [text] = message_texts(answer)
    assert "Stand: nicht veröffentlicht" in text
    assert "Begründung der Redaktion: Werbung für ein <b>Produkt</b>." in text
    assert "<b>Produkt</b>" not in answer.text  # escaped, shown as written


def test_a_wrong_token_and_a_wrong_id_are_one_404(client):
    body = submit(client).json()
    other = submit(client).json()
    answers = [
        status(client, body["id"], "0" * 64),
        status(client, body["id"], other["delete_token"]),
        status(client, "c_00000000000000000000000000", body["delete_token"]),
        status(client, body["id"], ""),
        status(client),  # no fields, no cookie
    ]
    assert {answer.status_code for answer in answers} == {404}
    assert len({answer.text for answer in answers}) == 1
    assert "Keine Nachricht gefunden" in answers[0].text
    assert all(answer.headers["cache-control"] == "no-store" for answer in answers)


def test_a_forged_cookie_shows_nothing(client):
    body = submit(client).json()
    client.cookies.set(COOKIE, f"{body['id']}.{'0' * 64}", path="/rueckmeldung/")
    assert status(client).status_code == 404


def test_the_status_page_refuses_a_foreign_origin_and_accepts_the_sites(make_client):
    client = make_client(FEEDBACK_ALLOWED_ORIGINS="https://handbuch.example.org")
    body = submit(client).json()
    foreign = status(client, body["id"], body["delete_token"], Origin="https://evil.example")
    assert foreign.status_code == 403 and "fremden Website" in foreign.text
    assert foreign.headers["cache-control"] == "no-store"
    site = status(client, body["id"], body["delete_token"], Origin="https://handbuch.example.org")
    assert site.status_code == 200


def test_the_pages_carry_the_security_headers(client):
    body = submit(client).json()
    for answer in (status(client, body["id"], body["delete_token"]), status(client)):
        assert answer.headers["content-security-policy"].startswith("default-src 'none'")
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_only_post_opens_the_status_page(client):
    answer = client.get(STATUS)
    assert answer.status_code == 405 and answer.headers["allow"] == "POST"


# -- Withdrawing ----------------------------------------------------------------------------------

def test_withdrawing_with_the_pages_csrf_token_deletes_like_the_author_api(client):
    post_by_form(client, text="Bleibt.")
    post_by_form(client, text="Wird zurückgezogen.")
    ids = {row["text"]: row["id"] for row in stored(client)}
    approve(client, ids["Wird zurückgezogen."])
    cursor = client.get("/api/v1/admin/export", headers=ADMIN).json()["cursor"]
    fields = withdraw_forms(status(client))[ids["Wird zurückgezogen."]]
    assert set(fields) == {"id", "token", "csrf"}
    answer = client.post(WITHDRAW, data=fields)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    assert "Ihre Nachricht ist zurückgezogen" in answer.text
    assert [row["text"] for row in stored(client)] == ["Bleibt."]
    export = client.get(f"/api/v1/admin/export?since={cursor}", headers=ADMIN).json()
    assert export["changes"] == [{"op": "delete", "id": ids["Wird zurückgezogen."]}]
    # The cookie forgets it; the other message is still listed.
    assert page(answer).select_one(f'form[action="{STATUS}"] button').get_text() == "Meine anderen Nachrichten"
    [text] = message_texts(status(client))
    assert "Bleibt." in text
    again = client.post(WITHDRAW, data=fields)
    assert again.status_code == 404 and "Keine Nachricht gefunden" in again.text


def test_withdrawing_the_last_one_deletes_the_cookie(client):
    post_by_form(client)
    fields = next(iter(withdraw_forms(status(client)).values()))
    answer = client.post(WITHDRAW, data=fields)
    assert answer.status_code == 200
    assert 'Max-Age=0' in answer.headers["set-cookie"] and "Path=/rueckmeldung/" in answer.headers["set-cookie"]
    assert stored(client) == []


@pytest.mark.parametrize("csrf", [
    None,
    "",
    "kein-token",
    "1.{}".format("0" * 64),
    "expired",
    "of-another-message",
])
def test_withdrawing_without_a_valid_csrf_token_is_refused(client, csrf):
    body = submit(client).json()
    other = submit(client).json()
    fields = {"id": body["id"], "token": body["delete_token"]}
    if csrf == "expired":
        csrf = csrf_token(SECRET, Claim(body["id"], body["delete_token"]), int(time.time()) - 3 * 3600)
    elif csrf == "of-another-message":
        csrf = csrf_token(SECRET, Claim(other["id"], other["delete_token"]))
    if csrf is not None:
        fields["csrf"] = csrf
    answer = client.post(WITHDRAW, data=fields)
    assert answer.status_code == 403
    assert "Das Formular ist abgelaufen oder ungültig" in answer.text
    assert answer.headers["cache-control"] == "no-store"
    assert len(stored(client)) == 2


def test_withdrawing_with_a_wrong_token_or_id_is_the_same_404(client):
    body = submit(client).json()
    csrf = csrf_token(SECRET, Claim(body["id"], body["delete_token"]))
    wrong_token = client.post(WITHDRAW, data={"id": body["id"], "token": "0" * 64, "csrf": csrf})
    wrong_id = client.post(WITHDRAW, data={"id": "c_00000000000000000000000000", "token": body["delete_token"],
                                           "csrf": csrf})
    assert wrong_token.status_code == wrong_id.status_code == 404
    assert wrong_token.text == wrong_id.text
    assert len(stored(client)) == 1


def test_withdrawing_from_a_foreign_origin_is_refused(client):
    body = submit(client).json()
    fields = {"id": body["id"], "token": body["delete_token"],
              "csrf": csrf_token(SECRET, Claim(body["id"], body["delete_token"]))}
    answer = client.post(WITHDRAW, data=fields, headers={"Origin": "https://evil.example"})
    assert answer.status_code == 403
    assert len(stored(client)) == 1


# -- The public API never takes a role ----------------------------------------------------------

def test_the_public_api_never_accepts_a_role(client):
    assert "role" not in client.get("/api/v1/openapi.json").json()["components"]["schemas"]["Submission"]["properties"]
    by_json = submit(client, role="editors", text="Ich bin die Redaktion (per JSON).")
    by_form = post_by_form(client, role="editors", text="Ich bin die Redaktion (per Formular).")
    assert by_json.status_code == 202 and by_form.status_code == 303
    rows = stored(client)
    assert len(rows) == 2
    for row in rows:
        approve(client, row["id"])
        assert row.get("role", "reader") == "reader"
    for change in client.get("/api/v1/admin/export", headers=ADMIN).json()["changes"]:
        assert change["comment"].get("role", "reader") == "reader"
    for comment in client.get("/api/v1/comments", params={"section": VALID["section"]}).json()["comments"]:
        assert comment.get("role", "reader") == "reader"
