""""War diese Seite hilfreich?": storing a reader's answer, counting the answers for editors.

A rating keeps the page, the edition, yes or no, the reason and the day,
nothing that could point to the reader; only the rate limit sees the address,
as it does for comments (a day's HMAC, never the address itself).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

from . import db
from .moderation import corrections_report, markdown_text
from .ratelimit import RateLimiter
from .schemas import Rating
from .sections import SectionCatalog, version_key

SCOPE = "ratings"
HEADING = "War diese Seite hilfreich?"


def store_job(rating: Rating, address: str, limiter: RateLimiter) -> Callable[[db.Connection], dict]:
    """The write transaction of one rating."""

    def job(conn: db.Connection) -> dict:
        limiter.admit(conn, address, SCOPE)
        day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        db.insert_rating(conn, rating.doc, rating.version, rating.helpful, rating.reason, day)
        return {"status": "received"}

    return job


def counts(conn: db.Connection, catalog: SectionCatalog) -> list[dict]:
    """Per page and edition (newest edition first): yes, no, and the reasons, most frequent first."""
    pages: dict[tuple[str, str], dict] = {}
    for row in db.rating_counts(conn):
        key = (row["version"], row["doc"])
        page = pages.get(key)
        if page is None:
            page = pages[key] = {"doc": row["doc"], "version": row["version"],
                                 "url": page_url(catalog, row["version"], row["doc"]),
                                 "yes": 0, "no": 0, "reasons": []}
        page[row["helpful"]] += row["count"]
        if row["helpful"] == "no" and row["reason"]:
            page["reasons"].append({"reason": row["reason"], "count": row["count"]})
    for page in pages.values():
        page["reasons"].sort(key=lambda item: (-item["count"], item["reason"]))
    return sorted(pages.values(), key=lambda page: (_newest_first(page["version"]), page["doc"]))


def _newest_first(version: str) -> tuple:
    return tuple(-part for part in version_key(version))


def page_url(catalog: SectionCatalog, version: str, doc: str) -> str:
    """``/<version>/<page>.html`` from the edition's manifest (a section's url without its anchor)."""
    for section in catalog.editions().get(version, {}).values():
        if section.doc == doc and section.url:
            return f"/{version}/{section.url.partition('#')[0]}"
    return ""


def report(pages: list[dict]) -> str:
    """The counts as a Markdown section of the report for the next edition."""
    lines = [f"# {HEADING}", ""]
    if not pages:
        lines.append("Noch keine Antworten.")
        return "\n".join(lines) + "\n"
    lines.append("Antworten je Seite und Ausgabe (neueste Ausgabe zuerst).")
    for page in pages:
        where = f", `{page['url']}`" if page["url"] else ""
        lines += ["", f"## Ausgabe {markdown_text(page['version'])}: `{page['doc']}`", "",
                  f"Ja: {page['yes']}, Nein: {page['no']}{where}"]
        if page["reasons"]:
            lines += ["", "Gründe zu Nein:", ""]
            # One line per reason: a reader's line breaks must not end the list item.
            lines += [f"- {item['count']} ×: {markdown_text(' '.join(item['reason'].split()))}"
                      for item in page["reasons"]]
    return "\n".join(lines) + "\n"


def edition_report(conn: db.Connection, catalog: SectionCatalog, corrections: list[dict]) -> str:
    """The Markdown report for the next edition: the reported errors, then the ratings."""
    return corrections_report(corrections) + "\n" + report(counts(conn, catalog))
