"""Builders other than HTML show neither form nor comments; -j 2 writes the same pages as -j 1."""

from __future__ import annotations

import shutil
from pathlib import Path

from pypdf import PdfReader

from .conftest import ROOTS, comment, write_comments

COMMENTS = [
    comment("eins", "qualitaetskultur", text="Ein freigegebener Kommentar"),
    comment("zwei", "beteiligung", text="Noch ein Kommentar https://example.org", version="1.0"),
    comment("drei", "beteiligung", text="Eine Antwort", reply_to="zwei"),
]
FORM_WORDS = ("Kommentieren", "Absenden", "Ein freigegebener Kommentar", "Danke!")


def test_text_output_has_no_form_and_no_comments(build):
    app = build("text", comments=COMMENTS)
    text = Path(app.outdir, "kapitel-01", "index.txt").read_text(encoding="utf-8")
    assert "Eigener Text von 1.1." in text and "Qualität vertiefen" in text
    for word in FORM_WORDS:
        assert word not in text
    assert not Path(app.outdir, "_feedback").exists()


def test_pdf_has_no_form_and_no_comments(build):
    app = build("pdf", comments=COMMENTS)
    [pdf] = Path(app.outdir).glob("*.pdf")
    text = " ".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "Eigener Text von 1.1." in text and "Online beteiligen" in text
    for word in FORM_WORDS:
        assert word not in text


def test_parallel_build_writes_the_same_pages(make_app, tmp_path):
    outputs = {}
    for jobs in (1, 2):
        srcdir = tmp_path / f"j{jobs}"
        shutil.copytree(ROOTS / "test-feedback", srcdir)
        write_comments(srcdir, COMMENTS)
        app = make_app("html", srcdir=srcdir, parallel=jobs)
        app.build()
        if jobs == 2:
            assert app.is_parallel_allowed("read") and app.is_parallel_allowed("write")
        outputs[jobs] = {
            str(path.relative_to(app.outdir)): path.read_bytes()
            for path in sorted(Path(app.outdir).rglob("*"))
            if path.suffix in (".html", ".json")
        }
    assert outputs[1].keys() == outputs[2].keys()
    assert "_feedback/sections.json" in outputs[1]
    assert [name for name in outputs[1] if outputs[1][name] != outputs[2][name]] == []
    assert b"Eine Antwort" in outputs[2]["kapitel-02/index.html"]
