"""search languages: each video's text analysed in its language by PostgreSQL's full-text search

`search_texts.text_config` is the text search configuration of the video's language (`french`, `german`...,
`simple` for a language without a stemmer; `english` for what was indexed before). On PostgreSQL it is a
`regconfig`, and the generated `search_vector` is rebuilt with it; on SQLite it is only a column (FTS5 keeps
its English stemmer).

Revision ID: search_languages
Revises: languages
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "search_languages"
down_revision = "languages"
branch_labels = None
depends_on = None


def _vector(config: str) -> str:
    return (
        f"setweight(to_tsvector({config}, title), 'A') || "
        f"setweight(to_tsvector({config}, summary), 'B') || "
        f"setweight(to_tsvector({config}, description), 'C') || "
        f"setweight(to_tsvector({config}, transcript), 'D')"
    )


def _rebuild_vector(config: str) -> None:
    op.drop_index("ix_search_texts_vector", table_name="search_texts")
    op.execute("ALTER TABLE search_texts DROP COLUMN search_vector")
    op.execute(f"ALTER TABLE search_texts ADD COLUMN search_vector tsvector NOT NULL GENERATED ALWAYS AS ({_vector(config)}) STORED")
    op.create_index("ix_search_texts_vector", "search_texts", ["search_vector"], postgresql_using="gin")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE search_texts ADD COLUMN text_config regconfig NOT NULL DEFAULT 'english'")
        _rebuild_vector("text_config")
    else:
        op.add_column("search_texts", sa.Column("text_config", sa.String(length=32), nullable=False, server_default="english"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _rebuild_vector("'english'")
    op.drop_column("search_texts", "text_config")
