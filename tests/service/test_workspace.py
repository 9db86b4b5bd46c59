"""The editors' workspace in-process: accounts, sessions, CSRF, throttling, moderation,
answers, corrections, the audit log; against SQLite and a real PostgreSQL."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta, timezone

import pytest
from bs4 import BeautifulSoup

from feedback_service import accounts, db
from feedback_service.workspace.queue import answer_due, personal_data

from .conftest import ADMIN
from .test_api import public, stored, submit
from .test_cli import cli_env, run_cli  # noqa: F401  (cli_env is a fixture)

PASSWORD = "richtig-langes-passwort"


@pytest.fixture
def editors(service_env):
    """Accounts ``anna`` and ``ben`` in the test database."""
    database = db.Database(service_env["FEEDBACK_DATABASE_URL"])
    database.migrate()
    with database.session() as conn:
        accounts.add_editor(conn, "anna", PASSWORD)
        accounts.add_editor(conn, "ben", PASSWORD)
    return database


def soup(answer) -> BeautifulSoup:
    return BeautifulSoup(answer.text, "html.parser")


def login(client, name="anna", password=PASSWORD, **headers):
    page = client.get("/redaktion/anmelden")
    token = soup(page).find("input", {"name": "csrf"})["value"]
    return client.post(
        "/redaktion/anmelden", data={"csrf": token, "name": name, "password": password},
        headers=headers, follow_redirects=False,
    )


def csrf_of(client) -> str:
    return soup(client.get("/redaktion/")).find("input", {"name": "csrf"})["value"]


def act(client, comment_id, action, **fields):
    data = {"csrf": csrf_of(client), "zurueck": "/redaktion/", **fields}
    return client.post(
        f"/redaktion/beitraege/{comment_id}/{action}", data=data, follow_redirects=False
    )


def audit_rows(database) -> list[dict]:
    with database.session(write=False) as conn:
        return conn.all("SELECT * FROM audit_log ORDER BY seq")


@pytest.fixture
def editor(client, editors):
    """The client, logged in as anna."""
    assert login(client).status_code == 303
    return client


# -- Reaching the workspace ------------------------------------------------------------

@pytest.mark.parametrize("path", ["/redaktion/", "/redaktion/protokoll", "/redaktion/?zustand=alle"])
def test_every_page_without_a_session_sends_the_browser_to_the_login(client, path):
    answer = client.get(path, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/redaktion/anmelden")
    login_page = client.get(answer.headers["location"])
    form = soup(login_page).find("form", {"action": "/redaktion/anmelden"})
    labels = {label.get_text(strip=True): label["for"] for label in form.find_all("label")}
    assert form.find(id=labels["Name"])["name"] == "name"
    assert form.find(id=labels["Passwort"])["type"] == "password"


def test_a_form_post_without_a_session_changes_nothing(client, editors):
    comment_id = submit(client).json()["id"]
    answer = client.post(f"/redaktion/beitraege/{comment_id}/freigeben",
                         data={"csrf": "x"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/redaktion/anmelden"
    assert stored(client)[0]["status"] == "pending"
    assert audit_rows(editors) == []


def test_after_login_the_editor_lands_where_they_wanted_to_go(client, editors):
    answer = client.get("/redaktion/protokoll", follow_redirects=False)
    target = client.get(answer.headers["location"])
    token = soup(target).find("input", {"name": "csrf"})["value"]
    assert soup(target).find("input", {"name": "weiter"})["value"] == "/redaktion/protokoll"
    done = client.post("/redaktion/anmelden", follow_redirects=False, data={
        "csrf": token, "name": "anna", "password": PASSWORD, "weiter": "/redaktion/protokoll"})
    assert done.headers["location"] == "/redaktion/protokoll"
    assert soup(client.get("/redaktion/protokoll")).h1.get_text() == "Protokoll"


def test_a_foreign_next_address_is_not_followed(client, editors):
    token = soup(client.get("/redaktion/anmelden")).find("input", {"name": "csrf"})["value"]
    done = client.post("/redaktion/anmelden", follow_redirects=False, data={
        "csrf": token, "name": "anna", "password": PASSWORD, "weiter": "//evil.example/"})
    assert done.headers["location"] == "/redaktion/"


def test_session_cookie_over_http_is_httponly_and_strict(client, editors):
    answer = login(client)
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("redaktion-sitzung=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie


def test_session_cookie_under_https_is_secure_with_host_prefix(make_client, editors):
    client = make_client()
    client.base_url = client.base_url.copy_with(scheme="https")
    answer = login(client)
    assert answer.status_code == 303
    cookie = [c for c in answer.headers.get_list("set-cookie") if "sitzung" in c][0]
    assert cookie.startswith("__Host-redaktion-sitzung=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Domain" not in cookie
    page = client.get("/redaktion/")
    assert page.status_code == 200
    assert page.headers["strict-transport-security"].startswith("max-age=")
    # Only the workspace asks for HSTS; the site and the API leave it to the web server in front.
    assert "strict-transport-security" not in client.get("/api/v1/health").headers


def test_security_headers_on_workspace_pages(client, editors):
    # The way in, a page, a static file and a page that does not exist all keep the strict policy.
    for path in ("/redaktion", "/redaktion/anmelden", "/redaktion/static/redaktion.css", "/redaktion/gibt-es-nicht"):
        headers = client.get(path, follow_redirects=False).headers
        assert "default-src 'none'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["cache-control"] == "no-store"
        assert headers["referrer-policy"] == "same-origin"


# -- Logging in ------------------------------------------------------------------------

def test_wrong_password_and_unknown_name_look_the_same(client, editors):
    wrong = login(client, password="falsches-passwort-123")
    unknown = login(client, name="niemand")
    assert wrong.status_code == unknown.status_code == 401
    message = soup(wrong).find(attrs={"role": "alert"}).get_text(strip=True)
    assert message == soup(unknown).find(attrs={"role": "alert"}).get_text(strip=True)
    assert message == "Name oder Passwort ist falsch."
    assert "redaktion-sitzung" not in wrong.headers.get("set-cookie", "")


def test_login_without_its_form_token_is_refused(client, editors):
    client.get("/redaktion/anmelden")
    answer = client.post("/redaktion/anmelden", data={"name": "anna", "password": PASSWORD},
                         follow_redirects=False)
    assert answer.status_code == 403
    assert client.get("/redaktion/", follow_redirects=False).status_code == 303


def test_failed_logins_are_throttled_per_account(make_client, editors):
    client = make_client()
    for _ in range(accounts.FAILURES_PER_ACCOUNT):
        assert login(client, password="falsches-passwort-123").status_code == 401
    blocked = login(client)  # even the right password waits now
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["retry-after"]) <= accounts.LOGIN_WINDOW
    assert "Zu viele fehlgeschlagene Anmeldungen" in blocked.text
    # From another machine too: the account is what is being guessed.
    other = make_client(peer=("10.0.0.9", 40000))
    assert login(other).status_code == 429
    # Another account is not affected.
    assert login(other, name="ben").status_code == 303


def test_unknown_names_are_throttled_exactly_like_real_ones(make_client, editors):
    client = make_client()
    for _ in range(accounts.FAILURES_PER_ACCOUNT):
        login(client, name="gibt-es-nicht")
    assert login(client, name="gibt-es-nicht").status_code == 429


def test_failed_logins_are_throttled_per_client(make_client, editors):
    client = make_client(peer=("10.0.0.7", 40000))
    for number in range(accounts.FAILURES_PER_CLIENT):
        assert login(client, name=f"rate-{number}").status_code == 401
    blocked = login(client, name="ben")
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1
    assert login(make_client(peer=("10.0.0.8", 40000)), name="ben").status_code == 303


def test_logout_ends_the_session_in_the_database(editor, editors):
    cookie = editor.cookies.get("redaktion-sitzung")
    answer = editor.post("/redaktion/abmelden", data={"csrf": csrf_of(editor)},
                         follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/redaktion/anmelden?abgemeldet=1"
    editor.cookies.set("redaktion-sitzung", cookie)  # a copy kept by an attacker
    assert editor.get("/redaktion/", follow_redirects=False).status_code == 303
    with editors.session(write=False) as conn:
        assert conn.scalar("SELECT COUNT(*) AS n FROM editor_sessions") == 0


def test_an_idle_session_expires(editor, editors):
    assert editor.get("/redaktion/", follow_redirects=False).status_code == 200
    idle = 60 * 60 + 1
    with editors.session() as conn:
        conn.execute("UPDATE editor_sessions SET seen = seen - ?, created = created - ?",
                     (idle, idle))
    answer = editor.get("/redaktion/", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/redaktion/anmelden"
    with editors.session(write=False) as conn:
        assert conn.scalar("SELECT COUNT(*) AS n FROM editor_sessions") == 0


def test_the_idle_timeout_is_a_setting(make_client, editors):
    client = make_client(FEEDBACK_SESSION_IDLE_MINUTES="5")
    login(client)
    with editors.session() as conn:
        conn.execute("UPDATE editor_sessions SET seen = seen - 301")
    assert client.get("/redaktion/", follow_redirects=False).status_code == 303


def test_a_session_works_on_every_instance_of_one_database(make_client, editors):
    first, second = make_client(), make_client()
    login(first)
    second.cookies.set("redaktion-sitzung", first.cookies.get("redaktion-sitzung"))
    assert second.get("/redaktion/", follow_redirects=False).status_code == 200


# -- CSRF ---------------------------------------------------------------------------------

@pytest.mark.parametrize("csrf", [None, "", "falsch"])
def test_a_forged_form_is_refused_and_changes_nothing(editor, editors, csrf):
    comment_id = submit(editor).json()["id"]
    data = {"zurueck": "/redaktion/"} | ({} if csrf is None else {"csrf": csrf})
    for action in ("freigeben", "ablehnen", "loeschen", "antworten"):
        answer = editor.post(f"/redaktion/beitraege/{comment_id}/{action}",
                             data={**data, "antwort": "Hallo"}, follow_redirects=False)
        assert answer.status_code == 403, action
        assert "es wurde nichts geändert" in answer.text
    bulk = editor.post("/redaktion/sammelaktion",
                       data={**data, "aktion": "approve", "ids": comment_id})
    assert bulk.status_code == 403
    logout = editor.post("/redaktion/abmelden", data=data, follow_redirects=False)
    assert logout.status_code == 403
    [row] = stored(editor)
    assert row["status"] == "pending"
    assert audit_rows(editors) == []
    assert editor.get("/redaktion/", follow_redirects=False).status_code == 200


def test_the_token_of_another_session_does_not_fit(make_client, editors):
    anna, ben = make_client(), make_client()
    login(anna)
    login(ben, name="ben")
    comment_id = submit(anna).json()["id"]
    answer = anna.post(f"/redaktion/beitraege/{comment_id}/freigeben",
                       data={"csrf": csrf_of(ben)}, follow_redirects=False)
    assert answer.status_code == 403
    assert stored(anna)[0]["status"] == "pending"


def test_a_post_from_a_foreign_origin_is_refused(editor):
    comment_id = submit(editor).json()["id"]
    answer = editor.post(f"/redaktion/beitraege/{comment_id}/freigeben",
                         data={"csrf": csrf_of(editor)},
                         headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert answer.status_code == 403
    assert stored(editor)[0]["status"] == "pending"


# -- Moderation ---------------------------------------------------------------------------

def test_approve_publishes_and_is_logged_with_the_editor(editor, editors):
    comment_id = submit(editor).json()["id"]
    answer = act(editor, comment_id, "freigeben")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/redaktion/?erledigt=approve"
    assert [c["id"] for c in public(editor)] == [comment_id]
    [entry] = audit_rows(editors)
    assert (entry["actor"], entry["action"], entry["comment_id"]) == ("anna", "approve", comment_id)
    page = soup(editor.get(answer.headers["location"]))
    assert page.find(attrs={"role": "status"}).get_text(strip=True) == "Freigegeben."


def test_the_script_gets_the_outcome_as_json(editor):
    comment_id = submit(editor).json()["id"]
    answer = editor.post(f"/redaktion/beitraege/{comment_id}/freigeben",
                         data={"csrf": csrf_of(editor)}, headers={"Accept": "application/json"})
    assert answer.status_code == 200 and answer.json() == {"message": "Freigegeben."}


def test_reject_keeps_the_reason_and_delete_keeps_the_log_without_text(editor, editors):
    first = submit(editor, text="Werbung für Kreditkarten").json()["id"]
    act(editor, first, "ablehnen", grund="Werbung")
    [row] = stored(editor)
    assert (row["status"], row["reason"]) == ("rejected", "Werbung")
    act(editor, first, "loeschen")
    assert stored(editor) == []
    entries = audit_rows(editors)
    assert [(e["action"], e["detail"]) for e in entries] == [("reject", "Werbung"), ("delete", "")]
    assert all(e["comment_id"] == first and e["section"] == "qualitaetskultur" for e in entries)
    log = editor.get("/redaktion/protokoll").text
    assert first in log and "3.2 Qualitätskultur" in log and "Kreditkarten" not in log
    assert "gelöscht" in log and "abgelehnt" in log


def test_an_editorial_answer_is_published_with_its_comment(editor, editors):
    comment_id = submit(editor).json()["id"]
    assert act(editor, comment_id, "antworten", antwort="Danke, wir prüfen das.").status_code == 303
    assert public(editor) == []  # the comment waits, and so does its answer
    act(editor, comment_id, "freigeben")
    shown = public(editor)
    assert [c["id"] for c in shown][0] == comment_id
    answer = shown[1]
    assert answer["role"] == "editors" and answer["author"] == "Redaktion"
    assert answer["reply_to"] == comment_id and answer["text"] == "Danke, wir prüfen das."
    export = editor.get("/api/v1/admin/export?since=0", headers=ADMIN).json()
    roles = {c["comment"]["id"]: c["comment"]["role"] for c in export["changes"]}
    assert roles == {comment_id: "reader", answer["id"]: "editors"}
    assert [e["action"] for e in audit_rows(editors)] == ["answer", "approve"]
    item = soup(editor.get("/redaktion/?zustand=freigegeben")).find(id=f"b-{comment_id}")
    assert "Antwort der Redaktion" in item.get_text()


def test_an_answer_to_a_published_comment_appears_at_once_under_the_teams_name(
    make_client, editors
):
    client = make_client(FEEDBACK_EDITORS_NAME="Redaktion Kochbuch Musterstadt")
    login(client)
    comment_id = submit(client).json()["id"]
    act(client, comment_id, "freigeben")
    act(client, comment_id, "antworten", antwort="Gute Idee!")
    answer = public(client)[1]
    assert answer["author"] == "Redaktion Kochbuch Musterstadt"
    assert answer["role"] == "editors"


def test_rejecting_a_comment_withdraws_its_answer_and_deleting_removes_it(editor):
    comment_id = submit(editor).json()["id"]
    act(editor, comment_id, "freigeben")
    act(editor, comment_id, "antworten", antwort="Antwort")
    assert len(public(editor)) == 2
    act(editor, comment_id, "ablehnen")
    assert public(editor) == []
    act(editor, comment_id, "loeschen")
    assert stored(editor) == []


def test_a_reader_can_never_write_as_the_editors(client):
    for body in (
        {"role": "editors", "author": "Redaktion"},
        {"role": "editors", "reply_to": None},
    ):
        answer = submit(client, **body)
        assert answer.status_code in (202, 422)
    form = client.post("/api/v1/comments", data={
        "section": "qualitaetskultur", "version": "2.0", "text": "Formular", "consent": "on",
        "role": "editors"})
    assert form.status_code in (202, 303, 422)
    for row in stored(client):
        assert row["role"] == "reader"
        client.post(f"/api/v1/admin/comments/{row['id']}/approve", headers=ADMIN)
    assert all(comment["role"] == "reader" for comment in public(client))


def test_bulk_approve_and_reject(editor, editors):
    ids = [submit(editor, text=f"Kommentar {n}").json()["id"] for n in range(3)]
    done = editor.post("/redaktion/sammelaktion", follow_redirects=False, data={
        "csrf": csrf_of(editor), "zurueck": "/redaktion/?art=comment", "aktion": "approve",
        "ids": ids[:2]})
    assert done.headers["location"] == "/redaktion/?art=comment&erledigt=bulk-approve&anzahl=2"
    assert "2 Beiträge freigegeben." in editor.get(done.headers["location"]).text
    editor.post("/redaktion/sammelaktion", data={
        "csrf": csrf_of(editor), "aktion": "reject", "grund": "Doppelt", "ids": ids[2:]})
    status = {row["id"]: (row["status"], row["reason"]) for row in stored(editor)}
    assert status == {ids[0]: ("approved", ""), ids[1]: ("approved", ""),
                      ids[2]: ("rejected", "Doppelt")}
    assert [e["actor"] for e in audit_rows(editors)] == ["anna"] * 3


def test_the_api_and_the_shell_are_named_in_the_audit_log(client, editors, cli_env, capsys):
    first = submit(client).json()["id"]
    second = submit(client).json()["id"]
    client.post(f"/api/v1/admin/comments/{first}/approve", headers=ADMIN)
    assert run_cli(capsys, "moderate", "reject", second, "--grund", "Doppelt")[0] == 0
    assert [(e["actor"], e["comment_id"], e["detail"]) for e in audit_rows(editors)] == [
        ("API", first, ""), ("CLI", second, "Doppelt")]
    assert {row["id"]: row["reason"] for row in stored(client)}[second] == "Doppelt"


# -- The queue --------------------------------------------------------------------------------

def test_queue_shows_what_an_editor_needs_oldest_first(editor):
    first = submit(editor, text="<script>alert(1)</script> Zuerst").json()["id"]
    second = submit(editor, kind="correction", consent=None, version="1.0",
                    section="altes-kapitel", text="Tippfehler").json()["id"]
    page = soup(editor.get("/redaktion/"))
    items = page.select("li.item")
    assert [item["id"] for item in items] == [f"b-{first}", f"b-{second}"]
    one = items[0]
    assert one.h2.get_text(" ", strip=True) == "Kommentar 3.2 Qualitätskultur"
    assert one.h2.a["href"] == "/2.0/kapitel-03/index.html#qualitaetskultur"
    text = one.select_one(".text")
    assert text.get_text() == "<script>alert(1)</script> Zuerst" and not text.find("script")
    meta = one.select_one(".meta").get_text(" ", strip=True)
    assert "kaemmerei@example.org" in meta and "Kämmerei Musterstadt" in meta
    assert "Ausgabe 2.0" in meta and "gerade eben" in meta
    other = items[1]
    assert other.h2.a["href"] == "/1.0/kapitel-05/index.html#altes-kapitel"
    assert "Fehlermeldung" in other.h2.get_text() and not other.find(
        "form", action=re.compile("freigeben$"))


def test_names_in_the_queue_are_isolated_from_the_dates_beside_them(editor):
    """A right-to-left name must not pull the date after it into its direction (<bdi>)."""
    name = "עיריית חיפה 3"
    comment_id = submit(editor, author=name).json()["id"]
    act(editor, comment_id, "antworten", antwort="Danke!")
    page = soup(editor.get("/redaktion/"))
    item = page.find(id=f"b-{comment_id}")
    shown = [text for text in item.find_all(string=True) if name in text]
    # "Von", and every action's label for screen readers: select, approve, reject, answer, delete.
    assert len(shown) == 6
    assert all(text.parent.name == "bdi" and text.strip() == name for text in shown)
    assert item.select_one(".answer-title bdi").get_text() == "Redaktion"
    assert page.select_one(".who bdi").get_text() == "anna"


def test_queue_filters_search_and_pages(editor):
    ids = [submit(editor, text=f"Nummer {n:02d}").json()["id"] for n in range(23)]
    submit(editor, text="Über das Register", version="1.0")
    correction = submit(editor, kind="correction", consent=None, text="Falsch").json()["id"]

    def shown(query):
        return [li["id"][2:] for li in soup(editor.get(f"/redaktion/?{query}")).select("li.item")]

    assert shown("") == ids[:20]
    assert shown("seite=2")[:3] == ids[20:23] and len(shown("seite=2")) == 5
    assert shown("art=correction") == [correction]
    assert len(shown("ausgabe=1.0")) == 1
    assert len(shown("suche=über das")) == 1 and len(shown("suche=ÜBER")) == 1
    assert shown("suche=Nummer 07") == [ids[7]]
    assert shown("abschnitt=registermodernisierung") == []
    act(editor, ids[0], "freigeben")
    assert shown("zustand=freigegeben") == [ids[0]]
    assert ids[0] not in shown("")
    pager = soup(editor.get("/redaktion/")).find("nav", {"aria-label": "Seiten"})
    assert pager.find("a", {"aria-current": "page"}).get_text() == "1"


def test_queue_warns_of_personal_data_before_publishing(editor):
    submit(editor, text="Rufen Sie Frau Meier an: 0341 123 45 67, meier@example.org")
    submit(editor, text="Spenden an DE89 3704 0044 0532 0130 00 bitte")
    submit(editor, text="Seit 2019 gilt § 12 OZG in 16 Ländern.")
    hints = [item.select_one(".hint") for item in soup(editor.get("/redaktion/")).select("li.item")]
    assert "eine E-Mail-Adresse und eine Telefonnummer" in hints[0].get_text()
    assert "eine IBAN" in hints[1].get_text()
    assert hints[2] is None


@pytest.mark.parametrize("text,found", [
    ("Tel. +49 30 1234567", ["eine Telefonnummer"]),
    ("(030) 12 34 56", ["eine Telefonnummer"]),
    ("DE89370400440532013000", ["eine IBAN"]),
    ("DE89370400440532013001", []),
    ("Kapitel 3.2.1 von 2026, Seite 12", []),
    ("Schreiben Sie an info@stadt.example", ["eine E-Mail-Adresse"]),
])
def test_personal_data_detection(text, found):
    assert personal_data(text) == found


# -- Corrections and barrier reports -----------------------------------------------------------

def test_a_correction_is_marked_done_with_the_edition_that_took_it_in(editor, editors):
    comment_id = submit(editor, kind="correction", consent=None, text="Tippfehler").json()["id"]
    answer = act(editor, comment_id, "stand", stand="done", ausgabe="2.1", notiz="behoben")
    assert answer.status_code == 303
    [row] = stored(editor)
    assert (row["progress"], row["done_in"], row["note"], row["status"]) == (
        "done", "2.1", "behoben", "pending")
    assert public(editor) == []
    item = soup(editor.get("/redaktion/?zustand=erledigt")).select_one("li.item")
    assert "erledigt (übernommen in Ausgabe 2.1)" in item.get_text(" ", strip=True)
    assert soup(editor.get("/redaktion/")).select("li.item") == []
    [entry] = audit_rows(editors)
    assert (entry["action"], entry["detail"]) == ("progress", "erledigt (Ausgabe 2.1)")
    assert act(editor, comment_id, "freigeben").status_code == 409
    assert act(editor, comment_id, "stand", stand="fertig").status_code == 422


def test_a_barrier_report_shows_its_answer_date_and_stands_out_when_overdue(editor, editors):
    fresh = submit(editor, kind="barrier", consent=None, text="Der Button ist zu klein").json()["id"]
    old = submit(editor, kind="barrier", consent=None, text="Kein Alternativtext").json()["id"]
    received = datetime.now(timezone.utc) - timedelta(days=40)
    with editors.session() as conn:
        conn.execute("UPDATE comments SET created = ? WHERE id = ?",
                     (received.strftime("%Y-%m-%dT%H:%M:%SZ"), old))
    page = soup(editor.get("/redaktion/?art=barrier"))
    items = {item["id"][2:]: item for item in page.select("li.item")}
    due = answer_due(received.strftime("%Y-%m-%dT%H:%M:%SZ")).strftime("%d.%m.%Y")
    assert f"Antwort fällig bis {due} überfällig" in items[old].get_text(" ", strip=True)
    assert "Barriere" in items[old].h2.get_text()
    assert "überfällig" not in items[fresh].get_text()
    act(editor, old, "stand", stand="done")
    assert "überfällig" not in editor.get("/redaktion/?zustand=erledigt").text


@pytest.mark.parametrize("received,due", [
    ("2026-01-31T10:00:00Z", "2026-02-28"),
    ("2026-12-15T10:00:00Z", "2027-01-15"),
    ("2026-03-31T22:30:00Z", "2026-05-01"),  # already 1 April in Berlin
])
def test_answer_due_is_one_month_after_receipt(received, due):
    assert answer_due(received).isoformat() == due


def test_the_corrections_report_shows_how_far_each_report_is(editor, cli_env, capsys):
    first = submit(editor, kind="correction", consent=None, text="Tippfehler").json()["id"]
    submit(editor, kind="correction", consent=None, text="Veralteter Link")
    act(editor, first, "stand", stand="in_progress")
    code, out, _ = run_cli(capsys, "corrections")
    assert code == 0
    progress = re.findall(r"\(`(c_\w+)`, pending, ([^)]+)\)", out)
    assert sorted(label for _, label in progress) == ["in Bearbeitung", "offen"]
    assert dict(progress)[first] == "in Bearbeitung"


# -- Accounts from the shell --------------------------------------------------------------------

def test_editor_accounts_from_the_shell(client, cli_env, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code, out, _ = run_cli(capsys, "editors", "add", "Clara Beispiel", "--password-stdin")
    assert code == 0 and "Konto „Clara Beispiel“ angelegt" in out
    database = db.Database(cli_env["FEEDBACK_DATABASE_URL"])
    with database.session(write=False) as conn:
        stored_hash = conn.scalar("SELECT password_hash FROM editors")
    assert stored_hash.startswith("$argon2id$") and PASSWORD not in stored_hash
    assert login(client, name="Clara Beispiel").status_code == 303

    monkeypatch.setattr("sys.stdin", io.StringIO("ein-ganz-neues-passwort\n"))
    assert run_cli(capsys, "editors", "passwd", "Clara Beispiel", "--password-stdin")[0] == 0
    assert client.get("/redaktion/", follow_redirects=False).status_code == 303  # session ended
    assert login(client, name="Clara Beispiel").status_code == 401
    assert login(client, name="Clara Beispiel", password="ein-ganz-neues-passwort").status_code == 303

    code, out, _ = run_cli(capsys, "editors", "list")
    assert "Clara Beispiel" in out and "1 Sitzung(en)" in out
    assert run_cli(capsys, "editors", "remove", "Clara Beispiel")[0] == 0
    assert client.get("/redaktion/", follow_redirects=False).status_code == 303
    assert "Keine Konten." in run_cli(capsys, "editors", "list")[1]


@pytest.mark.parametrize("name,password,message", [
    ("anna", "kurz", "mindestens 12 Zeichen"),
    ("API", PASSWORD, "reserviert"),
    ("", PASSWORD, "1 bis 80 Zeichen"),
])
def test_editor_accounts_refuse_bad_names_and_short_passwords(
    cli_env, capsys, monkeypatch, name, password, message
):
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    code, _, err = run_cli(capsys, "editors", "add", name, "--password-stdin")
    assert code == 1 and message in err


def test_adding_an_existing_name_fails(cli_env, capsys, monkeypatch, editors):
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code, _, err = run_cli(capsys, "editors", "add", "anna", "--password-stdin")
    assert code == 1 and "schon" in err
