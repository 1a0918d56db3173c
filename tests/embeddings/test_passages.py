"""Cutting a timed transcript into ~30-60 s passages."""

from pipeline.passages import SUMMARY, TITLE, TRANSCRIPT, split_transcript, video_passages
from pipeline.search.base import TimedSegment


def _segments(count: int, seconds: float = 4.0) -> list[TimedSegment]:
    return [TimedSegment(i * seconds, i * seconds + seconds - 0.5, f"sentence {i}.") for i in range(count)]


def test_passages_span_thirty_to_sixty_seconds_and_start_with_their_first_segment():
    passages = split_transcript(_segments(40))  # 160 s of speech
    assert len(passages) >= 3
    for passage in passages:
        assert 30.0 <= passage.end - passage.start <= 60.0, passage
        assert passage.kind == TRANSCRIPT
    assert [p.start for p in passages] == sorted(p.start for p in passages)
    assert passages[0].start == 0.0 and passages[0].text.startswith("sentence 0.")
    assert " ".join(p.text for p in passages) == " ".join(f"sentence {i}." for i in range(40))


def test_a_long_segment_is_a_passage_of_its_own_and_a_short_tail_joins_the_last_passage():
    long_one = [TimedSegment(0, 10, "a."), TimedSegment(10, 80, "b."), TimedSegment(80, 84, "c.")]
    passages = split_transcript(long_one)
    # Joining the 4 s tail would make a 74 s passage: it stays alone.
    assert [(p.start, p.end) for p in passages] == [(0, 10), (10, 80), (80, 84)]
    tail = split_transcript(_segments(10))  # 40 s: one passage, the last 4 s join it
    assert [(p.start, p.end) for p in tail] == [(0.0, 39.5)]


def test_video_passages_add_title_and_summary_and_skip_empty_text():
    passages = video_passages("A title", "", _segments(2))
    assert [p.kind for p in passages] == [TITLE, TRANSCRIPT]
    assert video_passages("T", "S", [])[1].kind == SUMMARY
    assert video_passages("", "", []) == []
