"""Sentence splitting and content words: the one place every summarization module uses.

The splitter is deliberately simple (Whisper transcripts are punctuated and cased):
a sentence ends at `.`, `!`, `?` or `…` followed by whitespace and a capital letter,
digit or opening quote. Requiring the capital keeps "e.g. this" and "3.5 inches"
in one sentence.
"""

from __future__ import annotations

import re

_SENTENCE_BREAK = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

# Function words carry no topic; without removing them every sentence looks alike.
STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because
    been before being below between both but by can can't cannot could couldn't did didn't
    do does doesn't doing don't down during each even few for from further get gets getting
    got had hadn't has hasn't have haven't having he he'd he'll he's her here here's hers
    herself him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its
    itself just kind know let's like lot lots me more most mustn't my myself no nor not now
    of off okay on once one only or other ought our ours ourselves out over own really right
    same say says shan't she she'd she'll she's should shouldn't so some such than that
    that's the their theirs them themselves then there there's these they they'd they'll
    they're they've thing things think this those through to too under until up us very
    want was wasn't we we'd we'll we're we've well were weren't what what's when when's
    where where's which while who who's whom why why's will with won't would wouldn't yeah
    yes you you'd you'll you're you've your yours yourself yourselves going gonna actually
    """.split()
)


def split_sentences(text: str) -> list[str]:
    """Split text into sentences, whitespace-normalized, dropping empty pieces."""
    normalized = " ".join(text.split())
    if not normalized:
        return []
    return [piece.strip() for piece in _SENTENCE_BREAK.split(normalized) if piece.strip()]


def content_words(text: str) -> list[str]:
    """Lower-cased words of three or more letters that are not stopwords, in order."""
    return [word for word in _WORD.findall(text.lower()) if len(word) >= 3 and word not in STOPWORDS]
