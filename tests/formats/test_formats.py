"""The formats every part shares: what one side writes, the other side's loader reads."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone

import pytest

from feedback_formats import (
    FORMAT, Comment, CommentsFileError, Manifest, ManifestEntry, ManifestError, dump_comments, load_comments,
    load_manifest, manifest_path, utc_timestamp, write_atomic, write_comments, write_manifest,
)


def comment(id: str = "c1", **fields) -> Comment:
    values = {"id": id, "section": "qualitaetskultur", "version": "2.0", "author": "Kämmerei Musterstadt",
              "text": "Absatz 1\n\nAbsatz 2", "created": "2026-11-20T09:30:00Z", "reply_to": None, **fields}
    return Comment.from_json(values)


def test_written_comments_load_back_equal_and_readers_carry_no_role(tmp_path):
    comments = [comment("c2", created="2026-11-21T08:00:00+01:00"), comment("c1"),
                comment("c3", role="editors", reply_to="c1", author="Redaktion")]
    path = tmp_path / "var" / "comments.json"
    write_comments(path, comments, generated=datetime(2026, 11, 21, 10, tzinfo=timezone.utc))
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == FORMAT and data["generated"] == "2026-11-21T10:00:00Z"
    assert [item["id"] for item in data["comments"]] == ["c1", "c3", "c2"]
    assert "role" not in data["comments"][0] and data["comments"][1]["role"] == "editors"
    assert data["comments"][2]["created"] == "2026-11-21T07:00:00Z"
    assert sorted(load_comments(path), key=lambda c: c.id) == sorted(comments, key=lambda c: c.id)
    assert os.listdir(path.parent) == ["comments.json"], "a temporary file was left behind"


def test_a_missing_comments_file_means_no_comments(tmp_path):
    assert load_comments(tmp_path / "nowhere.json") == []


@pytest.mark.parametrize("item,problem", [
    ({"role": "admin"}, "comments[0].role muss „reader“ oder „editors“ sein"),
    ({"created": "2026-11-20T09:30:00"}, "comments[0].created ist kein Zeitpunkt mit Zeitzone"),
    ({"author": 42}, "comments[0].author muss Text oder null sein, nicht 42"),
    ({"id": " "}, "comments[0].id ist leer"),
])
def test_a_malformed_comment_names_file_place_and_problem(tmp_path, item, problem):
    good = comment().to_json()
    path = tmp_path / "comments.json"
    path.write_bytes(dump_comments([]).replace(b'"comments": []', b'"comments": ' + json.dumps([{**good, **item}]).encode()))
    with pytest.raises(CommentsFileError) as failure:
        load_comments(path)
    assert str(failure.value).startswith(f"Die Kommentardatei {path} ist fehlerhaft: ")
    assert problem in str(failure.value)


def test_a_manifest_written_is_the_manifest_read(tmp_path):
    manifest = Manifest("2.0", (
        ManifestEntry("qualitaetskultur", "3.2", "Qualitätskultur", "kapitel-03/index",
                      "kapitel-03/index.html#qualitaetskultur", "ab12"),
        ManifestEntry("ohne-digest", "3.3", "Ohne", "kapitel-03/index", "kapitel-03/index.html#ohne-digest"),
    ))
    path = write_manifest(tmp_path, manifest)
    assert path == manifest_path(tmp_path) == tmp_path / "_feedback" / "sections.json"
    assert load_manifest(path) == manifest
    assert "digest" not in json.loads(path.read_text(encoding="utf-8"))["sections"][1]


@pytest.mark.parametrize("content", ['{"sections": []}', '{"version": "2.0", "sections": [{"title": "x"}]}', "{"])
def test_a_broken_manifest_is_refused_naming_the_file(tmp_path, content):
    path = tmp_path / "sections.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ManifestError, match=str(path)):
        load_manifest(path)


def test_an_atomic_write_that_fails_leaves_the_old_file(tmp_path):
    path = tmp_path / "state.json"
    write_atomic(path, "alt")
    with pytest.raises(TypeError):
        write_atomic(path, 42)
    assert path.read_text() == "alt" and os.listdir(tmp_path) == ["state.json"]


def test_the_timestamp_is_utc_in_whole_seconds():
    assert utc_timestamp(datetime(2026, 11, 20, 10, 30, 15, 999, tzinfo=timezone.utc)) == "2026-11-20T10:30:15Z"
    assert len(utc_timestamp()) == 20 and utc_timestamp().endswith("Z")
