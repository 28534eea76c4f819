"""append-only audit log: the database refuses to change or delete an audit record

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26

Note for later migrations: SQLite batch operations that copy audit_log drop these triggers; such a
migration must create them again.
"""
from typing import Sequence, Union

from alembic import op

revision: str = '0005'
down_revision: Union[str, None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TRUNCATE_GUARDED = ("audit_log", "release", "release_item")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_log_append_only_{event.lower()} BEFORE {event} ON audit_log "
                       f"BEGIN SELECT RAISE(ABORT, 'append-only audit log: {event} refused'); END")
    else:
        op.execute(
            "CREATE FUNCTION curation_refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'append-only audit log and frozen releases: % on % refused', TG_OP, "
            "TG_TABLE_NAME; END $$")
        op.execute("CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
                   "FOR EACH ROW EXECUTE FUNCTION curation_refuse_audit_change()")
        # Row triggers do not see TRUNCATE; these refuse it for the audit log and frozen releases.
        for table in TRUNCATE_GUARDED:
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION curation_refuse_audit_change()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for event in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS audit_log_append_only_{event}")
    else:
        for table in TRUNCATE_GUARDED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS curation_refuse_audit_change()")
