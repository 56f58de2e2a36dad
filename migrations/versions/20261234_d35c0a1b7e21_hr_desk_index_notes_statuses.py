"""HR desk: list index columns on cases, sealed outcome, internal notes, new statuses

The index columns start NULL; ``storage.case_index.backfill`` fills them at start-up (it needs the
keys, which a migration does not have); the list orders by the deadlines' ``next_due``. ``new`` becomes ``received`` and ``resolved`` becomes
``action_taken``.

Revision ID: d35c0a1b7e21
Revises: d7a1f2c3b4e5
Create Date: 2027-01-03 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'd35c0a1b7e21'
down_revision: str | None = 'd7a1f2c3b4e5'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('audience_tag', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('category_tag', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('urgency_tag', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('assignee_tag', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('assignee_ct', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('outcome_ct', sa.LargeBinary(), nullable=True))
        batch_op.create_index(batch_op.f('ix_cases_audience_tag'), ['audience_tag'], unique=False)
        batch_op.create_index('ix_cases_desk', ['audience_tag', 'site', 'status', 'created_at', 'id',
                              'next_due', 'urgency_tag', 'category_tag', 'assignee_tag'], unique=False)
    op.create_table('case_notes',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('case_id', sa.String(length=32), nullable=False),
    sa.Column('author_ct', sa.LargeBinary(), nullable=False),
    sa.Column('body_ct', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_notes_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_notes'))
    )
    with op.batch_alter_table('case_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_notes_case_id'), ['case_id'], unique=False)
    op.execute("UPDATE cases SET status = 'received' WHERE status = 'new'")
    op.execute("UPDATE cases SET status = 'action_taken' WHERE status = 'resolved'")


def downgrade() -> None:
    op.execute("UPDATE cases SET status = 'new' WHERE status = 'received'")
    op.execute("UPDATE cases SET status = 'resolved' WHERE status IN ('action_taken', 'no_case_found')")
    with op.batch_alter_table('case_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_notes_case_id'))
    op.drop_table('case_notes')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_desk')
        batch_op.drop_index(batch_op.f('ix_cases_audience_tag'))
        batch_op.drop_column('outcome_ct')
        batch_op.drop_column('assignee_ct')
        batch_op.drop_column('assignee_tag')
        batch_op.drop_column('urgency_tag')
        batch_op.drop_column('category_tag')
        batch_op.drop_column('audience_tag')
