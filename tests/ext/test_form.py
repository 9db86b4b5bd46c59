"""The comment form a reader sees under a section, with and without JavaScript."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

from .conftest import box, comment, page

ASSETS = Path(__file__).resolve().parents[2] / "ext" / "sphinx_handbook" / "_static"


def fields(form) -> dict[str, list]:
    named: dict[str, list] = {}
    for element in form.select("input, textarea, select, button[name]"):
        named.setdefault(element.get("name"), []).append(element)
    return named


def test_form_posts_every_field_the_service_expects(build):
    soup = page(build(), "kapitel-01/index")
    form = box(soup, "qualitaetskultur").select_one("details.fb-box > form")
    assert form["method"] == "post"
    assert form["action"] == "/api/v1/comments"
    named = fields(form)
    assert set(named) == {
        "text", "author", "email", "kind", "consent", "notify", "website", "section", "version", "return_to"}
    assert named["text"][0].name == "textarea" and named["text"][0].has_attr("required")
    assert named["author"][0]["autocomplete"] == "name"
    assert named["author"][0]["maxlength"] == "80"
    assert named["email"][0]["type"] == "email"
    assert named["email"][0]["autocomplete"] == "email"
    assert [(r["value"], r.has_attr("checked")) for r in named["kind"]] == [
        ("comment", True), ("correction", False), ("barrier", False)]
    assert named["kind"][0].find_parent("fieldset").legend.get_text() == "Art der Nachricht"
    consent = named["consent"][0]
    assert (consent["type"], consent["value"]) == ("checkbox", "on")
    assert not consent.has_attr("required"), "corrections need no consent"
    notify = named["notify"][0]
    assert (notify["type"], notify["value"]) == ("checkbox", "on") and not notify.has_attr("checked")
    assert form.select_one(f'label[for="{notify["id"]}"]').get_text().startswith(
        "Benachrichtigen Sie mich, wenn mein Beitrag veröffentlicht oder beantwortet wird")
    hidden = {element["name"]: element["value"] for element in form.select('input[type="hidden"]')}
    assert hidden == {
        "section": "qualitaetskultur",
        "version": "2.0",
        "return_to": "/kapitel-01/index.html#qualitaetskultur",
    }
    assert form.select_one('button[type="submit"]').get_text() == "Absenden"


def test_every_visible_field_has_a_label_and_ids_are_unique(build):
    soup = page(build(), "kapitel-01/index")
    ids = Counter(element["id"] for element in soup.select("[id]"))
    assert [id_ for id_, count in ids.items() if count > 1] == []
    for form in soup.select("form.fb-form"):
        for element in form.select("input, textarea"):
            if element.get("type") == "hidden":
                continue
            labels = soup.select(f'label[for="{element["id"]}"]')
            assert len(labels) == 1 and labels[0].get_text(strip=True), element
    labels = [label.get_text(" ", strip=True) for label in box(soup, "qualitaet-vertiefen").select("label")]
    assert labels[:5] == [
        "Kommentar",
        "Name (optional)",
        "E-Mail (optional, wird nicht veröffentlicht)",
        "Öffentlicher Kommentar",
        "Fehler melden (nur an die Redaktion)",
    ]


def test_consent_links_the_privacy_page_when_the_edition_has_one(build):
    app = build()
    link = box(page(app, "kapitel-01/index"), "qualitaetskultur").select_one('label[for$="-consent"] a')
    assert link["href"] == "../datenschutz.html"
    app = build(confoverrides={"feedback_privacy_doc": "gibt-es-nicht"})
    assert box(page(app, "kapitel-01/index"), "qualitaetskultur").select_one('label[for$="-consent"] a') is None


def test_honeypot_is_hidden_from_people_and_assistive_technology(build):
    region = box(page(build(), "kapitel-01/index"), "qualitaetskultur")
    trap = region.select_one('input[name="website"]')
    wrapper = trap.find_parent(class_="fb-hp")
    assert wrapper["aria-hidden"] == "true"
    assert trap["tabindex"] == "-1" and trap["autocomplete"] == "off"
    css = (ASSETS / "feedback.css").read_text(encoding="utf-8")
    assert ".fb-hp { position: absolute; width: 1px; height: 1px; overflow: hidden;" in css


def summary(region) -> str:
    """The text of the section's own box (not of a reply under a comment)."""
    return region.select_one("details.fb-box > summary").get_text()


def test_confirmation_for_posts_without_javascript_sits_by_the_box(build):
    region = box(page(build(), "kapitel-02/index"), "beteiligung")
    confirmation = region.find(id="fb-ok-beteiligung")
    assert confirmation.get_text().strip().startswith("Danke!")
    assert confirmation.find_next_sibling("details")["class"] == ["fb-box"]
    # The private way back: a form to the service's status page, the token never in a URL.
    own = confirmation.select_one("form.fb-own")
    assert own["method"] == "post" and own["action"] == "/rueckmeldung/status"
    assert [(field["name"], field["type"]) for field in own.select("input")] == [("id", "hidden"), ("token", "hidden")]
    assert own.button.get_text() == "Was wird aus meiner Nachricht?"
    css = (ASSETS / "feedback.css").read_text(encoding="utf-8")
    assert ".fb-ok { display: none; }" in css and ".fb-ok:target, .fb-ok.fb-ok-shown { display: block;" in css


def test_one_live_region_per_page(build):
    soup = page(build(comments=[comment("c1", "beteiligung")]), "kapitel-02/index")
    # Two boxes, a reply form and the rating form share the page's one live region.
    assert len(soup.select("form")) >= 4
    assert [element.get("id") for element in soup.select('[role="status"]')] == ["fb-live"]
    assert "fb-vh" in soup.find(id="fb-live")["class"]


def test_summary_counts_the_sections_comments(build):
    app = build(comments=[
        comment("c1", "qualitaetskultur"),
        comment("c2", "qualitaetskultur", reply_to="c1"),
        comment("c3", "beteiligung"),
    ])
    chapter_one = page(app, "kapitel-01/index")
    assert summary(box(chapter_one, "qualitaetskultur")) == "Kommentieren… (2 Kommentare)"
    assert summary(box(chapter_one, "qualitaet-vertiefen")) == "Kommentieren…"
    assert summary(box(page(app, "kapitel-02/index"), "beteiligung")) == "Kommentieren… (1 Kommentar)"


def test_service_url_and_site_path_shape_action_and_return_address(build):
    app = build(confoverrides={
        "feedback_service_url": "https://feedback.example.org/",
        "feedback_site_path": "/2.0/",
    })
    region = box(page(app, "kapitel-02/index"), "beteiligung-online")
    form = region.select_one("form.fb-form")
    assert form["action"] == "https://feedback.example.org/api/v1/comments"
    assert region.select_one("form.fb-own")["action"] == "https://feedback.example.org/rueckmeldung/status"
    assert form.select_one('input[name="return_to"]')["value"] == "/2.0/kapitel-02/index.html#beteiligung-online"


def test_web_pages_load_the_script_deferred_and_the_styles(build):
    soup = page(build(), "glossar")
    script = soup.find("script", src=lambda src: src and src.startswith("_static/feedback.js"))
    assert script is not None and script.has_attr("defer")
    assert soup.find("link", href=lambda href: href and href.startswith("_static/feedback.css")) is not None


def test_script_and_styles_stay_small(build):
    app = build()
    size = sum(len(gzip.compress(Path(app.outdir, "_static", name).read_bytes(), 9))
               for name in ("feedback.js", "feedback.css"))
    # Comment box, replies, the rating form and the way to the status page, in 5 KiB.
    assert size <= 5120, f"feedback.js + feedback.css are {size} bytes gzipped"


def test_pages_follow_the_language_of_the_edition(build):
    app = build(confoverrides={"language": "en"},
                comments=[comment("c1", "qualitaetskultur", created="2026-11-20T09:30:00Z", author=None)])
    region = box(page(app, "kapitel-01/index"), "qualitaetskultur")
    assert summary(region) == "Comment… (1 comment)"
    assert region.select_one("details.fb-reply > summary").get_text() == "Reply to the post by Anonymous"
    assert region.select_one('label[for$="-text"]').get_text() == "Comment"
    assert region.select_one(".fb-author").get_text() == "Anonymous"
    assert region.select_one("time").get_text() == "November 20, 2026, 10:30 AM"


def test_every_form_of_a_page_carries_its_own_section_and_comment(build):
    # The page's forms are rendered once and filled in per section and comment (form.PageForms).
    soup = page(build(comments=[comment("c1", "qualitaetskultur"), comment("c2", "qualitaet-vertiefen"),
                                comment("c3", "qualitaet-vertiefen", reply_to="c2")]), "kapitel-01/index")
    sections = [details["id"].removeprefix("fb-") for details in soup.select("details.fb-box")]
    assert {"qualitaetskultur", "qualitaet-vertiefen"} <= set(sections) and len(sections) >= 3
    for section in sections:
        region = box(soup, section)
        forms = [(f"fb-{section}", region.select_one("details.fb-box > form"), None)] + [
            (details["id"], details.select_one("form"), details["id"].rsplit("-re-", 1)[1])
            for details in region.select("details.fb-reply")]
        for prefix, form, answered in forms:
            assert form.select_one('input[name="section"]')["value"] == section
            assert form.select_one('input[name="return_to"]')["value"] == f"/kapitel-01/index.html#{section}"
            assert all(element["id"].startswith(f"{prefix}-") for element in form.select("[id]")), prefix
            reply_to = form.select_one('input[name="reply_to"]')
            assert (reply_to and reply_to["value"]) == answered
    assert [d["id"] for d in box(soup, "qualitaet-vertiefen").select("details.fb-reply")] == [
        "fb-qualitaet-vertiefen-re-c2", "fb-qualitaet-vertiefen-re-c3"]
