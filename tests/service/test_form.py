"""The extension's comment form, sent to the service as a reader's browser sends it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from starlette.testclient import TestClient

from feedback_formats import FIELDS
from feedback_service.app import create_app
from feedback_service.config import load_config

ROOT = Path(__file__).resolve().parent.parent / "roots" / "test-feedback"


@pytest.fixture
def built(make_app, tmp_path) -> Path:
    """The two-chapter test handbook built with the extension (its pages and its manifest)."""
    srcdir = tmp_path / "handbook"
    shutil.copytree(ROOT, srcdir)
    app = make_app("html", srcdir=srcdir)
    app.build()
    return Path(app.outdir)


@pytest.fixture
def site(built, tmp_path):
    config = load_config({
        "FEEDBACK_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "FEEDBACK_SITE_DIR": str(built),
        "FEEDBACK_SECRET": "s", "FEEDBACK_RATE_LIMIT": "0", "FEEDBACK_ADMIN_TOKEN": "t",
    })
    with TestClient(create_app(config)) as client:
        yield client


def form_of(page: str, section: str):
    return BeautifulSoup(page, "html.parser").find("input", {"name": "section", "value": section}).find_parent("form")


def filled(form, **values: str) -> dict[str, str]:
    """What a browser sends for ``form``: its hidden fields, the checked radio, and ``values``."""
    data = {field["name"]: field.get("value", "") for field in form.select("input[type=hidden]")}
    data["kind"] = form.select_one("input[name=kind][checked]")["value"]
    return {**data, **values}


def label_text(form, control) -> str:
    """A field's label without links (the page links its privacy notes, the service knows no such page)."""
    label = BeautifulSoup(str(form.find("label", {"for": control["id"]})), "html.parser")
    for link in label.find_all("a"):
        link.decompose()
    return " ".join(label.get_text().split())


def visible_fields(form) -> list[tuple[str, str, str, str | None]]:
    """``(name, id, label, maxlength)`` of every field a reader fills in."""
    return [
        (control["name"], control["id"], label_text(form, control), control.get("maxlength"))
        for control in form.select("textarea, input:not([type=hidden])")
    ]


def test_the_extensions_form_posts_to_a_stored_comment(site, built):
    page = (built / "kapitel-01" / "index.html").read_text(encoding="utf-8")
    form = form_of(page, "qualitaetskultur")
    answer = site.post("/api/v1/comments", data=filled(form, text="Aus dem Formular", consent="on"),
                       follow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].endswith("#fb-ok-qualitaetskultur")
    stored = site.get("/api/v1/admin/comments", headers={"Authorization": "Bearer t"}).json()["comments"]
    assert [(row["section"], row["text"]) for row in stored] == [("qualitaetskultur", "Aus dem Formular")]


def test_the_error_page_shows_the_extensions_form_with_input_and_errors(site, built):
    page = (built / "kapitel-01" / "index.html").read_text(encoding="utf-8")
    form = form_of(page, "qualitaetskultur")
    too_long = "x" * (int(form.find("textarea", {"name": "text"})["maxlength"]) + 1)
    answer = site.post("/api/v1/comments", data=filled(form, text=too_long, author="Ada"), follow_redirects=False)
    assert answer.status_code == 422
    again = BeautifulSoup(answer.text, "html.parser").find("form")
    assert visible_fields(again) == visible_fields(form)
    assert again.find("textarea", {"name": "text"}).get_text() == too_long
    assert again.find("input", {"name": "author"})["value"] == "Ada"
    for name in ("text", "consent"):
        control = again.find(attrs={"name": name})
        message = again.find(id=control["aria-describedby"]).get_text()
        assert message and control["aria-invalid"] == "true", name
    assert FIELDS["text"].title in answer.text
    repost = {field["name"]: field.get("value", "") for field in again.select("input[type=hidden]")}
    assert repost == {name: value for name, value in filled(form).items() if name != "kind" and value}
