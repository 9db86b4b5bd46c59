"""``python -m handbook_editions build|release|release-notes``: the site, a new edition, its notes.

The project is found from the current directory upwards (the first directory
with a ``releases.toml``) unless ``--releases`` names the file.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from pathlib import Path

from feedback_formats.manifest import manifest_path

from .build import build_site
from .progress import Progress
from .release import make_release, release_notes, reports_taken_into
from .releases import RELEASES_FILE, SiteError, find_release, find_root, read_releases
from .workers import JOBS_HELP

# The merged comments file the sync writes (conf.py's feedback_comments_path).
# Every build names it explicitly, so `make site` and the sync share one
# configuration and their builds stay incremental.
COMMENTS_FILE = Path("var", "feedback", "comments.json")
DATABASE_URL = "FEEDBACK_DATABASE_URL"


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--releases", type=Path,
                        help=f"die Liste der Ausgaben (Vorgabe: {RELEASES_FILE} im Projekt, gesucht ab hier aufwärts)")
    parser.add_argument("--out", type=Path, help="die Website (Vorgabe: build/site im Projekt)")
    parser.add_argument("--comments", type=Path,
                        help=f"die zusammengeführte Kommentardatei (Vorgabe: {COMMENTS_FILE} im Projekt)")
    parser.add_argument("--jobs", default="auto", help=JOBS_HELP)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m handbook_editions",
                                     description="Alle Ausgaben des Handbuchs bauen und veröffentlichen.")
    commands = parser.add_subparsers(dest="command", required=True)
    _common(commands.add_parser("build", help="alle Ausgaben bauen und veröffentlichen"))
    release = commands.add_parser("release", help="eine neue Ausgabe anlegen, bauen und veröffentlichen")
    release.add_argument("--version", required=True, help="die neue Ausgabe, z. B. 2.1")
    release.add_argument("--title", required=True, help="ihr Titel")
    _common(release)
    notes = commands.add_parser("release-notes", help="die Versionshinweise einer eingetragenen Ausgabe")
    notes.add_argument("--version", required=True, help="die Ausgabe, z. B. 2.1")
    _common(notes)
    return parser


def _taken(version: str):
    from feedback_service.config import load_config

    return reports_taken_into(version, load_config(os.environ).database_url)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        releases = args.releases.absolute() if args.releases else find_root() / RELEASES_FILE
        root = releases.parent
        out = (args.out or root / "build" / "site").absolute()
        comments = (args.comments or root / COMMENTS_FILE).absolute()
        progress = Progress(sys.stdout)
        if args.command == "build":
            report = build_site(out, releases_file=releases, comments=comments, jobs=args.jobs, progress=progress)
            print(f"Website gebaut: {out}\n{report.summary()}")
            return 0
        if args.command == "release":
            release = make_release(root, args.version, args.title, site=out, comments=comments,
                                   progress=progress, jobs=args.jobs)
            print(f"\nAusgabe {release.version} veröffentlicht: Tag {release.ref}, eingetragen in {RELEASES_FILE}.\n"
                  f"Übertragen Sie beides: git push && git push origin {release.ref}\n")
        else:
            # An unknown edition is refused before anything is built.
            find_release(read_releases(releases), args.version)
            if not manifest_path(out / args.version).is_file():
                print(f"Die Website unter {out} hat Ausgabe {args.version} noch nicht: sie wird gebaut.")
                build_site(out, releases_file=releases, comments=comments, jobs=args.jobs, progress=progress)
        print(release_notes(root, args.version, out, _taken(args.version)), end="")
    except SiteError as exc:
        print(f"FEHLER: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    code = main()
    # What is still loaded goes with the process: the closing collections need not walk it first.
    gc.freeze()
    sys.exit(code)
