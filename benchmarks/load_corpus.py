"""Load a JSON Lines corpus of ready videos into the configured database and search indexes.

    .venv/bin/python -m benchmarks load_corpus corpus.jsonl [--batch 200]

The environment chooses where (DATABASE_URL, SEARCH_BACKEND, SEARCH_INDEX_DIR, the
embedding settings), as for every videoai process; the line format and what is
written are in pipeline/corpus.py. Appending to an index the API is serving works.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from pipeline.corpus import CorpusError, load_videos, read_corpus
from pipeline.db.session import make_engine, migrate
from pipeline.embeddings import embedder_from_settings
from pipeline.search.factory import search_index_from_settings
from pipeline.search.vectors import vector_index_for
from pipeline.settings import Settings


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks load_corpus", description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, help="a .jsonl file, one video per line")
    parser.add_argument("--batch", type=int, default=200, help="videos embedded and written together")
    args = parser.parse_args(argv)
    settings = Settings()
    assert settings.database.url is not None
    migrate(settings.database.url)
    engine = make_engine(settings.database.url)
    index = search_index_from_settings(settings.search, engine)
    index.ensure()
    started = time.monotonic()
    try:
        for report in load_videos(
            read_corpus(args.corpus),
            engine,
            index,
            vector_index_for(settings.search.backend, engine),
            embedder_from_settings(settings.embeddings, settings.openai),
            args.batch,
        ):
            elapsed = time.monotonic() - started
            print(
                f"{report.videos:>9,} videos  {report.passages:>11,} passages  {elapsed:7.1f} s  "
                f"({report.videos / elapsed:,.0f} videos/s)",
                flush=True,
            )
    except CorpusError as exc:
        print(f"load_corpus: {args.corpus}: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
