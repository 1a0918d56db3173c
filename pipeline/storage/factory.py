"""Build the configured object store."""

from __future__ import annotations

from pathlib import Path

from pipeline.settings import StorageSettings
from pipeline.storage.base import ObjectStore, ObjectStoreError


def object_store_for(
    kind: str,
    *,
    directory: Path | str | None = None,
    bucket: str = "videoai",
    endpoint_url: str | None = None,
    region: str = "us-east-1",
    public_endpoint_url: str | None = None,
) -> ObjectStore:
    if kind == "s3":
        from pipeline.storage.s3 import S3ObjectStore

        return S3ObjectStore(bucket=bucket, endpoint_url=endpoint_url, region=region, public_endpoint_url=public_endpoint_url)
    if kind == "local":
        if not directory:
            raise ObjectStoreError("the local object store needs a directory (OBJECT_STORE_DIR)")
        from pipeline.storage.local import LocalObjectStore

        return LocalObjectStore(Path(directory))
    raise ObjectStoreError(f"unknown OBJECT_STORE {kind!r}: use 'local' or 's3'")


def object_store_from_settings(settings: StorageSettings) -> ObjectStore:
    return object_store_for(
        settings.kind,
        directory=str(settings.directory),
        bucket=settings.s3_bucket,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        public_endpoint_url=settings.s3_public_endpoint_url,
    )
