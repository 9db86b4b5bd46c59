"""Building each edition: its sources from git, its HTML incrementally, its PDF when needed.

Each edition keeps its own sources, doctrees and output under
``<out>/../.editions/<version>/``, so rebuilds are incremental; its PDF is
rebuilt only when its sources or the code that renders them changed. The
project (``conf.py``, the git repository) is the directory of ``releases.toml``.
The editions build side by side in warm processes (:mod:`.workers`).
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import io
import json
import os
import tarfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import CompletedProcess

from feedback_formats.files import write_atomic
from feedback_formats.manifest import load_manifest, manifest_path

from .progress import Progress, Silent
from .publish import PDF_NAME, publish
from .releases import Release, SiteError, git, read_releases, resolve_commits, short_ref
from .workers import Build, SphinxRun, parallel, run_builds, run_one, share, warm_up

SPHINX_OPTS = ["--fail-on-warning", "--keep-going"]
# What renders a PDF besides the edition's own text: the project's conf.py and
# the extension (its compiled catalogues follow from the .po files it holds).
EXTENSION = "sphinx_handbook"


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


def edition_env(version: str, date: str) -> dict:
    """The environment conf.py reads an edition's version and date from."""
    return {**os.environ, "HANDBOOK_VERSION": version, "HANDBOOK_RELEASE": version, "HANDBOOK_DATE": date}


def sphinx_run(builder: str, src: Path, out: Path, *, root: Path, doctrees: Path, env: dict,
               options: list[str] = ()) -> SphinxRun:
    """``sphinx-build`` with warnings as errors and the project's conf.py."""
    args = ["-b", builder, *SPHINX_OPTS, "-c", str(root), "-d", str(doctrees), *options, str(src), str(out)]
    return SphinxRun(args, env, root)


def run_sphinx(builder: str, src: Path, out: Path, *, root: Path, doctrees: Path, env: dict,
               options: list[str] = ()) -> CompletedProcess:
    """One such build, on its own, waited for."""
    return run_one(sphinx_run(builder, src, out, root=root, doctrees=doctrees, env=env, options=options))


def check_pdf(result: CompletedProcess, pdf: Path, what: str) -> None:
    """rst2pdf may report a failed PDF and still exit 0: the file itself is checked too."""
    if result.returncode != 0 or not pdf.is_file() or pdf.read_bytes()[:5] != b"%PDF-":
        raise SiteError(f"{what}: PDF-Bau fehlgeschlagen:\n{result.stderr.strip()}")


def check_html(result: CompletedProcess, what: str) -> None:
    if result.returncode != 0:
        raise SiteError(f"{what}: HTML-Bau fehlgeschlagen:\n{result.stderr.strip() or result.stdout[-2000:]}")


class Edition:
    """One release's working area under ``<work>/<version>/``."""

    def __init__(self, release: Release, root: Path, work: Path) -> None:
        self.release = release
        self.root = root
        self.dir = work / release.version
        self.src = self.dir / "docs"
        self.html = self.dir / "html"
        self.doctrees = self.dir / "doctrees"
        self.pdf_dir = self.dir / "pdf"
        self.state_file = self.dir / "state.json"

    @property
    def manifest(self) -> Path:
        return manifest_path(self.html)

    def _state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def _save_state(self, **changes: str) -> None:
        write_atomic(self.state_file, json.dumps({**self._state(), **changes}, indent=1))

    def export_sources(self, commit: str) -> str:
        """Bring ``docs/`` of the release's ``commit`` into ``src``; returns its tree id.

        Unchanged files keep their modification times, so Sphinx re-reads only
        what really changed.
        """
        tree = git(self.root, "rev-parse", f"{commit}:docs").strip()
        if self._state().get("tree") == tree and self.src.is_dir():
            return tree
        archive = git(self.root, "archive", "--format=tar", commit, "docs", binary=True)
        wanted: dict[Path, bytes] = {}
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            for member in tar.getmembers():
                if member.isfile():
                    wanted[Path(member.name).relative_to("docs")] = tar.extractfile(member).read()
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
        return edition_env(self.release.version, self.release.date)

    def html_build(self, what: str, versions_data: Path, comments: Path, jobs: int,
                   report: EditionReport) -> Build:
        """The incremental HTML build; it adds the number of pages Sphinx rewrote to ``report``."""
        options = [
            "-j", str(jobs),
            "-D", f"feedback_site_path=/{self.release.version}/",
            "-D", f"handbook_versions_path={versions_data}",
            "-D", f"feedback_comments_path={comments}",
            "-D", f"handbook_template_cache={self.dir.parent / 'templates'}",
        ]
        before = self._page_stamps()

        def finish(result: CompletedProcess) -> str:
            check_html(result, f"Ausgabe {self.release.version}")
            # Sphinx's own "targets … out of date" leaves out the pages that
            # env-get-updated handlers (comments, switcher) added: count the writes.
            pages = sum(1 for page, stamp in self._page_stamps().items() if before.get(page) != stamp)
            report.pages_written += pages
            return f"{pages} Seiten neu geschrieben"

        run = sphinx_run("html", self.src, self.html, root=self.root, doctrees=self.doctrees, env=self._env(),
                         options=options)
        return Build(self.release.version, what, run, finish)

    def _page_stamps(self) -> dict[Path, int]:
        """Modification times of the pages written from the edition's own documents."""
        stamps = {}
        for source in self.src.rglob("*.md"):
            page = self.html / source.relative_to(self.src).with_suffix(".html")
            if page.is_file():
                stamps[page] = page.stat().st_mtime_ns
        return stamps

    def pdf_build(self, tree: str, rendering: str, report: EditionReport) -> Build | None:
        """The PDF's build when the sources or the rendering code (its digest ``rendering``) changed."""
        key = f"{tree}:{rendering}"
        pdf = self.pdf_dir / PDF_NAME
        if self._state().get("pdf") == key and pdf.is_file():
            return None

        def finish(result: CompletedProcess) -> str:
            check_pdf(result, pdf, f"Ausgabe {self.release.version}")
            self._save_state(pdf=key)
            report.pdf_built = True
            return "neu gebaut"

        run = sphinx_run("pdf", self.src, self.pdf_dir, root=self.root, doctrees=self.dir / "doctrees-pdf",
                         env=self._env())
        return Build(self.release.version, "PDF", run, finish)


def render_digest(root: Path) -> str:
    """A digest of the project's conf.py and the extension's files (not its compiled catalogues)."""
    spec = importlib.util.find_spec(EXTENSION)
    if spec is None or not spec.submodule_search_locations:
        raise SiteError(f"Die Sphinx-Erweiterung {EXTENSION} ist nicht installiert (make install).")
    package = Path(next(iter(spec.submodule_search_locations)))
    files = [(Path("conf.py"), root / "conf.py")] + [
        (Path(EXTENSION, path.relative_to(package)), path)
        for path in sorted(package.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".mo"
    ]
    digest = hashlib.sha256()
    for name, path in files:
        digest.update(name.as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def versions_payload(releases: list[Release], editions: dict[str, Edition]) -> dict:
    """What the version switcher knows: every edition and the sections it has."""
    payload = {"latest": releases[0].version, "editions": []}
    for release in releases:
        edition = editions[release.version]
        entries = load_manifest(edition.manifest).sections if edition.manifest.is_file() else ()
        # Digests tell the other editions which sections changed (was-ist-neu.html, the
        # switcher, comments written on another edition); titles name removed sections.
        sections = {entry.id: entry.url for entry in entries}
        digests = {entry.id: entry.digest for entry in entries if entry.digest}
        titles = {entry.id: f"{entry.number} {entry.title}".strip() for entry in entries}
        html = edition.html
        pages = sorted(page.relative_to(html).as_posix() for page in html.rglob("*.html")) if html.is_dir() else []
        payload["editions"].append({
            "version": release.version,
            "title": release.title,
            "date": release.date,
            "path": f"/{release.version}/",
            "pdf": PDF_NAME,
            "sections": sections,
            "digests": digests,
            "titles": titles,
            "pages": pages,
        })
    return payload


@contextmanager
def _locked(work: Path):
    work.mkdir(parents=True, exist_ok=True)
    with open(work / "lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def build_site(out: Path, *, releases_file: Path, comments: Path, jobs: str = "auto",
               root: Path | None = None, progress: Progress | None = None) -> SiteReport:
    """Build all editions incrementally and publish them to ``out`` (a symlink).

    ``root`` is the project (default: the directory of ``releases_file``): its
    git history gives each edition's ``docs/``, its ``conf.py`` configures every build.
    ``jobs`` Sphinx processes run at once (``auto``: two per core), the editions
    side by side. ``progress`` hears of every step as it starts and ends
    (default: nobody).
    """
    started = time.monotonic()
    jobs = parallel(jobs)
    warm_up()
    progress = progress or Silent()
    releases_file = releases_file.absolute()
    root = (root or releases_file.parent).absolute()
    releases = read_releases(releases_file)
    work = out.parent / ".editions"
    report = SiteReport()
    # Finding the editions in git; sources, HTML and PDF of each; publishing.
    progress.expect(3 * len(releases) + 2)
    # A failed step leaves no half-drawn bar in front of the error message.
    try:
        with _locked(work):
            editions = {r.version: Edition(r, root, work) for r in releases}
            with progress.step("", "Ausgaben in git suchen"):
                commits = resolve_commits(root, releases)
            trees = {}
            for version, edition in editions.items():
                commit, found_by = commits[version]
                with progress.step(version, f"Quelltexte aus {short_ref(edition.release.ref)}") as step:
                    if found_by != edition.release.ref:
                        step["result"] = f"{edition.release.ref} fehlt hier, aus Commit {commit[:12]} gebaut"
                    trees[version] = edition.export_sources(commit)
            versions_data = work / "versions-data.json"
            reports = {version: EditionReport(version) for version in editions}
            rendering = render_digest(root)
            pdfs = [build for version, edition in editions.items()
                    if (build := edition.pdf_build(trees[version], rendering, reports[version]))]
            done: list[Build] = []
            # A switcher links to sections of the other editions, known from their
            # manifests: a second, incremental pass runs only if those changed.
            # The PDFs need no manifest: they build beside the first pass.
            for attempt in range(2):
                text = json.dumps(versions_payload(releases, editions), ensure_ascii=False, sort_keys=True)
                changed = not versions_data.is_file() or versions_data.read_text(encoding="utf-8") != text
                if attempt and not changed:
                    break
                if changed:
                    write_atomic(versions_data, text)
                if attempt:
                    progress.expect(len(editions))
                what = "HTML" if not attempt else "HTML (Verweise auf die anderen Ausgaben)"
                sphinx_jobs = share(jobs, len(editions) + (0 if attempt else len(pdfs)))
                builds = [edition.html_build(what, versions_data, comments, sphinx_jobs, reports[version])
                          for version, edition in editions.items()]
                builds += [] if attempt else pdfs
                run_builds(builds, jobs, progress)
                done += builds
            for version in [v for v in editions if v not in {build.edition for build in pdfs}]:
                with progress.step(version, "PDF") as step:
                    step["result"] = "unverändert"
            for build in done:
                reports[build.edition].seconds += build.seconds
            report.editions = list(reports.values())
            with progress.step("", "Veröffentlichen"):
                report.published = publish(out, releases,
                                           {v: (e.html, e.pdf_dir / PDF_NAME) for v, e in editions.items()})
    finally:
        progress.finish()
    report.seconds = time.monotonic() - started
    return report
