"""Publishing a new edition (``make release``) and its release notes (``make release-notes``).

A release is the working tree's ``docs/`` as it is committed: the tree must be
clean, the version new and greater than every recorded one, and the HTML and
PDF must build without a warning. Then the commit gets an annotated tag
``v<version>``, and one commit records the edition in ``releases.toml`` with
both the tag and the commit id (a fresh clone without tags still finds it).
The site is built with the new edition, and the release notes are printed.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from packaging.version import InvalidVersion, Version

from feedback_formats.manifest import ManifestError, load_manifest, manifest_path
from feedback_formats.submission import KIND_NAMES

from .build import build_site, check_html, check_pdf, edition_env, run_sphinx
from .changes import compare_sections
from .progress import Progress
from .publish import PDF_NAME
from .releases import (RELEASES_FILE, VERSION_PATTERN, Release, SiteError, find_release, git, read_releases,
                       record_release)

TAG_PREFIX = "v"


def tag_name(version: str) -> str:
    return f"{TAG_PREFIX}{version}"


def _version_key(version: str) -> Version:
    try:
        return Version(version)
    except InvalidVersion:
        raise SiteError(f"{version!r} ist keine Versionsnummer wie 2.1 oder 2.1.1.") from None


def check_release(root: Path, releases: list[Release], version: str) -> None:
    """Refuse a release from a tree with uncommitted changes, an existing version, or one not greater than the newest."""
    if not re.fullmatch(VERSION_PATTERN, version) or version == "latest":
        raise SiteError(f"{version!r} ist kein gültiger Versionsname.")
    key = _version_key(version)
    dirty = git(root, "status", "--porcelain", "--untracked-files=normal").splitlines()
    if dirty:
        listed = "\n".join(f"  {line}" for line in dirty[:10]) + ("\n  …" if len(dirty) > 10 else "")
        raise SiteError("Der Arbeitsbaum hat nicht übergebene Änderungen; eine Ausgabe wird nur aus "
                        f"einem übergebenen Stand veröffentlicht (git commit oder entfernen):\n{listed}")
    known = {release.version: release for release in releases}
    if version in known:
        raise SiteError(f"Ausgabe {version} steht schon in {RELEASES_FILE} "
                        f"({known[version].date}, {known[version].ref}).")
    if git(root, "tag", "--list", tag_name(version)).strip():
        raise SiteError(f"Das Tag {tag_name(version)} gibt es schon: Ausgabe {version} wurde schon einmal angelegt.")
    newest = max(releases, key=lambda release: _version_key(release.version))
    if key <= _version_key(newest.version):
        raise SiteError(f"Ausgabe {version} ist nicht größer als die neueste Ausgabe {newest.version}.")


def build_working_tree(root: Path, version: str, day: str, out: Path, progress: Progress, jobs: str) -> None:
    """HTML and PDF of the working tree's ``docs/``, from scratch, warnings as errors."""
    shutil.rmtree(out, ignore_errors=True)
    env = edition_env(version, day)
    with progress.step(version, "HTML des Arbeitsstands (Warnungen sind Fehler)"):
        result = run_sphinx("html", root / "docs", out / "html", root=root, doctrees=out / "doctrees",
                            env=env, options=["-j", jobs])
        check_html(result, f"Ausgabe {version}")
    with progress.step(version, "PDF des Arbeitsstands (Warnungen sind Fehler)"):
        result = run_sphinx("pdf", root / "docs", out / "pdf", root=root, doctrees=out / "doctrees-pdf", env=env)
        check_pdf(result, out / "pdf" / PDF_NAME, f"Ausgabe {version}")


def make_release(root: Path, version: str, title: str, *, site: Path, comments: Path,
                 progress: Progress, jobs: str = "auto", today: date | None = None) -> Release:
    """Check, build, tag, record and publish a new edition; returns what was recorded."""
    releases_file = root / RELEASES_FILE
    title = " ".join(title.split())
    if not title:
        raise SiteError('Eine Ausgabe braucht einen Titel: make release VERSION=2.1 TITLE="…"')
    check_release(root, read_releases(releases_file), version)
    day = (today or date.today()).isoformat()
    # Beside the site: build/release/<version>/ (make's BUILDDIR).
    build_working_tree(root, version, day, site.parent / "release" / version, progress, jobs)
    head = git(root, "rev-parse", "HEAD").strip()
    release = Release(version, day, tag_name(version), title, head)
    with progress.step(version, f"Tag {release.ref} und Eintrag in {RELEASES_FILE}") as step:
        before = releases_file.read_text(encoding="utf-8")
        git(root, "tag", "--annotate", "--message", f"Ausgabe {version}: {title}", release.ref, head)
        try:
            record_release(releases_file, release)
            read_releases(releases_file)
            git(root, "commit", "--quiet", "--message", f"Release {version}: {title}", "--", RELEASES_FILE)
        except BaseException:
            releases_file.write_text(before, encoding="utf-8")
            git(root, "tag", "--delete", release.ref)
            raise
        step["result"] = f"Commit {git(root, 'rev-parse', '--short', 'HEAD').strip()}"
    build_site(site, releases_file=releases_file, comments=comments, jobs=jobs, root=root, progress=progress)
    return release


@dataclass(frozen=True)
class TakenReports:
    """The corrections and barrier reports the editors marked as taken into an edition."""

    rows: tuple[dict, ...]
    # Why the list could not be read (no database, a schema without editions); None when it was.
    problem: str | None = None


def reports_taken_into(version: str, database_url: str) -> TakenReports:
    """Read from the feedback service's database; never creates or migrates one."""
    from feedback_service import db

    database = db.Database(database_url)
    if database.dialect == "sqlite" and not database.sqlite_path.is_file():
        return TakenReports((), f"keine Datenbank des Feedback-Dienstes unter {database.sqlite_path} "
                                "(FEEDBACK_DATABASE_URL)")
    try:
        with database.session(write=False) as conn:
            if "done_in" not in db.table_columns(conn, "comments"):
                return TakenReports((), "die Datenbank hält noch nicht fest, in welche Ausgabe eine Meldung "
                                        "eingeflossen ist (das kommt mit dem Arbeitsbereich der Redaktion; "
                                        "der Dienst richtet es beim nächsten Start ein)")
            return TakenReports(tuple(db.reports_done_in(conn, version)))
    except db.DatabaseError as exc:
        return TakenReports((), f"Datenbank nicht lesbar: {exc}")


def _section_line(entry) -> str:
    return f"  {entry.number} {entry.title}".rstrip() + f"  ({entry.url})"


def release_notes(root: Path, version: str, site: Path, taken: TakenReports) -> str:
    """The notes of a recorded edition: its sections against the edition before it, and the reports it took in."""
    releases = read_releases(root / RELEASES_FILE)
    index = find_release(releases, version)
    release = releases[index]
    previous = releases[index + 1] if index + 1 < len(releases) else None
    try:
        current = load_manifest(manifest_path(site / version))
        before = load_manifest(manifest_path(site / previous.version)) if previous else None
    except ManifestError as exc:
        raise SiteError(f"{exc}. Die Website ist nicht (vollständig) gebaut: make site") from None

    lines = [f"Ausgabe {release.version} – {release.title}",
             f"Erschienen am {release.date}; Stand im Repository: {release.ref}"
             + (f" (Commit {release.commit[:12]})" if release.commit else ""), ""]
    if before is None:
        lines.append(f"Erste Ausgabe: {len(current.sections)} kommentierbare Abschnitte.")
    else:
        changes = compare_sections({entry.id: entry.digest for entry in before.sections},
                                   {entry.id: entry.digest for entry in current.sections})
        now, then = current.by_id(), before.by_id()
        lines.append(f"Gegenüber Ausgabe {previous.version} ({previous.date}):")
        for heading, ids, entries in (("Neue Abschnitte", changes.added, now),
                                      ("Überarbeitete Abschnitte", changes.revised, now),
                                      ("Entfallene Abschnitte", changes.removed, then)):
            lines += ["", f"{heading} ({len(ids)}):"]
            lines += [_section_line(entries[section]) for section in ids] or ["  keine"]
        if changes.unknown:
            missing = [v for v, manifest in ((previous.version, before), (version, current))
                       if any(entry.digest is None for entry in manifest.sections)]
            lines += ["", f"Bei {len(changes.unknown)} weiteren Abschnitten ist nicht bekannt, ob sie überarbeitet "
                          f"wurden: das Abschnittsverzeichnis von Ausgabe {' und '.join(missing)} hat keine "
                          "Prüfsummen (digest) der Abschnittstexte."]
    lines += ["", f"In diese Ausgabe eingeflossene Meldungen ({len(taken.rows)}):"]
    if taken.problem:
        lines.append(f"  nicht ermittelt: {taken.problem}.")
    else:
        sections = current.by_id()
        for row in taken.rows:
            entry = sections.get(row["section"])
            where = f"{entry.number} {entry.title}".strip() if entry else row["section"]
            text = " ".join(row["text"].split())
            lines.append(f"  {KIND_NAMES[row['kind']]} {row['id']} zu {where} (gemeldet zu Ausgabe "
                         f"{row['version']} am {row['created'][:10]}): {text[:100]}" + ("…" if len(text) > 100 else ""))
        if not taken.rows:
            lines.append("  keine")
    return "\n".join(lines) + "\n"
