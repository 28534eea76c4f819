"""triage and suggestions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0004'
down_revision: Union[str, None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('annotation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('suggested_labels', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('suggestions_opened', sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table('query', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queue_rank', sa.Float(), nullable=False, server_default='0'))
        batch_op.drop_index(batch_op.f('ix_query_pool_open_id'))
        batch_op.create_index('ix_query_pool_open_queue_rank_id', ['pool_open', 'queue_rank', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('query', schema=None) as batch_op:
        batch_op.drop_index('ix_query_pool_open_queue_rank_id')
        batch_op.create_index(batch_op.f('ix_query_pool_open_id'), ['pool_open', 'id'], unique=False)
        batch_op.drop_column('queue_rank')

    with op.batch_alter_table('annotation', schema=None) as batch_op:
        batch_op.drop_column('suggestions_opened')
        batch_op.drop_column('suggested_labels')

