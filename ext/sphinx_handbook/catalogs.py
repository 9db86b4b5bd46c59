"""Maintains the extension's message catalogues (``i18n.py``): German and English.

The code writes its messages in German: ``_()`` for text on the pages, ``__()``
for build messages (translated for the console's locale), ``ngettext()`` for
plurals, ``handbook_()`` in the page templates of the editions; the form's
labels come from ``feedback_formats``. After adding or changing a message, run::

    .venv/bin/python -m sphinx_handbook.catalogs

It adds new messages to ``locale/de`` (the German text itself) and to
``locale/en`` (empty: translate them there and run it again) and drops messages
the code no longer uses. ``tests/ext`` fails while a message is missing or
untranslated.
"""

from __future__ import annotations

import io
import sys
from datetime import datetime, timezone
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po
from feedback_formats import FORM_TEMPLATES
from feedback_formats.files import write_atomic

from .form import form_labels
from .rating import rating_labels
from .i18n import CATALOGS, LANGUAGES, THEME_CATALOG, catalog_path, compile_catalogs

__all__ = ["CATALOGS", "LANGUAGES", "THEME_CATALOG", "catalog_path", "extract_messages", "read_catalog", "main"]

PACKAGE = Path(__file__).parent
SOURCE_LANGUAGE = "de"
KEYWORDS = {"_": None, "__": None, "ngettext": (1, 2), "handbook_": None, "feedback_": None}
# Where each catalogue's messages are written.
SOURCES = {
    "feedback": ("comments.py", "form.py", "newest.py", "sections.py", "feed.py", "rating.py", "pdf/__init__.py",
                 "_templates/feedback/*.html", "_templates/feedback-*.html"),
    "handbook": ("layout.py", "versions.py", "changes.py", "recipe.py", "_templates/handbook/*.html",
                 "_templates/handbook-*.html", "_templates/page.html"),
}
# The comment form's template belongs to feedback_formats (beside this package); its texts are "feedback"'s.
FORM_SOURCE = FORM_TEMPLATES / "feedback" / "form.html"

Message = str | tuple[str, str]


def extract_messages(catalog: str) -> dict[Message, list[tuple[str, int]]]:
    """Every message of the catalogue's modules and templates, with where it is used."""
    messages: dict[Message, list[tuple[str, int]]] = {}
    files = sorted({path for pattern in SOURCES[catalog] for path in PACKAGE.glob(pattern)})
    if catalog == "feedback":
        files.append(FORM_SOURCE)
    for path in files:
        method = "jinja2.ext:babel_extract" if path.suffix == ".html" else "python"
        name = path.relative_to(PACKAGE if path.is_relative_to(PACKAGE) else PACKAGE.parent).as_posix()
        for lineno, message, _comments, _context in extract_from_file(method, path, keywords=KEYWORDS):
            messages.setdefault(message, []).append((name, lineno))
    if catalog == "feedback":
        for label in form_labels():
            messages.setdefault(label, []).append(("feedback_formats/submission.py", 0))
        for label in rating_labels():
            messages.setdefault(label, []).append(("rating.py", 0))
    return messages


def read_catalog(catalog: str, language: str) -> Catalog:
    with catalog_path(catalog, language, "po").open("rb") as handle:
        return read_po(handle, locale=language, domain=catalog)


def _translations(catalog: Catalog) -> dict[Message, Message]:
    return {message.id: message.string for message in catalog if message.id}


def update(catalog: str, language: str, messages: dict[Message, list[tuple[str, int]]]) -> Catalog:
    """The language's catalogue for ``messages``, keeping the translations it had."""
    path = catalog_path(catalog, language, "po")
    old = read_catalog(catalog, language) if path.exists() else Catalog(locale=language)
    known = _translations(old)
    new = Catalog(
        locale=language,
        domain=catalog,
        project="sphinx_handbook",
        header_comment=f"# {language} {catalog} messages of the sphinx_handbook extension "
                       "(python -m sphinx_handbook.catalogs).",
        creation_date=old.creation_date,
        revision_date=datetime.now(timezone.utc),
        fuzzy=False,
    )
    for message, locations in messages.items():
        string = known.get(message)
        if not string or string == ("", ""):
            if language == SOURCE_LANGUAGE:
                string = message
            else:
                string = ("", "") if isinstance(message, tuple) else ""
        new.add(message, string, locations=locations)
    if _translations(new) == known:
        new.revision_date = old.revision_date
    return new


def main() -> int:
    missing = 0
    for catalog in CATALOGS:
        messages = extract_messages(catalog)
        for language in LANGUAGES:
            updated = update(catalog, language, messages)
            path = catalog_path(catalog, language, "po")
            output = io.BytesIO()
            write_po(output, updated, width=100, sort_output=True, include_lineno=False)
            write_atomic(path, output.getvalue())
            untranslated = [m.id for m in updated if m.id and (not m.string or m.string == ("", ""))]
            for message in untranslated:
                print(f"{catalog}/{language}: untranslated: {message!r}", file=sys.stderr)
            missing += len(untranslated)
    compile_catalogs()
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
