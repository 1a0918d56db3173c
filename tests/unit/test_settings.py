"""Settings are grouped by concern, and every group reads the environment names the README documents."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipeline.settings import Settings, settings_env_names


def test_each_group_reads_its_environment_names(make_settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHISPER_BEAM_SIZE", "3")
    monkeypatch.setenv("DB_POOL_SIZE", "7")
    monkeypatch.setenv("SENSOR_BATCH_SIZE", "4")
    settings = make_settings(MAX_UPLOAD_BYTES="1000", SEARCH_BACKEND="database")
    assert settings.transcription.beam_size == 3
    assert settings.database.pool_size == 7
    assert settings.dagster.sensor_batch_size == 4
    assert settings.uploads.max_bytes == 1000
    assert settings.search.backend == "database"


def test_a_dotenv_file_in_the_working_directory_is_read(make_settings, tmp_path) -> None:
    (tmp_path / ".env").write_text("OPENSEARCH_INDEX=from-dotenv\nACCESS_TOKEN_MINUTES=5\n")
    settings = make_settings()
    assert settings.search.opensearch_index == "from-dotenv"
    assert settings.auth.access_token_minutes == 5
    assert Settings(_env_file=None, VIDEOAI_HOME=str(tmp_path)).search.opensearch_index == "videoai-videos"


def test_paths_left_empty_live_under_videoai_home(make_settings, tmp_path) -> None:
    settings = make_settings()
    home = (tmp_path / "home").resolve()
    assert settings.videoai_home == home
    assert settings.database.url == f"sqlite:///{home / 'videoai.db'}"
    assert (settings.storage.directory, settings.storage.scratch_dir) == (home / "objects", home / "scratch")
    assert settings.search.vector_snapshot_dir == home / "search" / "vectors"


def test_updated_changes_only_what_it_names(make_settings) -> None:
    settings = make_settings(SUMMARIZER_PROVIDER="openai", OPENAI_API_KEY="secret-key")
    changed = settings.updated(WHISPER_MODEL_NAME="small.en")
    assert changed.transcription.model_name == "small.en"
    assert settings.transcription.model_name == ""  # the default: the model's own name
    assert changed.openai.api_key.get_secret_value() == "secret-key"
    assert changed.env_values() == {**settings.env_values(), "WHISPER_MODEL_NAME": "small.en"}


def test_an_unknown_or_invalid_setting_is_a_clear_error(make_settings) -> None:
    with pytest.raises(ValidationError, match="unknown settings: WISPER_MODEL"):
        make_settings(WISPER_MODEL="small.en")
    with pytest.raises(ValidationError, match="DB_POOL_SIZE"):
        make_settings(DB_POOL_SIZE="0")


def test_every_environment_name_is_read_by_exactly_one_group() -> None:
    names = settings_env_names()
    groups = [Settings.model_fields[name].annotation for name in Settings.model_fields if name != "videoai_home"]
    assert sum(len(group.env_names()) for group in groups) + 1 == len(names)  # type: ignore[union-attr]
    assert {"VIDEOAI_HOME", "DATABASE_URL", "AWS_REGION", "OPENAI_API_KEY", "DAGSTER_EXECUTOR"} <= names
