"""The small German HTML pages a plain form post (no JavaScript) gets back."""

from __future__ import annotations

from html import escape
from pathlib import Path

from starlette.templating import Jinja2Templates

from .errors import FIELD_LABELS, ApiError

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.5}label{display:block;margin-top:1rem;font-weight:600}"
    "input[type=text],input[type=email],textarea{width:100%;box-sizing:border-box;"
    "font:inherit;padding:.4rem}textarea{min-height:10rem}"
    ".fehler{border-left:4px solid #b00020;padding:.5rem 1rem;background:#fdecee}"
    "button{margin-top:1rem;font:inherit;padding:.4rem 1rem}"
    ":focus-visible{outline:3px solid #1a5fb4;outline-offset:2px}"
)


def page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="de">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def _value(fields: dict, name: str) -> str:
    value = fields.get(name)
    return value if isinstance(value, str) else ""


def error_page(errors: list[ApiError], fields: dict, return_to: str | None) -> str:
    """The errors in words, and the form again with everything the reader typed."""
    items = []
    for error in errors:
        label = FIELD_LABELS.get(error.field or "", "")
        target = f'<a href="#fb-{escape(error.field)}">{escape(label)}</a>: ' if (
            label and error.field in _FORM_FIELDS
        ) else ""
        items.append(f"<li>{target}{escape(error.message)}</li>")
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{escape(_value(fields, name))}">'
        for name in ("section", "version", "kind", "reply_to", "return_to")
        if _value(fields, name)
    )
    consent = ' checked' if _value(fields, "consent") == "on" else ""
    back = (
        f'<p><a href="{escape(return_to)}">Zurück zum Abschnitt</a></p>' if return_to else ""
    )
    form = ""
    if fields:
        form = (
            '<form method="post" action="/api/v1/comments">'
            f"{hidden}"
            '<label for="fb-text">Ihr Text</label>'
            f'<textarea id="fb-text" name="text" required maxlength="5000">'
            f"{escape(_value(fields, 'text'))}</textarea>"
            '<label for="fb-author">Name (freiwillig, wird veröffentlicht)</label>'
            f'<input type="text" id="fb-author" name="author" maxlength="80" '
            f'value="{escape(_value(fields, "author"))}">'
            '<label for="fb-email">E-Mail (freiwillig, wird nicht veröffentlicht)</label>'
            f'<input type="email" id="fb-email" name="email" maxlength="254" '
            f'value="{escape(_value(fields, "email"))}">'
            '<label for="fb-consent"><input type="checkbox" id="fb-consent" name="consent" '
            f'value="on"{consent}> Ich bin einverstanden, dass mein Kommentar nach Prüfung '
            "veröffentlicht wird.</label>"
            '<button type="submit">Erneut senden</button></form>'
        )
    body = (
        "<h1>Ihr Beitrag wurde noch nicht gesendet</h1>"
        '<div class="fehler" role="alert"><p>Bitte korrigieren Sie:</p>'
        f"<ul>{''.join(items)}</ul></div>{form}{back}"
    )
    return page("Fehler beim Senden – Kommentar", body)


_FORM_FIELDS = ("text", "author", "email", "consent")


def thanks_page() -> str:
    body = (
        '<h1>Vielen Dank</h1><p role="status">Ihr Beitrag ist angekommen. Die Redaktion '
        "prüft ihn, bevor er erscheint.</p>"
        '<p><a href="/">Zur Startseite des Handbuchs</a></p>'
    )
    return page("Vielen Dank – Kommentar", body)
