"""The logic every backend shares: sanitizing terms, cursors, and escaped snippets."""

from __future__ import annotations

import pytest

from pipeline.search.base import InvalidCursor, SearchQuery
from pipeline.search.cursor import CursorPosition, decode_cursor, encode_cursor
from pipeline.search.highlight import MARK_END, MARK_START, best_snippet, render_snippet
from pipeline.search.plan import plan_search
from pipeline.search.terms import MAX_TERMS, query_terms


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("Volcanoes of Iceland", ("volcanoes", "iceland")),
        ('title:"lava* OR (sea) -x', ("title", "lava", "sea", "x")),
        ("NEAR(a b) AND NOT c", ("near", "b", "c")),
        ("lava lava LAVA", ("lava",)),
        ("snake_case don't", ("snake", "case")),
        ("Reykjavík 2024", ("reykjavík", "2024")),
        ("the of and or", ()),
        ("", ()),
    ],
)
def test_query_terms_are_plain_lower_case_words_without_stop_words(text: str, terms: tuple[str, ...]) -> None:
    assert query_terms(text) == terms


def test_query_terms_are_capped() -> None:
    assert len(query_terms(" ".join(f"w{i}" for i in range(100)))) == MAX_TERMS


def test_cursor_round_trips_exact_float_scores() -> None:
    position = CursorPosition(score=0.1 + 0.2, video_id=7, ties=2)
    cursor = encode_cursor(position, "abc")
    assert "=" not in cursor
    assert decode_cursor(cursor, "abc") == position


@pytest.mark.parametrize(
    "payload",
    [
        '{"s": 1.0, "id": 1, "t": 0}',
        '{"s": true, "id": 1, "t": 0, "q": "abc"}',
        '{"s": 1.0, "id": "1", "t": 0, "q": "abc"}',
        '{"s": 1.0, "id": 1, "t": -1, "q": "abc"}',
        '{"s": NaN, "id": 1, "t": 0, "q": "abc"}',
        '"text"',
        "null",
    ],
)
def test_cursor_with_wrong_fields_is_invalid(payload: str) -> None:
    import base64

    with pytest.raises(InvalidCursor):
        decode_cursor(base64.urlsafe_b64encode(payload.encode()).decode(), "abc")


def test_cursor_is_tied_to_the_search_but_not_to_the_limit() -> None:
    first = plan_search(SearchQuery(text="Volcano!", limit=5))
    cursor = encode_cursor(CursorPosition(1.0, 1), first.fingerprint)
    assert plan_search(SearchQuery(text="volcano", limit=50, cursor=cursor)).after == CursorPosition(1.0, 1)
    with pytest.raises(InvalidCursor):
        plan_search(SearchQuery(text="volcano", status=None, cursor=cursor))


def test_limit_is_clamped() -> None:
    assert plan_search(SearchQuery(text="x", limit=0)).limit == 1
    assert plan_search(SearchQuery(text="x", limit=10_000)).limit == 100


def test_snippets_escape_html_and_keep_only_balanced_marks() -> None:
    raw = f"<script>alert('x')</script> & {MARK_START}lava{MARK_END} {MARK_END}{MARK_START}{MARK_START}flow"
    assert render_snippet(raw) == ("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; <mark>lava</mark> <mark>flow</mark>")


def test_best_snippet_prefers_a_highlighted_candidate() -> None:
    assert best_snippet(["plain summary", None, f"a {MARK_START}hit{MARK_END}"]) == "a <mark>hit</mark>"
    assert best_snippet(["", "plain <b>"]) == "plain &lt;b&gt;"
    assert best_snippet([]) == ""
