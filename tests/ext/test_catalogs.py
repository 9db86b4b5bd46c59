"""The German and English catalogues hold every message of the code, and a build compiles them."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo

from sphinx_handbook import catalogs

README = Path(__file__).resolve().parents[2] / "README.md"
CATALOGUES = [(catalog, language) for catalog in catalogs.CATALOGS for language in catalogs.LANGUAGES]


def messages(catalog) -> dict:
    """Message → translation; a plural is a tuple of its forms."""

    def key(value):
        return tuple(value) if isinstance(value, (list, tuple)) else value

    return {key(message.id): key(message.string) for message in catalog if message.id}


@pytest.mark.parametrize(("catalog", "language"), CATALOGUES)
def test_catalogue_has_exactly_the_messages_of_the_code(catalog, language):
    assert set(messages(catalogs.read_catalog(catalog, language))) == set(catalogs.extract_messages(catalog))


def test_the_templates_messages_are_in_the_catalogues():
    assert "Anonym" in catalogs.extract_messages("feedback")
    assert "Ausgaben" in catalogs.extract_messages("handbook")
    assert "Kommentar" in catalogs.extract_messages("feedback"), "the form's labels come from feedback_formats"


@pytest.mark.parametrize("catalog", catalogs.CATALOGS)
def test_english_catalogue_translates_every_message(catalog):
    untranslated = [m for m, s in messages(catalogs.read_catalog(catalog, "en")).items() if not s or s == ("", "")]
    assert untranslated == []


@pytest.mark.parametrize("catalog", catalogs.CATALOGS)
def test_german_catalogue_keeps_the_messages_as_written(catalog):
    assert all(string == message for message, string in messages(catalogs.read_catalog(catalog, "de")).items())


@pytest.mark.parametrize(("catalog", "language"), CATALOGUES)
def test_a_build_compiles_a_stale_catalogue_from_its_source(make_app, handbook, catalog, language):
    compiled = catalogs.catalog_path(catalog, language, "mo")
    source = catalogs.catalog_path(catalog, language, "po")
    if compiled.exists():
        # Older than its source, as after a checkout that touched the .po.
        stamp = source.stat().st_mtime_ns - 10**9
        os.utime(compiled, ns=(stamp, stamp))
    make_app("html", srcdir=handbook)
    assert compiled.stat().st_mtime_ns >= source.stat().st_mtime_ns
    with compiled.open("rb") as handle:
        assert messages(read_mo(handle)) == messages(catalogs.read_catalog(catalog, language))


def test_every_config_value_is_documented_in_the_readme(make_app, handbook):
    app = make_app("html", srcdir=handbook)
    names = {value.name for value in app.config if value.name.startswith(("feedback_", "handbook_"))}
    assert {"feedback_comments_path", "handbook_versions_path"} <= names
    section = README.read_text(encoding="utf-8").split("\n## Sphinx-Konfiguration\n", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `((?:feedback|handbook)_\w+)` \|", section, re.MULTILINE))
    assert documented == names
