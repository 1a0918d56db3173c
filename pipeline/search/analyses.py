"""Which copy of a video's text fields a search engine analyses the video's words in.

Every language the engine stems has its own copy of the text fields (English keeps the plain field names), the
other languages share one copy that is not stemmed. Each copy has its own term statistics, so the words of one
language never weigh in the ranking of another's, and a query is analysed each copy's way against that copy only.
"""

from __future__ import annotations

from collections.abc import Collection

from pipeline import languages

UNSTEMMED = "unstemmed"


def analyses(stemmed: Collection[str] = languages.STEMMED) -> tuple[str, ...]:
    """Every copy an engine that stems the languages `stemmed` keeps: English first, the unstemmed one last."""
    return ("en", *sorted(set(stemmed) - {"en"}), UNSTEMMED)


def analysis_of(language: str | None, stemmed: Collection[str] = languages.STEMMED) -> str:
    """The copy a video in `language` is indexed in (and searched through) by an engine that stems `stemmed`."""
    code = languages.analysis_language(language)
    return code if code in stemmed else UNSTEMMED


def field_name(field: str, analysis: str) -> str:
    return field if analysis == "en" else f"{field}_{analysis}"
