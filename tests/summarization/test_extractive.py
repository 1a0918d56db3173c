from __future__ import annotations

from pipeline.summarization import ExtractiveSummarizer, split_sentences, summarize_transcript
from pipeline.text import TimedSegment

from .conftest import TALK


def assert_drawn_in_order(summary_sentences: list[str], source: str) -> None:
    source_sentences = split_sentences(source)
    positions = [source_sentences.index(sentence) for sentence in summary_sentences]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)


def test_whole_talk_gives_four_to_six_sentences_from_the_text_in_order(talk):
    result = summarize_transcript(talk, ExtractiveSummarizer())

    assert 4 <= len(result.sentences) <= 6
    assert_drawn_in_order(result.sentences, TALK)
    assert result.summary == " ".join(result.sentences)
    assert result.reduce_rounds == 1 and len(result.chunk_summaries) == 1
    assert result.quality["shape"] == 1.0 and result.quality["non_redundancy"] == 1.0
    assert result.quality_score > 0.6
    assert result.model_info["model"] == "extractive-textrank"


def test_many_chunks_reduce_recursively_and_stay_in_order(talk):
    result = summarize_transcript(talk, ExtractiveSummarizer(chunk_sentences=2), chunk_tokens=40, batch_size=3)

    assert len(result.chunk_summaries) > 9  # so the reduce needs more than one round
    assert result.reduce_rounds >= 3
    assert 4 <= len(result.sentences) <= 6
    assert_drawn_in_order(result.sentences, TALK)


def test_central_sentences_win_over_asides():
    text = (
        "Bees pollinate fruit trees in the orchard. "
        "The weather was nice. "
        "Without bees the orchard fruit trees give a poor harvest. "
        "My cousin likes football. "
        "Orchard owners rent hives of bees every spring for their fruit trees. "
        "Pollinate early, because fruit trees flower for only a week. "
        "Lunch was late."
    )
    summary = ExtractiveSummarizer(final_sentences=4).combine([text], final=True)
    assert "football" not in summary and "Lunch" not in summary and "weather" not in summary


def test_fewer_than_four_sentences_are_all_kept():
    text = "Compost needs air. Compost needs water. Keep meat out of the compost."
    result = summarize_transcript([TimedSegment(0.0, 5.0, text)], ExtractiveSummarizer())
    assert result.sentences == split_sentences(text)


def test_near_duplicates_are_skipped_while_distinct_sentences_remain():
    text = " ".join(
        [
            "Turn the compost pile every week.",
            "Turn the compost pile every single week.",
            "Turn your compost pile every week.",
            "Water the compost pile when it is dry.",
            "Keep meat and dairy out of the compost pile.",
            "Browns such as leaves balance the greens in the compost pile.",
            "Sift the finished compost pile before spreading it.",
        ]
    )
    result = summarize_transcript([TimedSegment(0.0, 30.0, text)], ExtractiveSummarizer())
    assert len(result.sentences) == 5
    assert sum(sentence.startswith("Turn") for sentence in result.sentences) == 1
