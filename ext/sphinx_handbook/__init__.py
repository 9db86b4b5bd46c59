"""Sphinx extension of the handbook: recipe cards, page furniture, section feedback."""

from pathlib import Path

from sphinx.application import Sphinx

from .comments import setup_comments
from .form import setup_form
from .layout import setup_layout
from .newest import setup_newest
from .recipe import setup_recipe
from .sections import setup_sections
from .versions import setup_versions

__version__ = "2.0.0"


def setup(app: Sphinx) -> dict:
    # German page texts and messages of all modules (catalogs.py maintains it).
    app.add_message_catalog("feedback", str(Path(__file__).parent / "locale"))
    setup_layout(app)
    setup_recipe(app)
    setup_sections(app)
    setup_comments(app)
    setup_form(app)
    setup_newest(app)
    setup_versions(app)
    return {
        "version": __version__,
        "env_version": 1,
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
