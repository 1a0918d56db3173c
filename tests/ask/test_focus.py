"""What a question asks beyond its subject (pipeline/ask/focus.py), and a second question set: facts, questions
and wording of their own (not the benchmark's templates), asked of a small real archive (SQLite, its full-text
search, passage vectors, WordLlama) as the API asks by default."""

from __future__ import annotations

import pytest

from pipeline.ask import Scope
from pipeline.ask.focus import COLOUR, QUANTITY, TIME, Asked, asked, focus, gives, subject_words
from tests.ask.archive import Archive, loaded_archive, talk


def test_the_subject_is_the_name_and_what_both_call_it_around_it() -> None:
    sentence = "The Ostrava night train leaves the central station at eleven."
    assert subject_words("How long is the Ostrava night train?", sentence, {"ostrava"}) == {"ostrava", "night", "train"}
    # The verb after the name is not the sentence's: it is asked, not the subject.
    said = "Doctor Lind named a new kind of moth."
    assert subject_words("Which creature did Doctor Lind find?", said, {"lind"}) == {"doctor", "lind"}
    assert subject_words("What did Doctor Lind name?", said, {"lind"}) == {"doctor", "lind", "name"}
    # A possessive's thing belongs to the subject, however the sentence says it.
    assert subject_words("How heavy is Talbrook's pump?", "Talbrook built a pump.", {"talbrook"}) == {"talbrook", "pump"}
    # A sentence that does not say the name shares nothing around it.
    assert subject_words("How long is the Kestrel bridge?", "The bridge is long.", {"kestrel"}) == {"kestrel"}
    assert subject_words("Who paid for the Brisca quartet's album?", "A quartet.", {"brisca"}) == {"brisca"}


def test_what_is_asked_beyond_the_subject() -> None:
    subject = {"ostrava", "night", "train"}
    assert asked("How long does the Ostrava night train take to reach the coast?", subject) == [
        Asked("long", QUANTITY),
        Asked("reach"),
        Asked("coast"),
    ]
    assert asked("How many seats has the Ostrava night train?", subject) == [Asked("many", QUANTITY), Asked("seats")]
    assert asked("When does the Ostrava night train leave?", subject) == [Asked(None, TIME), Asked("leave")]
    assert asked("In which month was the Ostrava night train painted?", subject) == [Asked("month", TIME), Asked("painted")]
    assert asked("What colour is the Ostrava night train?", subject) == [Asked("colour", COLOUR)]
    # "when" that is not the question word asks for no time.
    assert asked("Which seats get cold when the Ostrava night train stops?", subject) == [
        Asked("seats"),
        Asked("cold"),
        Asked("stops"),
    ]
    assert asked("The Ostrava night train?", subject) == []


def test_an_answer_type_is_given_by_a_word_of_that_type() -> None:
    assert gives(QUANTITY, ["about", "1200"]) and gives(QUANTITY, ["twelve"]) and not gives(QUANTITY, ["several"])
    assert gives(TIME, ["in", "june"]) and gives(TIME, ["1894"]) and not gives(TIME, ["later"])
    assert gives(COLOUR, ["navy"]) and not gives(COLOUR, ["bright"])


def test_focus_is_the_share_of_what_is_asked_that_the_sentence_says() -> None:
    sentence = "The Ostrava night train leaves the central station at eleven."
    items = [Asked(None, TIME), Asked("leave")]
    assert focus(items, sentence, set()) == 1.0
    assert focus([Asked("depart")], sentence, set()) == 0.0
    assert focus([Asked("depart")], sentence, {"depart"}) == 1.0  # said in other words
    # "How many" wants a number; "how long" a number and length or time said (or a word close to it).
    assert focus([Asked("many", QUANTITY)], sentence, set()) == 1.0
    assert focus([Asked("long", QUANTITY), Asked("reach")], sentence, set()) == 0.0
    assert focus([Asked("long", QUANTITY)], "The trip is eleven hours long.", set()) == 1.0
    assert focus([], sentence, set()) == 1.0


# --- a second question set ----------------------------------------------------------------------

TRAIN = "The Ostrava night train leaves the central station at eleven every evening."
ORCHARD = "Farmer Quennell planted four hundred cherry trees on the southern slope."
HONEY = "Farmer Quennell sells honey at the market in the village square."
MUSEUM = "The Halvorsen museum reopened in April after the roof was repaired."
PUMP = "Engineer Talbrook built a pump that moves nine hundred litres of water a minute."
QUARTET = "The Brisca quartet recorded its first album in a church in Lisbon."
SATELLITE = "The Parvona satellite was painted white to reflect the heat of the sun."
ANSWERED = (
    ("What time does the Ostrava night train depart?", TRAIN),
    ("How many cherry trees did farmer Quennell plant?", ORCHARD),
    ("What does Farmer Quennell sell at the market?", HONEY),
    ("When did the Halvorsen museum reopen?", MUSEUM),
    ("How much water can Engineer Talbrook's pump move in a minute?", PUMP),
    ("Where did the Brisca quartet record its first album?", QUARTET),
    ("What colour is the Parvona satellite?", SATELLITE),
    ("Why is the Parvona satellite white?", SATELLITE),
)
# About a name the archive says, asking what none of its sentences says; several of those sentences hold a
# number or a time, which answers none of these.
UNSTATED = (
    "How long does the Ostrava night train take to reach the coast?",
    "How old is Farmer Quennell?",
    "How much does farmer Quennell charge for his honey?",
    "Who designed the Halvorsen museum?",
    "How heavy is Engineer Talbrook's pump?",
    "Who paid for the Brisca quartet's album?",
    "When was the Parvona satellite launched?",
    "How many languages does the Brisca quartet sing in?",
)


@pytest.fixture(scope="module")
def second(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    videos = [
        talk(11, "Rail at night", (TRAIN,)),
        talk(12, "Orchard diary", (ORCHARD, HONEY)),
        talk(13, "Museum news", (MUSEUM,)),
        talk(14, "Workshop", (PUMP,)),
        talk(15, "Music notes", (QUARTET,)),
        talk(16, "Space weekly", (SATELLITE,)),
    ]
    return loaded_archive(tmp_path_factory.mktemp("focus") / "second", videos)


def _typed_both_ways(question: str) -> tuple[str, str]:
    # As typed, and in lower case as many type: its names are then not known by their capitals.
    return question, question[0] + question[1:].lower()


@pytest.mark.parametrize(("question", "fact"), ANSWERED)
def test_a_question_the_archive_answers_is_answered_with_the_sentence_that_says_it(
    second: Archive, question: str, fact: str
) -> None:
    for typed in _typed_both_ways(question):
        answer = second.asker.answer(typed, Scope())
        assert not answer.declined, typed
        first, said = answer.citations[0], second.said[fact]
        assert (first.video_id, first.quote, first.start) == (said.video_id, fact, said.start), typed


@pytest.mark.parametrize("question", UNSTATED)
def test_a_question_about_a_known_name_that_its_sentences_do_not_answer_is_declined(second: Archive, question: str) -> None:
    for typed in _typed_both_ways(question):
        answer = second.asker.answer(typed, Scope())
        assert answer.declined, (typed, answer.answer)
