"""Streaming request bodies into the object store in constant memory.

`UploadSink` takes chunks on the event loop and hands them, through a small
bounded queue, to a worker thread running the store's blocking
`put_stream(staging_key, reader)`. Memory stays at a few chunks whatever the
upload's size: the queue's bound is the backpressure that slows the client
down when the store is slower than the network.

While bytes pass, the sink enforces the size limit (413 as soon as it is
exceeded) and sniffs the container's magic bytes (415 for obvious
non-videos); ffprobe judges the whole staged object afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor

from pipeline.storage import ObjectStore
from serving_api.errors import ApiError

SNIFF_BYTES = 16
_QUEUE_CHUNKS = 16  # at most this many request chunks (~64 KiB each) wait for the store
# Each upload in flight holds one thread for its whole duration, so uploads get
# their own pool instead of starving the threadpool that sync routes run on.
_UPLOAD_THREADS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="upload")

_END = b""  # an empty chunk ends the stream (write() never queues one)
_ABORT = object()  # tells the reader to fail, so the store drops the partial object


class _UploadAborted(Exception):
    pass


def looks_like_video(head: bytes) -> bool:
    """Whether the first bytes are those of a video container ffprobe might accept."""
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot"):
        return True  # ISO base media (MP4, MOV, 3GP, M4V)
    if head[:4] == b"RIFF":
        return head[8:12] in (b"AVI ", b"AVIX")
    return head.startswith((
        b"\x1a\x45\xdf\xa3",  # Matroska / WebM
        b"FLV",
        b"OggS",
        b"\x00\x00\x01\xba",  # MPEG program stream
        b"\x00\x00\x01\xb3",  # MPEG video elementary stream
        b"\x30\x26\xb2\x75\x8e\x66\xcf\x11",  # ASF / WMV
        b"\x47",  # MPEG transport stream sync byte (ffprobe confirms the rest)
    ))


def not_a_video(message: str = "The file is not a video.") -> ApiError:
    return ApiError(415, "unsupported_media_type", message)


def too_large(limit: int) -> ApiError:
    return ApiError(413, "upload_too_large", f"The upload exceeds the limit of {limit} bytes.",
                    details={"max_upload_bytes": limit})


class _QueueReader:
    """The file-like object the worker thread's put_stream reads from."""

    def __init__(self, queue: asyncio.Queue[object], loop: asyncio.AbstractEventLoop) -> None:
        self._queue = queue
        self._loop = loop
        self._pending = b""
        self._ended = False

    def readable(self) -> bool:
        return True

    def _next(self) -> bytes:
        item = asyncio.run_coroutine_threadsafe(self._queue.get(), self._loop).result()
        if item is _ABORT:
            self._ended = True
            raise _UploadAborted()
        if item == _END:
            self._ended = True
        return item  # type: ignore[return-value]

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            parts = [self._pending]
            while not self._ended:
                parts.append(self._next())
            self._pending = b""
            return b"".join(parts)
        while not self._pending and not self._ended:
            self._pending = self._next()
        data, self._pending = self._pending[:size], self._pending[size:]
        return data

    def drain(self) -> None:
        """Consume until the producer's last item, so it never waits on a dead consumer."""
        while not self._ended:
            with contextlib.suppress(_UploadAborted):
                self._next()


class UploadSink:
    """One upload's bytes on their way to `key`; use `async with`.

    Leaving the block normally commits the object; leaving it with an
    exception aborts the write, and the store keeps nothing.
    """

    def __init__(self, store: ObjectStore, key: str, max_bytes: int, content_type: str | None = None) -> None:
        self.store, self.key, self.max_bytes, self.content_type = store, key, max_bytes, content_type
        self.size = 0
        self._head = b""
        self._sniffed = False
        self._queue: asyncio.Queue[object] = asyncio.Queue(maxsize=_QUEUE_CHUNKS)
        self._writer: asyncio.Future[int] | None = None

    def _store(self, reader: _QueueReader) -> int:
        try:
            return self.store.put_stream(self.key, reader, self.content_type)  # type: ignore[arg-type]
        finally:
            reader.drain()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._writer = asyncio.wrap_future(_UPLOAD_THREADS.submit(self._store, _QueueReader(self._queue, loop)))

    async def __aenter__(self) -> UploadSink:
        await self.start()
        return self

    async def write(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise too_large(self.max_bytes)
        if not self._sniffed:
            self._head += chunk[: SNIFF_BYTES - len(self._head)]
            if len(self._head) >= SNIFF_BYTES:
                self._check_head()
        assert self._writer is not None
        if self._writer.done():  # the store failed: surface its error now, not at the end
            self._writer.result()
        await self._queue.put(chunk)

    def _check_head(self) -> None:
        self._sniffed = True
        if not looks_like_video(self._head):
            raise not_a_video("The file is not a video (its first bytes match no video container).")

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc_type is None:
            await self.finish()
        else:
            await self.abort()

    async def finish(self) -> None:
        """Commit the object; 415 for a file too short to be a video."""
        if not self._sniffed:
            try:
                self._check_head()
            except ApiError:
                await self.abort()
                raise
        await self._queue.put(_END)
        assert self._writer is not None
        await self._writer  # the store's own errors propagate

    async def abort(self) -> None:
        await self._queue.put(_ABORT)
        assert self._writer is not None
        await asyncio.gather(self._writer, return_exceptions=True)
