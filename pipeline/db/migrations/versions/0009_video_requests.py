"""video requests: what the app asks of the pipeline about a video (delete, retry)

A deleted video's run must stop and its Dagster partition go; a failed video can be
processed again. The API never talks to Dagster: it writes a `video_requests` row in
the transaction that deletes (or retries) the video, and the pipeline's sensor does
its side and marks the row done (pipeline/deletion.py, sensors/video_requests.py).

Revision ID: video_requests
Revises: moments
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "video_requests"
down_revision = "moments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "video_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_video_requests_video_id", "video_requests", ["video_id"])
    op.create_index("ix_video_requests_open", "video_requests", ["done_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_video_requests_open", table_name="video_requests")
    op.drop_index("ix_video_requests_video_id", table_name="video_requests")
    op.drop_table("video_requests")
