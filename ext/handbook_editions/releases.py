"""``releases.toml``: the published editions, the project they belong to, and where each one's text is in git.

An edition names its text by ``ref`` (a tag such as ``v2.1`` or a commit) and,
for editions recorded by ``make release``, also by ``commit``: a fresh clone
without tags still finds the text by the commit.
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

RELEASES_FILE = "releases.toml"
VERSION_PATTERN = r"[0-9A-Za-z][0-9A-Za-z._-]*"


class SiteError(Exception):
    """A problem a maintainer must fix; the message says which and where."""


@dataclass(frozen=True)
class Release:
    version: str
    date: str
    ref: str
    title: str
    commit: str = ""


def find_root(start: Path | None = None) -> Path:
    """The project directory: the first of ``start`` (default: the current one) and its parents with a releases.toml."""
    start = (start or Path.cwd()).absolute()
    for directory in (start, *start.parents):
        if (directory / RELEASES_FILE).is_file():
            return directory
    raise SiteError(f"{start}: weder hier noch darüber liegt eine {RELEASES_FILE}.")


def read_releases(path: Path) -> list[Release]:
    """The editions listed in ``releases.toml``, newest first (by date; on the same day the later entry)."""
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
        if not re.fullmatch(VERSION_PATTERN, entry["version"]) or entry["version"] == "latest":
            raise SiteError(f"{path}: Eintrag {index}: ungültiger Versionsname {entry['version']!r}.")
        commit = entry.get("commit", "")
        if not isinstance(commit, str) or (commit and not re.fullmatch(r"[0-9a-f]{7,64}", commit)):
            raise SiteError(f"{path}: Eintrag {index}: „commit“ muss eine Commit-ID sein.")
        releases.append(Release(entry["version"], entry["date"], entry["ref"], entry["title"], commit))
    versions = [r.version for r in releases]
    if len(set(versions)) != len(versions):
        raise SiteError(f"{path}: Versionsnamen sind nicht eindeutig: {versions}.")
    order = sorted(range(len(releases)), key=lambda i: (releases[i].date, i), reverse=True)
    return [releases[i] for i in order]


def find_release(releases: list[Release], version: str) -> int:
    """Where ``version`` is in ``releases`` (newest first); SiteError naming the known ones."""
    versions = [release.version for release in releases]
    if version not in versions:
        raise SiteError(f"Ausgabe {version} steht nicht in {RELEASES_FILE} (dort: {', '.join(versions)}).")
    return versions.index(version)


def record_release(path: Path, release: Release) -> None:
    """Append ``release`` to ``releases.toml``, leaving what the file says above it untouched."""
    # A JSON string with its characters unescaped is a valid TOML basic string.
    fields = {"version": release.version, "date": release.date, "ref": release.ref,
              "commit": release.commit, "title": release.title}
    entry = "\n[[release]]\n" + "".join(
        f"{key} = {json.dumps(value, ensure_ascii=False)}\n" for key, value in fields.items() if value
    )
    text = path.read_text(encoding="utf-8")
    path.write_text(text.rstrip("\n") + "\n" + entry, encoding="utf-8")


def git(root: Path, *args: str, binary: bool = False):
    """Run git in ``root``; its output, or SiteError with git's message."""
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=not binary)
    if result.returncode != 0:
        error = result.stderr if not binary else result.stderr.decode(errors="replace")
        raise SiteError(f"git {' '.join(args)}: {error.strip()}")
    return result.stdout


def short_ref(ref: str) -> str:
    """A tag as it is, a commit id shortened for people."""
    return ref[:12] if re.fullmatch(r"[0-9a-f]{13,64}", ref) else ref


def _commit_of(root: Path, name: str) -> str | None:
    result = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}"],
                            cwd=root, capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def _fetch_missing(root: Path, names: list[str]) -> str | None:
    """Fetch tags and the named commits from the first remote; its name, or None without a remote."""
    remotes = git(root, "remote").split()
    if not remotes:
        return None
    remote = "origin" if "origin" in remotes else remotes[0]
    shallow = git(root, "rev-parse", "--is-shallow-repository").strip() == "true"
    subprocess.run(["git", "fetch", "--quiet", "--tags", *(["--unshallow"] if shallow else []), remote],
                   cwd=root, capture_output=True)
    for name in names:
        if _commit_of(root, name) is None and re.fullmatch(r"[0-9a-f]{7,64}", name):
            # A commit no branch or tag of the remote leads to any more (servers allow it by id).
            subprocess.run(["git", "fetch", "--quiet", remote, name], cwd=root, capture_output=True)
    return remote


def resolve_commits(root: Path, releases: list[Release]) -> dict[str, tuple[str, str]]:
    """Each edition's commit and the name it was found by: its ``ref`` if the repository has it, else its ``commit``.

    What neither names is fetched from the repository's remote; what is still
    missing stops the build with the command that would bring it.
    """
    def lookup(release: Release) -> tuple[str, str] | None:
        found = _commit_of(root, release.ref)
        if found and release.commit and not found.startswith(release.commit):
            raise SiteError(f"Ausgabe {release.version}: {release.ref} zeigt auf {found[:12]}, "
                            f"{RELEASES_FILE} nennt aber Commit {release.commit[:12]}. "
                            "Eine veröffentlichte Ausgabe wird nicht umgeschrieben.")
        if found:
            return found, release.ref
        found = _commit_of(root, release.commit) if release.commit else None
        return (found, release.commit) if found else None

    commits = {release.version: lookup(release) for release in releases}
    missing = [release for release in releases if commits[release.version] is None]
    if missing:
        remote = _fetch_missing(root, [name for r in missing for name in (r.ref, r.commit) if name])
        for release in missing:
            commits[release.version] = lookup(release)
        still = [release for release in missing if commits[release.version] is None]
        if still:
            names = ", ".join(f"{r.version} ({r.ref}" + (f", Commit {r.commit[:12]}" if r.commit else "") + ")"
                              for r in still)
            hint = (f"Auch „git fetch --tags {remote}“ brachte sie nicht: steht die Ausgabe im "
                    f"Repository, aus dem dieser Klon stammt?" if remote else
                    "Das Repository hat keinen Remote. Holen Sie die Ausgaben mit "
                    "„git remote add origin URL && git fetch --tags origin“ "
                    "(ein flacher Klon zusätzlich mit --unshallow).")
            raise SiteError(f"In {root} fehlen die Ausgaben {names}. {hint}")
    return commits
