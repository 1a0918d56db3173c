"""The per-video job: every asset of the graph for one `videos` partition, in lineage order."""

import dagster as dg

from assets.catalog import VIDEO_ASSETS
from assets.partitions import videos_partitions

video_pipeline_job = dg.define_asset_job(
    name="video_pipeline",
    selection=VIDEO_ASSETS,
    partitions_def=videos_partitions,
    description="Take one video from upload to ready: transcode, transcribe, summarize, index.",
)
