"""Text search ranked by Tantivy, documents kept in the app database.

Tantivy (a Lucene-class engine: BM25, block-max WAND) ranks a query's top hits
without scoring every match, which is what keeps a word said in most videos as
fast as a rare one. The index lives in a local directory (`SEARCH_INDEX_DIR`):
every process opens it read-only through memory maps, so API workers share one
copy in the page cache; a search first checks the index's `meta.json` (one
stat) and reloads when a writer has committed since, so a commit made by the
pipeline is searchable by the next query in every process.

The index holds only what ranking and filtering need (the four text fields,
not stored; status, owner, creation time as fast fields). What a hit shows
(title, snippets, the timed segments that say the words) comes from the app
database's `search_texts` for the page's hits only, written by the dialect's
`SqlSearchIndex`, which also answers `get`. A document is written to the
database first: a reader may briefly rank a video whose details it cannot read
yet, and leaves it out of the page.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import tantivy
from sqlalchemy import bindparam, select

from pipeline import languages
from pipeline.search.analyses import analyses, analysis_of, field_name
from pipeline.search.base import (
    RankedPage,
    SearchDocument,
    SearchHit,
    SearchIndexUnavailable,
    SearchPage,
    SearchQuery,
    SegmentMatch,
)
from pipeline.search.cursor import CursorPosition
from pipeline.search.highlight import best_snippet
from pipeline.search.plan import SearchPlan, plan_search
from pipeline.search.ranking import FIELD_WEIGHTS, SNIPPET_FIELDS, SNIPPET_WORDS, TOTAL_CAP
from pipeline.search.segments import (
    decode_segments,
    first_matches,
    is_sliced,
    sliced_segments_at,
    snippet_from_highlight,
)
from pipeline.search.sql_store import SqlSearchIndex
from pipeline.search.tables import search_documents, search_texts
from pipeline.search.word_matches import AnalyzedWords, WordMatcher, marked

TEXT_FIELDS = ("title", "description", "summary", "transcript")
# Each video's text is analysed in its language (pipeline/search/analyses.py): every Snowball stemmer Tantivy has.
ANALYSES = analyses()
# A document whose language is unknown (no speech) is filed under this value of the `language` field.
NO_LANGUAGE = "und"
WRITER_HEAP_BYTES = 64 * 1024 * 1024
# Each index has one writer at a time (a lock file): concurrent pipeline runs wait their turn.
WRITER_WAIT_SECONDS = 60.0


def _tokenizer(analysis: str) -> str:
    return f"videoai_{analysis}"


def _analyzer(analysis: str) -> tantivy.TextAnalyzer:
    """Simple tokenizer, long words dropped, lower case, the language's Snowball stemmer, then accents folded (after
    stemming: the stemmers know their language's accents; folded, "volcán" and "volcanes" meet at "volcan")."""
    builder = (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
    )
    if analysis in languages.STEMMED:
        builder = builder.filter(tantivy.Filter.stemmer(languages.STEMMED[analysis]))
    return builder.filter(tantivy.Filter.ascii_fold()).build()


# The same analysis for the index's text and the query's words.
ANALYZERS = {analysis: _analyzer(analysis) for analysis in ANALYSES}
# How many first letters an ASCII word shares with its token, by analysis ("y" read as "i"): 2 where nothing else
# is said. German spells "ü" as "ue" (stemmed "u"), Finnish shortens doubled letters ("lle": "le"); Dutch drops
# "ge-" and Turkish rewrites short words whole: no rule there. tests/search/test_word_matches.py checks each
# against the language's commonest words.
FIRST_LETTERS_KEPT = {"de": 1, "fi": 1, "nl": 0, "tr": 0}
# Each analysis of every word a page's hits show, kept per process.
_WORDS = {
    analysis: AnalyzedWords(analyzer.analyze, first_letters=FIRST_LETTERS_KEPT.get(analysis, 2))
    for analysis, analyzer in ANALYZERS.items()
}


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("video_id", indexed=True, fast=True)
    builder.add_integer_field("owner_id", indexed=True, fast=True)
    builder.add_integer_field("created_us", indexed=True, fast=True)  # microseconds since the epoch, UTC
    builder.add_text_field("status", tokenizer_name="raw", fast=True)
    builder.add_text_field("language", tokenizer_name="raw", fast=True)
    for analysis in ANALYSES:
        for field in TEXT_FIELDS:
            builder.add_text_field(field_name(field, analysis), tokenizer_name=_tokenizer(analysis))
    return builder.build()


SCHEMA = _schema()


def register_analyzers(index: tantivy.Index) -> tantivy.Index:
    """`index` with each language's analyzer under the name its fields use (every process that opens it)."""
    for analysis, analyzer in ANALYZERS.items():
        index.register_tokenizer(_tokenizer(analysis), analyzer)
    return index


# The index's own directory inside SEARCH_INDEX_DIR, named for its schema: an index of an older schema (one
# English copy of the fields) is left aside, and rematerializing `search_document` fills this one.
SCHEMA_DIRECTORY = "text-by-language"
# Owner ids are optional; the index needs a value to filter on.
NO_OWNER = -1


def _micros(value: datetime) -> int:
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    return int(value.timestamp() * 1_000_000)


def _tantivy_document(document: SearchDocument) -> tantivy.Document:
    doc = tantivy.Document()
    doc.add_integer("video_id", document.video_id)
    doc.add_integer("owner_id", NO_OWNER if document.owner_id is None else document.owner_id)
    doc.add_integer("created_us", _micros(document.created_at))
    doc.add_text("status", document.status)
    doc.add_text("language", document.language or NO_LANGUAGE)
    analysis = analysis_of(document.language)
    for field in TEXT_FIELDS:
        doc.add_text(field_name(field, analysis), getattr(document, field) or "")
    return doc


class TantivySearchIndex:
    backend_name: ClassVar[str] = "tantivy"

    def __init__(self, store: SqlSearchIndex, directory: Path) -> None:
        self.store = store
        self.directory = Path(directory) / SCHEMA_DIRECTORY
        self._index: tantivy.Index | None = None
        self._loaded_commit: int | None = None
        # The analyses whose fields hold documents, as of the last reload: a query looks for its terms there only.
        self._analyses_present: tuple[str, ...] = ANALYSES

    # --- the index ------------------------------------------------------------------------
    @property
    def index(self) -> tantivy.Index:
        if self._index is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            index = register_analyzers(tantivy.Index(SCHEMA, path=str(self.directory), reuse=True))
            index.config_reader(reload_policy="Manual")
            self._index = index
        return self._index

    def _searcher(self) -> tantivy.Searcher:
        commit = (self.directory / "meta.json").stat().st_mtime_ns
        if commit != self._loaded_commit:
            self.index.reload()
            searcher = self.index.searcher()
            # Set before the commit they belong to: a search that sees this commit sees them.
            self._analyses_present = _analyses_present(searcher)
            self._loaded_commit = commit
            return searcher
        return self.index.searcher()

    def _writer(self) -> tantivy.IndexWriter:
        deadline = time.monotonic() + WRITER_WAIT_SECONDS
        while True:
            try:
                return self.index.writer(heap_size=WRITER_HEAP_BYTES, num_threads=1)
            except ValueError as exc:  # LockBusy: another process is writing
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _write(self, delete_ids: Iterable[int], documents: Sequence[SearchDocument]) -> None:
        writer = self._writer()
        try:
            for video_id in delete_ids:
                writer.delete_documents_by_term("video_id", video_id)
            for document in documents:
                writer.add_document(_tantivy_document(document))
            writer.commit()
        except BaseException:
            writer.rollback()
            raise
        finally:
            writer.wait_merging_threads()

    # --- SearchIndex ----------------------------------------------------------------------
    def ensure(self) -> None:
        self.store.ensure()
        self.index  # noqa: B018 (creates the directory and the index when missing)

    def ping(self) -> None:
        self.store.ping()
        try:
            self._searcher()
        except (OSError, ValueError) as exc:
            raise SearchIndexUnavailable(f"tantivy index at {self.directory} unreadable: {exc}") from exc

    def upsert(self, document: SearchDocument) -> None:
        self.bulk_upsert([document])

    def bulk_upsert(self, documents: Iterable[SearchDocument]) -> int:
        documents = list(documents)
        written = self.store.bulk_upsert(documents)
        self._write([document.video_id for document in documents], documents)
        return written

    def delete(self, video_id: int) -> None:
        self.store.delete(video_id)
        self._write([video_id], [])

    def get(self, video_id: int) -> SearchDocument | None:
        return self.store.get(video_id)

    def search(self, query: SearchQuery) -> SearchPage:
        page = self.rank(query)
        hits = self.describe(page, [video_id for video_id, _ in page.ranked])
        return SearchPage(
            hits=[hits[video_id] for video_id, _ in page.ranked if video_id in hits],
            total=page.total,
            next_cursor=page.next_cursor,
            total_exact=page.total_exact,
        )

    def searcher_and_query(self, plan: SearchPlan) -> tuple[tantivy.Searcher, tantivy.Query | None]:
        """The index as of its last commit, and the plan's query for it, filters included (None: no term to look for)."""
        searcher = self._searcher()
        text_query = _text_query(plan.terms, (analysis_of(plan.language),) if plan.language else self._analyses_present)
        return searcher, None if text_query is None else _with_filters(text_query, plan)

    def rank(self, query: SearchQuery) -> RankedPage:
        plan = plan_search(query)
        searcher, full_query = self.searcher_and_query(plan)
        if full_query is None:
            return RankedPage(tuple(plan.terms), [], 0)
        rows = _ranked(searcher, full_query, plan)
        # Counting visits every match, ranking does not: counted apart, and only when the page cannot tell.
        if plan.after is None and len(rows) <= plan.limit:
            counted = len(rows)
        else:
            counted = int(getattr(searcher.search(full_query, limit=1, count=True), "count", 0) or 0)
        page, next_cursor = plan.page_of(rows)
        return RankedPage(
            tuple(plan.terms),
            [(p.video_id, p.score) for p in page],
            min(counted, TOTAL_CAP),
            next_cursor,
            counted <= TOTAL_CAP,
        )

    def describe(self, page: RankedPage, video_ids: Iterable[int]) -> dict[int, SearchHit]:
        wanted = set(video_ids)
        scores = {video_id: score for video_id, score in page.ranked if video_id in wanted}
        details = self._details(page.terms, list(scores))
        return {video_id: SearchHit(video_id=video_id, score=scores[video_id], **details[video_id]) for video_id in details}

    def _details(self, terms: Sequence[str], ids: list[int]) -> dict[int, dict[str, Any]]:
        """Title, status, snippet and spoken matches of the page's videos, from the app database."""
        if not ids:
            return {}
        with self.store.engine.connect() as conn:
            found = conn.execute(_DETAILS, {"ids": ids}).all()
        matchers: dict[str, WordMatcher] = {}
        details = {}
        for row in found:
            analysis = analysis_of(row.language)  # the hit's words matched as its language's were indexed
            if analysis not in matchers:  # the query's words analyzed once per analysis, not once per hit
                matchers[analysis] = _WORDS[analysis].matcher(terms)
            words = matchers[analysis]
            texts = {field: getattr(row, field) or "" for field in TEXT_FIELDS}
            texts["transcript"] = self.store.read_transcript(row.transcript) if row.transcript else ""
            spoken = words.spans(texts["transcript"])
            details[row.video_id] = {
                "title": texts["title"],
                "status": row.status,
                "created_at": _utc(row.created_at),
                "snippet": _snippet(texts, spoken, words),
                "matches": _spoken(texts["transcript"], row.segments, spoken, words),
            }
        return details


# Built once: built for each page, it cost about as much as running it.
_DETAILS = (
    select(search_texts, search_documents.c.status, search_documents.c.created_at, search_documents.c.language)
    .join(search_documents, search_documents.c.video_id == search_texts.c.video_id)
    .where(search_texts.c.video_id.in_(bindparam("ids", expanding=True)))
)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _analyses_present(searcher: tantivy.Searcher) -> tuple[str, ...]:
    """The analyses (copies of the text fields) that hold a document the searcher sees, in ANALYSES' order.

    A term looked for in every copy of every field was 76 term queries for a one-word search of an archive in one
    language: building them and their empty scorers cost 0.65 ms of a 5 ms text search (100,000 videos).
    """
    found = searcher.aggregate(tantivy.Query.all_query(), {"languages": {"terms": {"field": "language", "size": 10_000}}})
    present = set()
    for bucket in found["languages"]["buckets"]:
        present.add(analysis_of(bucket["key"]))
        if bucket["key"] == NO_LANGUAGE:  # a document without a language is filed under it, and analysed as such
            present.add(analysis_of(None))
    return tuple(analysis for analysis in ANALYSES if analysis in present)


def _text_query(terms: Sequence[str], analyses: Sequence[str] = ANALYSES) -> tantivy.Query | None:
    """Every term must match in some field of the document's language (each language's copy of the fields gets the
    term analysed its way); a field's matches weigh FIELD_WEIGHTS."""
    musts = []
    for term in terms:
        per_field = [
            (
                tantivy.Occur.Should,
                tantivy.Query.boost_query(
                    tantivy.Query.term_query(SCHEMA, field_name(field, analysis), token), FIELD_WEIGHTS[field]
                ),
            )
            for analysis in analyses
            for token in dict.fromkeys(ANALYZERS[analysis].analyze(term))
            for field in TEXT_FIELDS
        ]
        if per_field:
            musts.append((tantivy.Occur.Must, tantivy.Query.boolean_query(per_field)))
    return tantivy.Query.boolean_query(musts) if musts else None


def _with_filters(text_query: tantivy.Query, plan: SearchPlan) -> tantivy.Query:
    filters = []
    if plan.status is not None:
        filters.append(tantivy.Query.term_query(SCHEMA, "status", plan.status))
    if plan.owner_id is not None:
        filters.append(tantivy.Query.term_query(SCHEMA, "owner_id", plan.owner_id))
    if plan.language is not None:
        filters.append(tantivy.Query.term_query(SCHEMA, "language", plan.language))
    if plan.created_from is not None or plan.created_to is not None:
        filters.append(
            tantivy.Query.range_query(
                SCHEMA,
                "created_us",
                tantivy.FieldType.Integer,
                _micros(plan.created_from) if plan.created_from else None,
                _micros(plan.created_to) if plan.created_to else None,
            )
        )
    if not filters:
        return text_query
    # Filters match or not: they add nothing to the score.
    return tantivy.Query.boolean_query(
        [(tantivy.Occur.Must, text_query)] + [(tantivy.Occur.Must, tantivy.Query.const_score_query(f, 0.0)) for f in filters]
    )


def _ranked(searcher: tantivy.Searcher, query: tantivy.Query, plan: SearchPlan) -> list[CursorPosition]:
    """The first `plan.limit + 1` matches after the cursor, ordered by score, then video id.

    Tantivy breaks ties its own way; a window is widened until it holds the page
    and every tie at its edge, so the order by id is exact.
    """
    need = plan.limit + 1
    window = max(need, 32)
    while True:
        result = searcher.search(query, limit=window, count=False)
        hits = result.hits
        video_ids = searcher.fast_field_values("video_id", [address for _, address in hits]) if hits else []
        rows = sorted(
            (CursorPosition(float(score), int(video_id or 0)) for (score, _), video_id in zip(hits, video_ids, strict=True)),
            key=lambda p: (-p.score, p.video_id),
        )
        exhausted = len(hits) < window
        if not exhausted and rows:
            edge = rows[-1].score
            rows = [p for p in rows if p.score > edge]  # the edge's ties may continue past the window
        if plan.after is not None:
            after = plan.after
            rows = [p for p in rows if p.score < after.score or (p.score == after.score and p.video_id > after.video_id)]
        if len(rows) >= need or exhausted:
            return rows[:need]
        window *= 4


def _snippet(texts: dict[str, str], transcript_spans: list[tuple[int, int]], words: WordMatcher) -> str:
    """The page's snippet for one hit: the first field of SNIPPET_FIELDS that says a query word (fields after it
    are not looked at), else the first that has text."""

    def candidate(field: str) -> str | None:
        if not texts[field]:
            return None
        spans = transcript_spans if field == "transcript" else words.spans(texts[field])
        return snippet_from_highlight(marked(texts[field], spans), SNIPPET_WORDS)

    return best_snippet(candidate(field) for field in SNIPPET_FIELDS)


def _spoken(
    transcript: str, blob: bytes | None, spans: Sequence[tuple[int, int]], words: WordMatcher
) -> tuple[SegmentMatch, ...]:
    """The timed segments that say the query's words (at most MAX_SEGMENT_MATCHES, by start)."""
    if is_sliced(blob):  # only the segments holding a match are built, not the ~100 of a transcript
        return sliced_segments_at(transcript, blob, [start for start, _ in spans])
    # Segments kept with their own text: each is matched apart.
    segments = decode_segments(transcript, blob).segments
    return first_matches(segments, [i for i, segment in enumerate(segments) if words.spans(segment.text)])
