"""Publishing: a fresh tree of every edition, swapped in with one rename.

::

    <out>                  a symlink, swapped atomically, to the newest published tree
        index.html         redirect to latest/
        versions.json      the editions, newest first
        latest/            a copy of the newest edition (its forms come back to latest/)
        <version>/         HTML, _feedback/sections.json and the edition's PDF

A failed build publishes nothing: readers keep the last published site exactly
as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path

from .releases import Release

PDF_NAME = "kochbuch-egovernment.pdf"

REDIRECT = """<!DOCTYPE html>
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


def publish(out: Path, releases: list[Release], built: dict[str, tuple[Path, Path]]) -> Path:
    """Assemble a fresh tree from each edition's (HTML directory, PDF) and swap ``out`` to it."""
    store = out.parent / ".site"
    store.mkdir(parents=True, exist_ok=True)
    tree = store / f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    staging = Path(f"{tree}.partial")
    for release in releases:
        html, pdf = built[release.version]
        target = staging / release.version
        shutil.copytree(html, target, ignore=shutil.ignore_patterns(".buildinfo", ".doctrees"))
        shutil.copy2(pdf, target / PDF_NAME)
    shutil.copytree(staging / releases[0].version, staging / "latest")
    return_to_latest(staging / "latest", releases[0].version)
    versions = {
        "latest": releases[0].version,
        "versions": [
            {"version": r.version, "title": r.title, "date": r.date, "url": f"{r.version}/",
             "pdf": f"{r.version}/{PDF_NAME}"}
            for r in releases
        ],
    }
    (staging / "versions.json").write_text(json.dumps(versions, ensure_ascii=False, indent=1), encoding="utf-8")
    (staging / "index.html").write_text(REDIRECT, encoding="utf-8")
    staging.rename(tree)

    link = out.with_name(f".{out.name}.{os.getpid()}.link")
    link.unlink(missing_ok=True)
    link.symlink_to(os.path.relpath(tree, out.parent))
    if out.is_dir() and not out.is_symlink():
        shutil.rmtree(out)  # a plain directory from an older layout
    os.replace(link, out)
    _prune(store, keep={tree})
    return tree


def return_to_latest(latest: Path, version: str) -> None:
    """Make the forms in the copy under ``latest/`` come back to ``latest/`` after a post without JavaScript.

    The edition was built for ``/<version>/`` (``feedback_site_path``); its forms
    write their way back as ``name="return_to" value="/<version>/…"``
    (``sphinx_handbook.form.return_to``). Only that attribute is changed: the
    version the forms report and every other link stay the edition's.
    """
    built = f'name="return_to" value="/{version}/'.encode()
    published = b'name="return_to" value="/latest/'
    for page in latest.rglob("*.html"):
        html = page.read_bytes()
        if built in html:
            page.write_bytes(html.replace(built, published))


def _prune(store: Path, keep: set[Path]) -> None:
    """Remove published trees older than the previous one (a reader may still be on it)."""
    trees = sorted((p for p in store.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for old in trees[:-2]:
        if old not in keep:
            shutil.rmtree(old, ignore_errors=True)
