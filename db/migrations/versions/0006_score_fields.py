"""score fields: numeric fields a project defines, per annotation and per final label

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0006'
down_revision: Union[str, None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('annotation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scores', sa.JSON(), nullable=True))

    with op.batch_alter_table('final_label', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scores', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('final_label', schema=None) as batch_op:
        batch_op.drop_column('scores')

    with op.batch_alter_table('annotation', schema=None) as batch_op:
        batch_op.drop_column('scores')
