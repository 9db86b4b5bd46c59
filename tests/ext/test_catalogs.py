"""The German and English catalogues hold every message of the code, and the .mo files are current."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo

from sphinx_handbook import catalogs

README = Path(__file__).resolve().parents[2] / "README.md"


def messages(catalog) -> dict:
    """Message → translation; a plural is a tuple of its forms."""

    def key(value):
        return tuple(value) if isinstance(value, (list, tuple)) else value

    return {key(message.id): key(message.string) for message in catalog if message.id}


@pytest.mark.parametrize("language", catalogs.LANGUAGES)
def test_catalogue_has_exactly_the_messages_of_the_code(language):
    assert set(messages(catalogs.read_catalog(language))) == set(catalogs.extract_messages())


def test_english_catalogue_translates_every_message():
    untranslated = [m for m, s in messages(catalogs.read_catalog("en")).items() if not s or s == ("", "")]
    assert untranslated == []


def test_german_catalogue_keeps_the_messages_as_written():
    assert all(string == message for message, string in messages(catalogs.read_catalog("de")).items())


@pytest.mark.parametrize("language", catalogs.LANGUAGES)
def test_compiled_catalogue_matches_its_source(language):
    with catalogs.catalog_path(language, "mo").open("rb") as handle:
        compiled = messages(read_mo(handle))
    assert compiled == messages(catalogs.read_catalog(language)), "run: python -m sphinx_handbook.catalogs"


def test_every_config_value_is_documented_in_the_readme(make_app, handbook):
    app = make_app("html", srcdir=handbook)
    names = {value.name for value in app.config if value.name.startswith("feedback_")}
    assert "feedback_comments_path" in names
    section = README.read_text(encoding="utf-8").split("\n## Sphinx-Konfiguration\n", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(feedback_\w+)` \|", section, re.MULTILINE))
    assert documented == names
