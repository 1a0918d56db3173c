"""The object store (local directory or S3) as a Dagster resource."""

from __future__ import annotations

from typing import Literal

import dagster as dg

from pipeline.storage import ObjectStore
from pipeline.storage.local import LocalObjectStore


class ObjectStoreResource(dg.ConfigurableResource):
    kind: Literal["local", "s3"] = "local"
    directory: str | None = None
    bucket: str = "videoai"
    endpoint_url: str | None = None
    region: str = "us-east-1"

    def get_store(self) -> ObjectStore:
        if self.kind == "s3":
            from pipeline.storage.s3 import S3ObjectStore

            return S3ObjectStore(bucket=self.bucket, endpoint_url=self.endpoint_url, region=self.region)
        if not self.directory:
            raise dg.DagsterInvalidConfigError("the local object store needs a directory", [], None)
        return LocalObjectStore(self.directory)
