"""review stage: reviewers' votes on the annotation stage's proposed labels

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0009'
down_revision: Union[str, None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('review_vote',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('query_id', sa.Integer(), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('vote', sa.String(length=20), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('corrections', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['query_id'], ['query.id'], name=op.f('fk_review_vote_query_id_query')),
    sa.ForeignKeyConstraint(['reviewer_id'], ['app_user.id'], name=op.f('fk_review_vote_reviewer_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_vote')),
    sa.UniqueConstraint('query_id', 'reviewer_id', name=op.f('uq_review_vote_query_id_reviewer_id'))
    )
    op.create_index('ix_review_vote_reviewer_id', 'review_vote', ['reviewer_id'], unique=False)
    # A plain ADD COLUMN, also on SQLite (see 0007).
    op.add_column('final_label', sa.Column('review', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('final_label', schema=None) as batch_op:
        batch_op.drop_column('review')
    op.drop_index('ix_review_vote_reviewer_id', table_name='review_vote')
    op.drop_table('review_vote')
