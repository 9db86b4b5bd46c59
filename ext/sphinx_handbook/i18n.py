"""The extension's message catalogues: where they are, and compiling them when the extension loads.

Two catalogues, one per concern: ``feedback`` (comment boxes, comments, the
newest-comments page, build messages about them) and ``handbook`` (editions,
recipe cards), in German and English; ``catalogs.py`` maintains them. Only the
``.po`` files are tracked. The ``.mo`` files are compiled from them when the
extension is loaded and a ``.mo`` is missing or older than its ``.po`` (git
ignores them), so a build never rewrites a tracked file.
"""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from feedback_formats.files import write_atomic

LOCALE_DIR = Path(__file__).parent / "locale"
CATALOGS = ("feedback", "handbook")
LANGUAGES = ("de", "en")
# German for strings of furo and Sphinx that their own catalogues leave in
# English; written by hand, conf.py puts LOCALE_DIR first in ``locale_dirs``.
THEME_CATALOG = LOCALE_DIR / "de" / "LC_MESSAGES" / "sphinx.po"


def catalog_path(catalog: str, language: str, suffix: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{catalog}.{suffix}"


def _compile(po: Path, catalog: str, language: str) -> None:
    with po.open("rb") as handle:
        messages = read_po(handle, locale=language, domain=catalog)
    compiled = io.BytesIO()
    write_mo(compiled, messages)
    write_atomic(po.with_suffix(".mo"), compiled.getvalue())


def compile_catalogs() -> None:
    """Compile every ``.po`` whose ``.mo`` is missing or older."""
    sources = [(catalog_path(c, lang, "po"), c, lang) for c in CATALOGS for lang in LANGUAGES]
    for po, catalog, language in [*sources, (THEME_CATALOG, "sphinx", "de")]:
        mo = po.with_suffix(".mo")
        if not mo.is_file() or mo.stat().st_mtime_ns < po.stat().st_mtime_ns:
            _compile(po, catalog, language)
