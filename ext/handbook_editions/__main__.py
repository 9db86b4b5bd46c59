"""``python -m handbook_editions build [--out DIR]``: every edition into one published site.

The project is found from the current directory upwards (the first directory
with a ``releases.toml``) unless ``--releases`` names the file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .build import build_site
from .releases import RELEASES_FILE, SiteError, find_root

# The merged comments file the sync writes (conf.py's feedback_comments_path).
# Every build names it explicitly, so `make site` and the sync share one
# configuration and their builds stay incremental.
COMMENTS_FILE = Path("var", "feedback", "comments.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m handbook_editions",
                                     description="Alle Ausgaben des Handbuchs bauen und veröffentlichen.")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="alle Ausgaben bauen und veröffentlichen")
    build.add_argument("--releases", type=Path,
                       help=f"die Liste der Ausgaben (Vorgabe: {RELEASES_FILE} im Projekt, gesucht ab hier aufwärts)")
    build.add_argument("--out", type=Path, help="Ziel (Vorgabe: build/site im Projekt)")
    build.add_argument("--comments", type=Path,
                       help=f"die zusammengeführte Kommentardatei (Vorgabe: {COMMENTS_FILE} im Projekt)")
    build.add_argument("--jobs", default="auto", help="parallele Sphinx-Prozesse je Ausgabe")
    args = parser.parse_args(argv)
    try:
        releases = args.releases.absolute() if args.releases else find_root() / RELEASES_FILE
        root = releases.parent
        out = (args.out or root / "build" / "site").absolute()
        comments = (args.comments or root / COMMENTS_FILE).absolute()
        report = build_site(out, releases_file=releases, comments=comments, jobs=args.jobs)
    except SiteError as exc:
        print(f"FEHLER: {exc}", file=sys.stderr)
        return 1
    print(f"Website gebaut: {out}\n{report.summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
