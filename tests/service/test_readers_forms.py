"""The extension's rating form and status form, sent to the service as a browser without JavaScript sends them."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from bs4 import BeautifulSoup

from .test_form import edition, filled, form_of, site  # noqa: F401 - fixtures and helpers of the built handbook


@pytest.fixture
def built(edition):  # noqa: F811
    """The pages of the test handbook's edition that the service serves."""
    return edition[1] / "2.0"


FORM_TYPE = {"Content-Type": "application/x-www-form-urlencoded"}


def test_the_rating_form_with_the_longest_reason_and_a_full_free_text_is_stored_joined(site, built):
    page = BeautifulSoup((built / "kapitel-01" / "index.html").read_text(encoding="utf-8"), "html.parser")
    form = page.select_one("form.fb-rating-form")
    hidden = [(field["name"], field["value"]) for field in form.select("input[type=hidden]")]
    longest = max((radio["value"] for radio in form.select("input[name=reason][type=radio]")), key=len)
    free_text = "x" * int(form.select_one("textarea[name=reason]")["maxlength"])
    body = [*hidden, ("helpful", "no"), ("reason", longest), ("reason", free_text)]
    answer = site.post(form["action"], content=urlencode(body), headers=FORM_TYPE, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].endswith("#fb-rating-ok")
    assert page.find(id="fb-rating-ok") is not None
    [counted] = site.get("/api/v1/admin/ratings", headers={"Authorization": "Bearer t"}).json()["ratings"]
    assert counted["reasons"] == [{"reason": f"{longest}: {free_text}", "count": 1}]


def test_the_confirmations_status_form_finds_the_message_by_the_cookie(site, built):
    page = BeautifulSoup((built / "kapitel-01" / "index.html").read_text(encoding="utf-8"), "html.parser")
    form = form_of(str(page), "qualitaetskultur")
    sent = site.post(form["action"], data=filled(form, text="Ohne JavaScript geschrieben", consent="on"),
                     follow_redirects=False)
    assert sent.status_code == 303
    own = page.select_one("#fb-ok-qualitaetskultur form.fb-own")
    fields = {field["name"]: field.get("value", "") for field in own.select("input")}
    assert fields == {"id": "", "token": ""}
    answer = site.post(own["action"], data=fields)
    assert answer.status_code == 200
    assert "Ohne JavaScript geschrieben" in answer.text and "wartet auf Prüfung" in answer.text
