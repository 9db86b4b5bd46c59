"""Sphinx extension of the handbook: recipe cards, page furniture, editions, section feedback."""

from sphinx.application import Sphinx

from .changes import setup_changes
from .comments import setup_comments
from .digests import setup_digests
from .feed import setup_feed
from .form import setup_form
from .i18n import LOCALE_DIR, compile_catalogs
from .layout import setup_layout
from .memory import setup_memory
from .newest import setup_newest
from .rating import setup_rating
from .recipe import setup_recipe
from .search import setup_search
from .sections import setup_sections
from .templates import setup_templates
from .versions import setup_versions

__version__ = "2.0.0"


def setup(app: Sphinx) -> dict:
    compile_catalogs()
    app.add_message_catalog("feedback", str(LOCALE_DIR))
    app.add_message_catalog("handbook", str(LOCALE_DIR))
    setup_layout(app)
    setup_recipe(app)
    setup_sections(app)
    setup_digests(app)
    setup_comments(app)
    setup_form(app)
    setup_newest(app)
    setup_feed(app)
    setup_rating(app)
    setup_versions(app)
    setup_changes(app)
    setup_search(app)
    setup_templates(app)
    setup_memory(app)
    return {
        "version": __version__,
        "env_version": 5,
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
