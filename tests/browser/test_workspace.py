"""The editors' workspace in Chromium: the whole Monday-morning journey with and without
JavaScript, by keyboard alone, and axe-core on every workspace page, at 320 px too."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import uuid
from dataclasses import dataclass

import pytest
import requests
from playwright.sync_api import expect

from tests.conftest import ROOT
from tests.service.conftest import postgres_server  # noqa: F401  (a fixture)

from .conftest import running_service
from .helpers import assert_accessible, sections, watched_page

pytestmark = pytest.mark.browser

PASSWORD = "montagmorgen-" + secrets.token_urlsafe(8)


def make_editor(service) -> str:
    """An editor's account, made the way an operator makes it."""
    name = f"Erika Redaktion {uuid.uuid4().hex[:6]}"
    result = subprocess.run(
        [sys.executable, "-m", "feedback_service", "editors", "add", name, "--password-stdin"],
        input=PASSWORD + "\n", cwd=ROOT, env=service.env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return name


@pytest.fixture(scope="module")
def editor_name(service) -> str:
    return make_editor(service)


@pytest.fixture(scope="module")
def edition(site_dir) -> tuple[str, list[dict]]:
    """The current edition's version and sections."""
    manifest = site_dir / "latest" / "_feedback" / "sections.json"
    return json.loads(manifest.read_text(encoding="utf-8"))["version"], sections(site_dir, "latest")


@dataclass
class Inbox:
    """A week's submissions of one test, all carrying its marker."""

    marker: str
    section: dict
    version: str
    ids: dict[str, str]


def post(service, **fields) -> str:
    answer = requests.post(f"{service.url}/api/v1/comments", json=fields, timeout=10)
    assert answer.status_code == 202, answer.text
    return answer.json()["id"]


def make_inbox(service, edition: tuple[str, list[dict]]) -> Inbox:
    version, current = edition
    section = current[len(current) // 3]
    marker = uuid.uuid4().hex[:10]
    base = {"section": section["id"], "version": version, "consent": True}
    ids = {
        "approve": post(service, **base, text=f"{marker}: Die Checkliste hat uns geholfen.",
                        author="Bürgeramt Musterstadt"),
        "answer": post(service, **base, text=f"{marker}: Gibt es die Vorlage auch als ODT?",
                       author="Kämmerei", email="kaemmerei@example.org"),
        "reject": post(service, **base, text=f"{marker}: Billige Kredite hier!"),
        "bulk-1": post(service, **base, text=f"{marker}: Zustimmung aus Kleinstadt."),
        "bulk-2": post(service, **base, text=f"{marker}: Bei uns genauso."),
        "correction": post(service, section=section["id"], version=version, kind="correction",
                           text=f"{marker}: Im zweiten Absatz fehlt ein Wort."),
    }
    return Inbox(marker, section, version, ids)


@pytest.fixture
def inbox(service, edition) -> Inbox:
    return make_inbox(service, edition)


def log_in(page, name: str, password: str = PASSWORD) -> None:
    page.goto("/redaktion/")
    assert page.url.endswith("/redaktion/anmelden")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Passwort", exact=True).fill(password)
    page.get_by_role("button", name="Anmelden").click()
    expect(page.locator("h1")).to_have_text("Eingang")


def item(page, comment_id: str):
    return page.locator(f"li.item[id='b-{comment_id}']")


def status_line(page):
    return page.locator("#meldung")


def stored(service) -> dict[str, dict]:
    rows = service.admin("GET", "comments").json()["comments"]
    return {row["id"]: row for row in rows}


def journey(page, service, inbox: Inbox, editor_name: str, check_accessibility: bool) -> None:
    """Log in, filter, approve, answer, reject with a reason, bulk approve, mark a
    correction done, look at the audit log, log out."""
    ids = inbox.ids
    log_in(page, editor_name)
    if check_accessibility:
        assert_accessible(page, "Eingang")

    page.get_by_label("Suche im Text").fill(inbox.marker)
    page.get_by_label("Art", exact=True).select_option(label="Kommentare")
    page.get_by_role("button", name="Anzeigen").click()
    expect(page.locator("li.item")).to_have_count(5)
    assert f"suche={inbox.marker}" in page.url
    # Oldest first, with what an editor needs to decide.
    first = page.locator("li.item").first
    expect(first).to_have_attribute("id", f"b-{ids['approve']}")
    expect(first.locator("h2 a")).to_have_text(f"{inbox.section['number']} {inbox.section['title']}")
    expect(first.locator("h2 a")).to_have_attribute(
        "href", f"/{inbox.version}/{inbox.section['url']}")
    expect(item(page, ids["answer"])).to_contain_text("kaemmerei@example.org")

    item(page, ids["approve"]).get_by_role("button", name="Freigeben").click()
    expect(status_line(page)).to_have_text("Freigegeben.")
    expect(item(page, ids["approve"])).to_have_count(0)

    answering = item(page, ids["answer"])
    answering.locator("summary.act-answer").click()
    answering.get_by_label("Antwort der Redaktion").fill("Ja, die ODT-Fassung folgt im Januar.")
    answering.get_by_role("button", name="Antwort speichern").click()
    expect(status_line(page)).to_contain_text("Die Antwort der Redaktion ist gespeichert")
    expect(item(page, ids["answer"]).locator(".answer")).to_contain_text(
        "Ja, die ODT-Fassung folgt im Januar.")
    if check_accessibility:
        assert_accessible(page, "Eingang mit gespeicherter Antwort")

    rejecting = item(page, ids["reject"])
    rejecting.locator("summary.act-reject").click()
    rejecting.get_by_label("Begründung").fill("Werbung")
    rejecting.get_by_role("button", name="Ablehnen", exact=True).click()
    expect(status_line(page)).to_have_text("Abgelehnt.")
    expect(item(page, ids["reject"])).to_have_count(0)

    for key in ("answer", "bulk-1", "bulk-2"):
        item(page, ids[key]).get_by_label("Auswählen").check()
    page.get_by_label("Aktion", exact=True).select_option(label="Freigeben")
    page.get_by_role("button", name="Auf Auswahl anwenden").click()
    expect(status_line(page)).to_have_text("3 Beiträge freigegeben.")
    expect(page.locator("li.item")).to_have_count(0)
    expect(page.locator(".empty")).to_contain_text("Keine Beiträge in dieser Ansicht.")

    page.get_by_label("Art", exact=True).select_option(label="Fehlermeldungen")
    page.get_by_role("button", name="Anzeigen").click()
    correction = item(page, ids["correction"])
    expect(correction.locator("h2")).to_contain_text("Fehlermeldung")
    expect(correction.get_by_role("button", name="Freigeben")).to_have_count(0)
    correction.locator("summary.act-progress").click()
    correction.get_by_label("Stand", exact=True).select_option(label="erledigt")
    correction.get_by_label("Übernommen in Ausgabe").fill("2.2")
    correction.get_by_role("button", name="Stand speichern").click()
    expect(status_line(page)).to_have_text("Bearbeitungsstand gespeichert.")
    expect(item(page, ids["correction"])).to_have_count(0)
    page.get_by_label("Zustand").select_option(label="Erledigt")
    page.get_by_role("button", name="Anzeigen").click()
    expect(item(page, ids["correction"])).to_contain_text("erledigt (übernommen in Ausgabe 2.2)")

    rows = stored(service)
    assert {key: rows[ids[key]]["status"] for key in ids} == {
        "approve": "approved", "answer": "approved", "reject": "rejected",
        "bulk-1": "approved", "bulk-2": "approved", "correction": "pending"}
    assert rows[ids["reject"]]["reason"] == "Werbung"
    assert rows[ids["correction"]]["progress"] == "done"
    published = requests.get(f"{service.url}/api/v1/comments",
                             params={"section": inbox.section["id"]}, timeout=10).json()["comments"]
    [answer] = [c for c in published if c.get("reply_to") == ids["answer"]]
    assert answer["role"] == "editors" and answer["author"] == "Redaktion"

    page.get_by_role("link", name="Protokoll").click()
    expect(page.locator("h1")).to_have_text("Protokoll")
    for key in ids:
        expect(page.locator("tr", has_text=ids[key]).first).to_contain_text(editor_name)
    expect(page.locator("tr", has_text=ids["reject"])).to_contain_text("Werbung")
    if check_accessibility:
        assert_accessible(page, "Protokoll")

    page.get_by_role("button", name="Abmelden").click()
    expect(page.locator("h1")).to_have_text("Anmelden")
    expect(page.get_by_role("status")).to_have_text("Sie sind abgemeldet.")
    page.goto("/redaktion/protokoll")
    expect(page.locator("h1")).to_have_text("Anmelden")


def test_editors_journey_with_javascript(page, service, inbox, editor_name):
    journey(page, service, inbox, editor_name, check_accessibility=True)


def test_editors_journey_without_javascript(new_page, service, inbox, editor_name):
    page = new_page(java_script_enabled=False)
    journey(page, service, inbox, editor_name, check_accessibility=False)


@pytest.fixture(scope="module")
def postgres_service(site_dir, postgres_server, tmp_path_factory):
    """A second service on the same site, its data in the real PostgreSQL the tests start."""
    work = tmp_path_factory.mktemp("browser-service-postgres")
    with running_service(site_dir, work, postgres_server.new_database()) as running:
        yield running


@pytest.mark.postgres
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_editors_journey_on_postgresql(browser, postgres_service, edition, javascript):
    page, watch = watched_page(browser, postgres_service.url, java_script_enabled=javascript)
    try:
        journey(page, postgres_service, make_inbox(postgres_service, edition),
                make_editor(postgres_service), check_accessibility=javascript)
    finally:
        page.context.close()
    assert not watch.foreign_requests and not watch.script_errors


def test_with_javascript_approving_needs_no_reload(page, service, inbox, editor_name):
    log_in(page, editor_name)
    page.goto(f"/redaktion/?suche={inbox.marker}")
    page.evaluate("window.stillHere = true")
    item(page, inbox.ids["approve"]).get_by_role("button", name="Freigeben").click()
    expect(status_line(page)).to_have_text("Freigegeben.")
    assert page.evaluate("window.stillHere") is True
    # Focus goes on to the next item, so a keyboard user continues there.
    assert page.evaluate("document.activeElement.closest('li.item').id") == f"b-{inbox.ids['answer']}"
    assert stored(service)[inbox.ids["approve"]]["status"] == "approved"


def tab_to(page, selector: str, limit: int = 300) -> None:
    """Press Tab until the element matching ``selector`` has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none", f"{selector}: focus not visible"
            return
    raise AssertionError(f"{selector} never got the keyboard focus")


def open_and_send(page, summary: str, key: str, field: str, text: str) -> None:
    """Open a folded form with ``key``, type into its field, and send it with Enter."""
    tab_to(page, summary)
    page.keyboard.press(key)
    tab_to(page, field)
    page.keyboard.type(text)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")


def test_editor_works_by_keyboard_alone(page, service, inbox, editor_name):
    page.goto("/redaktion/anmelden")
    tab_to(page, "#name")
    page.keyboard.type(editor_name)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Eingang")

    tab_to(page, "#f-suche")
    page.keyboard.type(inbox.marker)
    page.keyboard.press("Enter")
    expect(page.locator("li.item")).to_have_count(6)

    reject_id, answer_id = inbox.ids["reject"], inbox.ids["answer"]
    open_and_send(page, f"#b-{reject_id} summary.act-reject", "Enter", f"#grund-{reject_id}",
                  "Werbung")
    expect(status_line(page)).to_have_text("Abgelehnt.")
    open_and_send(page, f"#b-{answer_id} summary.act-answer", "Space", f"#antwort-{answer_id}",
                  "Danke für die Frage.")
    expect(status_line(page)).to_contain_text("Die Antwort der Redaktion ist gespeichert")

    tab_to(page, f"form[action$='{inbox.ids['approve']}/freigeben'] button")
    page.keyboard.press("Enter")
    expect(status_line(page)).to_have_text("Freigegeben.")

    tab_to(page, "form.logout button")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Anmelden")
    rows = stored(service)
    assert rows[reject_id]["status"] == "rejected" and rows[reject_id]["reason"] == "Werbung"
    assert rows[inbox.ids["approve"]]["status"] == "approved"


def test_a_reader_without_a_session_only_reaches_the_login(new_page, service, inbox):
    page = new_page(java_script_enabled=False)
    for path in ("/redaktion/", "/redaktion/protokoll", f"/redaktion/?suche={inbox.marker}"):
        page.goto(path)
        expect(page.locator("h1")).to_have_text("Anmelden")
        expect(page.get_by_text(inbox.marker)).to_have_count(0)
    answer = requests.post(f"{service.url}/redaktion/beitraege/{inbox.ids['reject']}/freigeben",
                           data={"csrf": "geraten"}, allow_redirects=False, timeout=10)
    assert answer.status_code == 303
    assert stored(service)[inbox.ids["reject"]]["status"] == "pending"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_workspace_page_is_accessible_at_320_px(new_page, service, inbox, editor_name, scheme):
    page = new_page(viewport={"width": 320, "height": 640}, color_scheme=scheme)
    barrier = post(service, section=inbox.section["id"], version=inbox.version, kind="barrier",
                   text=f"{inbox.marker}: Das Formular lässt sich nicht mit der Tastatur bedienen.")
    post(service, section=inbox.section["id"], version=inbox.version, consent=True,
         text=f"{inbox.marker}: Rufen Sie mich an: 0171 2345678")

    def check(what: str) -> None:
        assert_accessible(page, f"{what} bei 320 px ({scheme})")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 320, f"{what}: {width} px breit bei 320 px"

    page.goto("/redaktion/anmelden")
    check("Anmeldung")
    page.get_by_label("Name", exact=True).fill(editor_name)
    page.get_by_label("Passwort", exact=True).fill("falsch-" + PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("alert")).to_have_text("Name oder Passwort ist falsch.")
    check("Anmeldung mit Fehler")
    log_in(page, editor_name)
    page.goto(f"/redaktion/?suche={inbox.marker}")
    expect(item(page, barrier)).to_contain_text("Antwort fällig bis")
    expect(page.locator(".hint")).to_contain_text("eine Telefonnummer")
    for details in page.locator("li.item details").all():
        details.locator("summary").click()
    check("Eingang mit offenen Formularen")
    page.goto("/redaktion/?zustand=alle")
    check("Eingang, alle Beiträge")
    page.goto("/redaktion/protokoll")
    check("Protokoll")
    page.goto(f"/redaktion/?suche={inbox.marker}")
    page.evaluate("document.querySelector('.bulk input[name=csrf]').value = 'veraltet'")
    page.evaluate("document.querySelector('.bulk').submit()")
    expect(page.locator("h1")).to_have_text("Das ging nicht")
    check("Fehlerseite")


def test_an_answer_written_in_the_workspace_appears_on_the_page(page, service, inbox, editor_name):
    log_in(page, editor_name)
    page.goto(f"/redaktion/?suche={inbox.marker}")
    answering = item(page, inbox.ids["answer"])
    answering.locator("summary.act-answer").click()
    answering.get_by_label("Antwort der Redaktion").fill(f"{inbox.marker}: Die Vorlage folgt.")
    answering.get_by_role("button", name="Antwort speichern").click()
    expect(status_line(page)).to_contain_text("Die Antwort der Redaktion ist gespeichert")
    item(page, inbox.ids["answer"]).get_by_role("button", name="Freigeben").click()
    expect(status_line(page)).to_have_text("Freigegeben.")
    service.run("sync")

    page.goto(f"/{inbox.version}/{inbox.section['url']}")
    answer = page.locator(".fb-comment.fb-editors").filter(has_text=f"{inbox.marker}: Die Vorlage folgt.")
    expect(answer).to_have_count(1)
    expect(answer.locator(".fb-badge")).to_have_text("Antwort der Redaktion")
    expect(answer.locator(".fb-author")).to_have_text("Redaktion")
    question = page.locator(".fb-comments > li").filter(has_text=f"{inbox.marker}: Gibt es die Vorlage")
    expect(question.locator(".fb-replies .fb-editors")).to_have_count(1)
    assert_accessible(page, "Abschnitt mit Antwort der Redaktion")


@pytest.mark.parametrize("javascript,scheme", [(True, "light"), (True, "dark"), (False, "light")])
def test_a_troubled_sync_is_named_on_every_workspace_page_accessibly(new_page, service, editor_name,
                                                                   javascript, scheme):
    from datetime import datetime, timedelta, timezone

    from feedback_formats import utc_timestamp
    from feedback_service import db, sync_status

    def ago(**delta) -> str:
        return utc_timestamp(datetime.now(timezone.utc) - timedelta(**delta))

    database = db.Database(service.env["FEEDBACK_DATABASE_URL"])
    status = sync_status.SyncStatus(owner="elsewhere:1", every=30, started=ago(hours=2),
                                    last_success=ago(minutes=30), failures=3,
                                    error="Der Bau der Ausgabe 2.0 ist gescheitert.")
    with database.session() as conn:
        db.write_meta(conn, sync_status.KEY, status.to_json())
    try:
        page = new_page(viewport={"width": 320, "height": 640}, color_scheme=scheme,
                        java_script_enabled=javascript)
        log_in(page, editor_name)
        for path in ("/redaktion/", "/redaktion/protokoll"):
            page.goto(path)
            notice = page.get_by_role("alert").filter(has_text="Veröffentlichung gestört")
            expect(notice).to_contain_text("Der Bau der Ausgabe 2.0 ist gescheitert.")
            if javascript:  # axe-core runs as a script; without one, the page is the same HTML
                assert_accessible(page, f"{path} mit gestörtem Abgleich bei 320 px ({scheme})")
            assert page.evaluate("document.documentElement.scrollWidth") <= 320
    finally:
        with database.session() as conn:
            db.delete_meta(conn, sync_status.KEY)
