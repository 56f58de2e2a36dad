"""reminders: subscriptions, held reminders, occasions, due work, counts and pauses

Revision ID: a0241ca46bab
Revises: 5c1e9a7d2b40
Create Date: 2026-12-15 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'a0241ca46bab'
down_revision: str | None = '5c1e9a7d2b40'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('held_reminders',
    sa.Column('user_key', sa.String(length=64), nullable=False),
    sa.Column('state_ct', sa.LargeBinary(), nullable=False),
    sa.Column('expires_hour', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('user_key', name=op.f('pk_held_reminders'))
    )
    with op.batch_alter_table('held_reminders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_held_reminders_expires_hour'), ['expires_hour'], unique=False)

    op.create_table('reminder_occasions',
    sa.Column('id', sa.String(length=96), nullable=False),
    sa.Column('schedule', sa.String(length=64), nullable=False),
    sa.Column('site', sa.String(length=32), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('content_ct', sa.LargeBinary(), nullable=True),
    sa.Column('expires_hour', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminder_occasions'))
    )
    with op.batch_alter_table('reminder_occasions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reminder_occasions_expires_hour'), ['expires_hour'], unique=False)
        batch_op.create_index(batch_op.f('ix_reminder_occasions_schedule'), ['schedule'], unique=False)

    op.create_table('reminder_pauses',
    sa.Column('name', sa.String(length=96), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_reminder_pauses'))
    )
    op.create_table('reminder_subscriptions',
    sa.Column('user_key', sa.String(length=64), nullable=False),
    sa.Column('state_ct', sa.LargeBinary(), nullable=False),
    sa.Column('expires_hour', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('user_key', name=op.f('pk_reminder_subscriptions'))
    )
    with op.batch_alter_table('reminder_subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reminder_subscriptions_expires_hour'), ['expires_hour'], unique=False)

    op.create_table('reminder_counts',
    sa.Column('occasion_id', sa.String(length=96), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['occasion_id'], ['reminder_occasions.id'], name=op.f('fk_reminder_counts_occasion_id_reminder_occasions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('occasion_id', 'reason', name=op.f('pk_reminder_counts'))
    )
    op.create_table('reminder_due',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('occasion_id', sa.String(length=96), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('payload_ct', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['occasion_id'], ['reminder_occasions.id'], name=op.f('fk_reminder_due_occasion_id_reminder_occasions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminder_due'))
    )
    with op.batch_alter_table('reminder_due', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reminder_due_occasion_id'), ['occasion_id'], unique=False)
        batch_op.create_index('ix_reminder_due_state_due', ['state', 'due_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('reminder_due', schema=None) as batch_op:
        batch_op.drop_index('ix_reminder_due_state_due')
        batch_op.drop_index(batch_op.f('ix_reminder_due_occasion_id'))

    op.drop_table('reminder_due')
    op.drop_table('reminder_counts')
    with op.batch_alter_table('reminder_subscriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reminder_subscriptions_expires_hour'))

    op.drop_table('reminder_subscriptions')
    op.drop_table('reminder_pauses')
    with op.batch_alter_table('reminder_occasions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reminder_occasions_schedule'))
        batch_op.drop_index(batch_op.f('ix_reminder_occasions_expires_hour'))

    op.drop_table('reminder_occasions')
    with op.batch_alter_table('held_reminders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_held_reminders_expires_hour'))

    op.drop_table('held_reminders')
