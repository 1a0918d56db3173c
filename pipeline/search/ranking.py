"""What every backend searches and how it ranks: one set of numbers for all of them.

Field weights follow PostgreSQL's A/B/C/D labels (title, summary, description,
transcript). Divided by the title's weight they are exactly PostgreSQL's
default `ts_rank_cd` weights {0.1, 0.2, 0.4, 1.0}; FTS5's bm25() and
OpenSearch's field boosts take them as they are.
"""

from __future__ import annotations

FIELD_WEIGHTS: dict[str, float] = {"title": 10.0, "summary": 4.0, "description": 2.0, "transcript": 1.0}

# Where a hit's snippet comes from, in order of preference: the first with a
# highlighted term wins, else the first non-empty one (a title-only match).
SNIPPET_FIELDS: tuple[str, ...] = ("summary", "description", "transcript", "title")
SNIPPET_WORDS = 24

# A hit lists at most this many timed segments where its words are spoken.
MAX_SEGMENT_MATCHES = 5

MAX_LIMIT = 100

# Totals are counted up to this many matches; beyond it a page says "at least
# TOTAL_CAP" (SearchPage.total_exact is False), as large search engines do:
# an exact count of a common word's matches costs far more than the page itself.
TOTAL_CAP = 1000
