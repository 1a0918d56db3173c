"""When, inside a transcript segment, the searched words are spoken.

Segments are whole phrases (several seconds); a search moment should start
where the word is said, not where its sentence begins. Speech runs at a
fairly even rate within a phrase, so the word's position in the segment's
text, as a share of its characters, places it in the segment's time span.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+", re.UNICODE)


def spoken_moment(start: float, end: float, text: str, query: str) -> float:
    """The estimated second the first query word (or a word it prefixes) is spoken in this segment.

    Falls back to the segment's start when no query word is found in its text.
    """
    words = [w.lower() for w in _WORD.findall(query)]
    text = text.strip()
    if not words or end <= start or not text:
        return start
    lowered = text.lower()
    positions = [m.start() for m in _WORD.finditer(lowered) if any(m.group().startswith(w) for w in words)]
    if not positions:
        return start
    share = positions[0] / max(len(text), 1)
    return start + share * (end - start)
