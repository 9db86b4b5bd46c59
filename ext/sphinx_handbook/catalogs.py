"""Maintains the extension's ``feedback`` message catalogue (German, English).

The code writes its messages in German: ``_()`` for text on the pages, ``__()``
for build messages (translated for the console's locale), ``ngettext()`` for
plurals; ``__init__.py`` registers the catalogue. After adding or changing a message, run::

    .venv/bin/python -m sphinx_handbook.catalogs

It adds new messages to ``locale/de`` (the German text itself) and to
``locale/en`` (empty: translate them there and run it again), drops messages
the code no longer uses and compiles the ``.mo`` files. ``tests/ext`` fails
while a message is missing, untranslated, or a ``.mo`` file is stale.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

CATALOG = "feedback"
PACKAGE = Path(__file__).parent
LOCALE_DIR = PACKAGE / "locale"
SOURCE_LANGUAGE = "de"
LANGUAGES = ("de", "en")
KEYWORDS = {"_": None, "__": None, "ngettext": (1, 2)}

Message = str | tuple[str, str]


def catalog_path(language: str, suffix: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{CATALOG}.{suffix}"


def extract_messages() -> dict[Message, list[tuple[str, int]]]:
    """Every message of the package's modules, with where it is used."""
    messages: dict[Message, list[tuple[str, int]]] = {}
    for path in sorted(PACKAGE.glob("*.py")):
        for lineno, message, _comments, _context in extract_from_file("python", path, keywords=KEYWORDS):
            messages.setdefault(message, []).append((path.name, lineno))
    return messages


def read_catalog(language: str) -> Catalog:
    with catalog_path(language, "po").open("rb") as handle:
        return read_po(handle, locale=language, domain=CATALOG)


def _translations(catalog: Catalog) -> dict[Message, Message]:
    return {message.id: message.string for message in catalog if message.id}


def update(language: str, messages: dict[Message, list[tuple[str, int]]]) -> Catalog:
    """The language's catalogue for ``messages``, keeping the translations it had."""
    old = read_catalog(language) if catalog_path(language, "po").exists() else Catalog(locale=language)
    known = _translations(old)
    now = datetime.now(timezone.utc)
    new = Catalog(
        locale=language,
        domain=CATALOG,
        project="sphinx_handbook",
        header_comment=f"# {language} messages of the sphinx_handbook extension (python -m sphinx_handbook.catalogs).",
        creation_date=old.creation_date,
        revision_date=now,
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
    messages = extract_messages()
    missing = 0
    for language in LANGUAGES:
        catalog = update(language, messages)
        catalog_path(language, "po").parent.mkdir(parents=True, exist_ok=True)
        with catalog_path(language, "po").open("wb") as handle:
            write_po(handle, catalog, width=100, sort_output=True, include_lineno=False)
        with catalog_path(language, "mo").open("wb") as handle:
            write_mo(handle, catalog)
        untranslated = [m.id for m in catalog if m.id and (not m.string or m.string == ("", ""))]
        for message in untranslated:
            print(f"{language}: untranslated: {message!r}", file=sys.stderr)
        missing += len(untranslated)
    compile_theme_catalog()
    return 1 if missing else 0


# German for strings of furo and Sphinx that their own catalogues leave in
# English; written by hand, conf.py puts LOCALE_DIR first in ``locale_dirs``.
THEME_CATALOG = LOCALE_DIR / "de" / "LC_MESSAGES" / "sphinx.po"


def compile_theme_catalog() -> None:
    with THEME_CATALOG.open("rb") as handle:
        catalog = read_po(handle, locale="de", domain="sphinx")
    with THEME_CATALOG.with_suffix(".mo").open("wb") as handle:
        write_mo(handle, catalog)


if __name__ == "__main__":
    sys.exit(main())
