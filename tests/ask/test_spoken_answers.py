"""Answers on real speech: a clip spoken by espeak-ng (which says when each word begins) through the real
transcription (faster-whisper tiny.en, word times), passage cutting, embedding and indexing; each planted fact,
asked about in the fact's words and in other words, is cited within 3 s of when it is said."""

from __future__ import annotations

import pytest

from pipeline.ask import Asker, EvidenceFinder, Scope
from pipeline.embeddings import WordLlamaEmbedder
from pipeline.settings import Settings
from tests.fixtures.spoken_clip import SpokenClip, spoken_clip

pytestmark = pytest.mark.e2e

FESTIVAL = "The lighthouse festival takes place every August near the old pier."
FERRY = "The ferry to the islands leaves at seven in the morning."
TOPICS = (
    (
        "Welcome to our evening notes about the town.",
        "The harbour is busy in the summer months.",
        FESTIVAL,
        "Boats come from the islands to join the fun.",
    ),
    (
        "Now a word about getting around.",
        "Most people walk or ride a bicycle.",
        FERRY,
        "Tickets are sold at the kiosk on the quay.",
    ),
)
QUESTIONS = (
    ("When does the lighthouse festival take place?", FESTIVAL),
    ("In which month is the lighthouse festival held?", FESTIVAL),
    ("What time does the ferry to the islands leave?", FERRY),
)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> SpokenClip:
    return spoken_clip(tmp_path_factory.mktemp("spoken-answers"), TOPICS, "en-us", 150, 0.4)


def test_each_fact_is_cited_within_three_seconds_of_when_it_is_said(clip: SpokenClip) -> None:
    embedder = WordLlamaEmbedder()
    asker = Asker(EvidenceFinder(clip.search, clip.repository.engine, lambda: embedder), Settings().ask.min_score)
    for question, fact in QUESTIONS:
        answer = asker.answer(question, Scope())
        assert not answer.declined, (question, answer)
        said = clip.sentences[fact]
        first = answer.citations[0]
        assert first.video_id == clip.repository.video_id
        assert abs(first.start - said) <= 3.0, (question, first, said)
    assert asker.answer("Who repaired the town clock?", Scope()).declined
