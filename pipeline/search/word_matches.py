"""Where a query's words occur in a text, matched as the index matches them, for a page's hits only.

The index analyzes words (split at anything not a letter or digit, lower case,
a stemmer): "planning" matches "plans". Running a hit's whole text through the
analyzer again (Tantivy's snippet generator does) costs about a millisecond per
1,500-word transcript, most of a page's time. Instead each whitespace-separated
chunk of text ("Plans," "time.") is analyzed once per process and remembered
under the tokens it yields; a text's matches are then found with `str.find`
for each chunk the query's tokens know (in C; a text already seen is not even
split again).
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

Analyze = Callable[[str], list[str]]
_Part = tuple[int, int, tuple[str, ...]]  # a token's offsets inside its chunk, and what it analyzes to


class AnalyzedWords:
    """One analyzer's tokens for every chunk of text it has seen in this process (bounded).

    It lives as long as the process, so the many small containers it keeps per token are tuples of strings,
    which Python's cycle collector stops walking, not sets: 33,000 sets and frozensets here made every full
    collection of an API worker slower as they grew (benchmarks/README.md, `search_scale`).
    """

    def __init__(self, analyze: Analyze, capacity: int = CAPACITY) -> None:
        self.analyze = analyze
        self._capacity = capacity
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

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) character offsets of every matching word in `text`, in order."""
        if not text or not self.tokens:
            return []
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


def marked(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """`text` with each span between MARK_START and MARK_END."""
    out, last = [], 0
    for start, end in spans:
        out += [text[last:start], MARK_START, text[start:end], MARK_END]
        last = end
    out.append(text[last:])
    return "".join(out)
