from __future__ import annotations

import itertools

import bpe_openai
import pytest

from pipeline.summarization import DEFAULT_CHUNK_TOKENS, chunk_segments, split_sentences
from pipeline.text import TimedSegment

CL100K = bpe_openai.get_encoding("cl100k_base")


def test_no_segments_no_chunks():
    assert chunk_segments([], 100) == []
    assert chunk_segments([TimedSegment(0.0, 1.0, "   ")], 100) == []


def test_default_budget_comes_from_settings(talk):
    assert DEFAULT_CHUNK_TOKENS == 8000
    chunks = chunk_segments(talk)
    assert len(chunks) == 1
    assert (chunks[0].start, chunks[0].end) == (talk[0].start, talk[-1].end)


def test_chunks_respect_the_budget_and_keep_all_text_in_order(talk):
    chunks = chunk_segments(talk, 60)
    assert len(chunks) > 5
    assert all(chunk.token_count <= 60 for chunk in chunks)
    assert [chunk.position for chunk in chunks] == list(range(len(chunks)))
    assert " ".join(chunk.text for chunk in chunks) == " ".join(segment.text for segment in talk)


def test_token_counts_match_bpe_openai(talk):
    for chunk in chunk_segments(talk, 60):
        assert chunk.token_count == len(CL100K.encode(chunk.text))


def test_chunks_are_cut_at_segment_boundaries_and_carry_their_timestamps(talk):
    chunks = chunk_segments(talk, 60)
    starts = {segment.start for segment in talk}
    ends = {segment.end for segment in talk}
    assert all(chunk.start in starts and chunk.end in ends for chunk in chunks)
    assert chunks[0].start == talk[0].start and chunks[-1].end == talk[-1].end
    # A chunk holds whole segments, so its text starts and ends where a segment does.
    segment_texts = [segment.text for segment in talk]
    for chunk in chunks:
        first = next(s for s in talk if s.start == chunk.start)
        assert chunk.text.startswith(first.text)
        assert any(chunk.text.endswith(text) for text in segment_texts)


def test_an_oversize_segment_is_split_at_sentence_boundaries():
    sentences = [f"Sentence number {n} explains one more detail about the compost pile." for n in range(8)]
    segment = TimedSegment(10.0, 50.0, " ".join(sentences))
    chunks = chunk_segments([segment], 35)

    assert len(chunks) > 1
    assert all(chunk.token_count <= 35 for chunk in chunks)
    # Every chunk is made of whole sentences of the segment.
    assert [s for chunk in chunks for s in split_sentences(chunk.text)] == sentences
    # Time is shared out within the segment, in order, without gaps.
    assert chunks[0].start == 10.0 and chunks[-1].end == 50.0
    for before, after in itertools.pairwise(chunks):
        assert before.start < before.end == after.start


def test_an_oversize_sentence_is_split_at_word_boundaries():
    sentence = "the quick brown fox jumps over the lazy dog " * 6
    chunks = chunk_segments([TimedSegment(0.0, 6.0, sentence)], 8)

    assert len(chunks) > 1
    assert all(chunk.token_count <= 8 for chunk in chunks)
    assert " ".join(chunk.text for chunk in chunks) == " ".join(sentence.split())
    assert all(word in sentence.split() for chunk in chunks for word in chunk.text.split())


@pytest.mark.parametrize("budget", [0, -5])
def test_a_budget_below_one_token_is_refused(talk, budget):
    with pytest.raises(ValueError, match="max_tokens"):
        chunk_segments(talk, budget)
