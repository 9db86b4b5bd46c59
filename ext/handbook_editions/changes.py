"""What changed between two editions: the sections added, revised and removed.

The one comparison of editions: the release notes (``make release``,
``make release-notes``) use it, and so can "Was ist neu" in the extension.
A section is known by its id; it is revised when both editions know its
digest (the manifest's ``digest``, a sum of the section's own text) and the
digests differ. Where either digest is missing (a manifest written before
digests existed) revised-ness is unknown, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class SectionChanges:
    """Section ids, each in the order of the edition it is found in."""

    added: tuple[str, ...]
    revised: tuple[str, ...]
    removed: tuple[str, ...]
    # In both editions, but without a digest on one side: changed or not, nobody knows.
    unknown: tuple[str, ...]


def compare_sections(previous: Mapping[str, str | None], current: Mapping[str, str | None]) -> SectionChanges:
    """Compare ``{section id: digest or None}`` of the edition before with this edition's."""
    kept = [section for section in current if section in previous]
    return SectionChanges(
        added=tuple(section for section in current if section not in previous),
        revised=tuple(section for section in kept
                      if None not in (previous[section], current[section]) and previous[section] != current[section]),
        removed=tuple(section for section in previous if section not in current),
        unknown=tuple(section for section in kept if None in (previous[section], current[section])),
    )
