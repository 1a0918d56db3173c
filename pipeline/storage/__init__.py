"""Object stores: one interface, a local-directory store and an S3 store."""

from pipeline.storage.base import ObjectNotFound, ObjectStore, ObjectStoreError, StoredObject, local_file
from pipeline.storage.factory import object_store_from_settings

__all__ = ["ObjectNotFound", "ObjectStore", "ObjectStoreError", "StoredObject", "local_file", "object_store_from_settings"]
