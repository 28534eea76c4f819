"""baselines: several baseline answers per query, each with its model

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-09
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0008'
down_revision: Union[str, None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# The model of a baseline stored before this revision without one.
UNKNOWN_MODEL = 'unknown'
MIGRATED_FROM = 'query.baseline_answer (before 0008)'


def upgrade() -> None:
    # A new table only: query is not rebuilt (on SQLite a batch copy of it fails while other tables
    # refer to it). query.baseline_answer and baseline_model stay, as the copy of the first baseline.
    op.create_table(
        'baseline',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('query_id', sa.Integer(), nullable=False),
        sa.Column('model', sa.String(length=200), nullable=False),
        sa.Column('answer', sa.Text(), nullable=False),
        sa.Column('source_file', sa.String(length=500), nullable=False),
        sa.Column('source_location', sa.String(length=50), nullable=False),
        sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['query_id'], ['query.id'], name=op.f('fk_baseline_query_id_query')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_baseline')),
        sa.UniqueConstraint('query_id', 'model', name=op.f('uq_baseline_query_id_model')),
    )

    # Each query's one baseline so far becomes its first Baseline row.
    query = sa.table('query', sa.column('id', sa.Integer), sa.column('baseline_answer', sa.Text),
                     sa.column('baseline_model', sa.String), sa.column('created_at', sa.DateTime))
    baseline = sa.table('baseline', sa.column('query_id', sa.Integer), sa.column('model', sa.String),
                        sa.column('answer', sa.Text), sa.column('source_file', sa.String),
                        sa.column('source_location', sa.String), sa.column('imported_at', sa.DateTime))
    op.execute(query.update().where(query.c.baseline_answer.is_not(None), query.c.baseline_model.is_(None))
               .values(baseline_model=UNKNOWN_MODEL))
    op.execute(baseline.insert().from_select(
        ['query_id', 'model', 'answer', 'source_file', 'source_location', 'imported_at'],
        sa.select(query.c.id, query.c.baseline_model, query.c.baseline_answer, sa.literal(MIGRATED_FROM),
                  sa.literal(''), query.c.created_at)
        .where(query.c.baseline_answer.is_not(None)).order_by(query.c.id)))


def downgrade() -> None:
    # query.baseline_answer still holds each query's first baseline; the others are lost.
    op.drop_table('baseline')
