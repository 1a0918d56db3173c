"""The language of a video's speech, as the first asset of its partition: the transcript and all that follows
depend on it.

The language lives in the app database (`videos.language`: stated at upload, editable; none: the transcript
detects it). This asset reads it and records it as its data version. An edit makes `video_requests_sensor`
materialize it again (the API writes a `language` request with the change): its new data version makes that
video's transcript and every asset made from it stale (each depends on this one directly, as Dagster does not
pass staleness on), and `videoai reprocess --stale` redoes exactly those.
"""

import dagster as dg

from assets.catalog import video_asset
from assets.support import repository
from pipeline.languages import DETECTED
from resources.database import DatabaseResource


@video_asset(
    group_name="content",
    description="The language of the video's speech as its uploader stated it, or `detected` (the transcript "
    "detects it). Materialized again when it is edited: a change makes the transcript and what follows it stale.",
)
def video_language(context: dg.AssetExecutionContext, database: DatabaseResource) -> dg.MaterializeResult:
    language = repository(context, database).video().language
    # A video whose language nobody stated has the version `detected`: its transcript detects the language.
    version = language or DETECTED
    return dg.MaterializeResult(data_version=dg.DataVersion(version), metadata={"language": version})
