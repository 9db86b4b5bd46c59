"""One site with every edition, one running feedback service, and the sync between them.

The site is built once per session, as ``make site`` builds it; every sync in
the tests then rebuilds it incrementally, just as in production. The service is
the real one (``python -m feedback_service serve``) on a free port with its own
SQLite database, serving that site, and every sync is the real command line.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from feedback_formats import load_manifest, manifest_path
from handbook_editions import build_site
from tests.browser.conftest import Service, comments_file, running_service
from tests.conftest import ROOT


@dataclass
class Handbook:
    """The published site and the files the sync keeps beside it."""

    site: Path
    comments: Path

    @property
    def state(self) -> Path:
        return self.comments.with_name("sync-state.json")

    def editions(self) -> list[str]:
        data = json.loads((self.site / "versions.json").read_text(encoding="utf-8"))
        return [entry["version"] for entry in data["versions"]]

    def sections(self, version: str) -> dict[str, str]:
        """``{section id: url}`` of one published edition, from its manifest."""
        manifest = load_manifest(manifest_path(self.site / version))
        return {entry.id: entry.url for entry in manifest.sections}

    def fingerprint(self) -> str:
        """Everything a reader can see: where the site link points and every byte below it."""
        digest = hashlib.sha256(os.readlink(self.site).encode())
        root = self.site.resolve()
        for path in sorted(root.rglob("*")):
            if path.is_file():
                digest.update(path.relative_to(root).as_posix().encode() + b"\0")
                digest.update(path.read_bytes())
        return digest.hexdigest()

    def files(self) -> dict[str, bytes | None]:
        """The comments file and the sync's cursor, byte for byte (None: absent)."""
        return {path.name: path.read_bytes() if path.is_file() else None for path in (self.comments, self.state)}


@pytest.fixture(scope="session")
def handbook(tmp_path_factory) -> Handbook:
    """Every edition of releases.toml, built and published once for the session."""
    site = tmp_path_factory.mktemp("sync-site") / "site"
    build_site(site, releases_file=ROOT / "releases.toml", comments=comments_file(site))
    return Handbook(site, comments_file(site))


@pytest.fixture(scope="session")
def service(handbook: Handbook, tmp_path_factory) -> Iterator[Service]:
    with running_service(handbook.site, tmp_path_factory.mktemp("sync-service")) as running:
        # The sync runs in the service's working directory, away from the project.
        running.env["FEEDBACK_RELEASES_FILE"] = str(ROOT / "releases.toml")
        yield running


def sync(service: Service, *args: str, **env: str) -> subprocess.CompletedProcess:
    """``python -m feedback_service sync ARGS`` as an operator runs it (exit code not checked)."""
    return subprocess.run(
        [sys.executable, "-m", "feedback_service", "sync", *args],
        cwd=service.log.parent, env={**service.env, **env}, capture_output=True, text=True, timeout=600,
    )


def post_approved(service: Service, section: str, version: str, text: str) -> str:
    """A reader's comment, approved by an editor; returns its id."""
    answer = requests.post(
        f"{service.url}/api/v1/comments",
        json={"section": section, "version": version, "text": text, "author": "Kämmerei Musterstadt", "consent": True},
        timeout=10,
    )
    assert answer.status_code == 202, answer.text
    comment_id = answer.json()["id"]
    service.admin("POST", f"comments/{comment_id}/approve")
    return comment_id

