"""retired queries: a confirmed duplicate is never offered to an annotator again

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0007'
down_revision: Union[str, None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OPEN_STATES = ('assigned', 'reserved', 'expired')
HOLDING_STATES = ('assigned', 'reserved')


def upgrade() -> None:
    # A plain ADD COLUMN, also on SQLite: batch mode would copy the table, and dropping the old copy
    # fails while assignments and annotations refer to it.
    op.add_column('query', sa.Column('retired', sa.Boolean(), nullable=False, server_default=sa.false()))

    # Duplicates confirmed before this revision left the pool but kept assignments by name open:
    # retire them and close those assignments, as confirming a duplicate now does.
    connection = op.get_bind()
    query = sa.table('query', sa.column('id', sa.Integer), sa.column('triage_flags', sa.JSON),
                     sa.column('retired', sa.Boolean), sa.column('in_pool', sa.Boolean),
                     sa.column('pool_open', sa.Boolean), sa.column('n_claims', sa.Integer))
    assignment = sa.table('assignment', sa.column('query_id', sa.Integer), sa.column('state', sa.String),
                          sa.column('reserved_until', sa.DateTime))
    rows = connection.execute(sa.select(query.c.id, query.c.triage_flags).where(query.c.triage_flags.is_not(None)))
    retired = [query_id for query_id, flags in rows
               if isinstance(flags, dict) and flags.get('duplicate_of') and flags.get('blocked')]
    for query_id in retired:
        held = connection.execute(sa.select(sa.func.count()).select_from(assignment).where(
            assignment.c.query_id == query_id, assignment.c.state.in_(HOLDING_STATES))).scalar_one()
        connection.execute(assignment.update().where(
            assignment.c.query_id == query_id, assignment.c.state.in_(OPEN_STATES)).values(
            state='skipped', reserved_until=None))
        connection.execute(query.update().where(query.c.id == query_id).values(
            retired=True, in_pool=False, pool_open=False, n_claims=query.c.n_claims - held))


def downgrade() -> None:
    op.drop_column('query', 'retired')  # SQLite 3.35 and later drop a column in place
