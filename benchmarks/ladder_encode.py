"""Encoding a 1080p upload's ladder in one ffmpeg process versus one process per rung.

(A) is the project's `transcode_ladder`: one ffmpeg process decodes the source
once and `split`s the picture into every rung. (B) is the naive baseline: one
ffmpeg process per rung, each decoding the whole source again, built from the
same `build_ladder_command` with a one-rung list so the encode settings are
identical. Both run on a generated 1920x1080 source with audio, interleaved
A/B/A/B so drift on a shared machine hits both alike; CPU time is the ffmpeg
children's user+sys. A also probes its outputs (that is part of
`transcode_ladder`), a few ffprobe calls that count against it, not for it.

    .venv/bin/python benchmarks/ladder_encode.py [--rounds 3] [--seconds 10]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pipeline import media, samples


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _measure(encode: Callable[[], None]) -> tuple[float, float]:
    """(wall seconds, children's CPU seconds) of one call."""
    cpu, wall = _children_cpu_seconds(), time.perf_counter()
    encode()
    return time.perf_counter() - wall, _children_cpu_seconds() - cpu


def one_process(source: Path, out_dir: Path, rungs: list[media.Rung]) -> None:
    media.transcode_ladder(source, out_dir, rungs, has_audio=True)


def process_per_rung(source: Path, out_dir: Path, rungs: list[media.Rung]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for rung in rungs:
        subprocess.run(media.build_ladder_command(source, out_dir, [rung], has_audio=True), check=True, capture_output=True)


def _sizes(out_dir: Path, rungs: list[media.Rung]) -> list[tuple[int, int]]:
    return [(p.width, p.height) for p in (media.probe(media.variant_path(out_dir, r)) for r in rungs)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the generated 1080p source")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="videoai-bench-") as tmp:
        work = Path(tmp)
        source = samples.make_test_video(work / "source.mp4", 1920, 1080, args.seconds)
        info = media.probe(source)
        rungs = media.plan_ladder(info.width, info.height)
        a_dir, b_dir = work / "one_process", work / "process_per_rung"

        # Not timed: warms the page cache and ffmpeg's libraries, and lets us
        # check that both ways write the same rungs before comparing them.
        one_process(source, a_dir, rungs)
        process_per_rung(source, b_dir, rungs)
        expected = [(r.width, r.height) for r in rungs]
        assert _sizes(a_dir, rungs) == _sizes(b_dir, rungs) == expected, (_sizes(a_dir, rungs), _sizes(b_dir, rungs))

        rounds = []
        for _ in range(args.rounds):
            a = _measure(lambda: one_process(source, a_dir, rungs))
            b = _measure(lambda: process_per_rung(source, b_dir, rungs))
            rounds.append((a, b))

    def median(side: int, metric: int) -> float:
        return statistics.median(pair[side][metric] for pair in rounds)

    wall_a, cpu_a, wall_b, cpu_b = median(0, 0), median(0, 1), median(1, 0), median(1, 1)
    labels = "+".join(f"{r.label} ({r.width}x{r.height})" for r in rungs)
    print(
        f"source                : {info.width}x{info.height}, {info.duration_seconds:.1f} s, "
        f"{info.video_codec}/{info.audio_codec}"
    )
    print(f"ladder                : {labels}, libx264 veryfast + AAC, same sizes probed from both")
    print(f"rounds                : {args.rounds}, interleaved A/B")
    print()
    print(f"{'':28}{'wall s':>9}{'CPU s':>9}")
    print(f"{'A one process (split)':28}{wall_a:9.2f}{cpu_a:9.2f}")
    print(f"{'B one process per rung':28}{wall_b:9.2f}{cpu_b:9.2f}")
    print(f"{'B / A (of the medians)':28}{wall_b / wall_a:9.2f}{cpu_b / cpu_a:9.2f}")
    # Each round's pair ran back to back, so its ratio sees the same machine load.
    paired = [statistics.median(b[m] / a[m] for a, b in rounds) for m in (0, 1)]
    print(f"{'B / A (median per round)':28}{paired[0]:9.2f}{paired[1]:9.2f}")
    print()
    print("per round (wall s, CPU s):")
    for number, ((aw, ac), (bw, bc)) in enumerate(rounds, 1):
        print(f"  {number}: A {aw:6.2f} {ac:6.2f}   B {bw:6.2f} {bc:6.2f}   B/A wall {bw / aw:.2f} CPU {bc / ac:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
