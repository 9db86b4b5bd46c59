"""The comment form: one template, rendered empty by the extension and filled in by the service.

The extension's page is built from the test handbook as edition ``2.0`` of a
site (``/2.0/…``, as ``make site`` publishes it), the service serves that site,
and the form is sent as a reader's browser sends it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urljoin

import pytest
from bs4 import BeautifulSoup
from starlette.testclient import TestClient

from feedback_formats import BOX_KINDS, FIELDS, FORM_TEMPLATES, KIND_LABELS, SUBMISSION_FIELDS
from feedback_service import pages
from feedback_service.app import create_app
from feedback_service.config import load_config

ROOT = Path(__file__).resolve().parent.parent / "roots" / "test-feedback"
PAGE = "/2.0/kapitel-01/index.html"
# Everything HTML gives a meaning to, where a reader may well type it.
AWKWARD = """<b>Müller & "Söhne"</b> 'GmbH' &amp;"""


@pytest.fixture
def edition(make_app, tmp_path):
    """The test handbook built as edition 2.0 of a site (its Sphinx app and the site's root)."""
    srcdir = tmp_path / "handbook"
    shutil.copytree(ROOT, srcdir)
    app = make_app("html", srcdir=srcdir, confoverrides={"feedback_site_path": "/2.0/"})
    app.build()
    site = tmp_path / "site"
    shutil.copytree(app.outdir, site / "2.0")
    return app, site


@pytest.fixture
def site(edition, tmp_path):
    config = load_config({
        "FEEDBACK_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "FEEDBACK_SITE_DIR": str(edition[1]),
        "FEEDBACK_SECRET": "s", "FEEDBACK_RATE_LIMIT": "0", "FEEDBACK_ADMIN_TOKEN": "t",
    })
    with TestClient(create_app(config)) as client:
        yield client


def form_of(page: str, section: str):
    return BeautifulSoup(page, "html.parser").find("input", {"name": "section", "value": section}).find_parent("form")


def page_form(site, section: str = "qualitaetskultur"):
    return form_of(site.get(PAGE).text, section)


def filled(form, **values: str) -> dict[str, str]:
    """What a browser sends for ``form``: its hidden fields, the checked radio, and ``values``."""
    data = {field["name"]: field.get("value", "") for field in form.select("input[type=hidden]")}
    data["kind"] = form.select_one("input[name=kind][checked]")["value"]
    return {**data, **values}


def controls(form) -> list[tuple]:
    """Every control in order: element, type, name, id, maxlength, required, and its label's words."""
    def label(control):
        found = form.find("label", {"for": control.get("id")}) if control.get("id") else None
        return " ".join(found.get_text().split()) if found else None

    return [
        (control.name, control.get("type"), control["name"], control.get("id"), control.get("maxlength"),
         control.has_attr("required"), label(control))
        for control in form.select("textarea, input")
    ]


def test_the_extensions_form_posts_to_a_stored_comment(site):
    form = page_form(site)
    answer = site.post("/api/v1/comments", data=filled(form, text="Aus dem Formular", consent="on"),
                       follow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/2.0/kapitel-01/index.html#fb-ok-qualitaetskultur"
    stored = site.get("/api/v1/admin/comments", headers={"Authorization": "Bearer t"}).json()["comments"]
    assert [(row["section"], row["text"]) for row in stored] == [("qualitaetskultur", "Aus dem Formular")]


def test_the_error_page_is_the_pages_form_filled_in_with_each_error_at_its_field(site):
    form = page_form(site)
    too_long = "x" * (int(form.find("textarea", {"name": "text"})["maxlength"]) + 1)
    answer = site.post("/api/v1/comments", data=filled(form, text=too_long, author="Ada"), follow_redirects=False)
    assert answer.status_code == 422
    again = BeautifulSoup(answer.text, "html.parser").find("form")
    assert controls(again) == controls(form)
    assert again.find("textarea", {"name": "text"}).get_text() == too_long
    assert again.find("input", {"name": "author"})["value"] == "Ada"
    assert again.select_one("input[name=kind][checked]")["value"] == "comment"
    for name in ("text", "consent"):
        control = again.find(attrs={"name": name})
        message = again.find(id=control["aria-describedby"]).get_text()
        assert message and control["aria-invalid"] == "true", name
    assert not again.find(attrs={"name": "author"}).has_attr("aria-invalid")
    assert FIELDS["text"].title in answer.text
    repost = {field["name"]: field.get("value", "") for field in again.select("input[type=hidden]")}
    assert repost == {name: value for name, value in filled(form).items() if name != "kind" and value}


def test_the_error_page_keeps_the_readers_choices(site):
    form = page_form(site)
    answer = site.post("/api/v1/comments", data=filled(form, text=" ", kind="correction", notify="on"),
                       follow_redirects=False)
    again = BeautifulSoup(answer.text, "html.parser").find("form")
    assert again.select_one("input[name=kind][checked]")["value"] == "correction"
    assert again.find("input", {"name": "notify"}).has_attr("checked")
    assert not again.find("input", {"name": "consent"}).has_attr("checked")


def test_what_the_reader_typed_comes_back_exactly_as_typed(site):
    form = page_form(site)
    answer = site.post("/api/v1/comments", data=filled(form, text=AWKWARD, author=AWKWARD), follow_redirects=False)
    assert answer.status_code == 422  # no consent
    again = BeautifulSoup(answer.text, "html.parser").find("form")
    assert again.find("textarea", {"name": "text"}).get_text() == AWKWARD
    assert again.find("input", {"name": "author"})["value"] == AWKWARD
    assert again.find("b") is None
    assert "&amp;lt;" not in answer.text and "&amp;amp;amp;" not in answer.text


def test_the_consent_links_the_privacy_notes_of_the_readers_edition(site, edition):
    form = page_form(site)
    on_page = form.select_one('label[for$="-consent"] a')
    answer = site.post("/api/v1/comments", data=filled(form, text="Ohne Einwilligung"), follow_redirects=False)
    link = BeautifulSoup(answer.text, "html.parser").find("form").select_one('label[for$="-consent"] a')
    assert link.get_text() == on_page.get_text() == "Hinweise zum Datenschutz"
    assert link["href"] == urljoin(PAGE, on_page["href"]) == "/2.0/datenschutz.html"
    assert site.get(link["href"]).status_code == 200

    (edition[1] / "2.0" / "datenschutz.html").unlink()
    answer = site.post("/api/v1/comments", data=filled(form, text="Ohne Einwilligung"), follow_redirects=False)
    again = BeautifulSoup(answer.text, "html.parser").find("form")
    assert again.select_one('label[for$="-consent"] a') is None
    assert again.select_one('label[for$="-consent"]').get_text().startswith("Ich bin einverstanden")


@pytest.mark.parametrize(("return_to", "link"), [
    ("/2.0/kapitel-01/index.html#qualitaetskultur", "/2.0/datenschutz.html"),
    ("/latest/kapitel-01/index.html", "/latest/datenschutz.html"),
    ("https://handbuch.example.org/2.0/index.html?x=1#y", "https://handbuch.example.org/2.0/datenschutz.html"),
    ("/1.0/kapitel-01/index.html", None),  # an edition without privacy notes
    ("/kapitel-01/index.html", None),  # not an edition
    ("/../site/2.0/index.html", None),
    ("/.hidden/index.html", None),
    ("/", None),
    (None, None),
])
def test_the_privacy_link_is_the_one_of_the_edition_the_form_came_from(tmp_path, return_to, link):
    for edition in ("2.0", "latest", ".hidden"):
        (tmp_path / "site" / edition).mkdir(parents=True)
        (tmp_path / "site" / edition / "datenschutz.html").write_text("<p>Datenschutz</p>", encoding="utf-8")
    (tmp_path / "site" / "1.0").mkdir()
    (tmp_path / "datenschutz.html").write_text("<p>außerhalb</p>", encoding="utf-8")
    assert pages.privacy_url(tmp_path / "site", return_to) == link


FORM_CALL = ('{% from "feedback/form.html" import comment_form with context %}'
             "{{ comment_form(prefix, hidden, kinds, values, errors) }}")


def form_context(**extra) -> dict:
    return {
        "action": "/api/v1/comments", "fields": SUBMISSION_FIELDS, "prefix": "fb-x",
        "kinds": [(kind, KIND_LABELS[kind]) for kind in BOX_KINDS],
        "hidden": {"section": "x", "version": "2.0", "return_to": "/2.0/a.html?b=1&c=2"},
        "values": {"text": AWKWARD, "author": AWKWARD, "kind": "barrier", "consent": "on"},
        "errors": {"text": 'Zu lang: "<5000>"', "email": "E-Mail & mehr"},
        "privacy_url": "/2.0/datenschutz.html?a=1&b=2",
        **extra,
    }


def test_both_sides_load_the_one_template_of_feedback_formats(edition):
    app, _site = edition
    sphinx_templates = app.builder.templates
    service_templates = pages.templates.env
    one = FORM_TEMPLATES / "feedback" / "form.html"
    assert Path(sphinx_templates.get_source(sphinx_templates.environment, "feedback/form.html")[1]) == one
    assert Path(service_templates.loader.get_source(service_templates, "feedback/form.html")[1]) == one


def test_the_template_renders_the_same_with_and_without_autoescaping(edition):
    """Sphinx renders without autoescaping, the service with it: the same HTML, escaped once."""
    app, _site = edition
    context = form_context()
    by_sphinx = app.builder.templates.render_string(FORM_CALL, context)
    by_service = pages.templates.env.from_string(FORM_CALL).render(context)
    assert by_sphinx == by_service
    form = BeautifulSoup(by_service, "html.parser").form
    assert form.find("textarea")["aria-describedby"] == "fb-x-text-error"
    assert form.find(id="fb-x-text-error").get_text() == 'Zu lang: "<5000>"'
    assert form.find(id="fb-x-email-error").get_text() == "E-Mail & mehr"
    assert form.find("textarea").get_text() == form.find("input", {"name": "author"})["value"] == AWKWARD
    assert form.find("input", {"name": "return_to"})["value"] == "/2.0/a.html?b=1&c=2"
    assert form.select_one('label[for="fb-x-consent"] a')["href"] == "/2.0/datenschutz.html?a=1&b=2"
    assert form.select_one("input[name=kind][checked]")["value"] == "barrier"
    assert form.find("input", {"name": "consent"}).has_attr("checked")
    assert form.find("b") is None and "&amp;lt;" not in by_service
