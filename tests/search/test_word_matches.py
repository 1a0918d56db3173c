"""Matches found for a page's hits are the words Tantivy itself highlights, in every form and punctuation."""

from __future__ import annotations

import json

import pytest
import tantivy

from pipeline.search.analyses import UNSTEMMED
from pipeline.search.tantivy_index import _WORDS, ANALYZERS, SCHEMA, _text_query, register_analyzers
from pipeline.search.terms import query_terms
from pipeline.search.word_matches import AnalyzedWords, marked

TEXTS = (
    "Plans were made. The planner planned, and planning took time; times change, sometimes.",
    "E-mail me: the e-mails (about timing) arrive on time, every TIME.",
    "Naïve café owners say «déjà vu» — the cafés' owner's naïveté.",
    "x" * 45 + " long words are dropped, as the index drops them: " + "y" * 45,
    "",
)
QUERIES = ("plan", "planning times", "email mail", "time", "cafe naive", "owner", "long " + "x" * 45, "dropped index")


def _tantivy_spans(text: str, query: str) -> list[tuple[int, int]]:
    """What Tantivy's own snippet generator highlights in `text` (its byte ranges as character offsets)."""
    index = register_analyzers(tantivy.Index(SCHEMA))
    writer = index.writer(heap_size=15_000_000, num_threads=1)
    document = tantivy.Document()
    document.add_integer("video_id", 1)
    document.add_text("transcript", text)
    writer.add_document(document)
    writer.commit()
    index.reload()
    text_query = _text_query(query_terms(query), ["en"])
    assert text_query is not None
    generator = tantivy.SnippetGenerator.create(index.searcher(), text_query, SCHEMA, "transcript")
    generator.set_max_num_chars(len(text.encode()) + 1)
    data = text.encode()
    return sorted(
        (len(data[: r.start].decode()), len(data[: r.end].decode())) for r in generator.snippet_from_doc(document).highlighted()
    )


def _span(text: str, word: str) -> tuple[int, int]:
    start = text.index(word)
    return start, start + len(word.strip())


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("text", TEXTS)
def test_the_words_matched_are_those_tantivy_highlights(text: str, query: str):
    assert _WORDS["en"].matcher(query_terms(query)).spans(text) == _tantivy_spans(text, query)


def test_a_form_never_seen_before_is_analyzed_and_then_remembered():
    seen: list[str] = []

    def analyze(word: str) -> list[str]:
        seen.append(word)
        return ANALYZERS["en"].analyze(word)

    words = AnalyzedWords(analyze)
    matcher = words.matcher(["walk"])
    assert matcher.spans("She walked; he walks.") == [
        _span("She walked; he walks.", "walked"),
        _span("She walked; he walks.", "walks"),
    ]
    analyzed = len(seen)
    assert matcher.spans("he walks. She walked;") == [
        _span("he walks. She walked;", "walks"),
        _span("he walks. She walked;", "walked"),
    ]
    assert len(seen) == analyzed  # every chunk known: nothing analyzed again


def test_when_full_it_starts_again_and_still_matches():
    words = AnalyzedWords(ANALYZERS["en"].analyze, capacity=3)
    matcher = words.matcher(["river"])
    for _ in range(2):
        text = "the long river bends and rivers meet the sea"
        assert matcher.spans(text) == [_span(text, "river "), _span(text, "rivers")]


def test_marked_puts_marks_around_each_span():
    text = "rivers meet"
    assert json.dumps(marked(text, [(0, 6)])) == json.dumps("\ue000rivers\ue001 meet")


@pytest.mark.parametrize("analysis", sorted(analysis for analysis, words in _WORDS.items() if words.first_letters))
def test_every_common_word_begins_as_its_token_does(analysis: str):
    """The first-letters search finds a word only where its token begins as it does: checked on the language's
    20,000 commonest ASCII words (wordfreq)."""
    from wordfreq import top_n_list

    letters = _WORDS[analysis].first_letters
    language = "en" if analysis == UNSTEMMED else analysis
    words = [w for w in top_n_list("nb" if language == "no" else language, 40_000) if w.isascii() and w.isalnum()][:20_000]
    misses = [
        (word, token)
        for word in words
        for token in ANALYZERS[analysis].analyze(word)
        if not word.lower().replace("y", "i").startswith(token[:letters].replace("y", "i"))
    ]
    assert misses == []


def test_an_ascii_text_is_matched_by_first_letters_as_by_its_chunks():
    """The same spans as splitting the text, on a text with every kind of separator, digits and case."""
    text = "Dying\tdyed; TIMES,\ntimer-time 2024's timing_time (time) Ab ab a\x1fabc"
    by_chunks = AnalyzedWords(ANALYZERS["en"].analyze)
    by_letters = AnalyzedWords(ANALYZERS["en"].analyze, first_letters=2)
    for query in ("die", "time", "2024", "a ab", "abc"):
        expected = by_chunks.matcher(query_terms(query)).spans(text)
        assert expected, query
        assert by_letters.matcher(query_terms(query)).spans(text) == expected, query
