"""The German HTML pages of the service: thanks and errors of a plain form post, 404s,
a reader's status page.

Each is a Jinja template in ``templates/``, rendered through Starlette's
``Jinja2Templates`` with the i18n extension, so the texts are translatable.
The error page renders the comment box's form again, the one template
``feedback/form.html`` that ``feedback_formats`` owns and the extension renders
under every section, with what the reader sent and each error at its field.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import jinja2
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from feedback_formats import BOX_KINDS, FIELDS, FORM_TEMPLATES, KIND_LABELS, PRIVACY_DOC, SUBMISSION_FIELDS

from .errors import ApiError

API_PATH = "/api/v1/comments"
# The fields the reader fills in; an error there links to the field.
_VISIBLE = {field.name for field in SUBMISSION_FIELDS if field.control not in ("hidden", "honeypot")}
_HIDDEN = [field.name for field in SUBMISSION_FIELDS if field.control == "hidden"]
# An edition's privacy notes, as the extension names them by default.
PRIVACY_PAGE = f"{PRIVACY_DOC}.html"


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.ChoiceLoader([
            jinja2.PackageLoader("feedback_service", "templates"),
            jinja2.FileSystemLoader(FORM_TEMPLATES),  # feedback/form.html, the extension's form too
        ]),
        autoescape=True, extensions=["jinja2.ext.i18n"], trim_blocks=False,
    )
    environment.install_null_translations(newstyle=True)
    return environment


templates = Jinja2Templates(env=_environment())


def _text_values(fields: dict) -> dict[str, str]:
    return {name: value for name, value in fields.items() if name in FIELDS and isinstance(value, str)}


def privacy_url(site_dir: Path, return_to: str | None) -> str | None:
    """The privacy notes of the edition the reader came from, if the served site has them.

    The edition is the first segment of the page's path (``/2.0/…``, ``/latest/…``),
    as ``handbook_editions`` publishes them; without that page there is no link,
    as on a page whose edition has no privacy document.
    """
    if not return_to:
        return None
    parts = urlsplit(return_to)
    edition = parts.path.split("/")[1] if parts.path.startswith("/") else ""
    if not edition or edition.startswith("."):  # no way out of the site (..), nothing hidden
        return None
    if not (site_dir / edition / PRIVACY_PAGE).is_file():
        return None
    return urlunsplit((parts.scheme, parts.netloc, f"/{quote(edition)}/{PRIVACY_PAGE}", "", ""))


def error_page(
    request: Request, errors: list[ApiError], fields: dict, return_to: str | None, status: int,
    headers: dict[str, str] | None = None,
) -> Response:
    """The errors in words, and the form again with everything the reader typed."""
    values = _text_values(fields)
    section = values.get("section", "")
    prefix = f"fb-{section}" if section else "fb"
    listed = [
        {"message": error.message, "title": FIELDS[error.field].title if error.field in FIELDS else "",
         "target": f"{prefix}-{error.field}" if error.field in _VISIBLE and values else ""}
        for error in errors
    ]
    return templates.TemplateResponse(request, "error.html", {
        "errors": listed,
        "field_errors": {error.field: error.message for error in errors if error.field in _VISIBLE},
        "values": values,
        "hidden": {name: values[name] for name in _HIDDEN if values.get(name)},
        "return_to": return_to,
        "action": API_PATH,
        "prefix": prefix,
        "fields": SUBMISSION_FIELDS,
        # The box's kinds, and the one the reader chose if another form offered it.
        "kinds": [(kind, KIND_LABELS[kind]) for kind in BOX_KINDS + (
            (values["kind"],) if values.get("kind") in KIND_LABELS and values["kind"] not in BOX_KINDS else ())],
        "privacy_url": privacy_url(request.app.state.service.config.site_dir, return_to),
    }, status_code=status, headers=headers)


def thanks_page(request: Request, status: int) -> Response:
    return templates.TemplateResponse(request, "thanks.html", status_code=status)


def not_found_page(request: Request, status: int, headers: dict[str, str] | None = None) -> Response:
    return templates.TemplateResponse(request, "not-found.html", status_code=status, headers=headers)


def site_missing_page(request: Request) -> Response:
    return templates.TemplateResponse(request, "site-missing.html", status_code=404)


def problem_page(
    request: Request, what: str, errors: list[ApiError], return_to: str | None, status: int,
    headers: dict[str, str] | None = None,
) -> Response:
    """Why a rating, the status page or a withdrawal did not work (``what``: rating, status, withdraw)."""
    return templates.TemplateResponse(request, "problem.html", {
        "what": what, "errors": [error.message for error in errors], "return_to": return_to,
    }, status_code=status, headers=headers)


def rating_thanks_page(request: Request) -> Response:
    return templates.TemplateResponse(request, "rating-thanks.html", status_code=202)


def status_page(request: Request, messages: list[dict], withdraw_action: str, headers: dict[str, str]) -> Response:
    return templates.TemplateResponse(request, "status.html", {
        "messages": messages, "withdraw_action": withdraw_action,
    }, headers=headers)


def withdrawn_page(request: Request, more: bool, status_action: str, headers: dict[str, str]) -> Response:
    return templates.TemplateResponse(request, "withdrawn.html", {
        "more": more, "status_action": status_action,
    }, headers=headers)


def no_message_page(request: Request, headers: dict[str, str]) -> Response:
    return templates.TemplateResponse(request, "no-message.html", status_code=404, headers=headers)
