"""Chapters: `video_chapters`, a video's topical chapters (start, end, title, gist).

Revision ID: chapters
Revises: search_scale
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "chapters"
down_revision = "search_scale"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "video_chapters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("start_seconds", sa.Float(), nullable=False),
        sa.Column("end_seconds", sa.Float(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("gist", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["video_id"], ["videos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("video_id", "position"),
    )
    op.create_index("ix_video_chapters_video_id", "video_chapters", ["video_id"])


def downgrade() -> None:
    op.drop_index("ix_video_chapters_video_id", table_name="video_chapters")
    op.drop_table("video_chapters")
