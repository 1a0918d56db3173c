"""Turning what a user typed into plain search terms, the same way for every backend.

User input is never handed to an engine's query syntax: FTS5, tsquery and the
OpenSearch query DSL each give quotes, `*`, `-`, `:`, parentheses and OR/AND/NOT
a meaning, and an unbalanced quote is a syntax error in FTS5. We keep only runs
of letters and digits, so every backend sees the same harmless words.

Stop words are dropped here rather than left to each engine: PostgreSQL's
`english` configuration and OpenSearch's `english` analyzer drop them, FTS5
does not, and with AND semantics a kept "the" would make SQLite stricter than
the others. The list is PostgreSQL's (Snowball English), a superset of Lucene's.
"""

from __future__ import annotations

import re

# Beyond this a query is not a search but an attempt to make one expensive.
MAX_TERMS = 32

_WORD = re.compile(r"[^\W_]+")

STOP_WORDS = frozenset(
    """
i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers
herself it its itself they them their theirs themselves what which who whom this that these those am is are
was were be been being have has had having do does did doing a an the and but if or because as until while
of at by for with about against between into through during before after above below to from up down in out
on off over under again further then once here there when where why how all any both each few more most
other some such no nor not only own same so than too very s t can will just don should now
""".split()
)


def query_terms(text: str) -> tuple[str, ...]:
    """The distinct lower-cased words of `text` worth searching for, in order of first appearance."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if word not in STOP_WORDS:
            seen.setdefault(word, None)
    return tuple(seen)[:MAX_TERMS]
