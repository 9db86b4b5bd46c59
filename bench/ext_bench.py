"""Benchmark: the section-feedback extension on a handbook ten times the size of ours.

Generates a handbook in the real one's shape (one file per chapter under
``kapitel-NNN/index.md``, labelled sections at levels 2 and 3, lists, tables,
recipe cards, glossary terms and cross-references) with ten times the chapters,
sections and words of ``docs/``, plus a comments file, into a temporary
directory. Builds it with the real ``conf.py`` (furo, MyST, ``-j auto`` as
``make html`` does) and measures, each as its own ``sphinx-build`` process:

* the full build,
* a rebuild with nothing changed (median of 3): the floor Sphinx sets,
* a rebuild after one approved comment changed (median of 3),

and prints the one-comment rebuild as a ratio to the no-op rebuild (target
≤ 1.3×), which pages it wrote, and the gzipped size of the feature's JS+CSS
(target ≤ 4 KB).

Run: ``make bench`` or ``python bench/ext_bench.py [--scale 10] [--jobs auto]``.
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import feedback_formats.comments as comments_file
from feedback_formats.comments import Comment

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
STATIC = ROOT / "ext" / "sphinx_handbook" / "_static"
RATIO_TARGET = 1.3
SIZE_TARGET = 4096
RUNS = 3

WORDS = (
    "Verwaltung Bürgerinnen Bürger Antrag Verfahren digital Akte Leistung Kommune Landkreis Rathaus "
    "Fachbereich Projekt Lenkungsgruppe Koordination Beschäftigte Haushalt Mittel Ziel Schritt Plan "
    "Dienst Portal Formular Nachweis Register Schnittstelle Betrieb Rechenzentrum Sicherheit Schulung "
    "Erfahrung Beispiel Aufwand Nutzen Qualität Prozess Ablauf Entscheidung Beteiligung Rat Leitung "
    "gemeinsam schnell verlässlich einfach klar früh später heute bewährt sorgfältig knapp offen "
    "prüfen planen einführen abstimmen beschreiben messen verbessern übernehmen nutzen vereinbaren "
    "der die das und mit für von zu im auf bei nach aus wie wenn weil dass nicht auch noch schon"
).split()
TERMS = ["Onlinezugangsgesetz", "Lenkungsgruppe", "E-Akte", "Registermodernisierung", "Servicekonto"]


def measure_docs() -> tuple[int, int, int]:
    """Chapters, sections (levels 2 and 3) and words of our handbook."""
    chapters = sorted(DOCS.glob("kapitel-*/index.md"))
    sections = sum(len(re.findall(r"^###? ", path.read_text(encoding="utf-8"), re.MULTILINE)) for path in chapters)
    words = sum(len(path.read_text(encoding="utf-8").split()) for path in DOCS.rglob("*.md"))
    return len(chapters), sections, words


def sentence(rng: random.Random, length: int) -> str:
    words = [rng.choice(WORDS) for _ in range(length)]
    return " ".join(words).capitalize() + "."


def paragraph(rng: random.Random, words: int) -> str:
    parts, count = [], 0
    while count < words:
        length = rng.randint(8, 18)
        parts.append(sentence(rng, length))
        count += length
    return " ".join(parts)


def chapter(rng: random.Random, number: int, chapters: int, sections: int, words: int) -> tuple[str, list[str]]:
    """One chapter file and the labels of its sections."""
    label = f"kap{number:03d}"
    lines = [f"({label})=", f"# Kapitel {number}: {sentence(rng, 4)[:-1]}", "",
             ":::{container} teaser", paragraph(rng, 60), ":::", ""]
    per_section = max(60, (words - 80) // sections)
    labels = []
    for index in range(1, sections + 1):
        section_label = f"{label}-s{index:02d}"
        labels.append(section_label)
        level = "##" if index == 1 or rng.random() < 0.45 else "###"
        lines += [f"({section_label})=", f"{level} {sentence(rng, 3)[:-1]} {index}", ""]
        lines += ["```{index} " + rng.choice(TERMS), "```", ""]
        # About 75 words of each section are list, reference, heading and table.
        lines += [paragraph(rng, (per_section - 75) // 2), ""]
        other = rng.randint(1, chapters)
        lines += [f"Mehr dazu in {{ref}}`kap{other:03d}` und beim Begriff {{term}}`{rng.choice(TERMS)}`.", ""]
        lines += [f"- {sentence(rng, 6)}" for _ in range(3)] + [""]
        lines += [paragraph(rng, (per_section - 75) // 2), ""]
        if index % 4 == 0:
            lines += ["| Baustein | Klein | Groß |", "|---|---|---|"]
            lines += [f"| {rng.choice(WORDS)} | {sentence(rng, 4)} | {sentence(rng, 5)} |" for _ in range(4)] + [""]
        if index == sections and number % 2 == 0:
            lines += [f":::{{rezept}} {sentence(rng, 4)[:-1]}", ":zeitaufwand: zwei Monate", ":schwierigkeit: mittel", "",
                      *[f"- {sentence(rng, 4)}" for _ in range(3)], "",
                      *[f"{step}. {sentence(rng, 8)}" for step in range(1, 4)], ":::", ""]
    return "\n".join(lines), labels


def generate(target: Path, scale: int, rng: random.Random) -> tuple[list[list[str]], int, int]:
    """Writes the handbook; returns each chapter's section labels, its sections and words."""
    chapters, sections, words = measure_docs()
    chapters, sections, words = chapters * scale, sections * scale, words * scale
    per_chapter = [sections // chapters + (1 if n < sections % chapters else 0) for n in range(chapters)]
    labels = []
    for number in range(1, chapters + 1):
        text, chapter_labels = chapter(rng, number, chapters, per_chapter[number - 1], words // chapters)
        path = target / f"kapitel-{number:03d}" / "index.md"
        path.parent.mkdir(parents=True)
        path.write_text(text, encoding="utf-8")
        labels.append(chapter_labels)
    toctree = "\n".join(f"kapitel-{number:03d}/index" for number in range(1, chapters + 1))
    (target / "index.md").write_text(
        f"# Benchmark-Handbuch\n\n```{{toctree}}\n:numbered:\n:maxdepth: 2\n\n{toctree}\n```\n\n"
        "```{toctree}\n:caption: Anhang\n\nglossar\ndatenschutz\n```\n", encoding="utf-8")
    glossary = "\n\n".join(f"{term}\n  {sentence(rng, 12)}" for term in TERMS)
    (target / "glossar.md").write_text(f"# Glossar\n\n:::{{glossary}}\n{glossary}\n:::\n", encoding="utf-8")
    (target / "datenschutz.md").write_text(f"# Datenschutz\n\n{paragraph(rng, 200)}\n", encoding="utf-8")
    written = sum(len(path.read_text(encoding="utf-8").split()) for path in target.rglob("*.md"))
    return labels, sum(per_chapter), written


def comments_for(labels: list[list[str]], rng: random.Random) -> list[dict]:
    """About two comments for every three sections; some replies, some from the old edition."""
    comments = []
    all_labels = [label for chapter_labels in labels for label in chapter_labels]
    for number in range(len(all_labels) * 2 // 3):
        section = rng.choice(all_labels)
        earlier = [c for c in comments if c["section"] == section]
        comments.append({
            "id": f"c{number:05d}",
            "section": section,
            "version": "1.0" if rng.random() < 0.2 else "2.0",
            "author": rng.choice([None, "Kämmerei Musterstadt", "Amt für Digitales", "Hauptamt"]),
            "text": paragraph(rng, rng.randint(20, 80)) + "\n\nSiehe https://example.org/" + str(number),
            "created": f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}T{rng.randint(6, 20):02d}:00:00Z",
            "reply_to": earlier[0]["id"] if earlier and rng.random() < 0.3 else None,
        })
    return comments


def write_comments(path: Path, comments: list[dict]) -> None:
    """The comments file as the sync writes it."""
    comments_file.write_comments(path, [Comment.from_json(item) for item in comments])


def sphinx_build(source: Path, out: Path, comments: Path, jobs: str) -> tuple[float, float]:
    """Wall-clock and CPU seconds (its worker processes included) of one ``sphinx-build``."""
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-j", jobs, "-c", str(ROOT), "-q",
               "--fail-on-warning", "--keep-going", "-D", f"feedback_comments_path={comments}", str(source), str(out)]
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"sphinx-build failed:\n{result.stdout}\n{result.stderr}")
    cpu = cpu_after.ru_utime - cpu_before.ru_utime + cpu_after.ru_stime - cpu_before.ru_stime
    return elapsed, cpu


def page_times(out: Path) -> dict[str, int]:
    return {str(path.relative_to(out)): path.stat().st_mtime_ns for path in out.rglob("*.html")}


def assets_size() -> int:
    return sum(len(gzip.compress((STATIC / name).read_bytes(), 9)) for name in ("feedback.js", "feedback.css"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=10, help="times the size of docs/ (default 10)")
    parser.add_argument("--jobs", default=os.environ.get("JOBS", "auto"), help="sphinx-build -j (default auto)")
    args = parser.parse_args(argv or [])
    rng = random.Random(20261121)
    with tempfile.TemporaryDirectory(prefix="ext-bench-") as work:
        source, out, comments_path = Path(work, "src"), Path(work, "html"), Path(work, "comments.json")
        labels, sections, words = generate(source, args.scale, rng)
        comments = comments_for(labels, rng)
        write_comments(comments_path, comments)
        print(f"handbook: {len(labels)} chapter files, {sections} sections, {words:,} words, "
              f"{len(comments)} comments (scale {args.scale}, -j {args.jobs})", flush=True)

        full = sphinx_build(source, out, comments_path, args.jobs)
        noop = [sphinx_build(source, out, comments_path, args.jobs) for _ in range(RUNS)]
        one, written = [], set()
        for run in range(RUNS):
            changed = comments[(run * 97) % len(comments)]
            changed["text"] += f" (ergänzt, Lauf {run + 1})"
            write_comments(comments_path, comments)
            before = page_times(out)
            one.append(sphinx_build(source, out, comments_path, args.jobs))
            after = page_times(out)
            written |= {page for page, mtime in after.items() if before.get(page) != mtime}
            chapter = next(n for n, chapter_labels in enumerate(labels, 1) if changed["section"] in chapter_labels)
            assert f"kapitel-{chapter:03d}/index.html" in written, "the changed comment's page was not written"

    def median(runs: list[tuple[float, float]], which: int) -> float:
        return statistics.median(run[which] for run in runs)

    ratio = median(one, 0) / median(noop, 0)
    size = assets_size()
    rows = [
        ("full build", full),
        (f"no-op rebuild (median of {RUNS})", (median(noop, 0), median(noop, 1))),
        (f"one changed comment (median of {RUNS})", (median(one, 0), median(one, 1))),
    ]
    print("| measure | wall s | CPU s |")
    print("| --- | ---: | ---: |")
    for name, (wall, cpu) in rows:
        print(f"| {name} | {wall:.2f} | {cpu:.2f} |")
    print(f"| one comment / no-op | {ratio:.2f}× | {median(one, 1) / median(noop, 1):.2f}× |")
    print(f"target: one comment ≤ {RATIO_TARGET}× no-op (wall): {'met' if ratio <= RATIO_TARGET else 'MISSED'}")
    print(f"feedback.js + feedback.css, gzip -9: {size:,} bytes (target ≤ {SIZE_TARGET:,}): "
          f"{'met' if size <= SIZE_TARGET else 'MISSED'}")
    documents = sorted(page for page in written if page.startswith(("kapitel-", "index")))
    print(f"pages written by the {RUNS} one-comment rebuilds: {', '.join(documents)} "
          f"(+ {', '.join(sorted(written - set(documents)))}, written by every build)")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    # Targets are printed, not enforced, as in the other benchmarks: a measurement
    # that ran to its end is a result, whichever side of a target it falls on.
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
