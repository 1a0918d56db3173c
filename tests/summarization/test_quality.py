from __future__ import annotations

import pytest

from pipeline.summarization import score_summary, split_sentences
from pipeline.summarization.quality import WEIGHTS

from .conftest import TALK

FIVE = (
    "Composting turns kitchen scraps and garden waste into soil. "
    "A good compost pile needs greens, browns, water and air. "
    "Turning the pile adds air for the microbes. "
    "The pile should feel like a wrung-out sponge. "
    "Meat, fish and dairy never go in the compost."
)
TEN_EXTRA = (
    " Browns are dry leaves and cardboard. Greens are peels and coffee grounds."
    " The bin is made from wooden pallets. A hot pile kills weed seeds."
    " Sift the compost before spreading it."
)


def test_split_sentences_keeps_abbreviations_and_decimals_together():
    assert split_sentences("Use e.g. straw. It is 3.5 cm deep!  Done?  Yes") == [
        "Use e.g. straw.",
        "It is 3.5 cm deep!",
        "Done?",
        "Yes",
    ]


def test_ten_sentences_score_lower_on_shape_than_five():
    five = score_summary(TALK, FIVE)
    ten = score_summary(TALK, FIVE + TEN_EXTRA)
    assert len(split_sentences(FIVE + TEN_EXTRA)) == 10
    assert five.shape == 1.0
    assert ten.shape == pytest.approx(0.6)
    assert ten.compression < five.compression
    assert ten.score < five.score


def test_too_few_sentences_lower_shape_unless_the_source_is_that_short():
    assert score_summary(TALK, "Composting turns scraps into soil.").shape == pytest.approx(0.25)
    short_source = "Compost needs air. Compost needs water."
    assert score_summary(short_source, short_source).shape == 1.0


def test_coverage_rewards_the_source_topics():
    on_topic = score_summary(TALK, FIVE)
    off_topic = score_summary(TALK, "The stock market rose. Bond yields fell. Investors cheered. Gold was flat.")
    assert on_topic.coverage > 0.3
    assert off_topic.coverage == 0.0
    assert on_topic.score > off_topic.score


def test_near_duplicate_sentences_lower_non_redundancy():
    repeated = "Turn the compost pile often. Turn the compost pile often! The pile needs water. Keep meat out."
    assert score_summary(TALK, repeated).non_redundancy == pytest.approx(0.75)
    assert score_summary(TALK, FIVE).non_redundancy == 1.0


def test_a_summary_as_long_as_its_source_compresses_nothing():
    assert score_summary(FIVE, FIVE).compression == 0.0


def test_score_is_the_documented_weighted_sum():
    report = score_summary(TALK, FIVE)
    expected = sum(weight * getattr(report, name) for name, weight in WEIGHTS.items())
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)
    assert report.score == pytest.approx(expected, abs=1e-3)
    assert set(report.as_dict()) == {"score", *WEIGHTS}


def test_empty_summary_scores_zero():
    assert score_summary(TALK, "").as_dict() == dict.fromkeys(["score", *WEIGHTS], 0.0)
