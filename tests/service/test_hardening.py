"""Findings of the outside review: each input below once slipped through; now it does not."""

from __future__ import annotations

import sqlite3

import pytest
from markdown_it import MarkdownIt

from feedback_service.ratelimit import client_network

from .conftest import ADMIN
from .test_api import FORM, VALID, assert_error, stored, submit

# -- Deeply nested JSON ------------------------------------------------------------


@pytest.mark.parametrize("body", ["[" * 5000, '{"text": ' + "[" * 5000 + "]" * 5000 + "}"])
def test_deeply_nested_json_is_a_400_without_a_traceback(client, body, caplog):
    answer = client.post("/api/v1/comments", content=body,
                         headers={"Content-Type": "application/json"})
    assert_error(answer, 400, "invalid_json")
    comment_id = submit(client).json()["id"]
    gone = client.request("DELETE", f"/api/v1/comments/{comment_id}", content=body,
                          headers={"Content-Type": "application/json"})
    assert_error(gone, 400, "invalid_json")
    assert "Traceback" not in caplog.text and "RecursionError" not in caplog.text
    assert len(stored(client)) == 1


# -- Rate limit per client ----------------------------------------------------------

@pytest.mark.parametrize("spellings", [
    ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::9", "2001:DB8:1:2::3",
     "[2001:db8:1:2::4]", "[2001:db8:1:2::5]:443"],
    ["192.0.2.7", "::ffff:192.0.2.7", "::FFFF:192.0.2.7", "[::ffff:192.0.2.7]:8080",
     "192.0.2.7:5000"],
])
def test_every_spelling_of_one_client_shares_one_quota(make_client, spellings):
    clients = [make_client(peer=(spelling, 40000), FEEDBACK_RATE_LIMIT="3/600")
               for spelling in spellings]
    statuses = [clients[n % len(clients)].post("/api/v1/comments", json=VALID).status_code
                for n in range(len(clients))]
    assert statuses[:3] == [202, 202, 202]
    assert set(statuses[3:]) == {429}


def test_neighbouring_networks_keep_their_own_quota(make_client):
    first = make_client(peer=("2001:db8:1:2::1", 1), FEEDBACK_RATE_LIMIT="1/600")
    other = make_client(peer=("2001:db8:1:3::1", 1), FEEDBACK_RATE_LIMIT="1/600")
    assert first.post("/api/v1/comments", json=VALID).status_code == 202
    assert first.post("/api/v1/comments", json=VALID).status_code == 429
    assert other.post("/api/v1/comments", json=VALID).status_code == 202


def test_client_network_normalises():
    assert client_network("2001:DB8::1") == "2001:db8::/64"
    assert client_network("[::ffff:10.0.0.1]:80") == "10.0.0.1"
    assert client_network("10.0.0.1:80") == "10.0.0.1"
    assert client_network("fe80::1%eth0") == "fe80::/64"
    assert client_network("testclient") == "testclient"


def test_the_rate_key_is_not_in_the_database(make_client, service_env):
    url = service_env["FEEDBACK_DATABASE_URL"]
    if not url.startswith("sqlite"):
        pytest.skip("reads the SQLite file as whoever copied it would")
    client = make_client(FEEDBACK_RATE_LIMIT="5/600", FEEDBACK_SECRET="geheim-" + "x" * 20)
    assert client.post("/api/v1/comments", json=VALID).status_code == 202
    with sqlite3.connect(url[len("sqlite:///"):]) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        values = [str(value) for table in tables for row in conn.execute(f"SELECT * FROM {table}")
                  for value in row]
    assert "rate_secrets" not in tables
    assert not any("geheim" in value for value in values)
    # Another secret (another installation) counts the same address apart.
    stranger = make_client(FEEDBACK_RATE_LIMIT="5/600", FEEDBACK_SECRET="anders-" + "y" * 20)
    keys = [client.app.state.service.limiter.client_key("testclient"),
            stranger.app.state.service.limiter.client_key("testclient")]
    assert keys[0] != keys[1]


# -- Invisible characters -------------------------------------------------------------

@pytest.mark.parametrize("name", ["Kämmerei\u202e", "\u200bAnna", "Bürgeramt\u2066x\u2069", "\ufeffJan"])
def test_names_with_format_characters_are_refused(client, name):
    answer = submit(client, author=name)
    assert_error(answer, 422, "format_characters", "author")
    assert stored(client) == []


@pytest.mark.parametrize("text", ["\u200b\u200b\u200b", "\ufeff \u200e\n\u2060", "\u202e"])
def test_a_text_of_invisible_characters_is_empty(client, text):
    assert_error(submit(client, text=text), 422, "text_required", "text")
    assert stored(client) == []


def test_text_is_normalised_and_loses_direction_overrides(client):
    answer = submit(client, text="Cafe\u0301 \u202egnirts\u202c mit Umlaut a\u0308")
    assert answer.status_code == 202
    [row] = stored(client)
    assert row["text"] == "Café gnirts mit Umlaut ä"


@pytest.mark.parametrize("name", ["Redaktion", "redaktion", "Die Redaktion", "REDAKTION!",
                                  "Ｒｅｄａｋｔｉｏｎ"])
def test_a_reader_cannot_call_themself_the_editors(client, name):
    assert_error(submit(client, author=name), 422, "reserved_name", "author")
    assert stored(client) == []
    assert submit(client, author="Redaktionsbüro Stadtanzeiger").status_code == 202


def test_the_limit_counts_characters_after_normalisation(client):
    decomposed = "a\u0308" * 80  # 160 code points, 80 characters once composed
    assert submit(client, author=decomposed).status_code == 202


# -- The corrections report ------------------------------------------------------------

def test_the_corrections_report_repeats_readers_text_inert(client):
    attack = ("<img src=x onerror=alert(1)> [Hier klicken](javascript:alert(2)) "
              "<script>alert(3)</script> **fett** `code`")
    assert submit(client, kind="correction", consent=False, text=attack,
                  author="<b>Mallory</b>", email="m@example.org").status_code == 202
    report = client.get("/api/v1/admin/corrections?format=markdown", headers=ADMIN).text
    html = MarkdownIt("commonmark").render(report)
    assert "<img" not in html and "<script" not in html and "<b>" not in html
    assert "href" not in html
    assert "<strong>fett</strong>" not in html and "<code>code</code>" not in html
    # What the reader wrote is still there to read, character for character.
    for fragment in ("&lt;img src=x onerror=alert(1)&gt;", "[Hier klicken](javascript:alert(2))",
                     "**fett**", "`code`", "&lt;b&gt;Mallory&lt;/b&gt;"):
        assert fragment in html


# -- Smaller findings -------------------------------------------------------------------

def test_a_duplicated_honeypot_field_is_still_a_filled_honeypot(client):
    form = "&".join(f"{key}={value}" for key, value in {**FORM, "consent": "on"}.items()
                    if key not in ("return_to",))
    answer = client.post("/api/v1/comments", content=form + "&website=&website=spam",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 202
    assert stored(client) == []


def test_an_idempotency_key_replayed_by_another_client_reveals_nothing(make_client):
    first = make_client(peer=("192.0.2.1", 1))
    second = make_client(peer=("198.51.100.2", 1))
    key = {"Idempotency-Key": "same-key-123"}
    original = first.post("/api/v1/comments", json=VALID, headers=key).json()
    replayed = second.post("/api/v1/comments", json=VALID, headers=key).json()
    assert replayed["id"] != original["id"]
    assert replayed["delete_token"] != original["delete_token"]
    again = first.post("/api/v1/comments", json=VALID, headers=key).json()
    assert again == original


@pytest.mark.parametrize("section", ["gibt-es-nicht", "x" * 60000])
def test_public_comments_of_unknown_or_overlong_sections_are_refused_uncached(client, section):
    answer = client.get("/api/v1/comments", params={"section": section})
    assert_error(answer, 422, "unknown_section", "section")
    assert client.app.state.service.public._answers == {}


def test_limits_hold_across_the_processes_of_one_service(make_client):
    """Each process of ``serve --workers`` has memory of its own; a client's limits do not multiply."""
    processes = [make_client(peer=("203.0.113.20", 1), FEEDBACK_RATE_LIMIT="3/600", FEEDBACK_LOGIN_LIMIT="4/600")
                 for _ in range(2)]
    codes = [processes[n % 2].post("/api/v1/comments", json=VALID).status_code for n in range(6)]
    assert codes == [202, 202, 202, 429, 429, 429]
    wrong = {"Authorization": "Bearer falsch"}
    assert [processes[n % 2].get("/api/v1/admin/comments", headers=wrong).status_code
            for n in range(5)] == [401, 401, 401, 401, 429]
    assert [process.get("/api/v1/admin/comments", headers=ADMIN).status_code
            for process in processes] == [429, 429]


def test_wrong_admin_tokens_are_throttled_per_client(make_client):
    client = make_client(peer=("203.0.113.9", 1))
    for _ in range(10):
        answer = client.get("/api/v1/admin/comments", headers={"Authorization": "Bearer falsch"})
        assert answer.status_code == 401
    blocked = client.get("/api/v1/admin/comments", headers={"Authorization": "Bearer falsch"})
    assert_error(blocked, 429, "rate_limited")
    assert int(blocked.headers["Retry-After"]) > 0
    # Even the right token waits: the throttle does not tell a guess from the truth.
    assert client.get("/api/v1/admin/comments", headers=ADMIN).status_code == 429
    elsewhere = make_client(peer=("203.0.113.10", 1))
    assert elsewhere.get("/api/v1/admin/comments", headers=ADMIN).status_code == 200
