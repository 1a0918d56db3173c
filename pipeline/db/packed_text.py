"""Long text kept compressed in SQLite, and the SQL functions that read and write it.

The search index's transcripts are most of its bytes. SQLite keeps them as raw
deflate with Huffman coding only (no match search): most of the gain of zlib's
fastest full level for about half its cost (benchmarks/README.md, `search_scale`),
which matters when indexing a thousand videos a second. Every SQLite connection made by `make_engine` gets the SQL
functions `videoai_pack(text)` and `videoai_unpack(blob)`, which the full-text
index's content view and triggers call (migration search_text_packed).
"""

from __future__ import annotations

import sqlite3
import zlib

_RAW_DEFLATE = -15  # no zlib header or checksum: SQLite's page checksums are not our concern, size is


def pack_text(text: str) -> bytes:
    packer = zlib.compressobj(1, zlib.DEFLATED, _RAW_DEFLATE, 9, zlib.Z_HUFFMAN_ONLY)
    return packer.compress(text.encode()) + packer.flush()


def unpack_text(blob: bytes) -> str:
    return zlib.decompress(blob, _RAW_DEFLATE).decode()


def register_sqlite_functions(connection: sqlite3.Connection) -> None:
    connection.create_function("videoai_pack", 1, pack_text, deterministic=True)
    connection.create_function("videoai_unpack", 1, unpack_text, deterministic=True)
