"""Build the configured object store from settings."""

from __future__ import annotations

from pipeline.settings import Settings
from pipeline.storage.base import ObjectStore


def object_store_from_settings(settings: Settings) -> ObjectStore:
    if settings.object_store == "s3":
        from pipeline.storage.s3 import S3ObjectStore

        return S3ObjectStore(
            bucket=settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
        )
    from pipeline.storage.local import LocalObjectStore

    assert settings.object_store_dir is not None
    return LocalObjectStore(settings.object_store_dir)
