"""The built site as static files, each answer whole from one published tree.

The site directory is usually a symlink that the sync swaps to a fresh tree
(``handbook_editions.publish``). Every request resolves it once and is answered
from that tree alone, headers and body; for as long as the answer runs, the
request holds the tree's readers lock (a shared ``flock``), so that no publish,
in this process or another, prunes the tree underneath it.
"""

from __future__ import annotations

import fcntl
import os
import threading
from urllib.parse import urlsplit, urlunsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from handbook_editions.publish import READERS_LOCK

from . import pages

# A request meets a pruned tree only if publishes overtake it between resolving
# the link and locking; the link then already names a newer tree.
ATTEMPTS = 3


class SiteFiles:
    """The built site as static files, and nothing else.

    No path with a dot-segment is served (``.buildinfo``, ``.doctrees/``), a
    symlink counts only when it resolves inside the site's real directory, a
    directory's redirect names a path, never the request's ``Host``, and a
    missing site answers 404, never an error.
    """

    def __init__(self, directory: os.PathLike[str] | str):
        self.directory = os.path.abspath(directory)
        self._trees = _Trees()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if any(part.startswith(".") for part in scope["path"].split("/")):
            raise HTTPException(404)
        tree = self._trees.enter(self.directory)
        if tree is None:
            response = pages.site_missing_page(Request(scope))
            await response(scope, receive, send)
            return

        async def send_relative_redirects(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (301, 307, 308):
                message = {**message, "headers": [
                    (name, _path_only(value) if name == b"location" else value)
                    for name, value in message["headers"]
                ]}
            await send(message)

        try:
            await tree.files(scope, receive, send_relative_redirects)
        finally:
            self._trees.leave(tree)


def _path_only(location: bytes) -> bytes:
    """``http://any-host/2.0/?q`` → ``/2.0/?q``: a redirect never repeats a client's Host."""
    parts = urlsplit(location.decode("latin-1"))
    return urlunsplit(("", "", parts.path or "/", parts.query, "")).encode("latin-1")


class _Tree:
    """One resolved site tree: its files, its readers lock (None: a tree without one) and the requests in it."""

    def __init__(self, path: str, lock: int | None):
        self.path = path
        # follow_symlink=False: Starlette serves a path only when it resolves
        # inside this (real) directory.
        self.files = StaticFiles(directory=path, html=True, follow_symlink=False, check_dir=False)
        self.files.config_checked = True  # checked already: the tree is a directory
        self.lock = lock
        self.identity = _identity(os.fstat(lock)) if lock is not None else None
        self.readers = 0

    def take(self) -> bool:
        """Hold the tree for a first request; False when it is being pruned or gone."""
        if self.lock is None:
            return os.path.isdir(self.path)
        try:
            fcntl.flock(self.lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a publish holds it exclusively: it is removing the tree
        try:
            current = _identity(os.stat(os.path.join(self.path, READERS_LOCK)))
        except OSError:
            current = None
        if current != self.identity:
            # Pruned between opening the lock and locking it: the tree was renamed away.
            fcntl.flock(self.lock, fcntl.LOCK_UN)
            return False
        return True

    def close(self) -> None:
        if self.lock is not None:
            os.close(self.lock)


class _Trees:
    """The trees this process answers from, each with one open lock file shared by its requests.

    ``flock`` locks belong to an open file: the lock is taken when a tree's first
    request begins and released when its last one ends, a few system calls per
    burst of requests, nothing written. A tree the site no longer points to is
    forgotten when its last request ends.
    """

    def __init__(self) -> None:
        self._trees: dict[str, _Tree] = {}
        self._current: str | None = None
        self._mutex = threading.Lock()

    def enter(self, directory: str) -> _Tree | None:
        """The tree ``directory`` leads to now, held until :meth:`leave`; None when there is no site."""
        for _ in range(ATTEMPTS):
            path = _follow(directory)
            with self._mutex:
                if path != self._current:
                    self._current = path
                    self._forget_idle()
                tree = self._trees.get(path) or self._open(path)
                if tree is not None:
                    if tree.readers or tree.take():
                        tree.readers += 1
                        return tree
                    del self._trees[path]
                    tree.close()
            if _follow(directory) == path:
                return None  # no site at all; else a publish overtook us: look again
        return None

    def leave(self, tree: _Tree) -> None:
        with self._mutex:
            tree.readers -= 1
            if tree.readers:
                return
            if tree.lock is not None:
                fcntl.flock(tree.lock, fcntl.LOCK_UN)
            if tree.path != self._current:
                self._trees.pop(tree.path, None)
                tree.close()

    def _open(self, path: str) -> _Tree | None:
        try:
            lock = os.open(os.path.join(path, READERS_LOCK), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            # A site without readers locks (a plain build directory), unless the
            # tree itself is gone: pruning renames it away together with its lock.
            if not os.path.isdir(path):
                return None
            lock = None
        except OSError:
            return None  # not a directory, a loop of links, not readable: no site to serve
        tree = _Tree(path, lock)
        self._trees[path] = tree
        return tree

    def _forget_idle(self) -> None:
        for path, tree in list(self._trees.items()):
            if not tree.readers:
                del self._trees[path]
                tree.close()


def _follow(directory: str) -> str:
    """The tree the (absolute) site ``directory`` names now: its link's target, read once.

    Publishing swaps that one link (``build/site`` → ``.site/<stamp>``); links
    elsewhere on the path stay, and Starlette resolves them when it checks that
    a file lies inside the tree.
    """
    try:
        target = os.readlink(directory)
    except OSError:  # not a symlink (a plain build directory), or no site at all
        return directory
    return os.path.join(os.path.dirname(directory), target)


def _identity(status: os.stat_result) -> tuple[int, int]:
    return status.st_dev, status.st_ino
