"""``make release`` and ``make release-notes`` in a temporary clone of the repository.

The clone keeps the project's conf.py and ext/ but gets a tiny handbook of its
own: edition 1.0 recorded in releases.toml, and the text of 1.1 committed on
top (one section revised, one added, one removed), so a release builds in
seconds. Every command is the real one (``python -m handbook_editions``, what
the Makefile calls) in the clone's directory, with real git and real Sphinx.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from feedback_formats import load_manifest, manifest_path
from handbook_editions import SiteError, build_site, read_releases
from handbook_editions.progress import Progress

from .conftest import ROOT

INDEX = """# Testhandbuch

```{toctree}
:numbered:

kapitel-01/index
```
"""
CHAPTER_1_0 = """(kapitel-eins)=
# Erstes Kapitel

Einleitung.

(bleibt)=
## Bleibt gleich

Unveränderter Text.

(wird-ueberarbeitet)=
## Wird überarbeitet

Alter Text.

(entfaellt)=
## Entfällt

Dieser Abschnitt fällt weg.
"""
CHAPTER_1_1 = (CHAPTER_1_0.replace("Alter Text.", "Neuer, überarbeiteter Text.")
               .replace("(entfaellt)=\n## Entfällt\n\nDieser Abschnitt fällt weg.\n",
                        "(neu)=\n## Neu hinzugekommen\n\nEin neuer Abschnitt.\n"))
TITLE = "Zweite Ausgabe zum Test"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def editions(repo: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m handbook_editions ARGS`` in ``repo``, as ``make release`` runs it."""
    return subprocess.run([sys.executable, "-m", "handbook_editions", *args], cwd=repo, capture_output=True,
                          text=True, timeout=600, env={**os.environ, **(env or {})})


def clone(source: Path | str, target: Path, *options: str) -> Path:
    subprocess.run(["git", "clone", "--quiet", *options, str(source), str(target)], check=True, capture_output=True)
    git(target, "config", "user.email", "redaktion@example.org")
    git(target, "config", "user.name", "Redaktion")
    return target


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A clone of the project with the tiny handbook: 1.0 recorded, 1.1's text committed."""
    repo = clone(f"file://{ROOT}", tmp_path_factory.mktemp("release") / "handbuch", "--depth", "1")
    git(repo, "rm", "-r", "--quiet", "docs")
    (repo / "docs" / "kapitel-01").mkdir(parents=True)
    (repo / "docs" / "index.md").write_text(INDEX, encoding="utf-8")
    chapter = repo / "docs" / "kapitel-01" / "index.md"
    chapter.write_text(CHAPTER_1_0, encoding="utf-8")
    git(repo, "add", "docs")
    git(repo, "commit", "--quiet", "-m", "Text of edition 1.0")
    first = git(repo, "rev-parse", "HEAD")
    (repo / "releases.toml").write_text(
        f'# The tiny handbook\n\n[[release]]\nversion = "1.0"\ndate = "2026-01-05"\nref = "{first}"\n'
        'title = "Erste Ausgabe"\n', encoding="utf-8")
    chapter.write_text(CHAPTER_1_1, encoding="utf-8")
    git(repo, "commit", "--quiet", "-am", "Text of edition 1.1")
    return repo


@pytest.fixture
def repo(template, tmp_path) -> Path:
    """A fresh clone of the template for a test that changes it (its remote is the template)."""
    return clone(template, tmp_path / "handbuch")


@pytest.fixture(scope="module")
def released(template, tmp_path_factory):
    """The template after ``release --version 1.1``: the clone, the command's result, HEAD before."""
    repo = clone(template, tmp_path_factory.mktemp("released") / "handbuch")
    before = git(repo, "rev-parse", "HEAD")
    result = editions(repo, "release", "--version", "1.1", "--title", TITLE,
                      env={"FEEDBACK_DATABASE_URL": f"sqlite:///{repo / 'var' / 'keine.sqlite3'}"})
    return repo, result, before


def has_digests(manifest_dir: Path) -> bool:
    return all(entry.digest for entry in load_manifest(manifest_path(manifest_dir)).sections)


# -- refusals -------------------------------------------------------------------------------

def assert_nothing_recorded(repo: Path, head: str) -> None:
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "tag", "--list", "v1.1") == ""
    assert [release.version for release in read_releases(repo / "releases.toml")] == ["1.0"]


def test_release_refuses_a_dirty_tree(repo):
    head = git(repo, "rev-parse", "HEAD")
    chapter = repo / "docs" / "kapitel-01" / "index.md"
    chapter.write_text(chapter.read_text(encoding="utf-8") + "\nNicht übergeben.\n", encoding="utf-8")
    result = editions(repo, "release", "--version", "1.1", "--title", TITLE)
    assert result.returncode == 1
    assert "nicht übergebene Änderungen" in result.stderr and "docs/kapitel-01/index.md" in result.stderr
    git(repo, "checkout", "--", "docs")
    (repo / "notiz.txt").write_text("nicht eingecheckt", encoding="utf-8")
    result = editions(repo, "release", "--version", "1.1", "--title", TITLE)
    assert result.returncode == 1 and "notiz.txt" in result.stderr
    assert_nothing_recorded(repo, head)


def test_release_refuses_an_existing_version_or_tag(repo):
    head = git(repo, "rev-parse", "HEAD")
    result = editions(repo, "release", "--version", "1.0", "--title", TITLE)
    assert result.returncode == 1 and "Ausgabe 1.0 steht schon in releases.toml" in result.stderr
    git(repo, "tag", "v1.2")
    result = editions(repo, "release", "--version", "1.2", "--title", TITLE)
    assert result.returncode == 1 and "Das Tag v1.2 gibt es schon" in result.stderr
    git(repo, "tag", "--delete", "v1.2")
    assert_nothing_recorded(repo, head)


@pytest.mark.parametrize("version", ["0.9", "1.0.0", "zwei"])
def test_release_refuses_a_version_not_greater_than_the_newest(repo, version):
    head = git(repo, "rev-parse", "HEAD")
    result = editions(repo, "release", "--version", version, "--title", TITLE)
    assert result.returncode == 1
    assert "nicht größer als die neueste Ausgabe 1.0" in result.stderr or "keine Versionsnummer" in result.stderr
    assert_nothing_recorded(repo, head)


def test_a_warning_in_the_text_stops_the_release_before_anything_is_recorded(repo):
    chapter = repo / "docs" / "kapitel-01" / "index.md"
    chapter.write_text(chapter.read_text(encoding="utf-8") + "\nSiehe {ref}`gibt-es-nicht`.\n", encoding="utf-8")
    git(repo, "commit", "--quiet", "-am", "A broken reference")
    head = git(repo, "rev-parse", "HEAD")
    result = editions(repo, "release", "--version", "1.1", "--title", TITLE)
    assert result.returncode == 1
    assert "HTML-Bau fehlgeschlagen" in result.stderr and "gibt-es-nicht" in result.stderr
    assert_nothing_recorded(repo, head)


# -- a release ------------------------------------------------------------------------------

def test_release_tags_the_tested_commit_and_records_it_in_one_commit(released):
    repo, result, before = released
    assert result.returncode == 0, result.stderr
    # An annotated tag on the commit whose text was built.
    assert git(repo, "cat-file", "-t", "v1.1") == "tag"
    assert git(repo, "rev-parse", "v1.1^{commit}") == before
    assert TITLE in git(repo, "tag", "--list", "v1.1", "-n1")
    # One commit on top, changing releases.toml only.
    assert git(repo, "rev-list", "--count", f"{before}..HEAD") == "1"
    assert git(repo, "show", "--name-only", "--format=", "HEAD") == "releases.toml"
    assert git(repo, "status", "--porcelain") == ""
    newest = read_releases(repo / "releases.toml")[0]
    assert (newest.version, newest.date, newest.ref, newest.commit, newest.title) == (
        "1.1", date.today().isoformat(), "v1.1", before, TITLE)
    # What the file said before stays as it was.
    assert (repo / "releases.toml").read_text(encoding="utf-8").startswith("# The tiny handbook\n")


def test_release_builds_the_site_and_prints_the_notes(released):
    repo, result, _ = released
    site = repo / "build" / "site"
    assert (site / "1.1" / "kapitel-01" / "index.html").is_file() and (site / "1.0" / "index.html").is_file()
    assert (site / "latest" / "_feedback" / "sections.json").is_file()
    out = result.stdout
    assert "1.1 · PDF des Arbeitsstands (Warnungen sind Fehler) fertig" in out
    assert "Ausgabe 1.1 – Zweite Ausgabe zum Test" in out
    assert "Gegenüber Ausgabe 1.0 (2026-01-05):" in out
    assert "Neue Abschnitte (1):\n  1.3 Neu hinzugekommen  (kapitel-01/index.html#neu)" in out
    assert "Entfallene Abschnitte (1):\n  1.3 Entfällt  (kapitel-01/index.html#entfaellt)" in out
    if has_digests(site / "1.1"):
        assert "Überarbeitete Abschnitte (1):\n  1.2 Wird überarbeitet  (kapitel-01/index.html#wird-ueberarbeitet)" in out
    else:
        # Manifests without digests: revised-ness is unknown and the notes say so.
        assert "Überarbeitete Abschnitte (0)" in out
        assert "Bei 2 weiteren Abschnitten ist nicht bekannt, ob sie überarbeitet wurden" in out
    assert "eingeflossene Meldungen (0):\n  nicht ermittelt: keine Datenbank des Feedback-Dienstes" in out


def test_release_notes_of_a_recorded_edition(released):
    repo, result, _ = released
    again = editions(repo, "release-notes", "--version", "1.1",
                     env={"FEEDBACK_DATABASE_URL": f"sqlite:///{repo / 'var' / 'keine.sqlite3'}"})
    assert again.returncode == 0, again.stderr
    assert again.stdout and again.stdout in result.stdout
    first = editions(repo, "release-notes", "--version", "1.0")
    assert first.returncode == 0 and "Erste Ausgabe: 3 kommentierbare Abschnitte." in first.stdout
    unknown = editions(repo, "release-notes", "--version", "3.0")
    assert unknown.returncode == 1 and "Ausgabe 3.0 steht nicht in releases.toml (dort: 1.1, 1.0)" in unknown.stderr
    assert "gebaut" not in unknown.stdout


def test_release_notes_list_the_reports_taken_into_the_edition(released, tmp_path):
    from feedback_service import db

    repo, _, _ = released
    url = f"sqlite:///{tmp_path / 'feedback.sqlite3'}"
    database = db.Database(url)
    database.migrate()
    with database.session() as conn:
        workspace = "done_in" in db.table_columns(conn, "comments")
        for number, (kind, done_in) in enumerate([("correction", "1.1"), ("barrier", "1.1"), ("correction", "1.0"),
                                                  ("correction", "")], start=1):
            row = {"id": f"c_{number}", "section": "wird-ueberarbeitet", "version": "1.0", "kind": kind,
                   "status": "pending", "author": "", "email": "", "text": f"Meldung {number}: Tippfehler",
                   "reply_to": None, "created": f"2026-11-0{number}T10:00:00Z",
                   "status_changed": "2026-11-01T10:00:00Z", "delete_token_hash": "x"}
            if workspace:
                row |= {"progress": "done" if done_in else "open", "done_in": done_in}
            db.insert_comment(conn, row)
    notes = editions(repo, "release-notes", "--version", "1.1", env={"FEEDBACK_DATABASE_URL": url})
    assert notes.returncode == 0, notes.stderr
    if workspace:
        assert "In diese Ausgabe eingeflossene Meldungen (2):" in notes.stdout
        assert ("Barrieremeldung c_2 zu 1.2 Wird überarbeitet (gemeldet zu Ausgabe 1.0 am 2026-11-02): "
                "Meldung 2: Tippfehler") in notes.stdout
        assert "Fehlermeldung c_1 zu 1.2 Wird überarbeitet" in notes.stdout
        assert "c_3" not in notes.stdout and "c_4" not in notes.stdout
    else:
        # A service without the editors' workspace does not know where a report went.
        assert "nicht ermittelt: die Datenbank hält noch nicht fest" in notes.stdout


def test_make_release_calls_the_release_command():
    # -o: the project is installed already; make must not reinstall it for this.
    usage = subprocess.run(["make", "-s", "-o", ".venv/.installed", "release"],
                           cwd=ROOT, capture_output=True, text=True)
    assert usage.returncode == 2 and 'make release VERSION=2.1 TITLE="Titel der Ausgabe"' in usage.stderr
    dry = subprocess.run(["make", "-n", "release", "VERSION=2.1", "TITLE=Neue Ausgabe"],
                         cwd=ROOT, capture_output=True, text=True)
    assert '-m handbook_editions release --version "2.1" --title "Neue Ausgabe"' in dry.stdout
    dry = subprocess.run(["make", "-n", "release-notes", "VERSION=2.0"], cwd=ROOT, capture_output=True, text=True)
    assert '-m handbook_editions release-notes --version "2.0"' in dry.stdout


# -- editions by tag or commit --------------------------------------------------------------

def test_site_falls_back_to_the_commit_when_the_tag_is_missing(released, tmp_path):
    repo, _, _ = released
    untagged = clone(repo, tmp_path / "ohne-tags", "--no-tags")
    git(untagged, "remote", "remove", "origin")
    assert git(untagged, "tag") == ""
    lines = io.StringIO()
    build_site(untagged / "build" / "site", releases_file=untagged / "releases.toml",
               comments=untagged / "var" / "comments.json", progress=Progress(lines))
    commit = read_releases(untagged / "releases.toml")[0].commit
    assert f"1.1 · Quelltexte aus v1.1 fertig (0.0 s, v1.1 fehlt hier, aus Commit {commit[:12]} gebaut)" in \
        lines.getvalue()
    assert (untagged / "build" / "site" / "1.1" / "kapitel-01" / "index.html").is_file()


def test_site_fetches_missing_editions_from_the_remote(released, tmp_path):
    repo, _, _ = released
    shallow = clone(f"file://{repo}", tmp_path / "flach", "--depth", "1", "--no-tags")
    assert git(shallow, "rev-list", "--count", "HEAD") == "1"
    build_site(shallow / "build" / "site", releases_file=shallow / "releases.toml",
               comments=shallow / "var" / "comments.json")
    assert git(shallow, "tag") == "v1.1"
    assert (shallow / "build" / "site" / "1.0" / "kapitel-01" / "index.html").is_file()


def test_site_says_what_to_run_when_an_edition_cannot_be_found(released, tmp_path):
    repo, _, _ = released
    shallow = clone(f"file://{repo}", tmp_path / "flach", "--depth", "1", "--no-tags")
    git(shallow, "remote", "remove", "origin")
    with pytest.raises(SiteError) as error:
        build_site(shallow / "build" / "site", releases_file=shallow / "releases.toml",
                   comments=shallow / "var" / "comments.json")
    message = str(error.value)
    assert "fehlen die Ausgaben 1.1 (v1.1, Commit" in message and "1.0 (" in message
    assert "git fetch --tags origin" in message


def test_a_tag_that_moved_away_from_the_recorded_commit_stops_the_build(released, tmp_path):
    repo, _, _ = released
    moved = clone(repo, tmp_path / "verschoben")
    git(moved, "tag", "--force", "v1.1", "HEAD")
    with pytest.raises(SiteError, match="v1.1 zeigt auf .*, releases.toml nennt aber Commit"):
        build_site(moved / "build" / "site", releases_file=moved / "releases.toml",
                   comments=moved / "var" / "comments.json")
