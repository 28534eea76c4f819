"""coding score: how likely each query is a coding query, a filter for triage, sampling and assignment

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0010'
down_revision: Union[str, None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # A plain ADD COLUMN, also on SQLite (see 0007): NULL until the coding detector has scored the query.
    op.add_column('query', sa.Column('coding_score', sa.Float(), nullable=True))
    op.create_index('ix_query_coding_score', 'query', ['coding_score'])


def downgrade() -> None:
    op.drop_index('ix_query_coding_score', table_name='query')
    op.drop_column('query', 'coding_score')
