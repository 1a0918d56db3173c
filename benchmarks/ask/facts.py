"""Facts planted at known seconds in a generated archive, and the questions asked of it.

Each fact is one sentence of a template, about an invented name (so that it is
said nowhere else), spoken as one transcript segment of one video: its time is
that segment's. Each template has a question in the fact's words, a paraphrase
(other words for the same thing; the name kept, as people ask about named
things), and a question about the same subject that the fact does not answer.
Questions the archive cannot answer are of two kinds: about a name said nowhere
(`absent`), and about a planted name but asking what its fact does not say
(`unstated`). Every other question is typed in lower case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from pipeline.search.base import SearchDocument
from pipeline.text import TimedSegment

# (fact, question, paraphrase, unstated question); {n}: the invented name, {v}: the value the fact states.
TEMPLATES: tuple[tuple[str, str, str, str], ...] = (
    (
        "The {n} bridge was painted {v} last summer by the volunteers.",
        "What colour was the {n} bridge painted?",
        "Which hue did the {n} bridge get when it was redone?",
        "How long is the {n} bridge?",
    ),
    (
        "Doctor {n} discovered a new kind of {v} near the northern lake.",
        "What did Doctor {n} discover near the northern lake?",
        "Which creature did Doctor {n} find?",
        "Where did Doctor {n} go to university?",
    ),
    (
        "The {n} festival takes place every {v} in the old harbour.",
        "When does the {n} festival take place?",
        "In which month is the {n} festival held?",
        "How many visitors come to the {n} festival?",
    ),
    (
        "Our {n} soup recipe needs {v} grams of butter and a pinch of salt.",
        "How many grams of butter does the {n} soup recipe need?",
        "How much butter goes into the {n} soup?",
        "How long should the {n} soup simmer?",
    ),
    (
        "The {n} telescope can see galaxies {v} million light years away.",
        "How far can the {n} telescope see galaxies?",
        "What is the viewing range of the {n} telescope?",
        "Who paid for the {n} telescope?",
    ),
    (
        "Captain {n} sailed around the cape with a crew of {v} sailors.",
        "How many sailors sailed with Captain {n}?",
        "How big was the crew of Captain {n}?",
        "What was the name of the ship of Captain {n}?",
    ),
    (
        "The {n} battery lasts {v} hours on a single charge.",
        "How many hours does the {n} battery last on a single charge?",
        "What is the runtime of the {n} battery before recharging?",
        "How much does the {n} battery cost?",
    ),
    (
        "Professor {n} won the national chess championship in {v}.",
        "When did Professor {n} win the national chess championship?",
        "In what year did Professor {n} take the chess title?",
        "Who taught Professor {n} to play chess?",
    ),
    (
        "The {n} vaccine must be stored at minus {v} degrees.",
        "At what temperature must the {n} vaccine be stored?",
        "How cold does the {n} vaccine have to be kept?",
        "Who developed the {n} vaccine?",
    ),
    (
        "The {n} tower was built from {v} stone quarried in the valley.",
        "What stone was the {n} tower built from?",
        "Which material makes up the {n} tower?",
        "How tall is the {n} tower?",
    ),
)
VALUES: tuple[tuple[str, ...], ...] = (
    ("green", "orange", "purple", "yellow", "crimson", "turquoise"),
    ("beetle", "frog", "spider", "moth", "salamander", "snail"),
    ("january", "march", "may", "august", "october", "december"),
    ("forty", "sixty", "eighty", "ninety", "thirty", "seventy"),
    ("twelve", "fifty", "eighty", "three", "nine", "forty"),
    ("twelve", "twenty", "thirty", "nineteen", "fifteen", "eleven"),
    ("six", "eight", "ten", "twelve", "fourteen", "sixteen"),
    ("1987", "1992", "2001", "1975", "2010", "1968"),
    ("twenty", "seventy", "eighty", "thirty", "fifty", "forty"),
    ("granite", "limestone", "sandstone", "marble", "basalt", "slate"),
)
_ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "kl", "tr", "st", "gr")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ou")
_CODAS = ("", "n", "r", "l", "sk", "th", "m", "x")


@dataclass(frozen=True)
class Fact:
    template: int
    name: str
    value: str
    video_id: int
    start: float  # when its segment is said
    end: float

    @property
    def sentence(self) -> str:
        return TEMPLATES[self.template][0].format(n=self.name, v=self.value)


@dataclass(frozen=True)
class Question:
    text: str
    kind: str  # answerable | paraphrased | absent | unstated
    fact: Fact | None  # the fact that answers it; None when nothing does

    @property
    def answerable(self) -> bool:
        return self.fact is not None


def invented_names(count: int, rng: np.random.Generator, taken: set[str]) -> list[str]:
    """`count` distinct made-up names (three syllables), none of them in `taken` (the corpus's words)."""
    names: list[str] = []
    seen = set(taken)
    while len(names) < count:
        parts = [f"{rng.choice(_ONSETS)}{rng.choice(_VOWELS)}{rng.choice(_CODAS)}" for _ in range(3)]
        name = "".join(parts).capitalize()
        if name.lower() not in seen:
            seen.add(name.lower())
            names.append(name)
    return names


def plant(
    document_at: Callable[[int], SearchDocument], count: int, facts: int, seed: int, taken: set[str]
) -> list[tuple[SearchDocument, Fact]]:
    """`facts` facts, each said in its own video of the `count` (spread over the archive; `document_at(n)`: the
    n-th) as one of its segments, away from the start and end: the videos that got one, with it, and the fact.
    Only those videos are made, so planting into an archive of any size is quick."""
    rng = np.random.default_rng([seed, 22])
    names = invented_names(facts, rng, taken)
    step = max(1, count // facts)
    planted = []
    for i in range(facts):
        document = document_at((i * step + int(rng.integers(step))) % count)
        template = i % len(TEMPLATES)
        value = str(rng.choice(VALUES[template]))
        segments = list(document.segments)
        at = int(rng.integers(5, len(segments) - 5))
        fact = Fact(template, names[i], value, document.video_id, segments[at].start, segments[at].end)
        segments[at] = TimedSegment(segments[at].start, segments[at].end, fact.sentence)
        planted.append((replace(document, segments=tuple(segments), transcript=" ".join(s.text for s in segments)), fact))
    return planted


def questions(facts: list[Fact], absent_names: list[str], seed: int) -> list[Question]:
    """Per fact, its question and its paraphrase; per absent name a question about it; per fact, from every
    second one, an unstated question. About a fifth of the questions are unanswerable."""
    rng = np.random.default_rng([seed, 23])
    asked = []
    for fact in facts:
        _, direct, paraphrase, _ = TEMPLATES[fact.template]
        asked.append(Question(direct.format(n=fact.name), "answerable", fact))
        asked.append(Question(paraphrase.format(n=fact.name), "paraphrased", fact))
    for i, name in enumerate(absent_names):
        template = TEMPLATES[int(rng.integers(len(TEMPLATES)))]
        asked.append(Question(template[1 + i % 2].format(n=name), "absent", None))
    for fact in facts[::2]:
        asked.append(Question(TEMPLATES[fact.template][3].format(n=fact.name), "unstated", None))
    # Every other question of each kind typed in lower case, as many are: its names are then not known as names.
    seen: dict[str, int] = {}
    typed = []
    for question in asked:
        seen[question.kind] = seen.get(question.kind, 0) + 1
        lower = seen[question.kind] % 2 == 0
        typed.append(replace(question, text=question.text[0] + question.text[1:].lower()) if lower else question)
    return typed
