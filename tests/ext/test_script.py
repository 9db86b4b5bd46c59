"""feedback.js in Debian's Chromium: sending, field errors, a lost connection and its retry, withdrawing,
the way to the status page, and "War diese Seite hilfreich?" with and without JavaScript.

The page is the test handbook as Sphinx builds it, served over HTTP. The service's
answers come from Playwright's router, so that each answer the script must handle
(no connection, a 422 naming a field, a 429) can be given on demand; the real
service behind the real site is driven in ``tests/browser``.
"""

from __future__ import annotations

import functools
import json
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from sphinx.testing.util import SphinxTestApp

from .conftest import ROOTS

pytestmark = pytest.mark.browser

PAGE = "kapitel-02/index.html"
SECTION = "beteiligung"
CREATED = {"id": "c_1", "status": "pending", "delete_token": "geheim-123"}


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:
        """Serves without a line per request on stderr."""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The test handbook, built and served on a free local port."""
    srcdir = tmp_path_factory.mktemp("script") / "handbook"
    shutil.copytree(ROOTS / "test-feedback", srcdir)
    app = SphinxTestApp("html", srcdir=srcdir)
    try:
        app.build()
    finally:
        app.cleanup()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(app.outdir)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class Service:
    """Answers the page's API calls in the given order and keeps the requests."""

    def __init__(self, page, *answers) -> None:
        self.answers = list(answers)
        self.requests = []
        page.route("**/api/v1/comments**", self._answer)

    def _answer(self, route, request) -> None:
        self.requests.append(request)
        status, body = self.answers.pop(0)
        if status is None:
            route.abort("internetdisconnected")
        elif body is None:
            route.fulfill(status=status)
        else:
            route.fulfill(status=status, content_type="application/json", body=json.dumps(body))


@pytest.fixture
def page(browser, site):
    context = browser.new_context(base_url=site)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def open_form(page):
    page.goto(f"/{PAGE}")
    box = page.locator("details.fb-box").filter(has=page.locator(f'input[name="section"][value="{SECTION}"]'))
    box.locator("summary").click()
    return box.locator("form")


def test_lost_connection_keeps_the_text_and_the_retry_reuses_its_key(page):
    service = Service(page, (None, None), (202, CREATED))
    form = open_form(page)
    form.locator("textarea[name=text]").fill("Das Rezept hat uns geholfen.")
    form.locator("input[name=consent]").check()
    form.locator("button[type=submit]").click()
    status = form.locator(".fb-status")
    page.wait_for_function("s => s.textContent.includes('Keine Verbindung')", arg=status.element_handle())
    assert form.locator("textarea[name=text]").input_value() == "Das Rezept hat uns geholfen."
    assert page.url.endswith(PAGE), "the page navigated"

    form.locator("button[type=submit]").click()
    page.wait_for_function("s => s.textContent.startsWith('Danke!')", arg=status.element_handle())
    assert form.locator("textarea[name=text]").input_value() == ""
    # Said once more in the page's one live region, for screen readers.
    page.wait_for_function("() => document.getElementById('fb-live').textContent.startsWith('Danke!')")
    assert page.locator("[role=status]").count() == 1
    first, second = service.requests
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"] != ""
    assert second.method == "POST" and second.headers["content-type"] == "application/json"
    sent = json.loads(second.post_data)
    assert sent == {
        "text": "Das Rezept hat uns geholfen.", "author": "", "email": "", "kind": "comment", "consent": True,
        "website": "", "section": SECTION, "version": "2.0", "return_to": f"/{PAGE}#{SECTION}",
    }


def test_a_new_message_after_success_gets_a_new_key_and_can_be_withdrawn(page):
    service = Service(page, (202, CREATED), (204, None))
    form = open_form(page)
    form.locator("textarea[name=text]").fill("Bitte ergänzen Sie ein Beispiel.")
    form.locator("input[value=correction]").check()
    form.locator("button[type=submit]").click()
    withdraw = form.locator("button.fb-withdraw")
    withdraw.click()
    page.wait_for_function("s => s.textContent.includes('zurückgezogen')",
                           arg=form.locator(".fb-status").element_handle())
    assert withdraw.count() == 0
    sent, deleted = service.requests
    assert json.loads(sent.post_data)["kind"] == "correction"
    assert deleted.method == "DELETE" and deleted.url.endswith("/api/v1/comments/c_1")
    assert deleted.headers["x-delete-token"] == "geheim-123"


def test_field_error_is_shown_at_the_field_and_cleared_by_the_next_try(page):
    message = "Diese E-Mail-Adresse kann nicht stimmen."
    service = Service(
        page,
        (422, {"error": {"code": "invalid", "message": message, "field": "email"}}),
        (202, CREATED),
    )
    form = open_form(page)
    form.locator("textarea[name=text]").fill("Ein Hinweis.")
    email = form.locator("input[name=email]")
    email.fill("redaktion@example.invalid")
    form.locator("button[type=submit]").click()
    page.wait_for_function("e => e.getAttribute('aria-invalid') === 'true'", arg=email.element_handle())
    note = page.locator(f"[id='{email.get_attribute('aria-describedby')}']")
    assert note.text_content() == message and note.is_visible()
    assert email.evaluate("(e) => e.closest('.fb-field').contains(document.getElementById(e.getAttribute('aria-describedby')))")
    assert form.locator(".fb-status").text_content() == message
    assert email.evaluate("e => e === document.activeElement")
    assert form.locator("textarea[name=text]").input_value() == "Ein Hinweis."

    form.locator("button[type=submit]").click()
    page.wait_for_function("e => !e.hasAttribute('aria-invalid')", arg=email.element_handle())
    assert form.locator(".fb-error").count() == 0
    assert len(service.requests) == 2


def test_other_refusals_are_said_in_the_status_and_keep_the_text(page):
    Service(page, (429, {"error": {"code": "rate_limited", "message": "Zu viele Kommentare.", "field": None}}),
            (503, None))
    form = open_form(page)
    form.locator("textarea[name=text]").fill("Noch ein Gedanke.")
    status = form.locator(".fb-status")
    form.locator("button[type=submit]").click()
    page.wait_for_function("s => s.textContent === 'Zu viele Kommentare.'", arg=status.element_handle())
    form.locator("button[type=submit]").click()
    page.wait_for_function("s => s.textContent.includes('Fehler 503')", arg=status.element_handle())
    assert form.locator("textarea[name=text]").input_value() == "Noch ein Gedanke."
    assert form.locator("[aria-invalid]").count() == 0


# -- "War diese Seite hilfreich?" ------------------------------------------------------------


def rate_no(page, reason: str, remark: str):
    page.goto(f"/{PAGE}")
    form = page.locator("form.fb-rating-form")
    form.get_by_label("Nein").check()
    form.get_by_label(reason).check()
    form.locator("textarea[name=reason]").fill(remark)
    form.locator("button[type=submit]").click()
    return form


def test_rating_with_javascript_sends_one_reason_and_thanks_in_place(page):
    requests = []

    def answer(route, request):
        requests.append(request)
        route.fulfill(status=202, content_type="application/json", body="{}")

    page.route("**/api/v1/ratings", answer)
    form = rate_no(page, "Der Text ist schwer verständlich", "Zu viele Abkürzungen.")
    thanks = page.locator("#fb-rating-ok")
    thanks.wait_for(state="visible")
    assert form.is_hidden()
    page.wait_for_function("() => document.getElementById('fb-live').textContent.startsWith('Danke')")
    [sent] = requests
    assert sent.headers["content-type"] == "application/json"
    assert json.loads(sent.post_data) == {
        "doc": "kapitel-02/index", "version": "2.0", "helpful": "no",
        "reason": "Der Text ist schwer verständlich: Zu viele Abkürzungen.",
    }


def test_rating_refused_says_why_and_keeps_the_form(page):
    page.route("**/api/v1/ratings", lambda route: route.fulfill(
        status=429, content_type="application/json",
        body=json.dumps({"error": {"code": "rate_limited", "message": "Zu viele Rückmeldungen.", "field": None}})))
    form = rate_no(page, "Etwas anderes", "")
    status = form.locator(".fb-status")
    page.wait_for_function("s => s.textContent === 'Zu viele Rückmeldungen.'", arg=status.element_handle())
    assert form.is_visible() and page.locator("#fb-rating-ok").is_hidden()


def test_rating_without_javascript_posts_the_form_and_comes_back_to_the_thanks(browser, site):
    context = browser.new_context(base_url=site, java_script_enabled=False)
    page = context.new_page()
    posted = []

    def answer(route, request):
        posted.append(request.post_data)
        fields = parse_qs(request.post_data)
        # As the service answers a form post: 303 back to return_to, at the thanks.
        back = fields["return_to"][0].split("#")[0]
        route.fulfill(status=303, headers={"Location": f"{site}{back}#fb-rating-ok"})

    page.route("**/api/v1/ratings", answer)
    try:
        with page.expect_navigation():
            rate_no(page, "Die gesuchte Information fehlt", "Ein Beispiel.")
        fields = parse_qs(posted[0])
        assert fields["helpful"] == ["no"] and fields["doc"] == ["kapitel-02/index"]
        # The choice and the free text, in this order; the service joins them.
        assert fields["reason"] == ["Die gesuchte Information fehlt", "Ein Beispiel."]
        assert page.url.endswith(f"/{PAGE}#fb-rating-ok")
        assert page.locator("#fb-rating-ok").is_visible()
    finally:
        context.close()


def test_the_status_form_carries_the_newest_message_of_the_tab(page):
    Service(page, (202, CREATED))
    form = open_form(page)
    form.locator("textarea[name=text]").fill("Ein Hinweis.")
    form.locator("button[type=submit]").click()
    confirmation = page.locator(f"[id='fb-ok-{SECTION}']")
    confirmation.wait_for(state="visible")
    own = confirmation.locator("form.fb-own")
    assert own.locator("input[name=id]").input_value() == "c_1"
    assert own.locator("input[name=token]").input_value() == "geheim-123"
    # Every section's confirmation knows it after a reload, from this tab's storage alone.
    page.goto(f"/{PAGE}")
    tokens = page.locator("form.fb-own input[name=token]")
    assert tokens.count() == 2
    assert {tokens.nth(i).input_value() for i in range(tokens.count())} == {"geheim-123"}
    assert "geheim" not in page.url
