"""frozen releases: item snapshots, and triggers that refuse changing a release

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

Note for later migrations: SQLite batch operations that copy release or release_item drop these
triggers; such a migration must create them again.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = '0003'
down_revision: Union[str, None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TABLES = ("release", "release_item")


def upgrade() -> None:
    with op.batch_alter_table('release_item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('item', sa.JSON(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            for event in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_frozen_{event.lower()} BEFORE {event} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'frozen release: {event} on {table} refused'); END")
    else:
        op.execute(
            "CREATE FUNCTION curation_refuse_frozen_release() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'frozen release: % on % refused', TG_OP, TG_TABLE_NAME; END $$")
        for table in TABLES:
            op.execute(f"CREATE TRIGGER {table}_frozen BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION curation_refuse_frozen_release()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            for event in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_frozen_{event}")
    else:
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_frozen ON {table}")
        op.execute("DROP FUNCTION IF EXISTS curation_refuse_frozen_release()")
    with op.batch_alter_table('release_item', schema=None) as batch_op:
        batch_op.drop_column('item')
