"""Where a query's words occur in a text, matched as the index matches them, for a page's hits only.

The index analyzes words (split at anything not a letter or digit, lower case,
a stemmer): "planning" matches "plans". Running a hit's whole text through the
analyzer again (Tantivy's snippet generator does) costs about a millisecond per
1,500-word transcript, most of a page's time. Instead each whitespace-separated
chunk of text ("Plans," "time.") is analyzed once per process and remembered
under the tokens it yields; a text's matches are then found with `str.find`
for each chunk the query's tokens know (in C; a text already seen is not even
split again).

Splitting a text seen for the first time is most of a page's cost (~0.6 ms a
10-minute transcript). Where the analysis's stemmer keeps a word's first
letters (`first_letters`), an ASCII text is not split: only the words that
begin as the query's tokens do are found (`str.find` on a copy of the text in
lower case with every other character a space) and analyzed, ~0.05-0.2 ms.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable

from pipeline.search.highlight import MARK_END, MARK_START

# Letters and digits: the tokens of Tantivy's simple tokenizer (alphanumeric runs).
_WORD = re.compile(r"[^\W_]+")
# Chunks remembered per analyzer; beyond this it starts again (a corpus's vocabulary rarely reaches it).
CAPACITY = 500_000
# An ASCII text in lower case as the first-letters search reads it: a letter or digit stays, anything else is a
# space (so every token starts after one), and "y" reads as "i" (English stems "dying" to "die").
_FIRST_LETTERS_VIEW = str.maketrans({**{chr(c): " " for c in range(128) if not (chr(c).islower() or chr(c).isdigit())}, "y": "i"})

Analyze = Callable[[str], list[str]]
_Part = tuple[int, int, tuple[str, ...]]  # a token's offsets inside its chunk, and what it analyzes to


class AnalyzedWords:
    """One analyzer's tokens for every chunk of text it has seen in this process (bounded).

    It lives as long as the process, so the many small containers it keeps per token are tuples of strings,
    which Python's cycle collector stops walking, not sets: 33,000 sets and frozensets here made every full
    collection of an API worker slower as they grew (benchmarks/README.md, `search_scale`).
    """

    def __init__(self, analyze: Analyze, capacity: int = CAPACITY, first_letters: int = 0) -> None:
        """`first_letters`: how many first letters every ASCII word shares with the tokens it analyzes to (0: no
        such rule, every text is split)."""
        self.analyze = analyze
        self.first_letters = first_letters
        self._capacity = capacity
        self._word_tokens: dict[str, tuple[str, ...]] = {}  # an ASCII word's tokens, for the first-letters search
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        self._texts: set[int] = set()  # hashes of the texts whose every chunk is in _seen
        self._chunks_by_token: dict[str, tuple[str, ...]] = {}
        # Chunks that are not a single token ("time," "don't"): where their tokens lie.
        self._parts: dict[str, tuple[_Part, ...]] = {}

    def matcher(self, terms: Iterable[str]) -> WordMatcher:
        return WordMatcher(self, frozenset(token for term in terms for token in self.analyze(term)))

    def forms_of(self, text: str, tokens: frozenset[str]) -> tuple[set[str], dict[str, tuple[_Part, ...]]]:
        """Every chunk known to hold one of `tokens` (each of `text`'s chunks is known once this returns), and
        where the token lies in those that are not one token."""
        with self._lock:
            # A text seen before (by its hash: texts are read again on every page that shows them) is not split.
            key = hash(text)
            chunks = None
            if key not in self._texts:
                chunks = set(text.split())
                unknown = chunks - self._seen
                if len(self._seen) + len(unknown) > self._capacity:
                    self._seen.clear()
                    self._texts.clear()
                    self._chunks_by_token.clear()
                    self._parts.clear()
                    unknown = chunks
                for chunk in unknown:
                    self._learn(chunk)
                self._seen |= unknown
                self._texts.add(key)
            forms = set().union(*(self._chunks_by_token.get(token, ()) for token in tokens))
            if chunks is not None:  # split just now: only the forms it says are looked for
                forms &= chunks
            return forms, {form: self._parts[form] for form in forms if form in self._parts}

    def tokens_of(self, word: str) -> tuple[str, ...]:
        tokens = self._word_tokens.get(word)
        if tokens is None:
            if len(self._word_tokens) >= self._capacity:
                self._word_tokens = {}  # a new dict: a thread still reading the old one keeps it whole
            tokens = self._word_tokens[word] = tuple(self.analyze(word))
        return tokens

    def _learn(self, chunk: str) -> None:
        if chunk.isalnum():  # one word, most chunks: no parts to find (`_WORD` matches exactly these characters)
            for token in self.analyze(chunk):
                self._add(token, chunk)
            return
        parts = tuple((m.start(), m.end(), tuple(self.analyze(m.group()))) for m in _WORD.finditer(chunk))
        for _, _, tokens in parts:
            for token in tokens:
                self._add(token, chunk)
        if not (len(parts) == 1 and parts[0][:2] == (0, len(chunk))):
            self._parts[chunk] = parts

    def _add(self, token: str, chunk: str) -> None:
        # A token has a few chunks ("plan": "plan", "plans", "Plans,"): a new tuple per chunk costs little.
        chunks = self._chunks_by_token.get(token, ())
        if chunk not in chunks:
            self._chunks_by_token[token] = (*chunks, chunk)


class WordMatcher:
    """Finds the words of a text whose analyzed tokens are among a query's tokens."""

    def __init__(self, words: AnalyzedWords, tokens: frozenset[str]) -> None:
        self._words = words
        self.tokens = tokens
        # What the words of an ASCII text that analyze to the tokens begin with (after a space, in the view).
        self._starts = (
            sorted({" " + token[: words.first_letters].translate(_FIRST_LETTERS_VIEW) for token in tokens if token.isascii()})
            if words.first_letters
            else None
        )

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) character offsets of every matching word in `text`, in order."""
        if not text or not self.tokens:
            return []
        if self._starts is not None and text.isascii():
            return self._spans_by_first_letters(text)
        forms, parts = self._words.forms_of(text, self.tokens)
        spans: list[tuple[int, int]] = []
        for chunk in forms:
            start = text.find(chunk)
            while start != -1:
                end = start + len(chunk)
                if (start == 0 or text[start - 1].isspace()) and (end == len(text) or text[end].isspace()):
                    if chunk in parts:
                        spans += [(start + a, start + b) for a, b, tokens in parts[chunk] if not self.tokens.isdisjoint(tokens)]
                    else:
                        spans.append((start, end))
                start = text.find(chunk, end)
        return sorted(spans)

    def _spans_by_first_letters(self, text: str) -> list[tuple[int, int]]:
        assert self._starts is not None
        view = " " + text.lower().translate(_FIRST_LETTERS_VIEW)  # view[i + 1] is text[i]
        spans = set()  # a start that begins with another ("a", "ab") finds its words again
        for start in self._starts:
            at = view.find(start)
            while at != -1:
                end = view.find(" ", at + 1)
                end = len(view) if end == -1 else end
                if not self.tokens.isdisjoint(self._words.tokens_of(text[at : end - 1])):
                    spans.add((at, end - 1))
                at = view.find(start, end)
        return sorted(spans)


def marked(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """`text` with each span between MARK_START and MARK_END."""
    out, last = [], 0
    for start, end in spans:
        out += [text[last:start], MARK_START, text[start:end], MARK_END]
        last = end
    out.append(text[last:])
    return "".join(out)
