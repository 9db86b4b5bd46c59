"""Every published edition of the handbook as one versioned site, published atomically.

``python -m handbook_editions build --out build/site`` (``make site``); the sync
calls :func:`build_site`. Not part of the Sphinx extension: it runs
``sphinx-build`` for each edition with the project's ``conf.py``.
"""

from .build import EditionReport, SiteReport, build_site
from .releases import Release, SiteError, find_root, read_releases

__all__ = ["EditionReport", "Release", "SiteError", "SiteReport", "build_site", "find_root", "read_releases"]
