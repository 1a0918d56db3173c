"""The ladder plan: which rungs a source gets, at which sizes."""

from __future__ import annotations

import pytest

from pipeline.media import plan_ladder


def _sizes(width: int, height: int) -> list[tuple[str, int, int]]:
    return [(rung.label, rung.width, rung.height) for rung in plan_ladder(width, height)]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ((1920, 1080), [("720p", 1280, 720), ("1080p", 1920, 1080)]),
        ((3840, 2160), [("720p", 1280, 720), ("1080p", 1920, 1080)]),  # 4K: downscaled, no 4K rung
        ((1280, 720), [("720p", 1280, 720)]),  # exactly 720p: no 1080p upscale
        ((1440, 1080), [("720p", 960, 720), ("1080p", 1440, 1080)]),  # 4:3 keeps its aspect
        ((1919, 1079), [("720p", 1280, 720)]),  # just under 1080: no 1080p
        ((640, 360), [("360p", 640, 360)]),  # below 720p: one rung at its own size
        ((641, 361), [("360p", 638, 360)]),  # odd height rounds down to even
        ((853, 480), [("480p", 852, 480)]),  # odd width rounds down to even
        ((1080, 1920), [("720p", 720, 1280), ("1080p", 1080, 1920)]),  # portrait: named by the shorter side
        ((720, 1280), [("720p", 720, 1280)]),
        ((360, 640), [("360p", 360, 640)]),
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
    small, = plan_ladder(640, 360)
    hd, full_hd = plan_ladder(1920, 1080)
    assert small.video_maxrate_kbps < hd.video_maxrate_kbps < full_hd.video_maxrate_kbps
    for rung in (small, hd, full_hd):
        assert 18 <= rung.crf <= 28
        assert rung.video_bufsize_kbps >= rung.video_maxrate_kbps
        assert rung.audio_bitrate_kbps >= 64


@pytest.mark.parametrize("source", [(0, 720), (1280, 0), (-1, 10)])
def test_rejects_impossible_sizes(source: tuple[int, int]) -> None:
    with pytest.raises(ValueError):
        plan_ladder(*source)
