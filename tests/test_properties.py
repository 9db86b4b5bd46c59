"""Properties that hold for every input, checked with hypothesis.

- The comment renderer: whatever a reader wrote, the HTML has no markup but
  paragraphs, line breaks and nofollow links, and every visible character of
  the text is still there.
- The comments file: what the sync dumps, the extension loads back unchanged.
"""

from __future__ import annotations

from datetime import datetime, timezone
from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from feedback_formats import ROLES, Comment, dump_comments, parse_comments
from sphinx_handbook.comments import CONTROL, render_text

# Text as readers type it, links and markup-looking pieces included; no lone
# surrogates (no browser sends them and UTF-8 cannot carry them).
_PIECES = st.sampled_from([
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "&amp;", "&lt;", '"', "'",
    "https://example.org/pfad?a=1&b=<2>", "http://x.de/(klammer)", "javascript:alert(1)",
    "**fett**", "[link](https://evil.example)", "\n\n", "\n", "\r\n", "\t", " ", "www.example.org",
    "https://", "ä", "\u202e", "\x00", "\x1b[31m",
])
TEXT = st.lists(st.one_of(_PIECES, st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)),
                max_size=12).map("".join)


class _Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.visible: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.visible.append(data)


def _characters(text: str) -> str:
    return "".join(text.split())


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_rendered_comments_carry_no_markup_and_keep_every_character(text):
    html = render_text(text)
    markup = _Markup()
    markup.feed(html)
    markup.close()
    for tag, attrs in markup.tags:
        assert tag in ("p", "br", "a"), html
        if tag == "a":
            assert set(attrs) == {"href", "rel"}, html
            assert attrs["rel"] == "nofollow ugc noopener"
            assert attrs["href"].lower().startswith(("http://", "https://")), html
    expected = CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    assert _characters("".join(markup.visible)) == _characters(expected)


_ID = st.text(st.characters(whitelist_categories=("Ll", "Nd"), whitelist_characters="-_"),
              min_size=1, max_size=20)
_MOMENT = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(
    lambda moment: moment.replace(microsecond=0, tzinfo=timezone.utc))
COMMENT = st.builds(
    Comment,
    id=_ID.map(lambda value: "c_" + value), section=_ID, version=st.sampled_from(["1.0", "2.0", "2.1"]),
    author=st.text(st.characters(blacklist_categories=("Cs",)), max_size=80),
    text=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=300),
    created=_MOMENT, reply_to=st.none() | _ID.map(lambda value: "c_" + value),
    role=st.sampled_from(ROLES),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(COMMENT, max_size=8, unique_by=lambda comment: comment.id))
def test_the_comments_file_loads_back_what_was_dumped(comments):
    loaded = parse_comments(dump_comments(comments), "comments.json")
    assert loaded == sorted(comments, key=lambda comment: (comment.created, comment.id))
