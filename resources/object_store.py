"""The object store (local directory or S3) as a Dagster resource."""

from __future__ import annotations

from typing import Literal

import dagster as dg

from pipeline.settings import StorageSettings
from pipeline.storage import ObjectStore
from pipeline.storage.factory import object_store_for


class ObjectStoreResource(dg.ConfigurableResource):
    kind: Literal["local", "s3"] = "local"
    directory: str | None = None
    bucket: str = "videoai"
    endpoint_url: str | None = None
    region: str = "us-east-1"
    public_endpoint_url: str | None = None

    @classmethod
    def from_settings(cls, settings: StorageSettings) -> ObjectStoreResource:
        return cls(
            kind=settings.kind,
            directory=str(settings.directory),
            bucket=settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            public_endpoint_url=settings.s3_public_endpoint_url,
        )

    def get_store(self) -> ObjectStore:
        return object_store_for(
            self.kind,
            directory=self.directory,
            bucket=self.bucket,
            endpoint_url=self.endpoint_url,
            region=self.region,
            public_endpoint_url=self.public_endpoint_url,
        )
