"""Cut a timed transcript into chunks of about `max_tokens` tokens for the map step.

Tokens are counted offline with bpe-openai's `cl100k_base` (the same ids as tiktoken,
no download). Counting happens per piece, never on the whole transcript: the library
refuses very long strings. Pieces are joined with single spaces; cl100k's
pre-tokenizer never merges across "<text> <text>" when both are whitespace-normalized,
so a chunk's token count is the sum of its pieces' counts (each non-first piece
counted with its leading space).

Chunks are cut at segment boundaries. A segment longer than the budget on its own is
split at sentence, then word boundaries (a single word longer than the budget, which
only tiny test budgets meet, is cut by characters), and its time range is shared out
in proportion to characters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from pipeline.settings import SummarizationSettings
from pipeline.summarization.text import split_sentences
from pipeline.text import TimedSegment

DEFAULT_CHUNK_TOKENS: int = SummarizationSettings.model_fields["chunk_tokens"].default
ENCODING_NAME = "cl100k_base"


@dataclass(frozen=True)
class TranscriptChunk:
    position: int  # 0-based order in the transcript
    text: str
    token_count: int
    start: float  # seconds
    end: float


@dataclass(frozen=True)
class _Piece:
    text: str
    start: float
    end: float
    tokens: int  # counted alone (first in a chunk)
    tokens_after_space: int  # counted as " " + text (any later position)


@lru_cache(maxsize=1)
def _encoding():
    # Imported on first use: loading it takes ~1 s, and most processes that import
    # this module (the daemon, the code server, the API) never count a token.
    import bpe_openai

    return bpe_openai.get_encoding(ENCODING_NAME)


def count_tokens(text: str) -> int:
    """cl100k_base token count of a piece of text (keep pieces modest in size)."""
    return len(_encoding().encode(text))


def chunk_segments(segments: Sequence[TimedSegment], max_tokens: int = DEFAULT_CHUNK_TOKENS) -> list[TranscriptChunk]:
    """Group consecutive segments into chunks of at most `max_tokens` tokens."""
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    chunks: list[TranscriptChunk] = []
    current: list[_Piece] = []
    current_tokens = 0
    for piece in _pieces(segments, max_tokens):
        if current and current_tokens + piece.tokens_after_space > max_tokens:
            chunks.append(_make_chunk(len(chunks), current, current_tokens))
            current, current_tokens = [], 0
        current_tokens += piece.tokens_after_space if current else piece.tokens
        current.append(piece)
    if current:
        chunks.append(_make_chunk(len(chunks), current, current_tokens))
    return chunks


def _make_chunk(position: int, pieces: list[_Piece], tokens: int) -> TranscriptChunk:
    return TranscriptChunk(
        position=position,
        text=" ".join(piece.text for piece in pieces),
        token_count=tokens,
        start=pieces[0].start,
        end=pieces[-1].end,
    )


def _piece(text: str, start: float, end: float) -> _Piece:
    return _Piece(text, start, end, count_tokens(text), count_tokens(" " + text))


def _pieces(segments: Sequence[TimedSegment], max_tokens: int):
    """Each segment as one piece, or as several when it alone exceeds the budget."""
    for segment in segments:
        text = " ".join(segment.text.split())
        if not text:
            continue
        whole = _piece(text, segment.start, segment.end)
        if max(whole.tokens, whole.tokens_after_space) <= max_tokens:
            yield whole
            continue
        parts = _split_to_budget(text, max_tokens)
        yield from _timed_parts(parts, segment.start, segment.end)


def _split_to_budget(text: str, max_tokens: int) -> list[str]:
    """Pack sentences (then words, then characters) greedily into parts within budget."""
    parts: list[str] = []
    for unit in _units(text, max_tokens):
        candidate = f"{parts[-1]} {unit}" if parts else unit
        if parts and _fits(candidate, max_tokens):
            parts[-1] = candidate
        else:
            parts.append(unit)
    return parts


def _units(text: str, max_tokens: int):
    """Sentences that fit the budget; longer ones broken into words, then characters."""
    for sentence in split_sentences(text):
        if _fits(sentence, max_tokens):
            yield sentence
            continue
        for word in sentence.split():
            if _fits(word, max_tokens):
                yield word
            else:
                yield from _split_characters(word, max_tokens)


def _fits(text: str, max_tokens: int) -> bool:
    # Either form may be longer: "jumps" is two tokens where " jumps" is one.
    return max(count_tokens(text), count_tokens(" " + text)) <= max_tokens


def _split_characters(word: str, max_tokens: int):
    start = 0
    while start < len(word):
        end = start + 1
        while end < len(word) and _fits(word[start : end + 1], max_tokens):
            end += 1
        yield word[start:end]
        start = end


def _timed_parts(parts: list[str], start: float, end: float):
    """Share [start, end] among parts in proportion to their length in characters."""
    total = sum(len(part) for part in parts)
    elapsed = 0
    for part in parts:
        part_start = start + (end - start) * elapsed / total
        elapsed += len(part)
        part_end = start + (end - start) * elapsed / total
        yield _piece(part, round(part_start, 3), round(part_end, 3))
