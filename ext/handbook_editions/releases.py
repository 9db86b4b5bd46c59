"""``releases.toml``: the published editions, and the project they belong to."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

RELEASES_FILE = "releases.toml"


class SiteError(Exception):
    """A problem a maintainer must fix; the message says which and where."""


@dataclass(frozen=True)
class Release:
    version: str
    date: str
    ref: str
    title: str


def find_root(start: Path | None = None) -> Path:
    """The project directory: the first of ``start`` (default: the current one) and its parents with a releases.toml."""
    start = (start or Path.cwd()).absolute()
    for directory in (start, *start.parents):
        if (directory / RELEASES_FILE).is_file():
            return directory
    raise SiteError(f"{start}: weder hier noch darüber liegt eine {RELEASES_FILE}.")


def read_releases(path: Path) -> list[Release]:
    """The editions listed in ``releases.toml``, newest first (by date)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SiteError(f"{path}: Datei fehlt.") from None
    except tomllib.TOMLDecodeError as exc:
        raise SiteError(f"{path}: kein gültiges TOML ({exc}).") from None
    entries = data.get("release")
    if not isinstance(entries, list) or not entries:
        raise SiteError(f"{path}: keine [[release]]-Einträge gefunden.")
    releases = []
    for index, entry in enumerate(entries, start=1):
        missing = [key for key in ("version", "date", "ref", "title") if not isinstance(entry.get(key), str) or not entry[key]]
        if missing:
            raise SiteError(f"{path}: Eintrag {index} ohne {', '.join(missing)}.")
        if not re.fullmatch(r"[0-9A-Za-z][0-9A-Za-z._-]*", entry["version"]) or entry["version"] == "latest":
            raise SiteError(f"{path}: Eintrag {index}: ungültiger Versionsname {entry['version']!r}.")
        releases.append(Release(entry["version"], entry["date"], entry["ref"], entry["title"]))
    versions = [r.version for r in releases]
    if len(set(versions)) != len(versions):
        raise SiteError(f"{path}: Versionsnamen sind nicht eindeutig: {versions}.")
    return sorted(releases, key=lambda r: r.date, reverse=True)
