"""The merged comments file (DESIGN.md, "Merged comments file"): the record, load, dump.

The sync writes it, every HTML build reads it. ``load_comments`` is the one set
of checks both sides apply; a problem raises :class:`CommentsFileError`, whose
message names the file and the problem in German.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterable

from .files import parse_timestamp, utc_timestamp, write_atomic

FORMAT = 1
ROLES = ("reader", "editors")
DEFAULT_ROLE = "reader"
# Every comment carries these, in this order; ``role`` is written only when it is not the default.
COMMENT_FIELDS = ("id", "section", "version", "author", "text", "created", "reply_to")
# The JSON types each field may have (None: null).
_TYPES: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "section": (str,),
    "version": (str,),
    "author": (str, type(None)),
    "text": (str,),
    "created": (str,),
    "reply_to": (str, type(None)),
}
_TYPE_NAMES = {str: "Text", type(None): "null"}


class CommentError(ValueError):
    """One comment breaks the format; the message says where and how, in German."""


class CommentsFileError(ValueError):
    """The comments file cannot be used; ``str()`` names the file and the problem."""

    def __init__(self, path: Path | str, problem: str):
        super().__init__(f"Die Kommentardatei {path} ist fehlerhaft: {problem}")
        self.path = path
        self.problem = problem


@dataclass(frozen=True)
class Comment:
    """One published comment; ``created`` is an aware UTC time, ``author`` may be empty."""

    id: str
    section: str
    version: str
    author: str
    text: str
    created: datetime
    reply_to: str | None = None
    role: str = DEFAULT_ROLE

    @classmethod
    def from_json(cls, item: object, where: str = "comment") -> Comment:
        """The comment ``item`` (decoded JSON) describes; CommentError naming ``where`` if it is malformed."""
        if not isinstance(item, dict):
            raise CommentError(f"{where} ist kein JSON-Objekt, sondern {describe(item)}")
        for field, types in _TYPES.items():
            if field not in item:
                raise CommentError(f"{where}: das Feld „{field}“ fehlt")
            if not isinstance(item[field], types):
                names = " oder ".join(_TYPE_NAMES[t] for t in types)
                raise CommentError(f"{where}.{field} muss {names} sein, nicht {describe(item[field])}")
        for field in ("id", "section"):
            if not item[field].strip():
                raise CommentError(f"{where}.{field} ist leer")
        created = parse_timestamp(item["created"])
        if created is None:
            raise CommentError(
                f"{where}.created ist kein Zeitpunkt mit Zeitzone nach ISO 8601: {describe(item['created'])}"
            )
        role = item.get("role", DEFAULT_ROLE)
        if role not in ROLES:
            raise CommentError(f"{where}.role muss „reader“ oder „editors“ sein, nicht {describe(role)}")
        return cls(
            id=item["id"], section=item["section"], version=item["version"], author=item["author"] or "",
            text=item["text"], created=created, reply_to=item["reply_to"], role=role,
        )

    def to_json(self) -> dict:
        """The comment as the file holds it."""
        item = {
            "id": self.id, "section": self.section, "version": self.version, "author": self.author,
            "text": self.text, "created": utc_timestamp(self.created), "reply_to": self.reply_to,
        }
        if self.role != DEFAULT_ROLE:
            item["role"] = self.role
        return item


def describe(value: object) -> str:
    """A value as JSON for an error message, cut short."""
    shown = json.dumps(value, ensure_ascii=False)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def parse_comments(raw: bytes, path: Path | str) -> list[Comment]:
    """The comments of a comments file's bytes; ``path`` only names it in errors."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise CommentsFileError(path, "kein UTF-8") from None
    except json.JSONDecodeError as exc:
        raise CommentsFileError(
            path, f"kein gültiges JSON (Zeile {exc.lineno}, Spalte {exc.colno}: {exc.msg})"
        ) from None
    if not isinstance(data, dict):
        raise CommentsFileError(path, "erwartet wird ein JSON-Objekt mit „format“ und „comments“")
    if data.get("format") != FORMAT:
        raise CommentsFileError(
            path, f"„format“ ist {describe(data.get('format'))}, unterstützt wird nur {FORMAT}"
        )
    if not isinstance(data.get("comments"), list):
        raise CommentsFileError(path, f"„comments“ muss eine Liste sein, nicht {describe(data.get('comments'))}")
    comments: list[Comment] = []
    seen: set[str] = set()
    for index, item in enumerate(data["comments"]):
        try:
            comment = Comment.from_json(item, f"comments[{index}]")
        except CommentError as exc:
            raise CommentsFileError(path, str(exc)) from None
        if comment.id in seen:
            raise CommentsFileError(path, f"comments[{index}].id {describe(comment.id)} kommt mehrfach vor")
        seen.add(comment.id)
        comments.append(comment)
    return comments


def load_comments(path: Path) -> list[Comment]:
    """Read and check the comments file; a missing file means no comments."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise CommentsFileError(path, f"nicht lesbar ({exc.strerror})") from None
    return parse_comments(raw, path)


def dump_comments(comments: Iterable[Comment], generated: datetime | None = None) -> bytes:
    """The file's bytes: the envelope, comments oldest first, UTF-8 JSON with a final newline."""
    ordered = sorted(comments, key=lambda comment: (comment.created, comment.id))
    document = {
        "format": FORMAT,
        "generated": utc_timestamp(generated),
        "comments": [comment.to_json() for comment in ordered],
    }
    return (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def write_comments(path: Path, comments: Iterable[Comment], generated: datetime | None = None) -> bytes:
    """Write the comments file atomically; returns the bytes written."""
    data = dump_comments(comments, generated)
    write_atomic(path, data)
    return data
