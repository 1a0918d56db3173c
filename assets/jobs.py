"""The per-video job: every asset of the graph for one `videos` partition, in lineage order."""

import dagster as dg

from assets.partitions import videos_partitions

VIDEO_ASSET_KEYS = ("source_video", "video_variants", "transcript", "chunk_summaries", "video_summary",
                    "passage_embeddings", "search_document", "chapters")

video_pipeline_job = dg.define_asset_job(
    name="video_pipeline",
    selection=dg.AssetSelection.assets(*VIDEO_ASSET_KEYS),
    partitions_def=videos_partitions,
    description="Take one video from upload to ready: transcode, transcribe, summarize, index.",
)
