""""War diese Seite hilfreich?": POST /api/v1/ratings as the page sends it, and the editors' counts."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from bs4 import BeautifulSoup
from markdown_it import MarkdownIt

from feedback_formats import MAX_REASON
from feedback_service import db
from feedback_service.openapi import OPENAPI

from .conftest import ADMIN
from .test_api import VALID, assert_error

RATING = {"doc": "kapitel-03/index", "version": "2.0", "helpful": "no", "reason": ""}
PAGE = "/2.0/kapitel-03/index.html#fb-rating"
CHOICE = "Der Text ist schwer verständlich"
FORM_TYPE = {"Content-Type": "application/x-www-form-urlencoded"}


def rate(client, **fields):
    return client.post("/api/v1/ratings", json={**RATING, **fields})


def rate_by_form(client, pairs: list[tuple[str, str]]):
    """A browser's form post: the pairs in their order, a name possibly twice."""
    return client.post("/api/v1/ratings", content=urlencode(pairs), headers=FORM_TYPE, follow_redirects=False)


def form_pairs(*reasons: str, helpful: str = "no", return_to: str = PAGE, **fields: str) -> list[tuple[str, str]]:
    base = {"doc": RATING["doc"], "version": RATING["version"], **fields}
    return [*base.items(), ("helpful", helpful), *(("reason", reason) for reason in reasons),
            ("return_to", return_to)]


def rows(service_env) -> list[dict]:
    with db.Database(service_env["FEEDBACK_DATABASE_URL"]).session(write=False) as conn:
        return conn.all("SELECT * FROM ratings ORDER BY seq")


def counts(client) -> list[dict]:
    answer = client.get("/api/v1/admin/ratings", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    return answer.json()["ratings"]


# -- JSON (the page's script) ----------------------------------------------------------

def test_a_json_rating_is_accepted_and_stored(client, service_env):
    answer = rate(client, reason=f"{CHOICE}: Zu viele Abkürzungen")
    assert answer.status_code == 202
    assert answer.json() == {"status": "received"}
    [row] = rows(service_env)
    assert (row["doc"], row["version"], row["helpful"], row["reason"]) == (
        "kapitel-03/index", "2.0", "no", f"{CHOICE}: Zu viele Abkürzungen")


def test_a_yes_keeps_no_reason(client, service_env):
    assert rate(client, helpful="yes", reason="Ein Grund, der nur ein Nein erklärt").status_code == 202
    assert [(row["helpful"], row["reason"]) for row in rows(service_env)] == [("yes", "")]


# -- Form posts (no JavaScript) --------------------------------------------------------------

@pytest.mark.parametrize("reasons, stored", [
    ((CHOICE, "Zu viele Abkürzungen"), f"{CHOICE}: Zu viele Abkürzungen"),
    ((CHOICE, ""), CHOICE),
    (("", "  Nur freier Text  "), "Nur freier Text"),
    (("",), ""),
    ((), ""),
])
def test_a_form_joins_the_chosen_reason_and_the_free_text(client, service_env, reasons, stored):
    answer = rate_by_form(client, form_pairs(*reasons))
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/2.0/kapitel-03/index.html#fb-rating-ok"
    assert [row["reason"] for row in rows(service_env)] == [stored]


def test_a_form_on_latest_returns_to_latest(client):
    answer = rate_by_form(client, form_pairs(helpful="yes", return_to="/latest/kapitel-03/index.html#fb-rating"))
    assert answer.status_code == 303
    assert answer.headers["location"] == "/latest/kapitel-03/index.html#fb-rating-ok"


def test_a_form_without_return_to_is_thanked_in_german(client):
    answer = client.post("/api/v1/ratings", data={"doc": "kapitel-03/index", "version": "2.0", "helpful": "yes"})
    assert answer.status_code == 202
    assert "Danke für Ihre Rückmeldung" in answer.text


def test_joined_reasons_over_the_limit_are_refused_whole(client, service_env):
    free_text = "x" * (MAX_REASON - len(CHOICE) - 1)  # with ": " one character too many
    answer = rate_by_form(client, form_pairs(CHOICE, free_text))
    assert answer.status_code == 422
    page = BeautifulSoup(answer.text, "html.parser")
    assert page.html["lang"] == "de"
    assert "höchstens 500 Zeichen, eingegeben wurden 501" in page.find(role="alert").get_text()
    assert page.find("a", href=PAGE).get_text() == "Zurück zur Seite"
    assert rows(service_env) == []
    fits = rate_by_form(client, form_pairs(CHOICE, free_text[:-1]))
    assert fits.status_code == 303


# -- Validation ----------------------------------------------------------------------------

@pytest.mark.parametrize("fields, status, code, field, message", [
    ({"doc": "kapitel-99/index"}, 422, "unknown_doc", "doc", "Die Seite „kapitel-99/index“ gibt es in Ausgabe 2.0 nicht."),
    ({"doc": "kapitel-05/index"}, 422, "unknown_doc", "doc", "gibt es in Ausgabe 2.0 nicht"),
    ({"version": "9.9"}, 422, "unknown_version", "version", "Die Ausgabe „9.9“ des Handbuchs gibt es nicht."),
    ({"helpful": "vielleicht"}, 422, "invalid_helpful", "helpful", "„yes“ (Ja) oder „no“ (Nein)"),
    ({"helpful": ""}, 422, "helpful_required", "helpful", "Bitte wählen Sie „Ja“ oder „Nein“."),
    ({"doc": ""}, 422, "doc_required", "doc", "Es fehlt die Seite"),
    ({"reason": "x" * (MAX_REASON + 1)}, 422, "reason_too_long", "reason", "höchstens 500 Zeichen"),
    ({"reason": "Text\x00mit Nullzeichen"}, 422, "control_characters", "reason", "Das Feld „Grund“"),
    ({"reason": ["kein", "Text"]}, 422, "invalid_type", "reason", "muss Text sein"),
])
def test_invalid_ratings_get_a_german_message_at_their_field(client, service_env, fields, status, code, field, message):
    assert_error(rate(client, **fields), status, code, field, message)
    assert rows(service_env) == []


def test_a_page_of_an_older_edition_is_rated_in_that_edition(client):
    assert rate(client, doc="kapitel-05/index", version="1.0").status_code == 202


def test_a_missing_helpful_is_named(client):
    answer = client.post("/api/v1/ratings", json={"doc": "kapitel-03/index", "version": "2.0"})
    assert_error(answer, 422, "helpful_required", "helpful")


def test_a_form_error_is_a_german_page_and_a_foreign_return_to_is_refused(client, service_env):
    answer = rate_by_form(client, form_pairs(doc="gibt-es-nicht"))
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert "Ihre Rückmeldung wurde nicht gesendet" in answer.text
    assert "Die Seite „gibt-es-nicht“ gibt es in Ausgabe 2.0 nicht." in answer.text
    foreign = rate_by_form(client, form_pairs(return_to="https://evil.example/"))
    assert foreign.status_code == 422 and "Rücksprungadresse" in foreign.text
    assert rows(service_env) == []


def test_a_foreign_origin_is_refused(client, service_env):
    answer = client.post("/api/v1/ratings", json=RATING, headers={"Origin": "https://evil.example"})
    assert_error(answer, 403, "foreign_origin")
    assert rows(service_env) == []


# -- Rate limit, privacy ------------------------------------------------------------------------

def test_ratings_are_rate_limited_in_a_window_of_their_own(make_client):
    client = make_client(FEEDBACK_RATE_LIMIT="2/600")
    assert [rate(client).status_code for _ in range(2)] == [202, 202]
    answer = rate(client)
    assert_error(answer, 429, "rate_limited", None, "Zu viele Rückmeldungen")
    assert 590 <= int(answer.headers["retry-after"]) <= 600
    form = rate_by_form(client, form_pairs(CHOICE))
    assert form.status_code == 429 and "Zu viele Rückmeldungen" in form.text
    assert form.headers["retry-after"]
    # Rating pages do not use up the reader's comments.
    assert client.post("/api/v1/comments", json=VALID).status_code == 202


def test_a_rating_stores_nothing_about_the_reader(make_client, service_env):
    client = make_client(peer=("203.0.113.77", 51515), FEEDBACK_RATE_LIMIT="10/600")
    answer = client.post("/api/v1/ratings", json={**RATING, "reason": CHOICE, "email": "a@example.org",
                                                  "author": "Erika Mustermann"},
                         headers={"User-Agent": "Lesebrille/1.0", "Cookie": "fb_own=x"})
    assert answer.status_code == 202
    [row] = rows(service_env)
    assert set(row) == {"seq", "doc", "version", "helpful", "reason", "created"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", row["created"])
    stored = " ".join(str(value) for value in row.values())
    for personal in ("203.0.113", "Lesebrille", "Erika", "example.org"):
        assert personal not in stored


# -- Counts for editors ---------------------------------------------------------------------------

def _rate_a_few(client) -> None:
    for fields in ({"helpful": "yes"}, {"helpful": "yes"}, {"reason": CHOICE}, {"reason": CHOICE},
                   {"reason": "Fehlt: *Beispiele* <b>fett</b> [Link](javascript:alert(1))\nzweite Zeile"},
                   {"doc": "kapitel-05/index", "version": "1.0", "helpful": "yes"}):
        assert rate(client, **fields).status_code == 202


def test_editors_get_counts_per_page_and_edition(client):
    assert client.get("/api/v1/admin/ratings").status_code == 401
    assert counts(client) == []
    _rate_a_few(client)
    assert counts(client) == [
        {"doc": "kapitel-03/index", "version": "2.0", "url": "/2.0/kapitel-03/index.html", "yes": 2, "no": 3,
         "reasons": [{"reason": CHOICE, "count": 2},
                     {"reason": "Fehlt: *Beispiele* <b>fett</b> [Link](javascript:alert(1))\nzweite Zeile",
                      "count": 1}]},
        {"doc": "kapitel-05/index", "version": "1.0", "url": "/1.0/kapitel-05/index.html", "yes": 1, "no": 0,
         "reasons": []},
    ]


def test_the_report_for_the_next_edition_has_the_counts_with_the_readers_words_inert(client):
    empty = client.get("/api/v1/admin/corrections?format=markdown", headers=ADMIN).text
    assert "# War diese Seite hilfreich?\n\nNoch keine Antworten." in empty
    _rate_a_few(client)
    report = client.get("/api/v1/admin/corrections?format=markdown", headers=ADMIN).text
    assert report.startswith("# Gemeldete Fehler")
    section = report[report.index("# War diese Seite hilfreich?"):]
    assert "## Ausgabe 2.0: `kapitel-03/index`\n\nJa: 2, Nein: 3, `/2.0/kapitel-03/index.html`" in section
    assert f"- 2 ×: {CHOICE}" in section
    assert section.index("Ausgabe 2.0") < section.index("Ausgabe 1.0")
    html = MarkdownIt("commonmark").render(section)
    assert "<em>" not in html and "<b>" not in html and "href" not in html
    assert "*Beispiele* &lt;b&gt;fett&lt;/b&gt; [Link](javascript:alert(1)) zweite Zeile" in html


def test_the_openapi_document_declares_the_rating_once(client):
    document = client.get("/api/v1/openapi.json").json()
    schema = document["components"]["schemas"]["Rating"]
    assert schema["properties"]["helpful"]["enum"] == ["yes", "no"]
    assert schema["properties"]["reason"]["maxLength"] == MAX_REASON
    assert set(schema["required"]) == {"doc", "version", "helpful"}
    operation = document["paths"]["/api/v1/ratings"]["post"]
    assert {"202", "303", "422", "429"} <= set(operation["responses"])
    assert document == OPENAPI
