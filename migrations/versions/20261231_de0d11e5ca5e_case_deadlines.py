"""case deadlines, escalation and check-ins

Revision ID: de0d11e5ca5e
Revises: d3e5a1c7b920
Create Date: 2026-12-22 10:00:00.000000

Existing cases get the times their deadlines were met from what they already show: acknowledged
when no longer new, first feedback at HR's first message, closed when resolved or closed (so
recent ones still get their check-ins). Their due times are stamped by the deadlines job.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'de0d11e5ca5e'
down_revision: str | None = 'd3e5a1c7b920'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMES = ('acknowledge_due', 'feedback_due', 'resolve_due', 'next_due', 'acknowledged_at',
         'first_feedback_at', 'closed_at', 'escalated_at')


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN, never batch mode: on SQLite a batch copy drops and recreates
    # ``cases``, and with foreign keys on, dropping it deletes every case's messages, receipts and
    # evidence through ON DELETE CASCADE (tests/test_migration_case_deadlines.py).
    op.add_column('cases', sa.Column('round', sa.Integer(), server_default=sa.text('1'), nullable=False))
    for name in TIMES:
        op.add_column('cases', sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    op.add_column('cases', sa.Column('urgent', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_index(op.f('ix_cases_next_due'), 'cases', ['next_due'], unique=False)
    op.create_table(
        'case_events',
        sa.Column('case_id', sa.String(length=32), nullable=False),
        sa.Column('key', sa.String(length=32), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_events_case_id_cases'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('case_id', 'key', name=op.f('pk_case_events')),
    )
    op.execute("UPDATE cases SET acknowledged_at = updated_at WHERE status <> 'new'")
    op.execute("UPDATE cases SET closed_at = updated_at WHERE status IN ('resolved', 'closed')")
    op.execute(
        "UPDATE cases SET first_feedback_at = (SELECT MIN(m.created_at) FROM case_messages m "
        "WHERE m.case_id = cases.id AND m.author = 'hr')"
    )


def downgrade() -> None:
    op.drop_table('case_events')
    op.drop_index(op.f('ix_cases_next_due'), table_name='cases')
    op.drop_column('cases', 'urgent')
    for name in reversed(TIMES):
        op.drop_column('cases', name)
    op.drop_column('cases', 'round')
