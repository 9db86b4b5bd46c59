"""The valid sections and editions, read from the site's ``_feedback/sections.json``.

``FEEDBACK_SITE_DIR`` is either a site root with one folder per edition
(``build/site/2.0/_feedback/sections.json``) or one build whose manifest sits
at its top (``build/html/_feedback/sections.json``). The ``version`` inside a
manifest names the edition, so ``latest/`` (a copy of the newest edition) adds
nothing. A rebuild is picked up without a restart: the manifests' modification
times are checked at most once a second.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("feedback_service.sections")

MANIFEST = Path("_feedback") / "sections.json"


@dataclass(frozen=True)
class Section:
    id: str
    number: str
    title: str
    url: str


class SectionCatalog:
    def __init__(self, site_dir: Path, check_interval: float = 1.0):
        self.site_dir = site_dir
        self.check_interval = check_interval
        self._lock = threading.Lock()
        self._checked = float("-inf")
        self._stamps: dict[Path, tuple[int, int]] = {}
        self._editions: dict[str, dict[str, Section]] = {}

    def manifest_paths(self) -> list[Path]:
        paths = [self.site_dir / MANIFEST]
        paths.extend(sorted(self.site_dir.glob(f"*/{MANIFEST.as_posix()}")))
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

    def find(self, version: str, section: str) -> Section | None:
        return self.editions().get(version, {}).get(section)

    def describe(self, version: str, section: str) -> Section | None:
        """The section as the given edition has it, else as the newest edition that has it."""
        editions = self.editions()
        found = editions.get(version, {}).get(section)
        if found is None:
            for name in sorted(editions, key=_version_key, reverse=True):
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
            loaded = _load_manifest(path)
            if loaded is None:
                continue
            version, sections = loaded
            editions.setdefault(version, {}).update(sections)
        self._editions = editions
        self._stamps = stamps
        log.info("section manifests loaded: %s", ", ".join(sorted(editions)) or "none")


def _load_manifest(path: Path) -> tuple[str, dict[str, Section]] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        version = data["version"]
        if not isinstance(version, str) or not version:
            raise ValueError("version is not a non-empty string")
        sections = {}
        for entry in data["sections"]:
            section = Section(
                id=str(entry["id"]),
                number=str(entry.get("number") or ""),
                title=str(entry.get("title") or ""),
                url=str(entry.get("url") or ""),
            )
            sections[section.id] = section
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("section manifest %s ignored: %s", path, exc)
        return None
    return version, sections


def _version_key(version: str) -> tuple:
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))
