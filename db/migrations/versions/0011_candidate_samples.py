"""candidate samples: seeded, stratified choices of queries for annotation, and their members

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0011'
down_revision: Union[str, None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('candidate_sample',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('size_asked', sa.Integer(), nullable=False),
    sa.Column('size_chosen', sa.Integer(), nullable=False),
    sa.Column('arguments', sa.JSON(), nullable=True),
    sa.Column('report', sa.JSON(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'],
                            name=op.f('fk_candidate_sample_created_by_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_candidate_sample')),
    sa.UniqueConstraint('name', name=op.f('uq_candidate_sample_name'))
    )
    op.create_table('candidate_sample_query',
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('query_id', sa.Integer(), nullable=False),
    sa.Column('stratum', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['query_id'], ['query.id'], name=op.f('fk_candidate_sample_query_query_id_query')),
    sa.ForeignKeyConstraint(['sample_id'], ['candidate_sample.id'],
                            name=op.f('fk_candidate_sample_query_sample_id_candidate_sample')),
    sa.PrimaryKeyConstraint('sample_id', 'query_id', name=op.f('pk_candidate_sample_query')),
    sa.UniqueConstraint('query_id', name=op.f('uq_candidate_sample_query_query_id'))
    )


def downgrade() -> None:
    op.drop_table('candidate_sample_query')
    op.drop_table('candidate_sample')
