"""What the service serves of the site directory, and the headers on every answer."""

from __future__ import annotations

import os
import shutil

import pytest


@pytest.fixture
def build_tree(site_dir):
    """The leftovers of a plain `sphinx-build` next to the pages, and a symlink out of the site."""
    (site_dir / ".buildinfo").write_text("config: 0123abcd\n", encoding="utf-8")
    doctrees = site_dir / ".doctrees"
    doctrees.mkdir()
    (doctrees / "environment.pickle").write_bytes(b"/home/redaktion/handbuch/docs")
    outside = site_dir.parent / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not part of the site", encoding="utf-8")
    os.symlink(outside, site_dir / "escape")
    os.symlink(outside / "secret.txt", site_dir / "2.0" / "secret.txt")
    os.symlink("2.0", site_dir / "alias")
    return site_dir


@pytest.mark.parametrize("path", [
    "/.buildinfo", "/.doctrees/environment.pickle", "/2.0/../.buildinfo", "/%2ebuildinfo",
    "/.git/config", "/2.0/.hidden/x.html", "/.readers.lock",
])
def test_dot_segments_are_never_served(client, build_tree, path):
    answer = client.get(path)
    assert answer.status_code == 404
    assert "0123abcd" not in answer.text and "/home/" not in answer.text


@pytest.mark.parametrize("path", ["/escape/secret.txt", "/2.0/secret.txt"])
def test_symlinks_out_of_the_site_are_not_followed(client, build_tree, path):
    answer = client.get(path)
    assert answer.status_code == 404
    assert "not part of the site" not in answer.text


def test_symlinks_inside_the_site_are_served(client, build_tree):
    answer = client.get("/alias/kapitel-03/index.html")
    assert answer.status_code == 200
    assert "Qualitätskultur" in answer.text


def test_directory_redirect_never_repeats_a_foreign_host(client, build_tree):
    (build_tree / "2.0" / "index.html").write_text("<!DOCTYPE html><title>2.0</title>")
    answer = client.get("/2.0", headers={"Host": "evil.example"}, follow_redirects=False)
    assert answer.status_code in (301, 307, 308)
    assert answer.headers["location"] == "/2.0/"


@pytest.mark.parametrize("path", ["/", "/2.0/kapitel-03/index.html", "/api/v1/health",
                                  "/api/v1/openapi.json", "/nirgends.html", "/api/v1/nirgends"])
def test_security_headers_on_every_answer(client, path):
    answer = client.get(path)
    headers = answer.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    policy = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "object-src 'none'" in policy or "default-src 'none'" in policy
    assert "http:" not in policy and "https:" not in policy and "*" not in policy


def test_api_answers_allow_no_script_at_all(client):
    policy = client.get("/api/v1/health").headers["content-security-policy"]
    assert policy.startswith("default-src 'none'")


def test_head_ranges_and_revalidation_of_site_files(client):
    page = "/2.0/kapitel-03/index.html"
    whole = client.get(page)
    assert whole.status_code == 200
    head = client.head(page)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == whole.headers["content-length"] == str(len(whole.content))
    part = client.get(page, headers={"Range": "bytes=0-14"})
    assert part.status_code == 206 and part.content == whole.content[:15]
    assert client.get(page, headers={"If-None-Match": whole.headers["etag"]}).status_code == 304


def test_a_missing_site_answers_the_german_page(client, site_dir):
    site_dir.rename(site_dir.with_name("weg"))
    answer = client.get("/2.0/kapitel-03/index.html")
    assert answer.status_code == 404
    assert "Die Website ist noch nicht gebaut" in answer.text


def test_each_request_follows_the_site_link_to_the_tree_published_then(client, site_dir):
    """The sync swaps the site link to a fresh tree: the next request reads the new tree."""
    store = site_dir.with_name(".site")
    store.mkdir()
    first, second = store / "eins", store / "zwei"
    site_dir.rename(first)
    shutil.copytree(first, second)
    (second / "2.0" / "kapitel-03" / "index.html").write_text("<!DOCTYPE html><title>Neu gebaut</title>")
    site_dir.symlink_to(first)
    assert "Qualitätskultur" in client.get("/2.0/kapitel-03/index.html").text
    link = site_dir.with_name("site.new")
    link.symlink_to(second)
    os.replace(link, site_dir)
    assert "Neu gebaut" in client.get("/2.0/kapitel-03/index.html").text
    shutil.rmtree(second)
    assert "Die Website ist noch nicht gebaut" in client.get("/2.0/kapitel-03/index.html").text
