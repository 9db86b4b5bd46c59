"""The project's formats, each defined once; depends on nothing of ours.

The extension, the site builder, the service, the sync and the tests import
these names (they stay stable):

Comments file (``comments.py``): ``FORMAT``, ``ROLES``, ``DEFAULT_ROLE``,
``COMMENT_FIELDS``, ``Comment`` (``from_json``, ``to_json``), ``CommentError``,
``CommentsFileError``, ``parse_comments``, ``load_comments``, ``dump_comments``,
``write_comments``.

Section manifest (``manifest.py``): ``MANIFEST_PATH``, ``MANIFEST_FIELDS``,
``Manifest``, ``ManifestEntry``, ``ManifestError``, ``manifest_path``,
``parse_manifest``, ``load_manifest``, ``dump_manifest``, ``write_manifest``.

Submission fields (``submission.py``): ``SUBMISSION_FIELDS``, ``FIELDS``,
``SubmissionField``, ``MAX_BODY``, ``MAX_TEXT``, ``MAX_AUTHOR``, ``MAX_EMAIL``,
``MAX_REASON``, ``KINDS``, ``STATUSES``, ``BOX_KINDS``, ``DEFAULT_KIND``, ``PRIVATE_KINDS``,
``PRIVACY_DOC``, ``KIND_LABELS``, ``KIND_NAMES``, ``CONSENT_VALUES``, ``HELPFUL_VALUES``, ``FORM_TEMPLATES`` (the directory of the
form's one template, ``feedback/form.html``).

Files and times (``files.py``): ``write_atomic`` (temporary file, fsync, rename,
fsync of the directory), ``TIMESTAMP_FORMAT`` (UTC ``YYYY-MM-DDTHH:MM:SSZ``),
``utc_timestamp``, ``parse_timestamp``.
"""

from .comments import (
    COMMENT_FIELDS, DEFAULT_ROLE, FORMAT, ROLES, Comment, CommentError, CommentsFileError, dump_comments,
    load_comments, parse_comments, write_comments,
)
from .files import TIMESTAMP_FORMAT, parse_timestamp, utc_timestamp, write_atomic
from .manifest import (
    MANIFEST_FIELDS, MANIFEST_PATH, Manifest, ManifestEntry, ManifestError, dump_manifest, load_manifest,
    manifest_path, parse_manifest, write_manifest,
)
from .submission import (
    BOX_KINDS, CONSENT_VALUES, DEFAULT_KIND, FIELDS, FORM_TEMPLATES, HELPFUL_VALUES, KIND_LABELS, KIND_NAMES, KINDS,
    MAX_AUTHOR, MAX_BODY, MAX_EMAIL, MAX_REASON, MAX_TEXT, PRIVATE_KINDS, PRIVACY_DOC, STATUSES, SUBMISSION_FIELDS,
    SubmissionField,
)

__all__ = [
    "COMMENT_FIELDS", "DEFAULT_ROLE", "FORMAT", "ROLES", "Comment", "CommentError", "CommentsFileError",
    "dump_comments", "load_comments", "parse_comments", "write_comments",
    "TIMESTAMP_FORMAT", "parse_timestamp", "utc_timestamp", "write_atomic",
    "MANIFEST_FIELDS", "MANIFEST_PATH", "Manifest", "ManifestEntry", "ManifestError", "dump_manifest",
    "load_manifest", "manifest_path", "parse_manifest", "write_manifest",
    "BOX_KINDS", "CONSENT_VALUES", "DEFAULT_KIND", "FIELDS", "FORM_TEMPLATES", "HELPFUL_VALUES", "KIND_LABELS",
    "KIND_NAMES", "KINDS", "MAX_AUTHOR", "MAX_BODY", "MAX_EMAIL", "MAX_REASON", "MAX_TEXT", "PRIVATE_KINDS",
    "PRIVACY_DOC", "STATUSES", "SUBMISSION_FIELDS", "SubmissionField",
]
