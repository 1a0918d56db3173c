"""What a question asks beyond its subject, and how much of it a sentence says.

A question names its subject and asks something about it: "How long is the
Kestrel bridge?" is about the Kestrel bridge and asks how long. A sentence about
the same subject that says nothing of what is asked ("The Kestrel bridge was
painted green") shares the question's rarest words, yet does not answer it.

- The subject: the names the question asks about (or, in a question typed
  without capitals, the rarest of its words that the sentence says), with the
  words around each that the question and the sentence both say around it, in
  the same order: what both call the thing ("the Kestrel bridge", "Doctor
  Alvarez"; not "find" in "Which creature did Doctor Alvarez find?" of a
  sentence saying "Doctor Alvarez discovered...").
  The thing the subject owns is the subject too ("the Brisca quartet's album").
- What is asked: the question's other content words, and its answer type where
  the question word gives one: "how" and the word after it asks for a quantity
  ("how many", "how much"), of that word's kind ("how long", "how old": the
  sentence says a number and the word, or a word close to it), "when" (as the
  question's first word) and
  "what/which year, month, day..." for a time, "what/which colour" for a colour.
  Verbs that carry little meaning of their own ("did it get", "makes up") ask
  for nothing.
- A sentence says an asked word when it says it in any form search finds, or a
  word close to it in meaning (`CLOSE` by the sentence embedder: "viewing" and
  "see", "kept" and "stored"); it gives an answer type when it says a word of
  that type: a number for a quantity, a number or a month, weekday, season or
  part of the day for a time, a colour for a colour.

`focus` is the share of the asked items a sentence says (1 when the question
asks nothing beyond its subject: nothing to check).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from pipeline.search.moments import said_terms, says
from pipeline.search.terms import STOP_WORDS, query_terms

# Cosine similarity (L2-normalized word vectors) from which two words count as saying the same thing.
CLOSE = 0.5

QUANTITY, TIME, COLOUR = "quantity", "time", "colour"

_WORD = re.compile(r"[^\W_]+")
_POSSESSIVE = re.compile(r"['’]s\b")
_OWNED = re.compile(r"([^\W_]+)['’]s\s+([^\W_]+)")  # an owner, and its thing
_DIGITS = re.compile(r"\d")
NUMBER_WORDS = frozenset(
    """
zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen
eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred hundreds thousand thousands million
millions billion billions trillion dozen dozens half once twice
""".split()
)
TIME_WORDS = frozenset(
    """
january february march april may june july august september october november december monday tuesday wednesday
thursday friday saturday sunday spring summer autumn fall winter morning afternoon evening night noon midnight
dawn dusk today yesterday tomorrow tonight weekend ago
""".split()
)
COLOUR_WORDS = frozenset(
    """
red orange yellow green blue purple violet pink brown black white grey gray gold golden silver crimson scarlet
maroon turquoise teal navy beige ivory cream indigo magenta cyan olive amber lilac lavender bronze copper tan
khaki emerald ruby
""".split()
)
# Nouns after "what" or "which" that ask for an answer of a type.
TYPED_NOUNS = {
    **dict.fromkeys(("year", "month", "day", "date", "time", "hour", "season", "century", "decade", "week"), TIME),
    **dict.fromkeys(("colour", "color", "hue", "shade"), COLOUR),
}
# "How many", "how much": a number is the answer, of whatever the question counts.
COUNTERS = frozenset(("many", "much"))
LIGHT_VERBS = frozenset(
    "get gets got make makes made take takes took go goes went come comes came give gives gave put puts".split()
)


@dataclass(frozen=True)
class Asked:
    """One thing a question asks: a word to be said (`kind` None), or an answer of a type (and its word, if the
    type alone does not say what is asked: "how old")."""

    word: str | None
    kind: str | None = None

    @property
    def to_be_said(self) -> str | None:
        """The word (or a word close to it) a sentence must say to answer this."""
        if self.kind is None or (self.kind == QUANTITY and self.word not in COUNTERS):
            return self.word
        return None


def words_of(text: str) -> list[str]:
    """The lower-case words of `text`, a possessive's "'s" left out ("Talbrook's pump": talbrook, pump)."""
    return _WORD.findall(_POSSESSIVE.sub("", text.lower()))


def subject_words(question: str, sentence: str, anchors: Collection[str]) -> set[str]:
    """The `anchors` (lower-case names) and the content words around each that `question` and `sentence` both
    say around it, in the same order (in any form search finds)."""
    in_question, in_sentence = words_of(question), words_of(sentence)
    subject = set(anchors)
    for i, word in enumerate(in_question):
        if word not in anchors:
            continue
        for j in (j for j, spoken in enumerate(in_sentence) if says(spoken, (word,))):
            for step in (-1, 1):
                k = 0
                while (
                    0 <= i + k < len(in_question)
                    and 0 <= j + k < len(in_sentence)
                    and says(in_sentence[j + k], (in_question[i + k],))
                ):
                    subject.add(in_question[i + k])
                    k += step
    subject |= {thing for owner, thing in _OWNED.findall(question.lower()) if owner in subject}
    return subject - STOP_WORDS


def asked(question: str, subject: Collection[str]) -> list[Asked]:
    """What `question` asks beyond its `subject` words: its answer types, then its other content words."""
    words = words_of(question)
    typed: list[Asked] = [Asked(None, TIME)] if words[:1] == ["when"] else []
    for word, following in pairwise(words):
        if following in subject or following in STOP_WORDS:
            continue
        if word == "how":
            typed.append(Asked(following, QUANTITY))
        elif word in ("what", "which") and following in TYPED_NOUNS:
            typed.append(Asked(following, TYPED_NOUNS[following]))
    typed_words = {item.word for item in typed}
    plain = [
        Asked(term)
        for term in query_terms(" ".join(words))
        if term not in subject and term not in typed_words and term not in LIGHT_VERBS
    ]
    return typed + plain


def gives(kind: str, words: Iterable[str]) -> bool:
    """Whether the lower-case `words` give an answer of `kind`."""
    for word in words:
        number = bool(_DIGITS.search(word)) or word in NUMBER_WORDS
        if (
            (kind == QUANTITY and number)
            or (kind == TIME and (number or word in TIME_WORDS))
            or (kind == COLOUR and word in COLOUR_WORDS)
        ):
            return True
    return False


def focus(items: Sequence[Asked], sentence: str, close: Collection[str]) -> float:
    """The share of `items` that `sentence` says; `close` holds the asked words it says in other words."""
    if not items:
        return 1.0
    words = words_of(sentence)
    literal = said_terms(words, [item.to_be_said for item in items if item.to_be_said])
    said = sum(
        (item.kind is None or gives(item.kind, words))
        and (item.to_be_said is None or item.to_be_said in literal or item.to_be_said in close)
        for item in items
    )
    return said / len(items)
