"""Publishing while readers read: no page cut short, no page mixed from two trees, no tree pulled away.

The service runs as a real ``serve`` process with two workers; this test
process publishes (``handbook_editions.publish``) back to back beside it, the
way the sync does in another process.
"""

from __future__ import annotations

import fcntl
import hashlib
import http.client
import multiprocessing
import multiprocessing.synchronize
import os
import socket
import time
from collections import Counter
from pathlib import Path

from handbook_editions.publish import READERS_LOCK, publish
from handbook_editions.releases import Release

from .conftest import SECTIONS_10, SECTIONS_20, wait_for, write_manifest
from .test_processes import ServiceProcess, _env

# Pages the readers fetch, each different in every published tree.
PAGES = ("/2.0/kapitel-03/index.html", "/latest/kapitel-03/index.html", "/1.0/kapitel-02/index.html",
         "/versions.json")
READERS = 6
PUBLISHING_SECONDS = 6


class Editions:
    """Built editions to publish, different in every round, and what each round published."""

    def __init__(self, root: Path, big_file: bool = False):
        self.root = root
        self.site = root / "build" / "site"
        self.big_file = big_file
        self.round = 0
        # path as the readers ask for it → digests of every version ever published
        self.published: dict[str, set[str]] = {page: set() for page in PAGES}

    def page(self, version: str) -> bytes:
        # A size of its own in every round and a few 64 KiB chunks long: a body from
        # another tree than its Content-Length cannot go unnoticed.
        line = f"<p>Ausgabe {version}, Veröffentlichung {self.round}</p>\n".encode()
        return b"<!DOCTYPE html><html lang='de'>\n" + line * (3000 + 7 * self.round) + b"</html>\n"

    def publish(self) -> Path:
        self.round += 1
        releases = [Release("2.0", "2026-11-01", "v2.0", f"Ausgabe 2.0 ({self.round})"),
                    Release("1.0", "2025-05-01", "v1.0", f"Ausgabe 1.0 ({self.round})")]
        built = {}
        for release, sections, chapter in ((releases[0], SECTIONS_20, "kapitel-03"),
                                           (releases[1], SECTIONS_10, "kapitel-02")):
            html = self.root / "editions" / str(self.round) / release.version
            write_manifest(html, release.version, sections)
            (html / chapter).mkdir(parents=True)
            (html / chapter / "index.html").write_bytes(self.page(release.version))
            if self.big_file and release is releases[0]:
                (html / "gross.bin").write_bytes(self.page(release.version) * 100)  # about 14 MB
            pdf = html.parent / f"{release.version}.pdf"
            pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
            built[release.version] = (html, pdf)
        tree = publish(self.site, releases, built)
        for page in PAGES:
            self.published[page].add(_digest((tree / page.lstrip("/")).read_bytes()))
        return tree


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _read_all(port: int, stop: multiprocessing.synchronize.Event, results: multiprocessing.Queue) -> None:
    """GET the pages in turn on one keep-alive connection until ``stop``; every failure counted.

    Puts the outcomes and the bodies read whole, as ``(page, digest)``, each with its count.
    """
    outcomes: Counter = Counter()
    bodies: Counter = Counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    n = 0
    while not stop.is_set():
        page = PAGES[n % len(PAGES)]
        n += 1
        try:
            connection.request("GET", page)
            answer = connection.getresponse()
            body = answer.read()
        except http.client.IncompleteRead:
            outcomes["cut short"] += 1
            connection.close()
            continue
        except (http.client.HTTPException, OSError) as error:
            outcomes[f"broken: {type(error).__name__}"] += 1
            connection.close()
            continue
        if answer.status != 200:
            outcomes[f"status {answer.status}"] += 1
        elif len(body) != int(answer.headers["content-length"]):
            outcomes["length differs"] += 1
        else:
            outcomes["whole"] += 1
            bodies[page, _digest(body)] += 1
    connection.close()
    results.put((outcomes, bodies))


def test_no_page_read_is_cut_short_or_mixed_while_publishing_back_to_back(tmp_path):
    editions = Editions(tmp_path)
    editions.publish()
    service = ServiceProcess(_env(f"sqlite:///{tmp_path / 'db.sqlite3'}", editions.site), tmp_path / "service.log",
                             tmp_path, "--workers", "2")
    # Readers in processes of their own: as threads beside the publisher they would starve it of the GIL.
    processes = multiprocessing.get_context("fork")
    stop, results = processes.Event(), processes.Queue()
    readers = [processes.Process(target=_read_all, args=(service.port, stop, results)) for _ in range(READERS)]
    outcomes: Counter = Counter()
    bodies: Counter = Counter()
    try:
        for reader in readers:
            reader.start()
        deadline = time.monotonic() + PUBLISHING_SECONDS
        while time.monotonic() < deadline:
            editions.publish()
        stop.set()
        for _ in readers:
            counted, read = results.get(timeout=30)
            outcomes += counted
            bodies += read
    finally:
        stop.set()
        for reader in readers:
            reader.join(timeout=30)
        service.stop()
    assert set(outcomes) == {"whole"}, f"{outcomes} in {editions.round} publishes"
    assert editions.round > 20 and outcomes["whole"] > 500, f"{outcomes} in {editions.round} publishes"
    mixed = {(page, digest): n for (page, digest), n in bodies.items() if digest not in editions.published[page]}
    assert mixed == {}, f"{sum(mixed.values())} bodies match no published tree"
    # With the readers gone, the next publish keeps only the tree the site points to and the one before.
    editions.publish()
    remaining = {path.name for path in (editions.site.parent / ".site").iterdir()}
    assert len(remaining) == 2 and os.readlink(editions.site).endswith(tuple(remaining))


def _start_slow_download(port: int, path: str) -> tuple[socket.socket, bytes]:
    """GET ``path`` and read no further than its headers: the answer waits for the reader."""
    reader = socket.socket()
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    reader.settimeout(30)
    reader.connect(("127.0.0.1", port))
    reader.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = reader.recv(4096)
        assert chunk, received
        received += chunk
    return reader, received


def _finish_download(reader: socket.socket, received: bytes) -> tuple[bytes, bytes]:
    """The status line and the whole body, read to the end."""
    data = bytearray(received)
    while chunk := reader.recv(1 << 20):
        data += chunk
    reader.close()
    head, body = bytes(data).split(b"\r\n\r\n", 1)
    return head.split(b"\r\n")[0], body


def _unheld(tree: Path) -> bool:
    with open(tree / READERS_LOCK, "rb") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
    return True


def test_a_tree_with_an_answer_still_running_is_pruned_only_after_it(tmp_path):
    # The file is larger than the socket buffers of both sides (a few MiB at most):
    # the answer cannot end until the reader reads on.
    editions = Editions(tmp_path, big_file=True)
    first = editions.publish()
    expected = (first / "2.0" / "gross.bin").read_bytes()
    service = ServiceProcess(_env(f"sqlite:///{tmp_path / 'db.sqlite3'}", editions.site), tmp_path / "service.log",
                             tmp_path)
    try:
        reader, received = _start_slow_download(service.port, "/2.0/gross.bin")
        for _ in range(4):
            editions.publish()
        assert first.is_dir(), "the tree of a running answer was pruned"
        status, body = _finish_download(reader, received)
        assert b" 200 " in status
        assert body == expected
        # Once the answer is done (the service then lets go of the tree), the next publish prunes it.
        wait_for(lambda: _unheld(first))
        editions.publish()
        assert not first.exists()
    finally:
        service.stop()


def test_publish_skips_a_tree_a_reader_holds_and_prunes_it_once_released(tmp_path):
    editions = Editions(tmp_path)
    first = editions.publish()
    second = editions.publish()
    with open(first / READERS_LOCK, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_SH)
        third = editions.publish()
        fourth = editions.publish()
        assert first.is_dir() and not second.exists()
        assert (first / "2.0" / "kapitel-03" / "index.html").is_file()
        fcntl.flock(held, fcntl.LOCK_UN)
    editions.publish()
    assert not first.exists() and not third.exists()
    assert fourth.is_dir()  # the tree before the current one stays, held or not


def test_publish_never_prunes_the_tree_the_site_points_to(tmp_path):
    editions = Editions(tmp_path)
    trees = [editions.publish() for _ in range(4)]
    assert [tree.exists() for tree in trees] == [False, False, True, True]
    assert editions.site.resolve() == trees[-1]


def test_a_publish_shares_what_did_not_change_and_never_writes_into_a_published_tree(tmp_path):
    """After a sync only the rebuilt pages are written anew; every published tree keeps its content."""
    html = tmp_path / "build" / "2.0"
    write_manifest(html, "2.0", SECTIONS_20)
    form = b'<form><input type="hidden" name="return_to" value="/2.0/kapitel-03/index.html"></form>'
    (html / "kapitel-03").mkdir(parents=True)
    (html / "kapitel-03" / "index.html").write_bytes(b"<p>Kapitel 3</p>" + form)
    (html / "impressum.html").write_bytes(b"<p>Impressum</p>")
    pdf = tmp_path / "build" / "2.0.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    releases = [Release("2.0", "2026-11-01", "v2.0", "Ausgabe 2.0")]
    site = tmp_path / "site"
    first = publish(site, releases, {"2.0": (html, pdf)})

    # The sync rebuilds one page (a new comment under it); the rest stays as built.
    (html / "kapitel-03" / "index.html").write_bytes(b"<p>Kapitel 3, mit Kommentar</p>" + form)
    second = publish(site, releases, {"2.0": (html, pdf)})

    def inode(tree: Path, name: str) -> int:
        return (tree / name).stat().st_ino

    for unchanged in ("2.0/impressum.html", "2.0/kochbuch-egovernment.pdf", "2.0/_feedback/sections.json"):
        assert inode(first, unchanged) == inode(second, unchanged), f"{unchanged} was copied again"
    assert inode(second, "latest/impressum.html") == inode(second, "2.0/impressum.html")
    assert inode(first, "2.0/kapitel-03/index.html") != inode(second, "2.0/kapitel-03/index.html")
    # The tree published first still shows what it showed, and latest/ has its own forms.
    assert (first / "2.0" / "kapitel-03" / "index.html").read_bytes().startswith(b"<p>Kapitel 3</p>")
    assert (second / "2.0" / "kapitel-03" / "index.html").read_bytes().startswith(b"<p>Kapitel 3, mit Kommentar")
    assert b'value="/2.0/kapitel-03/' in (second / "2.0" / "kapitel-03" / "index.html").read_bytes()
    latest = (second / "latest" / "kapitel-03" / "index.html").read_bytes()
    assert b'value="/latest/kapitel-03/' in latest and b"mit Kommentar" in latest
    assert b'value="/latest/' in (first / "latest" / "kapitel-03" / "index.html").read_bytes()
