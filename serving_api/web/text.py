"""Showing search snippets: all text escaped, only the search backends' <mark> tags kept."""

from __future__ import annotations

from markupsafe import Markup, escape

_OPEN, _CLOSE = str(escape("<mark>")), str(escape("</mark>"))


def highlighted(snippet: str) -> Markup:
    """The snippet as HTML text in which nothing but <mark>...</mark> is markup."""
    return Markup(str(escape(snippet)).replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>"))
