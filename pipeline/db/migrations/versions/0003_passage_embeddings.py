"""Passage embeddings: the app's `video_passages`, and the search projection's `search_passages`.

`video_passages` holds what the `passage_embeddings` asset computed (cascade with
the video). `search_passages` is the search index's copy (no foreign key, like
`search_documents`), searched in process; `search_vector_state.generation` goes up
with every change so each process knows when to reload its vectors.

Revision ID: passage_embeddings
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "passage_embeddings"
down_revision = "0002"
branch_labels = None
depends_on = None


def _passage_columns() -> list[sa.Column]:
    return [
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("start_seconds", sa.Float(), nullable=True),
        sa.Column("end_seconds", sa.Float(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "video_passages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=False),
        *_passage_columns(),
        sa.ForeignKeyConstraint(["video_id"], ["videos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("video_id", "position"),
    )
    op.create_index("ix_video_passages_video_id", "video_passages", ["video_id"])
    op.create_table(
        "search_passages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=False),
        *_passage_columns(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("video_id", "position"),
    )
    op.create_table(
        "search_vector_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute("INSERT INTO search_vector_state (id, generation) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("search_vector_state")
    op.drop_table("search_passages")
    op.drop_index("ix_video_passages_video_id", table_name="video_passages")
    op.drop_table("video_passages")
