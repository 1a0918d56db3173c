"""moments: word timestamps on transcript segments, sentence spans on passages

`transcript_segments.words` holds each segment's words with their times
(`[[start, end, word], ...]`), so a search for a word opens the video where the
word is said; `video_passages.sentences` holds a transcript passage's sentences
(`[[start, end, offset in the passage's text], ...]`), so a hit found by meaning
opens at its best sentence. Both are NULL for rows made before: those keep
working, at the segment's or the passage's start.

Revision ID: moments
Revises: search_text_packed
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "moments"
down_revision = "search_text_packed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("transcript_segments", sa.Column("words", sa.JSON(), nullable=True))
    op.add_column("video_passages", sa.Column("sentences", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("video_passages") as batch:
        batch.drop_column("sentences")
    with op.batch_alter_table("transcript_segments") as batch:
        batch.drop_column("words")
