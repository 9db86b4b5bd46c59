"""Compiled page templates kept between builds (``handbook_template_cache``).

A build compiles every Jinja template it renders (furo's page, the comment
box, the sidebar …) before it writes its first page; in a rebuild that writes
one page, that is much of the work. With ``handbook_template_cache`` naming a
directory, the compiled templates are kept there (Jinja's bytecode cache) and
later builds, of this edition or another, load them instead. Jinja recompiles
a template whose source changed, so the pages come out as without the cache.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import FileSystemBytecodeCache
from sphinx.application import Sphinx


def _use_cache(app: Sphinx) -> None:
    directory = app.config.handbook_template_cache
    environment = getattr(getattr(app.builder, "templates", None), "environment", None)
    if not directory or environment is None:
        return  # no cache asked for, or a builder without Sphinx's Jinja templates (PDF)
    path = Path(app.confdir, directory)
    path.mkdir(parents=True, exist_ok=True)
    environment.bytecode_cache = FileSystemBytecodeCache(str(path))


def setup_templates(app: Sphinx) -> None:
    # Compiled templates render exactly as freshly compiled ones: no page changes with it.
    app.add_config_value("handbook_template_cache", "", "", types=frozenset({str}),
                         description="Verzeichnis, in dem Bauten ihre übersetzten Jinja-Vorlagen teilen")
    app.connect("builder-inited", _use_cache)
