"""Streaming request bodies into the object store in constant memory.

`UploadSink` takes chunks on the event loop and hands them, through a small
bounded queue, to a worker thread running the store's blocking
`put_stream(staging_key, reader)`. Memory stays at a few chunks whatever the
upload's size: the queue's bound is the backpressure that slows the client
down when the store is slower than the network.

While bytes pass, the sink applies the upload rule's early checks
(`pipeline.uploads.check_size` as soon as the limit is exceeded, `check_head`
on the container's magic bytes); `accept_upload` judges the whole staged
object afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor

from pipeline.storage import ObjectStore
from pipeline.uploads import SNIFF_BYTES, UploadRejected, check_head, check_size

_QUEUE_CHUNKS = 16  # at most this many request chunks (~64 KiB each) wait for the store
# Each upload in flight holds one thread for its whole duration, so uploads get
# their own pool instead of starving the threadpool that sync routes run on.
_UPLOAD_THREADS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="upload")

_END = b""  # an empty chunk ends the stream (write() never queues one)
_ABORT = object()  # tells the reader to fail, so the store drops the partial object


class _UploadAborted(Exception):
    pass


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
        check_size(self.size, self.max_bytes)
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
        check_head(self._head)

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc_type is None:
            await self.finish()
        else:
            await self.abort()

    async def finish(self) -> None:
        """Commit the object; UploadRejected for a file too short to be a video."""
        if not self._sniffed:
            try:
                self._check_head()
            except UploadRejected:
                await self.abort()
                raise
        await self._queue.put(_END)
        assert self._writer is not None
        await self._writer  # the store's own errors propagate

    async def abort(self) -> None:
        await self._queue.put(_ABORT)
        assert self._writer is not None
        await asyncio.gather(self._writer, return_exceptions=True)
