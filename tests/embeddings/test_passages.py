"""Cutting a timed transcript into ~30-60 s passages of whole sentences, topic by topic, with overlap."""

from itertools import pairwise

import dagster as dg

from orchestration.definitions import build_definitions
from pipeline.passages import PASSAGES_VERSION, SUMMARY, TITLE, TRANSCRIPT, split_transcript, video_passages
from pipeline.search.base import TimedSegment
from pipeline.sentences import sentences_from_json, sentences_to_json, timed_sentences
from pipeline.text import TimedWord


def _segments(count: int, seconds: float = 4.0) -> list[TimedSegment]:
    return [TimedSegment(i * seconds, i * seconds + seconds - 0.5, f"Sentence {i}.") for i in range(count)]


def test_passages_span_thirty_to_sixty_seconds_start_with_a_sentence_and_overlap_by_one():
    passages = split_transcript(_segments(40))  # 160 s of speech
    # As many as without the overlap: each passage's new sentences span 30 s (8 of them, 31.5 s).
    assert [len(p.sentences) for p in passages] == [8, 9, 9, 9, 9]
    for passage in passages:
        assert passage.kind == TRANSCRIPT
        assert passage.end - passage.start <= 60.0, passage
        assert passage.text == " ".join(s.text for s in passage.sentences)
        assert (passage.start, passage.end) == (passage.sentences[0].start, passage.sentences[-1].end)
    assert all(p.end - p.start >= 30.0 for p in passages[:-1])
    assert passages[0].start == 0.0 and passages[0].text.startswith("Sentence 0.")
    for before, after in pairwise(passages):
        assert after.sentences[0] == before.sentences[-1]  # the overlap: one sentence
    # Every sentence is in some passage, in order.
    said = [s.text for p in passages for s in p.sentences]
    assert sorted(set(said), key=said.index) == [f"Sentence {i}." for i in range(40)]


def test_no_passage_spans_a_topic_change():
    changes = [48.0, 100.0]
    passages = split_transcript(_segments(40), topic_starts=changes)
    for passage in passages:
        assert not any(passage.start < change < passage.end for change in changes), passage
    assert {48.0, 100.0} <= {p.start for p in passages}


def test_a_long_sentence_is_a_passage_of_its_own_and_a_short_tail_joins_the_last_passage():
    long_one = [TimedSegment(0, 10, "A."), TimedSegment(10, 24, "B."), TimedSegment(24, 84, "C."), TimedSegment(84, 88, "D.")]
    passages = split_transcript(long_one)
    # The 60 s sentence would take the first passage past 60 s; joining D to C would make 64 s.
    assert [(p.start, p.end) for p in passages] == [(0, 24), (24, 84), (84, 88)]
    tail = split_transcript(_segments(10))  # 40 s: one passage, the last 4 s join it
    assert [(p.start, p.end) for p in tail] == [(0.0, 39.5)]


def test_sentences_take_their_times_from_the_words_and_else_from_their_place_in_the_segment():
    words = (
        TimedWord(1.0, 1.4, "Lava"),
        TimedWord(1.4, 2.0, "flows."),
        TimedWord(5.0, 5.5, "Ash"),
        TimedWord(5.5, 6.0, "falls."),
    )
    timed = timed_sentences([TimedSegment(1.0, 6.0, "Lava flows. Ash falls.", words)])
    assert [(s.start, s.end, s.text) for s in timed] == [(1.0, 2.0, "Lava flows."), (5.0, 6.0, "Ash falls.")]
    # Without word times: the segment's 10 s shared out by characters (the second sentence starts at char 12).
    estimated = timed_sentences([TimedSegment(0.0, 10.0, "Lava flows. Then ash falls.")])
    assert [s.text for s in estimated] == ["Lava flows.", "Then ash falls."]
    assert estimated[1].start == round(10 * 12 / 27, 3) and estimated[1].end == 10.0
    # A sentence spoken across two segments is one sentence.
    across = timed_sentences([TimedSegment(0, 2, "The lava"), TimedSegment(2, 4, "cools. Rock forms.")])
    assert [s.text for s in across] == ["The lava cools.", "Rock forms."] and across[0].start == 0
    text = " ".join(s.text for s in timed)
    assert sentences_from_json(sentences_to_json(timed), text) == timed


def test_video_passages_add_title_and_summary_and_skip_empty_text():
    passages = video_passages("A title", "", _segments(2))
    assert [p.kind for p in passages] == [TITLE, TRANSCRIPT]
    assert video_passages("T", "S", [])[1].kind == SUMMARY
    assert video_passages("", "", []) == []


def test_word_times_and_the_way_passages_are_cut_are_in_the_code_versions(settings):
    """So Dagster shows transcripts made without word times, and passages cut the old way, stale."""
    graph = build_definitions(settings).resolve_asset_graph()
    versions = {
        key: graph.get(dg.AssetKey(key)).code_version
        for key in ("transcript", "passage_embeddings", "search_document", "chapters")
    }
    assert versions["transcript"].endswith(":words")
    assert all(versions[key].startswith(versions["transcript"]) for key in versions)
    assert PASSAGES_VERSION in versions["passage_embeddings"] and PASSAGES_VERSION in versions["search_document"]
