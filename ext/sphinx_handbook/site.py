"""Build every published edition into one versioned site and publish it atomically.

``python -m sphinx_handbook.site build --out build/site`` (``make site``) reads
``releases.toml``, exports each release's ``docs/`` from git, builds it with today's
``conf.py`` and ``ext/`` and publishes::

    build/site/            a symlink, swapped atomically, to the newest published tree
        index.html         redirect to latest/
        versions.json      the editions, newest first
        latest/            a copy of the newest edition
        <version>/         HTML, _feedback/sections.json and the edition's PDF

Each edition keeps its own sources, doctrees and output under ``build/.editions/``
so rebuilds are incremental; its PDF is rebuilt only when its sources (or the
code that renders them) changed. A failed build publishes nothing: readers keep
the last published site exactly as it was.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PDF_NAME = "kochbuch-egovernment.pdf"
# The merged comments file the sync writes (conf.py's feedback_comments_path).
# Every build names it explicitly, so `make site` and the sync share one
# configuration and their builds stay incremental.
DEFAULT_COMMENTS = ROOT / "var" / "feedback" / "comments.json"
SPHINX_OPTS = ["--fail-on-warning", "--keep-going"]
# What renders a PDF besides the edition's own text.
_RENDER_INPUTS = ("conf.py", "ext/sphinx_handbook")


class SiteError(Exception):
    """A problem a maintainer must fix; the message says which and where."""


@dataclass(frozen=True)
class Release:
    version: str
    date: str
    ref: str
    title: str


@dataclass
class EditionReport:
    version: str
    pages_written: int = 0
    pdf_built: bool = False
    seconds: float = 0.0


@dataclass
class SiteReport:
    editions: list[EditionReport] = field(default_factory=list)
    published: Path | None = None
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [
            f"  {e.version}: {e.pages_written} Seiten neu geschrieben"
            + (", PDF neu gebaut" if e.pdf_built else "")
            + f" ({e.seconds:.1f} s)"
            for e in self.editions
        ]
        return "\n".join(lines + [f"  veröffentlicht: {self.published} ({self.seconds:.1f} s)"])


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


def _git(*args: str, binary: bool = False):
    result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=not binary)
    if result.returncode != 0:
        error = result.stderr if not binary else result.stderr.decode(errors="replace")
        raise SiteError(f"git {' '.join(args)}: {error.strip()}")
    return result.stdout


class Edition:
    """One release's working area under ``build/.editions/<version>/``."""

    def __init__(self, release: Release, work: Path) -> None:
        self.release = release
        self.dir = work / release.version
        self.src = self.dir / "docs"
        self.html = self.dir / "html"
        self.doctrees = self.dir / "doctrees"
        self.pdf_dir = self.dir / "pdf"
        self.state_file = self.dir / "state.json"

    @property
    def manifest(self) -> Path:
        return self.html / "_feedback" / "sections.json"

    def _state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def _save_state(self, **changes: str) -> None:
        state = {**self._state(), **changes}
        _write_atomic(self.state_file, json.dumps(state, indent=1))

    def export_sources(self) -> str:
        """Bring ``docs/`` of the release's commit into ``src``; returns its tree id.

        Unchanged files keep their modification times, so Sphinx re-reads only
        what really changed.
        """
        commit = _git("rev-parse", "--verify", "--quiet", f"{self.release.ref}^{{commit}}").strip()
        tree = _git("rev-parse", f"{commit}:docs").strip()
        if self._state().get("tree") == tree and self.src.is_dir():
            return tree
        archive = _git("archive", "--format=tar", commit, "docs", binary=True)
        wanted: dict[Path, bytes] = {}
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            for member in tar.getmembers():
                if member.isfile():
                    relative = Path(member.name).relative_to("docs")
                    wanted[relative] = tar.extractfile(member).read()
        self.src.mkdir(parents=True, exist_ok=True)
        for path in [p for p in self.src.rglob("*") if p.is_file()]:
            if path.relative_to(self.src) not in wanted:
                path.unlink()
        for relative, content in wanted.items():
            target = self.src / relative
            if not target.is_file() or target.read_bytes() != content:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
        self._save_state(tree=tree)
        return tree

    def _env(self) -> dict:
        return {
            **os.environ,
            "HANDBOOK_VERSION": self.release.version,
            "HANDBOOK_RELEASE": self.release.version,
            "HANDBOOK_DATE": self.release.date,
        }

    def build_html(self, versions_data: Path, comments: Path, jobs: str) -> int:
        """Incremental HTML build; returns the number of pages Sphinx rewrote."""
        command = [
            sys.executable, "-m", "sphinx", "-b", "html", "-j", jobs, *SPHINX_OPTS,
            "-c", str(ROOT), "-d", str(self.doctrees),
            "-D", f"feedback_site_path=/{self.release.version}/",
            "-D", f"feedback_versions_path={versions_data}",
            "-D", f"feedback_comments_path={comments}",
        ]
        before = self._page_stamps()
        result = subprocess.run([*command, str(self.src), str(self.html)], capture_output=True, text=True, env=self._env())
        if result.returncode != 0:
            raise SiteError(f"Ausgabe {self.release.version}: HTML-Bau fehlgeschlagen:\n{result.stderr.strip() or result.stdout[-2000:]}")
        # Sphinx's own "targets … out of date" leaves out the pages that
        # env-get-outdated handlers (comments, switcher) added: count the writes.
        return sum(1 for page, stamp in self._page_stamps().items() if before.get(page) != stamp)

    def _page_stamps(self) -> dict[Path, int]:
        """Modification times of the pages written from the edition's own documents."""
        stamps = {}
        for source in self.src.rglob("*.md"):
            page = self.html / source.relative_to(self.src).with_suffix(".html")
            if page.is_file():
                stamps[page] = page.stat().st_mtime_ns
        return stamps

    def build_pdf(self, tree: str) -> bool:
        """Build the PDF when the sources or the rendering code changed; True if built."""
        key = f"{tree}:{_render_digest()}"
        pdf = self.pdf_dir / PDF_NAME
        if self._state().get("pdf") == key and pdf.is_file():
            return False
        command = [
            sys.executable, "-m", "sphinx", "-b", "pdf", *SPHINX_OPTS, "-c", str(ROOT),
            "-d", str(self.dir / "doctrees-pdf"), str(self.src), str(self.pdf_dir),
        ]
        result = subprocess.run(command, capture_output=True, text=True, env=self._env())
        if result.returncode != 0 or not pdf.is_file() or pdf.read_bytes()[:5] != b"%PDF-":
            raise SiteError(f"Ausgabe {self.release.version}: PDF-Bau fehlgeschlagen:\n{result.stderr.strip()}")
        self._save_state(pdf=key)
        return True


def _render_digest() -> str:
    digest = hashlib.sha256()
    for name in _RENDER_INPUTS:
        path = ROOT / name
        files = sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts) if path.is_dir() else [path]
        for file in files:
            digest.update(str(file.relative_to(ROOT)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def versions_payload(releases: list[Release], editions: dict[str, Edition]) -> dict:
    """What the version switcher knows: every edition and the sections it has."""
    payload = {"latest": releases[0].version, "editions": []}
    for release in releases:
        manifest = editions[release.version].manifest
        sections = {}
        if manifest.is_file():
            data = json.loads(manifest.read_text(encoding="utf-8"))
            sections = {entry["id"]: entry["url"] for entry in data.get("sections", [])}
        html = editions[release.version].html
        pages = sorted(page.relative_to(html).as_posix() for page in html.rglob("*.html")) if html.is_dir() else []
        payload["editions"].append({
            "version": release.version,
            "title": release.title,
            "date": release.date,
            "path": f"/{release.version}/",
            "pdf": PDF_NAME,
            "sections": sections,
            "pages": pages,
        })
    return payload


@contextmanager
def _locked(work: Path):
    work.mkdir(parents=True, exist_ok=True)
    with open(work / "lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def build_site(out: Path, *, releases_file: Path = ROOT / "releases.toml", comments: Path = DEFAULT_COMMENTS, jobs: str = "auto") -> SiteReport:
    """Build all editions incrementally and publish them to ``out`` (a symlink)."""
    started = time.monotonic()
    releases = read_releases(releases_file)
    work = out.parent / ".editions"
    report = SiteReport()
    with _locked(work):
        editions = {r.version: Edition(r, work) for r in releases}
        trees = {version: edition.export_sources() for version, edition in editions.items()}
        versions_data = work / "versions-data.json"
        reports = {version: EditionReport(version) for version in editions}
        # A switcher links to sections of the other editions, known from their
        # manifests: a second, incremental pass runs only if those changed.
        for attempt in range(2):
            text = json.dumps(versions_payload(releases, editions), ensure_ascii=False, sort_keys=True)
            changed = not versions_data.is_file() or versions_data.read_text(encoding="utf-8") != text
            if attempt and not changed:
                break
            if changed:
                _write_atomic(versions_data, text)
            for version, edition in editions.items():
                began = time.monotonic()
                reports[version].pages_written += edition.build_html(versions_data, comments, jobs)
                reports[version].seconds += time.monotonic() - began
        for version, edition in editions.items():
            began = time.monotonic()
            reports[version].pdf_built = edition.build_pdf(trees[version])
            reports[version].seconds += time.monotonic() - began
        report.editions = list(reports.values())
        report.published = publish(out, releases, editions)
    report.seconds = time.monotonic() - started
    return report


def publish(out: Path, releases: list[Release], editions: dict[str, Edition]) -> Path:
    """Assemble a fresh tree and swap the ``out`` symlink to it in one rename."""
    store = out.parent / ".site"
    store.mkdir(parents=True, exist_ok=True)
    tree = store / f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    staging = Path(f"{tree}.partial")
    for release in releases:
        edition = editions[release.version]
        target = staging / release.version
        shutil.copytree(edition.html, target, ignore=shutil.ignore_patterns(".buildinfo", ".doctrees"))
        shutil.copy2(edition.pdf_dir / PDF_NAME, target / PDF_NAME)
    shutil.copytree(staging / releases[0].version, staging / "latest")
    versions = {
        "latest": releases[0].version,
        "versions": [
            {"version": r.version, "title": r.title, "date": r.date, "url": f"{r.version}/", "pdf": f"{r.version}/{PDF_NAME}"}
            for r in releases
        ],
    }
    (staging / "versions.json").write_text(json.dumps(versions, ensure_ascii=False, indent=1), encoding="utf-8")
    (staging / "index.html").write_text(_REDIRECT, encoding="utf-8")
    staging.rename(tree)

    link = out.with_name(f".{out.name}.{os.getpid()}.link")
    link.unlink(missing_ok=True)
    link.symlink_to(os.path.relpath(tree, out.parent))
    if out.is_dir() and not out.is_symlink():
        shutil.rmtree(out)  # a plain directory from an older layout
    os.replace(link, out)
    _prune(store, keep={tree})
    return tree


def _prune(store: Path, keep: set[Path]) -> None:
    """Remove published trees older than the previous one (a reader may still be on it)."""
    trees = sorted((p for p in store.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for old in trees[:-2]:
        if old not in keep:
            shutil.rmtree(old, ignore_errors=True)


_REDIRECT = """<!DOCTYPE html>
<html lang="de">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="0; url=latest/">
<link rel="canonical" href="latest/">
<title>Wie kommunales E-Government gelingt</title>
</head>
<body>
<p>Weiter zur <a href="latest/">aktuellen Ausgabe des Handbuchs</a>.</p>
</body>
</html>
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sphinx_handbook.site", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="alle Ausgaben bauen und veröffentlichen")
    build.add_argument("--out", type=Path, default=ROOT / "build" / "site")
    build.add_argument("--releases", type=Path, default=ROOT / "releases.toml")
    build.add_argument("--comments", type=Path, default=DEFAULT_COMMENTS, help="die zusammengeführte Kommentardatei")
    build.add_argument("--jobs", default="auto")
    args = parser.parse_args(argv)
    try:
        report = build_site(args.out.absolute(), releases_file=args.releases, comments=args.comments.absolute(), jobs=args.jobs)
    except SiteError as exc:
        print(f"FEHLER: {exc}", file=sys.stderr)
        return 1
    print(f"Website gebaut: {args.out}\n{report.summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
