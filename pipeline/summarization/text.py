"""Sentence splitting and content words: the one place every summarization module uses.

The splitter is deliberately simple (Whisper transcripts are punctuated and cased):
a sentence ends at `.`, `!`, `?` or `…` followed by whitespace and a capital letter,
digit or opening quote. Requiring the capital keeps "e.g. this" and "3.5 inches"
in one sentence.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pipeline import languages

# Capitals of the Latin, Greek and Cyrillic alphabets (and digits) start a sentence; Spanish may open it with ¿ or ¡.
_CAPITAL = "A-Z0-9À-ÖØ-ÞŒŠŽΑ-ΩА-ЯЁ"
_SENTENCE_BREAK = re.compile(rf"(?<=[.!?…])[\"'”’»)\]]*\s+(?=[\"'“‘«(\[¿¡]?[{_CAPITAL}])")
# A word: letters and digits of any alphabet; English keeps its contractions ("don't") whole, other languages
# split at the apostrophe (French "l'éruption" is "l" and "éruption").
_WORD = re.compile(r"[^\W_]+")
_ENGLISH_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")

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


@lru_cache
def stopwords(language: str | None) -> frozenset[str]:
    """The function words of `language` (English when unknown): STOPWORDS for English, the `stop-words`
    package's list for the others it has; none for the rest."""
    code = languages.analysis_language(language)
    if code == "en":
        return STOPWORDS
    from stop_words import LANGUAGE_MAPPING, get_stop_words

    return frozenset(get_stop_words(code)) if code in LANGUAGE_MAPPING else frozenset()


def content_words(text: str, language: str | None = None) -> list[str]:
    """Lower-cased words of three or more letters that are not stopwords of `language`, in order."""
    stop = stopwords(language)
    pattern = _ENGLISH_WORD if languages.analysis_language(language) == "en" else _WORD
    return [word for word in pattern.findall(text.lower()) if len(word) >= 3 and word not in stop]
