"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-26
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0001'
down_revision: Union[str, None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('app_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_user')),
    sa.UniqueConstraint('name', name=op.f('uq_app_user_name'))
    )
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('entity', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.String(length=300), nullable=True),
    sa.Column('old', sa.JSON(), nullable=True),
    sa.Column('new', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['app_user.id'], name=op.f('fk_audit_log_actor_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_entity_entity_id', ['entity', 'entity_id'], unique=False)

    op.create_table('import_batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('file_name', sa.String(length=500), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('file_format', sa.String(length=20), nullable=False),
    sa.Column('shape', sa.String(length=40), nullable=False),
    sa.Column('n_read', sa.Integer(), nullable=False),
    sa.Column('n_imported', sa.Integer(), nullable=False),
    sa.Column('n_duplicates', sa.Integer(), nullable=False),
    sa.Column('n_skipped', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], name=op.f('fk_import_batch_created_by_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_batch'))
    )
    op.create_table('login_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_login_session_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_session')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_login_session_token_hash'))
    )
    op.create_table('release',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('version', sa.String(length=50), nullable=False),
    sa.Column('path', sa.String(length=1000), nullable=False),
    sa.Column('n_items', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('manifest', sa.JSON(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], name=op.f('fk_release_created_by_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_release')),
    sa.UniqueConstraint('name', 'version', name=op.f('uq_release_name_version'))
    )
    op.create_table('setting',
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['updated_by_id'], ['app_user.id'], name=op.f('fk_setting_updated_by_id_app_user')),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_setting'))
    )
    op.create_table('query',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=300), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('messages', sa.JSON(), nullable=False),
    sa.Column('n_turns', sa.Integer(), nullable=False),
    sa.Column('n_chars', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('source_file', sa.String(length=500), nullable=False),
    sa.Column('source_location', sa.String(length=50), nullable=False),
    sa.Column('original_id', sa.String(length=300), nullable=True),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=True),
    sa.Column('baseline_answer', sa.Text(), nullable=True),
    sa.Column('baseline_model', sa.String(length=200), nullable=True),
    sa.Column('triage_flags', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['import_batch.id'], name=op.f('fk_query_batch_id_import_batch')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_query')),
    sa.UniqueConstraint('content_hash', name=op.f('uq_query_content_hash')),
    sa.UniqueConstraint('public_id', name=op.f('uq_query_public_id'))
    )
    with op.batch_alter_table('query', schema=None) as batch_op:
        batch_op.create_index('ix_query_batch_id', ['batch_id'], unique=False)
        batch_op.create_index('ix_query_source_original_id', ['source', 'original_id'], unique=False)

    op.create_table('annotation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('query_id', sa.Integer(), nullable=False),
    sa.Column('annotator_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('decision', sa.String(length=20), nullable=True),
    sa.Column('reject_reason', sa.String(length=100), nullable=True),
    sa.Column('category', sa.String(length=200), nullable=True),
    sa.Column('subcategory', sa.String(length=200), nullable=True),
    sa.Column('languages', sa.JSON(), nullable=True),
    sa.Column('difficulty', sa.String(length=20), nullable=True),
    sa.Column('rewritten_prompt', sa.Text(), nullable=True),
    sa.Column('reference_answer', sa.Text(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('suggested_languages', sa.JSON(), nullable=True),
    sa.Column('guideline_version', sa.String(length=20), nullable=True),
    sa.Column('time_on_task_s', sa.Float(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['annotator_id'], ['app_user.id'], name=op.f('fk_annotation_annotator_id_app_user')),
    sa.ForeignKeyConstraint(['query_id'], ['query.id'], name=op.f('fk_annotation_query_id_query')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_annotation')),
    sa.UniqueConstraint('query_id', 'annotator_id', name=op.f('uq_annotation_query_id_annotator_id'))
    )
    with op.batch_alter_table('annotation', schema=None) as batch_op:
        batch_op.create_index('ix_annotation_annotator_id_state', ['annotator_id', 'state'], unique=False)

    op.create_table('assignment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('query_id', sa.Integer(), nullable=False),
    sa.Column('annotator_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('reserved_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('assigned_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['annotator_id'], ['app_user.id'], name=op.f('fk_assignment_annotator_id_app_user')),
    sa.ForeignKeyConstraint(['assigned_by_id'], ['app_user.id'], name=op.f('fk_assignment_assigned_by_id_app_user')),
    sa.ForeignKeyConstraint(['query_id'], ['query.id'], name=op.f('fk_assignment_query_id_query')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignment')),
    sa.UniqueConstraint('query_id', 'annotator_id', name=op.f('uq_assignment_query_id_annotator_id'))
    )
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.create_index('ix_assignment_annotator_id_state_id', ['annotator_id', 'state', 'id'], unique=False)

    op.create_table('final_label',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('query_id', sa.Integer(), nullable=False),
    sa.Column('decision', sa.String(length=20), nullable=True),
    sa.Column('reject_reason', sa.String(length=100), nullable=True),
    sa.Column('category', sa.String(length=200), nullable=True),
    sa.Column('subcategory', sa.String(length=200), nullable=True),
    sa.Column('languages', sa.JSON(), nullable=True),
    sa.Column('difficulty', sa.String(length=20), nullable=True),
    sa.Column('rewritten_prompt', sa.Text(), nullable=True),
    sa.Column('reference_answer', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('field_sources', sa.JSON(), nullable=True),
    sa.Column('rationale', sa.Text(), nullable=True),
    sa.Column('confidence', sa.String(length=20), nullable=True),
    sa.Column('error_type', sa.String(length=40), nullable=True),
    sa.Column('guidelines_need_update', sa.Boolean(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['app_user.id'], name=op.f('fk_final_label_decided_by_id_app_user')),
    sa.ForeignKeyConstraint(['query_id'], ['query.id'], name=op.f('fk_final_label_query_id_query')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_final_label')),
    sa.UniqueConstraint('query_id', name=op.f('uq_final_label_query_id'))
    )
    op.create_table('release_item',
    sa.Column('release_id', sa.Integer(), nullable=False),
    sa.Column('query_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['query_id'], ['query.id'], name=op.f('fk_release_item_query_id_query')),
    sa.ForeignKeyConstraint(['release_id'], ['release.id'], name=op.f('fk_release_item_release_id_release')),
    sa.PrimaryKeyConstraint('release_id', 'query_id', name=op.f('pk_release_item'))
    )
    with op.batch_alter_table('release_item', schema=None) as batch_op:
        batch_op.create_index('ix_release_item_query_id', ['query_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('release_item', schema=None) as batch_op:
        batch_op.drop_index('ix_release_item_query_id')

    op.drop_table('release_item')
    op.drop_table('final_label')
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_index('ix_assignment_annotator_id_state_id')

    op.drop_table('assignment')
    with op.batch_alter_table('annotation', schema=None) as batch_op:
        batch_op.drop_index('ix_annotation_annotator_id_state')

    op.drop_table('annotation')
    with op.batch_alter_table('query', schema=None) as batch_op:
        batch_op.drop_index('ix_query_source_original_id')
        batch_op.drop_index('ix_query_batch_id')

    op.drop_table('query')
    op.drop_table('setting')
    op.drop_table('release')
    op.drop_table('login_session')
    op.drop_table('import_batch')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_entity_entity_id')

    op.drop_table('audit_log')
    op.drop_table('app_user')
