"""The embedder, chapter windows and timed sentences give what their straightforward forms give.

Each reference below is the plain way to compute the same thing (WordLlama's own
`embed` on every text, windows embedded as joined strings, sentences built word
object by word object); the shared functions the assets and `load_corpus` call
must agree with them on messy transcripts and on benchmark-shaped videos.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
import wordllama
from tokenizers import Tokenizer
from wordllama import WordLlama

from benchmarks.search_scale.corpus import Vocabulary, documents
from pipeline.chapters import boundary_similarities, segment_chapters
from pipeline.embeddings import WordLlamaEmbedder, WordTokens, normalize
from pipeline.samples import TOPIC_SCRIPTS
from pipeline.sentences import timed_sentences, to_milliseconds
from pipeline.summarization import split_sentences
from pipeline.text import TimedSegment, TimedWord

Embed = Callable[[list[str]], np.ndarray]


@pytest.fixture(scope="module")
def embedder() -> WordLlamaEmbedder:
    return WordLlamaEmbedder()


@pytest.fixture(scope="module")
def reference_embed() -> Embed:
    """WordLlama's own embedding of each text, tokenized whole."""
    model = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    return lambda texts: normalize(model.embed(list(texts), norm=True))


def reference_boundary_similarities(segments: Sequence[TimedSegment], embed: Embed, window: float) -> np.ndarray:
    lefts, rights = [], []
    for i in range(1, len(segments)):
        t = segments[i].start
        lefts.append(" ".join([s.text for s in segments[:i] if s.start >= t - window] or [segments[i - 1].text]))
        rights.append(" ".join([s.text for s in segments[i:] if s.start < t + window] or [segments[i].text]))
    vectors = embed(lefts + rights)
    return np.einsum("ij,ij->i", vectors[: len(lefts)], vectors[len(lefts) :])


def reference_timed_sentences(segments: Sequence[TimedSegment], max_seconds: float = 15.0) -> list[TimedSegment]:
    words: list[TimedWord] = []
    for segment in segments:
        own = list(segment.words)
        if not own and segment.text.split():
            tokens, offsets, position = segment.text.split(), [], 0
            for token in tokens:
                position = segment.text.index(token, position)
                offsets.append(position)
                position += len(token)
            span, length = segment.end - segment.start, max(len(segment.text), 1)
            starts = [segment.start + span * offset / length for offset in offsets]
            own = [
                TimedWord(round(a, 3), round(b, 3), token)
                for a, b, token in zip(starts, [*starts[1:], segment.end], tokens, strict=True)
            ]
        words += [TimedWord(w.start, w.end, token) for w in own for token in w.text.split()]
    spans, position = [], 0
    for sentence in split_sentences(" ".join(w.text for w in words)):
        spans.append(words[position : position + len(sentence.split())])
        position += len(sentence.split())
    if position < len(words):
        spans.append(words[position:])
    sentences = []
    for span in spans:
        piece: list[TimedWord] = []
        for word in span:
            if piece and word.end - piece[0].start > max_seconds:
                sentences.append(
                    TimedSegment(piece[0].start, max(piece[-1].end, piece[0].start), " ".join(w.text for w in piece))
                )
                piece = []
            piece.append(word)
        if piece:
            sentences.append(TimedSegment(piece[0].start, max(piece[-1].end, piece[0].start), " ".join(w.text for w in piece)))
    return sentences


def messy_transcript(seed: int) -> list[TimedSegment]:
    """Speech as recognisers and imports write it: stray and double spaces, empty segments, numbers,
    accents, other scripts, tabs and newlines, word timestamps (one word holding a space), an
    unpunctuated minute, and starts not quite in order."""
    rng = random.Random(seed)
    sentences = [s for script in TOPIC_SCRIPTS for s in split_sentences(script)]
    segments, t = [], 0.0
    for sentence in sentences:
        words = sentence.split()
        if rng.random() < 0.4:
            words[rng.randrange(len(words))] += rng.choice([",", " 1999", "  café", "\n", "\tx", " 東京", " U.S.", " 😀"])
        text = rng.choice(["", "", "", " ", "  "]) + " ".join(words) + rng.choice(["", "", "", " ", "  "])
        duration = rng.uniform(2.0, 8.0)
        segments.append(TimedSegment(round(t, 2), round(t + duration, 2), text))
        t += duration + rng.uniform(0.0, 1.0)
    timed_words = (TimedWord(t, t + 0.4, "Mr. Smith"), TimedWord(t + 0.4, t + 0.9, "said"), TimedWord(t + 0.9, t + 1.5, "so."))
    segments.append(TimedSegment(t, t + 1.5, "Mr. Smith said so.", timed_words))
    segments.append(TimedSegment(t + 2, t + 2.5, "   "))
    segments.append(TimedSegment(t + 3, t + 63, " ".join(["and then the lava kept moving"] * 25)))
    k = rng.randrange(1, len(segments) - 4)
    segments[k], segments[k + 1] = segments[k + 1], segments[k]
    return segments


@pytest.fixture(scope="module")
def benchmark_videos(embedder: WordLlamaEmbedder) -> list[list[TimedSegment]]:
    return [list(video.segments) for video in documents(3, Vocabulary.build(embedder))]


def test_the_embedder_gives_wordllamas_own_vectors_bit_for_bit(
    embedder: WordLlamaEmbedder, reference_embed: Embed, benchmark_videos: list[list[TimedSegment]]
) -> None:
    texts = [s.text for segments in [messy_transcript(seed) for seed in range(3)] + benchmark_videos for s in segments]
    texts += ["", " ", "a  b", " leading", "trailing ", "line\nbreak", "tab\there", "Ünïcödé 東京 😀 3.14"]
    assert len(texts) > 256  # more than one pooling batch
    assert np.array_equal(embedder.embed(texts), reference_embed(texts), equal_nan=True)  # "" is NaN in both
    assert np.array_equal(embedder.embed(texts[:5]), reference_embed(texts[:5]))  # words already known


def test_chapter_windows_and_boundaries_match_embedding_each_joined_window(
    embedder: WordLlamaEmbedder, reference_embed: Embed, benchmark_videos: list[list[TimedSegment]]
) -> None:
    videos = [messy_transcript(seed) for seed in range(3)] + benchmark_videos
    for segments in videos:
        spoken = [s for s in segments if s.text.strip()]
        for window in (8.0, 15.0, 40.0):
            fast = boundary_similarities(spoken, embedder.embed, window)
            reference = reference_boundary_similarities(spoken, reference_embed, window)
            # Windows are summed from their segments' sums in float64: equal but for float32 rounding.
            assert np.allclose(fast, reference, rtol=0, atol=1e-6), window
            # Any other embedder is given the joined windows: the very vectors.
            assert np.array_equal(boundary_similarities(spoken, reference_embed, window), reference)
        chapters = segment_chapters(segments, embedder.embed)
        assert len(chapters) > 1
        assert [(c.start, c.end) for c in chapters] == [(c.start, c.end) for c in segment_chapters(segments, reference_embed)]


def test_timed_sentences_match_building_them_word_by_word(benchmark_videos: list[list[TimedSegment]]) -> None:
    for segments in [messy_transcript(seed) for seed in range(3)] + benchmark_videos:
        for max_seconds in (15.0, 4.0):
            assert timed_sentences(segments, max_seconds) == reference_timed_sentences(segments, max_seconds)
    assert any(len(s.text.split()) == 1 for s in timed_sentences(messy_transcript(0), 0.1))  # cut word by word


def test_milliseconds_are_pythons_own_rounding_ties_included() -> None:
    # Steps of half a millisecond put every other value on a tie (or a hair off one, in binary).
    values = np.concatenate([np.arange(0, 50, 0.0005), np.random.default_rng(3).uniform(-10, 5000, 200_000), [1e7 + 0.0005]])
    assert to_milliseconds(values) == [round(v, 3) for v in values.tolist()]


def test_words_are_tokenized_alone_only_where_no_token_spans_two(embedder: WordLlamaEmbedder) -> None:
    own = json.loads(WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True).tokenizer.to_str())
    assert WordTokens.of(Tokenizer.from_str(json.dumps(own))) is not None
    spanning = json.loads(json.dumps(own))
    spanning["model"]["vocab"]["a\u2581b"] = len(spanning["model"]["vocab"])  # a token across a space
    assert WordTokens.of(Tokenizer.from_str(json.dumps(spanning))) is None
    split_first = {**own, "pre_tokenizer": {"type": "Whitespace"}}
    assert WordTokens.of(Tokenizer.from_str(json.dumps(split_first))) is None
