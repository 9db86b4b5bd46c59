"""The valid sections and editions, read from the site's ``_feedback/sections.json``.

``FEEDBACK_SITE_DIR`` is either a site root with one folder per edition
(``build/site/2.0/_feedback/sections.json``) or one build whose manifest sits
at its top (``build/html/_feedback/sections.json``). The ``version`` inside a
manifest names the edition, so ``latest/`` (a copy of the newest edition) adds
nothing. A rebuild is picked up without a restart: the manifests' modification
times are checked at most once a second.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from feedback_formats import MANIFEST_PATH, ManifestEntry, ManifestError, load_manifest

log = logging.getLogger("feedback_service.sections")

Section = ManifestEntry


class SectionCatalog:
    def __init__(self, site_dir: Path, check_interval: float = 1.0):
        self.site_dir = site_dir
        self.check_interval = check_interval
        self._lock = threading.Lock()
        self._checked = float("-inf")
        self._stamps: dict[Path, tuple[int, int]] = {}
        self._editions: dict[str, dict[str, Section]] = {}
        self._docs: dict[str, frozenset[str]] = {}

    def manifest_paths(self) -> list[Path]:
        paths = [self.site_dir / MANIFEST_PATH]
        paths.extend(sorted(self.site_dir.glob(f"*/{MANIFEST_PATH}")))
        return [path for path in paths if path.is_file()]

    def editions(self) -> dict[str, dict[str, Section]]:
        """``{version: {section id: Section}}``, reloaded when a manifest changed."""
        now = time.monotonic()
        if now - self._checked >= self.check_interval:
            with self._lock:
                if now - self._checked >= self.check_interval:
                    self._refresh()
                    self._checked = now
        return self._editions

    def is_published(self, section: str) -> bool:
        """The section is in at least one edition."""
        return any(section in sections for sections in self.editions().values())

    def docs(self) -> dict[str, frozenset[str]]:
        """``{version: docnames}``: the pages of each edition that have commentable sections."""
        self.editions()
        return self._docs

    def describe(self, version: str, section: str) -> Section | None:
        """The section as the given edition has it, else as the newest edition that has it."""
        editions = self.editions()
        found = editions.get(version, {}).get(section)
        if found is None:
            for name in sorted(editions, key=version_key, reverse=True):
                found = editions[name].get(section)
                if found is not None:
                    break
        return found

    def _refresh(self) -> None:
        paths = self.manifest_paths()
        stamps = {}
        for path in paths:
            try:
                info = path.stat()
            except OSError:
                continue
            stamps[path] = (info.st_mtime_ns, info.st_size)
        if stamps == self._stamps:
            return
        editions: dict[str, dict[str, Section]] = {}
        for path in stamps:
            try:
                manifest = load_manifest(path)
            except ManifestError as exc:
                log.warning("section manifest ignored: %s", exc)
                continue
            editions.setdefault(manifest.version, {}).update(manifest.by_id())
        self._editions = editions
        self._docs = {
            version: frozenset(section.doc for section in sections.values() if section.doc)
            for version, sections in editions.items()
        }
        self._stamps = stamps
        log.info("section manifests loaded: %s", ", ".join(sorted(editions)) or "none")


def version_key(version: str) -> tuple:
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))
