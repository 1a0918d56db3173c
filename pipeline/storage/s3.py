"""Object store on S3 or any S3-compatible server (MinIO) through boto3.

Credentials come from boto3's standard chain (AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY, a profile, an instance role): never from code or logs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, TypeVar
from urllib.parse import quote

import boto3
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from pipeline.storage.base import ObjectNotFound, ObjectStoreError, StoredObject, validate_key

_NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}
_DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys per request.
# Multipart above 64 MiB in 16 MiB parts: bounded memory for files of any size.
_TRANSFER = TransferConfig(multipart_threshold=64 << 20, multipart_chunksize=16 << 20, max_concurrency=4)

T = TypeVar("T")


def _client_config() -> Config:
    # Path-style addressing works on AWS and is what MinIO expects; every call is bounded in time.
    return Config(
        s3={"addressing_style": "path"},
        signature_version="s3v4",
        connect_timeout=10,
        read_timeout=60,
        retries={"max_attempts": 3, "mode": "standard"},
    )


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class _CountingReader:
    """Counts the bytes boto3 pulls from a stream of unknown length.

    s3transfer takes a short read for the end of the stream, but raw streams
    (sockets, request bodies) may return less than asked before the end: fill
    each read so no tail is silently dropped.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            data = self._stream.read()
        else:
            parts: list[bytes] = []
            missing = size
            while missing > 0 and (part := self._stream.read(missing)):
                parts.append(part)
                missing -= len(part)
            data = b"".join(parts)
        self.count += len(data)
        return data


class S3ObjectStore:
    def __init__(
        self,
        bucket: str,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        client: Any | None = None,
        *,
        public_endpoint_url: str | None = None,
        list_page_size: int = 1000,
    ) -> None:
        """`public_endpoint_url` signs presigned URLs for the address clients use when it
        differs from the one the servers use (e.g. http://minio:9000 inside compose)."""
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.region = region
        self._client = client or boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, region_name=region, config=_client_config()
        )
        self._presigner = (
            boto3.session.Session().client("s3", endpoint_url=public_endpoint_url, region_name=region, config=_client_config())
            if public_endpoint_url
            else self._client
        )
        self._list_page_size = list_page_size

    def _call(self, key: str, action: Callable[[], T]) -> T:
        """Run one S3 request, translating boto errors into the store's own."""
        try:
            return action()
        except ClientError as error:
            if _error_code(error) in _NOT_FOUND_CODES:
                raise ObjectNotFound(key) from error
            raise ObjectStoreError(f"S3 {_error_code(error)} on {self.bucket}/{key}") from error
        except (BotoCoreError, Boto3Error) as error:  # unreachable, or a managed transfer that failed
            raise ObjectStoreError(f"S3 request failed for {self.bucket}/{key}: {error}") from error

    @staticmethod
    def _extra_args(content_type: str | None) -> dict[str, str]:
        return {"ContentType": content_type} if content_type else {}

    def ensure_bucket(self) -> None:
        """Create the bucket if it is missing: for setup paths, not every request."""
        try:
            self._call(self.bucket, lambda: self._client.head_bucket(Bucket=self.bucket))
        except ObjectNotFound:
            options = {} if self.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": self.region}}
            try:
                self._client.create_bucket(Bucket=self.bucket, **options)
            except ClientError as error:
                # Another process may have created it between our check and create.
                if _error_code(error) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                    raise ObjectStoreError(f"cannot create bucket {self.bucket}: {_error_code(error)}") from error

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> int:
        validate_key(key)
        self._call(
            key,
            lambda: self._client.upload_file(
                str(path), self.bucket, key, ExtraArgs=self._extra_args(content_type), Config=_TRANSFER
            ),
        )
        return Path(path).stat().st_size

    def put_stream(self, key: str, stream: BinaryIO, content_type: str | None = None) -> int:
        validate_key(key)
        reader = _CountingReader(stream)
        self._call(
            key,
            lambda: self._client.upload_fileobj(
                reader, self.bucket, key, ExtraArgs=self._extra_args(content_type), Config=_TRANSFER
            ),
        )
        return reader.count

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        validate_key(key)
        self._call(key, lambda: self._client.put_object(Bucket=self.bucket, Key=key, Body=data, **self._extra_args(content_type)))

    def get_bytes(self, key: str) -> bytes:
        validate_key(key)
        return self._call(key, lambda: self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def local_path(self, key: str) -> Path | None:
        return None

    def download(self, key: str, dest: Path) -> Path:
        validate_key(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        # download_file writes to a temporary name and renames: no half file at `dest`.
        self._call(key, lambda: self._client.download_file(self.bucket, key, str(dest), Config=_TRANSFER))
        return dest

    def iter_range(self, key: str, start: int = 0, end: int | None = None, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        validate_key(key)
        byte_range = f"bytes={start}-{'' if end is None else end}"
        try:
            response = self._call(key, lambda: self._client.get_object(Bucket=self.bucket, Key=key, Range=byte_range))
        except ObjectStoreError as error:
            # A range starting past the end is empty, as it is for the local store.
            if isinstance(error.__cause__, ClientError) and _error_code(error.__cause__) == "InvalidRange":
                return iter(())
            raise
        return response["Body"].iter_chunks(chunk_size)

    def stat(self, key: str) -> StoredObject:
        validate_key(key)
        head = self._call(key, lambda: self._client.head_object(Bucket=self.bucket, Key=key))
        return StoredObject(key, head["ContentLength"], head["LastModified"])

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except ObjectNotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        validate_key(key)
        self._call(key, lambda: self._client.delete_object(Bucket=self.bucket, Key=key))

    def delete_prefix(self, prefix: str) -> int:
        deleted = 0
        while batch := self.list(prefix, limit=_DELETE_BATCH):
            delete = {"Objects": [{"Key": obj.key} for obj in batch], "Quiet": True}
            self._call(prefix, partial(self._client.delete_objects, Bucket=self.bucket, Delete=delete))
            deleted += len(batch)
        return deleted

    def move(self, src: str, dst: str) -> None:
        validate_key(src)
        validate_key(dst)
        self.stat(src)  # ObjectNotFound before any copy is attempted.
        # Managed copy: multipart UploadPartCopy above the threshold, so objects over 5 GB move too.
        self._call(dst, lambda: self._client.copy({"Bucket": self.bucket, "Key": src}, self.bucket, dst, Config=_TRANSFER))
        self.delete(src)

    def list(self, prefix: str, start_after: str | None = None, limit: int = 1000) -> list[StoredObject]:
        objects: list[StoredObject] = []
        request: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if start_after:
            request["StartAfter"] = start_after
        while len(objects) < limit:
            request["MaxKeys"] = min(self._list_page_size, limit - len(objects))
            page = self._call(prefix, lambda: self._client.list_objects_v2(**request))
            objects.extend(StoredObject(o["Key"], o["Size"], o["LastModified"]) for o in page.get("Contents", []))
            if not page.get("IsTruncated"):
                break
            request["ContinuationToken"] = page["NextContinuationToken"]
        return objects

    def listing_version(self, prefix: str) -> object | None:
        return None

    def delete_partial_writes(self, prefix: str, started_before: datetime) -> int:
        removed = 0
        request: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        while True:
            page = self._call(prefix, lambda: self._client.list_multipart_uploads(**request))
            for upload in page.get("Uploads", []):
                if upload["Initiated"] < started_before:
                    self._call(
                        upload["Key"],
                        partial(
                            self._client.abort_multipart_upload,
                            Bucket=self.bucket,
                            Key=upload["Key"],
                            UploadId=upload["UploadId"],
                        ),
                    )
                    removed += 1
            if not page.get("IsTruncated"):
                return removed
            request["KeyMarker"], request["UploadIdMarker"] = page["NextKeyMarker"], page["NextUploadIdMarker"]

    def presigned_get_url(self, key: str, expires_seconds: int, filename: str | None = None) -> str | None:
        validate_key(key)
        params = {"Bucket": self.bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = _attachment(filename)
        return self._call(
            key, lambda: self._presigner.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_seconds)
        )

    def presigned_put_url(self, key: str, content_type: str, expires_seconds: int, size: int | None = None) -> str | None:
        """The Content-Type (and the Content-Length, given `size`) is signed: the client must send exactly these."""
        validate_key(key)
        params: dict[str, object] = {"Bucket": self.bucket, "Key": key, "ContentType": content_type}
        if size is not None:
            params["ContentLength"] = size
        return self._call(
            key, lambda: self._presigner.generate_presigned_url("put_object", Params=params, ExpiresIn=expires_seconds)
        )

    def ping(self) -> None:
        try:
            self._call(self.bucket, lambda: self._client.head_bucket(Bucket=self.bucket))
        except ObjectNotFound as error:
            raise ObjectStoreError(f"bucket {self.bucket} does not exist") from error


def _attachment(filename: str) -> str:
    """Content-Disposition for a download: an ASCII fallback plus the RFC 6266 UTF-8 form."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
