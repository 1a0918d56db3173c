"""Snippets that are safe to put in HTML: escaped text with only our <mark> tags.

Engines mark matches with the private-use characters MARK_START / MARK_END
instead of "<mark>" so that the whole snippet can be HTML-escaped first and the
marks put in afterwards: a transcript saying "<script>" reaches the page as
text. Marks are emitted balanced whatever the engine (or the text) produced.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

MARK_START = "\ue000"
MARK_END = "\ue001"
_MARKS = re.compile(f"([{MARK_START}{MARK_END}])")


def render_snippet(raw: str) -> str:
    out: list[str] = []
    open_mark = False
    for part in _MARKS.split(raw):
        if part == MARK_START and not open_mark:
            out.append("<mark>")
            open_mark = True
        elif part == MARK_END and open_mark:
            out.append("</mark>")
            open_mark = False
        elif part not in (MARK_START, MARK_END):
            out.append(html.escape(part))
    if open_mark:
        out.append("</mark>")
    return "".join(out)


def best_snippet(candidates: Iterable[str | None]) -> str:
    """The first candidate with a highlighted term, else the first non-empty one, rendered.

    Candidates are taken one at a time: a lazy iterable stops being computed at the first highlighted one.
    """
    first = ""
    for candidate in candidates:
        if candidate and MARK_START in candidate:
            return render_snippet(candidate)
        first = first or candidate or ""
    return render_snippet(first)
