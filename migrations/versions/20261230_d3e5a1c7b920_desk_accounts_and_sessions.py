"""desk accounts, sessions and sign-in throttles

Revision ID: d3e5a1c7b920
Revises: d1a6e5f40c27
Create Date: 2026-12-30 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'd3e5a1c7b920'
down_revision: str | None = 'd1a6e5f40c27'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('desk_accounts',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('sites', sa.String(length=1024), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('totp_secret_ct', sa.LargeBinary(), nullable=True),
    sa.Column('totp_last_step', sa.BigInteger(), nullable=False),
    sa.Column('enrolment_hash', sa.String(length=64), nullable=True),
    sa.Column('enrolment_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_desk_accounts')),
    sa.UniqueConstraint('enrolment_hash', name=op.f('uq_desk_accounts_enrolment_hash')),
    sa.UniqueConstraint('name', name=op.f('uq_desk_accounts_name'))
    )
    op.create_table('desk_login_throttles',
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('blocked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_desk_login_throttles'))
    )
    with op.batch_alter_table('desk_login_throttles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_desk_login_throttles_expires_at'), ['expires_at'], unique=False)
    op.create_table('desk_sessions',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('data_ct', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['desk_accounts.id'], name=op.f('fk_desk_sessions_account_id_desk_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_desk_sessions'))
    )
    with op.batch_alter_table('desk_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_desk_sessions_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_desk_sessions_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('desk_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_desk_sessions_expires_at'))
        batch_op.drop_index(batch_op.f('ix_desk_sessions_account_id'))
    op.drop_table('desk_sessions')
    with op.batch_alter_table('desk_login_throttles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_desk_login_throttles_expires_at'))
    op.drop_table('desk_login_throttles')
    op.drop_table('desk_accounts')
