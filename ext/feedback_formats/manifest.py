"""The section manifest ``_feedback/sections.json`` every HTML build writes (DESIGN.md).

``{"version": "2.0", "sections": [{"id", "number", "title", "doc", "url", "digest"}]}``;
``url`` is relative to the edition's root, ``digest`` sums up the section's own text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .files import write_atomic

# Where a build's manifest lies, relative to its output directory.
MANIFEST_PATH = PurePosixPath("_feedback", "sections.json")
MANIFEST_FIELDS = ("id", "number", "title", "doc", "url", "digest")


class ManifestError(ValueError):
    """A manifest cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class ManifestEntry:
    """One commentable section of an edition."""

    id: str
    number: str
    title: str
    doc: str
    url: str
    digest: str | None = None

    def to_json(self) -> dict:
        entry = {"id": self.id, "number": self.number, "title": self.title, "doc": self.doc, "url": self.url}
        if self.digest is not None:
            entry["digest"] = self.digest
        return entry


@dataclass(frozen=True)
class Manifest:
    """An edition's name and its commentable sections in document order."""

    version: str
    sections: tuple[ManifestEntry, ...]

    def by_id(self) -> dict[str, ManifestEntry]:
        return {entry.id: entry for entry in self.sections}


def manifest_path(outdir: Path) -> Path:
    """The manifest of the build in ``outdir``."""
    return Path(outdir, MANIFEST_PATH)


def parse_manifest(data: object, path: Path | str) -> Manifest:
    """The manifest decoded JSON describes; ``path`` only names it in errors."""
    if not isinstance(data, dict) or not isinstance(data.get("version"), str) or not data["version"]:
        raise ManifestError(f"{path}: erwartet wird ein JSON-Objekt mit „version“ (Text) und „sections“")
    if not isinstance(data.get("sections"), list):
        raise ManifestError(f"{path}: „sections“ muss eine Liste sein")
    entries = []
    for index, item in enumerate(data["sections"]):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            raise ManifestError(f"{path}: sections[{index}] ist kein Objekt mit einer „id“")
        values = {}
        for field in MANIFEST_FIELDS[1:]:
            value = item.get(field)
            if value is not None and not isinstance(value, str):
                raise ManifestError(f"{path}: sections[{index}].{field} muss Text sein")
            values[field] = value
        entries.append(ManifestEntry(
            id=item["id"], number=values["number"] or "", title=values["title"] or "",
            doc=values["doc"] or "", url=values["url"] or "", digest=values["digest"],
        ))
    return Manifest(data["version"], tuple(entries))


def load_manifest(path: Path) -> Manifest:
    """Read and check a manifest; ManifestError (also for a missing or unreadable file)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManifestError(f"{path}: nicht lesbar ({exc.strerror})") from None
    except ValueError as exc:
        raise ManifestError(f"{path}: kein gültiges JSON ({exc})") from None
    return parse_manifest(data, path)


def dump_manifest(manifest: Manifest) -> bytes:
    document = {"version": manifest.version, "sections": [entry.to_json() for entry in manifest.sections]}
    return (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def write_manifest(outdir: Path, manifest: Manifest) -> Path:
    """Write the manifest of the build in ``outdir`` atomically; returns its path."""
    path = manifest_path(outdir)
    write_atomic(path, dump_manifest(manifest))
    return path
