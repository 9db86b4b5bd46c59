"""Sphinx configuration of the handbook (used with ``sphinx-build -c .``).

Every edition in ``releases.toml`` is built with this file and today's ``ext/``;
only ``docs/`` comes from the edition's commit.
"""

import os
from pathlib import Path
from datetime import date

# -- Edition -------------------------------------------------------------------
# `make site` sets these per edition from releases.toml; a plain `make html`
# builds the working tree as the edition in preparation, with its version and
# its date ("Stand", shown on the start page and the PDF title page).
project = "Wie kommunales E-Government gelingt"
subtitle = "Ein Kochbuch für Praktiker"
author = "Redaktion Kochbuch E-Government"
version = os.environ.get("HANDBOOK_VERSION", "2.1")
release = os.environ.get("HANDBOOK_RELEASE", version)
edition_date = os.environ.get("HANDBOOK_DATE", "2026-12-02")
copyright = f"2016–{date.today().year}, {author}"

_MONTHS = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
           "September", "Oktober", "November", "Dezember")
_edition_day = date.fromisoformat(edition_date)
# German date independent of the machine's locale (used by |today| and the PDF title page).
today = f"{_edition_day.day}. {_MONTHS[_edition_day.month - 1]} {_edition_day.year}"

# Where the site is published; the PDF names its discussion there, the feed links absolutely.
handbook_public_url = os.environ.get("HANDBOOK_PUBLIC_URL", "")

# -- Operator (placeholders: replace them before publishing) -------------------
# The legal pages (Impressum, Datenschutz, Barrierefreiheit) read these once.
handbook_operator = {
    "name": "[Name der herausgebenden Stelle]",
    "street": "[Straße und Hausnummer]",
    "city": "[PLZ Ort]",
    "email": "[redaktion@example.org]",
    "phone": "[Telefonnummer]",
    "representative": "[Vertretungsberechtigte Person]",
    "responsible": "[Inhaltlich verantwortliche Person nach § 18 Abs. 2 MStV]",
    "dpo": "[Name und Anschrift der oder des Datenschutzbeauftragten]",
    "supervisory": "[Zuständige Datenschutz-Aufsichtsbehörde]",
    "arbitration": "[Zuständige Schlichtungsstelle nach § 16 BGG bzw. Landesrecht]",
}
rst_prolog = "\n".join(
    f".. |operator_{key}| replace:: {value}" for key, value in handbook_operator.items()
)
myst_substitutions = {f"operator_{key}": value for key, value in handbook_operator.items()}

# -- General -------------------------------------------------------------------
extensions = ["myst_parser", "sphinx_handbook"]
language = "de"
root_doc = "index"
source_suffix = {".md": "markdown"}
exclude_patterns = ["STIL.md"]  # the authors' style sheet, not part of the handbook
templates_path = []
# German for the theme strings Sphinx's and furo's catalogues leave in English.
locale_dirs = [str(Path(__file__).parent / "ext" / "sphinx_handbook" / "locale")]
gettext_compact = False
numfig = False
smartquotes = True

myst_enable_extensions = ["colon_fence", "deflist", "substitution"]
myst_heading_anchors = 3

# -- HTML ----------------------------------------------------------------------
html_theme = "furo"
html_title = f"{project} – Ausgabe {version}"
html_short_title = "Kochbuch E-Government"
html_last_updated_fmt = "%d.%m.%Y"
html_favicon = str(Path(__file__).parent / "ext" / "sphinx_handbook" / "_static" / "favicon.svg")
html_copy_source = False
html_show_sourcelink = False
html_sidebars = {
    "**": [
        "sidebar/brand.html",
        "sidebar/search.html",
        "handbook-versions.html",
        "sidebar/scroll-start.html",
        "sidebar/navigation.html",
        "sidebar/scroll-end.html",
    ]
}
html_theme_options = {
    "navigation_with_keys": False,
    "top_of_page_buttons": [],
}

# -- PDF (rst2pdf, loaded only for `-b pdf`, see sphinx_handbook.pdf) ----------
pdf_documents = [
    ("index", "kochbuch-egovernment", f"{project} – {subtitle}", author),
]
pdf_language = "de_DE"
pdf_break_level = 1
pdf_breakside = "any"
pdf_use_index = False  # rst2pdf's index crashes on a glossary (rst2pdf issue 898)
pdf_use_modindex = False
pdf_domain_indices = False
pdf_use_coverpage = True
pdf_toc_depth = 3
pdf_fit_mode = "shrink"
pdf_smartquotes = 1
subtitle_prefix = "Ausgabe"
