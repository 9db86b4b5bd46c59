"""Publishing: a fresh tree of every edition, swapped in with one rename.

::

    <out>                  a symlink, swapped atomically, to the newest published tree
        index.html         redirect to latest/
        versions.json      the editions, newest first
        latest/            a copy of the newest edition (its forms come back to latest/)
        <version>/         HTML, _feedback/sections.json and the edition's PDF
        .readers.lock      the tree's readers lock (empty; never served)
    <out>/../.site/<stamp>/    the published trees <out> has pointed to

A new tree shares every file that did not change with the tree before it
(hard links; see :class:`_Placer`), so publishing after a sync writes only
the pages the sync rebuilt. A failed build publishes nothing: readers keep
the last published site exactly as it was. A published tree is never
changed, so an answer served from one tree is whole as long as that tree stays; publishing often must not pull a
tree away under a reader:

- A reader (the service's ``SiteFiles``) resolves ``<out>`` once per request
  and holds that tree's ``.readers.lock`` with a shared ``flock`` until its
  answer is sent. Having the lock, it checks that the file is still the one
  under the tree's name; if not, the tree was pruned meanwhile and the reader
  resolves ``<out>`` anew (it then names a newer tree).
- After the swap, :func:`publish` prunes every other tree but the one ``<out>``
  points to and the one it pointed to before. It takes each tree's lock
  exclusively without waiting: a tree it cannot lock is being read and stays
  until the next publish. Holding the lock, it renames the tree away (no new
  reader finds it) and then removes it.

``flock`` locks belong to an open file, not to a process, so this holds
between the service's workers, the sync in another process and the sync thread
inside ``serve``. One publisher at a time: :func:`build_site` holds the build's
lock around it.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
import uuid
from pathlib import Path

from .releases import Release

PDF_NAME = "kochbuch-egovernment.pdf"
READERS_LOCK = ".readers.lock"
# Suffixes of trees no reader can reach: being assembled, being removed.
STAGING = ".partial"
PRUNING = ".pruned"

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
    staging = Path(f"{tree}{STAGING}")
    previous = _target(out)
    place = _Placer(staging, previous)
    for release in releases:
        html, pdf = built[release.version]
        target = staging / release.version
        shutil.copytree(html, target, ignore=shutil.ignore_patterns(".buildinfo", ".doctrees"),
                        copy_function=place)
        place(str(pdf), str(target / PDF_NAME))
    # latest/ shares the newest edition's files; the pages whose forms change get their own.
    shutil.copytree(staging / releases[0].version, staging / "latest", copy_function=_link_or_copy)
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
    (staging / READERS_LOCK).touch()
    staging.rename(tree)

    link = out.with_name(f".{out.name}.{os.getpid()}.link")
    link.unlink(missing_ok=True)
    link.symlink_to(os.path.relpath(tree, out.parent))
    if out.is_dir() and not out.is_symlink():
        shutil.rmtree(out)  # a plain directory from an older layout
    os.replace(link, out)
    _prune(store, keep={Path(os.path.realpath(tree)), previous, _target(out)})
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
            page.unlink()  # it may share its file with the edition's page: never write through
            page.write_bytes(html.replace(built, published))


class _Placer:
    """Puts a built file into the tree being assembled, sharing the previous tree's copy when unchanged.

    Published trees are never written to, so a file whose build output has
    the size and modification time of the previous tree's copy (``copy2``
    keeps the time) is that copy: a hard link to it costs no copying, and a
    sync that changed a few pages writes only those. Anything else is copied.
    """

    def __init__(self, staging: Path, previous: Path | None):
        self.staging = str(staging)
        self.previous = str(previous) if previous is not None else None

    def __call__(self, source: str, destination: str) -> str:
        if self.previous is not None:
            earlier = os.path.join(self.previous, os.path.relpath(destination, self.staging))
            try:
                new, old = os.stat(source), os.stat(earlier)
            except OSError:
                pass
            else:
                if (new.st_size, new.st_mtime_ns) == (old.st_size, old.st_mtime_ns) and _linked(earlier, destination):
                    return destination
        return shutil.copy2(source, destination)


def _linked(source: str, destination: str) -> bool:
    """Hard-link ``destination`` to ``source``; False where the file system cannot (then copy)."""
    try:
        os.link(source, destination)
    except OSError:
        return False
    return True


def _link_or_copy(source: str, destination: str) -> str:
    return destination if _linked(source, destination) else shutil.copy2(source, destination)


def _target(out: Path) -> Path | None:
    """The tree the symlink ``out`` points to (None: no symlink)."""
    return Path(os.path.realpath(out)) if out.is_symlink() else None


def _prune(store: Path, keep: set[Path | None]) -> None:
    """Remove every tree of ``store`` but those in ``keep`` and those a reader holds.

    Left-overs of an interrupted publish or prune go too: no reader can reach them.
    """
    for entry in store.iterdir():
        if not entry.is_dir() or Path(os.path.realpath(entry)) in keep:
            continue
        if entry.name.endswith((STAGING, PRUNING)):
            shutil.rmtree(entry, ignore_errors=True)
        else:
            _remove_unread(entry)


def _remove_unread(tree: Path) -> None:
    """Remove ``tree`` unless a reader holds its lock (then it stays for the next publish)."""
    try:
        lock = os.open(tree / READERS_LOCK, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        lock = None  # published before trees had readers locks
    try:
        if lock is not None:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
        removed = tree.with_name(f"{tree.name}{PRUNING}")
        try:
            tree.rename(removed)
        except OSError:
            return
        shutil.rmtree(removed, ignore_errors=True)
    finally:
        if lock is not None:
            os.close(lock)
