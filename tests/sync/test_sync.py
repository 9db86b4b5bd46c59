"""Approved comments reach every edition after one sync, and a failed sync damages nothing.

The tests run in the order written, against one site and one service: each sync
builds on the last, as syncs do in production.
"""

from __future__ import annotations

import fcntl
import json
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import requests

from feedback_formats import load_comments
from feedback_service.config import load_config
from feedback_service.sync import sync_paths
from tests.browser.conftest import _free_port, running_service
from tests.conftest import ROOT

from .conftest import Handbook, post_approved, sync

pytestmark = pytest.mark.slow


class _ReadingOrder(HTMLParser):
    """A page as a reader meets it: where ``needle`` is shown and which section box follows."""

    def __init__(self, needle: str) -> None:
        super().__init__()
        self.needle = needle
        self.events: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "input" and attributes.get("type") == "hidden" and attributes.get("name") == "section":
            self.events.append(("box", attributes.get("value")))

    def handle_data(self, data):
        if self.needle in data:
            self.events.append(("text", None))


def sections_showing(page: Path, text: str) -> list[str | None]:
    """Under which sections ``text`` appears on ``page``: the comment box that follows each occurrence."""
    parser = _ReadingOrder(text)
    parser.feed(page.read_text(encoding="utf-8"))
    shown, waiting = [], 0
    for kind, section in parser.events:
        if kind == "text":
            waiting += 1
        elif waiting:
            shown += [section] * waiting
            waiting = 0
    return shown + [None] * waiting


def pages_containing(root: Path, text: str) -> list[str]:
    return sorted(
        page.relative_to(root).as_posix()
        for page in root.rglob("*.html")
        if text in page.read_text(encoding="utf-8")
    )


def unique(text: str) -> str:
    return f"{text} ({uuid.uuid4().hex[:10]})"


@pytest.fixture(scope="module")
def sections(handbook: Handbook) -> dict[str, str]:
    """A section every edition has, and one only the newest edition has."""
    newest, *older = handbook.editions()
    in_all = [sid for sid in handbook.sections(newest) if all(sid in handbook.sections(v) for v in older)]
    only_newest = [sid for sid in handbook.sections(newest) if not any(sid in handbook.sections(v) for v in older)]
    assert in_all and only_newest, "releases.toml needs editions that share some sections and not others"
    return {"shared": in_all[len(in_all) // 2], "new": only_newest[0], "newest": newest}


# -- the loop closes -------------------------------------------------------------


@pytest.fixture(scope="module")
def published(service, handbook, sections) -> dict:
    """Two approved comments and one still pending, then one sync."""
    texts = {
        "shared": unique("Wir haben das im Kreis ausprobiert: Es lohnt sich"),
        "new": unique("Der Abschnitt zu Einer für Alle hilft uns sehr"),
        "pending": unique("Dieser Kommentar wartet noch auf die Redaktion"),
    }
    ids = {
        "shared": post_approved(service, sections["shared"], handbook.editions()[-1], texts["shared"]),
        "new": post_approved(service, sections["new"], sections["newest"], texts["new"]),
    }
    pending = requests.post(f"{service.url}/api/v1/comments", timeout=10, json={
        "section": sections["shared"], "version": sections["newest"], "text": texts["pending"], "consent": True,
    })
    assert pending.status_code == 202
    result = sync(service)
    return {"texts": texts, "ids": ids, "result": result}


def test_sync_reports_what_it_did(published, handbook):
    result = published["result"]
    assert result.returncode == 0, result.stderr
    assert "2 Kommentar(e) neu, 0 geändert, 0 entfernt" in result.stdout
    for version in handbook.editions():
        assert re.search(rf"{re.escape(version)}: [1-9]\d* Seiten neu geschrieben", result.stdout), result.stdout
    assert re.search(r"Dauer: \d+\.\d s", result.stdout)


def test_sync_reports_each_step_while_it_builds(published, handbook):
    """``make sync`` is not silent while the site builds: each edition's steps start and end on a line of their own."""
    lines = published["result"].stdout.splitlines()
    for version in handbook.editions():
        for step in ("HTML", "PDF"):
            started = [i for i, line in enumerate(lines)
                       if re.fullmatch(rf"\[[\d:]+\] {re.escape(version)} · {step} …", line)]
            ended = [i for i, line in enumerate(lines)
                     if re.match(rf"\[[\d:]+\] {re.escape(version)} · {step} fertig \(\d+\.\d s", line)]
            assert started and ended and started[0] < ended[0], (version, step, lines)
    # The summary follows the progress.
    summary = next(i for i, line in enumerate(lines) if "] Abgleich mit " in line)
    assert all(" · " not in line for line in lines[summary:])


def test_approved_comment_is_under_its_section_in_every_edition(published, handbook, sections):
    text = published["texts"]["shared"]
    for version in [*handbook.editions(), "latest"]:
        url = handbook.sections(version)[sections["shared"]]
        page = handbook.site / version / url.split("#")[0]
        assert sections_showing(page, text) == [sections["shared"]], f"{version}/{url}"


def test_comment_on_a_new_section_stays_out_of_editions_without_it(published, handbook, sections):
    text = published["texts"]["new"]
    newest, *older = handbook.editions()
    for version in (newest, "latest"):
        url = handbook.sections(version)[sections["new"]]
        assert sections_showing(handbook.site / version / url.split("#")[0], text) == [sections["new"]]
    for version in older:
        assert pages_containing(handbook.site / version, text) == []


def test_pending_comment_is_published_nowhere(published, handbook):
    assert pages_containing(handbook.site, published["texts"]["pending"]) == []


def test_comments_file_follows_the_contract(published, handbook):
    data = json.loads(handbook.comments.read_text(encoding="utf-8"))
    assert data["format"] == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", data["generated"])
    by_id = {comment["id"]: comment for comment in data["comments"]}
    assert set(published["ids"].values()) <= set(by_id)
    shared = by_id[published["ids"]["shared"]]
    assert set(shared) == {"id", "section", "version", "author", "text", "created", "reply_to"}
    assert shared["author"] == "Kämmerei Musterstadt"
    assert shared["text"] == published["texts"]["shared"]
    # The extension reads it with the one loader of the format.
    loaded = {comment.id: comment for comment in load_comments(handbook.comments)}
    assert loaded.keys() == by_id.keys()
    assert loaded[shared["id"]].to_json() == shared


def test_second_sync_without_changes_builds_nothing(published, service, handbook):
    before = handbook.fingerprint()
    result = sync(service)
    assert result.returncode == 0, result.stderr
    assert "Keine Änderungen – nichts gebaut" in result.stdout
    assert handbook.fingerprint() == before


# -- deletion reaches everywhere --------------------------------------------------


def test_deleted_and_rejected_comments_disappear_from_every_edition(published, service, handbook):
    service.admin("DELETE", f"comments/{published['ids']['shared']}")
    service.admin("POST", f"comments/{published['ids']['new']}/reject")
    result = sync(service)
    assert result.returncode == 0, result.stderr
    assert "0 Kommentar(e) neu, 0 geändert, 2 entfernt" in result.stdout
    for key in ("shared", "new"):
        assert pages_containing(handbook.site, published["texts"][key]) == []


# -- a failed sync changes nothing ---------------------------------------------------


@pytest.fixture(scope="module")
def waiting_comment(service, handbook, sections) -> str:
    """An approved comment the failing syncs below must not publish; returns its text."""
    text = unique("Noch nicht abgeglichen")
    post_approved(service, sections["shared"], sections["newest"], text)
    return text


class _LoginPage(BaseHTTPRequestHandler):
    """What a misconfigured proxy answers instead of the service: a login page, status 200."""

    def do_GET(self):  # noqa: N802 (http.server's naming)
        body = "<!DOCTYPE html><title>Anmeldung</title><p>Bitte melden Sie sich an.</p>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def login_page_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LoginPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("trouble", ["nicht erreichbar", "Token abgelehnt", "Antwort ungültig"])
def test_service_trouble_exits_non_zero_and_touches_nothing(
    trouble, waiting_comment, service, handbook, login_page_url
):
    environment = {
        "nicht erreichbar": {"FEEDBACK_SERVICE_URL": f"http://127.0.0.1:{_free_port()}"},
        "Token abgelehnt": {"FEEDBACK_ADMIN_TOKEN": "falsches-token"},
        "Antwort ungültig": {"FEEDBACK_SERVICE_URL": login_page_url},
    }[trouble]
    expected = {
        "nicht erreichbar": "ist nicht erreichbar",
        "Token abgelehnt": "hat das Verwaltungs-Token abgelehnt",
        "Antwort ungültig": "Die Antwort des Feedback-Dienstes ist ungültig: kein JSON",
    }[trouble]
    site, files = handbook.fingerprint(), handbook.files()

    result = sync(service, **environment)

    assert result.returncode == 3, result.stdout + result.stderr
    assert expected in result.stderr
    assert handbook.fingerprint() == site
    assert handbook.files() == files
    assert pages_containing(handbook.site, waiting_comment) == []


def test_failed_build_keeps_site_comments_file_and_cursor(waiting_comment, service, handbook, tmp_path):
    # An editor lists an old draft whose docs/ does not build (its toctree names
    # chapters that did not exist yet). It sorts oldest, so the real editions are
    # rebuilt with the new comment first: none of that may reach readers.
    root_commit = subprocess.run(
        ["git", "rev-list", "--max-parents=0", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()[0]
    releases = tmp_path / "releases.toml"
    releases.write_text(
        (ROOT / "releases.toml").read_text(encoding="utf-8")
        + f'\n[[release]]\nversion = "0.9"\ndate = "2010-01-01"\nref = "{root_commit}"\ntitle = "Entwurf"\n',
        encoding="utf-8",
    )
    site, files = handbook.fingerprint(), handbook.files()

    result = sync(service, "--releases", str(releases))

    assert result.returncode == 4, result.stdout + result.stderr
    assert "Der Bau der Website ist fehlgeschlagen" in result.stderr
    assert "Ausgabe 0.9" in result.stderr
    assert handbook.fingerprint() == site
    assert handbook.files() == files

    # The cursor stayed where it was: the next good sync brings the comment.
    result = sync(service)
    assert result.returncode == 0, result.stderr
    assert "1 Kommentar(e) neu" in result.stdout
    assert pages_containing(handbook.site / "latest", waiting_comment) != []


def test_export_in_several_pages_arrives_whole(handbook, sections, tmp_path):
    """After a long pause the service answers in pages; the sync follows them to the end."""
    from feedback_service import audit, db, moderation
    from feedback_service.sync import ExportClient

    with running_service(handbook.site, tmp_path) as other:
        posted = []
        with requests.Session() as client:
            for number in range(moderation.EXPORT_PAGE + 2):
                answer = client.post(f"{other.url}/api/v1/comments", timeout=10, json={
                    "section": sections["shared"], "version": sections["newest"],
                    "text": f"Kommentar Nummer {number}", "consent": True,
                })
                posted.append(answer.json()["id"])
        with db.Database(other.env["FEEDBACK_DATABASE_URL"]).session() as conn:
            for comment_id in posted:
                moderation.approve(conn, comment_id, editor=audit.CLI)

        exporter = ExportClient(other.url, other.env["FEEDBACK_ADMIN_TOKEN"])
        export = exporter.changes_since("1")

    assert not export.full
    assert [change["comment"]["id"] for change in export.changes] == posted[1:]
    assert export.cursor == str(len(posted))


# -- the version switcher ----------------------------------------------------------


class _Switcher(HTMLParser):
    """The ids of a page and the links of its edition switcher and old-edition banner."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[dict] = []
        self.banner = False
        self._open: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(attributes["id"])
        classes = (attributes.get("class") or "").split()
        if tag in ("nav", "aside"):
            if "handbook-old-edition" in classes:
                self.banner = True
            if self._open or {"handbook-editions", "handbook-old-edition"} & set(classes):
                self._open.append(tag)
        elif tag == "a" and self._open:
            self.links.append(attributes)

    def handle_endtag(self, tag):
        if tag in ("nav", "aside") and self._open:
            self._open.pop()


def test_switcher_links_resolve_to_existing_pages_and_sections(handbook, sections):
    root = handbook.site.resolve()
    parsed: dict[Path, _Switcher] = {}

    def parse(path: Path) -> _Switcher:
        if path not in parsed:
            parsed[path] = _Switcher()
            parsed[path].feed(path.read_text(encoding="utf-8"))
        return parsed[path]

    def resolve(page: Path, href: str) -> tuple[Path, str]:
        parts = urlsplit(href)
        assert not parts.scheme and not parts.netloc, f"{page}: {href} leaves the site"
        base = root if parts.path.startswith("/") else page.parent
        target = (base / unquote(parts.path).lstrip("/")).resolve()
        return (target / "index.html" if target.is_dir() else target), parts.fragment

    newest = sections["newest"]
    checked = 0
    for page in sorted(root.rglob("*.html")):
        switcher = parse(page)
        edition = page.relative_to(root).parts[0].replace("latest", newest)
        if edition in handbook.editions():
            assert switcher.links, f"{page}: no edition switcher"
            assert switcher.banner == (edition != newest), f"{page}: old-edition banner wrong"
        for link in switcher.links:
            refinements = json.loads(link.get("data-handbook-sections") or "{}")
            for section_id, href in [(None, link["href"]), *refinements.items()]:
                target, fragment = resolve(page, href)
                assert target.is_file(), f"{page.relative_to(root)}: {href} does not exist"
                if fragment:
                    assert fragment in parse(target).ids, f"{page.relative_to(root)}: {href} has no #{fragment}"
                if section_id is not None:
                    # JavaScript swaps in the same section: it must be one on this page.
                    assert fragment == section_id and section_id in switcher.ids, f"{page}: {section_id} -> {href}"
                checked += 1
    assert checked > 100


def test_switcher_in_an_older_edition_leads_to_the_same_section(handbook, sections):
    newest, *older = handbook.editions()
    shared = sections["shared"]
    for version in older:
        url = handbook.sections(version)[shared]
        switcher = _Switcher()
        switcher.feed((handbook.site / version / url.split("#")[0]).read_text(encoding="utf-8"))
        # The edition links ("Was ist neu" leads to a page of its own, not to a section).
        to_newest = [link for link in switcher.links
                     if link["href"].startswith(f"/{newest}/") and "data-handbook-sections" in link]
        assert to_newest, f"{version}/{url}: no link to {newest}"
        for link in to_newest:
            assert json.loads(link["data-handbook-sections"])[shared] == f"/{newest}/{handbook.sections(newest)[shared]}"


def test_switcher_without_javascript_stays_on_the_same_page_where_it_exists(handbook):
    editions = handbook.editions()
    for version in editions:
        root = handbook.site / version
        for page in sorted(root.rglob("*.html")):
            relative = page.relative_to(root).as_posix()
            switcher = _Switcher()
            switcher.feed(page.read_text(encoding="utf-8"))
            for other in editions:
                if (handbook.site / other / relative).is_file():
                    assert any(link["href"] == f"/{other}/{relative}" for link in switcher.links), (
                        f"{version}/{relative}: the link to edition {other} leaves the page"
                    )


# -- periodic sync -------------------------------------------------------------------


def test_periodic_sync_retries_and_ends_cleanly_on_ctrl_c(service):
    process = subprocess.Popen(
        [sys.executable, "-m", "feedback_service", "sync", "--every", "1"],
        cwd=service.log.parent, env={**service.env, "FEEDBACK_SERVICE_URL": f"http://127.0.0.1:{_free_port()}"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    time.sleep(4.5)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stdout + stderr
    # Retries after 5 s, doubling, but never later than the period (here 1 s).
    retries = re.findall(r"Nächster Versuch in (\d+) s", stdout)
    assert retries[:2] == ["1", "1"], stdout
    assert "Abgleich beendet." in stderr
    assert "Traceback" not in stderr


def test_serve_publishes_an_approval_at_once_and_merges_approvals_arriving_together(
    service, handbook, sections, tmp_path
):
    """``make serve`` with two workers: an approval wakes the one sync at once (its period here is an
    hour), in every edition; approvals arriving while the sync waits are published by one build."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with open(log, "w") as output:
        # The approvals go through the fixture's service: the ring travels between processes.
        process = subprocess.Popen(
            [sys.executable, "-m", "feedback_service", "serve", "--port", str(port), "--workers", "2",
             "--site-dir", str(handbook.site), "--sync-every", "3600"],
            cwd=service.log.parent, env={**service.env, "FEEDBACK_SITE_DIR": "anderswo"},
            stdout=output, stderr=subprocess.STDOUT,
        )

    def runs() -> list[str]:
        return re.findall(r"\] Abgleich mit .*", log.read_text(encoding="utf-8"))

    def shown_everywhere(text: str) -> bool:
        for version in handbook.editions():
            page = f"{url}/{version}/{handbook.sections(version)[sections['shared']].split('#')[0]}"
            if text not in requests.get(page, timeout=10).text:
                return False
        return True

    def wait(condition, what: str, seconds: float = 300) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            assert process.poll() is None, log.read_text(encoding="utf-8")
            assert time.monotonic() < deadline, f"{what}:\n{log.read_text(encoding='utf-8')}"
            time.sleep(0.5)

    def healthy() -> bool:
        try:
            return requests.get(f"{url}/api/v1/health", timeout=5).ok
        except requests.ConnectionError:
            return False

    try:
        wait(healthy, "the service did not start")
        wait(lambda: len(runs()) == 1, "the first sync did not end")
        assert "Freigaben wecken den Abgleich sofort (Unix-Socket" in log.read_text(encoding="utf-8")
        alone = unique("Gleich nach der Freigabe veröffentlicht")
        post_approved(service, sections["shared"], sections["newest"], alone)
        wait(lambda: shown_everywhere(alone), "the approved comment did not appear in every edition")

        together = [unique("Zusammen freigegeben, eins"), unique("Zusammen freigegeben, zwei")]
        with open(sync_paths(load_config(service.env)).lock, "w") as held:
            # Another sync holds the lock: the woken sync waits, and the second approval arrives meanwhile.
            fcntl.flock(held, fcntl.LOCK_EX)
            post_approved(service, sections["shared"], sections["newest"], together[0])
            wait(lambda: "Ein anderer Abgleich läuft gerade" in log.read_text(encoding="utf-8"),
                 "the woken sync did not start")
            post_approved(service, sections["shared"], sections["newest"], together[1])
        wait(lambda: all(shown_everywhere(text) for text in together), "the two comments did not appear")
        wait(lambda: len(runs()) == 4, "no run after the merged one")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    output = log.read_text(encoding="utf-8")
    assert process.returncode == 0, output
    # One process syncs: its first run, the one approval, both together, and the run their second ring asked for.
    summaries = runs()
    assert len(summaries) == 4, output
    assert "1 Kommentar(e) neu" in summaries[1] and "2 Kommentar(e) neu" in summaries[2], output
    assert "nichts gebaut" in summaries[3], output
    assert "Traceback" not in output
