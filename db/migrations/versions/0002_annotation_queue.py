"""annotation queue

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0002'
down_revision: Union[str, None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.create_index('ix_assignment_state_reserved_until', ['state', 'reserved_until'], unique=False)

    with op.batch_alter_table('query', schema=None) as batch_op:
        batch_op.add_column(sa.Column('in_pool', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('n_claims', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('pool_open', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index('ix_query_pool_open_id', ['pool_open', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('query', schema=None) as batch_op:
        batch_op.drop_index('ix_query_pool_open_id')
        batch_op.drop_column('pool_open')
        batch_op.drop_column('n_claims')
        batch_op.drop_column('in_pool')

    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_index('ix_assignment_state_reserved_until')

