"""Sphinx extension of the handbook: recipe cards, page furniture, section feedback."""

from sphinx.application import Sphinx

from .layout import setup_layout
from .recipe import setup_recipe
from .versions import setup_versions

__version__ = "2.0.0"


def setup(app: Sphinx) -> dict:
    setup_layout(app)
    setup_recipe(app)
    setup_versions(app)
    return {
        "version": __version__,
        "env_version": 1,
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
