"""What the queue shows: which submissions match a filter, in which order, and what editors
should notice about each (personal data in the text, the answer-by date of a barrier report).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from datetime import date, datetime, timezone
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from feedback_formats import KIND_NAMES, ManifestError, load_manifest

from ..schemas import PROGRESS
from ..sections import SectionCatalog, version_key

EDITORS_TIMEZONE = ZoneInfo("Europe/Berlin")
PAGE_SIZE = 20

# The queue's views (``?zustand=``): what an editor is asked to look at.
STATES = {
    "offen": "Offen",
    "freigegeben": "Freigegeben",
    "abgelehnt": "Abgelehnt",
    "erledigt": "Erledigt",
    "alle": "Alle",
}
KIND_FILTERS = {"comment": "Kommentare", "correction": "Fehlermeldungen", "barrier": "Barrieren"}
OPEN_PROGRESS = ("open", "in_progress")


@dataclass(frozen=True)
class Filters:
    state: str = "offen"
    kind: str = ""
    section: str = ""
    edition: str = ""
    search: str = ""
    page: int = 1

    @classmethod
    def from_query(cls, query) -> Filters:
        state = query.get("zustand", "offen")
        kind = query.get("art", "")
        page = query.get("seite", "1")
        return cls(
            state=state if state in STATES else "offen",
            kind=kind if kind in KIND_FILTERS else "",
            section=query.get("abschnitt", "")[:200],
            edition=query.get("ausgabe", "")[:40],
            search=query.get("suche", "").strip()[:200],
            page=int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1,
        )

    def query(self, **changes) -> str:
        """This view's query string, with ``changes``; defaults are left out."""
        values = {
            "zustand": self.state, "art": self.kind, "abschnitt": self.section,
            "ausgabe": self.edition, "suche": self.search, "seite": self.page,
        }
        values.update(changes)
        defaults = {"zustand": "offen", "seite": 1}
        kept = {k: v for k, v in values.items() if v not in ("", None) and defaults.get(k) != v}
        return urlencode(kept)


def in_state(row: dict, state: str) -> bool:
    private = row["kind"] != "comment"
    if state == "offen":
        if private:
            return row["status"] != "rejected" and row["progress"] in OPEN_PROGRESS
        return row["status"] == "pending"
    if state == "freigegeben":
        return not private and row["status"] == "approved"
    if state == "abgelehnt":
        return row["status"] == "rejected" or (private and row["progress"] == "declined")
    if state == "erledigt":
        return private and row["progress"] == "done" and row["status"] != "rejected"
    return True


def select(rows: list[dict], filters: Filters) -> list[dict]:
    """The readers' submissions that match; the open ones oldest first, others newest first."""
    needle = filters.search.casefold()
    chosen = [
        row for row in rows
        if in_state(row, filters.state)
        and (not filters.kind or row["kind"] == filters.kind)
        and (not filters.section or row["section"] == filters.section)
        and (not filters.edition or row["version"] == filters.edition)
        and (not needle or needle in row["text"].casefold() or needle in row["author"].casefold())
    ]
    chosen.sort(key=lambda row: (row["created"], row["id"]), reverse=filters.state != "offen")
    return chosen


# -- Personal data ---------------------------------------------------------------

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# German and international numbers: +49 or 0 then at least 6 more digits, with
# the usual separators; years, dates and paragraph numbers are too short to match.
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}|0)[\s/()-]*\d(?:[\s/()-]*\d){5,}(?!\w)")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]){11,30}\b")


def _iban_valid(candidate: str) -> bool:
    compact = candidate.replace(" ", "")
    moved = compact[4:] + compact[:4]
    digits = "".join(str(int(char, 36)) for char in moved)
    return int(digits) % 97 == 1


def personal_data(text: str) -> list[str]:
    """What in ``text`` looks like personal data, in words for the editor."""
    found = []
    if _EMAIL.search(text):
        found.append("eine E-Mail-Adresse")
    if _PHONE.search(text):
        found.append("eine Telefonnummer")
    if any(_iban_valid(match.group()) for match in _IBAN.finditer(text)):
        found.append("eine IBAN")
    return found


# -- Times -------------------------------------------------------------------------

def parse_time(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def local_time(value: str) -> str:
    return parse_time(value).astimezone(EDITORS_TIMEZONE).strftime("%d.%m.%Y, %H:%M Uhr")


def local_date(day: date) -> str:
    return day.strftime("%d.%m.%Y")


def age(value: str, now: datetime) -> str:
    seconds = max(0, int((now - parse_time(value)).total_seconds()))
    if seconds < 3600:
        minutes = seconds // 60
        return "gerade eben" if minutes < 1 else f"vor {minutes} Minute{'n' if minutes != 1 else ''}"
    if seconds < 86400:
        hours = seconds // 3600
        return f"vor {hours} Stunde{'n' if hours != 1 else ''}"
    days = seconds // 86400
    return f"vor {days} Tag{'en' if days != 1 else ''}"


def answer_due(created: str) -> date:
    """One month after receipt (§ 12b BGG): the same day next month, or its last day."""
    received = parse_time(created).astimezone(EDITORS_TIMEZONE).date()
    year, month = (received.year + 1, 1) if received.month == 12 else (
        received.year, received.month + 1
    )
    for day in range(received.day, 27, -1):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    return date(year, month, received.day)


# -- Sections and editions ---------------------------------------------------------

class EditionRoots:
    """Where each edition lives under the site: ``{"2.0": "/2.0/"}`` (or ``"/"``)."""

    def __init__(self, catalog: SectionCatalog):
        self.catalog = catalog
        self._stamp: tuple = ()
        self._roots: dict[str, str] = {}

    def roots(self) -> dict[str, str]:
        paths = self.catalog.manifest_paths()
        try:
            stamp = tuple((path, path.stat().st_mtime_ns) for path in paths)
        except OSError:  # a rebuild is replacing the site right now
            return self._roots
        if stamp != self._stamp:
            roots: dict[str, str] = {}
            for path in paths:
                try:
                    version = load_manifest(path).version
                except ManifestError:
                    continue
                folder = path.parent.parent.relative_to(self.catalog.site_dir).as_posix()
                prefix = "/" if folder == "." else f"/{folder}/"
                if version not in roots or folder == version:
                    roots[version] = prefix
            self._roots, self._stamp = roots, stamp
        return self._roots


@lru_cache(maxsize=8)
def edition_roots(catalog: SectionCatalog) -> EditionRoots:
    """The one :class:`EditionRoots` of a service's catalog."""
    return EditionRoots(catalog)


def editions(catalog: SectionCatalog) -> list[str]:
    return sorted(catalog.editions(), key=version_key, reverse=True)


def section_label(section) -> str:
    """``3.2 Qualitätskultur``: a manifest entry's number and title."""
    return " ".join(part for part in (section.number, section.title) if part) or section.id


def _number_order(section) -> tuple:
    return (tuple(int(p) for p in section.number.split(".") if p.isdigit()) or (10**6,), section.id)


def section_choices(catalog: SectionCatalog) -> list[tuple[str, str]]:
    """``(id, "3.2 Qualitätskultur")`` for every section of any edition, newest numbering."""
    known = {}
    for version in reversed(editions(catalog)):
        known.update(catalog.editions()[version])
    return [(section.id, section_label(section)) for section in sorted(known.values(), key=_number_order)]


def describe(row: dict, catalog: SectionCatalog, roots: dict[str, str], now: datetime) -> dict:
    """Everything the queue shows of one submission, ready for the template.

    ``roots`` is where each edition lives (:meth:`EditionRoots.roots`).
    """
    section = catalog.describe(row["version"], row["section"])
    in_edition = catalog.editions().get(row["version"], {}).get(row["section"])
    root = roots.get(row["version"])
    item = dict(row)
    item.update(
        kind_label=KIND_NAMES[row["kind"]],
        section_label=section_label(section) if section else "",
        section_link=root + in_edition.url if in_edition and root else None,
        created_local=local_time(row["created"]),
        age=age(row["created"], now),
        hints=personal_data(row["text"]) if row["kind"] == "comment" else [],
        progress_label=PROGRESS[row["progress"]],
        due=None,
        overdue=False,
    )
    if row["kind"] == "barrier":
        due = answer_due(row["created"])
        item["due"] = local_date(due)
        item["overdue"] = (
            row["progress"] in OPEN_PROGRESS and row["status"] != "rejected"
            and now.astimezone(EDITORS_TIMEZONE).date() > due
        )
    return item
