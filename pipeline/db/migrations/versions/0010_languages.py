"""languages: the language a video's speech is in, as its uploader stated it, and how a transcript's was chosen

`videos.language` (an ISO 639-1 code, null when nobody said) is used by the transcript as is;
`video_transcripts.language_source` says whether the transcript's language was stated, detected by
a multilingual model, or assumed (an English-only model).

Revision ID: languages
Revises: video_requests
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "languages"
down_revision = "video_requests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("videos") as batch:
        batch.add_column(sa.Column("language", sa.String(length=16), nullable=True))
    with op.batch_alter_table("video_transcripts") as batch:
        batch.add_column(sa.Column("language_source", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("video_transcripts") as batch:
        batch.drop_column("language_source")
    with op.batch_alter_table("videos") as batch:
        batch.drop_column("language")
