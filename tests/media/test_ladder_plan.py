"""The ladder plan: which rungs a source gets, at which sizes."""

from __future__ import annotations

import pytest

from pipeline.media import plan_ladder


def _sizes(width: int, height: int) -> list[tuple[str, int, int]]:
    return [(rung.label, rung.width, rung.height) for rung in plan_ladder(width, height)]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ((1920, 1080), [("360p", 640, 360), ("480p", 852, 480), ("720p", 1280, 720), ("1080p", 1920, 1080)]),
        # 4K: downscaled, no 4K rung
        ((3840, 2160), [("360p", 640, 360), ("480p", 852, 480), ("720p", 1280, 720), ("1080p", 1920, 1080)]),
        ((1280, 720), [("360p", 640, 360), ("480p", 852, 480), ("720p", 1280, 720)]),  # exactly 720p: no 1080p
        # 4:3 keeps its aspect
        ((1440, 1080), [("360p", 480, 360), ("480p", 640, 480), ("720p", 960, 720), ("1080p", 1440, 1080)]),
        ((1919, 1079), [("360p", 640, 360), ("480p", 852, 480), ("720p", 1280, 720)]),  # just under 1080: no 1080p
        ((640, 360), [("360p", 640, 360)]),  # exactly 360p: that rung only
        ((641, 361), [("360p", 638, 360)]),  # odd height rounds down to even
        ((853, 480), [("360p", 638, 360), ("480p", 852, 480)]),  # odd width rounds down to even
        ((1000, 600), [("360p", 600, 360), ("480p", 800, 480)]),  # between rungs: the ones it reaches
        # portrait: named by the shorter side
        ((1080, 1920), [("360p", 360, 640), ("480p", 480, 852), ("720p", 720, 1280), ("1080p", 1080, 1920)]),
        ((720, 1280), [("360p", 360, 640), ("480p", 480, 852), ("720p", 720, 1280)]),
        ((360, 640), [("360p", 360, 640)]),
        ((320, 240), [("240p", 320, 240)]),  # below 360p: one rung at its own size
        ((100, 100), [("100p", 100, 100)]),
    ],
)
def test_ladder_table(source: tuple[int, int], expected: list[tuple[str, int, int]]) -> None:
    assert _sizes(*source) == expected


@pytest.mark.parametrize("source", [(3840, 2160), (1920, 1080), (1919, 1079), (1081, 1921), (641, 361), (77, 33)])
def test_never_upscales_and_always_even(source: tuple[int, int]) -> None:
    for rung in plan_ladder(*source):
        assert rung.width <= source[0] and rung.height <= source[1]
        assert rung.width % 2 == 0 and rung.height % 2 == 0


def test_rate_control_grows_with_size() -> None:
    (tiny,) = plan_ladder(320, 240)
    ladder = plan_ladder(1920, 1080)
    rates = [rung.video_maxrate_kbps for rung in [tiny, *ladder]]
    assert rates == sorted(rates) and len(set(rates)) == len(rates)
    for rung in (tiny, *ladder):
        assert 18 <= rung.crf <= 28
        assert rung.video_bufsize_kbps >= rung.video_maxrate_kbps
        assert rung.audio_bitrate_kbps >= 64


@pytest.mark.parametrize("source", [(0, 720), (1280, 0), (-1, 10)])
def test_rejects_impossible_sizes(source: tuple[int, int]) -> None:
    with pytest.raises(ValueError):
        plan_ladder(*source)
